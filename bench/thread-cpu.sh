#!/usr/bin/env bash
# CPU seconds per thread name of the bench's worker process, sampled every 2 s while it runs; the
# last sample (at most 2 s before the worker exits) stays in OUT. Run it next to a bench run:
#   bash bench/thread-cpu.sh /tmp/threads.txt & npm run bench -- --scenario 500; kill %1; cat /tmp/threads.txt
# Thread names as Linux reports them: MainThread, WorkerThread (the SDK's workflow thread),
# tokio-runtime-w (Temporal's Rust core), V8Worker (V8's helpers), workflow-proces, libuv-worker.
set -u
out=${1:?usage: thread-cpu.sh OUT}
tick=$(getconf CLK_TCK)
: >"$out"
while true; do
  pid=$(pgrep -f "built-worker.mjs worker|cli.js worker" | head -1 || true)
  if [ -n "$pid" ]; then
    sample=$(for t in /proc/"$pid"/task/*; do
      name=$(tr ' ' '_' <"$t/comm" 2>/dev/null) || continue
      # utime and stime are fields 14 and 15; the name (field 2) may hold spaces, so count after its ')'.
      ticks=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
      echo "$name $ticks"
    done | awk -v tick="$tick" '{c[$1] += $2} END {for (k in c) printf "%s %.1f\n", k, c[k] / tick}' | sort)
    [ -n "$sample" ] && echo "$sample" >"$out"
  fi
  sleep 2
done
