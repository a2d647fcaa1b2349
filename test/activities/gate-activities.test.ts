/**
 * PromQL health gates against a real Prometheus that scrapes the simulator's /metrics:
 * a gate that passes, one that fails, one without data and one with Prometheus down.
 * Only the first may ever be Successful.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateProgress } from '../../activities/prometheus';
import { createActivities, createDefaultDeps } from '../../activities/index';
import type { EvaluateHealthGateInput, FleetwaveActivities } from '../../activities/types';
import { healthGateSchema } from '../../domain/spec';
import { freePort, prometheusBinary, startPrometheus, type TestPrometheus } from '../helpers/prometheus';
import { activityEnvironment, recordHeartbeats, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, TEST_CREDENTIALS, type SimHarness } from './sim-harness';

let h: SimHarness;
let prom: TestPrometheus;
let activities: FleetwaveActivities;

beforeAll(async () => {
  if (!prometheusBinary())
    throw new Error('these tests need a Prometheus binary (Debian package prometheus, or PROMETHEUS_BIN)');
  h = await startSimHarness([
    clusterEntry('g-healthy'),
    clusterEntry('g-degraded', { faults: { degradeAtVersion: '1.29' } }),
  ]);
  prom = await startPrometheus({ scrapeTargets: [new URL(h.sim.url).host], scrapeInterval: '1s' });
  await prom.waitForQuery('fleetwave_sim_workload_error_ratio{cluster="g-degraded"}');
  activities = createActivities(
    createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS, prometheusUrl: prom.url }),
  );
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await h?.stop();
});

const gate = healthGateSchema.parse({
  name: 'workload-errors',
  query: 'max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"})',
  condition: '< 0.01',
  interval: '200ms',
  consecutiveSuccesses: 3,
  failureLimit: 0,
  inconclusiveLimit: 2,
  consecutiveErrorLimit: 2,
  timeout: '20s',
});

const input = (cluster: string): EvaluateHealthGateInput => ({
  cluster: { name: cluster, region: 'us-east-1' },
  gate,
  phase: 'postStep',
});

describe('health gates against a real Prometheus scraping the simulator', () => {
  it('passes on a healthy cluster after the required passes in a row, heartbeating its tally', async () => {
    const env = activityEnvironment();
    const beats = recordHeartbeats(env);
    const result = await runActivity(activities.evaluateHealthGate, input('g-healthy'), env);
    expect(result).toMatchObject({
      gate: 'workload-errors',
      phase: 'postStep',
      outcome: 'Successful',
      successes: 3,
      failures: 0,
    });
    expect(Number(result.lastValue)).toBeLessThan(0.01);
    expect((beats.at(-1) as GateProgress).tally).toMatchObject({ measurements: 3, consecutiveSuccesses: 3 });
  });

  it('fails on a degraded cluster', async () => {
    const result = await runActivity(activities.evaluateHealthGate, input('g-degraded'));
    expect(result).toMatchObject({ outcome: 'Failed', failures: 1, successes: 0 });
    expect(Number(result.lastValue)).toBeGreaterThanOrEqual(0.05);
  });

  it('is Inconclusive, not a pass, when the query has no data', async () => {
    const result = await runActivity(activities.evaluateHealthGate, input('g-not-scraped'));
    expect(result).toMatchObject({ outcome: 'Inconclusive', inconclusive: 3, successes: 0 });
    expect(result.message).toContain('no data');
  });

  it('is an Error, not a pass, when Prometheus is down', async () => {
    const down = createActivities(
      createDefaultDeps({
        endpoint: h.sim.url,
        credentials: TEST_CREDENTIALS,
        prometheusUrl: `http://127.0.0.1:${await freePort()}`,
      }),
    );
    const result = await runActivity(down.evaluateHealthGate, input('g-healthy'));
    expect(result).toMatchObject({ outcome: 'Error', errors: 3, successes: 0 });
    expect(result.message).toContain('Prometheus unreachable');
  });

  it('is an Error, not a pass, when the query is invalid', async () => {
    const bad = {
      ...input('g-healthy'),
      gate: { ...gate, query: 'max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"' },
    };
    const result = await runActivity(activities.evaluateHealthGate, bad);
    expect(result).toMatchObject({ outcome: 'Error', successes: 0 });
    expect(result.message).toContain('HTTP 400');
  });
});
