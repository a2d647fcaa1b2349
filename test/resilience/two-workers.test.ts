/**
 * (e) Two workers, one dies: two `fleetwave worker` processes poll the same task queue, and one is
 * killed with SIGKILL while it runs EKS steps of the second wave. Nobody restarts it. The survivor
 * must finish the campaign with exactly one accepted EKS mutation per cluster step, and take over
 * without waiting longer than the timeouts that bound it:
 *
 * - an activity running on the dead worker: until its heartbeat timeout (1 min for the EKS steps
 *   and the health checks, counted from its last heartbeat that reached the server), then the
 *   retry policy's first interval (5–10 s). EKS waits park between looks (activities/waiting.ts)
 *   and are on no worker then: the survivor simply takes their next look;
 * - a workflow task for a workflow cached on the dead worker (its sticky queue): the worker's
 *   sticky schedule-to-start timeout (10 s), unless the server already knows that the sticky
 *   poller is gone;
 * - a workflow task (with its local activities) that the dead worker had started: the workflow
 *   task timeout (10 s).
 *
 * The takeover delays (SIGKILL → the survivor starting the activity's next attempt, or the
 * workflow's next workflow task) are read from the histories and printed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { campaignProgress, driveCampaign } from '../../bench/lib/driver';
import { eventMs, type RunHistory } from '../../bench/lib/histories';
import type { Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import type { WorkerProcess } from '../../bench/lib/worker-process';
import { WorkflowTypes } from '../../workflows/definitions';
import {
  approversOf,
  canaryThenRest,
  sleep,
  smallFleet,
  startTwoWorkers,
  testCampaign,
  testWorkspace,
} from './harness';

const SEED = 7_331;

/** The longest heartbeat timeout of the activities in flight, plus the largest first retry interval and slack. */
const ACTIVITY_TAKEOVER_LIMIT_MS = 60_000 + 10_000 + 15_000;
/** Sticky schedule-to-start or workflow task timeout (10 s each), plus slack for 2 busy cores. */
const WORKFLOW_TASK_TAKEOVER_LIMIT_MS = 10_000 + 10_000;

describe('resilience: two workers, one killed with SIGKILL', () => {
  let stack: Stack | undefined;
  let survivor: WorkerProcess | undefined;
  afterAll(async () => {
    await survivor?.stop();
    await stack?.stop();
  });

  it('finishes the campaign on the survivor with exactly one mutation per step', async () => {
    const { dir, log } = testWorkspace('two-workers');
    // Both workers load one prebuilt bundle (as an image does): bundling twice would cost a minute of CPU.
    const fleet = smallFleet(16, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'resilience-two-workers',
      waves: canaryThenRest(2, 6),
      maxInFlight: 6,
    });
    const started2 = await startTwoWorkers({ fleet, seed: SEED, dir, log });
    ({ stack, survivor } = started2);
    const { victimId, survivorId } = started2;
    const s = started2.stack;

    const name = campaign.metadata.name;
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    log(`campaign started: ${planned} clusters planned`);
    let finished = false;
    const driving = driveCampaign(s.client, { name, approvers: approversOf(campaign), log }).finally(() => {
      finished = true;
    });

    // Kill once the second wave runs and the victim holds at least one running EKS step.
    while (!finished) {
      const p = await campaignProgress(s.client, name).catch(() => undefined);
      if (p?.wave === 'rest' && p.state === 'running') break;
      await sleep(200);
    }
    let victimActivities: string[] = [];
    for (let i = 0; i < 100 && !finished && victimActivities.length === 0; i++) {
      victimActivities = await activitiesRunningOn(s, victimId);
      if (victimActivities.length === 0) await sleep(200);
    }
    const killedAt = Date.now();
    await s.worker.kill9();
    // The victim may still take a task between killedAt and its death (the kill is not instant);
    // from goneAt on, its process has exited, so nothing can run on it.
    const goneAt = Date.now();
    log(`victim SIGKILLed while running ${victimActivities.join(', ') || 'nothing'}`);

    const { result } = await driving;
    log(`campaign ${result.state}, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name);
    log(`outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations`);
    for (const line of status ? describeNotUpgraded(status) : []) log(`  ${line}`);

    const runs = [...(v.histories.get(name)?.campaignRuns ?? []), ...v.clusterRuns];
    const activities = activityTakeovers(runs, killedAt);
    const tasks = workflowTaskTakeovers(runs, killedAt, victimId);
    const report = [
      `takeover after SIGKILL (victim ${victimId}, survivor ${survivorId}):`,
      ...activities.map(
        (t) =>
          `  activity ${t.what} of ${t.workflowId}: attempt ${t.attempt} started ${seconds(t.delayMs)} after the kill (previous attempt: ${t.reason})`,
      ),
      ...tasks.map(
        (t) =>
          `  workflow task of ${t.workflowId}: waited ${seconds(t.delayMs)} for the survivor${t.reason ? ` (${t.reason})` : ''}`,
      ),
      `  activities: ${activities.length}, longest ${seconds(Math.max(0, ...activities.map((t) => t.delayMs)))}; ` +
        `workflow tasks: ${tasks.length}, longest ${seconds(Math.max(0, ...tasks.map((t) => t.delayMs)))}`,
    ];
    for (const line of report) log(line);
    console.log(report.join('\n'));

    expect(victimActivities.length).toBeGreaterThan(0);
    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(status?.clusters.filter((c) => c.state === 'upgraded').length).toBeGreaterThan(planned / 2);
    // The steps the victim was running were taken over by the survivor, within their bound. An EKS
    // wait parks between looks, so the victim rarely holds one when it dies (its looks last
    // milliseconds): what it held may be only workflow tasks and a gate's checks.
    expect(activities.length + tasks.length).toBeGreaterThan(0);
    for (const t of activities) {
      expect(t.identity, `${t.workflowId} ${t.what}`).toBe(survivorId);
      expect(t.delayMs, `${t.workflowId} ${t.what}`).toBeLessThan(ACTIVITY_TAKEOVER_LIMIT_MS);
    }
    for (const t of tasks) expect(t.delayMs, t.workflowId).toBeLessThan(WORKFLOW_TASK_TAKEOVER_LIMIT_MS);
    // After the kill, every workflow task and activity was completed by the survivor. (The server
    // may still hand a task to a poll the dead worker had open: that task is started "on" the
    // victim and times out, which is the start-to-close takeover measured above.)
    expect(completedAfter(runs, goneAt).filter((id) => id !== survivorId)).toEqual([]);
    expect(completedAfter(runs, goneAt)).toContain(survivorId);
  });
});

/** "<activity type>@<cluster>" of every activity a worker is running now, from DescribeWorkflowExecution. */
async function activitiesRunningOn(s: Stack, identity: string): Promise<string[]> {
  const out: string[] = [];
  const running = s.client.client.workflow.list({
    query: `WorkflowType = "${WorkflowTypes.clusterUpgrade}" AND ExecutionStatus = "Running"`,
  });
  for await (const w of running) {
    const d = await s.client.client.workflow
      .getHandle(w.workflowId, w.runId)
      .describe()
      .catch(() => undefined);
    for (const a of d?.raw.pendingActivities ?? []) {
      // PENDING_ACTIVITY_STATE_STARTED = 2
      if (a.lastWorkerIdentity === identity && a.state === 2) out.push(`${a.activityType?.name}@${w.workflowId}`);
    }
  }
  return out;
}

interface Takeover {
  workflowId: string;
  what: string;
  /** SIGKILL → the next attempt or workflow task started. */
  delayMs: number;
  identity: string;
  attempt: number;
  reason: string;
}

/**
 * Activity attempts started after the kill whose previous attempt timed out: the attempts the dead
 * worker left behind. The history keeps one ActivityTaskStarted per activity (the last attempt),
 * stamped with that attempt's start time and carrying the previous attempt's failure.
 */
function activityTakeovers(runs: readonly RunHistory[], killedAt: number): Takeover[] {
  const out: Takeover[] = [];
  for (const run of runs) {
    const types = new Map<string, string>();
    for (const e of run.events) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      const timeout = started?.lastFailure?.timeoutFailureInfo;
      if (!started || !timeout || eventMs(e) < killedAt) continue;
      out.push({
        workflowId: run.workflowId,
        what: types.get(String(started.scheduledEventId)) ?? '?',
        delayMs: eventMs(e) - killedAt,
        identity: started.identity ?? '?',
        attempt: started.attempt ?? 0,
        reason: `${timeoutName(timeout.timeoutType)} timeout`,
      });
    }
  }
  return out;
}

/**
 * Per run whose last workflow task before the kill ran on the victim (so the run was cached there
 * and its next task went to the victim's sticky queue): how long its first workflow task after the
 * kill waited (from the kill, or from when it was scheduled if later) until the survivor started it,
 * and which timeout, if any, released it.
 */
function workflowTaskTakeovers(runs: readonly RunHistory[], killedAt: number, victim: string): Takeover[] {
  const out: Takeover[] = [];
  for (const run of runs) {
    let lastOwner: string | undefined;
    let pendingSince: number | undefined;
    let attempt = 0;
    let reason = '';
    for (const e of run.events) {
      const at = eventMs(e);
      const started = e.workflowTaskStartedEventAttributes;
      attempt = e.workflowTaskScheduledEventAttributes?.attempt ?? attempt;
      const timedOut = e.workflowTaskTimedOutEventAttributes;
      if (e.workflowTaskScheduledEventAttributes) pendingSince ??= at;
      if (e.workflowTaskCompletedEventAttributes) pendingSince = undefined;
      if (at < killedAt) {
        if (started) lastOwner = started.identity ?? undefined;
        continue;
      }
      if (lastOwner !== victim) break;
      if (timedOut) reason = `${timeoutName(timedOut.timeoutType)} timeout`;
      if (started && started.identity !== victim) {
        out.push({
          workflowId: run.workflowId,
          what: 'workflow task',
          delayMs: at - Math.max(pendingSince ?? at, killedAt),
          identity: started.identity ?? '?',
          attempt,
          reason,
        });
        break;
      }
    }
  }
  return out;
}

/** Identities of the workers that completed a workflow task or an activity at or after `at`. */
function completedAfter(runs: readonly RunHistory[], at: number): string[] {
  return [
    ...new Set(
      runs.flatMap((r) =>
        r.events
          .filter((e) => eventMs(e) >= at)
          .map(
            (e) => e.workflowTaskCompletedEventAttributes?.identity ?? e.activityTaskCompletedEventAttributes?.identity,
          )
          .filter((id): id is string => typeof id === 'string'),
      ),
    ),
  ];
}

/** TimeoutType enum → name (temporal.api.enums.v1.TimeoutType). */
function timeoutName(type: number | null | undefined): string {
  return ['unspecified', 'start-to-close', 'schedule-to-start', 'schedule-to-close', 'heartbeat'][type ?? 0] ?? '?';
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
