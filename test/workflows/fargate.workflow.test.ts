/**
 * The cluster-upgrade workflow on a cluster with Fargate pods, on the shared Temporal dev server,
 * with fake activities (test/helpers/fake-activities.ts): after the control plane moves, the pods
 * on an old kubelet are reported (spec.nodes.fargate: report, the default, and absent spec.nodes as
 * in older histories) or their owners restarted (restart); a PDB holding an owner back fails the
 * step; a cluster without Fargate pods gets no extra call.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterUpgradeWorkflowId, WorkflowTypes, type ClusterUpgradeInput } from '../../workflows/definitions';
import type { clusterUpgradeWorkflow } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import { createFakeActivities, fakePinned, type FakeClusterInit } from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';

const WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/upgrade-test-workflows.ts');

let temporal: TestTemporal;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [temporal, bundle] = await Promise.all([getTestTemporal(), getWorkflowBundle(WORKFLOWS)]);
});

type Spec = ClusterUpgradeInput['spec'];

const baseSpec = (): Spec => ({
  healthGates: [],
  kubernetesChecks: { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true },
  rollback: { onGateFailure: true, onUpdateFailure: false, controlPlane: false },
  nodegroups: { maxParallel: 2, force: false },
  bake: '0s',
  target: {
    kubernetesVersion: '1.31',
    nodegroupRelease: 'latest',
    addons: 'default',
    skipAddons: false,
    skipNodegroups: false,
  },
});

const nodes = (fargate: 'report' | 'restart'): NonNullable<Spec['nodes']> => ({
  karpenter: { budget: '10%', pdbTimeout: '30m', timeout: '6h' },
  selfManaged: { minHealthyPercentage: 90, checkpoints: [50, 100], drainTimeout: '15m' },
  fargate,
  allowOwnedBy: [],
});

async function runUpgrade(cluster: Omit<FakeClusterInit, 'name'>, spec: Spec) {
  const name = `fg-${randomUUID().slice(0, 8)}`;
  const fake = createFakeActivities({ clusters: [{ name, ...cluster }] });
  const input: ClusterUpgradeInput = {
    campaign: 'test-campaign',
    cluster: { name, region: 'eu-west-1' },
    targetVersion: '1.31',
    pinned: fakePinned(['1.30', '1.31'], '1.31'),
    spec,
    attempt: 1,
  };
  const taskQueue = temporal.taskQueue('fargate');
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
    const result = await handle.result();
    const history = await handle.fetchHistory();
    const events = history.events?.length ?? 0;
    const markers = (history.events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_patch',
    ).length;
    return { name, result, fake, events, markers };
  });
}

const FARGATE = { fargate: { profiles: [{ name: 'batch', pods: 3 }] } };

describe('clusterUpgradeWorkflow with Fargate pods', () => {
  it('report (the default, also without spec.nodes): one read after the node groups, the old pods in the step, no restart', async () => {
    for (const spec of [baseSpec(), { ...baseSpec(), nodes: nodes('report') }]) {
      const { result, fake, name } = await runUpgrade({ behaviour: FARGATE }, spec);
      expect(result.outcome).toBe('upgraded');
      expect(fake.trace(name, /^(updateNodegroups|settleFargatePods)/)).toEqual([
        expect.stringMatching(/^updateNodegroups/),
        'settleFargatePods:report:1.31',
      ]);
      expect(result.steps.find((s) => s.step === 'fargate pods')).toEqual({
        step: 'fargate pods',
        status: 'skipped',
        detail:
          '3 of 3 Fargate pods still on an old kubelet (control plane 1.31): default/Deployment/fargate-batch (profile batch): 3 on 1.30; restart their owners (kubectl rollout restart) or set spec.nodes.fargate: restart',
      });
    }
  });

  it('restart: the owners restarted and awaited in the node step', async () => {
    const { result, fake, name } = await runUpgrade({ behaviour: FARGATE }, { ...baseSpec(), nodes: nodes('restart') });
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^settleFargatePods/)).toEqual(['settleFargatePods:restart:1.31']);
    expect(result.steps.find((s) => s.step === 'fargate pods')).toEqual({
      step: 'fargate pods',
      status: 'done',
      detail: 'restarted 1 owner (default/Deployment/fargate-batch); all 3 Fargate pods on 1.31',
    });
  });

  it('restart held back by a PDB past its timeout fails the step naming it', async () => {
    const { result } = await runUpgrade(
      { behaviour: { fargate: { ...FARGATE.fargate, blockedBy: 'default/batch-pdb' } } },
      { ...baseSpec(), nodes: nodes('restart') },
    );
    expect(result.outcome).toBe('failed');
    const step = result.steps.find((s) => s.step === 'fargate pods');
    expect(step?.status).toBe('failed');
    expect(step?.detail).toContain('PodDisruptionBudget default/batch-pdb');
  });

  it('a cluster without Fargate pods: no call and no extra event', async () => {
    const plain = await runUpgrade({}, { ...baseSpec(), nodes: nodes('restart') });
    expect(plain.result.outcome).toBe('upgraded');
    expect(plain.fake.trace(plain.name, /^settleFargatePods/)).toEqual([]);
    // No patch marker either (a local activity records a marker of its own): the patch is asked only of clusters with Fargate pods.
    expect(plain.markers).toBe(0);
    const report = await runUpgrade({ behaviour: FARGATE }, baseSpec());
    const restart = await runUpgrade({ behaviour: FARGATE }, { ...baseSpec(), nodes: nodes('restart') });
    console.log(
      `events: ${plain.events} without Fargate; with Fargate ${report.events} (report), ${restart.events} (restart); markers ${plain.markers}/${report.markers}/${restart.markers}`,
    );
  });
});
