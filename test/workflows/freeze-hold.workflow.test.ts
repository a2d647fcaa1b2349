/**
 * A freeze holds the upgrades already in flight, not only new starts: each child finishes the step
 * it is in and waits at its next safe point (the pause an operator's pause sends), the campaign
 * says `frozen` in its status and its CampaignState search attribute, and the children resume when
 * the freeze is removed or a scheduled one is over. Read back from the children's histories: no
 * activity is scheduled between a child's pause and its resume.
 */
import type { temporal } from '@temporalio/proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { addFreeze, removeFreeze } from '../../client/fleet-control';
import {
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  pauseSignal,
  resumeSignal,
  statusQuery,
  type CampaignStatus,
} from '../../workflows/definitions';
import { CampaignStateKey } from '../../workflows/search-attributes';
import { getWorkflowBundle } from '../helpers/bundle';
import { createFakeActivities, fakeCluster, heartbeatUntil, type RecordedCall } from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import {
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
} from './campaign-harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Control-plane updates wait (heartbeating) until `release()`: the children stay mid-upgrade. */
function holdControlPlane() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    beforeCall: (call: RecordedCall) =>
      call.name === 'awaitUpdate' && call.label.startsWith('awaitUpdate:control-plane')
        ? heartbeatUntil(released, 200)
        : undefined,
  };
}

function eventMs(event: HistoryEvent): number {
  return Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
}

/** What one child's history says about its hold: when the pause and resume arrived, and what it scheduled between. */
interface ChildHold {
  /** The pause and resume signals the child received, in order. */
  signals: string[];
  pausedAt?: number;
  resumedAt?: number;
  scheduledWhileHeld: string[];
  scheduledAfterResume: number;
}

async function childHold(t: TestTemporal, cluster: string): Promise<ChildHold> {
  const history = await t.client.workflow.getHandle(clusterUpgradeWorkflowId(cluster)).fetchHistory();
  const out: ChildHold = { signals: [], scheduledWhileHeld: [], scheduledAfterResume: 0 };
  for (const event of history.events ?? []) {
    const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
    if (signal === 'pause' || signal === 'resume') out.signals.push(signal);
    if (signal === 'pause' && out.pausedAt === undefined) out.pausedAt = eventMs(event);
    if (signal === 'resume' && out.pausedAt !== undefined) out.resumedAt = eventMs(event);
    const scheduled = event.activityTaskScheduledEventAttributes?.activityType?.name;
    const local = event.markerRecordedEventAttributes?.markerName === 'core_local_activity';
    if ((scheduled || local) && out.pausedAt !== undefined) {
      if (out.resumedAt === undefined) out.scheduledWhileHeld.push(scheduled ?? 'local activity');
      else out.scheduledAfterResume++;
    }
  }
  return out;
}

/** Signals the campaign received, by name. */
async function campaignSignals(handle: { fetchHistory(): Promise<{ events?: HistoryEvent[] | null }> }) {
  const counts: Record<string, number> = {};
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const name = event.workflowExecutionSignaledEventAttributes?.signalName;
    if (name) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Polls until every named child's status query says it is paused; returns when that was seen. */
async function waitChildrenPaused(t: TestTemporal, clusters: string[], timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const paused = await Promise.all(
      clusters.map(
        async (c) => (await t.client.workflow.getHandle(clusterUpgradeWorkflowId(c)).query(clusterStatusQuery)).paused,
      ),
    );
    if (paused.every(Boolean)) return Date.now();
    if (Date.now() > deadline) throw new Error(`children not paused within ${timeoutMs} ms: ${paused.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls the campaign's CampaignState search attribute (visibility is eventually consistent). */
async function waitForStateAttribute(
  handle: { describe(): Promise<{ typedSearchAttributes: { get(key: typeof CampaignStateKey): unknown } }> },
  want: string,
  timeoutMs = 20_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = (await handle.describe()).typedSearchAttributes.get(CampaignStateKey);
    if (last === want) return want;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CampaignState stayed ${String(last)}, wanted ${want}`);
}

/** Two clusters of one campaign upgrading at once, their control-plane updates held until `gate.release()`. */
async function withTwoInFlight<T>(
  t: TestTemporal,
  names: string[],
  campaignName: string,
  queue: string,
  body: (ctx: {
    handle: Awaited<ReturnType<typeof startCampaign>>;
    gate: ReturnType<typeof holdControlPlane>;
    fake: ReturnType<typeof createFakeActivities>;
    target: { client: TestTemporal['client']; taskQueue: string };
  }) => Promise<T>,
): Promise<T> {
  const gate = holdControlPlane();
  const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)), beforeCall: gate.beforeCall });
  const taskQueue = t.taskQueue(queue);
  // Both clusters start at once: nothing is left to start, so only the in-flight look sees a freeze.
  const campaign = makeCampaign(campaignName, { waves: [{ name: 'all', maxParallel: 2, approval: 'auto' }] });
  return withWorker(t, taskQueue, fake.activities, async () => {
    const handle = await startCampaign(
      t,
      taskQueue,
      campaign,
      names.map((n) => fake.member(n)),
    );
    await waitForStatus(handle, (s) => s.clusters.every((c) => c.state === 'upgrading'), 20_000);
    return body({ handle, gate, fake, target: { client: t.client, taskQueue } });
  });
}

const heldClusters = (s: CampaignStatus) => s.clusters.filter((c) => c.held?.startsWith('held by freeze'));

describe('freezes hold the upgrades in flight', () => {
  let t: TestTemporal;

  beforeAll(async () => {
    t = await getTestTemporal();
    await getWorkflowBundle();
  });

  it(
    'freeze add pauses the in-flight children after their step; freeze remove resumes them',
    { timeout: 120_000 },
    async () => {
      const tag = uniqueTag();
      const names = ['h1', 'h2'].map((n) => `fh-${tag}-${n}`);
      // Both clusters start at once: nothing is left to start, so only the in-flight look sees the freeze.
      const out = await withTwoInFlight(
        t,
        names,
        `fh-${tag}`,
        'freeze-hold',
        async ({ handle, gate, fake, target }) => {
          const addAt = Date.now();
          const freeze = await addFreeze(target, {
            reason: 'incident in progress',
            until: new Date(Date.now() + 3_600_000).toISOString(),
            addedBy: 'test',
          });
          const pausedSeenAt = await waitChildrenPaused(t, names);
          // The EKS update in flight ends; the children hold after it instead of going on to add-ons.
          gate.release();
          const frozen = await waitForStatus(handle, (s) => s.state === 'frozen' && heldClusters(s).length === 2);
          const attribute = await waitForStateAttribute(handle, 'frozen');
          await new Promise((resolve) => setTimeout(resolve, 3_000));
          const stillFrozen = await handle.query(statusQuery);
          const callsWhileHeld = names.map((n) => fake.trace(n).filter((l) => !l.startsWith('awaitUpdate')));
          const removedAt = Date.now();
          await removeFreeze(target, freeze.id);
          const result = await resultWithin(handle);
          await recordHistory(handle, 'freeze-hold-in-flight');
          return {
            addAt,
            freeze,
            pausedSeenAt,
            frozen,
            attribute,
            stillFrozen,
            callsWhileHeld,
            removedAt,
            result,
            after: await handle.query(statusQuery),
            signals: await campaignSignals(handle),
            holds: await Promise.all(names.map((n) => childHold(t, n))),
          };
        },
      );
      const pauseLatencies = out.holds.map((h) => (h.pausedAt ?? Number.NaN) - out.addAt);
      const resumeLatencies = out.holds.map((h) => (h.resumedAt ?? Number.NaN) - out.removedAt);
      console.log(
        `freeze add → child pause signal recorded: ${pauseLatencies.join(', ')} ms; → both children report paused: ${out.pausedSeenAt - out.addAt} ms; ` +
          `freeze remove → resume recorded: ${resumeLatencies.join(', ')} ms`,
      );
      expect(out.frozen.fleetHold).toMatch(/^frozen: incident in progress until \d{4}-/);
      expect(heldClusters(out.frozen).map((c) => c.held)).toEqual([
        expect.stringMatching(new RegExp(`^held by freeze ${out.freeze.id}: frozen: incident in progress until`)),
        expect.stringMatching(new RegExp(`^held by freeze ${out.freeze.id}:`)),
      ]);
      expect(out.attribute).toBe('frozen');
      expect(out.stillFrozen.state).toBe('frozen');
      // Each child finished its control-plane step and started nothing after the pause until the resume.
      for (const hold of out.holds) {
        expect(hold.pausedAt).toBeGreaterThanOrEqual(out.addAt);
        expect(hold.resumedAt).toBeGreaterThanOrEqual(out.removedAt);
        expect(hold.scheduledWhileHeld).toEqual([]);
        expect(hold.scheduledAfterResume).toBeGreaterThan(0);
      }
      for (const calls of out.callsWhileHeld) {
        expect(calls.some((l) => l.startsWith('upgradeControlPlane'))).toBe(true);
        expect(calls.filter((l) => l.startsWith('updateAddons') || l.startsWith('updateNodegroups'))).toEqual([]);
      }
      expect(out.result.state).toBe('completed');
      expect(out.result.upgraded.sort()).toEqual([...names].sort());
      expect(out.after.fleetHold).toBeUndefined();
      // The freeze add and the removal each told the campaign once.
      expect(out.signals.fleetControlChanged).toBe(2);
      const freezeEntries = out.after.audit.filter((e) => e.kind.startsWith('freeze'));
      expect(freezeEntries.map((e) => [e.kind, e.detail?.replace(/until .*$/, 'until …')])).toEqual([
        ['freeze-held', 'frozen: incident in progress until …'],
        [
          'freeze-hold-children',
          `2 in-flight upgrade(s) hold at their next safe point (freeze ${out.freeze.id}): frozen: incident in progress until …`,
        ],
        ['freeze-lifted', 'starts granted again'],
        ['freeze-hold-children', '2 held upgrade(s) resumed'],
      ]);
    },
  );

  it(
    'an operator pause and a freeze each keep the children held until both are over',
    { timeout: 120_000 },
    async () => {
      const tag = uniqueTag();
      const names = ['o1', 'o2'].map((n) => `fo-${tag}-${n}`);
      const out = await withTwoInFlight(t, names, `fo-${tag}`, 'freeze-operator', async ({ handle, gate, target }) => {
        const pause = () => handle.signal(pauseSignal, { by: 'oncall', reason: 'look first' });
        const resume = () => handle.signal(resumeSignal, { by: 'oncall' });
        // Paused first; a freeze comes while paused; the operator's resume must not let them go.
        await pause();
        await waitChildrenPaused(t, names);
        gate.release();
        const freeze = await addFreeze(target, {
          reason: 'change freeze',
          until: new Date(Date.now() + 3_600_000).toISOString(),
          addedBy: 'test',
        });
        await resume();
        const frozen = await waitForStatus(handle, (s) => s.state === 'frozen' && heldClusters(s).length === 2);
        // Paused again, then the freeze goes: the operator's pause still holds them.
        await pause();
        await waitForStatus(handle, (s) => s.state === 'paused');
        // A paused campaign asks nothing: it looks at the calendar again when resumed.
        await removeFreeze(target, freeze.id);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const stillPaused = await handle.query(statusQuery);
        const heldUntil = Date.now();
        await resume();
        const result = await resultWithin(handle);
        await recordHistory(handle, 'freeze-operator-pause');
        return {
          frozen,
          stillPaused,
          heldUntil,
          result,
          holds: await Promise.all(names.map((n) => childHold(t, n))),
        };
      });
      expect(out.frozen.fleetHold).toMatch(/^frozen: change freeze/);
      expect(out.stillPaused.state).toBe('paused');
      expect(out.stillPaused.clusters.map((c) => c.held)).toEqual(['held by pause', 'held by pause']);
      for (const hold of out.holds) {
        // One pause and one resume each: no resume between the operator's resume and the freeze's end.
        expect(hold.signals).toEqual(['pause', 'resume']);
        expect(hold.resumedAt).toBeGreaterThanOrEqual(out.heldUntil);
        expect(hold.scheduledWhileHeld).toEqual([]);
      }
      expect(out.result.state).toBe('completed');
    },
  );

  it(
    'a scheduled freeze holds the in-flight children when it begins, without a further signal',
    { timeout: 120_000 },
    async () => {
      const tag = uniqueTag();
      const names = ['s1', 's2'].map((n) => `fs-${tag}-${n}`);
      const out = await withTwoInFlight(t, names, `fs-${tag}`, 'freeze-scheduled', async ({ handle, gate, target }) => {
        // Begins in 4 s, ends 8 s later: the campaign must wake for both on its own.
        const fromMs = Date.now() + 4_000;
        const untilMs = fromMs + 8_000;
        const freeze = await addFreeze(target, {
          reason: 'scheduled maintenance',
          from: new Date(fromMs).toISOString(),
          until: new Date(untilMs).toISOString(),
          addedBy: 'test',
        });
        const before = await handle.query(statusQuery);
        const pausedSeenAt = await waitChildrenPaused(t, names);
        gate.release();
        const frozen = await waitForStatus(handle, (s) => s.state === 'frozen' && heldClusters(s).length === 2);
        const result = await resultWithin(handle);
        await recordHistory(handle, 'freeze-scheduled');
        return {
          freeze,
          fromMs,
          untilMs,
          before,
          pausedSeenAt,
          frozen,
          result,
          after: await handle.query(statusQuery),
          signals: await campaignSignals(handle),
          holds: await Promise.all(names.map((n) => childHold(t, n))),
        };
      });
      const pauseLatencies = out.holds.map((h) => (h.pausedAt ?? Number.NaN) - out.fromMs);
      const resumeLatencies = out.holds.map((h) => (h.resumedAt ?? Number.NaN) - out.untilMs);
      console.log(
        `scheduled freeze begins → child pause signal recorded: ${pauseLatencies.join(', ')} ms; → both children report paused: ${out.pausedSeenAt - out.fromMs} ms; ` +
          `freeze ends → resume recorded: ${resumeLatencies.join(', ')} ms`,
      );
      // Added ahead of time: nothing held until it begins.
      expect(out.before.state).toBe('running');
      expect(heldClusters(out.before)).toEqual([]);
      expect(out.frozen.fleetHold).toMatch(/^frozen: scheduled maintenance until/);
      // Only the freeze add told the campaign; the start and the end were its own wake-ups.
      expect(out.signals.fleetControlChanged).toBe(1);
      for (const hold of out.holds) {
        // Workflow time and this process's clock are one machine's: the pause comes at or after the start.
        expect(hold.pausedAt).toBeGreaterThanOrEqual(out.fromMs);
        expect(hold.resumedAt).toBeGreaterThanOrEqual(out.untilMs);
        expect(hold.scheduledWhileHeld).toEqual([]);
      }
      expect(out.result.state).toBe('completed');
      expect(out.after.state).toBe('completed');
    },
  );
});
