/**
 * A lower bound on a campaign's makespan from the per-cluster durations measured in the run,
 * under the campaign's own constraints, valid for ANY schedule that keeps them (in hindsight:
 * knowing every duration in advance). Each cluster's duration d is its cluster-upgrade run,
 * start to close, taken as fixed (it already includes the worker's and server's overheads
 * inside the run), and a cluster runs without interruption once started (a cluster retried in
 * several runs counts as one run of their summed length). Per wave, the bound is the largest of:
 *
 * - longest cluster: max d;
 * - parallelism: at most m = min(wave.maxParallel, pacing.maxInFlight) of the wave's clusters in
 *   flight at once, so the wave takes at least the optimal makespan of its clusters on m
 *   identical machines ({@link slotBound});
 * - rate limit (`starts` per `per`, bucket full when the wave starts): the k-th start (from 0)
 *   comes no earlier than max(0, k − starts + 1) × per / starts, and pairing the longest clusters
 *   with the earliest starts minimises the last end, so max over k of start(k) + d(k) with d
 *   sorted longest first (tighter than estimate.ts's "last start + shortest");
 * - per-label caps: for each label value, at most cap.max of its clusters in flight at once, so
 *   {@link slotBound} of that value's clusters on cap.max machines;
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

/**
 * Which argument proved a {@link slotBound}:
 * - `longest`: the longest job;
 * - `average`: Σd / m;
 * - `pigeonhole`: among the k·m + 1 longest jobs one machine runs k + 1, so at least the k + 1
 *   shortest of them back to back (k = 1: d(m) + d(m+1));
 * - `packing`: no split of the jobs into m sets of total below the bound exists (proven by
 *   Martello and Toth's L2 bin-packing bound or by exhaustive search); `exact` when a split at
 *   the bound was also found, i.e. the bound is the optimal makespan itself.
 */
export type SlotBoundMethod = 'longest' | 'average' | 'pigeonhole' | 'packing';

export interface SlotBound {
  ms: number;
  method: SlotBoundMethod;
  /** `ms` is the optimal makespan on the m machines: a schedule that long was found (whole-ms durations). */
  exact: boolean;
}

export interface WaveBound {
  name: string;
  clusters: number;
  /** Without soak. */
  upgradeMs: number;
  soakMs: number;
  boundBy: MeasuredBoundKind;
  /** How the binding bound was proven, for parallelism and label caps. */
  method?: SlotBoundMethod;
  /** The binding group, for parallelism and label-cap: `account=123…: 18 clusters, 5 at once`. */
  detail?: string;
  /** Every bound considered, for the report. */
  bounds: Partial<Record<MeasuredBoundKind, number>>;
}

export interface CampaignBound {
  totalMs: number;
  waves: WaveBound[];
}

/** Options of the bounds. */
export interface BoundOptions {
  /**
   * How far the slot groups (parallelism, each cap value) are bounded: `average`, max(longest,
   * Σd / m), the bound as first computed (kept for comparison); `classic`, plus the pigeonhole
   * sums; `packing` (default), plus packing proofs.
   */
  slots?: 'average' | 'classic' | 'packing';
  /**
   * Packing search work, counted in machines looked at (a search node looks at each machine):
   * per capacity tried (default 15 million) and per group (default 150 million, a few seconds).
   * A search that runs out proves nothing.
   */
  workPerTry?: number;
  workPerGroup?: number;
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

/**
 * Classic lower bounds on the optimal makespan of `durations` on `m` identical machines
 * (P||Cmax), and why each holds. Sorted longest first, d1 ≥ d2 ≥ … ≥ dn:
 * - d1: a job runs on one machine from start to end;
 * - Σd / m: m machines do at most m units of work per unit of time;
 * - for every k ≥ 1 with k·m < n: of the k·m + 1 longest jobs, by pigeonhole one machine runs at
 *   least k + 1, which take at least the k + 1 shortest of them back to back:
 *   d(km+1) + d(km) + … + d(km−k+1) (k = 1: d(m) + d(m+1)).
 */
export function classicSlotBound(
  durations: readonly number[],
  m: number,
  opts: { pigeonhole?: boolean } = {},
): { ms: number; method: SlotBoundMethod } {
  const d = [...durations].sort((a, b) => b - a);
  const machines = Math.max(1, Math.floor(m));
  let best: { ms: number; method: SlotBoundMethod } = { ms: d[0] ?? 0, method: 'longest' };
  const average = d.reduce((a, b) => a + b, 0) / machines;
  if (average > best.ms) best = { ms: average, method: 'average' };
  for (let k = 1; opts.pigeonhole !== false && k * machines < d.length; k++) {
    let sum = 0;
    // 0-based: indices k·m − k … k·m are the k + 1 shortest of the k·m + 1 longest.
    for (let i = k * machines - k; i <= k * machines; i++) sum += d[i] as number;
    if (sum > best.ms) best = { ms: sum, method: 'pigeonhole' };
  }
  return best;
}

/**
 * Martello and Toth's L2 lower bound on the number of bins of size `capacity` that hold `sizes`
 * (each ≤ capacity). For any α with 0 ≤ α ≤ capacity / 2, let J1 = sizes > capacity − α,
 * J2 = sizes in (capacity / 2, capacity − α], J3 = sizes in [α, capacity / 2]. Every J1 and J2 item
 * needs a bin of its own (two of them exceed the capacity together); no J3 item fits with a J1
 * item (together over the capacity); so J3 fills what J2's bins leave and opens
 * ⌈(Σ J3 − (|J2|·capacity − Σ J2)) / capacity⌉ more bins at least. L2 is the best over α; it suffices
 * to try α = 0 and each size ≤ capacity / 2.
 */
export function martelloTothL2(sizes: readonly number[], capacity: number): number {
  const asc = [...sizes].sort((a, b) => a - b);
  const n = asc.length;
  const prefix = [0];
  for (const x of asc) prefix.push((prefix.at(-1) as number) + x);
  // Index of the first size > v, and of the first size ≥ v.
  const firstAbove = (v: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((asc[mid] as number) > v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const firstAtLeast = (v: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((asc[mid] as number) >= v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const sum = (from: number, to: number): number => (prefix[to] as number) - (prefix[from] as number);
  const half = firstAbove(capacity / 2);
  let best = 0;
  const alphas = [0, ...new Set(asc.filter((x) => x <= capacity / 2))];
  for (const alpha of alphas) {
    const j1 = firstAbove(capacity - alpha);
    const j3 = firstAtLeast(alpha);
    const nJ1 = n - j1;
    const nJ2 = j1 - half;
    const room = nJ2 * capacity - sum(half, j1);
    const j3Sum = half > j3 ? sum(j3, half) : 0;
    const bins = nJ1 + nJ2 + Math.max(0, Math.ceil((j3Sum - room) / capacity));
    best = Math.max(best, bins);
  }
  return best;
}

/**
 * Whether `desc` (integers, longest first) can be split into `m` sets of total ≤ `capacity`:
 * true (a split found), false (proven impossible), undefined (the search ran out of `budget`,
 * work counted in machines looked at: m per node).
 * Depth-first, each job into a machine, with: machines of equal load tried once; a job that
 * fills a machine exactly goes there and nowhere else (any split putting it elsewhere can swap
 * it with what fills that machine); a branch is dropped when the room left on the machines,
 * not counting rooms smaller than the shortest job, is below the work left.
 */
export function fitsOnMachines(
  desc: readonly number[],
  m: number,
  capacity: number,
  budget: { work: number },
): boolean | undefined {
  const n = desc.length;
  if (n === 0) return true;
  if ((desc[0] as number) > capacity) return false;
  const total = desc.reduce((a, b) => a + b, 0);
  if (total > m * capacity) return false;
  if (n <= m) return true;
  if (martelloTothL2(desc, capacity) > m) return false;
  // First fit decreasing: a quick split when the capacity is generous.
  const ffd = new Array<number>(m).fill(0);
  const placed = desc.every((x) => {
    const i = ffd.findIndex((load) => load + x <= capacity);
    if (i < 0) return false;
    ffd[i] = (ffd[i] as number) + x;
    return true;
  });
  if (placed) return true;

  const loads = new Array<number>(m).fill(0);
  const shortest = desc[n - 1] as number;
  let exhausted = false;
  const search = (i: number, left: number): boolean => {
    if (i === n) return true;
    budget.work -= m;
    if (budget.work < 0) {
      exhausted = true;
      return false;
    }
    let room = 0;
    for (const load of loads) if (capacity - load >= shortest) room += capacity - load;
    if (room < left) return false;
    const x = desc[i] as number;
    const exact = loads.findIndex((load) => load + x === capacity);
    if (exact >= 0) {
      loads[exact] = capacity;
      if (search(i + 1, left - x)) return true;
      loads[exact] = capacity - x;
      return false;
    }
    const tried = new Set<number>();
    for (let b = 0; b < m; b++) {
      const load = loads[b] as number;
      if (load + x > capacity || tried.has(load)) continue;
      tried.add(load);
      loads[b] = load + x;
      if (search(i + 1, left - x)) return true;
      loads[b] = load;
      if (exhausted) return false;
    }
    return false;
  };
  if (search(0, total)) return true;
  return exhausted ? undefined : false;
}

/**
 * A lower bound on the time `durations` take when at most `m` of them run at once: any such
 * schedule is one on m identical machines (intervals that never overlap more than m deep can be
 * given m colours, greedily by start, with no two of one colour overlapping), so it lasts at least
 * the optimal P||Cmax makespan. Returns the best of {@link classicSlotBound} and, with
 * `slots: 'packing'` (the default) and when a longest-first list schedule is longer than
 * `floorMs` (else nothing above the floor is to be had), a packing proof: bisection over whole-ms
 * capacities C between the bound and that schedule's length, raising the bound to C + 1 only when
 * {@link fitsOnMachines} proves that no split into m sets of total ≤ C exists. Durations are
 * rounded down to whole ms first (shorter jobs can only shorten the optimum, so the bound stays
 * valid; the optimum of whole-ms jobs is a whole number, so the classic bound rounds up). A
 * search that runs out of work proves nothing and raises nothing.
 */
export function slotBound(
  durations: readonly number[],
  m: number,
  opts: BoundOptions & { floorMs?: number } = {},
): SlotBound {
  const level = opts.slots ?? 'packing';
  const machines = Math.max(1, Math.floor(m));
  const classic = classicSlotBound(durations, machines, { pigeonhole: level !== 'average' });
  // As many machines as jobs: the longest job is the optimum.
  if (durations.length <= machines) return { ...classic, exact: true };
  if (level !== 'packing') return { ...classic, exact: false };
  const desc = durations.map((d) => Math.max(0, Math.floor(d))).sort((a, b) => b - a);
  // Longest-first list schedule: an upper bound on the optimum.
  const loads = new Array<number>(machines).fill(0);
  for (const x of desc) {
    let i = 0;
    for (let j = 1; j < machines; j++) if ((loads[j] as number) < (loads[i] as number)) i = j;
    loads[i] = (loads[i] as number) + x;
  }
  let hi = Math.max(...loads);
  // In whole ms the optimum is a whole number, so at least the classic bound rounded up.
  const whole = Math.ceil(classicSlotBound(desc, machines).ms);
  const rounded = { ms: Math.max(classic.ms, whole), method: classic.method };
  if (whole >= hi) return { ms: Math.max(classic.ms, hi), method: classic.method, exact: true };
  const floorMs = opts.floorMs ?? 0;
  if (hi <= floorMs) return { ...rounded, exact: false };
  let lo = whole;
  // Capacities below floorMs are not worth proving: start there (it is no proof by itself).
  lo = Math.max(lo, Math.floor(floorMs));
  let work = opts.workPerGroup ?? 150_000_000;
  let proved = false;
  let unknown = false;
  while (lo < hi && work > 0) {
    const mid = Math.floor((lo + hi) / 2);
    const budget = { work: Math.min(work, opts.workPerTry ?? 15_000_000) };
    const given = budget.work;
    const fits = fitsOnMachines(desc, machines, mid, budget);
    work -= given - Math.max(0, budget.work);
    if (fits === false) {
      // Proven: no schedule of length ≤ mid, so (whole ms) at least mid + 1.
      lo = mid + 1;
      proved = true;
    } else {
      if (fits === undefined) unknown = true;
      hi = mid;
    }
  }
  // With every answer definite and lo === hi, a split of length hi was found.
  const settled = !unknown && lo === hi;
  if (proved && lo > rounded.ms) return { ms: lo, method: 'packing', exact: settled };
  return { ...rounded, exact: settled && hi <= rounded.ms };
}

/**
 * One wave's bound (see the file's comment). The slot groups (the wave under its parallelism,
 * each cap value under its cap) get their classic bounds first; then, longest bound first, a
 * packing proof is tried for each group whose longest-first schedule is longer than the best
 * bound so far (only those could raise it).
 */
export function waveBound(wave: MeasuredWave, c: BoundConstraints, opts: BoundOptions = {}): WaveBound {
  const durations = wave.clusters.map((x) => x.durationMs);
  if (durations.length === 0) {
    return { name: wave.name, clusters: 0, upgradeMs: 0, soakMs: 0, boundBy: 'empty', bounds: {} };
  }
  const bounds: Partial<Record<MeasuredBoundKind, number>> = {};
  let best: { kind: MeasuredBoundKind; ms: number; method?: SlotBoundMethod; detail?: string } = {
    kind: 'longest-cluster',
    ms: durations.reduce((a, b) => Math.max(a, b), 0),
  };
  bounds['longest-cluster'] = best.ms;
  const consider = (kind: MeasuredBoundKind, ms: number, method?: SlotBoundMethod, detail?: string): void => {
    bounds[kind] = Math.max(bounds[kind] ?? 0, ms);
    if (ms > best.ms) best = { kind, ms, ...(method ? { method } : {}), ...(detail ? { detail } : {}) };
  };
  if (c.rateLimit) consider('rate-limit', rateLimitBound(durations, c.rateLimit));

  const slots = Math.max(1, Math.min(wave.maxParallel, c.maxInFlight));
  const groups: { kind: MeasuredBoundKind; m: number; durations: number[]; detail: string; classic: number }[] = [
    {
      kind: 'parallelism',
      m: slots,
      durations,
      detail: `all ${durations.length} clusters, ${slots} at once`,
      classic: 0,
    },
  ];
  for (const cap of c.caps) {
    const perValue = new Map<string, number[]>();
    for (const x of wave.clusters) {
      const value = x.labels[cap.labelKey];
      if (value !== undefined) perValue.set(value, [...(perValue.get(value) ?? []), x.durationMs]);
    }
    for (const [value, ds] of perValue) {
      const detail = `${cap.labelKey}=${value}: ${ds.length} clusters, ${cap.max} at once`;
      groups.push({ kind: 'label-cap', m: Math.max(1, cap.max), durations: ds, detail, classic: 0 });
    }
  }
  const level = opts.slots ?? 'packing';
  for (const g of groups) {
    const classic = classicSlotBound(g.durations, g.m, { pigeonhole: level !== 'average' });
    g.classic = classic.ms;
    consider(g.kind, classic.ms, classic.method, g.detail);
  }
  if (level === 'packing') {
    for (const g of [...groups].sort((a, b) => b.classic - a.classic)) {
      const sb = slotBound(g.durations, g.m, { ...opts, floorMs: best.ms });
      consider(g.kind, sb.ms, sb.method, g.detail);
    }
  }
  return {
    name: wave.name,
    clusters: durations.length,
    upgradeMs: best.ms,
    soakMs: wave.soakMs,
    boundBy: best.kind,
    ...(best.method ? { method: best.method } : {}),
    ...(best.detail ? { detail: best.detail } : {}),
    bounds,
  };
}

/**
 * Σ over non-empty waves of (a wave's figure + its soak): how a campaign's length adds up from its
 * waves. An empty wave is skipped by the campaign (no soak, no approval), so it adds nothing.
 */
export function sumWithSoaks<W extends { clusters: number; soakMs: number }>(
  waves: readonly W[],
  ms: (wave: W) => number,
): number {
  return waves.reduce((sum, w) => sum + (w.clusters > 0 ? ms(w) + w.soakMs : 0), 0);
}

/**
 * The campaign's bound: Σ over non-empty waves of (wave bound + soak), see {@link sumWithSoaks}.
 */
export function campaignBound(
  waves: readonly MeasuredWave[],
  c: BoundConstraints,
  opts: BoundOptions = {},
): CampaignBound {
  const out = waves.map((w) => waveBound(w, c, opts));
  return { totalMs: sumWithSoaks(out, (w) => w.upgradeMs), waves: out };
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
