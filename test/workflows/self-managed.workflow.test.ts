/**
 * The cluster-upgrade workflow on clusters with self-managed node groups (Auto Scaling groups), on
 * the shared Temporal dev server, with fake activities over an in-memory cluster
 * (test/helpers/fake-activities.ts): the node step's start and drained wait, the failure that names
 * a blocking PodDisruptionBudget, and the rollback that AWS allows (RollbackInstanceRefresh) or the
 * forward refresh when it does not.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
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
  type RecordedCall,
} from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { recordHistoryFixture } from './history-fixtures';

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
  record?: string,
  hooks: {
    beforeCall?: (call: RecordedCall) => Promise<void> | void;
    during?: (handle: WorkflowHandle<typeof clusterUpgradeWorkflow>) => Promise<void>;
  } = {},
): Promise<{ name: string; result: ClusterUpgradeResult; fake: FakeActivities }> {
  const name = `smg-${randomUUID().slice(0, 8)}`;
  const fake = createFakeActivities({
    clusters: [{ name, ...cluster }],
    ...(hooks.beforeCall ? { beforeCall: hooks.beforeCall } : {}),
  });
  const input: ClusterUpgradeInput = {
    campaign: 'test-campaign',
    cluster: { name, region: 'eu-west-1' },
    targetVersion: '1.31',
    pinned: fakePinned(['1.30', '1.31'], '1.31'),
    spec: spec(baseSpec()),
    attempt: 1,
  };
  const taskQueue = temporal.taskQueue('self-managed');
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: fake.activities,
    maxHeartbeatThrottleInterval: '200ms',
  });
  return worker.runUntil(async () => {
    const handle = await temporal.client.workflow.start<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
      workflowId: clusterUpgradeWorkflowId(name),
      taskQueue,
      args: [input],
    });
    await hooks.during?.(handle);
    const result = await handle.result();
    // With FLEETWAVE_RECORD_HISTORIES=1: test/fixtures/histories/cluster-upgrade-<record>.json.
    if (record) await recordHistoryFixture(handle, `cluster-upgrade-${record}`);
    return { name, result, fake };
  });
}

const SMG = (extra: Record<string, unknown> = {}) => ({ selfManaged: { groups: ['legacy-a'], ...extra } });

describe('clusterUpgradeWorkflow with self-managed node groups', () => {
  it('refreshes the groups after the managed node groups: one start, one drained wait, the group in the record', async () => {
    const { result, fake, name } = await runUpgrade({ behaviour: SMG() }, undefined, 'self-managed-groups');
    expect(result.outcome).toBe('upgraded');
    const trace = fake.trace(name, /^(updateNodegroups|startSelfManaged|awaitSelfManaged)/);
    expect(trace.map((l) => l.split(':')[0])).toEqual([
      'updateNodegroups',
      'startSelfManagedRefreshes',
      'awaitSelfManagedRefreshes',
    ]);
    const start = fake.calls.find((c) => c.cluster === name && c.label.startsWith('startSelfManagedRefreshes'));
    expect(start?.input).toMatchObject({ targetVersion: '1.31', minHealthyPercentage: 90, checkpoints: [50, 100] });
    expect(result.steps.find((s) => s.step === 'self-managed legacy-a')).toMatchObject({
      status: 'done',
      detail: '3 instances drained and replaced (launch-template version 2)',
    });
  });

  it('spec.nodes.selfManaged sets the refresh preferences and the drain timeout', async () => {
    const { fake, name } = await runUpgrade({ behaviour: SMG() }, (s) => ({
      ...s,
      nodes: {
        karpenter: { budget: '10%', pdbTimeout: '30m', timeout: '6h' },
        selfManaged: { minHealthyPercentage: 75, checkpoints: [25, 100], drainTimeout: '5m' },
        fargate: 'report',
        allowOwnedBy: [],
      },
    }));
    const start = fake.calls.find((c) => c.cluster === name && c.label.startsWith('startSelfManagedRefreshes'));
    expect(start?.input).toMatchObject({ minHealthyPercentage: 75, checkpoints: [25, 100], hookTimeoutS: 900 });
    const wait = fake.calls.find((c) => c.cluster === name && c.label.startsWith('awaitSelfManagedRefreshes'));
    expect(wait?.input).toMatchObject({ drainTimeoutMs: 300_000 });
  });

  it('a PDB blocking a drain fails the step naming it; the active refresh is rolled back (RollbackInstanceRefresh)', async () => {
    const { result, fake, name } = await runUpgrade(
      { behaviour: SMG({ blockedBy: 'payments/payments-api' }) },
      undefined,
      'self-managed-groups-rollback',
    );
    expect(['rolled-back', 'failed']).toContain(result.outcome);
    const failed = result.steps.find((s) => s.step === 'self-managed groups');
    expect(failed?.status).toBe('failed');
    expect(failed?.detail).toContain('payments/payments-api');
    expect(failed?.detail).toContain('legacy-a');
    expect(fake.trace(name, /^rollbackSelfManagedGroup/)).toEqual(['rollbackSelfManagedGroup:legacy-a']);
    expect(result.steps.find((s) => s.step === 'rollback self-managed legacy-a')).toMatchObject({
      status: 'done',
      detail: 'RollbackInstanceRefresh of refresh-legacy-a',
    });
    const back = fake.calls.filter((c) => c.cluster === name && c.label.startsWith('awaitSelfManagedRefreshes'));
    expect(back.at(-1)?.input).toMatchObject({ handles: [{ group: 'legacy-a', rollback: true, toVersion: '1' }] });
  });

  it('when the refresh has ended, the rollback is a forward refresh to the previous version', async () => {
    const { result } = await runUpgrade({ behaviour: SMG({ blockedBy: 'payments/payments-api', refreshEnded: true }) });
    expect(result.steps.find((s) => s.step === 'rollback self-managed legacy-a')).toMatchObject({
      status: 'done',
      detail: 'instance refresh forward to launch-template version 1',
    });
  });

  it('a cluster without self-managed groups gets no extra activity', async () => {
    const { result, fake, name } = await runUpgrade({});
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /SelfManaged/)).toEqual([]);
  });
});
