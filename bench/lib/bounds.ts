/**
 * A lower bound on a campaign's makespan from the per-cluster durations measured in the run,
 * under the campaign's own constraints. Each cluster's duration d is its cluster-upgrade run,
 * start to close, taken as fixed (it already includes the worker's and server's overheads
 * inside the run). Per wave, the bound is the largest of:
 *
 * - longest cluster: max d;
 * - parallelism: Σd / min(wave.maxParallel, pacing.maxInFlight);
 * - rate limit (`starts` per `per`, bucket full when the wave starts): the k-th start (from 0)
 *   comes no earlier than max(0, k − starts + 1) × per / starts, and pairing the longest clusters
 *   with the earliest starts minimises the last end, so max over k of start(k) + d(k) with d
 *   sorted longest first (tighter than estimate.ts's "last start + shortest");
 * - per-label caps: for each label value, Σd of its clusters / cap.max;
 *
 * then the wave's soak is added, and waves run back to back (approvals assumed instant). The
 * time before the first wave (planning, version resolution) is not in the bound: it is overhead.
 */
import type { FleetMember } from '../../domain/fleet';
import { createBucket, pickNextClusters, startOrder, type TokenBucket } from '../../domain/pacing';

/** One cluster of a wave, as measured. */
export interface MeasuredCluster {
  name: string;
  labels: Record<string, string>;
  durationMs: number;
}

/** One wave's constraints and its measured clusters. */
export interface MeasuredWave {
  name: string;
  maxParallel: number;
  soakMs: number;
  clusters: MeasuredCluster[];
}

export interface BoundConstraints {
  maxInFlight: number;
  rateLimit?: { starts: number; perMs: number };
  caps: { labelKey: string; max: number }[];
}

export type MeasuredBoundKind = 'empty' | 'longest-cluster' | 'parallelism' | 'rate-limit' | 'label-cap';

export interface WaveBound {
  name: string;
  clusters: number;
  /** Without soak. */
  upgradeMs: number;
  soakMs: number;
  boundBy: MeasuredBoundKind;
  /** Every bound considered, for the report. */
  bounds: Partial<Record<MeasuredBoundKind, number>>;
}

export interface CampaignBound {
  totalMs: number;
  waves: WaveBound[];
}

/** Rate-limit bound: earliest slots paired with the longest clusters. */
export function rateLimitBound(durations: readonly number[], rate: { starts: number; perMs: number }): number {
  const longestFirst = [...durations].sort((a, b) => b - a);
  let bound = 0;
  longestFirst.forEach((d, k) => {
    const start = (Math.max(0, k - rate.starts + 1) * rate.perMs) / rate.starts;
    bound = Math.max(bound, start + d);
  });
  return bound;
}

export function waveBound(wave: MeasuredWave, c: BoundConstraints): WaveBound {
  const durations = wave.clusters.map((x) => x.durationMs);
  if (durations.length === 0) {
    return { name: wave.name, clusters: 0, upgradeMs: 0, soakMs: 0, boundBy: 'empty', bounds: {} };
  }
  const bounds: Partial<Record<MeasuredBoundKind, number>> = {};
  bounds['longest-cluster'] = durations.reduce((a, b) => Math.max(a, b), 0);
  const sum = durations.reduce((a, b) => a + b, 0);
  bounds.parallelism = sum / Math.max(1, Math.min(wave.maxParallel, c.maxInFlight));
  if (c.rateLimit) bounds['rate-limit'] = rateLimitBound(durations, c.rateLimit);
  for (const cap of c.caps) {
    const perValue = new Map<string, number>();
    for (const x of wave.clusters) {
      const value = x.labels[cap.labelKey];
      if (value !== undefined) perValue.set(value, (perValue.get(value) ?? 0) + x.durationMs);
    }
    for (const total of perValue.values()) {
      bounds['label-cap'] = Math.max(bounds['label-cap'] ?? 0, total / cap.max);
    }
  }
  let boundBy: MeasuredBoundKind = 'longest-cluster';
  let upgradeMs = bounds['longest-cluster'];
  for (const [kind, ms] of Object.entries(bounds) as [MeasuredBoundKind, number][]) {
    if (ms > upgradeMs) [boundBy, upgradeMs] = [kind, ms];
  }
  return { name: wave.name, clusters: durations.length, upgradeMs, soakMs: wave.soakMs, boundBy, bounds };
}

/**
 * The campaign's bound: Σ over non-empty waves of (wave bound + soak). An empty wave is skipped
 * by the campaign (no soak, no approval), so it adds nothing.
 */
export function campaignBound(waves: readonly MeasuredWave[], c: BoundConstraints): CampaignBound {
  const out = waves.map((w) => waveBound(w, c));
  const totalMs = out.reduce((s, w) => s + (w.clusters > 0 ? w.upgradeMs + w.soakMs : 0), 0);
  return { totalMs, waves: out };
}

/** How the simulated scheduler orders pending clusters. */
export type PickOrder = 'wave-order' | 'campaign';

/**
 * The wave's makespan had the campaign's own picking rules (domain/pacing.ts pickNextClusters:
 * maxParallel, maxInFlight, caps, token bucket full at the wave start) run with zero overhead on
 * the measured durations: every start at the instant a slot, cap or token allows it. The
 * difference to the real window is overhead (workflow tasks, signals, child starts); the
 * difference to {@link waveBound} is what the picking policy itself loses.
 *
 * `campaign` offers the pending clusters in the campaign's own order (domain/pacing.ts startOrder:
 * bottleneck cap value first, then longest first, over every pending cluster at each pick, as the
 * campaign calls it) with `priorityMs` as the estimate, which is what the campaign knows
 * beforehand (the plan's estimate); `wave-order` offers them in plan order.
 */
export function simulateWave(
  wave: MeasuredWave,
  c: BoundConstraints,
  opts: { order?: PickOrder; priorityMs?: (name: string) => number } = {},
): number {
  const order = opts.order ?? 'wave-order';
  const members = new Map(wave.clusters.map((x) => [x.name, toMember(x)]));
  const duration = new Map(wave.clusters.map((x) => [x.name, x.durationMs]));
  const priority = opts.priorityMs ?? ((name: string) => duration.get(name) ?? 0);
  // The cap values each cluster counts against, computed once.
  const keysOf = new Map(
    wave.clusters.map((x) => [
      x.name,
      c.caps.map((cap) => ({ key: `${cap.labelKey}=${x.labels[cap.labelKey] ?? ''}`, max: cap.max })),
    ]),
  );
  const used = new Map<string, number>();
  let pending = wave.clusters.map((x) => x.name);
  const running = new Map<string, number>();
  let bucket: TokenBucket | undefined = c.rateLimit ? createBucket(c.rateLimit, 0) : undefined;
  let now = 0;
  let end = 0;
  for (let guard = 0; pending.length > 0 || running.size > 0; guard++) {
    if (guard > 100 * (wave.clusters.length + 10)) throw new Error('simulateWave: no progress');
    // The campaign orders every pending cluster (startOrder's loads count the cap-blocked ones
    // too), then picks. Clusters a cap blocks already are left out of the pick (in-flight counts
    // only grow within one pick, so they would be skipped anyway), so a long queue behind full
    // caps costs one lookup each instead of a scan of the running set.
    const offered =
      order === 'campaign'
        ? startOrder(
            pending.map((n) => members.get(n) as FleetMember),
            (m) => priority(m.name),
            c.caps,
          ).map((m) => m.name)
        : pending;
    const eligible = offered.filter((name) => (keysOf.get(name) ?? []).every((k) => (used.get(k.key) ?? 0) < k.max));
    const pick = pickNextClusters({
      pending: eligible.map((n) => members.get(n) as FleetMember),
      inFlight: [...running.keys()].map((n) => members.get(n) as FleetMember),
      maxParallel: wave.maxParallel,
      maxInFlight: c.maxInFlight,
      caps: c.caps,
      bucket,
      nowMs: now,
    });
    bucket = pick.bucket;
    for (const name of pick.start) {
      const done = now + (duration.get(name) ?? 0);
      running.set(name, done);
      end = Math.max(end, done);
      for (const k of keysOf.get(name) ?? []) used.set(k.key, (used.get(k.key) ?? 0) + 1);
    }
    if (pick.start.length > 0) {
      const started = new Set(pick.start);
      pending = pending.filter((n) => !started.has(n));
    }
    let next = pick.wakeAtMs ?? Infinity;
    for (const done of running.values()) next = Math.min(next, done);
    if (!Number.isFinite(next)) break;
    now = Math.max(now, next);
    for (const [name, done] of running) {
      if (done > now) continue;
      running.delete(name);
      for (const k of keysOf.get(name) ?? []) used.set(k.key, (used.get(k.key) ?? 1) - 1);
    }
  }
  return end;
}

function toMember(x: MeasuredCluster): FleetMember {
  return {
    name: x.name,
    region: x.labels.region ?? '',
    account: x.labels.account ?? '',
    labels: x.labels,
    version: '',
    oldestNodeVersion: '',
    nodegroups: [],
    addons: [],
    blockingPdbs: [],
  };
}
