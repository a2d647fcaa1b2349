/**
 * Reaching every cluster: a campaign over clusters on two networks (fleet label `network`, the
 * fleet file's `taskQueues` rule) served by two workers on two task queues, with the campaign on a
 * third. Real activities against the fleet simulator, on the shared Temporal dev server.
 *
 * Asserted from the histories: the campaign starts each child on its cluster's queue; every
 * activity of a cluster-upgrade run is scheduled on that queue and started by that network's
 * worker, and its workflow tasks (where local activities run) too.
 *
 * Preflight asks the API server for the permissions the plan uses: a cluster whose access entry
 * carries only AmazonEKSViewPolicy is blocked, naming them, and nothing is changed on it, while a
 * cluster-admin cluster in the same campaign upgrades.
 *
 * `fleetwave doctor` (the CLI, as a process) over the same workers: a cluster whose access entry
 * carries only AmazonEKSViewPolicy is named with the permissions RBAC refuses, a cluster without an
 * access entry is named too, and a cluster whose queue no worker polls is reported as unserved.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createActivities,
  createClusterAccessActivities,
  createDefaultDeps,
  type ActivityDeps,
} from '../../activities/index';
import { createChildrenActivities } from '../../activities/children';
import { createLeaseActivities } from '../../activities/leases';
import { benchCampaign } from '../../bench/lib/campaign';
import { FleetwaveClient, validateStartInput } from '../../client/library';
import { fleetSchema } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';
import { startSimulator, type Simulator } from '../../simulator/index';
import {
  campaignWorkflowId,
  clusterUpgradeWorkflowId,
  type CampaignResult,
  type ClusterUpgradeResult,
} from '../../workflows/definitions';
import type { ClusterAccessReport } from '../../domain/access';
import { getWorkflowBundle } from '../helpers/bundle';
import { runCli } from '../helpers/cli';
import { recordHistoryFixture } from '../workflows/history-fixtures';
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

/**
 * Clusters outside the first campaign: a view-only access entry, a cluster-admin one beside it (the
 * campaign of the preflight test), no access entry, a queue nobody serves.
 */
const doctorOnly = [
  { name: `view-${TAG}`, network: 'vpc-b', accessPolicy: 'AmazonEKSViewPolicy' },
  { name: `admin-${TAG}`, network: 'vpc-b' },
  { name: `noentry-${TAG}`, network: 'vpc-a', accessPolicy: 'none' },
  { name: `unserved-${TAG}`, network: 'vpc-c' },
].map(({ name, network, accessPolicy }) => ({
  name,
  region: 'us-east-1',
  account: '111122223333',
  labels: { network },
  version: '1.30',
  nodegroups: [{ name: 'default', nodes: 2 }],
  addons: [{ name: 'kube-proxy', version: 'v1.30.9-eksbuild.3' }],
  ...(accessPolicy ? { accessPolicy } : {}),
}));
const doctorFleetDoc = { ...fleetDoc, clusters: [...fleetDoc.clusters, ...doctorOnly] };

/**
 * Clusters of the gate test: wave `one` is two clusters on vpc-a (its wave gate runs there); wave
 * `two` mixes vpc-a and vpc-b (its wave gate runs on the campaign's queue).
 */
const gateNetworkOf: Record<string, 'vpc-a' | 'vpc-b'> = {
  [`gate-${TAG}-a1`]: 'vpc-a',
  [`gate-${TAG}-a2`]: 'vpc-a',
  [`gate-${TAG}-a3`]: 'vpc-a',
  [`gate-${TAG}-b1`]: 'vpc-b',
};
const gateWaveOf: Record<string, 'one' | 'two'> = {
  [`gate-${TAG}-a1`]: 'one',
  [`gate-${TAG}-a2`]: 'one',
  [`gate-${TAG}-a3`]: 'two',
  [`gate-${TAG}-b1`]: 'two',
};
const gateFleetDoc = {
  ...fleetDoc,
  clusters: Object.entries(gateNetworkOf).map(([name, network]) => ({
    ...(fleetDoc.clusters[0] as (typeof fleetDoc.clusters)[number]),
    name,
    labels: { network, ring: gateWaveOf[name] as string },
  })),
};

beforeAll(async () => {
  temporal = await getTestTemporal();
  const simFleet = { ...doctorFleetDoc, clusters: [...doctorFleetDoc.clusters, ...gateFleetDoc.clusters] };
  sim = await startSimulator({ fleet: fleetSchema.parse(simFleet).clusters, timeScale: TIME_SCALE, seed: 7 });
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
async function worker(taskQueue: string, identity: string, workerDeps: ActivityDeps = deps): Promise<Worker> {
  return Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    identity,
    workflowBundle: await getWorkflowBundle(),
    activities: {
      ...createActivities(workerDeps),
      ...createClusterAccessActivities(workerDeps),
      ...createLeaseActivities({ client: temporal.client, taskQueue }),
      ...createChildrenActivities({ client: temporal.client, waits: { timeScale: TIME_SCALE } }),
    },
  });
}

async function historyOf(workflowId: string): Promise<HistoryEvent[]> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

const identities = {
  campaign: `campaign-worker-${TAG}`,
  'vpc-a': `vpc-a-worker-${TAG}`,
  'vpc-b': `vpc-b-worker-${TAG}`,
};

/**
 * Runs `fn` while the campaign worker and the two network workers poll (no worker for vpc-c). With
 * `prometheus`, each worker reads a Prometheus of its own.
 */
async function withWorkers<T>(fn: () => Promise<T>, prometheus?: Record<keyof typeof queues, string>): Promise<T> {
  const depsOf = (name: keyof typeof queues): ActivityDeps =>
    prometheus ? { ...deps, prometheusUrl: prometheus[name] } : deps;
  const [a, b, c] = await Promise.all([
    worker(queues.campaign, identities.campaign, depsOf('campaign')),
    worker(queues['vpc-a'], identities['vpc-a'], depsOf('vpc-a')),
    worker(queues['vpc-b'], identities['vpc-b'], depsOf('vpc-b')),
  ]);
  return a.runUntil(b.runUntil(c.runUntil(fn)));
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

    const client = new FleetwaveClient({ client: temporal.client, taskQueue: queues.campaign });
    const run = async (): Promise<CampaignResult> => {
      await client.startCampaign({ campaign, fleet, startedBy: 'task-queues test' });
      return temporal.client.workflow.getHandle(campaignWorkflowId(name)).result() as Promise<CampaignResult>;
    };
    const result = await withWorkers(run);
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

  it('fleetwave doctor names the cluster whose access entry lacks permissions, and the unserved queue', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fleetwave-doctor-'));
    const fleetFile = path.join(dir, 'fleet.yaml');
    // JSON is YAML; the rule maps vpc-a and vpc-b, and vpc-c names a queue of its own that no worker polls.
    writeFileSync(fleetFile, JSON.stringify(doctorFleetDoc));
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      FLEETWAVE_TASK_QUEUE: queues.campaign,
    };
    const [json, text] = await withWorkers(() =>
      Promise.all([
        runCli(['doctor', '--fleet', fleetFile, '--wait', '3s', '--json'], { env }),
        runCli(['doctor', '--fleet', fleetFile, '--wait', '3s'], { env }),
      ]),
    );
    expect(json.code, json.stderr).toBe(1);
    const reports = new Map((JSON.parse(json.stdout) as ClusterAccessReport[]).map((r) => [r.cluster, r]));

    // The three campaign clusters: checked on their own queue, creator-admin entry, nothing missing.
    for (const [cluster, network] of Object.entries(networkOf)) {
      expect(reports.get(cluster), cluster).toMatchObject({
        taskQueue: queues[network],
        reachable: true,
        principal: 'arn:aws:iam::000000000000:user/simulator',
        accessEntry: true,
        policies: [{ name: 'AmazonEKSClusterAdminPolicy', scope: 'cluster' }],
        denied: [],
        missing: [],
      });
    }
    const view = reports.get(`view-${TAG}`);
    expect(view).toMatchObject({ taskQueue: queues['vpc-b'], reachable: true, accessEntry: true });
    expect(view?.policies).toEqual([{ name: 'AmazonEKSViewPolicy', scope: 'cluster' }]);
    // View reads namespaced objects only: nodes and Karpenter's cluster-scoped kinds, and every write, are refused.
    expect(view?.denied).toEqual([
      'list nodes',
      'patch nodes',
      'create pods/eviction',
      'patch deployments.apps',
      'patch statefulsets.apps',
      'list nodepools.karpenter.sh',
      'patch nodepools.karpenter.sh',
      'list nodeclaims.karpenter.sh',
      'patch ec2nodeclasses.karpenter.k8s.aws',
    ]);
    expect(view?.missing[0]).toMatch(
      /^Kubernetes RBAC denies list nodes, .* \(the access entry has AmazonEKSViewPolicy\)$/,
    );

    const noEntry = reports.get(`noentry-${TAG}`);
    expect(noEntry).toMatchObject({ taskQueue: queues['vpc-a'], reachable: true, accessEntry: false });
    expect(noEntry?.missing).toEqual([
      'no EKS access entry for arn:aws:iam::000000000000:user/simulator',
      expect.stringMatching(/401 Unauthorized/) as unknown,
    ]);

    const unserved = reports.get(`unserved-${TAG}`);
    expect(unserved).toMatchObject({ taskQueue: 'vpc-c', reachable: false });
    expect(unserved?.missing[0]).toMatch(/^no worker took the check from task queue vpc-c within 3s/);

    // The table names each cluster with what is missing; the exit code says something is.
    console.log(`fleetwave doctor:\n${text.stdout}`);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toContain(`MISSING view-${TAG}`);
    expect(text.stdout).toContain(`ok      net-${TAG}-a1`);
    expect(text.stdout).toContain('4 of 7 clusters ready');
  }, 120_000);
  it('preflight blocks a cluster whose access entry lacks permissions, naming them, and touches nothing there', async () => {
    const name = `preflight-access-${TAG}`;
    const [view, admin] = [`view-${TAG}`, `admin-${TAG}`];
    const campaignDoc = benchCampaign({
      name,
      targetVersion: '1.31',
      timeScale: TIME_SCALE,
      waves: [{ name: 'all', maxParallel: 2, soakRealMs: 1_000, approval: 'auto', failureBudget: 1 }],
      maxInFlight: 2,
      promGates: false,
    });
    const { campaign, fleet } = validateStartInput({
      campaign: campaignDoc,
      fleet: { ...fleetDoc, clusters: doctorFleetDoc.clusters.filter((c) => c.name === view || c.name === admin) },
    });
    const client = new FleetwaveClient({ client: temporal.client, taskQueue: queues.campaign });
    const result = await withWorkers(async () => {
      await client.startCampaign({ campaign, fleet, startedBy: 'task-queues test' });
      return temporal.client.workflow.getHandle(campaignWorkflowId(name)).result() as Promise<CampaignResult>;
    });
    expect(result.state).toBe('completed-with-failures');
    expect(result.upgraded).toEqual([admin]);
    expect(result.blocked).toEqual([view]);

    const blocked = (await temporal.client.workflow
      .getHandle(clusterUpgradeWorkflowId(view))
      .result()) as ClusterUpgradeResult;
    expect(blocked.outcome).toBe('blocked');
    expect(blocked.reason).toContain(
      'Kubernetes RBAC denies list nodes, patch nodes, create pods/eviction, patch deployments.apps',
    );
    expect(blocked.reason).toContain('`fleetwave doctor`');
    console.log(`blocked at preflight: ${blocked.reason}`);
    // Nothing was changed on the blocked cluster; the admin one was upgraded.
    const mutations = async (cluster: string) => {
      const res = await fetch(`${sim.url}/sim/mutations?cluster=${cluster}`);
      return ((await res.json()) as { mutations: unknown[] }).mutations;
    };
    expect(await mutations(view)).toEqual([]);
    expect((await mutations(admin)).length).toBeGreaterThan(0);
  }, 180_000);
  it("the campaign's soak and watch gates run on each network's queue, read from that network's Prometheus", async () => {
    // A Prometheus per worker: each network's sees its own clusters; the campaign worker's, the
    // wave gate of a wave that spans both networks.
    const workers = ['campaign', 'vpc-a', 'vpc-b'] as const;
    const asked: Record<(typeof workers)[number], string[]> = { campaign: [], 'vpc-a': [], 'vpc-b': [] };
    const servers = workers.map((name) =>
      createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          asked[name].push(new URLSearchParams(body).get('query') ?? '');
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '0.001'] } }));
        });
      }),
    );
    const urls = await Promise.all(
      servers.map(
        (server) =>
          new Promise<string>((resolve) =>
            server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
          ),
      ),
    );
    const name = `gate-queues-${TAG}`;
    const gate = { interval: '1s', consecutiveSuccesses: 1, failureLimit: 0, timeout: '1m', phases: ['soak'] };
    const wave = (ring: 'one' | 'two') => ({
      name: ring,
      selector: { matchLabels: { ring } },
      maxParallel: 2,
      soakRealMs: 2_400_000,
      approval: 'auto' as const,
      failureBudget: 0,
    });
    const campaignDoc = benchCampaign({
      name,
      targetVersion: '1.31',
      timeScale: TIME_SCALE,
      waves: [wave('one'), wave('two')],
      maxInFlight: 2,
      promGates: false,
      watchAfterPromotionRealMs: 2_400_000,
      extraGates: [
        { name: 'error-ratio', query: 'max(errors{cluster="{{cluster}}"})', condition: '< 0.02', ...gate },
        {
          name: 'wave-error-ratio',
          query: 'max(errors{cluster=~"{{clusters}}"})',
          condition: '< 0.02',
          scope: 'wave',
          ...gate,
        },
      ],
    });
    const { campaign, fleet } = validateStartInput({ campaign: campaignDoc, fleet: gateFleetDoc });
    const client = new FleetwaveClient({ client: temporal.client, taskQueue: queues.campaign });
    try {
      const result = await withWorkers(
        async () => {
          await client.startCampaign({ campaign, fleet, startedBy: 'task-queues test' });
          return temporal.client.workflow.getHandle(campaignWorkflowId(name)).result() as Promise<CampaignResult>;
        },
        { campaign: urls[0] as string, 'vpc-a': urls[1] as string, 'vpc-b': urls[2] as string },
      );
      expect(result.state, JSON.stringify(result)).toBe('completed');
      expect([...result.upgraded].sort()).toEqual(Object.keys(gateNetworkOf).sort());
    } finally {
      for (const server of servers) server.close();
    }
    // Replayed by test/workflows/release-replay.test.ts: the patch's path with queues (FLEETWAVE_RECORD_HISTORIES=1).
    await recordHistoryFixture(temporal.client.workflow.getHandle(campaignWorkflowId(name)), 'campaign-gate-queues');

    // Every gate check the campaign scheduled went to the queue of its clusters.
    const scheduled = (await historyOf(campaignWorkflowId(name))).flatMap((e) => {
      const at = e.activityTaskScheduledEventAttributes;
      if (at?.activityType?.name !== 'watchHealthGates') return [];
      const payload = at.input?.payloads?.[0]?.data;
      const input = JSON.parse(Buffer.from(payload ?? []).toString('utf8')) as {
        items: { cluster: { name: string }; gate: { name: string }; context?: { wave?: string } }[];
      };
      return input.items.map((item) => ({ queue: at.taskQueue?.name, ...item }));
    });
    const clusterGates = scheduled.filter((i) => i.gate.name === 'error-ratio');
    expect(new Set(clusterGates.map((i) => i.cluster.name))).toEqual(new Set(Object.keys(gateNetworkOf)));
    for (const item of clusterGates)
      expect(item.queue, item.cluster.name).toBe(queues[gateNetworkOf[item.cluster.name] as 'vpc-a' | 'vpc-b']);
    const waveGates = scheduled.filter((i) => i.gate.name === 'wave-error-ratio');
    expect(new Set(waveGates.map((i) => `${i.context?.wave} on ${i.queue}`))).toEqual(
      new Set([`one on ${queues['vpc-a']}`, `two on ${queues.campaign}`]),
    );
    console.log(
      `gate checks per queue: ${JSON.stringify(Object.fromEntries(Object.entries(queues).map(([k, q]) => [k, scheduled.filter((i) => i.queue === q).map((i) => i.cluster.name)])))}`,
    );

    // Each network's Prometheus was asked about its own clusters only; the campaign's, the mixed wave only.
    const named = (query: string) => Object.keys(gateNetworkOf).filter((c) => query.includes(c));
    for (const network of ['vpc-a', 'vpc-b'] as const) {
      expect(asked[network].length, network).toBeGreaterThan(0);
      for (const query of asked[network]) {
        expect(named(query).length, query).toBeGreaterThan(0);
        for (const c of named(query)) expect(gateNetworkOf[c], query).toBe(network);
      }
    }
    expect(asked.campaign.length).toBeGreaterThan(0);
    for (const query of asked.campaign)
      expect(new Set(named(query).map((c) => gateWaveOf[c])), query).toEqual(new Set(['two']));
  }, 180_000);
});
