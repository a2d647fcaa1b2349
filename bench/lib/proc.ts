/**
 * CPU time and memory of a process tree from Linux's /proc: `utime + stime` of
 * /proc/<pid>/stat (clock ticks) and `VmRSS` / `VmHWM` of /proc/<pid>/status (kB).
 *
 * The worker is `node bin/fleetwave.mjs worker`; tsx starts an esbuild service as a child
 * process, so CPU is summed over the tree. Children that exited between two samples keep the
 * last value seen for them (a lower bound: their last moments are lost).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export interface ProcSample {
  /** Wall clock, epoch ms. */
  at: number;
  /** CPU seconds (user + system) of the process and its descendants seen so far. */
  cpuSeconds: number;
  /** Resident set of the main process now, bytes. */
  rssBytes: number;
  /** Peak resident set of the main process (VmHWM), bytes. */
  hwmBytes: number;
}

/** CPU seconds (user + system) of one process, or undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields from 3 on: state(3) ... utime(14) stime(15), so utime is at index 11 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLOCK_TICKS;
}

/** `VmRSS` and `VmHWM` of a process in bytes, or undefined when it is gone. */
export function processMemory(pid: number): { rssBytes: number; hwmBytes: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  const rssBytes = kb('VmRSS');
  const hwmBytes = kb('VmHWM');
  if (!Number.isFinite(rssBytes) || !Number.isFinite(hwmBytes)) return undefined;
  return { rssBytes, hwmBytes };
}

/** The process and its descendants, depth first. */
export function processTree(pid: number): number[] {
  const out = [pid];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(' ').filter(Boolean)) out.push(...processTree(Number(child)));
  }
  return out;
}

/**
 * Samples a process tree every `intervalMs` (and on demand), keeping every sample and the peaks.
 * Stop it before the process is reaped to keep its final figures; `sample()` after that returns
 * the last values.
 */
export class ProcessSampler {
  readonly samples: ProcSample[] = [];
  private readonly cpuByPid = new Map<number, number>();
  private timer?: NodeJS.Timeout;
  private peakHwm = 0;
  private peakRss = 0;

  constructor(
    readonly pid: number,
    intervalMs = 1_000,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Takes a sample now. */
  sample(): ProcSample {
    for (const pid of processTree(this.pid)) {
      const cpu = processCpuSeconds(pid);
      if (cpu !== undefined) this.cpuByPid.set(pid, cpu);
    }
    const mem = processMemory(this.pid);
    if (mem) {
      this.peakHwm = Math.max(this.peakHwm, mem.hwmBytes);
      this.peakRss = Math.max(this.peakRss, mem.rssBytes);
    }
    const last = this.samples.at(-1);
    const s: ProcSample = {
      at: Date.now(),
      cpuSeconds: [...this.cpuByPid.values()].reduce((a, b) => a + b, 0),
      rssBytes: mem?.rssBytes ?? last?.rssBytes ?? 0,
      hwmBytes: this.peakHwm,
    };
    if (mem) this.samples.push(s);
    return s;
  }

  /** Peak RSS: the kernel's VmHWM, or the highest VmRSS sampled if that is higher. */
  get peakBytes(): number {
    return Math.max(this.peakHwm, this.peakRss);
  }

  /** CPU seconds consumed between two wall-clock times (from the nearest samples). */
  cpuBetween(fromMs: number, toMs: number): number {
    const at = (t: number) => {
      let best: ProcSample | undefined;
      for (const s of this.samples) if (s.at <= t) best = s;
      return best ?? this.samples[0];
    };
    return (at(toMs)?.cpuSeconds ?? 0) - (at(fromMs)?.cpuSeconds ?? 0);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
