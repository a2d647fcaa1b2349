/**
 * Baseline comparison of a health gate: is a cluster's metric after its upgrade worse than the
 * same cluster's own values before it? Pure and deterministic: safe in workflows and activities.
 *
 * Decision inputs of {@link compareWithBaseline}, checked in this order:
 * 1. no data      — either window has no sample                                   → inconclusive
 *                   (no data is never a pass)
 * 2. sample size  — the smallest one-sided p-value any n1 + n2 samples can give,
 *                   1 / C(n1 + n2, n2), is above `alpha`: no result could ever be
 *                   significant                                                    → inconclusive,
 *                   "too few samples" (never a pass by default)
 * 3. effect       — the change of the median in the bad direction is below `minEffect`
 *                   (relative to the baseline median, or absolute)                 → pass
 * 4. test         — a one-sided Mann-Whitney U test (current values larger than the
 *                   baseline for `direction: increase`) gives p <= `alpha`          → fail
 * 5. otherwise    — a change of the size that matters, not significant (yet)      → inconclusive
 *
 * So a gate fails only on a change that is both large enough to matter and unlikely to be noise,
 * and passes only when the change is below the minimum effect and the samples could have shown one.
 *
 * The test is a rank test, valid for any distribution and small samples: with n1 + n2 <= 50 the
 * p-value is exact (the permutation distribution of the rank sum, counted over every way to pick
 * n2 of the pooled samples, with mid-ranks for ties); above, the normal approximation with tie and
 * continuity correction (Mann and Whitney 1947; Lehmann, Nonparametrics, ch. 1).
 * Samples of a time series are not independent: one `step` apart, a metric smoothed over 5
 * minutes repeats itself. Choose the step at least as long as the query's own smoothing window.
 */

/** Which change of the metric is bad: a rise (errors, latency) or a fall (throughput, availability). */
export type BadDirection = 'increase' | 'decrease';

/** How the minimum effect is measured: relative to the baseline median, or in the metric's units. */
export type EffectKind = 'relative' | 'absolute';

export interface BaselineRule {
  direction: BadDirection;
  /** The smallest change of the median, in the bad direction, that counts as a regression. */
  minEffect: number;
  effect: EffectKind;
  /** One-sided significance level of the Mann-Whitney U test. */
  alpha: number;
}

export type ComparisonVerdict = 'pass' | 'fail' | 'inconclusive';

/** The numbers behind a comparison, for the gate's result, status and the Web UI. */
export interface BaselineComparison {
  verdict: ComparisonVerdict;
  /** Samples in the baseline window and in the current window. */
  n1: number;
  n2: number;
  baselineMedian?: number;
  currentMedian?: number;
  /** Change of the median in the bad direction (positive: worse), relative or absolute per the rule. */
  effect?: number;
  /** Mann-Whitney U of the current samples (pairs in which the current value is the worse one; ties count half). */
  u?: number;
  /** One-sided p-value of the test. */
  p?: number;
  /** Whether `p` is exact (n1 + n2 <= EXACT_LIMIT) or the normal approximation. */
  exact?: boolean;
  /**
   * One line, with the numbers: "fail: regression against the baseline: median 0.002 → 0.05 (+2400%), U=9, p=0.05, n=3+3".
   * Empty in the results a campaign keeps per wave: the gate's message carries it there.
   */
  reason: string;
}

/** Above this many pooled samples the p-value comes from the normal approximation. */
export const EXACT_LIMIT = 50;

/** The median of the values (mean of the middle two for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** The smallest one-sided p-value n1 + n2 samples without ties can give: 1 / C(n1 + n2, n2). */
export function smallestPValue(n1: number, n2: number): number {
  return Math.exp(-logChoose(n1 + n2, Math.min(n1, n2)));
}

/** Pooled mid-ranks (1-based; tied values share the mean of their ranks) and the tie groups' sizes. */
function midRanks(pooled: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = pooled.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i);
  const ranks = new Array<number>(pooled.length);
  const ties: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && (order[end + 1] as { v: number }).v === (order[start] as { v: number }).v) end++;
    const rank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) ranks[(order[k] as { i: number }).i] = rank;
    ties.push(end - start + 1);
    start = end + 1;
  }
  return { ranks, ties };
}

/** The standard normal upper tail, 1 - Φ(z), from erfc (Numerical Recipes' erfcc, relative error < 1.2e-7). */
function upperNormalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

export interface MannWhitneyResult {
  /** U of the second sample: pairs (x, y) with y > x, ties counting half. */
  u: number;
  /** One-sided p-value: P(U >= u) when `greater`, P(U <= u) otherwise, under the null hypothesis. */
  p: number;
  exact: boolean;
}

/**
 * One-sided Mann-Whitney U test of `y` against `x`: `greater` asks whether y tends to be larger.
 * Exact for up to {@link EXACT_LIMIT} pooled samples (every subset of n2 pooled mid-ranks counted,
 * by dynamic programming over their doubled sums), else the normal approximation with tie and
 * continuity correction. Both samples must be non-empty.
 */
export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  greater: boolean,
  exactLimit = EXACT_LIMIT,
): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  const n = n1 + n2;
  const { ranks, ties } = midRanks([...x, ...y]);
  let rankSumY = 0;
  for (let i = n1; i < n; i++) rankSumY += ranks[i] as number;
  const u = rankSumY - (n2 * (n2 + 1)) / 2;
  if (n <= exactLimit) {
    // Doubled mid-ranks are integers; count subsets of size n2 by their doubled rank sum.
    const doubled = ranks.map((r) => Math.round(r * 2));
    const maxSum = doubled.reduce((a, b) => a + b, 0);
    const counts: Float64Array[] = Array.from({ length: n2 + 1 }, () => new Float64Array(maxSum + 1));
    (counts[0] as Float64Array)[0] = 1;
    for (const r of doubled) {
      // Sizes downwards, as in a 0/1 knapsack: row k - 1 still holds the subsets without this sample.
      for (let k = n2; k >= 1; k--) {
        const from = counts[k - 1] as Float64Array;
        const to = counts[k] as Float64Array;
        for (let s = maxSum; s >= r; s--) to[s] = (to[s] as number) + (from[s - r] as number);
      }
    }
    const dist = counts[n2] as Float64Array;
    const observed = Math.round(rankSumY * 2);
    let tail = 0;
    let total = 0;
    for (let s = 0; s <= maxSum; s++) {
      const c = dist[s] as number;
      total += c;
      if (greater ? s >= observed : s <= observed) tail += c;
    }
    return { u, p: Math.min(1, tail / total), exact: true };
  }
  const tieTerm = ties.reduce((a, t) => a + t * t * t - t, 0) / (n * (n - 1));
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm);
  if (variance <= 0) return { u, p: 1, exact: false };
  const mean = (n1 * n2) / 2;
  const z = greater ? (u - mean - 0.5) / Math.sqrt(variance) : (mean - u - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, upperNormalTail(z)), exact: false };
}

/** A number for a reason line: at most four significant digits. */
function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

/** The effect in the rule's terms: relative to |baseline median| (Infinity from a zero baseline), or absolute. */
function effectOf(base: number, current: number, rule: BaselineRule): number {
  const worse = rule.direction === 'increase' ? current - base : base - current;
  if (rule.effect === 'absolute') return worse;
  if (base === 0) return worse === 0 ? 0 : worse > 0 ? Infinity : -Infinity;
  return worse / Math.abs(base);
}

function formatEffect(effect: number, rule: BaselineRule): string {
  if (rule.effect === 'absolute') return `${effect >= 0 ? '+' : ''}${fmt(effect)}`;
  return Number.isFinite(effect) ? `${effect >= 0 ? '+' : ''}${fmt(effect * 100)}%` : `${effect > 0 ? '+' : '-'}∞%`;
}

/**
 * Compares the current window's samples with the baseline window's by the rule in the module
 * header. NaN samples must already be left out (they carry no value).
 */
export function compareWithBaseline(
  baseline: readonly number[],
  current: readonly number[],
  rule: BaselineRule,
): BaselineComparison {
  const n1 = baseline.length;
  const n2 = current.length;
  const sizes = `n=${n1}+${n2}`;
  if (n1 === 0 || n2 === 0) {
    const which = n1 === 0 && n2 === 0 ? 'either window' : n1 === 0 ? 'the baseline window' : 'the current window';
    return { verdict: 'inconclusive', n1, n2, reason: `inconclusive: no data in ${which} (${sizes})` };
  }
  const baselineMedian = median(baseline) as number;
  const currentMedian = median(current) as number;
  const effect = effectOf(baselineMedian, currentMedian, rule);
  const { u, p, exact } = mannWhitneyU(baseline, current, rule.direction === 'increase');
  const numbers = { n1, n2, baselineMedian, currentMedian, effect, u, p, exact };
  const summary = `median ${fmt(baselineMedian)} → ${fmt(currentMedian)} (${formatEffect(effect, rule)}), U=${fmt(u)}, p=${fmt(p)}${
    exact ? '' : ' (normal approx.)'
  }, ${sizes}`;
  const floor = smallestPValue(n1, n2);
  if (floor > rule.alpha) {
    return {
      verdict: 'inconclusive',
      ...numbers,
      reason: `inconclusive: too few samples (${sizes}): the smallest p-value they can give is ${fmt(floor)}, above alpha ${rule.alpha}; ${summary}`,
    };
  }
  if (effect < rule.minEffect) {
    return {
      verdict: 'pass',
      ...numbers,
      reason: `pass: change below minEffect ${formatEffect(rule.minEffect, rule)}: ${summary}`,
    };
  }
  if (p <= rule.alpha) {
    return { verdict: 'fail', ...numbers, reason: `fail: regression against the baseline: ${summary}` };
  }
  return {
    verdict: 'inconclusive',
    ...numbers,
    reason: `inconclusive: a change of at least minEffect, not significant at alpha ${rule.alpha}: ${summary}`,
  };
}

/**
 * A comparison as the cells of a table row, for status and the Web UI details:
 * baseline median, current median, effect, U, p, n1+n2 ("–" where there is no number).
 */
export function comparisonCells(c: BaselineComparison, effect: EffectKind = 'relative'): string[] {
  const num = (v: number | undefined) => (v === undefined ? '–' : fmt(v));
  return [
    num(c.baselineMedian),
    num(c.currentMedian),
    c.effect === undefined ? '–' : formatEffect(c.effect, { effect, direction: 'increase', minEffect: 0, alpha: 0 }),
    num(c.u),
    c.p === undefined ? '–' : `${fmt(c.p)}${c.exact === false ? ' (approx.)' : ''}`,
    `${c.n1}+${c.n2}`,
  ];
}

/** A cluster as cohort selection sees it: its name and labels. */
export interface LabelledCluster {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/**
 * The control cohort of a wave: the not-yet-upgraded clusters whose values of `keys` equal the
 * wave's. Refused, not compared, when the wave's own clusters disagree on a key, or when no
 * candidate matches: lower environments go first, so the clusters left are often another
 * environment, and comparing staging with production would measure the difference between them.
 */
export function selectCohort(
  wave: readonly LabelledCluster[],
  candidates: readonly LabelledCluster[],
  keys: readonly string[],
): { clusters: string[] } | { refused: string } {
  if (wave.length === 0) return { refused: 'cohort refused: the wave has no upgraded cluster' };
  const want: Record<string, string> = {};
  for (const key of keys) {
    const values = [...new Set(wave.map((c) => c.labels[key] ?? ''))];
    if (values.length > 1) {
      return { refused: `cohort refused: the wave's clusters differ in label ${key} (${values.join(', ')})` };
    }
    want[key] = values[0] as string;
  }
  const matching = candidates.filter((c) => keys.every((key) => (c.labels[key] ?? '') === want[key]));
  if (matching.length === 0) {
    const wanted = keys.map((k) => `${k}=${want[k]}`).join(', ');
    const other = [...new Set(candidates.map((c) => keys.map((k) => `${k}=${c.labels[k] ?? ''}`).join(', ')))];
    return {
      refused: `cohort refused: no cluster not yet upgraded has ${wanted}${
        other.length > 0 ? ` (those left have ${other.slice(0, 3).join('; ')})` : ''
      }`,
    };
  }
  return { clusters: matching.map((c) => c.name) };
}
