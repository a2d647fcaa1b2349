/**
 * Pacing of the sliding window, read back from the campaign's own history: the token-bucket
 * rate limit and per-label caps are never exceeded, and a cluster outside its maintenance
 * window waits (with a reason) until the window opens.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createLeaseActivities } from '../../activities/leases';
import { statusQuery } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  childSpans,
  makeCampaign,
  maxConcurrent,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
  recordHistory,
} from './campaign-harness';

/** "HH:MM" of a UTC instant. */
function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

describe('campaign workflow: pacing', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('never starts faster than the rate limit (token bucket on workflow timers)', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => `rl-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const perMs = 3_000;
    const starts = 2;
    const campaign = makeCampaign(`rl-${tag}`, {
      waves: [{ name: 'all', maxParallel: 10, approval: 'auto' }],
      pacing: { maxInFlight: 10, rateLimit: { starts, per: '3s' } },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, spans, waited } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const waiting = await waitForStatus(handle, (s) =>
        s.clusters.some((c) => c.waitingFor?.startsWith('rate limit')),
      );
      const result = await resultWithin(handle);
      await recordHistory(handle, 'rate-limit');
      return { result, spans: await childSpans(handle), waited: waiting };
    });
    expect(result.state).toBe('completed');
    expect(waited.clusters.find((c) => c.state === 'waiting')?.waitingFor).toMatch(/^rate limit: next start at \d{4}-/);
    const times = spans.map((s) => s.startAt).sort((x, y) => x - y);
    expect(times).toHaveLength(5);
    const first = times[0] as number;
    const emissionMs = perMs / starts;
    // GCRA: a burst of `starts`, then one start per per/starts. The bucket grants by workflow time;
    // a child's start event follows by a workflow task, whose delay varies with the machine's load
    // (the first start once came 93 ms late, so a later one looked early): allow 250 ms.
    times.forEach((t, k) => {
      expect(t - first).toBeGreaterThanOrEqual(Math.max(0, k - starts + 1) * emissionMs - 250);
    });
    console.log(`rate limit 2 per 3s: starts at +${times.map((t) => t - first).join(', +')} ms`);
  });

  it('keeps per-label caps while the sliding window fills other slots', async () => {
    const tag = uniqueTag();
    const east = ['e1', 'e2', 'e3'].map((n) => `cap-${tag}-${n}`);
    const west = ['w1', 'w2', 'w3'].map((n) => `cap-${tag}-${n}`);
    const fake = createFakeActivities({
      clusters: [
        ...east.map((n) => fakeCluster(n, { region: 'us-east-1' })),
        ...west.map((n) => fakeCluster(n, { region: 'eu-west-1' })),
      ],
      // Slow the updates down a little so upgrades overlap.
      beforeCall: (call) =>
        call.name === 'awaitUpdate' ? new Promise((resolve) => setTimeout(resolve, 150)) : undefined,
    });
    const campaign = makeCampaign(`cap-${tag}`, {
      waves: [{ name: 'all', maxParallel: 6, approval: 'auto' }],
      pacing: { maxInFlight: 10, caps: [{ labelKey: 'region', max: 1 }] },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const members = [...east, ...west].map((n) => fake.member(n));
    const region = new Map(members.map((m) => [m.name, m.region]));
    const { result, spans, sawCapWait } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(temporal, taskQueue, campaign, members);
      const waiting = await waitForStatus(handle, (s) =>
        s.clusters.some((c) => c.waitingFor?.startsWith('cap region=')),
      );
      const result = await resultWithin(handle);
      await recordHistory(handle, 'caps');
      return { result, spans: await childSpans(handle), sawCapWait: waiting };
    });
    expect(result.state).toBe('completed');
    expect(sawCapWait.clusters.find((c) => c.waitingFor?.startsWith('cap'))?.waitingFor).toMatch(
      /^cap region=(us-east-1|eu-west-1) \(1\/1\)$/,
    );
    const perRegion = maxConcurrent(spans, (c) => region.get(c) ?? '?');
    expect(perRegion).toEqual({ 'us-east-1': 1, 'eu-west-1': 1 });
    // The two regions did run side by side: the cap, not the window, was the limit.
    expect(maxConcurrent(spans, () => 'all').all).toBe(2);
  });

  // About 5 s alone; four upgrades one after the other, so a loaded machine (the whole suite) needs more.
  it('shares a fleet-wide cap between two campaigns through the lease workflow', { timeout: 150_000 }, async () => {
    const tag = uniqueTag();
    const a = ['a1', 'a2'].map((n) => `sc-${tag}-${n}`);
    const b = ['b1', 'b2'].map((n) => `sc-${tag}-${n}`);
    const account = '210987654321';
    const fake = createFakeActivities({
      clusters: [...a, ...b].map((n) => fakeCluster(n, { account })),
      beforeCall: (call) =>
        call.name === 'awaitUpdate' ? new Promise((resolve) => setTimeout(resolve, 100)) : undefined,
    });
    const spec = {
      waves: [{ name: 'all', maxParallel: 2, approval: 'auto' as const }],
      pacing: { maxInFlight: 10, sharedCaps: [{ labelKey: 'account', max: 1 }] },
    };
    const taskQueue = temporal.taskQueue('campaign');
    const activities = {
      ...fake.activities,
      ...createLeaseActivities({ client: temporal.client, taskQueue }),
    };
    const { results, sawLeaseWait } = await withWorker(temporal, taskQueue, activities, async () => {
      const handleA = await startCampaign(
        temporal,
        taskQueue,
        makeCampaign(`sc-a-${tag}`, spec),
        a.map((n) => fake.member(n)),
      );
      const handleB = await startCampaign(
        temporal,
        taskQueue,
        makeCampaign(`sc-b-${tag}`, spec),
        b.map((n) => fake.member(n)),
      );
      const sawLeaseWait = await waitForStatus(handleB, (s) =>
        s.clusters.some((c) => c.waitingFor === `fleet-wide lease account=${account}`),
      ).then(
        () => true,
        () => false,
      );
      const results = await Promise.all([resultWithin(handleA), resultWithin(handleB)]);
      await recordHistory(handleA, 'shared-caps');
      return { results, sawLeaseWait };
    });
    expect(results.map((r) => r.state)).toEqual(['completed', 'completed']);
    expect(sawLeaseWait).toBe(true);
    // Every upgrade, from its first activity call to its last, ran alone in the account.
    const spans = [...a, ...b]
      .map((cluster) => {
        const times = fake.calls.filter((c) => c.cluster === cluster).map((c) => c.at);
        return { cluster, from: Math.min(...times), to: Math.max(...times) };
      })
      .sort((x, y) => x.from - y.from);
    spans.slice(1).forEach((span, i) => expect(span.from).toBeGreaterThanOrEqual((spans[i] as { to: number }).to));
  });

  // The lease grants at once (nobody else holds it), so its grant signal reaches the campaign while
  // the requestLease activity is still running. Before the fix the campaign counted that change
  // before it began to wait and then waited for the next one, which never came: a deadlock.
  it('starts a cluster whose lease is granted before the request activity returns', { timeout: 150_000 }, async () => {
    const tag = uniqueTag();
    const names = ['g1', 'g2'].map((n) => `lg-${tag}-${n}`);
    const account = '109876543210';
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n, { account })) });
    const taskQueue = temporal.taskQueue('campaign');
    const leases = createLeaseActivities({ client: temporal.client, taskQueue });
    const activities = {
      ...fake.activities,
      ...leases,
      // The signal-with-start happens first; the activity reports back only after the grant has landed.
      requestLease: async (input: Parameters<typeof leases.requestLease>[0]) => {
        const result = await leases.requestLease(input);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        return result;
      },
    };
    const spec = {
      waves: [{ name: 'all', maxParallel: 2, approval: 'auto' as const }],
      pacing: { maxInFlight: 10, sharedCaps: [{ labelKey: 'account', max: 1 }] },
    };
    const result = await withWorker(temporal, taskQueue, activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        makeCampaign(`lg-${tag}`, spec),
        names.map((n) => fake.member(n)),
      );
      const result = await resultWithin(handle, 45_000);
      await recordHistory(handle, 'lease-granted-early');
      return result;
    });
    expect(result.state).toBe('completed');
    expect([...result.upgraded].sort()).toEqual(names);
  });

  it(
    'defers a cluster whose maintenance window is closed and starts it when the window opens',
    { timeout: 150_000 },
    async () => {
      const tag = uniqueTag();
      const [night, any] = [`mw-${tag}-night`, `mw-${tag}-any`];
      const fake = createFakeActivities({
        clusters: [fakeCluster(night, { behaviour: { labels: { window: 'night' } } }), fakeCluster(any)],
      });
      // Windows have minute resolution: open at the next minute boundary at least 5 s away.
      let opensAt = Math.ceil(Date.now() / 60_000) * 60_000;
      if (opensAt - Date.now() < 5_000) opensAt += 60_000;
      const campaign = makeCampaign(`mw-${tag}`, {
        waves: [{ name: 'all', maxParallel: 2, approval: 'auto' }],
        maintenanceWindows: [
          {
            name: 'night',
            selector: { matchLabels: { window: 'night' } },
            start: clock(opensAt),
            end: clock(opensAt + 30 * 60_000),
          },
        ],
        estimates: { controlPlaneHop: '1s', addon: '1s', nodeBatch: '1s' },
      });
      const taskQueue = temporal.taskQueue('campaign');
      const { result, spans, deferred } = await withWorker(temporal, taskQueue, fake.activities, async () => {
        const handle = await startCampaign(
          temporal,
          taskQueue,
          campaign,
          [night, any].map((n) => fake.member(n)),
        );
        const deferred = await waitForStatus(
          handle,
          (s) => s.clusters.find((c) => c.name === any)?.state === 'upgraded',
          30_000,
          'the unwindowed cluster upgraded',
        );
        const result = await resultWithin(handle, 120_000);
        await recordHistory(handle, 'maintenance-window');
        return { result, spans: await childSpans(handle), deferred, status: await handle.query(statusQuery) };
      });
      expect(deferred.clusters.find((c) => c.name === night)).toMatchObject({
        state: 'waiting',
        waitingFor: `maintenance window closed until ${new Date(opensAt).toISOString()}`,
      });
      expect(result.state).toBe('completed');
      const nightStart = spans.find((s) => s.cluster === night)?.startAt ?? 0;
      expect(nightStart).toBeGreaterThanOrEqual(opensAt);
      expect(nightStart - opensAt).toBeLessThan(5_000);
      console.log(`maintenance window: deferred cluster started ${nightStart - opensAt} ms after the window opened`);
    },
  );
});
