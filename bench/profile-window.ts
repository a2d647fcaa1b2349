/**
 * A CPU profile of a window of a running worker's main thread, through its inspector: for runs too
 * long to profile whole (`--cpu-prof` writes only when the process exits, and costs the whole run).
 *
 *   kill -USR1 <worker pid>                                  # opens the inspector on 127.0.0.1:9229
 *   npx tsx bench/profile-window.ts 90 /tmp/prof/window.cpuprofile [port]
 *   npx tsx bench/profile-summary.ts /tmp/prof/window.cpuprofile
 */
import { writeFileSync } from 'node:fs';

interface Target {
  webSocketDebuggerUrl: string;
}

async function main(): Promise<void> {
  const [secs = '60', out = 'window.cpuprofile', port = '9229'] = process.argv.slice(2);
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
  const target = targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.onmessage = (event: MessageEvent) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter || msg.id === undefined) return;
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(JSON.stringify(msg.error)));
    else waiter.resolve(msg.result);
  };
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await new Promise((resolve) => (ws.onopen = resolve));
  await send('Profiler.enable');
  // 1 ms between samples, as `--cpu-prof` takes them.
  await send('Profiler.setSamplingInterval', { interval: 1000 });
  await send('Profiler.start');
  await new Promise((resolve) => setTimeout(resolve, Number(secs) * 1000));
  const { profile } = (await send('Profiler.stop')) as { profile: unknown };
  writeFileSync(out, JSON.stringify(profile));
  ws.close();
  process.stdout.write(`wrote ${out}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
