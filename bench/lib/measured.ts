/**
 * What a scenario measured per cluster, kept in its result JSON so bounds and replays can be
 * recomputed offline (`npx tsx bench/replay.ts`) without running the stack again: per wave, one
 * compact row per cluster, plus the pacing constraints the campaign ran under.
 */
import {
  campaignBound,
  simulateWave,
  sumWithSoaks,
  type BoundConstraints,
  type BoundOptions,
  type MeasuredWave,
  type WaveBound,
} from './bounds';

/** The fixed leading columns of a cluster row; the label values follow, in `labelKeys` order. */
export const CLUSTER_COLUMNS = ['name', 'durationMs', 'estimateMs', 'startMs'] as const;

/**
 * One cluster: name, measured duration (Σ of its cluster-upgrade runs, start to close), the plan's
 * estimate (the priority the campaign's startOrder uses), its first run's start (ms after the
 * campaign's first run started), then its label values ('' when it has none).
 */
export type ClusterRow = [string, number, number, number, ...string[]];

export interface MeasuredCampaign {
  /** Column names of each row: {@link CLUSTER_COLUMNS} then `labelKeys`. */
  columns: string[];
  labelKeys: string[];
  constraints: BoundConstraints;
  waves: { name: string; maxParallel: number; soakMs: number; clusters: ClusterRow[] }[];
}

/** One measured cluster, with what the bench knew about it. */
export interface MeasuredInput {
  name: string;
  durationMs: number;
  estimateMs: number;
  startMs: number;
  labels: Record<string, string>;
}

/** The label keys worth keeping: region, account, and every cap's label. */
export function labelKeysFor(constraints: BoundConstraints): string[] {
  return [...new Set(['region', 'account', ...constraints.caps.map((c) => c.labelKey)])];
}

export function toMeasuredCampaign(
  constraints: BoundConstraints,
  waves: { name: string; maxParallel: number; soakMs: number; clusters: MeasuredInput[] }[],
): MeasuredCampaign {
  const labelKeys = labelKeysFor(constraints);
  return {
    columns: [...CLUSTER_COLUMNS, ...labelKeys],
    labelKeys,
    constraints,
    waves: waves.map((w) => ({
      name: w.name,
      maxParallel: w.maxParallel,
      soakMs: w.soakMs,
      clusters: w.clusters.map((c): ClusterRow => [
        c.name,
        Math.round(c.durationMs),
        Math.round(c.estimateMs),
        Math.round(c.startMs),
        ...labelKeys.map((k) => c.labels[k] ?? ''),
      ]),
    })),
  };
}

/** The waves as bounds.ts takes them, and each cluster's plan estimate and measured start. */
export function fromMeasuredCampaign(m: MeasuredCampaign): {
  waves: MeasuredWave[];
  estimateMs: Map<string, number>;
  startMs: Map<string, number>;
} {
  const estimateMs = new Map<string, number>();
  const startMs = new Map<string, number>();
  const waves = m.waves.map((w) => ({
    name: w.name,
    maxParallel: w.maxParallel,
    soakMs: w.soakMs,
    clusters: w.clusters.map(([name, durationMs, estimate, start, ...values]) => {
      estimateMs.set(name, estimate);
      startMs.set(name, start);
      const labels: Record<string, string> = {};
      m.labelKeys.forEach((k, i) => {
        const v = values[i];
        if (v !== undefined && v !== '') labels[k] = v;
      });
      return { name, labels, durationMs };
    }),
  }));
  return { waves, estimateMs, startMs };
}

/** Per wave: the bound (and what binds it), and the picking rules replayed on the measured durations. */
export interface WaveFigures {
  name: string;
  clusters: number;
  boundBy: string;
  /** How the binding bound was proven (bounds.ts SlotBoundMethod), for parallelism and caps. */
  boundMethod?: string;
  /** The binding group: `account=…: 18 clusters, 5 at once`. */
  boundDetail?: string;
  /** Without soak. */
  boundMs: number;
  /** Every bound considered (bounds.ts MeasuredBoundKind → ms). */
  bounds: Record<string, number>;
  soakMs: number;
  /** The campaign's picking rules and start order, zero overhead (bounds.ts simulateWave). */
  simulatedMs: number;
  /** Same rules, clusters offered in plan order. */
  planOrderMs: number;
  /**
   * Same rules with every cluster's measured duration known in advance (its priority instead of
   * the plan estimate): what the rules could do with perfect estimates, zero overhead.
   */
  clairvoyantMs: number;
}

/**
 * Bound and replays of every wave from the measured data: what `npm run bench` reports, and
 * what bench/replay.ts recomputes offline from a saved result.
 */
export function analyseMeasured(
  m: MeasuredCampaign,
  opts: BoundOptions & { replay?: boolean } = {},
): {
  waves: WaveFigures[];
  /** Σ over non-empty waves of bound + soak. */
  boundMs: number;
  /** Σ over non-empty waves of the campaign-order replay + soak (NaN without `replay`). */
  policyMs: number;
  /** The same with the clairvoyant replay. */
  clairvoyantMs: number;
} {
  const { waves, estimateMs } = fromMeasuredCampaign(m);
  const durationMs = new Map(waves.flatMap((w) => w.clusters.map((c) => [c.name, c.durationMs] as const)));
  const bound = campaignBound(waves, m.constraints, opts);
  const replay = opts.replay ?? true;
  const out = waves.map((w, i): WaveFigures => {
    const b = bound.waves[i] as WaveBound;
    return {
      name: w.name,
      clusters: w.clusters.length,
      boundBy: b.boundBy,
      ...(b.method ? { boundMethod: b.method } : {}),
      ...(b.detail ? { boundDetail: b.detail } : {}),
      boundMs: b.upgradeMs,
      bounds: b.bounds as Record<string, number>,
      soakMs: w.soakMs,
      simulatedMs: replay
        ? simulateWave(w, m.constraints, { order: 'campaign', priorityMs: (n) => estimateMs.get(n) ?? 0 })
        : NaN,
      planOrderMs: replay ? simulateWave(w, m.constraints, { order: 'wave-order' }) : NaN,
      clairvoyantMs: replay
        ? simulateWave(w, m.constraints, { order: 'campaign', priorityMs: (n) => durationMs.get(n) ?? 0 })
        : NaN,
    };
  });
  return {
    waves: out,
    boundMs: bound.totalMs,
    policyMs: sumWithSoaks(out, (w) => w.simulatedMs),
    clairvoyantMs: sumWithSoaks(out, (w) => w.clairvoyantMs),
  };
}

/**
 * JSON indented by two, except that an array of plain values (a cluster row, a [seconds, MiB]
 * pair) stays on one line, so a result with thousands of cluster rows stays readable and small.
 * Safe on any JSON: a raw newline only ever separates tokens (inside strings it is escaped).
 */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[[^[\]{}]*\]/g, (arr) =>
    arr
      .replace(/\[\n\s*/g, '[')
      .replace(/\n\s*\]/g, ']')
      .replace(/,\n\s*/g, ', '),
  );
}
