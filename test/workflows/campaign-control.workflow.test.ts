/**
 * Operator control of a running campaign: pause and resume (children hold after their step),
 * abort (children stop, nothing new starts), skip and retry (same pinned versions).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PreflightInput } from '../../activities/types';
import {
  abortSignal,
  approveWaveUpdate,
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  pauseSignal,
  resumeSignal,
  retryClusterUpdate,
  skipClusterUpdate,
  statusQuery,
} from '../../workflows/definitions';
import { createFakeActivities, fakeCluster, heartbeatUntil, type RecordedCall } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  makeCampaign,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
  recordHistory,
} from './campaign-harness';

/** A gate the test opens: activities matching `hold` wait (heartbeating) until `release()`. */
function holdGate(hold: (call: RecordedCall) => boolean) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    beforeCall: (call: RecordedCall) => (hold(call) ? heartbeatUntil(released, 200) : undefined),
  };
}

const refusalOf = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (err: unknown) => (err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err)),
  );

describe('campaign workflow: operator control', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('pauses (no new starts, in-flight children hold after their step) and resumes', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c', 'd'].map((n) => `pz-${tag}-${n}`);
    const gate = holdGate((call) => call.name === 'awaitUpdate' && call.label.startsWith('awaitUpdate:control-plane'));
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)), beforeCall: gate.beforeCall });
    const campaign = makeCampaign(`pz-${tag}`, { waves: [{ name: 'all', maxParallel: 2, approval: 'auto' }] });
    const taskQueue = temporal.taskQueue('campaign');
    const result = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      await waitForStatus(handle, (s) => s.clusters.filter((c) => c.state === 'upgrading').length === 2, 20_000);
      await handle.signal(pauseSignal, { by: 'oncall', reason: 'incident elsewhere' });
      const paused = await waitForStatus(handle, (s) => s.state === 'paused');
      expect(paused.pausedReason).toBe('paused by oncall: incident elsewhere');
      expect(paused.audit.at(-1)).toMatchObject({ kind: 'paused', by: 'oncall' });

      // The two in-flight children learn of the pause and hold at their next safe point.
      const inFlight = paused.clusters.filter((c) => c.state === 'upgrading').map((c) => c.name);
      for (const name of inFlight) {
        const child = temporal.client.workflow.getHandle(clusterUpgradeWorkflowId(name));
        await expect.poll(async () => (await child.query(clusterStatusQuery)).paused, { timeout: 10_000 }).toBe(true);
      }
      gate.release();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const still = await handle.query(statusQuery);
      expect(still.state).toBe('paused');
      expect(still.clusters.filter((c) => c.state === 'pending').length).toBe(2);
      const notStarted = names.filter((n) => !inFlight.includes(n));
      for (const n of notStarted) expect(fake.trace(n)).toEqual([]);

      await handle.signal(resumeSignal, { by: 'oncall' });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'pause-resume');
      return result;
    });
    expect(result.state).toBe('completed');
    expect(result.upgraded.sort()).toEqual([...names].sort());
  });

  it('aborts at once while the target versions cannot be resolved (planning), starting nothing', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b'].map((n) => `abp-${tag}-${n}`);
    const fake = createFakeActivities({
      clusters: names.map((n) => fakeCluster(n)),
      // EKS unreachable: every attempt fails, and the campaign retries for minutes.
      beforeCall: (call) =>
        call.name === 'resolveTargetVersions' ? Promise.reject(new Error('connect ECONNREFUSED')) : undefined,
    });
    const campaign = makeCampaign(`abp-${tag}`, { waves: [{ name: 'all', maxParallel: 2, approval: 'auto' }] });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status, abortedAfterMs } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const deadline = Date.now() + 20_000;
      while (!fake.calls.some((c) => c.name === 'resolveTargetVersions') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const abortAt = Date.now();
      await handle.signal(abortSignal, { by: 'oncall', reason: 'wrong target' });
      const result = await resultWithin(handle);
      return { result, status: await handle.query(statusQuery), abortedAfterMs: Date.now() - abortAt };
    });
    expect(result.state).toBe('aborted');
    expect(result.reason).toBe('wrong target');
    // Well before the activity's retries (5 s, 10 s, ...) would have run out.
    expect(abortedAfterMs).toBeLessThan(4_000);
    expect(fake.calls.filter((c) => c.name !== 'resolveTargetVersions')).toEqual([]);
    expect(status.clusters.every((c) => c.state === 'pending')).toBe(true);
  });

  it('aborts: children stop at a safe point, nothing new starts, result aborted', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c'].map((n) => `ab-${tag}-${n}`);
    const gate = holdGate((call) => call.name === 'awaitUpdate' && call.label.startsWith('awaitUpdate:control-plane'));
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)), beforeCall: gate.beforeCall });
    const campaign = makeCampaign(`ab-${tag}`, { waves: [{ name: 'all', maxParallel: 2, approval: 'auto' }] });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      await waitForStatus(handle, (s) => s.clusters.filter((c) => c.state === 'upgrading').length === 2, 20_000);
      await handle.signal(abortSignal, { by: 'oncall', reason: 'bad release' });
      gate.release();
      const result = await resultWithin(handle);
      await recordHistory(handle, 'abort');
      return { result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('aborted');
    expect(result.reason).toBe('bad release');
    const pending = status.clusters.filter((c) => c.state === 'pending');
    expect(pending).toHaveLength(1);
    expect(fake.trace(pending[0]?.name ?? '')).toEqual([]);
    expect(status.clusters.filter((c) => c.state === 'upgrading')).toEqual([]);
    expect(status.waves[0]?.state).toBe('aborted');
    expect(status.audit.map((a) => a.kind)).toContain('aborted');
  });

  it('skips a pending cluster and retries a rolled-back one in the next window with the same pinned versions', async () => {
    const tag = uniqueTag();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => `sr-${tag}-${n}`) as [string, string, string, string];
    const fake = createFakeActivities({
      clusters: [
        // The first attempt's node group update fails: the child rolls back what it changed.
        fakeCluster(a, { behaviour: { failUpdate: { 'nodegroup:ng-a': { times: 1 } } } }),
        fakeCluster(b),
        fakeCluster(c),
        fakeCluster(d),
      ],
    });
    const campaign = makeCampaign(`sr-${tag}`, {
      waves: [
        { name: 'first', count: 2, maxParallel: 2, failureBudget: 1, soak: '0s', approval: 'required' },
        { name: 'second', maxParallel: 1, soak: '0s' },
      ],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b, c, d].map((n) => fake.member(n)),
      );
      const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 30_000);
      expect(waiting.clusters.find((x) => x.name === a)?.state).toBe('rolled-back');

      expect(await refusalOf(handle.executeUpdate(retryClusterUpdate, { args: [{ cluster: b, by: 'ops' }] }))).toBe(
        `cluster "${b}" is upgraded; only failed, rolled-back, blocked or skipped clusters can be retried`,
      );
      expect(await refusalOf(handle.executeUpdate(skipClusterUpdate, { args: [{ cluster: b, by: 'ops' }] }))).toMatch(
        /is upgraded; only pending, waiting, failed, rolled-back or blocked clusters can be skipped/,
      );
      expect(
        await refusalOf(handle.executeUpdate(skipClusterUpdate, { args: [{ cluster: 'nope', by: 'ops' }] })),
      ).toMatch(/is not part of campaign/);

      const skipped = await handle.executeUpdate(skipClusterUpdate, {
        args: [{ cluster: d, by: 'ops', reason: 'decommissioned next week' }],
      });
      expect(skipped).toMatchObject({ name: d, state: 'skipped', wave: 'second' });
      const retried = await handle.executeUpdate(retryClusterUpdate, {
        args: [{ cluster: a, by: 'ops', reason: 'flaky node group' }],
      });
      expect(retried).toMatchObject({ name: a, state: 'pending', wave: 'first', runsInWave: 'second', attempts: 1 });

      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'ops' }] });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'skip-retry');
      return { result, status: await handle.query(statusQuery) };
    });

    expect(result.state).toBe('completed');
    expect(result.skipped).toEqual([d]);
    expect(result.upgraded.sort()).toEqual([a, b, c].sort());
    expect(fake.trace(d)).toEqual([]);
    expect(status.clusters.find((x) => x.name === a)).toMatchObject({ state: 'upgraded', attempts: 2 });
    expect(fake.cluster(a).version).toBe('1.31');

    // Versions were resolved once, and both attempts got exactly the same pins.
    expect(fake.calls.filter((x) => x.name === 'resolveTargetVersions')).toHaveLength(1);
    const preflights = fake.calls.filter((x) => x.name === 'preflightCluster' && x.cluster === a);
    expect(preflights).toHaveLength(2);
    const [first, second] = preflights.map((x) => (x.input as PreflightInput).pinned);
    expect(second).toEqual(first);
    expect(status.pinned).toEqual(first);
    expect(status.audit.filter((x) => x.kind === 'retried' || x.kind === 'skipped').map((x) => x.kind)).toEqual([
      'skipped',
      'retried',
    ]);
  });
});
