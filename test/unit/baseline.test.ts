/**
 * The baseline comparison's decision rule (domain/baseline.ts) against textbook values of the
 * Mann-Whitney U test and the rule's order: no data, too few samples, effect, test.
 */
import { describe, expect, it } from 'vitest';
import {
  compareWithBaseline,
  mannWhitneyU,
  median,
  selectCohort,
  smallestPValue,
  type BaselineRule,
} from '../../domain/baseline';
import { healthGateSchema } from '../../domain/spec';

const rule: BaselineRule = { direction: 'increase', minEffect: 0.2, effect: 'relative', alpha: 0.05 };

describe('mannWhitneyU, exact', () => {
  it('gives the example of the SciPy documentation: U = 17, one-sided p = 7/126', () => {
    // Males' and females' scores (Conover, Practical Nonparametric Statistics), as in scipy.stats.mannwhitneyu.
    const females = [20, 11, 17, 12];
    const males = [19, 22, 16, 29, 24];
    const r = mannWhitneyU(females, males, true);
    expect(r.u).toBe(17);
    expect(r.exact).toBe(true);
    expect(r.p).toBeCloseTo(7 / 126, 12);
  });

  it('matches the tables for n1 = n2 = 5: P(U <= 2) = 4/252 and P(U <= 4) = 12/252', () => {
    const two = mannWhitneyU([5, 6, 8, 9, 10], [1, 2, 3, 4, 7], false);
    expect(two.u).toBe(2);
    expect(two.p).toBeCloseTo(4 / 252, 12);
    const four = mannWhitneyU([5, 6, 7, 8, 10], [1, 2, 3, 4, 9], false);
    expect(four.u).toBe(4);
    expect(four.p).toBeCloseTo(12 / 252, 12);
  });

  it('gives 1 / C(n1 + n2, n2) for samples that do not overlap, tied within each sample or not', () => {
    expect(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8], true).p).toBeCloseTo(1 / 70, 12);
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6, 7], true).p).toBeCloseTo(1 / 35, 12);
    expect(mannWhitneyU([0.002, 0.002, 0.002], [0.05, 0.05, 0.05], true).p).toBeCloseTo(1 / 20, 12);
    expect(mannWhitneyU([0.002, 0.002, 0.002], [0.05, 0.05, 0.05], true).u).toBe(9);
  });

  it('counts ties half and gives p = 1 when every value is the same', () => {
    const r = mannWhitneyU([1, 1, 1], [1, 1, 1], true);
    expect(r.u).toBe(4.5);
    expect(r.p).toBe(1);
  });

  it('is symmetric: the lower tail of y against x is the upper tail of x against y', () => {
    const x = [3.1, 4.7, 2.2, 5.9, 4.0, 3.3];
    const y = [5.2, 6.1, 4.9, 7.3, 3.9];
    expect(mannWhitneyU(x, y, true).p).toBeCloseTo(mannWhitneyU(y, x, false).p, 12);
  });
});

describe('mannWhitneyU, normal approximation above 50 samples', () => {
  it('agrees with the exact p-value on the same 25 + 25 samples within 0.003, ties included', () => {
    const x = Array.from({ length: 25 }, (_, i) => (i * 7) % 20);
    const y = Array.from({ length: 25 }, (_, i) => ((i * 11) % 20) + 3);
    const exact = mannWhitneyU(x, y, true);
    const approx = mannWhitneyU(x, y, true, 0);
    expect(exact.exact).toBe(true);
    expect(approx.exact).toBe(false);
    expect(approx.u).toBe(exact.u);
    expect(exact.p).toBeGreaterThan(0.001);
    expect(exact.p).toBeLessThan(0.2);
    expect(Math.abs(exact.p - approx.p)).toBeLessThan(0.003);
  });

  it('finds two separated samples of 60 highly significant', () => {
    const x = Array.from({ length: 60 }, (_, i) => 0.001 + i * 1e-5);
    const y = Array.from({ length: 60 }, (_, i) => 0.05 + i * 1e-5);
    const r = mannWhitneyU(x, y, true);
    expect(r.u).toBe(3600);
    expect(r.p).toBeLessThan(1e-15);
  });
});

describe('compareWithBaseline', () => {
  it('no data in a window is inconclusive, never a pass', () => {
    expect(compareWithBaseline([], [1, 2, 3], rule).verdict).toBe('inconclusive');
    expect(compareWithBaseline([1, 2, 3], [], rule).reason).toContain('no data in the current window');
  });

  it('too few samples to ever be significant is inconclusive, even without a change', () => {
    // 2 + 2 samples: the smallest p-value is 1/6.
    const r = compareWithBaseline([0.002, 0.002], [0.002, 0.002], rule);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toContain('too few samples (n=2+2)');
    expect(smallestPValue(2, 2)).toBeCloseTo(1 / 6, 12);
    // 3 + 3 can reach 0.05.
    expect(smallestPValue(3, 3)).toBeCloseTo(0.05, 12);
  });

  it('passes a change below the minimum effect, with the numbers', () => {
    const r = compareWithBaseline([0.002, 0.002, 0.002, 0.002], [0.0022, 0.0022, 0.0022, 0.0022], rule);
    expect(r.verdict).toBe('pass');
    expect(r.baselineMedian).toBe(0.002);
    expect(r.currentMedian).toBe(0.0022);
    expect(r.effect).toBeCloseTo(0.1, 12);
    expect(r.p).toBeCloseTo(1 / 70, 12);
    expect(r.reason).toMatch(/^pass: change below minEffect \+20%/);
  });

  it('fails a significant change of at least the minimum effect', () => {
    const r = compareWithBaseline([0.002, 0.002, 0.002], [0.05, 0.05, 0.05], rule);
    expect(r.verdict).toBe('fail');
    expect(r.u).toBe(9);
    expect(r.p).toBeCloseTo(0.05, 12);
    expect(r.reason).toContain('median 0.002 → 0.05 (+2400%)');
  });

  it('is inconclusive for a large change that is not significant', () => {
    const r = compareWithBaseline([1, 5, 2, 6], [1.5, 7, 3, 8], rule);
    expect(r.effect).toBeGreaterThanOrEqual(0.2);
    expect(r.p).toBeGreaterThan(0.05);
    expect(r.verdict).toBe('inconclusive');
  });

  it('reads direction decrease as a fall being bad, and absolute effects in the metric units', () => {
    const down: BaselineRule = { direction: 'decrease', minEffect: 10, effect: 'absolute', alpha: 0.05 };
    expect(compareWithBaseline([100, 101, 99, 100], [80, 81, 79, 80], down).verdict).toBe('fail');
    expect(compareWithBaseline([100, 101, 99, 100], [120, 121, 119, 120], down).verdict).toBe('pass');
  });

  it('a rise from a zero baseline is an infinite relative effect', () => {
    const r = compareWithBaseline([0, 0, 0, 0], [1, 1, 1, 1], rule);
    expect(r.effect).toBe(Infinity);
    expect(r.verdict).toBe('fail');
  });

  it('median of an even count is the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('the gate fields compare and scope', () => {
  const gate = { name: 'errors', query: 'max(x{cluster="{{cluster}}"})', condition: '< 0.5' };

  it('fills the comparison defaults and leaves scope absent (a cluster gate, as in older inputs)', () => {
    const parsed = healthGateSchema.parse({ ...gate, compare: { baseline: {} } });
    expect(parsed.compare?.baseline).toEqual({
      window: '1h',
      step: '1m',
      direction: 'increase',
      minEffect: 0.2,
      effect: 'relative',
      alpha: 0.05,
    });
    expect(parsed.scope).toBeUndefined();
  });

  it('refuses a wave gate outside the soak, and more samples than Prometheus answers, naming the path', () => {
    const wave = healthGateSchema.safeParse({ ...gate, scope: 'wave' });
    expect(wave.success).toBe(false);
    expect(wave.error?.issues[0]?.path).toEqual(['phases']);
    const dense = healthGateSchema.safeParse({ ...gate, compare: { baseline: { window: '7d', step: '1s' } } });
    expect(dense.error?.issues[0]).toMatchObject({ path: ['compare', 'baseline', 'step'] });
    expect(healthGateSchema.safeParse({ ...gate, scope: 'wave', phases: ['soak'] }).success).toBe(true);
  });
});

describe('selectCohort', () => {
  const c = (name: string, env: string, tier = 'web') => ({ name, labels: { env, tier } });

  it("takes the clusters not yet upgraded that share the wave's labels", () => {
    expect(
      selectCohort([c('s1', 'staging')], [c('s2', 'staging'), c('p1', 'prod'), c('s3', 'staging', 'db')], ['env']),
    ).toEqual({
      clusters: ['s2', 's3'],
    });
    expect(selectCohort([c('s1', 'staging')], [c('s2', 'staging'), c('s3', 'staging', 'db')], ['env', 'tier'])).toEqual(
      {
        clusters: ['s2'],
      },
    );
  });

  it('refuses a cohort from another environment instead of comparing across them', () => {
    const r = selectCohort([c('s1', 'staging'), c('s2', 'staging')], [c('p1', 'prod'), c('p2', 'prod')], ['env']);
    expect(r).toEqual({
      refused: 'cohort refused: no cluster not yet upgraded has env=staging (those left have env=prod)',
    });
  });

  it('refuses a wave whose clusters disagree on a label', () => {
    const r = selectCohort([c('s1', 'staging'), c('p1', 'prod')], [c('s2', 'staging')], ['env']);
    expect(r).toEqual({ refused: "cohort refused: the wave's clusters differ in label env (staging, prod)" });
  });

  it('refuses a cohort gate outside a wave gate, and a compare without a comparison', () => {
    const gate = { name: 'errors', query: 'max(x{cluster="{{cluster}}"})', condition: '< 0.5' };
    expect(healthGateSchema.safeParse({ ...gate, compare: { cohort: {} } }).error?.issues[0]?.path).toEqual([
      'compare',
      'cohort',
    ]);
    expect(healthGateSchema.safeParse({ ...gate, compare: {} }).error?.issues[0]?.path).toEqual(['compare']);
  });
});
