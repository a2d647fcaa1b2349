/**
 * Shared set-up for the workflow tests: validated campaigns from short spec fragments, unique
 * names (the tests share one Temporal server, and `cluster-upgrade/<name>` is namespace-wide), a
 * worker per test over the fake activities, and polling helpers; for the cluster-upgrade tests, a
 * base spec and one run of the workflow on one fake cluster.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { FleetMember } from '../../domain/fleet';
import { campaignSchema, type Campaign, type CampaignInput, type HealthGateSpec } from '../../domain/spec';
import type { FleetwaveActivities } from '../../activities/types';
import {
  campaignWorkflowId,
  clusterAbortSignal,
  clusterUpgradeWorkflowId,
  statusQuery,
  type CampaignResult,
  type CampaignStatus,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
  WorkflowTypes,
  type CampaignWorkflowInput,
} from '../../workflows/definitions';
import { explainNondeterminism, isNondeterminism } from './history-outline';
import {
  CampaignNameKey,
  campaignStartAttributes,
  ClusterNameKey,
  TargetVersionKey,
  UpgradeStepKey,
} from '../../workflows/search-attributes';
import type { campaignWorkflow } from '../../workflows/campaign';
import type { clusterUpgradeWorkflow } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import {
  createFakeActivities,
  fakePinned,
  heartbeatUntil,
  type FakeActivities,
  type FakeClusterInit,
  type RecordedCall,
} from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { createChildrenActivities } from '../../activities/children';
import { createLeaseActivities } from '../../activities/leases';
import { fleetwaveDataConverter } from '../../client/payload-codec';
import { recordHistoryFixture } from './history-fixtures';
export { historyFromJson, historyToJson } from './history-json';

/** The test server once the bundle of `workflowsPath` is built, so the first test does not pay for it. */
async function testTemporalWith(workflowsPath?: string): Promise<TestTemporal> {
  const [temporal] = await Promise.all([getTestTemporal(), getWorkflowBundle(workflowsPath)]);
  return temporal;
}

/** The test server, with the bundle of every fleetwave workflow built alongside (for a suite's `beforeAll`). */
export function campaignTestTemporal(): Promise<TestTemporal> {
  return testTemporalWith();
}

/** A soak gate looked at every 100 ms: green unless a fake cluster's `failGates` says otherwise. */
export const SOAK_GATE = {
  name: 'error-rate',
  query: 'rate(x[1m])',
  condition: '< 0.01',
  interval: '100ms',
  phases: ['soak' as const],
};

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
  const handle = await temporal.client.workflow.start<typeof campaignWorkflow>(WorkflowTypes.campaign, {
    workflowId: campaignWorkflowId(name),
    taskQueue,
    args: [input],
    typedSearchAttributes: campaignStartAttributes(name, target, fleet.length),
    workflowExecutionTimeout: '10 minutes',
  });
  return withReplayEvidence(handle);
}

/**
 * `handle`, whose queries answer a nondeterminism error (met when the worker replays the history
 * to answer) with the saved history and an outline of its workflow tasks (./history-outline.ts).
 */
function withReplayEvidence(handle: CampaignHandle): CampaignHandle {
  const query = handle.query.bind(handle);
  const explained: CampaignHandle['query'] = async (...args) => {
    try {
      return await query(...args);
    } catch (err) {
      if (!isNondeterminism(err)) throw err;
      throw await explainNondeterminism(err as Error, handle.workflowId, () => handle.fetchHistory());
    }
  };
  handle.query = explained;
  return handle;
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

/** The cluster-upgrade workflow and its report sink as the upgrade tests register them. */
export const UPGRADE_TEST_WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/upgrade-test-workflows.ts');

/** The test server, with the upgrade tests' bundle built alongside (for a suite's `beforeAll`). */
export function upgradeTestTemporal(): Promise<TestTemporal> {
  return testTemporalWith(UPGRADE_TEST_WORKFLOWS);
}

export type UpgradeSpec = ClusterUpgradeInput['spec'];
export type UpgradeHandle = WorkflowHandle<typeof clusterUpgradeWorkflow>;

/** A gate on the cluster's error rate in every phase, green unless the fake is told otherwise. */
export function upgradeGate(name: string, extra: Partial<HealthGateSpec> = {}): HealthGateSpec {
  return {
    name,
    query: `sum(rate(errors{cluster="{{cluster}}"}[5m]))`,
    condition: '< 0.01',
    interval: '30s',
    initialDelay: '0s',
    consecutiveSuccesses: 2,
    failureLimit: 0,
    inconclusiveLimit: 3,
    consecutiveErrorLimit: 4,
    timeout: '10m',
    phases: ['baseline', 'postStep', 'bake', 'soak'],
    ...extra,
  };
}

/** A cluster-upgrade spec to 1.31: one gate `error-rate`, every rollback on, a 5m bake; `overrides` replace whole fields. */
export function upgradeSpec(overrides: Partial<UpgradeSpec> = {}): UpgradeSpec {
  return {
    healthGates: [upgradeGate('error-rate')],
    kubernetesChecks: { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true },
    rollback: { onGateFailure: true, onUpdateFailure: true, controlPlane: true },
    nodegroups: { maxParallel: 2, force: false },
    bake: '5m',
    target: {
      kubernetesVersion: '1.31',
      nodegroupRelease: 'latest',
      addons: 'default',
      skipAddons: false,
      skipNodegroups: false,
    },
    ...overrides,
  };
}

/** The input of one cluster's upgrade to `targetVersion` (none: the workflow reads spec.target), with versions pinned for `minors`. */
export function upgradeInput(
  name: string,
  spec: UpgradeSpec,
  targetVersion: string | undefined,
  minors: string[],
): ClusterUpgradeInput {
  return {
    campaign: 'test-campaign',
    cluster: { name, region: 'eu-west-1' },
    ...(targetVersion ? { targetVersion } : {}),
    pinned: fakePinned(minors, targetVersion),
    spec,
    attempt: 1,
  };
}

/** A worker for the test upgrade workflows over `activities`. */
export async function upgradeWorker(
  temporal: TestTemporal,
  taskQueue: string,
  activities: FakeActivities['activities'],
  options: Partial<WorkerOptions> = {},
): Promise<Worker> {
  return Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: await getWorkflowBundle(UPGRADE_TEST_WORKFLOWS),
    activities,
    // Pause and abort reach a composite step with its next heartbeat: don't wait the default minute.
    maxHeartbeatThrottleInterval: '200ms',
    ...options,
  });
}

/** One cluster upgrade on a fresh fake cluster, for `runClusterUpgrade`. */
export interface UpgradeScenario {
  /** The cluster is named `<prefix>-<8 hex>`. */
  prefix: string;
  /** The task queue is named `<queue>-<uuid>`. */
  queue: string;
  cluster?: Omit<FakeClusterInit, 'name'> | undefined;
  spec: UpgradeSpec;
  /** Default '1.31'; given as undefined, the input has none. */
  targetVersion?: string | undefined;
  /** Minors with pinned versions (default 1.30 and 1.31). */
  minors?: string[];
  /** Input fields set over the defaults (pinned AMIs, a parent campaign). */
  input?: Partial<ClusterUpgradeInput>;
  /** 'all': CampaignName, ClusterName, TargetVersion (as a campaign sets them) and UpgradeStep=preflight at start. */
  startSearchAttributes?: 'all' | undefined;
  beforeCall?: ((call: RecordedCall) => Promise<void> | void) | undefined;
  /** Runs against the started workflow before its result is awaited. */
  during?: ((handle: UpgradeHandle, fake: FakeActivities, name: string) => Promise<void>) | undefined;
  /** With FLEETWAVE_RECORD_HISTORIES=1, the history is saved as test/fixtures/histories/cluster-upgrade-<record>.json. */
  record?: string | undefined;
}

/** What one cluster upgrade left: its result, the fake's record of calls, its history. */
export interface UpgradeRun {
  name: string;
  result: ClusterUpgradeResult;
  fake: FakeActivities;
  handle: UpgradeHandle;
  history: Awaited<ReturnType<UpgradeHandle['fetchHistory']>>;
  events: number;
}

/** Runs `cluster-upgrade/<name>` to its end on its own worker and task queue. */
export async function runClusterUpgrade(temporal: TestTemporal, scenario: UpgradeScenario): Promise<UpgradeRun> {
  const name = `${scenario.prefix}-${randomUUID().slice(0, 8)}`;
  const fake = createFakeActivities({
    clusters: [{ name, ...scenario.cluster }],
    ...(scenario.beforeCall ? { beforeCall: scenario.beforeCall } : {}),
  });
  const targetVersion = 'targetVersion' in scenario ? scenario.targetVersion : '1.31';
  const input: ClusterUpgradeInput = {
    ...upgradeInput(name, scenario.spec, targetVersion, scenario.minors ?? ['1.30', '1.31']),
    ...scenario.input,
  };
  const taskQueue = temporal.taskQueue(scenario.queue);
  const worker = await upgradeWorker(temporal, taskQueue, fake.activities);
  return worker.runUntil(async () => {
    const handle = await temporal.client.workflow.start<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
      workflowId: clusterUpgradeWorkflowId(name),
      taskQueue,
      args: [input],
      ...(scenario.startSearchAttributes === 'all'
        ? {
            typedSearchAttributes: [
              { key: CampaignNameKey, value: input.campaign },
              { key: ClusterNameKey, value: name },
              { key: TargetVersionKey, value: targetVersion ?? '' },
              { key: UpgradeStepKey, value: 'preflight' },
            ],
          }
        : {}),
    });
    await scenario.during?.(handle, fake, name);
    const result = await handle.result();
    const history = await handle.fetchHistory();
    if (scenario.record) await recordHistoryFixture(handle, `cluster-upgrade-${scenario.record}`);
    return { name, result, fake, handle, history, events: history.events?.length ?? 0 };
  });
}

/**
 * Hooks for `runClusterUpgrade`: the first call `matches` picks is held until cancelled (it
 * heartbeats, so the cancellation reaches it), and once it started the upgrade is aborted by carol.
 */
export function abortWhenCalled(
  matches: (call: RecordedCall) => boolean,
  what: string,
): {
  beforeCall: (call: RecordedCall) => Promise<void> | undefined;
  during: (handle: UpgradeHandle) => Promise<void>;
} {
  let started = false;
  return {
    beforeCall: (call) => {
      if (!matches(call)) return undefined;
      started = true;
      return heartbeatUntil(new Promise(() => undefined));
    },
    during: async (handle) => {
      const deadline = Date.now() + 20_000;
      while (!started) {
        if (Date.now() > deadline) throw new Error(`${what} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await handle.signal(clusterAbortSignal, { by: 'carol' });
    },
  };
}
