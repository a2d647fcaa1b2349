/**
 * Gates that keep watching (issue 19): a cluster that degrades halfway through its wave's soak is
 * rolled back and counted against the failure budget; a promoted wave that degrades inside
 * spec.watchAfterPromotion pauses the campaign with the rollback proposed; an approval that would
 * promote a wave whose gates turned red is refused with the gate named, by Update and by Signal.
 * The gates run through the real watch loop (activities/watch.ts) over fake measurements, parked
 * between looks as on a worker.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { GateContext } from '../../activities/types';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  abortSignal,
  approveSignal,
  approveWaveUpdate,
  statusQuery,
  type CampaignStatus,
} from '../../workflows/definitions';
import type { temporal as proto } from '@temporalio/proto';
import { createFakeActivities, fakeCluster, type FakeActivities, type RecordedCall } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  SOAK_GATE,
  STANDIN_CHILD_WORKFLOWS,
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
  type CampaignHandle,
} from './campaign-harness';

describe('campaign workflow: gates that keep watching', () => {
  let temporal: TestTemporal;

  /**
   * A canary of one cluster (`a`, of two) whose soak passed, awaiting one approval (alice or bob
   * alone promotes), its soak gate red from then on; `body` runs with the worker up.
   */
  async function withRedCanary<T>(
    prefix: string,
    body: (handle: CampaignHandle, fake: FakeActivities, a: string) => Promise<T>,
    beforeCall?: (call: RecordedCall) => Promise<void>,
  ): Promise<{ a: string; out: T }> {
    const tag = uniqueTag();
    const [a, b] = ['a', 'b'].map((n) => `${prefix}-${tag}-${n}`) as [string, string];
    const fake = createFakeActivities({
      clusters: [fakeCluster(a), fakeCluster(b)],
      ...(beforeCall ? { beforeCall } : {}),
    });
    const campaign = makeCampaign(`${prefix}-${tag}`, {
      waves: [
        { name: 'canary', count: 1, soak: '1s', approval: 'required' },
        { name: 'rest', soak: '0s' },
      ],
      healthGates: [SOAK_GATE],
      approvers: { users: ['alice', 'bob'], minApprovals: 1 },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const out = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b].map((n) => fake.member(n)),
      );
      await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 60_000, 'approval');
      // Green during the soak, red now.
      fake.cluster(a).behaviour.failGates = [{ phase: 'soak', message: 'error rate 0.3' }];
      return body(handle, fake, a);
    });
    return { a, out };
  }

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('rolls back a cluster that degrades halfway through its soak and counts it against the budget', async () => {
    const tag = uniqueTag();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => `sw-${tag}-${n}`) as [string, string, string];
    const fake = createFakeActivities({
      clusters: [
        // Three passing looks first: the old soak (one pass per pair) would have promoted it.
        fakeCluster(a, {
          behaviour: { failGates: [{ phase: 'soak', afterMeasurements: 3, message: 'error rate 0.2' }] },
        }),
        fakeCluster(b),
        fakeCluster(c),
      ],
    });
    const campaign = makeCampaign(`sw-${tag}`, {
      waves: [
        { name: 'canary', count: 2, maxParallel: 2, soak: '4s', approval: 'auto', failureBudget: 0 },
        { name: 'rest', soak: '0s' },
      ],
      healthGates: [SOAK_GATE],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { status, history } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b, c].map((n) => fake.member(n)),
      );
      const status = await waitForStatus(handle, (s) => s.state === 'paused', 60_000, 'budget pause');
      await recordHistory(handle, 'soak-watch-rollback');
      const history = await handle.fetchHistory();
      await handle.signal(abortSignal, { by: 'test', reason: 'done' });
      await resultWithin(handle);
      return { status, history };
    });
    const clusterA = status.clusters.find((x) => x.name === a);
    expect(clusterA?.state).toBe('rolled-back');
    expect(clusterA?.reason).toMatch(/soak gate error-rate failed after the upgrade: .*Failed/);
    expect(status.clusters.find((x) => x.name === b)?.state).toBe('upgraded');
    expect(status.pausedReason).toMatch(/wave "canary" failure budget exceeded: 1 failed or rolled back, budget 0/);
    // Measured on, after passing looks, until it degraded; then its add-ons and node groups went back.
    const looks = fake.calls.filter((x) => x.label === 'watchHealthGates:error-rate/soak' && x.cluster === a);
    expect(looks.length).toBeGreaterThanOrEqual(4);
    expect(fake.eksTrace(a).some((l) => l.startsWith('rollback'))).toBe(true);
    expect(fake.trace(c)).toEqual([]);
    const events = history.events ?? [];
    const watches = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'watchHealthGates',
    ).length;
    console.log(
      `soak watch: ${events.length} campaign events for 2 clusters; ${watches} watchHealthGates activities; ${looks.length} looks at ${a}`,
    );
  });

  /**
   * Two waves of one cluster each: the canary (a) is promoted and watched (watchAfterPromotion
   * 10m) while the rest (b) holds in preflight until `releaseRest`. `act` runs once the canary is
   * promoted.
   */
  async function watchPromotedCanary<T>(
    prefix: string,
    act: (ctx: {
      handle: CampaignHandle;
      fake: FakeActivities;
      a: string;
      promoted: CampaignStatus;
      releaseRest: () => void;
    }) => Promise<T>,
  ): Promise<{ tag: string; a: string; fake: FakeActivities; acted: T }> {
    const tag = uniqueTag();
    const [a, b] = ['a', 'b'].map((n) => `${prefix}-${tag}-${n}`) as [string, string];
    let releaseRest!: () => void;
    const restMayGo = new Promise<void>((resolve) => (releaseRest = resolve));
    const fake = createFakeActivities({
      clusters: [fakeCluster(a), fakeCluster(b)],
      // The next wave's upgrade holds, so the promoted wave is watched while it runs.
      beforeCall: (call) => (call.cluster === b && call.name === 'preflightCluster' ? restMayGo : undefined),
    });
    const campaign = makeCampaign(`${prefix}-${tag}`, {
      waves: [
        { name: 'canary', count: 1, soak: '1s', approval: 'auto' },
        { name: 'rest', soak: '0s' },
      ],
      healthGates: [SOAK_GATE],
      watchAfterPromotion: '10m',
    });
    const taskQueue = temporal.taskQueue('campaign');
    const acted = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b].map((n) => fake.member(n)),
      );
      const promoted = await waitForStatus(handle, (s) => s.waves[0]?.state === 'promoted', 60_000, 'promotion');
      return act({ handle, fake, a, promoted, releaseRest });
    });
    return { tag, a, fake, acted };
  }

  it('pauses and proposes a rollback when a promoted wave degrades inside watchAfterPromotion', async () => {
    const {
      tag,
      a,
      fake,
      acted: status,
    } = await watchPromotedCanary('wp', async ({ handle, fake, a, promoted, releaseRest }) => {
      expect(promoted.waves[0]?.watchedUntil).toBeDefined();
      fake.cluster(a).behaviour.failGates = [{ phase: 'soak', message: 'p99 latency 3 s' }];
      const paused = await waitForStatus(handle, (s) => s.state === 'paused', 60_000, 'watch pause');
      releaseRest();
      await recordHistory(handle, 'watch-after-promotion');
      await handle.signal(abortSignal, { by: 'test', reason: 'done' });
      await resultWithin(handle);
      return paused;
    });
    expect(status.pausedReason).toMatch(
      new RegExp(
        `promoted wave "canary" degraded: gate error-rate on ${a} Failed after promotion: .*fleetwave rollback wp-${tag} --wave canary`,
      ),
    );
    expect(status.waves[0]?.watchFailure).toMatch(/p99 latency 3 s/);
    expect(status.waves[0]?.watchedUntil).toBeUndefined();
    // Nothing was undone automatically.
    expect(fake.eksTrace(a).some((l) => l.startsWith('rollback'))).toBe(false);
  });

  it("goes on when a promoted wave's gates cannot be read (no data is not a degradation), and says so", async () => {
    const {
      a,
      acted: { unread, result },
    } = await watchPromotedCanary('wu', async ({ handle, fake, a, releaseRest }) => {
      // Prometheus goes away: the watch of the promoted canary sees query errors only.
      fake.cluster(a).behaviour.failGates = [{ phase: 'soak', outcome: 'Error', message: 'HTTP 503' }];
      const unread = await waitForStatus(handle, (s) => s.waves[0]?.watchWarning !== undefined, 60_000, 'unread');
      fake.cluster(a).behaviour.failGates = [];
      releaseRest();
      return { unread, result: await resultWithin(handle) };
    });
    expect(unread.state).not.toBe('paused');
    expect(unread.waves[0]?.watchWarning).toMatch(
      new RegExp(`gate error-rate on ${a} Error after promotion: .*HTTP 503`),
    );
    expect(unread.waves[0]?.watchFailure).toBeUndefined();
    expect(unread.audit.filter((e) => e.kind === 'watch-unread')).toHaveLength(1);
    expect(result.state).toBe('completed');
  });

  it('refuses an approval of a wave whose gates turned red, naming the gate, by Update and by Signal', async () => {
    const { a, out } = await withRedCanary('ar', async (handle, fake, redCluster) => {
      const refusedUpdate = await handle
        .executeUpdate(approveWaveUpdate, { args: [{ wave: 'canary', approver: 'alice' }] })
        .then(
          () => 'accepted',
          (err: unknown) => (err instanceof WorkflowUpdateFailedError ? err.cause?.message : String(err)),
        );
      await handle.signal(approveSignal, { wave: 'canary', approver: 'bob' });
      await waitForStatus(
        handle,
        (s) => s.audit.filter((x) => x.kind === 'approval-refused').length >= 2,
        30_000,
        'signal refusal',
      );
      const status = await handle.query(statusQuery);
      fake.cluster(redCluster).behaviour.failGates = [];
      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'canary', approver: 'alice' }] });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'approval-recheck');
      return { status, result, refusedUpdate };
    });
    const { status, result, refusedUpdate } = out;
    const red = new RegExp(`wave "canary" is not green: gate error-rate on ${a} Failed: .*error rate 0.3`);
    expect(refusedUpdate).toMatch(red);
    const refusals = status.audit.filter((x) => x.kind === 'approval-refused');
    expect(refusals.map((x) => x.by)).toEqual(['alice', 'bob']);
    for (const r of refusals) expect(r.detail).toMatch(red);
    expect(status.state).toBe('awaiting-approval');
    expect(result.state).toBe('completed');
  });

  it('approvals that arrive while a re-check runs take its answer: one look, not one per approval', async () => {
    // Once armed, every look of the re-check takes 1.5 s: long enough for the second approval's
    // policy check to finish while the first approval's re-check still runs.
    let slowLooks = false;
    const slow = async (call: RecordedCall) => {
      if (slowLooks && call.name === 'watchHealthGates') await new Promise((r) => setTimeout(r, 1_500));
    };
    const { a, out } = await withRedCanary(
      'as',
      async (handle, fake, redCluster) => {
        const before = fake.calls.filter((c) => c.name === 'watchHealthGates').length;
        slowLooks = true;
        // Each would promote the wave on its own (one approval needed).
        await handle.signal(approveSignal, { wave: 'canary', approver: 'alice' });
        await handle.signal(approveSignal, { wave: 'canary', approver: 'bob' });
        await waitForStatus(
          handle,
          (s) => s.audit.filter((x) => x.kind === 'approval-refused').length >= 2,
          30_000,
          'both refusals',
        );
        const status = await handle.query(statusQuery);
        const looks = fake.calls.filter((c) => c.name === 'watchHealthGates').length - before;
        slowLooks = false;
        fake.cluster(redCluster).behaviour.failGates = [];
        await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'canary', approver: 'alice' }] });
        const result = await resultWithin(handle);
        await recordHistory(handle, 'approval-recheck-shared');
        return { status, looks, result };
      },
      slow,
    );
    const { status, looks, result } = out;
    const refusals = status.audit.filter((x) => x.kind === 'approval-refused');
    // Both handlers run at once, each awaiting its policy check: either refusal may be recorded first.
    expect(refusals.map((x) => x.by).sort()).toEqual(['alice', 'bob']);
    const red = new RegExp(`wave "canary" is not green: gate error-rate on ${a} Failed: .*error rate 0.3`);
    for (const r of refusals) expect(r.detail).toMatch(red);
    // One pair (a × error-rate), one look: bob's approval took alice's re-check.
    expect(looks).toBe(1);
    expect(result.state).toBe('completed');
  });

  /**
   * History cost of a watching soak: the campaign's events per cluster for one wave of 100
   * clusters with 2 soak gates (200 pairs: 2 watch batches), at a 100 ms interval for a soak of
   * 1 s and of 5 s (10 and 50 looks per pair). The looks are activity attempts, not events, so
   * the two runs must cost the same number of events whatever the soak's length.
   */
  it(
    'costs the same campaign events whatever the soak length: one watch activity per batch',
    { timeout: 180_000 },
    async () => {
      const counts: { soak: string; events: number; soakEvents: number; watches: number; looks: number }[] = [];
      for (const soak of ['1s', '5s']) {
        const tag = uniqueTag();
        const names = Array.from({ length: 100 }, (_, i) => `hs-${tag}-${String(i).padStart(3, '0')}`);
        const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
        const campaign = makeCampaign(`hs-${tag}`, {
          waves: [{ name: 'all', maxParallel: 100, soak, approval: 'auto' }],
          healthGates: [SOAK_GATE, { ...SOAK_GATE, name: 'latency' }],
        });
        const taskQueue = temporal.taskQueue('campaign');
        const events = await withWorker(
          temporal,
          taskQueue,
          fake.activities,
          async () => {
            const handle = await startCampaign(
              temporal,
              taskQueue,
              campaign,
              names.map((n) => fake.member(n)),
            );
            const result = await resultWithin(handle, 150_000);
            expect(result.state).toBe('completed');
            return (await handle.fetchHistory()).events ?? [];
          },
          STANDIN_CHILD_WORKFLOWS,
        );
        const watches = events.filter(
          (e: proto.api.history.v1.IHistoryEvent) =>
            e.activityTaskScheduledEventAttributes?.activityType?.name === 'watchHealthGates',
        ).length;
        const looks = fake.calls.filter((c) => c.name === 'watchHealthGates').length;
        // The soak's share: from the first watch on. The window before it varies with how workflow
        // tasks batch children's ends (each start round also asks the fleet control: one marker).
        const firstWatch = events.findIndex(
          (e: proto.api.history.v1.IHistoryEvent) =>
            e.activityTaskScheduledEventAttributes?.activityType?.name === 'watchHealthGates',
        );
        counts.push({ soak, events: events.length, soakEvents: events.length - firstWatch, watches, looks });
      }
      for (const c of counts) {
        console.log(
          `soak ${c.soak} at 100 ms, 100 clusters x 2 gates: ${c.events} campaign events (${(c.events / 100).toFixed(2)} per cluster; ${c.soakEvents} from the first watch on), ` +
            `${c.watches} watchHealthGates activities, ${c.looks} measurements`,
        );
      }
      const [short, long] = counts as [(typeof counts)[number], (typeof counts)[number]];
      expect(short.watches).toBe(2);
      expect(long.watches).toBe(2);
      expect(long.looks).toBeGreaterThan(short.looks);
      // The soak costs the same whatever its length; allow a little for workflow-task batching.
      expect(Math.abs(long.soakEvents - short.soakEvents)).toBeLessThanOrEqual(30);
      expect(long.events / 100).toBeLessThanOrEqual(10);
    },
  );

  it('measures a wave gate once per look over the wave, holds the wave on its failure, and rolls no cluster back', async () => {
    const tag = uniqueTag();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => `wg-${tag}-${n}`) as [string, string, string];
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a, { behaviour: { labels: { env: 'staging' } } }),
        fakeCluster(b, {
          behaviour: {
            labels: { env: 'staging' },
            failGates: [{ gate: 'wave-errors', phase: 'soak', afterMeasurements: 2, message: 'wave error rate 0.2' }],
          },
        }),
        // The only cluster left is production: no control cohort for a staging wave.
        fakeCluster(c, { behaviour: { labels: { env: 'prod' } } }),
      ],
    });
    const waveGate = {
      name: 'wave-errors',
      query: 'max(x{cluster=~"{{clusters}}"})',
      condition: '< 0.01',
      interval: '100ms',
      scope: 'wave' as const,
      phases: ['soak' as const],
    };
    const compareGate = { ...SOAK_GATE, name: 'vs-baseline', compare: { baseline: { window: '1h' } } };
    const cohortGate = { ...waveGate, name: 'vs-cohort', compare: { cohort: { labels: ['env'] } } };
    const campaign = makeCampaign(`wg-${tag}`, {
      waves: [
        { name: 'canary', count: 2, maxParallel: 2, soak: '3s', approval: 'auto' },
        { name: 'rest', soak: '0s' },
      ],
      healthGates: [compareGate, waveGate, cohortGate],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const status = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        [a, b, c].map((n) => fake.member(n)),
      );
      const status = await waitForStatus(handle, (s) => s.state === 'paused', 60_000, 'soak pause');
      await handle.signal(abortSignal, { by: 'test', reason: 'done' });
      await resultWithin(handle);
      return status;
    });
    expect(status.pausedReason).toMatch(
      /wave "canary" soak failed: gate wave-errors on wave canary Failed: .*wave error rate 0.2/,
    );
    // The wave as a whole failed: no single cluster is blamed or rolled back.
    expect(status.clusters.filter((x) => x.name !== c).map((x) => x.state)).toEqual(['upgraded', 'upgraded']);
    const waveLooks = fake.calls.filter((x) => x.label === 'watchHealthGates:wave-errors/soak');
    expect(waveLooks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(waveLooks.map((x) => x.cluster))).toEqual(new Set(['wave canary']));
    const context = (waveLooks[0]?.input as { context?: { wave?: string; clusters?: string[] } }).context;
    expect(context?.wave).toBe('canary');
    expect([...(context?.clusters ?? [])].sort()).toEqual([a, b].sort());
    // The cohort of a staging wave is refused, not compared with production.
    const cohortLook = fake.calls.find((x) => x.label === 'watchHealthGates:vs-cohort/soak');
    expect((cohortLook?.input as { context?: GateContext }).context?.cohortRefused).toBe(
      'cohort refused: no cluster not yet upgraded has env=staging (those left have env=prod)',
    );
    // The comparison gate is measured per cluster, with the times of that cluster's upgrade.
    const compared = fake.calls.filter((x) => x.label === 'watchHealthGates:vs-baseline/soak' && x.cluster === a);
    const times = (compared[0]?.input as { context?: { changedAtMs?: number; changeEndedAtMs?: number } }).context;
    expect(typeof times?.changedAtMs).toBe('number');
    expect(times?.changeEndedAtMs).toBeGreaterThanOrEqual(times?.changedAtMs ?? Infinity);
  });
});
