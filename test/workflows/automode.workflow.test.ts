/**
 * The cluster-upgrade workflow on EKS Auto Mode clusters and with a control-plane bake, on the
 * shared Temporal dev server, with fake activities over an in-memory cluster
 * (test/helpers/fake-activities.ts).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HealthGateSpec } from '../../domain/spec';
import {
  clusterUpgradeWorkflowId,
  WorkflowTypes,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
} from '../../workflows/definitions';
import type { clusterUpgradeWorkflow } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import {
  createFakeActivities,
  fakePinned,
  type FakeActivities,
  type FakeClusterInit,
} from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';

const WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/upgrade-test-workflows.ts');

let temporal: TestTemporal;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [temporal, bundle] = await Promise.all([getTestTemporal(), getWorkflowBundle(WORKFLOWS)]);
});

const gate = (name: string): HealthGateSpec => ({
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
});

type Spec = ClusterUpgradeInput['spec'];

const baseSpec = (): Spec => ({
  healthGates: [gate('error-rate')],
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
});

async function runUpgrade(
  cluster: Omit<FakeClusterInit, 'name'>,
  spec: (s: Spec) => Spec = (s) => s,
): Promise<{ name: string; result: ClusterUpgradeResult; fake: FakeActivities }> {
  const name = `am-${randomUUID().slice(0, 8)}`;
  const fake = createFakeActivities({ clusters: [{ name, ...cluster }] });
  const input: ClusterUpgradeInput = {
    campaign: 'test-campaign',
    cluster: { name, region: 'eu-west-1' },
    targetVersion: '1.31',
    pinned: fakePinned(['1.30', '1.31'], '1.31'),
    spec: spec(baseSpec()),
    attempt: 1,
  };
  const taskQueue = temporal.taskQueue('automode');
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: fake.activities,
    maxHeartbeatThrottleInterval: '200ms',
  });
  return worker.runUntil(async () => {
    const result = await temporal.client.workflow.execute<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
      workflowId: clusterUpgradeWorkflowId(name),
      taskQueue,
      args: [input],
    });
    return { name, result, fake };
  });
}

const AUTO = { autoMode: { nodePools: ['web', 'batch'] } };
const steps = (r: ClusterUpgradeResult) => r.steps.map((s) => s.step);

describe('clusterUpgradeWorkflow on EKS Auto Mode', () => {
  it('follows the nodes after the control plane (counts in the step), then add-ons and node groups', async () => {
    const { result, fake, name } = await runUpgrade({ behaviour: AUTO });
    expect(result.outcome).toBe('upgraded');
    const trace = fake.trace(name, /^(startControlPlane|awaitAutoModeNodes|updateAddons|holdNodePools|release)/);
    expect(trace[0]).toBe('startControlPlaneUpgrade:1.31');
    expect(trace[1]).toBe('awaitAutoModeNodes:1.31');
    expect(trace[2]).toMatch(/^updateAddons:/);
    expect(trace.some((l) => l.startsWith('holdNodePools'))).toBe(false);
    const step = result.steps.find((s) => s.step === 'auto-mode nodes 1.31');
    expect(step).toMatchObject({ status: 'done', detail: '7/7 on 1.31' });
    expect(steps(result)).toContain('checks after auto-mode nodes 1.31');
  });

  it('does nothing new for a cluster without Auto Mode and without a control-plane bake', async () => {
    const { result, fake, name } = await runUpgrade({});
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^(awaitAutoModeNodes|holdNodePools|releaseNodePoolHolds)/)).toEqual([]);
  });
});

describe('control-plane bake', () => {
  it('holds the custom NodePools through the hops and the bake, releases them, then the nodes follow', async () => {
    const { result, fake, name } = await runUpgrade({ behaviour: AUTO }, (s) => ({
      ...s,
      rollback: { ...s.rollback, controlPlaneBake: '10m' },
    }));
    expect(result.outcome).toBe('upgraded');
    const trace = fake.trace(
      name,
      /^(startControlPlane|checkClusterHealth|awaitAutoModeNodes|updateAddons|holdNodePools|releaseNodePoolHolds)/,
    );
    expect(trace.slice(0, 6)).toEqual([
      'checkClusterHealth:baseline',
      'holdNodePools',
      'startControlPlaneUpgrade:1.31',
      'checkClusterHealth:postStep',
      'checkClusterHealth:bake',
      'releaseNodePoolHolds',
    ]);
    expect(trace[6]).toBe('awaitAutoModeNodes:1.31');
    const bake = fake.calls.find((c) => c.cluster === name && c.label === 'checkClusterHealth:bake');
    // 10m / 30s = 20 passes.
    expect(bake?.input).toMatchObject({ requiredSuccessesByGate: { 'error-rate': 20 } });
    const hold = result.steps.find((s) => s.step === 'hold NodePools');
    expect(hold?.detail).toContain('held web, batch');
    expect(hold?.detail).toContain('built-in general-purpose, system cannot be held');
  });

  it('a gate failing during the bake rolls back the control plane only; add-ons and nodes untouched, holds released first', async () => {
    const { result, fake, name } = await runUpgrade(
      { behaviour: { ...AUTO, failGates: [{ gate: 'error-rate', phase: 'bake', message: 'error ratio 0.2' }] } },
      (s) => ({ ...s, rollback: { ...s.rollback, controlPlaneBake: '10m' } }),
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.finalVersion).toBe('1.30');
    const eks = fake.eksTrace(name);
    expect(eks.filter((l) => l.startsWith('updateAddons') || l.startsWith('startNodegroup'))).toEqual([]);
    expect(eks.filter((l) => l.startsWith('rollback'))).toEqual(['rollbackControlPlane:1.30']);
    const order = fake.trace(name, /^(releaseNodePoolHolds|rollbackControlPlane|awaitAutoModeNodes)/);
    expect(order).toEqual(['releaseNodePoolHolds', 'rollbackControlPlane:1.30']);
    const model = fake.cluster(name);
    expect(model.version).toBe('1.30');
    expect(model.nodegroups.every((n) => n.version === '1.30')).toBe(true);
  });

  it('without Auto Mode, bakes the control plane and holds nothing', async () => {
    const { result, fake, name } = await runUpgrade({}, (s) => ({
      ...s,
      rollback: { ...s.rollback, controlPlaneBake: '2m' },
    }));
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^(holdNodePools|releaseNodePoolHolds|awaitAutoModeNodes)/)).toEqual([]);
    expect(steps(result)).toContain('checks control-plane bake');
  });
});
