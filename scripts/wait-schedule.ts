/**
 * Prints what a wait schedule (domain/waits.ts) costs over the simulator's duration ranges: looks
 * (each an activity attempt, one Temporal action) and how late an end is noticed, on average over
 * durations spread evenly across each range.
 *
 *   npx tsx scripts/wait-schedule.ts [--growth 1.5] [--max 4m] [--min 30s]
 */
import { parseDuration } from '../domain/duration';
import {
  DEFAULT_WAIT_SCHEDULE,
  FIRST_LOOK_MS,
  nodegroupFirstLookMs,
  walkWait,
  type WaitKind,
  type WaitSchedule,
} from '../domain/waits';
import { DURATIONS } from '../simulator/catalogue';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ms = (name: string, fallback: number): number => {
  const v = option(name);
  const parsed = v === undefined ? fallback : parseDuration(v);
  if (parsed === undefined) throw new Error(`--${name} ${v}: not a duration`);
  return parsed;
};
const schedule: WaitSchedule = {
  ...DEFAULT_WAIT_SCHEDULE,
  growth: Number(option('growth') ?? DEFAULT_WAIT_SCHEDULE.growth),
  maxMs: ms('max', DEFAULT_WAIT_SCHEDULE.maxMs),
  minMs: ms('min', DEFAULT_WAIT_SCHEDULE.minMs),
};

/** Setup plus `batches` batches of launch and drain, as the simulator draws them. */
const nodegroup = (batches: number): [string, WaitKind, number, number, number] => [
  `node group (${batches} batch${batches > 1 ? 'es' : ''})`,
  'nodegroup',
  DURATIONS.nodegroupSetupMinMs + batches * (DURATIONS.batchLaunchMinMs + DURATIONS.batchDrainMinMs),
  DURATIONS.nodegroupSetupMaxMs + batches * (DURATIONS.batchLaunchMaxMs + DURATIONS.batchDrainMaxMs),
  nodegroupFirstLookMs(batches),
];
const ranges: [string, WaitKind, number, number, number?][] = [
  ['control-plane hop', 'control-plane', DURATIONS.controlPlaneMinMs, DURATIONS.controlPlaneMaxMs],
  nodegroup(1),
  nodegroup(2),
  nodegroup(3),
  nodegroup(4),
  ["add-on (all of a cluster's in one wait)", 'addon', DURATIONS.addonMinMs, DURATIONS.addonMaxMs],
];
console.log(`schedule: growth ${schedule.growth}, looks ${schedule.minMs / 1000}–${schedule.maxMs / 1000} s apart\n`);
console.log('| wait | duration range | first look | looks (mean) | noticed late (mean) |');
console.log('|---|---|---|---|---|');
for (const [label, kind, lo, hi, first] of ranges) {
  let looks = 0;
  let late = 0;
  const n = 200;
  for (let i = 0; i < n; i++) {
    const w = walkWait(kind, lo + ((hi - lo) * (i + 0.5)) / n, schedule, first);
    looks += w.looks;
    late += w.lateMs;
  }
  const firstMs = first ?? FIRST_LOOK_MS[kind];
  console.log(
    `| ${label} | ${Math.round(lo / 1000)}–${Math.round(hi / 1000)} s | ${Math.round(firstMs / 1000)} s | ${(looks / n).toFixed(1)} | ${(late / n / 1000).toFixed(0)} s |`,
  );
}
