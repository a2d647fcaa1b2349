/**
 * The fleet control (change calendar and fleet-wide pace, held by the `fleet-control/<taskQueue>`
 * lease workflow) as campaigns see it, read back from their histories: two campaigns under one
 * fleet-wide bucket never start faster than its rate together; a freeze added mid-campaign stops
 * new starts at once, status says why, and removing it resumes them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { addFreeze, readFleetControl, removeFreeze, setFleetPace } from '../../client/fleet-control';
import {
  fleetControlWorkflowId,
  fleetLeaseStatusQuery,
  statusQuery,
  takeStartsUpdate,
} from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import { startDedicatedTestTemporal, type TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  childSpans,
  makeCampaign,
  maxConcurrent,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
} from './campaign-harness';

describe('fleet control: freezes and fleet-wide pace', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('keeps two concurrent campaigns together under the fleet-wide rate', { timeout: 120_000 }, async () => {
    const tag = uniqueTag();
    const a = ['a1', 'a2', 'a3'].map((n) => `fp-${tag}-${n}`);
    const b = ['b1', 'b2', 'b3'].map((n) => `fp-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: [...a, ...b].map((n) => fakeCluster(n)) });
    const taskQueue = temporal.taskQueue('fleet-pace');
    // 1 start per 2 s fleet-wide, burst 1; each campaign alone would start all its clusters at once.
    const perMs = 2_000;
    const campaignA = makeCampaign(`fp-${tag}-a`, { waves: [{ name: 'all', maxParallel: 10, approval: 'auto' }] });
    const campaignB = makeCampaign(`fp-${tag}-b`, { waves: [{ name: 'all', maxParallel: 10, approval: 'auto' }] });
    const { spans, sawRateWait } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      await setFleetPace({ client: temporal.client, taskQueue }, { starts: 1, per: '2s', burst: 1 });
      const ha = await startCampaign(
        temporal,
        taskQueue,
        campaignA,
        a.map((n) => fake.member(n)),
      );
      const hb = await startCampaign(
        temporal,
        taskQueue,
        campaignB,
        b.map((n) => fake.member(n)),
      );
      const sawRateWait = await waitForStatus(ha, (s) => s.fleetHold?.startsWith('fleet-wide rate limit') ?? false);
      const [ra, rb] = await Promise.all([resultWithin(ha), resultWithin(hb)]);
      expect(ra.state).toBe('completed');
      expect(rb.state).toBe('completed');
      await recordHistory(ha, 'fleet-pace-a');
      const control = await readFleetControl({ client: temporal.client, taskQueue });
      expect(control.started).toBe(6);
      await setFleetPace({ client: temporal.client, taskQueue }, null);
      return { spans: [...(await childSpans(ha)), ...(await childSpans(hb))], sawRateWait };
    });
    expect(sawRateWait.fleetHold).toMatch(/^fleet-wide rate limit: next start at \d{4}-/);
    const times = spans.map((s) => s.startAt).sort((x, y) => x - y);
    expect(times).toHaveLength(6);
    const first = times[0] as number;
    console.log(`fleet-wide 1 per 2s, two campaigns: starts at +${times.map((t) => t - first).join(', +')} ms`);
    // The bucket grants by workflow time, exactly 2 s apart; a child's start event follows its grant
    // by a workflow task, whose delay varies with the machine's load (one pair was recorded 1.64 s
    // apart under load). So: over the whole run, never faster than the rate (six starts need five
    // periods, less one task's delay), and no two starts together (as they would be without the bucket).
    expect((times[times.length - 1] as number) - first).toBeGreaterThanOrEqual((times.length - 1) * perMs - 500);
    for (let k = 1; k < times.length; k++) {
      expect((times[k] as number) - (times[k - 1] as number)).toBeGreaterThanOrEqual(perMs / 2);
    }
  });

  it(
    'stops new starts at once when a freeze is added and resumes when it is removed',
    { timeout: 120_000 },
    async () => {
      const tag = uniqueTag();
      const names = ['c1', 'c2', 'c3', 'c4'].map((n) => `fz-${tag}-${n}`);
      const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
      const taskQueue = temporal.taskQueue('freeze');
      const target = { client: temporal.client, taskQueue };
      // The campaign's own rate (1 per 3 s) leaves a quiet gap after each start to add the freeze in.
      const campaign = makeCampaign(`fz-${tag}`, {
        waves: [{ name: 'all', maxParallel: 10, approval: 'auto' }],
        pacing: { maxInFlight: 10, caps: [], sharedCaps: [], rateLimit: { starts: 1, per: '3s' } },
      });
      const out = await withWorker(temporal, taskQueue, fake.activities, async () => {
        const handle = await startCampaign(
          temporal,
          taskQueue,
          campaign,
          names.map((n) => fake.member(n)),
        );
        await waitForStatus(handle, (s) => s.clusters.some((c) => c.state !== 'pending' && c.state !== 'waiting'));
        const freeze = await addFreeze(target, {
          reason: 'year-end change freeze',
          from: new Date(Date.now() - 60_000).toISOString(),
          until: new Date(Date.now() + 3_600_000).toISOString(),
          addedBy: 'test',
        });
        // The in-flight look may see the freeze first; the next refused start marks the queued clusters too.
        const held = await waitForStatus(
          handle,
          (s) =>
            (s.fleetHold?.startsWith('frozen:') ?? false) &&
            s.clusters.some((c) => c.waitingFor?.startsWith('frozen:')),
        );
        // Two more of the campaign's own rate periods: still nothing starts.
        await new Promise((resolve) => setTimeout(resolve, 7_000));
        const stillHeld = await handle.query(statusQuery);
        const startedWhileFrozen = (await childSpans(handle)).length;
        const listed = await readFleetControl(target);
        const removedAt = Date.now();
        await removeFreeze(target, freeze.id);
        const result = await resultWithin(handle);
        await recordHistory(handle, 'freeze');
        const after = await handle.query(statusQuery);
        return {
          freeze,
          held,
          stillHeld,
          startedWhileFrozen,
          listed,
          removedAt,
          result,
          after,
          spans: await childSpans(handle),
        };
      });
      expect(out.held.fleetHold).toMatch(/^frozen: year-end change freeze until \d{4}-/);
      expect(out.held.clusters.some((c) => c.waitingFor?.startsWith('frozen: year-end change freeze'))).toBe(true);
      expect(out.stillHeld.fleetHold).toMatch(/^frozen:/);
      expect(out.listed.frozen?.id).toBe(out.freeze.id);
      expect(out.listed.freezes.map((f) => f.reason)).toEqual(['year-end change freeze']);
      const addedAt = Date.parse(out.freeze.addedAt);
      const before = out.spans.filter((s) => s.startAt < addedAt);
      const later = out.spans.filter((s) => s.startAt >= addedAt);
      console.log(
        `freeze: ${before.length} started before it, ${out.startedWhileFrozen - before.length} while frozen, ${later.length} after (all after removal: ${later.every((s) => s.startAt >= out.removedAt)})`,
      );
      // Nothing started between the freeze and its removal; everything else started after it.
      expect(out.startedWhileFrozen).toBe(before.length);
      expect(before.length).toBeGreaterThanOrEqual(1);
      expect(before.length).toBeLessThan(names.length);
      expect(later.every((s) => s.startAt >= out.removedAt)).toBe(true);
      expect(out.result.state).toBe('completed');
      expect(out.after.fleetHold).toBeUndefined();
      // Entering and leaving the freeze are audited once each, not at every refused start round.
      const freezeEntries = out.after.audit.filter((e) => e.kind === 'freeze-held' || e.kind === 'freeze-lifted');
      expect(freezeEntries.map((e) => e.kind)).toEqual(['freeze-held', 'freeze-lifted']);
      // An upgrade still in flight when the freeze came is held (and resumed, unless it was past its
      // last safe point and ended): see freeze-hold.workflow.test.ts.
      expect(out.after.audit.filter((e) => e.kind === 'freeze-hold-children').length).toBeLessThanOrEqual(2);
      expect(freezeEntries[0]?.detail).toMatch(/^frozen: year-end change freeze until/);
    },
  );

  it('keeps the calendar, the pace and the bucket across continue-as-new', { timeout: 120_000 }, async () => {
    // A server of its own: the suggestion comes after 20 events instead of 4,096.
    const dedicated = await startDedicatedTestTemporal({
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 20 },
    });
    try {
      const taskQueue = dedicated.taskQueue('fleet-control-can');
      const target = { client: dedicated.client, taskQueue };
      await withWorker(dedicated, taskQueue, {}, async () => {
        // A weekly freeze on a day three days away: held, but not in force while the test runs.
        const day = (['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const)[(new Date().getUTCDay() + 3) % 7];
        const freeze = await addFreeze(target, {
          reason: 'release day',
          weekly: { days: [day ?? 'Sun'], start: '00:00', end: '23:59', timezone: 'UTC' },
        });
        // One token an hour, burst 1000: nothing refills while the test runs.
        await setFleetPace(target, { starts: 1000, per: '1000h', burst: 1000 });
        const handle = dedicated.client.workflow.getHandle(fleetControlWorkflowId(taskQueue));
        // Each start request is a few events; keep asking until the run has continued as new.
        let asked = 0;
        while ((await handle.query(fleetLeaseStatusQuery)).runs < 2 && asked < 50) {
          await handle.executeUpdate(takeStartsUpdate, { args: [{ requesterWorkflowId: 'none', want: 1 }] });
          asked++;
        }
        const status = await handle.query(fleetLeaseStatusQuery);
        const view = await readFleetControl(target);
        console.log(`fleet control: continued as new after ${asked} start requests (run ${status.runs})`);
        expect(status.runs).toBeGreaterThan(1);
        expect(view.freezes.map((f) => f.id)).toEqual([freeze.id]);
        expect(view.pace).toEqual({ starts: 1000, per: '1000h', burst: 1000 });
        expect(view.frozen).toBeUndefined();
        // Granted starts are counted across runs, and the bucket was carried: what the earlier
        // run took is not available again.
        expect(view.started).toBe(asked);
        expect(view.tokens).toBe(1000 - asked);
      });
    } finally {
      await dedicated.teardown();
    }
  });

  it('reads maxParallel "50%" as half the wave, rounded down, at least 1', { timeout: 120_000 }, async () => {
    const tag = uniqueTag();
    const names = ['p1', 'p2', 'p3', 'p4', 'p5'].map((n) => `pct-${tag}-${n}`);
    const fake = createFakeActivities({
      clusters: names.map((n) => fakeCluster(n)),
      // Slow the updates down a little so upgrades overlap.
      beforeCall: (call) =>
        call.name === 'awaitUpdate' ? new Promise((resolve) => setTimeout(resolve, 150)) : undefined,
    });
    const taskQueue = temporal.taskQueue('percent');
    const campaign = makeCampaign(`pct-${tag}`, { waves: [{ name: 'all', maxParallel: '50%', approval: 'auto' }] });
    const { result, spans } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const result = await resultWithin(handle);
      return { result, spans: await childSpans(handle) };
    });
    expect(result.state).toBe('completed');
    // 50% of 5 clusters is 2.5, rounded down: 2 at once.
    expect(maxConcurrent(spans, () => 'all').all).toBe(2);
  });
});
