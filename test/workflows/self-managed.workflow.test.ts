/**
 * The cluster-upgrade workflow on clusters with self-managed node groups (Auto Scaling groups), on
 * the shared Temporal dev server, with fake activities over an in-memory cluster
 * (test/helpers/fake-activities.ts): the node step's start and drained wait, the failure that names
 * a blocking PodDisruptionBudget, and the rollback that AWS allows (RollbackInstanceRefresh) or the
 * forward refresh when it does not.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeClusterInit } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  runClusterUpgrade,
  upgradeSpec,
  upgradeTestTemporal,
  type UpgradeRun,
  type UpgradeSpec,
} from './campaign-harness';

let temporal: TestTemporal;

beforeAll(async () => {
  temporal = await upgradeTestTemporal();
});

function runUpgrade(
  cluster: Omit<FakeClusterInit, 'name'>,
  spec: (s: UpgradeSpec) => UpgradeSpec = (s) => s,
  record?: string,
): Promise<UpgradeRun> {
  return runClusterUpgrade(temporal, {
    prefix: 'smg',
    queue: 'self-managed',
    cluster,
    spec: spec(upgradeSpec()),
    record,
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
