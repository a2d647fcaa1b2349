/**
 * The cluster-upgrade workflow on a cluster with Fargate pods, on the shared Temporal dev server,
 * with fake activities (test/helpers/fake-activities.ts): after the control plane moves, the pods
 * on an old kubelet are reported (spec.nodes.fargate: report, the default, and absent spec.nodes as
 * in older histories) or their owners restarted (restart); a PDB holding an owner back fails the
 * step; a cluster without Fargate pods gets no extra call.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeClusterInit } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import { runClusterUpgrade, upgradeSpec, upgradeTestTemporal, type UpgradeSpec } from './campaign-harness';

let temporal: TestTemporal;

beforeAll(async () => {
  temporal = await upgradeTestTemporal();
});

const baseSpec = (): UpgradeSpec =>
  upgradeSpec({
    healthGates: [],
    rollback: { onGateFailure: true, onUpdateFailure: false, controlPlane: false },
    bake: '0s',
  });

const nodes = (fargate: 'report' | 'restart'): NonNullable<UpgradeSpec['nodes']> => ({
  karpenter: { budget: '10%', pdbTimeout: '30m', timeout: '6h' },
  selfManaged: { minHealthyPercentage: 90, checkpoints: [50, 100], drainTimeout: '15m' },
  fargate,
  allowOwnedBy: [],
});

async function runUpgrade(cluster: Omit<FakeClusterInit, 'name'>, spec: UpgradeSpec) {
  const run = await runClusterUpgrade(temporal, { prefix: 'fg', queue: 'fargate', cluster, spec });
  const markers = (run.history.events ?? []).filter(
    (e) => e.markerRecordedEventAttributes?.markerName === 'core_patch',
  ).length;
  return { ...run, markers };
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
