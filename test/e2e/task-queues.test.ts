/**
 * Reaching every cluster: a campaign over clusters on two networks (fleet label `network`, the
 * fleet file's `taskQueues` rule) served by two workers on two task queues, with the campaign on a
 * third. Real activities against the fleet simulator, on the shared Temporal dev server.
 *
 * Asserted from the histories: the campaign starts each child on its cluster's queue; every
 * activity of a cluster-upgrade run is scheduled on that queue and started by that network's
 * worker, and its workflow tasks (where local activities run) too.
 */
import { randomBytes } from 'node:crypto';
import type { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, createDefaultDeps, type ActivityDeps } from '../../activities/index';
import { createChildrenActivities } from '../../activities/children';
import { createLeaseActivities } from '../../activities/leases';
import { benchCampaign } from '../../bench/lib/campaign';
import { FleetwaveClient, validateStartInput } from '../../client/library';
import { fleetSchema } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';
import { startSimulator, type Simulator } from '../../simulator/index';
import { campaignWorkflowId, clusterUpgradeWorkflowId, type CampaignResult } from '../../workflows/definitions';
import { getWorkflowBundle } from '../helpers/bundle';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';

const TAG = randomBytes(3).toString('hex');
const TIME_SCALE = 1200;
const CREDENTIALS = { accessKeyId: 'AKIDTASKQUEUESE2E', secretAccessKey: 'task-queues-e2e-secret' };
type HistoryEvent = proto.api.history.v1.IHistoryEvent;

let temporal: TestTemporal;
let sim: Simulator;
let deps: ActivityDeps;

const queues = {
  campaign: `tq-${TAG}-campaign`,
  'vpc-a': `tq-${TAG}-vpc-a`,
  'vpc-b': `tq-${TAG}-vpc-b`,
};
const networkOf: Record<string, 'vpc-a' | 'vpc-b'> = {
  [`net-${TAG}-a1`]: 'vpc-a',
  [`net-${TAG}-a2`]: 'vpc-a',
  [`net-${TAG}-b1`]: 'vpc-b',
};

const fleetDoc = {
  apiVersion: API_VERSION,
  kind: 'Fleet',
  taskQueues: { label: 'network', map: { 'vpc-a': queues['vpc-a'], 'vpc-b': queues['vpc-b'] } },
  clusters: Object.entries(networkOf).map(([name, network]) => ({
    name,
    region: 'us-east-1',
    account: '111122223333',
    labels: { network },
    version: '1.30',
    nodegroups: [{ name: 'default', nodes: 2 }],
    addons: [{ name: 'kube-proxy', version: 'v1.30.9-eksbuild.3' }],
  })),
};

beforeAll(async () => {
  temporal = await getTestTemporal();
  sim = await startSimulator({ fleet: fleetSchema.parse(fleetDoc).clusters, timeScale: TIME_SCALE, seed: 7 });
  deps = createDefaultDeps({
    endpoint: sim.url,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    polling: { initialMs: 100, maxMs: 500 },
    waits: { timeScale: TIME_SCALE },
  });
}, 60_000);

afterAll(async () => {
  await sim?.stop();
});

/** A worker as `fleetwave worker` builds it, on `taskQueue`, naming itself `identity` in the histories. */
async function worker(taskQueue: string, identity: string): Promise<Worker> {
  return Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    identity,
    workflowBundle: await getWorkflowBundle(),
    activities: {
      ...createActivities(deps),
      ...createLeaseActivities({ client: temporal.client, taskQueue }),
      ...createChildrenActivities({ client: temporal.client, waits: { timeScale: TIME_SCALE } }),
    },
  });
}

async function historyOf(workflowId: string): Promise<HistoryEvent[]> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

describe('e2e: per-network task queues', () => {
  it("each cluster's upgrade runs only on its own network's worker", async () => {
    const name = `task-queues-${TAG}`;
    const campaignDoc = benchCampaign({
      name,
      targetVersion: '1.31',
      timeScale: TIME_SCALE,
      waves: [{ name: 'all', maxParallel: 3, soakRealMs: 60_000, approval: 'auto', failureBudget: 0 }],
      maxInFlight: 3,
      promGates: false,
    });
    const { campaign, fleet } = validateStartInput({ campaign: campaignDoc, fleet: fleetDoc });
    expect(Object.fromEntries(fleet.map((m) => [m.name, m.taskQueue]))).toEqual(
      Object.fromEntries(Object.entries(networkOf).map(([c, n]) => [c, queues[n]])),
    );

    const identities = {
      campaign: `campaign-worker-${TAG}`,
      'vpc-a': `vpc-a-worker-${TAG}`,
      'vpc-b': `vpc-b-worker-${TAG}`,
    };
    const workers = await Promise.all([
      worker(queues.campaign, identities.campaign),
      worker(queues['vpc-a'], identities['vpc-a']),
      worker(queues['vpc-b'], identities['vpc-b']),
    ]);
    const client = new FleetwaveClient({ client: temporal.client, taskQueue: queues.campaign });
    const run = async (): Promise<CampaignResult> => {
      await client.startCampaign({ campaign, fleet, startedBy: 'task-queues test' });
      return temporal.client.workflow.getHandle(campaignWorkflowId(name)).result() as Promise<CampaignResult>;
    };
    const [a, b, c] = workers;
    const result = await a!.runUntil(b!.runUntil(c!.runUntil(run)));
    expect(result.state).toBe('completed');
    expect([...result.upgraded].sort()).toEqual(Object.keys(networkOf).sort());

    // The campaign started each child on its cluster's queue, and ran no activity of its own elsewhere.
    const campaignEvents = await historyOf(campaignWorkflowId(name));
    const childQueues = campaignEvents
      .filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      .map((e) => {
        const at = e.startChildWorkflowExecutionInitiatedEventAttributes!;
        return [at.workflowId, at.taskQueue?.name];
      });
    expect(Object.fromEntries(childQueues)).toEqual(
      Object.fromEntries(Object.entries(networkOf).map(([c, n]) => [clusterUpgradeWorkflowId(c), queues[n]])),
    );

    for (const [cluster, network] of Object.entries(networkOf)) {
      const events = await historyOf(clusterUpgradeWorkflowId(cluster));
      const scheduled = events.flatMap((e) =>
        e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : [],
      );
      const started = events.flatMap((e) =>
        e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : [],
      );
      const workflowTasks = events.flatMap((e) =>
        e.workflowTaskStartedEventAttributes ? [e.workflowTaskStartedEventAttributes] : [],
      );
      const localActivities = events.filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      expect(scheduled.length, cluster).toBeGreaterThan(0);
      expect(localActivities.length, cluster).toBeGreaterThan(0);
      expect(new Set(scheduled.map((s) => s.taskQueue?.name)), cluster).toEqual(new Set([queues[network]]));
      expect(new Set(started.map((s) => s.identity)), cluster).toEqual(new Set([identities[network]]));
      // Local activities (preflight, quick writes) run in the worker that runs the workflow task.
      expect(new Set(workflowTasks.map((s) => s.identity)), cluster).toEqual(new Set([identities[network]]));
    }
  }, 180_000);
});
