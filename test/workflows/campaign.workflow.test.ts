/**
 * Campaign workflow on a real Temporal dev server with fake activities: the happy path over
 * three waves, approvals by Update and by Signal, and refused approvals.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { approveSignal, approveWaveUpdate, statusQuery, type CampaignStatus } from '../../workflows/definitions';
import {
  AwaitingApprovalKey,
  CampaignStateKey,
  ClustersDoneKey,
  ClustersTotalKey,
  CurrentWaveKey,
} from '../../workflows/search-attributes';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
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

const awaiting = (wave: string) => (s: CampaignStatus) => s.state === 'awaiting-approval' && s.currentWave === wave;

describe('campaign workflow: waves and approvals', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('runs three waves: auto canary, approved early wave, last wave without approval', async () => {
    const tag = uniqueTag();
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((n) => `hp-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const campaign = makeCampaign(`hp-${tag}`, {
      waves: [
        { name: 'canary', count: 1, soak: '1s', approval: 'auto' },
        { name: 'early', count: 2, maxParallel: 2, soak: '1s', approval: 'required' },
        { name: 'rest', maxParallel: 3, soak: '1s' },
      ],
      approvers: { users: ['alice', 'bob'], minApprovals: 1 },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const started = Date.now();
    const { result, status, sa } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const waiting = await waitForStatus(handle, awaiting('early'), 30_000, 'early awaiting approval');
      expect(waiting.waves.map((w) => w.state)).toEqual(['promoted', 'awaiting-approval', 'pending']);
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(AwaitingApprovalKey)).toBe(true);
      expect(described.typedSearchAttributes.get(CurrentWaveKey)).toBe('early');
      // This in-process test worker keeps the SDK's stack-trace tracking (a `fleetwave worker` turns
      // it off by default: test/e2e/signed-approvals.test.ts): the Web UI's query answers.
      expect(await handle.query<string>('__stack_trace')).toMatch(/campaign/i);
      const approved = await handle.executeUpdate(approveWaveUpdate, {
        args: [{ wave: 'early', approver: 'alice', comment: 'canary and early look fine' }],
      });
      expect(approved).toEqual({ wave: 'early', approvals: 1, needed: 1, promoted: true });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'happy-path');
      const status = await handle.query(statusQuery);
      return { result, status, sa: (await handle.describe()).typedSearchAttributes };
    });
    console.log(`happy path: 6 clusters, 3 waves in ${Date.now() - started} ms`);

    expect(result.state).toBe('completed');
    expect(result.upgraded.sort()).toEqual([...names].sort());
    for (const n of names) expect(fake.cluster(n).version).toBe('1.31');
    expect(fake.calls.filter((c) => c.name === 'resolveTargetVersions')).toHaveLength(1);
    expect(status.waves.map((w) => w.state)).toEqual(['promoted', 'promoted', 'completed']);
    expect(status.waves.map((w) => w.total)).toEqual([1, 2, 3]);
    expect(status.waves[1]?.approvals).toMatchObject([
      { wave: 'early', approver: 'alice', comment: 'canary and early look fine', via: 'update' },
    ]);
    expect(status.audit.map((a) => a.kind)).toContain('promoted');
    expect(status.pinned?.kubernetesVersion).toBe('1.31');
    expect(sa.get(CampaignStateKey)).toBe('completed');
    expect(sa.get(ClustersDoneKey)).toBe(6);
    expect(sa.get(ClustersTotalKey)).toBe(6);
    expect(sa.get(AwaitingApprovalKey)).toBe(false);
  });

  it('accepts approvals by Signal, needs N distinct approvers, and refuses wrong ones with reasons', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c'].map((n) => `ap-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const campaign = makeCampaign(`ap-${tag}`, {
      waves: [
        { name: 'first', count: 1, soak: '1s', approval: 'required' },
        { name: 'second', maxParallel: 2, soak: '0s' },
      ],
      approvers: { users: ['alice', 'bob', 'carol'], minApprovals: 2 },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const refusal = (p: Promise<unknown>) =>
        p.then(
          () => 'accepted',
          (err: unknown) =>
            err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err),
        );

      // Not awaiting yet: the first wave is still running or soaking. The campaign refuses.
      const early = await refusal(
        handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'alice' }] }),
      );
      expect(early).toMatch(/is not awaiting approval/);

      await waitForStatus(handle, awaiting('first'), 30_000, 'first awaiting approval');
      expect(
        await refusal(handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'second', approver: 'alice' }] })),
      ).toBe('wave "second" is not awaiting approval; wave "first" is');
      expect(
        await refusal(handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'mallory' }] })),
      ).toMatch(/"mallory" is not an approver/);

      await handle.signal(approveSignal, { wave: 'first', approver: 'bob', comment: 'via the UI' });
      await handle.signal(approveSignal, { wave: 'first', approver: 'bob' }); // duplicate: refused, audited
      await handle.signal(approveSignal, { wave: 'first', approver: 'eve' }); // not an approver: refused, audited
      const one = await waitForStatus(
        handle,
        // Three Updates were refused above; these are the two Signals' refusals and bob's approval.
        (s) => s.audit.filter((a) => a.kind === 'approval-refused').length >= 5 && s.waves[0]?.approvals.length === 1,
        10_000,
        'signal refusals audited',
      );
      expect(one.state).toBe('awaiting-approval');
      expect(one.waves[0]?.approvals.map((a) => [a.approver, a.via])).toEqual([['bob', 'signal']]);

      const second = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'carol' }] });
      expect(second).toEqual({ wave: 'first', approvals: 2, needed: 2, promoted: true });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'approvals');
      return { result, status: await handle.query(statusQuery) };
    });

    expect(result.state).toBe('completed');
    // Refused Updates are audited like refused Signals (the Update's caller also got the reason).
    const refused = status.audit.filter((a) => a.kind === 'approval-refused');
    // The Updates were awaited one by one, so their order is fixed; the last two Signals' checks run
    // side by side (each handler awaits its policy check), so either may be audited first.
    expect(refused.slice(0, 3).map((a) => [a.by, a.detail])).toEqual([
      ['alice', expect.stringMatching(/is not awaiting approval/)],
      ['alice', 'wave "second" is not awaiting approval; wave "first" is'],
      ['mallory', expect.stringMatching(/"mallory" is not an approver/)],
    ]);
    const bySignal = refused.slice(3).map((a) => [a.by, a.detail]);
    expect(bySignal).toHaveLength(2);
    expect(bySignal).toEqual(
      expect.arrayContaining([
        ['bob', '"bob" already approved wave "first"'],
        ['eve', expect.stringMatching(/"eve" is not an approver/)],
      ]),
    );
    // A worker without a fleet policy lets name-only approvals through, and says so.
    expect(status.approvalPolicy).toEqual({ mode: 'no-policy', signedActions: [] });
    expect(status.waves[0]?.approvals.map((a) => a.signed)).toEqual([false, false]);
    expect(status.waves[0]?.approvals.map((a) => `${a.approver}/${a.via}`)).toEqual(['bob/signal', 'carol/update']);
  });
});
