/**
 * Gates that compare a cluster with its own baseline, and wave-scope gates, against a real
 * Prometheus that scrapes the simulator's /metrics. The regression is the simulator's
 * degrade-after-upgrade fault, injected on one cluster at a moment the test calls its upgrade:
 * the gate's condition alone (< 0.5) lets it through, the comparison does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityParts, createDefaultDeps } from '../../activities/index';
import type { ActivityParts, FleetwaveActivities, GateContext } from '../../activities/types';
import type { WatchHealthGatesInput } from '../../activities/watch';
import { healthGateSchema } from '../../domain/spec';
import { prometheusBinary, startPrometheus, type TestPrometheus } from '../helpers/prometheus';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, TEST_CREDENTIALS, type SimHarness } from './sim-harness';

let h: SimHarness;
let prom: TestPrometheus;
let activities: FleetwaveActivities & ActivityParts;
/** The moment the test "upgrades" b-regressed (and, for the comparison, every cluster). */
let changedAtMs: number;
/** A second after it, once the fault shows in a scrape. */
let changeEndedAtMs: number;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  if (!prometheusBinary())
    throw new Error('these tests need a Prometheus binary (Debian package prometheus, or PROMETHEUS_BIN)');
  const degraded = { faults: { degradeAtVersion: '1.29' } };
  h = await startSimHarness([
    clusterEntry('b-regressed'),
    clusterEntry('b-steady'),
    clusterEntry('b-other'),
    // Cohorts: upgraded waves w-* (degraded from the start) against controls k-*; a-* all degraded.
    ...['w-1', 'w-2', 'w-3'].map((n) => clusterEntry(n, degraded)),
    ...['k-1', 'k-2', 'k-3'].map((n) => clusterEntry(n)),
    ...['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'a-6'].map((n) => clusterEntry(n, degraded)),
  ]);
  prom = await startPrometheus({ scrapeTargets: [new URL(h.sim.url).host], scrapeInterval: '1s' });
  await prom.waitForQuery('fleetwave_sim_workload_error_ratio{cluster="b-regressed"}');
  activities = createActivityParts(
    createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS, prometheusUrl: prom.url }),
  );
  // Six seconds of baseline at one scrape a second, then the regression on one cluster only.
  await sleep(6_000);
  changedAtMs = Date.now();
  h.sim.injectFaults('b-regressed', { degradeAtVersion: '1.29' });
  changeEndedAtMs = changedAtMs + 1_500;
  await sleep(7_500);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await h?.stop();
});

const compareGate = (window: string) =>
  healthGateSchema.parse({
    name: 'errors-vs-baseline',
    query: 'max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"})',
    condition: '< 0.5',
    interval: '1s',
    phases: ['soak'],
    compare: { baseline: { window, step: '1s', minEffect: 0.2, alpha: 0.05 } },
  });

/** One look at each item (an end already past), as the approval re-check takes it. */
function oneLook(items: WatchHealthGatesInput['items']) {
  return runActivity(activities.watchHealthGates, { phase: 'soak', items, untilMs: 0, requiredSuccesses: 1 });
}

const times = (): GateContext => ({ changedAtMs, changeEndedAtMs });

describe('baseline comparison against a real Prometheus', () => {
  it('fails the cluster that regressed after its upgrade, with the numbers, though its condition passes', async () => {
    const answer = await oneLook([{ cluster: h.ref('b-regressed'), gate: compareGate('5s'), context: times() }]);
    const result = answer.failures[0]?.result;
    expect(result?.outcome).toBe('Failed');
    expect(result?.comparison).toMatchObject({ verdict: 'fail', exact: true });
    const c = result?.comparison;
    expect(c?.baselineMedian).toBeLessThan(0.005);
    expect(c?.currentMedian).toBeGreaterThanOrEqual(0.05);
    expect(c?.n1).toBeGreaterThanOrEqual(4);
    expect(c?.n2).toBeGreaterThanOrEqual(4);
    expect(c?.p).toBeLessThanOrEqual(0.05);
    expect(result?.message).toContain('regression against the baseline');
    console.log(`baseline comparison, regressed cluster: ${result?.message}`);
  });

  it('passes a cluster that did not change, with the numbers', async () => {
    const answer = await oneLook([{ cluster: h.ref('b-steady'), gate: compareGate('5s'), context: times() }]);
    expect(answer.failures).toEqual([]);
    const result = answer.results[0];
    expect(result?.outcome).toBe('Successful');
    expect(result?.comparison).toMatchObject({ verdict: 'pass', effect: 0 });
    expect(result?.message).toContain('change below minEffect');
  });

  it('says "too few samples" for windows too short to ever be significant, and never passes them', async () => {
    // One second at a one-second step: two samples a window, whose smallest p-value is 1/6.
    const answer = await oneLook([
      { cluster: h.ref('b-steady'), gate: compareGate('1s'), context: times() },
      { cluster: h.ref('b-regressed'), gate: compareGate('1s'), context: times() },
    ]);
    expect(answer.results.map((r) => r.outcome)).toEqual(['Inconclusive', 'Inconclusive']);
    for (const r of answer.results) {
      expect(r.comparison?.verdict).toBe('inconclusive');
      expect(r.message).toContain('too few samples (n=2+2)');
    }
  });

  it('is inconclusive, never a pass, when the baseline window has no data', async () => {
    const early = changedAtMs - 3_600_000;
    const answer = await oneLook([
      { cluster: h.ref('b-steady'), gate: compareGate('5s'), context: { changedAtMs: early, changeEndedAtMs } },
    ]);
    expect(answer.results[0]?.outcome).toBe('Inconclusive');
    expect(answer.results[0]?.message).toContain('no data in the baseline window');
  });

  it("compares in the cluster upgrade's own phases too (evaluateHealthGate), and not in its baseline phase", async () => {
    const gate = { ...compareGate('5s'), consecutiveSuccesses: 1, timeout: '10s' };
    const regressed = await runActivity(activities.evaluateHealthGate, {
      cluster: h.ref('b-regressed'),
      gate,
      phase: 'bake',
      context: { changedAtMs },
    });
    expect(regressed.outcome).toBe('Failed');
    expect(regressed.comparison?.verdict).toBe('fail');
    const before = await runActivity(activities.evaluateHealthGate, {
      cluster: h.ref('b-regressed'),
      gate,
      phase: 'baseline',
      context: { changedAtMs },
    });
    expect(before.outcome).toBe('Successful');
    expect(before.comparison).toBeUndefined();
  });

  it('without the upgrade start time the comparison is inconclusive', async () => {
    const answer = await oneLook([{ cluster: h.ref('b-steady'), gate: compareGate('5s') }]);
    expect(answer.results[0]?.outcome).toBe('Inconclusive');
    expect(answer.results[0]?.message).toContain('upgrade start is not known');
  });
});

describe('wave-scope gates against a real Prometheus', () => {
  const waveGate = healthGateSchema.parse({
    name: 'wave-errors',
    query: 'max(fleetwave_sim_workload_error_ratio{cluster=~"{{clusters}}"})',
    condition: '< 0.01',
    interval: '1s',
    scope: 'wave',
    phases: ['soak'],
  });
  const wave = (name: string, clusters: string[]) => ({
    cluster: { name: `wave ${name}`, region: 'us-east-1' },
    gate: waveGate,
    context: { wave: name, clusters },
  });

  it('measures the wave once over its clusters: green without the regressed cluster, red with it', async () => {
    const answer = await oneLook([wave('canary', ['b-steady', 'b-other']), wave('prod', ['b-steady', 'b-regressed'])]);
    expect(answer.failures.map((f) => f.index)).toEqual([1]);
    expect(answer.failures[0]?.result.outcome).toBe('Failed');
    expect(answer.failures[0]?.result.message).toContain('on wave prod');
    expect(Number(answer.failures[0]?.result.lastValue)).toBeGreaterThanOrEqual(0.05);
  });

  it('matches whole names only: a prefix of a cluster name selects nothing, and no data is never a pass', async () => {
    const answer = await oneLook([wave('canary', ['b-'])]);
    expect(answer.results[0]?.outcome).toBe('Inconclusive');
    expect(answer.results[0]?.message).toContain('no data');
  });
});

describe('cohort comparison of a wave against a real Prometheus', () => {
  const cohortGate = healthGateSchema.parse({
    name: 'wave-vs-cohort',
    query: 'max by (cluster) (fleetwave_sim_workload_error_ratio{cluster=~"{{clusters}}"})',
    condition: '< 0.5',
    interval: '1s',
    scope: 'wave',
    phases: ['soak'],
    compare: { cohort: { window: '5s', step: '1s' } },
  });
  const item = (clusters: string[], context: Partial<GateContext>) => ({
    cluster: { name: 'wave canary', region: 'us-east-1' },
    gate: cohortGate,
    context: { wave: 'canary', clusters, ...context },
  });

  it('fails a regression only the upgraded clusters show, with one value per cluster', async () => {
    const answer = await oneLook([item(['w-1', 'w-2', 'w-3'], { cohort: ['k-1', 'k-2', 'k-3'] })]);
    const result = answer.failures[0]?.result;
    expect(result?.outcome).toBe('Failed');
    expect(result?.comparison).toMatchObject({ verdict: 'fail', n1: 3, n2: 3, u: 9 });
    expect(result?.message).toContain('cohort of 3 control cluster(s)');
    console.log(`cohort comparison, regressed wave: ${result?.message}`);
  });

  it('does not fail a change every cluster shows, upgraded or not', async () => {
    const answer = await oneLook([item(['a-1', 'a-2', 'a-3'], { cohort: ['a-4', 'a-5', 'a-6'] })]);
    const result = answer.results[0];
    expect(result?.outcome).not.toBe('Failed');
    expect(result?.comparison?.verdict).not.toBe('fail');
    expect(result?.comparison).toMatchObject({ n1: 3, n2: 3 });
    console.log(`cohort comparison, fleet-wide change: ${result?.message}`);
  });

  it('answers a wave of 2 clusters honestly: too few samples, even for a clear regression', async () => {
    const answer = await oneLook([item(['w-1', 'w-2'], { cohort: ['k-1', 'k-2', 'k-3'] })]);
    const result = answer.results[0];
    expect(result?.outcome).toBe('Inconclusive');
    expect(result?.message).toContain('too few samples (n=3+2)');
    expect(result?.comparison?.currentMedian).toBeGreaterThan(10 * (result?.comparison?.baselineMedian ?? 1));
  });

  it('is inconclusive, never a pass, when the campaign refused the cohort', async () => {
    const refused = 'cohort refused: no cluster not yet upgraded has env=staging (those left have env=prod)';
    const answer = await oneLook([item(['k-1', 'k-2', 'k-3'], { cohortRefused: refused })]);
    expect(answer.results[0]?.outcome).toBe('Inconclusive');
    expect(answer.results[0]?.message).toContain(refused);
  });
});
