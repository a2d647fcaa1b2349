/**
 * The cluster-upgrade workflow on clusters with a self-installed Karpenter, on the shared Temporal
 * dev server, with fake activities over an in-memory cluster (test/helpers/fake-activities.ts):
 * pin and hold before the hop, the drift step after the node groups, the release on every exit
 * path with the terms the ending calls for.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fakePinned, type FakeClusterInit, type FakeKarpenter, type RecordedCall } from '../helpers/fake-activities';
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

const baseSpec = (): UpgradeSpec =>
  upgradeSpec({
    nodes: {
      karpenter: { budget: '20%', pdbTimeout: '30m', timeout: '6h' },
      selfManaged: { minHealthyPercentage: 90, checkpoints: [50, 100], drainTimeout: '15m' },
      fargate: 'report',
      allowOwnedBy: [],
    },
  });

/** The AL2023 releases the campaign pinned: alias versions v20250101 (1.30) and v20250301 (1.31). */
const AMIS = {
  'eu-west-1': { AL2023_x86_64_STANDARD: { '1.30': '1.30.9-20250101', '1.31': '1.31.5-20250301' } },
};

const karpenter = (extra: Partial<FakeKarpenter> = {}): FakeKarpenter => ({
  version: '1.2.0',
  nodePools: ['default', 'gpu'],
  nodeClasses: [
    { name: 'default', terms: [{ alias: 'al2023@latest' }], amis: ['ami-0130a', 'ami-0130b'] },
    { name: 'custom', terms: [{ tags: { team: 'ml' } }], amis: ['ami-0c0ffee'] },
  ],
  budgets: { default: 'user', gpu: 'user' },
  pins: {},
  ...extra,
});

function runUpgrade(
  cluster: Omit<FakeClusterInit, 'name'>,
  opts: {
    spec?: (s: UpgradeSpec) => UpgradeSpec;
    targetVersion?: string;
    record?: string;
    beforeCall?: (call: RecordedCall) => Promise<void> | void;
    during?: (handle: UpgradeHandle) => Promise<void>;
  } = {},
): Promise<UpgradeRun> {
  const { spec = (s) => s, ...rest } = opts;
  const targetVersion = 'targetVersion' in opts ? opts.targetVersion : '1.31';
  return runClusterUpgrade(temporal, {
    ...rest,
    prefix: 'kp',
    queue: 'karpenter',
    cluster,
    spec: spec(baseSpec()),
    input: { pinned: { ...fakePinned(['1.30', '1.31'], targetVersion), amis: AMIS } },
  });
}

const KARPENTER_CALLS =
  /^(startControlPlane|updateAddons|startNodegroup|rollback|holdKarpenter|driftKarpenter|releaseKarpenter)/;

describe('clusterUpgradeWorkflow with a self-installed Karpenter', () => {
  it('pins and holds before the hop, drifts after the node groups, releases keeping the target terms', async () => {
    const k = karpenter();
    const { result, fake, name, events } = await runUpgrade(
      { behaviour: { karpenter: k } },
      { record: 'karpenter-nodes' },
    );
    expect(result.outcome).toBe('upgraded');
    const trace = fake.trace(name, KARPENTER_CALLS);
    expect(trace[0]).toBe('holdKarpenterNodes');
    expect(trace[1]).toBe('startControlPlaneUpgrade:1.31');
    expect(trace.indexOf('driftKarpenterNodes')).toBeGreaterThan(
      trace.findIndex((l) => l.startsWith('startNodegroup')),
    );
    expect(trace.at(-1)).toBe('releaseKarpenterHolds:keep');
    const drift = fake.calls.find((c) => c.cluster === name && c.name === 'driftKarpenterNodes');
    expect(drift?.input).toMatchObject({
      budget: '20%',
      pdbTimeoutMs: 30 * 60_000,
      timeoutMs: 6 * 3600_000,
      nodeClasses: [
        { name: 'default', from: [{ alias: 'al2023@latest' }], to: [{ alias: 'al2023@v20250301' }] },
        { name: 'custom', from: [{ tags: { team: 'ml' } }], to: [{ tags: { team: 'ml' } }] },
      ],
    });
    // The @latest alias now names the campaign's 1.31 release; custom AMIs keep the user's terms.
    expect(k.nodeClasses.map((n) => n.terms)).toEqual([[{ alias: 'al2023@v20250301' }], [{ tags: { team: 'ml' } }]]);
    expect(k.budgets).toEqual({ default: 'user', gpu: 'user' });
    expect(k.pins).toEqual({});
    expect(result.steps.find((s) => s.step === 'hold Karpenter')?.detail).toContain('default → ami-0130a, ami-0130b');
    expect(result.steps.find((s) => s.step === 'karpenter nodes')).toMatchObject({
      status: 'done',
      detail: '6/6 on the target AMI, 0 drifted, 6 replaced',
    });
    expect(result.steps.find((s) => s.step === 'release Karpenter')?.status).toBe('done');
    console.log(`karpenter cluster: ${events} history events`);
  });

  it('a failed drift step rolls back: the control plane goes back and the user terms and budgets return', async () => {
    const k = karpenter({ failDrift: 'PodDisruptionBudget shop/web allows no disruption' });
    // No managed node groups: those EKS cannot take back would keep the control plane on 1.31.
    const { result, fake, name } = await runUpgrade(
      { behaviour: { karpenter: k } },
      { record: 'karpenter-rollback', spec: (s) => ({ ...s, target: { ...s.target, skipNodegroups: true } }) },
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.finalVersion).toBe('1.30');
    const trace = fake.trace(name, /^(rollbackControlPlane|releaseKarpenter)/);
    expect(trace).toEqual(['rollbackControlPlane:1.30', 'releaseKarpenterHolds:original']);
    expect(k.nodeClasses.map((n) => n.terms)).toEqual([[{ alias: 'al2023@latest' }], [{ tags: { team: 'ml' } }]]);
    expect(k.budgets).toEqual({ default: 'user', gpu: 'user' });
    expect(result.steps.find((s) => s.step === 'karpenter nodes')?.detail).toContain('shop/web');
    expect(result.steps.find((s) => s.step === 'rollback karpenter')?.status).toBe('done');
  });

  it('a rollback that keeps the control plane on the new minor sends the nodes back to the pinned AMIs', async () => {
    const k = karpenter({ failDrift: 'timeout' });
    const { result, fake, name } = await runUpgrade(
      { behaviour: { karpenter: k } },
      { spec: (s) => ({ ...s, rollback: { ...s.rollback, controlPlane: false } }) },
    );
    expect(result.outcome).not.toBe('upgraded');
    expect(fake.trace(name, /^releaseKarpenter/)).toEqual(['releaseKarpenterHolds:pinned']);
    expect(k.nodeClasses[0]?.terms).toEqual([{ id: 'ami-0130a' }, { id: 'ami-0130b' }]);
    expect(k.budgets).toEqual({ default: 'user', gpu: 'user' });
  });

  it('an abort before the node step releases the hold and restores the user terms', async () => {
    const k = karpenter();
    const { result, fake, name } = await runUpgrade(
      { behaviour: { karpenter: k } },
      abortWhenCalled((call) => call.name === 'updateAddons', 'the add-ons'),
    );
    expect(result.outcome).toBe('aborted');
    expect(fake.trace(name, /^(holdKarpenter|driftKarpenter|releaseKarpenter)/)).toEqual([
      'holdKarpenterNodes',
      'releaseKarpenterHolds:original',
    ]);
    expect(k.nodeClasses[0]?.terms).toEqual([{ alias: 'al2023@latest' }]);
    expect(k.budgets).toEqual({ default: 'user', gpu: 'user' });
  });

  it('an abort during the drift step stops the wait and releases the hold, the target terms kept', async () => {
    const k = karpenter();
    const { result, fake, name } = await runUpgrade(
      { behaviour: { karpenter: k } },
      abortWhenCalled((call) => call.name === 'driftKarpenterNodes', 'the drift step'),
    );
    expect(result.outcome).toBe('aborted');
    expect(fake.trace(name, /^releaseKarpenter/)).toEqual(['releaseKarpenterHolds:keep']);
    expect(k.budgets).toEqual({ default: 'user', gpu: 'user' });
    expect(k.pins).toEqual({});
  });

  it('a patch-only campaign only moves the pin: no hold, the drift step, the target terms kept', async () => {
    const k = karpenter();
    const { result, fake, name } = await runUpgrade(
      { behaviour: { karpenter: k } },
      { targetVersion: undefined, spec: (s) => ({ ...s, target: { ...s.target, kubernetesVersion: undefined } }) },
    );
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^(holdKarpenter|driftKarpenter|releaseKarpenter|startControlPlane)/)).toEqual([
      'driftKarpenterNodes',
      'releaseKarpenterHolds:keep',
    ]);
    expect(k.nodeClasses[0]?.terms).toEqual([{ alias: 'al2023@v20250101' }]);
  });

  it('a cluster without Karpenter makes no Karpenter call', async () => {
    const { result, fake, name } = await runUpgrade({});
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /Karpenter/)).toEqual([]);
  });
});
