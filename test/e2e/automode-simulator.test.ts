/**
 * End to end on an EKS Auto Mode cluster: the cluster-upgrade workflow with the real activities
 * (AWS SDK, Kubernetes client, parked waits) against the fleet simulator, on the shared Temporal
 * dev server. The nodes follow the control plane under the NodePools' budgets and the step is
 * reported with its NodeClaim count; with a control-plane bake the custom NodePool is held during
 * the bake and released after it, and the simulator shows its budgets back as they were.
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, createDefaultDeps, type ActivityDeps } from '../../activities/index';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import { clusterInventorySchema } from '../../domain/fleet';
import { startSimulator, type Simulator } from '../../simulator/index';
import {
  clusterUpgradeWorkflowId,
  WorkflowTypes,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
} from '../../workflows/definitions';
import { getWorkflowBundle } from '../helpers/bundle';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';

const TAG = randomBytes(3).toString('hex');
const TIME_SCALE = 1200;
const CREDENTIALS = { accessKeyId: 'AKIDAUTOMODEE2E', secretAccessKey: 'automode-e2e-secret' };

let temporal: TestTemporal;
let sim: Simulator;
let deps: ActivityDeps;

const names = { plain: `auto-${TAG}-a`, baked: `auto-${TAG}-b` };

beforeAll(async () => {
  temporal = await getTestTemporal();
  const cluster = (name: string) =>
    clusterInventorySchema.parse({
      name,
      region: 'us-east-1',
      account: '111122223333',
      version: '1.30',
      autoMode: true,
      nodePools: [{ name: 'web', nodes: 6, budgetNodes: '2' }],
      addons: [{ name: 'kube-proxy', version: 'v1.30.9-eksbuild.3' }],
    });
  sim = await startSimulator({ fleet: [cluster(names.plain), cluster(names.baked)], timeScale: TIME_SCALE, seed: 5 });
  deps = createDefaultDeps({
    endpoint: sim.url,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    polling: { initialMs: 100, maxMs: 500 },
    waits: { timeScale: TIME_SCALE },
  });
  // A hold's schedule is written in the cluster's time: the simulator's, running 1200 times faster.
  deps = { ...deps, clusterClock: () => sim.now() };
}, 60_000);

afterAll(async () => {
  await sim?.stop();
});

async function upgrade(name: string, controlPlaneBake?: string): Promise<ClusterUpgradeResult> {
  const taskQueue = temporal.taskQueue('automode-e2e');
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: await getWorkflowBundle(),
    activities: createActivities(deps),
  });
  const input: ClusterUpgradeInput = {
    campaign: `automode-${TAG}`,
    cluster: { name, region: 'us-east-1', account: '111122223333' },
    targetVersion: '1.31',
    pinned: { nodegroupRelease: {}, addons: { '1.31': { 'kube-proxy': 'v1.31.3-eksbuild.2' } }, resolvedAt: '' },
    spec: {
      healthGates: [],
      kubernetesChecks: { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true },
      rollback: {
        onGateFailure: true,
        onUpdateFailure: true,
        controlPlane: true,
        ...(controlPlaneBake ? { controlPlaneBake } : {}),
      },
      nodegroups: { maxParallel: 1, force: false },
      bake: '0s',
      target: {
        kubernetesVersion: '1.31',
        nodegroupRelease: 'latest',
        addons: 'default',
        skipAddons: false,
        skipNodegroups: false,
      },
    },
    attempt: 1,
  };
  return worker.runUntil(
    () =>
      temporal.client.workflow.execute(WorkflowTypes.clusterUpgrade, {
        workflowId: clusterUpgradeWorkflowId(name),
        taskQueue,
        args: [input],
      }) as Promise<ClusterUpgradeResult>,
  );
}

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
async function customObjects(name: string, plural: string): Promise<any[]> {
  const ref = { name, region: 'us-east-1' };
  const kc = await deps.kube(ref, clusterAccess(await describeClusterRaw(deps.eks(ref), name)));
  const list = await kc
    .makeApiClient(CustomObjectsApi)
    .listClusterCustomObject({ group: 'karpenter.sh', version: 'v1', plural });
  return list.items;
}

describe('e2e: EKS Auto Mode through the real activities and the simulator', () => {
  it('the nodes follow the control plane and the step is reported with its count', async () => {
    const result = await upgrade(names.plain);
    expect(result.outcome, result.reason).toBe('upgraded');
    const step = result.steps.find((s) => s.step === 'auto-mode nodes 1.31');
    // general-purpose 2 + system 1 + web 6.
    expect(step).toMatchObject({ status: 'done', detail: '9/9 on 1.31' });
    const claims = await customObjects(names.plain, 'nodeclaims');
    expect(claims).toHaveLength(9);
    expect(claims.every((c) => !c.status.conditions.some((k: any) => k.type === 'Drifted'))).toBe(true);
  }, 120_000);

  it('with a control-plane bake: the custom pool is held, released after the bake, and its budgets restored', async () => {
    const result = await upgrade(names.baked, '10m');
    expect(result.outcome, result.reason).toBe('upgraded');
    const steps = result.steps.map((s) => s.step);
    expect(steps.indexOf('hold NodePools')).toBeLessThan(steps.indexOf('control-plane 1.30 → 1.31'));
    expect(steps.indexOf('release NodePools')).toBeGreaterThan(steps.indexOf('checks control-plane bake'));
    expect(steps.indexOf('auto-mode nodes 1.31')).toBeGreaterThan(steps.indexOf('release NodePools'));
    expect(result.steps.find((s) => s.step === 'hold NodePools')?.detail).toBe(
      'held web; built-in general-purpose, system cannot be held (EKS owns them): their nodes move during the bake',
    );
    expect(result.steps.find((s) => s.step === 'release NodePools')?.detail).toBe('released web');
    const web = (await customObjects(names.baked, 'nodepools')).find((p) => p.metadata.name === 'web');
    expect(web.spec.disruption.budgets).toEqual([{ nodes: '2' }]);
    expect(web.metadata.annotations['fleetwave.io/drift-hold']).toBeUndefined();
  }, 120_000);
});
/* eslint-enable @typescript-eslint/no-explicit-any */
