/**
 * CloudWatch health gates with the real @aws-sdk/client-cloudwatch against the simulator's
 * GetMetricData: a gate that passes, one that fails, one without data (never a pass), a
 * metric-math gate, and CloudWatch out of reach (an Error). Then the simulator's wire protocol
 * itself: what it refuses, as the CloudWatch API reference says, and which account sees what.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityParts, createDefaultDeps } from '../../activities/index';
import type { ActivityParts, EvaluateHealthGateInput, FleetwaveActivities } from '../../activities/types';
import { healthGateSchema, type HealthGateSpec } from '../../domain/spec';
import { freePort } from '../helpers/prometheus';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, TEST_CREDENTIALS, type SimHarness } from './sim-harness';

let h: SimHarness;
let activities: FleetwaveActivities & ActivityParts;

beforeAll(async () => {
  h = await startSimHarness([
    clusterEntry('cw-healthy'),
    clusterEntry('cw-degraded', { faults: { degradeAtVersion: '1.29' } }),
    clusterEntry('cw-other-account', { account: '444455556666' }),
  ]);
  // CloudWatch's timestamps are the clusters' clock: the accelerated simulator's.
  activities = createActivityParts({ ...h.deps, clusterClock: () => new Date(h.sim.now()) });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const errorRatioGate = (extra: Record<string, unknown> = {}): HealthGateSpec =>
  healthGateSchema.parse({
    name: 'workload-errors',
    provider: {
      cloudwatch: {
        namespace: 'Fleetwave/Sim',
        metricName: 'WorkloadErrorRatio',
        dimensions: { ClusterName: '{{cluster}}' },
        stat: 'Average',
        period: '1m',
        ...extra,
      },
    },
    condition: '< 0.01',
    interval: '200ms',
    consecutiveSuccesses: 3,
    inconclusiveLimit: 2,
    consecutiveErrorLimit: 2,
    timeout: '20s',
  });

const input = (cluster: string, gate = errorRatioGate()): EvaluateHealthGateInput => ({
  cluster: h.ref(cluster),
  gate,
  phase: 'soak',
});

describe('cloudwatch gates against the simulator with the real SDK', () => {
  it('passes on a healthy cluster', async () => {
    const result = await runActivity(activities.evaluateHealthGate, input('cw-healthy'));
    expect(result).toMatchObject({ gate: 'workload-errors', outcome: 'Successful', successes: 3, failures: 0 });
    expect(Number(result.lastValue)).toBeLessThan(0.01);
  });

  it('fails on a degraded cluster', async () => {
    const result = await runActivity(activities.evaluateHealthGate, input('cw-degraded'));
    expect(result).toMatchObject({ outcome: 'Failed', failures: 1, successes: 0 });
    expect(Number(result.lastValue)).toBeGreaterThanOrEqual(0.05);
  });

  it('is Inconclusive, not a pass, without data: an unknown cluster, or a metric CloudWatch does not have', async () => {
    const unknown = await runActivity(activities.evaluateHealthGate, input('cw-not-there'));
    expect(unknown).toMatchObject({ outcome: 'Inconclusive', inconclusive: 3, successes: 0 });
    expect(unknown.message).toContain('no data');
    const otherMetric = await runActivity(
      activities.evaluateHealthGate,
      input('cw-healthy', errorRatioGate({ metricName: 'NoSuchMetric' })),
    );
    expect(otherMetric).toMatchObject({ outcome: 'Inconclusive', successes: 0 });
  });

  it('sees only the clusters of the account whose role it uses', async () => {
    // Base credentials see every account; the role of another account sees no metrics of this cluster.
    const mine = await runActivity(activities.evaluateHealthGate, input('cw-other-account'));
    expect(mine.outcome).toBe('Successful');
    const viaRole = await runActivity(activities.evaluateHealthGate, {
      ...input('cw-other-account'),
      cluster: { ...h.ref('cw-other-account'), roleArn: 'arn:aws:iam::111122223333:role/fleetwave' },
    });
    expect(viaRole).toMatchObject({ outcome: 'Inconclusive', successes: 0 });
  });

  it('evaluates a metric-math expression over named metrics', async () => {
    const gate = healthGateSchema.parse({
      name: 'failed-node-share',
      provider: {
        cloudwatch: {
          expression: '100 * failed / (nodes + 0)',
          metrics: {
            failed: {
              namespace: 'ContainerInsights',
              metricName: 'cluster_failed_node_count',
              dimensions: { ClusterName: '{{cluster}}' },
            },
            nodes: {
              namespace: 'ContainerInsights',
              metricName: 'cluster_node_count',
              dimensions: { ClusterName: '{{cluster}}' },
              stat: 'Maximum',
            },
          },
        },
      },
      condition: '< 10',
      interval: '200ms',
      timeout: '20s',
    });
    const result = await runActivity(activities.evaluateHealthGate, input('cw-healthy', gate));
    expect(result).toMatchObject({ outcome: 'Successful', lastValue: '0' });
  });

  it('runs in the shared loops too: a soak watch look and a gate batch, healthy and degraded together', async () => {
    const items = [
      { cluster: h.ref('cw-healthy'), gate: errorRatioGate() },
      { cluster: h.ref('cw-degraded'), gate: errorRatioGate() },
    ];
    const look = await runActivity(activities.watchHealthGates, {
      phase: 'soak',
      items,
      untilMs: 0,
      requiredSuccesses: 1,
    });
    expect(look.failures.map((f) => [f.index, f.result.outcome])).toEqual([[1, 'Failed']]);
    const batch = await runActivity(activities.evaluateHealthGates, { phase: 'soak', items });
    expect(batch.results.map((r) => r.outcome)).toEqual(['Successful', 'Failed']);
  });

  it('is an Error, not a pass, when CloudWatch cannot be reached', async () => {
    const down = createActivityParts({
      ...createDefaultDeps({
        endpoint: `http://127.0.0.1:${await freePort()}`,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
      }),
      clusterClock: () => new Date(h.sim.now()),
    });
    const result = await runActivity(down.evaluateHealthGate, input('cw-healthy'));
    expect(result).toMatchObject({ outcome: 'Error', errors: 3, successes: 0 });
    expect(result.message).toContain('CloudWatch GetMetricData');
  });
});

describe('the simulator speaks GetMetricData as CloudWatch does', () => {
  const client = () =>
    new CloudWatchClient({ endpoint: h.sim.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  const metric = {
    Namespace: 'Fleetwave/Sim',
    MetricName: 'WorkloadErrorRatio',
    Dimensions: [{ Name: 'ClusterName', Value: 'cw-healthy' }],
  };
  const window = () => ({
    StartTime: new Date(h.sim.now().getTime() - 600_000),
    EndTime: new Date(h.sim.now().getTime() + 1),
  });

  it('answers one data point in the period that holds the simulator now', async () => {
    const answer = await client().send(
      new GetMetricDataCommand({
        ...window(),
        MetricDataQueries: [{ Id: 'm', MetricStat: { Metric: metric, Period: 60, Stat: 'p99' } }],
      }),
    );
    const r = answer.MetricDataResults?.[0];
    expect(r).toMatchObject({ Id: 'm', StatusCode: 'Complete' });
    expect(r?.Values).toHaveLength(1);
    expect((r?.Timestamps?.[0]?.getTime() ?? 0) % 60_000).toBe(0);
  });

  it('refuses what the API reference forbids, with its modeled errors', async () => {
    const send = (queries: unknown[], times = window()) =>
      client().send(new GetMetricDataCommand({ ...times, MetricDataQueries: queries as never }));
    await expect(
      send([{ Id: 'Upper', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' } }]),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    await expect(
      send([{ Id: 'm', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' }, Expression: 'm' }]),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombinationException' });
    await expect(
      send([{ Id: 'm', MetricStat: { Metric: metric, Period: 45, Stat: 'Average' } }]),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    const w = window();
    await expect(
      send([{ Id: 'm', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' } }], {
        StartTime: w.EndTime,
        EndTime: w.StartTime,
      }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    const tooMany = Array.from({ length: 501 }, (_, i) => ({
      Id: `m${i}`,
      MetricStat: { Metric: metric, Period: 60, Stat: 'Average' },
    }));
    await expect(send(tooMany)).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });
});
