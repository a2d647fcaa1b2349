/**
 * Shared set-up for the campaign workflow tests: validated campaigns from short spec
 * fragments, unique names (the tests share one Temporal server, and `cluster-upgrade/<name>`
 * is namespace-wide), a worker per test over the fake activities, and polling helpers.
 */
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { FleetMember } from '../../domain/fleet';
import { campaignSchema, type Campaign, type CampaignInput } from '../../domain/spec';
import type { FleetwaveActivities } from '../../activities/types';
import {
  campaignWorkflowId,
  statusQuery,
  type CampaignResult,
  type CampaignStatus,
  type CampaignWorkflowInput,
} from '../../workflows/definitions';
import {
  CampaignNameKey,
  CampaignStateKey,
  ClustersTotalKey,
  TargetVersionKey,
} from '../../workflows/search-attributes';
import type { campaignWorkflow } from '../../workflows/campaign';
import { getWorkflowBundle } from '../helpers/bundle';
import type { TestTemporal } from '../helpers/temporal';

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

export type CampaignHandle = WorkflowHandle<typeof campaignWorkflow>;

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
  return temporal.client.workflow.start<typeof campaignWorkflow>('campaignWorkflow', {
    workflowId: campaignWorkflowId(name),
    taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: CampaignNameKey, value: name },
      { key: CampaignStateKey, value: 'planning' },
      ...(target ? [{ key: TargetVersionKey, value: target }] : []),
      { key: ClustersTotalKey, value: fleet.length },
    ],
    workflowExecutionTimeout: '10 minutes',
  });
}

/** Runs `fn` with a worker on `taskQueue` serving every fleetwave workflow over `activities`. */
export async function withWorker<T>(
  temporal: TestTemporal,
  taskQueue: string,
  activities: Partial<FleetwaveActivities> & Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: await getWorkflowBundle(),
    activities,
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

/** Child workflow start times (from the campaign's history), per cluster, in start order. */
export async function childStarts(handle: CampaignHandle): Promise<{ cluster: string; at: number }[]> {
  const history = await handle.fetchHistory();
  const out: { cluster: string; at: number }[] = [];
  for (const event of history.events ?? []) {
    const attrs = event.childWorkflowExecutionStartedEventAttributes;
    if (!attrs) continue;
    const id = attrs.workflowExecution?.workflowId ?? '';
    const seconds = Number(event.eventTime?.seconds ?? 0);
    const nanos = event.eventTime?.nanos ?? 0;
    out.push({ cluster: id.replace(/^cluster-upgrade\//, ''), at: seconds * 1000 + Math.floor(nanos / 1e6) });
  }
  return out;
}
