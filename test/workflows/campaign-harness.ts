/**
 * Shared set-up for the campaign workflow tests: validated campaigns from short spec
 * fragments, unique names (the tests share one Temporal server, and `cluster-upgrade/<name>`
 * is namespace-wide), a worker per test over the fake activities, and polling helpers.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { FleetMember } from '../../domain/fleet';
import { campaignSchema, type Campaign, type CampaignInput } from '../../domain/spec';
import type { FleetwaveActivities } from '../../activities/types';
import {
  campaignWorkflowId,
  statusQuery,
  type CampaignResult,
  type CampaignStatus,
  WorkflowTypes,
  type CampaignWorkflowInput,
} from '../../workflows/definitions';
import { campaignStartAttributes } from '../../workflows/search-attributes';
import type { campaignWorkflow } from '../../workflows/campaign';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import type { TestTemporal } from '../helpers/temporal';
import { createChildrenActivities } from '../../activities/children';
import { createLeaseActivities } from '../../activities/leases';
import { fleetwaveDataConverter } from '../../client/payload-codec';
import { recordHistoryFixture } from './history-fixtures';
export { historyFromJson, historyToJson } from './history-json';

/** A short random tag so names never collide between tests or runs on one server. */
export function uniqueTag(): string {
  return randomBytes(3).toString('hex');
}

/** A validated campaign from a spec fragment (defaults filled in by the real schema). */
export function makeCampaign(name: string, spec: Partial<CampaignInput['spec']>): Campaign {
  return campaignSchema.parse({
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name },
    spec: {
      target: { kubernetesVersion: '1.31' },
      bake: '0s',
      waves: [{ name: 'all', maxParallel: 10, approval: 'auto' }],
      ...spec,
    },
  });
}

export type CampaignHandle = WorkflowHandleWithFirstExecutionRunId<typeof campaignWorkflow>;

/** Starts `campaign/<name>` the way the client library does (same search attributes). */
export async function startCampaign(
  temporal: TestTemporal,
  taskQueue: string,
  campaign: Campaign,
  fleet: FleetMember[],
  startedBy = 'test',
): Promise<CampaignHandle> {
  const name = campaign.metadata.name;
  const target = campaign.spec.target.kubernetesVersion;
  const input: CampaignWorkflowInput = { campaign, fleet, startedBy };
  return temporal.client.workflow.start<typeof campaignWorkflow>(WorkflowTypes.campaign, {
    workflowId: campaignWorkflowId(name),
    taskQueue,
    args: [input],
    typedSearchAttributes: campaignStartAttributes(name, target, fleet.length),
    workflowExecutionTimeout: '10 minutes',
  });
}

/**
 * Runs `fn` with a worker on `taskQueue` serving every fleetwave workflow (or those of
 * `workflowsPath`) over `activities`.
 */
export async function withWorker<T>(
  temporal: TestTemporal,
  taskQueue: string,
  activities: Partial<FleetwaveActivities> & Record<string, unknown>,
  fn: () => Promise<T>,
  workflowsPath?: string,
): Promise<T> {
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    dataConverter: fleetwaveDataConverter,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: await getWorkflowBundle(workflowsPath),
    // The campaign's watch of handed-over children (after continue-as-new) uses the real activity.
    // So does the fleet control's admission (`takeFleetStarts`): no calendar on a test's own queue admits all.
    activities: {
      ...createChildrenActivities({ client: temporal.client, pollIntervalMs: 500 }),
      ...createLeaseActivities({ client: temporal.client, taskQueue }),
      ...activities,
    },
  });
  return worker.runUntil(fn);
}

/** Polls the status query until `predicate` holds (or fails after `timeoutMs` with the last status). */
export async function waitForStatus(
  handle: CampaignHandle,
  predicate: (status: CampaignStatus) => boolean,
  timeoutMs = 30_000,
  what = 'status condition',
): Promise<CampaignStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CampaignStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
      if (predicate(last)) return last;
    } catch {
      // The first workflow task may not have run yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(summarize(last), null, 1)}`);
}

/** The parts of a status worth printing when a wait fails. */
export function summarize(status: CampaignStatus | undefined): unknown {
  if (!status) return undefined;
  return {
    state: status.state,
    currentWave: status.currentWave,
    pausedReason: status.pausedReason,
    waves: status.waves.map((w) => `${w.name}:${w.state}`),
    clusters: status.clusters.map((c) => `${c.name}:${c.state}${c.waitingFor ? ` (${c.waitingFor})` : ''}`),
    audit: status.audit.slice(-8).map((a) => `${a.kind} ${a.wave ?? ''} ${a.cluster ?? ''} ${a.detail ?? ''}`),
  };
}

/** The campaign's result with a timeout, so a stuck workflow fails the test instead of hanging it. */
export async function resultWithin(handle: CampaignHandle, timeoutMs = 60_000): Promise<CampaignResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void handle
        .query(statusQuery)
        .catch(() => undefined)
        .then((status) =>
          reject(
            new Error(`campaign did not finish within ${timeoutMs} ms: ${JSON.stringify(summarize(status), null, 1)}`),
          ),
        );
    }, timeoutMs);
  });
  try {
    return await Promise.race([handle.result(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds since the epoch of a history event. */
function eventMs(event: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }): number {
  return Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
}

/** One cluster upgrade as the campaign's history shows it: when its child was initiated and when it ended. */
export interface ChildSpan {
  cluster: string;
  /** StartChildWorkflowExecutionInitiated time. */
  startAt: number;
  startEventId: number;
  /** The first of its clusterFinished signal and its ChildWorkflowExecutionCompleted (absent: still running). */
  endAt?: number;
  endEventId?: number;
}

/** Child upgrades in the campaign's (current run's) history, in start order. */
export async function childSpans(handle: CampaignHandle): Promise<ChildSpan[]> {
  const history = await handle.fetchHistory();
  const spans: ChildSpan[] = [];
  const open = new Map<string, ChildSpan>();
  const end = (cluster: string, at: number, id: number) => {
    const span = open.get(cluster);
    if (!span) return;
    span.endAt = at;
    span.endEventId = id;
    open.delete(cluster);
  };
  for (const event of history.events ?? []) {
    const id = Number(event.eventId ?? 0);
    const initiated = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (initiated) {
      const cluster = (initiated.workflowId ?? '').replace(/^cluster-upgrade\//, '');
      const span: ChildSpan = { cluster, startAt: eventMs(event), startEventId: id };
      spans.push(span);
      open.set(cluster, span);
    }
    const completed =
      event.childWorkflowExecutionCompletedEventAttributes ??
      event.childWorkflowExecutionFailedEventAttributes ??
      event.childWorkflowExecutionTerminatedEventAttributes;
    if (completed)
      end((completed.workflowExecution?.workflowId ?? '').replace(/^cluster-upgrade\//, ''), eventMs(event), id);
    const signaled = event.workflowExecutionSignaledEventAttributes;
    if (signaled?.signalName === 'clusterFinished') {
      const data = signaled.input?.payloads?.[0]?.data;
      if (data) {
        const finished = JSON.parse(Buffer.from(data).toString('utf8')) as { cluster: string };
        end(finished.cluster, eventMs(event), id);
      }
    }
  }
  return spans;
}

/** Most spans open at once, per value of `groupOf(cluster)`, replaying the history in event order. */
export function maxConcurrent(spans: ChildSpan[], groupOf: (cluster: string) => string): Record<string, number> {
  const points: { id: number; group: string; delta: number }[] = [];
  for (const s of spans) {
    points.push({ id: s.startEventId, group: groupOf(s.cluster), delta: 1 });
    if (s.endEventId !== undefined) points.push({ id: s.endEventId, group: groupOf(s.cluster), delta: -1 });
  }
  points.sort((x, y) => x.id - y.id);
  const now: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const p of points) {
    now[p.group] = (now[p.group] ?? 0) + p.delta;
    max[p.group] = Math.max(max[p.group] ?? 0, now[p.group] ?? 0);
  }
  return max;
}

/** The campaign with a stand-in child that only reports (test/fixtures/campaign-standin-child.ts). */
export const STANDIN_CHILD_WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/campaign-standin-child.ts');

/** Where the replay tests find the histories recorded by the current code. */
export { HISTORIES_DIR } from '../helpers/history-manifest';

/**
 * Saves the campaign's history as `test/fixtures/histories/campaign-<name>.json` (and its manifest
 * entry) when FLEETWAVE_RECORD_HISTORIES=1 (re-record after a deliberate, patched change to the
 * workflow: `FLEETWAVE_RECORD_HISTORIES=1 npx vitest run test/workflows/campaign`). A no-op otherwise.
 */
export async function recordHistory(handle: Pick<CampaignHandle, 'fetchHistory'>, name: string): Promise<void> {
  await recordHistoryFixture(handle, `campaign-${name}`);
}
