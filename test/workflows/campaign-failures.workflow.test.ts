/**
 * What the campaign does when clusters fail: failure budgets (kept: quarantine and go on;
 * exceeded: pause or abort), automatic rollbacks counted against the budget, soak gates that
 * are not green, and a cluster that another campaign is upgrading.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { approveWaveUpdate, resumeSignal, statusQuery } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster, heartbeatUntil } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  SOAK_GATE,
  makeCampaign,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
  recordHistory,
} from './campaign-harness';

describe('campaign workflow: failures', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('keeps going within the failure budget and quarantines the failed cluster', async () => {
    const tag = uniqueTag();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => `fb-${tag}-${n}`) as [string, string, string];
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a),
        fakeCluster(b, { behaviour: { failUpdate: { 'control-plane': {} } } }),
        fakeCluster(c),
      ],
    });
    const campaign = makeCampaign(`fb-${tag}`, {
      waves: [{ name: 'all', maxParallel: 1, failureBudget: 1, approval: 'auto' }],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b, c].map((n) => fake.member(n)),
      );
      const result = await resultWithin(handle);
      await recordHistory(handle, 'budget-kept');
      return { result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('completed-with-failures');
    expect(result.failed).toEqual([b]);
    expect(result.upgraded.sort()).toEqual([a, c].sort());
    expect(status.waves[0]).toMatchObject({ failureBudget: 1, state: 'completed' });
    expect(status.waves[0]?.counts).toMatchObject({ upgraded: 2, failed: 1 });
    expect(status.audit.map((x) => x.kind)).not.toContain('budget-exceeded');
    expect(fake.cluster(b).version).toBe('1.30');
  });

  it('pauses when rolled-back clusters exceed the budget; resume acknowledges them and goes on', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c', 'd'].map((n) => `bx-${tag}-${n}`) as [string, string, string, string];
    const [a, b, c, d] = names;
    const failNodegroup = { behaviour: { failUpdate: { 'nodegroup:ng-a': {} } } } as const;
    const fake = createFakeActivities({
      clusters: [fakeCluster(a, failNodegroup), fakeCluster(b, failNodegroup), fakeCluster(c), fakeCluster(d)],
    });
    const campaign = makeCampaign(`bx-${tag}`, {
      waves: [{ name: 'all', maxParallel: 1, failureBudget: 1, onBudgetExceeded: 'pause', approval: 'auto' }],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const paused = await waitForStatus(handle, (s) => s.state === 'paused', 30_000, 'budget pause');
      expect(paused.pausedReason).toMatch(/wave "all" failure budget exceeded: 2 failed or rolled back, budget 1/);
      expect(paused.waves[0]?.state).toBe('paused-budget-exceeded');
      expect(paused.clusters.map((x) => x.state)).toEqual(['rolled-back', 'rolled-back', 'pending', 'pending']);
      // Automatic rollback restored what it could: the add-ons are back at their 1.30 versions.
      expect(fake.cluster(a).addons.map((x) => x.version)).toEqual(fakeCluster(a).addons?.map((x) => x.version));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(fake.trace(c)).toEqual([]);
      await handle.signal(resumeSignal, { by: 'oncall', reason: 'known node group issue' });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'budget-pause');
      return { result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('completed-with-failures');
    expect(result.rolledBack).toEqual([a, b]);
    expect(result.upgraded).toEqual([c, d]);
    expect(status.waves[0]).toMatchObject({ acknowledgedFailures: 2, state: 'completed' });
    expect(status.audit.filter((x) => x.kind === 'budget-exceeded' || x.kind === 'resumed').map((x) => x.kind)).toEqual(
      ['budget-exceeded', 'resumed'],
    );
  });

  it('aborts when the budget is exceeded and onBudgetExceeded is abort', async () => {
    const tag = uniqueTag();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => `ba-${tag}-${n}`) as [string, string, string];
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a, { behaviour: { failUpdate: { 'control-plane': {} } } }),
        fakeCluster(b),
        fakeCluster(c),
      ],
    });
    const campaign = makeCampaign(`ba-${tag}`, {
      waves: [{ name: 'all', maxParallel: 1, failureBudget: 0, onBudgetExceeded: 'abort', approval: 'auto' }],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const result = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b, c].map((n) => fake.member(n)),
      );
      const result = await resultWithin(handle);
      await recordHistory(handle, 'budget-abort');
      return result;
    });
    expect(result.state).toBe('aborted');
    expect(result.reason).toMatch(/failure budget exceeded: 1 failed or rolled back, budget 0/);
    expect(result.failed).toEqual([a]);
    expect(fake.trace(b)).toEqual([]);
    expect(fake.trace(c)).toEqual([]);
  });

  it('does not promote on an inconclusive soak gate: pauses for a human, then asks for approval', async () => {
    const tag = uniqueTag();
    const [a, b] = ['a', 'b'].map((n) => `sk-${tag}-${n}`) as [string, string];
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a, { behaviour: { failGates: [{ phase: 'soak', outcome: 'Inconclusive', message: 'no data' }] } }),
        fakeCluster(b),
      ],
    });
    const campaign = makeCampaign(`sk-${tag}`, {
      waves: [
        { name: 'canary', count: 1, soak: '1s', approval: 'required' },
        { name: 'rest', soak: '0s' },
      ],
      healthGates: [SOAK_GATE],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b].map((n) => fake.member(n)),
      );
      const paused = await waitForStatus(handle, (s) => s.state === 'paused', 30_000, 'soak pause');
      expect(paused.pausedReason).toMatch(/wave "canary" soak failed: gate error-rate on .* Inconclusive: .*no data/);
      expect(paused.waves[0]?.gates).toMatchObject([
        { cluster: a, gate: 'error-rate', phase: 'soak', outcome: 'Inconclusive' },
      ]);
      const refused = await handle
        .executeUpdate(approveWaveUpdate, { args: [{ wave: 'canary', approver: 'alice' }] })
        .then(
          () => 'accepted',
          (err: unknown) => (err instanceof WorkflowUpdateFailedError ? err.cause?.message : String(err)),
        );
      expect(refused).toMatch(/is not awaiting approval \(state: paused/);
      expect(fake.trace(b)).toEqual([]);
      // The pipeline is back: the approval's re-check finds the gate green again.
      fake.cluster(a).behaviour.failGates = [];
      await handle.signal(resumeSignal, { by: 'alice', reason: 'metrics pipeline was down' });
      await waitForStatus(handle, (s) => s.state === 'awaiting-approval');
      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'canary', approver: 'alice' }] });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'soak-inconclusive');
      return { result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('completed');
    expect(status.audit.map((x) => x.kind)).toEqual(
      expect.arrayContaining(['soak-failed', 'paused', 'resumed', 'approval']),
    );
    // Each wave's upgraded clusters are gated in its soak (the last wave's too, though its soak is 0s).
    // The soak watches: each pair is measured until the soak ends (at least once, even for a soak of 0s).
    const watched = fake.calls.filter((x) => x.label === 'watchHealthGates:error-rate/soak').map((x) => x.cluster);
    expect([...new Set(watched)]).toEqual([a, b]);
  });

  it('marks a cluster blocked, not upgraded twice, when another campaign is upgrading it', async () => {
    const tag = uniqueTag();
    const [x, y] = ['x', 'y'].map((n) => `bl-${tag}-${n}`) as [string, string];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const fake = createFakeActivities({
      clusters: [fakeCluster(x), fakeCluster(y)],
      beforeCall: (call) =>
        call.cluster === x && call.label.startsWith('awaitUpdate:control-plane')
          ? heartbeatUntil(released, 200)
          : undefined,
    });
    const taskQueue = temporal.taskQueue('campaign');
    const campaignA = makeCampaign(`bl-a-${tag}`, {});
    const campaignB = makeCampaign(`bl-b-${tag}`, {});
    const { resultA, resultB, statusB } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handleA = await startCampaign(temporal, taskQueue, campaignA, [fake.member(x)]);
      await waitForStatus(handleA, (s) => s.clusters[0]?.state === 'upgrading' && fake.trace(x).length > 0);
      const handleB = await startCampaign(
        temporal,
        taskQueue,
        campaignB,
        [x, y].map((n) => fake.member(n)),
      );
      const resultB = await resultWithin(handleB);
      await recordHistory(handleB, 'blocked');
      const statusB = await handleB.query(statusQuery);
      release();
      return { resultA: await resultWithin(handleA), resultB, statusB };
    });
    expect(resultB.state).toBe('completed-with-failures');
    expect(resultB.blocked).toEqual([x]);
    expect(resultB.upgraded).toEqual([y]);
    expect(statusB.clusters.find((c) => c.name === x)).toMatchObject({
      state: 'blocked',
      attempts: 0,
      reason: `being upgraded by another campaign (cluster-upgrade/${x} is running)`,
    });
    expect(statusB.waves[0]?.counts.blocked).toBe(1);
    expect(resultA.state).toBe('completed');
    // One upgrade of x only: one preflight, one control-plane update.
    expect(fake.trace(x, /^preflightCluster|^startControlPlaneUpgrade/)).toEqual([
      'preflightCluster',
      'startControlPlaneUpgrade:1.31',
    ]);
  });
});
