/**
 * When to look again at something slow that fleetwave waits for: an EKS update (control-plane hop,
 * node group, add-on) or the children a campaign handed over. Pure: the activities that wait
 * (activities/waiting.ts, activities/eks/await-update.ts) ask it for the delay before their next
 * look, and end their attempt until then (docs/architecture.md, "Waiting").
 *
 * The schedule is geometric: after a first look at the earliest time the thing usually ends, each
 * look comes `growth` times as long after the start as the one before, between `minMs` and
 * `maxMs` apart. So a wait of duration T costs about log(T / first) / log(growth) looks, and its
 * end is noticed at most (growth - 1) × T (and never more than `maxMs`) late.
 */

/** What is being waited for: each has its own first look. */
export type WaitKind = 'control-plane' | 'nodegroup' | 'addon' | 'children' | 'nodepools' | 'fargate';

/**
 * First look after a start (or after adopting an update already running). Typical durations as
 * EKS users report them and as the simulator draws them (simulator/catalogue.ts DURATIONS): a
 * control-plane hop 10–25 min, a node group a few minutes per batch after 1–2 min of setup, an
 * add-on 40–90 s. Looking before the earliest of these only costs an action.
 */
export const FIRST_LOOK_MS: Readonly<Record<WaitKind, number>> = {
  'control-plane': 8 * 60_000,
  nodegroup: 3 * 60_000,
  addon: 60_000,
  children: 60_000,
  // Auto Mode nodes after a control-plane hop: each NodeClaim replacement takes minutes, a pool's
  // budget (10% by default) paces them.
  nodepools: 5 * 60_000,
  // Fargate pods after a rollout restart: a new pod gets its own node and starts in about a minute,
  // one pod at a time under the usual rolling-update settings.
  fargate: 60_000,
};

/**
 * A node-group update replaces its nodes in batches of `maxUnavailable`: per batch, new nodes are
 * launched and must be Ready before the old ones are cordoned and drained (EKS User Guide,
 * "Understand each phase of node updates"). Each batch takes minutes, so the first look at a
 * node group comes 2 minutes later per batch after the first, up to
 * {@link NODEGROUP_FIRST_LOOK_CAP_MS}: an update that fails early (a drain a PodDisruptionBudget
 * blocks fails after 15 minutes) is still seen within minutes of failing.
 */
export const NODEGROUP_BATCH_LOOK_MS = 2 * 60_000;
export const NODEGROUP_FIRST_LOOK_CAP_MS = 8 * 60_000;

/** Batches of a node-group update: `desired` nodes, `maxUnavailable` (or a percentage of them) at a time. */
export function nodegroupBatches(desired: number, maxUnavailable?: number, maxUnavailablePercentage?: number): number {
  const nodes = Math.max(1, Math.floor(desired));
  const perBatch =
    maxUnavailable !== undefined
      ? maxUnavailable
      : maxUnavailablePercentage !== undefined
        ? Math.floor((nodes * maxUnavailablePercentage) / 100)
        : 1;
  return Math.ceil(nodes / Math.max(1, Math.min(100, perBatch)));
}

/** The first look at a node-group update of `batches` batches (see {@link NODEGROUP_BATCH_LOOK_MS}). */
export function nodegroupFirstLookMs(batches: number): number {
  const extra = Math.max(0, Math.floor(batches) - 1) * NODEGROUP_BATCH_LOOK_MS;
  return Math.min(NODEGROUP_FIRST_LOOK_CAP_MS, FIRST_LOOK_MS.nodegroup + extra);
}

/** The schedule's knobs, in real (wall-clock) milliseconds. */
export interface WaitSchedule {
  /** Shortest delay between two looks. */
  minMs: number;
  /** Longest delay between two looks: the most an end can go unnoticed. */
  maxMs: number;
  /** Each look comes at `growth` × the time waited so far. */
  growth: number;
  /**
   * Simulated seconds per real second when the fleet is the simulator running faster than EKS
   * (`fleetwave sim --time-scale N`): every delay is divided by it. 1 against real EKS.
   */
  timeScale: number;
}

/**
 * Defaults against real EKS: looks at least 30 s and at most 4 min apart, each at 1.5 × the time
 * waited so far. Over the simulator's duration ranges that is about 4 looks per control-plane hop
 * (10–25 min), 3.4–4.9 per node group of 1–4 batches (its first look from its batches) and 1–2
 * for a cluster's add-ons, the ends of hops and node groups noticed about 2 min late on average,
 * of add-ons 13 s (`npx tsx scripts/wait-schedule.ts` prints the table for any schedule).
 */
export const DEFAULT_WAIT_SCHEDULE: WaitSchedule = {
  minMs: 30_000,
  maxMs: 4 * 60_000,
  growth: 1.5,
  timeScale: 1,
};

/** The fastest a scaled schedule may look: below this, timer and task latency dominate anyway. */
const FLOOR_MS = 20;

/**
 * The delay before the next look, given how long this thing has been waited for (`elapsedMs`,
 * wall clock, from the moment it was started or adopted). `firstLookMs` replaces the kind's first
 * look where the wait knows better (a node group's batches: {@link nodegroupFirstLookMs}).
 */
export function nextLookDelayMs(
  kind: WaitKind,
  elapsedMs: number,
  schedule: WaitSchedule,
  firstLookMs: number = FIRST_LOOK_MS[kind],
): number {
  const scale = schedule.timeScale > 0 ? schedule.timeScale : 1;
  const first = firstLookMs / scale;
  const min = schedule.minMs / scale;
  const max = Math.max(min, schedule.maxMs / scale);
  const elapsed = Math.max(0, elapsedMs);
  const delay =
    elapsed < first ? Math.max(first - elapsed, min) : Math.min(max, Math.max(min, elapsed * (schedule.growth - 1)));
  return Math.max(FLOOR_MS, Math.round(Math.min(delay, Math.max(max, first))));
}

/**
 * What a wait of `durationMs` costs with `schedule`: its looks (the first included) and how long
 * after its end the look that sees it done comes.
 */
export function walkWait(
  kind: WaitKind,
  durationMs: number,
  schedule: WaitSchedule,
  firstLookMs?: number,
): { looks: number; lateMs: number } {
  let t = 0;
  let looks = 0;
  do {
    t += nextLookDelayMs(kind, t, schedule, firstLookMs);
    looks++;
  } while (t < durationMs && looks < 10_000);
  return { looks, lateMs: t - durationMs };
}
