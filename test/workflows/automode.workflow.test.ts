/**
 * The cluster-upgrade workflow on EKS Auto Mode clusters and with a control-plane bake, on the
 * shared Temporal dev server, with fake activities over an in-memory cluster
 * (test/helpers/fake-activities.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClusterUpgradeResult } from '../../workflows/definitions';
import type { FakeClusterInit, RecordedCall } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  abortWhenCalled,
  runClusterUpgrade,
  upgradeSpec,
  upgradeTestTemporal,
  type UpgradeHandle,
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
  hooks: {
    beforeCall?: (call: RecordedCall) => Promise<void> | void;
    during?: (handle: UpgradeHandle) => Promise<void>;
  } = {},
): Promise<UpgradeRun> {
  return runClusterUpgrade(temporal, {
    prefix: 'am',
    queue: 'automode',
    cluster,
    spec: spec(upgradeSpec()),
    record,
    beforeCall: hooks.beforeCall,
    during: hooks.during,
  });
}

const AUTO = { autoMode: { nodePools: ['web', 'batch'] } };
const steps = (r: ClusterUpgradeResult) => r.steps.map((s) => s.step);

describe('clusterUpgradeWorkflow on EKS Auto Mode', () => {
  it('follows the nodes after the control plane (counts in the step), then add-ons and node groups', async () => {
    const { result, fake, name } = await runUpgrade({ behaviour: AUTO }, undefined, 'auto-mode-nodes');
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
    const { result, fake, name } = await runUpgrade(
      { behaviour: AUTO },
      (s) => ({ ...s, rollback: { ...s.rollback, controlPlaneBake: '10m' } }),
      'control-plane-bake-hold',
    );
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
      'control-plane-bake-rollback',
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

  it('an abort during the bake releases the holds before the workflow ends', async () => {
    const { result, fake, name } = await runUpgrade(
      { behaviour: AUTO },
      (s) => ({ ...s, rollback: { ...s.rollback, controlPlaneBake: '10m' } }),
      undefined,
      // Gates only read, so an abort stops the held bake at once.
      abortWhenCalled((call) => call.label === 'checkClusterHealth:bake', 'the bake'),
    );
    expect(result.outcome).toBe('aborted');
    expect(fake.trace(name, /^(holdNodePools|releaseNodePoolHolds|awaitAutoModeNodes|updateAddons)/)).toEqual([
      'holdNodePools',
      'releaseNodePoolHolds',
    ]);
    expect(result.steps.find((s) => s.step === 'release NodePools')).toMatchObject({ status: 'done' });
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
