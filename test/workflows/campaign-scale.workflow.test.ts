/**
 * History cost of the campaign, and continue-as-new with cluster upgrades in flight. The
 * continue-as-new test runs on a dedicated dev server whose suggestContinueAsNew limit is
 * tiny, so a handful of clusters spans several runs.
 */
import type { temporal as proto } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterUpgradeWorkflowId, statusQuery } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster, heartbeatUntil, type RecordedCall } from '../helpers/fake-activities';
import { startDedicatedTestTemporal, type DedicatedTestTemporal, type TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  SOAK_GATE,
  makeCampaign,
  resultWithin,
  startCampaign,
  uniqueTag,
  type CampaignHandle,
  withWorker,
  recordHistory,
  STANDIN_CHILD_WORKFLOWS,
  waitForStatus,
} from './campaign-harness';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;

/** Every run of the campaign, following the continue-as-new chain from the first run. */
async function historiesOfChain(temporal: TestTemporal, handle: CampaignHandle): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history: proto.api.history.v1.IHistory = await temporal.client.workflow
      .getHandle(handle.workflowId, runId)
      .fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** Event counts by type name, largest first (for the printed breakdown). */
function breakdown(events: HistoryEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    const name = EVENT_NAMES[Number(e.eventType)] ?? String(e.eventType);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

const EVENT_NAMES: Record<number, string> = {
  1: 'WorkflowExecutionStarted',
  2: 'WorkflowExecutionCompleted',
  5: 'WorkflowTaskScheduled',
  6: 'WorkflowTaskStarted',
  7: 'WorkflowTaskCompleted',
  10: 'ActivityTaskScheduled',
  11: 'ActivityTaskStarted',
  12: 'ActivityTaskCompleted',
  17: 'TimerStarted',
  18: 'TimerFired',
  20: 'TimerCanceled',
  26: 'WorkflowExecutionSignaled',
  29: 'StartChildWorkflowExecutionInitiated',
  31: 'ChildWorkflowExecutionStarted',
  32: 'ChildWorkflowExecutionCompleted',
  25: 'MarkerRecorded',
  40: 'UpsertWorkflowSearchAttributes',
};

describe('campaign workflow: history cost', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('stays within about 10 history events per cluster', async () => {
    const tag = uniqueTag();
    const names = Array.from({ length: 12 }, (_, i) => `hc-${tag}-${String(i).padStart(2, '0')}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const campaign = makeCampaign(`hc-${tag}`, {
      waves: [
        { name: 'first', count: 4, maxParallel: 4, soak: '0s', approval: 'auto' },
        { name: 'rest', maxParallel: 4, soak: '0s' },
      ],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, runs } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const result = await resultWithin(handle);
      await recordHistory(handle, 'history-cost');
      return { result, runs: await historiesOfChain(temporal, handle) };
    });
    expect(result.state).toBe('completed');
    expect(runs).toHaveLength(1);
    const events = runs[0] ?? [];
    const perCluster = events.length / names.length;
    console.log(
      `history events per cluster in the campaign run: ${perCluster.toFixed(1)} ` +
        `(${events.length} events, ${names.length} clusters, maxParallel 4)\n  ${breakdown(events)}`,
    );
    expect(perCluster).toBeLessThanOrEqual(12);
    // The first workflow task records the signed-actions patch (a marker, and Temporal's upsert
    // of TemporalChangeVersion that comes with every patch), asks the worker for its approval
    // policy and resolves the versions in place (local activities: one marker each), and starts
    // the first children, after asking the fleet control for them (the fleet-control patch's
    // marker and upsert, then the takeFleetStarts local activity's marker); it upserts nothing
    // else, since the start set every published attribute.
    const firstTask = events.slice(
      3,
      events.findIndex((e) => Number(e.eventType) === 31),
    );
    expect(firstTask.map((e) => EVENT_NAMES[Number(e.eventType)] ?? String(e.eventType))).toEqual([
      'WorkflowTaskCompleted',
      'MarkerRecorded',
      'UpsertWorkflowSearchAttributes',
      'MarkerRecorded',
      'MarkerRecorded',
      'MarkerRecorded',
      'UpsertWorkflowSearchAttributes',
      // The first start round asks the fleet control (an activity); none runs, so later rounds do not.
      'ActivityTaskScheduled',
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'WorkflowTaskScheduled',
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      ...names.slice(0, 4).map(() => 'StartChildWorkflowExecutionInitiated'),
    ]);
  });
});

describe('campaign workflow: continue-as-new', () => {
  let dedicated: DedicatedTestTemporal;

  beforeAll(async () => {
    dedicated = await startDedicatedTestTemporal({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } });
  }, 120_000);

  afterAll(async () => {
    await dedicated?.teardown();
  });

  /** Runs 12 clusters in two waves across several runs; `workflowsPath` picks the child. */
  async function continueAsNewCampaign(workflowsPath: string | undefined, prefix: string) {
    const tag = uniqueTag();
    const names = Array.from({ length: 12 }, (_, i) => `${prefix}-${tag}-${String(i).padStart(2, '0')}`);
    const fake = createFakeActivities({
      clusters: names.map((n) => fakeCluster(n)),
      // Slow updates keep children in flight while the campaign continues as new.
      beforeCall: (call) =>
        call.name === 'awaitUpdate' ? new Promise((resolve) => setTimeout(resolve, 200)) : undefined,
    });
    const campaign = makeCampaign(`${prefix}-${tag}`, {
      waves: [
        { name: 'first', count: 3, maxParallel: 3, soak: '1s', approval: 'auto' },
        { name: 'rest', maxParallel: 3, soak: '1s' },
      ],
      healthGates: [{ name: 'errors', query: 'x', condition: '< 1', interval: '100ms', phases: ['soak'] }],
    });
    const taskQueue = dedicated.taskQueue('campaign');
    const started = Date.now();
    const { result, status, runs } = await withWorker(
      dedicated,
      taskQueue,
      fake.activities,
      async () => {
        const handle = await startCampaign(
          dedicated,
          taskQueue,
          campaign,
          names.map((n) => fake.member(n)),
        );
        const result = await resultWithin(handle, 150_000);
        const status = await handle.query(statusQuery);
        const runs = await historiesOfChain(dedicated, handle);
        if (workflowsPath) {
          // Every run of the chain: later runs replay the restore-from-carried-state path.
          let runId: string | null | undefined = handle.firstExecutionRunId;
          for (let n = 1; runId; n++) {
            const run = dedicated.client.workflow.getHandle(handle.workflowId, runId);
            await recordHistory(run, `continue-as-new-run-${n}`);
            runId = runs[n - 1]?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
          }
        }
        return { result, status, runs };
      },
      workflowsPath,
    );
    const total = runs.reduce((n, r) => n + r.length, 0);
    console.log(
      `continue-as-new (${workflowsPath ? 'stand-in child' : 'real child'}): ${runs.length} runs ` +
        `(${runs.map((r) => r.length).join(' + ')} = ${total} events, ${(total / names.length).toFixed(1)} per cluster) ` +
        `in ${Date.now() - started} ms`,
    );
    expect(result.state).toBe('completed');
    expect(result.upgraded.sort()).toEqual([...names].sort());
    expect(status.runs).toBe(runs.length);
    expect(status.runs).toBeGreaterThan(1);
    expect(status.clusters.every((c) => c.state === 'upgraded' && c.attempts === 1)).toBe(true);
    const continued = status.audit.filter((a) => a.kind === 'continued-as-new');
    expect(continued).toHaveLength(runs.length - 1);
    console.log(`  ${continued.map((a) => a.detail).join('\n  ')}`);
    // Some run ended with upgrades in flight, which then reported to a later run.
    expect(continued.some((a) => !/; 0 cluster upgrade\(s\) in flight/.test(a.detail ?? ''))).toBe(true);
    expect(status.waves.map((w) => w.state)).toEqual(['promoted', 'completed']);
    // Each cluster was upgraded once across all runs, with the versions pinned by the first run.
    for (const n of names) expect(fake.trace(n, /^preflightCluster$/)).toEqual(['preflightCluster']);
    expect(fake.calls.filter((c) => c.name === 'resolveTargetVersions')).toHaveLength(1);
    // Soak gates of each wave watched every upgraded cluster, even when the soak spanned runs.
    const watched = new Set(fake.calls.filter((c) => c.label === 'watchHealthGates:errors/soak').map((c) => c.cluster));
    expect([...watched].sort()).toEqual([...names].sort());
  }

  it(
    'marks a handed-over child that is terminated after continue-as-new failed instead of waiting for it',
    { timeout: 180_000 },
    async () => {
      const tag = uniqueTag();
      // Enough clusters that the campaign's own events pass the limit of 60 however its workflow tasks
      // batch the children's completions (a loaded machine batches more, and writes fewer events).
      const names = Array.from({ length: 16 }, (_, i) => `cant-${tag}-${i}`);
      const stuck = names[0] as string;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const fake = createFakeActivities({
        clusters: names.map((n) => fakeCluster(n)),
        beforeCall: (call) =>
          call.cluster === stuck && call.label.startsWith('awaitUpdate:control-plane')
            ? heartbeatUntil(released, 200)
            : call.name === 'awaitUpdate'
              ? new Promise((resolve) => setTimeout(resolve, 200))
              : undefined,
      });
      const campaign = makeCampaign(`cant-${tag}`, {
        waves: [{ name: 'all', maxParallel: 3, approval: 'auto', failureBudget: 1 }],
      });
      const taskQueue = dedicated.taskQueue('campaign');
      try {
        const { result, status } = await withWorker(dedicated, taskQueue, fake.activities, async () => {
          const handle = await startCampaign(
            dedicated,
            taskQueue,
            campaign,
            names.map((n) => fake.member(n)),
          );
          // The stuck cluster is still upgrading in a later run: it was handed over.
          await waitForStatus(
            handle,
            (s) => s.runs >= 2 && s.clusters.find((c) => c.name === stuck)?.state === 'upgrading',
            120_000,
            'a later run with the stuck cluster in flight',
          );
          await dedicated.client.workflow.getHandle(clusterUpgradeWorkflowId(stuck)).terminate('operator');
          const result = await resultWithin(handle, 60_000);
          return { result, status: await handle.query(statusQuery) };
        });
        expect(result.state).toBe('completed-with-failures');
        expect(result.failed).toEqual([stuck]);
        expect(result.upgraded.sort()).toEqual(names.filter((n) => n !== stuck).sort());
        expect(status.clusters.find((c) => c.name === stuck)?.reason).toBe(
          'cluster-upgrade workflow terminated without reporting its result',
        );
      } finally {
        release();
      }
    },
  );

  it(
    'continues as new with upgrades in flight and keeps its state (stand-in child that reports by signal)',
    { timeout: 180_000 },
    async () => {
      await continueAsNewCampaign(STANDIN_CHILD_WORKFLOWS, 'cans');
    },
  );

  it(
    'continues as new with upgrades in flight and keeps its state (real cluster-upgrade child)',
    { timeout: 180_000 },
    async () => {
      await continueAsNewCampaign(undefined, 'can');
    },
  );
});

describe('campaign workflow: a soak that is over, and continue-as-new', () => {
  let dedicated: DedicatedTestTemporal;

  beforeAll(async () => {
    // Suggested from about the second workflow task of every run on: each run makes a task or two of
    // progress, then continues as new. A soak run's watch returns in its second task.
    dedicated = await startDedicatedTestTemporal({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 10 } });
  }, 120_000);

  afterAll(async () => {
    await dedicated?.teardown();
  });

  /**
   * Two clusters in one wave with a 2 s soak and a soak gate looked at once per watch (no second look
   * is due before the soak's end), stand-in children; `beforeCall` can slow the fake's calls down.
   */
  async function soakCampaign(prefix: string, beforeCall?: (call: RecordedCall) => Promise<void> | undefined) {
    const tag = uniqueTag();
    const names = ['a', 'b'].map((n) => `${prefix}-${tag}-${n}`);
    const fake = createFakeActivities({
      clusters: names.map((n) => fakeCluster(n)),
      ...(beforeCall ? { beforeCall } : {}),
    });
    const campaign = makeCampaign(`${prefix}-${tag}`, {
      waves: [{ name: 'all', maxParallel: 2, soak: '2s' }],
      healthGates: [{ ...SOAK_GATE, interval: '1h' }],
    });
    const taskQueue = dedicated.taskQueue('campaign');
    const out = await withWorker(
      dedicated,
      taskQueue,
      fake.activities,
      async () => {
        const handle = await startCampaign(
          dedicated,
          taskQueue,
          campaign,
          names.map((n) => fake.member(n)),
        );
        const result = await resultWithin(handle, 60_000);
        return { result, status: await handle.query(statusQuery), runs: await historiesOfChain(dedicated, handle) };
      },
      STANDIN_CHILD_WORKFLOWS,
    );
    const soakEnd = Date.parse(out.status.waves[0]?.soakEndsAt ?? '');
    const looks = fake.calls.filter((c) => c.label === `watchHealthGates:${SOAK_GATE.name}/soak`);
    return { ...out, names, soakEnd, looks, late: looks.filter((c) => c.at >= soakEnd) };
  }

  it(
    'ends a soak that is over before continuing as new, instead of watching its pairs again after its end',
    { timeout: 120_000 },
    async () => {
      // Before the fix every run begun after the soak's end watched, was told to continue as new when
      // its watch returned, and did: the campaign never ended (resultWithin fails after 60 s).
      const { result, runs, names, soakEnd, looks, late } = await soakCampaign('sover');
      expect(result.state).toBe('completed');
      expect(result.upgraded.sort()).toEqual([...names].sort());
      expect(Number.isFinite(soakEnd)).toBe(true);
      console.log(
        `soak over before continue-as-new: ${runs.length} runs, ${looks.length} soak looks, ${late.length} after the soak's end`,
      );
      // The campaign did continue as new around its soak (the setup this test is about) ...
      expect(runs.length).toBeGreaterThan(2);
      // ... and at most the run begun after the soak's end looked once more, at each pair.
      expect(late.length).toBeLessThanOrEqual(names.length);
      // The patch was recorded where a run was told to continue as new with its soak over.
      const patches = runs.flat().flatMap((e) => {
        const a = e.markerRecordedEventAttributes;
        const data = a?.markerName === 'core_patch' ? a.details?.['patch-data']?.payloads?.[0]?.data : undefined;
        return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
      });
      expect(patches).toContain('soak-over-before-continue');
    },
  );

  it(
    "lets a soak whose time is up finish its watches' last looks before continuing as new",
    { timeout: 120_000 },
    async () => {
      // Each look takes longer than the soak: its timer fires while the watches still look.
      const { result, runs, late } = await soakCampaign('send', (call) =>
        call.name === 'watchHealthGates' ? new Promise((resolve) => setTimeout(resolve, 3_000)) : undefined,
      );
      expect(result.state).toBe('completed');
      // The setup: in some run the soak's timer fired, then a workflow task was told to continue as
      // new while that run's watches were still looking.
      const toldWhileLooking = runs.some((events) => {
        const fired = events.findIndex((e) => e.timerFiredEventAttributes);
        return events.some((e, i) => {
          if (fired < 0 || i < fired || !e.workflowTaskStartedEventAttributes?.suggestContinueAsNew) return false;
          const before = events.slice(0, i);
          const answered = new Set(
            before.map((b) => String(b.activityTaskCompletedEventAttributes?.scheduledEventId ?? '')),
          );
          return before.some(
            (b) =>
              b.activityTaskScheduledEventAttributes?.activityType?.name === 'watchHealthGates' &&
              !answered.has(String(b.eventId)),
          );
        });
      });
      expect(toldWhileLooking).toBe(true);
      // The run waited for those looks instead of cancelling them: no pair was looked at again after the end.
      console.log(`soak ending before continue-as-new: ${runs.length} runs, ${late.length} looks after the soak's end`);
      expect(late).toEqual([]);
    },
  );
});
