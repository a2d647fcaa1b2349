/**
 * PromQL health gates against a real Prometheus that scrapes the simulator's /metrics:
 * a gate that passes, one that fails, one without data and one with Prometheus down.
 * Only the first may ever be Successful. Then checkClusterHealth, which runs every gate of a
 * phase at once and the Kubernetes checks after them, in one activity.
 */
import { CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterHealthProgress } from '../../activities/health';
import type { GateProgress } from '../../activities/prometheus';
import { createActivityParts, createDefaultDeps } from '../../activities/index';
import type {
  ActivityParts,
  CheckClusterHealthInput,
  EvaluateHealthGateInput,
  FleetwaveActivities,
} from '../../activities/types';
import { healthGateSchema } from '../../domain/spec';
import { freePort, prometheusBinary, startPrometheus, type TestPrometheus } from '../helpers/prometheus';
import { activityEnvironment, recordHeartbeats, retryEnvironment, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, TEST_CREDENTIALS, type SimHarness } from './sim-harness';

let h: SimHarness;
let prom: TestPrometheus;
let activities: FleetwaveActivities & ActivityParts;

beforeAll(async () => {
  if (!prometheusBinary())
    throw new Error('these tests need a Prometheus binary (Debian package prometheus, or PROMETHEUS_BIN)');
  h = await startSimHarness([
    clusterEntry('g-healthy'),
    clusterEntry('g-degraded', { faults: { degradeAtVersion: '1.29' } }),
  ]);
  prom = await startPrometheus({ scrapeTargets: [new URL(h.sim.url).host], scrapeInterval: '1s' });
  await prom.waitForQuery('fleetwave_sim_workload_error_ratio{cluster="g-degraded"}');
  activities = createActivityParts(
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
    const down = createActivityParts(
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

/** A gate that always passes (no cluster label), slowly: `passes` measurements 200 ms apart. */
const steady = (passes: number) =>
  healthGateSchema.parse({
    name: 'steady',
    query: 'vector(0)',
    condition: '< 0.01',
    interval: '200ms',
    consecutiveSuccesses: passes,
    timeout: '60s',
  });

const checks = { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true };

const healthInput = (cluster: string, extra: Partial<CheckClusterHealthInput> = {}): CheckClusterHealthInput => ({
  cluster: { name: cluster, region: 'us-east-1' },
  phase: 'postStep',
  gates: [gate, steady(3)],
  checks,
  runKubernetesChecks: true,
  ...extra,
});

describe('checkClusterHealth: every gate of a phase, then the Kubernetes checks, in one activity', () => {
  it('is healthy when every gate passes and the Kubernetes checks do, heartbeating all gates together', async () => {
    const env = activityEnvironment();
    const beats = recordHeartbeats(env) as ClusterHealthProgress[];
    const baseline = await runActivity(activities.captureKubernetesBaseline, { cluster: h.ref('g-healthy') });
    const result = await runActivity(
      activities.checkClusterHealth,
      healthInput('g-healthy', { expectedKubeletMinor: { general: '1.29' }, baseline }),
      env,
    );
    expect(result.healthy).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.gates.map((g) => [g.gate, g.phase, g.outcome, g.successes])).toEqual([
      ['workload-errors', 'postStep', 'Successful', 3],
      ['steady', 'postStep', 'Successful', 3],
    ]);
    expect(result.kubernetes).toEqual({ healthy: true, failures: [], nodes: { total: 3, ready: 3 } });
    // One heartbeat carries both gates; the last one has both results.
    expect(beats.some((b) => b.gates.every((g) => g.progress !== undefined))).toBe(true);
    expect(beats.at(-1)?.gates.map((g) => g.result?.outcome)).toEqual(['Successful', 'Successful']);
  });

  it('a failing gate makes it unhealthy at once: the other gates stop and the Kubernetes checks do not run', async () => {
    const started = Date.now();
    const result = await runActivity(
      activities.checkClusterHealth,
      // 50 passes 200 ms apart would take 10 s.
      healthInput('g-degraded', { gates: [gate, steady(50)] }),
    );
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result.healthy).toBe(false);
    expect(result.gates.map((g) => [g.gate, g.outcome])).toEqual([['workload-errors', 'Failed']]);
    expect(result.kubernetes).toBeUndefined();
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatch(/^gate workload-errors \(postStep\): Failed: /);
    expect(result.failures[0]).not.toContain('on g-degraded');
  });

  it('no data is never healthy: a gate without data makes the phase Inconclusive', async () => {
    const result = await runActivity(
      activities.checkClusterHealth,
      healthInput('g-not-scraped', { phase: 'baseline', runKubernetesChecks: false }),
    );
    expect(result.healthy).toBe(false);
    expect(result.gates.find((g) => g.gate === 'workload-errors')?.outcome).toBe('Inconclusive');
    expect(result.failures.join('\n')).toMatch(/gate workload-errors \(baseline\): Inconclusive: .*no data/);
  });

  it('is unhealthy when the gates pass but the Kubernetes checks fail', async () => {
    const result = await runActivity(
      activities.checkClusterHealth,
      healthInput('g-healthy', { gates: [gate], phase: 'bake', expectedKubeletMinor: { general: '1.30' } }),
    );
    expect(result.healthy).toBe(false);
    expect(result.gates.map((g) => [g.gate, g.phase, g.outcome])).toEqual([['workload-errors', 'bake', 'Successful']]);
    expect(result.kubernetes?.healthy).toBe(false);
    expect(result.failures).toEqual([
      expect.stringMatching(/^kubernetes checks: node group general: 3 node\(s\) not at kubelet 1\.30/),
    ]);
  });

  it('a retried attempt keeps the gates already decided and continues the others from their tally', async () => {
    const input = healthInput('g-healthy', {
      gates: [gate, steady(15)],
      requiredSuccessesByGate: { 'workload-errors': 2 },
      runKubernetesChecks: false,
    });
    const first = activityEnvironment();
    const beats = recordHeartbeats(first) as ClusterHealthProgress[];
    const attempt1 = runActivity(activities.checkClusterHealth, input, first);
    const interrupted = () => {
      const last = beats.at(-1);
      return last?.gates[0]?.result !== undefined && (last.gates[1]?.progress?.tally.successes ?? 0) >= 3;
    };
    while (!interrupted()) await new Promise((r) => setTimeout(r, 20));
    first.cancel();
    await expect(attempt1).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats.at(-1) as ClusterHealthProgress;
    const decided = last.gates[0]?.result;
    expect(decided).toMatchObject({ gate: 'workload-errors', outcome: 'Successful', successes: 2 });
    const carried = last.gates[1]?.progress?.tally.measurements ?? 0;

    const second = retryEnvironment(last);
    const beats2 = recordHeartbeats(second) as ClusterHealthProgress[];
    const result = await runActivity(activities.checkClusterHealth, input, second);
    expect(result.healthy).toBe(true);
    // The decided gate is not measured again: its result is the one from the first attempt.
    expect(result.gates[0]).toEqual(decided);
    expect(result.gates[1]).toMatchObject({ gate: 'steady', outcome: 'Successful', measurements: 15, successes: 15 });
    expect(beats2[0]?.gates[1]?.progress?.tally.measurements).toBe(carried + 1);
  });
});

describe("the worker's Prometheus query limit (FLEETWAVE_PROMETHEUS_MAX_CONCURRENT)", () => {
  it('a burst of looks queues in the worker, never more than the limit at Prometheus, each timed from its send', async () => {
    // The real Prometheus answers; the fetch around it counts what is in flight there and makes
    // every answer take 300 ms, so forty looks two at a time take six seconds: far past the
    // 1 s query timeout for the last ones, had the timeout started when they were queued.
    let inFlight = 0;
    let most = 0;
    let sent = 0;
    const slowFetch: typeof fetch = async (url, init) => {
      inFlight++;
      sent++;
      most = Math.max(most, inFlight);
      try {
        const res = await fetch(url, init);
        const body = await res.text();
        // The query's timeout (its signal) applies to the slow answer as to a slow server.
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, 300);
          init?.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(init.signal?.reason);
          });
        });
        return new Response(body, { status: res.status, headers: res.headers });
      } finally {
        inFlight--;
      }
    };
    const limited = createActivityParts(
      createDefaultDeps({
        endpoint: h.sim.url,
        credentials: TEST_CREDENTIALS,
        prometheusUrl: prom.url,
        fetch: slowFetch,
        prometheusMaxConcurrent: 2,
        gateQueryTimeoutMs: 1_000,
      }),
    );
    const soakGate = { ...gate, consecutiveSuccesses: 1, interval: '1s', phases: ['soak' as const] };
    const items = Array.from({ length: 40 }, () => ({
      cluster: { name: 'g-healthy', region: 'us-east-1' },
      gate: soakGate,
    }));
    const started = Date.now();
    const out = await runActivity(limited.watchHealthGates, {
      phase: 'soak',
      items,
      untilMs: 0,
      requiredSuccesses: 1,
      concurrency: 20,
    });
    const tookMs = Date.now() - started;
    expect(sent).toBe(40);
    expect(most).toBe(2);
    expect(out.failures).toEqual([]);
    expect(out.results.map((r) => r.outcome)).toEqual(Array.from({ length: 40 }, () => 'Successful'));
    expect(tookMs).toBeGreaterThanOrEqual(20 * 300);
  }, 30_000);
});
