/**
 * The cluster-upgrade workflow on the shared Temporal dev server, with fake activities over an
 * in-memory cluster (test/helpers/fake-activities.ts).
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clusterAbortSignal,
  clusterPauseSignal,
  clusterResumeSignal,
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  reportBySignalSignal,
  WorkflowTypes,
  type ClusterUpgradeInput,
} from '../../workflows/definitions';
import type { CheckClusterHealthInput } from '../../activities/types';
import { ClusterNameKey, UpgradeStepKey } from '../../workflows/search-attributes';
import type { clusterUpgradeWorkflow, reportSinkWorkflow } from '../fixtures/upgrade-test-workflows';
import { finishSignal, reportsReceivedQuery } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle } from '../helpers/bundle';
import {
  createFakeActivities,
  fakeAddonVersion,
  fakeCluster,
  fakeNodegroup,
  fakeRelease,
  heartbeatUntil,
  type FakeActivities,
  type RecordedCall,
} from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  runClusterUpgrade,
  UPGRADE_TEST_WORKFLOWS,
  upgradeGate as gate,
  upgradeInput,
  upgradeSpec,
  upgradeTestTemporal,
  upgradeWorker,
  type UpgradeRun,
  type UpgradeScenario,
  type UpgradeSpec as Spec,
} from './campaign-harness';

let temporal: TestTemporal;

beforeAll(async () => {
  temporal = await upgradeTestTemporal();
});

const baseSpec = (): Spec =>
  upgradeSpec({
    healthGates: [gate('error-rate'), gate('latency')],
    rollback: { onGateFailure: true, onUpdateFailure: true, controlPlane: false },
  });

type Scenario = Pick<UpgradeScenario, 'cluster' | 'startSearchAttributes' | 'beforeCall' | 'during' | 'record'> & {
  spec?: (spec: Spec) => Spec;
  parentCampaignId?: string;
};

const uniqueName = (): string => `c-${randomUUID().slice(0, 8)}`;

/** An upgrade to 1.31 of a fake cluster (at 1.30 unless set), with versions pinned for 1.29 to 1.32. */
function runUpgrade(scenario: Scenario = {}): Promise<UpgradeRun> {
  const { spec = (s) => s, parentCampaignId, ...rest } = scenario;
  return runClusterUpgrade(temporal, {
    ...rest,
    prefix: 'c',
    queue: 'cluster-upgrade',
    spec: spec(baseSpec()),
    minors: ['1.29', '1.30', '1.31', '1.32'],
    ...(parentCampaignId ? { input: { parentCampaignId } } : {}),
  });
}

/** A promise with its resolve function, for holding activities in `beforeCall`. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * A `beforeCall` that holds the calls `matches` picks until `release()`, heartbeating (every
 * `heartbeatMs`) so that a cancellation still reaches them; `reached` resolves at the first.
 */
function holdCalls(matches: (call: RecordedCall) => boolean, heartbeatMs?: number) {
  const held = latch();
  const reached = latch();
  return {
    reached: reached.promise,
    release: held.open,
    beforeCall: async (call: RecordedCall): Promise<void> => {
      if (!matches(call)) return;
      reached.open();
      await heartbeatUntil(held.promise, heartbeatMs);
    },
  };
}

async function waitFor(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const addonsAt = (minor: string) =>
  ['vpc-cni', 'coredns', 'kube-proxy'].map((a) => ({ name: a, version: fakeAddonVersion(a, minor) }));

const updateAddonsTo = (minor: string): string =>
  `updateAddons:${addonsAt(minor)
    .map((a) => `${a.name}@${a.version}`)
    .join(',')}`;

const healthInputs = (fake: FakeActivities, name: string): CheckClusterHealthInput[] =>
  fake.calls
    .filter((c) => c.cluster === name && c.name === 'checkClusterHealth')
    .map((c) => c.input as CheckClusterHealthInput);

/** Events of each type in a history, for the printed breakdown. */
function eventCounts(events: { eventType?: number | null }[]): string {
  const counts = new Map<number, number>();
  for (const e of events) counts.set(Number(e.eventType), (counts.get(Number(e.eventType)) ?? 0) + 1);
  return [...counts.entries()].map(([type, n]) => `${type}×${n}`).join(' ');
}

describe('clusterUpgradeWorkflow', () => {
  it('upgrades control plane, add-ons and node groups, then bakes (happy path, history measured)', async () => {
    const run = await runUpgrade({ record: 'happy-path' });
    const { result, fake, name } = run;
    expect(result.outcome).toBe('upgraded');
    expect(result.finalVersion).toBe('1.31');

    const eks = fake.eksTrace(name);
    expect(eks.slice(0, 3)).toEqual([
      'startControlPlaneUpgrade:1.31',
      'awaitUpdate:control-plane:1.31',
      updateAddonsTo('1.31'),
    ]);
    // Two node groups at once (maxParallel 2): their order is not defined.
    expect([...eks.slice(3)].sort()).toEqual(
      [
        `startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`,
        `startNodegroupUpdate:ng-b@1.31/${fakeRelease('1.31')}`,
        'awaitUpdate:nodegroup:ng-a',
        'awaitUpdate:nodegroup:ng-b',
      ].sort(),
    );

    const model = fake.cluster(name);
    expect(model.version).toBe('1.31');
    expect(model.nodegroups.map((n) => [n.name, n.version, n.releaseVersion])).toEqual([
      ['ng-a', '1.31', fakeRelease('1.31')],
      ['ng-b', '1.31', fakeRelease('1.31')],
    ]);
    expect(model.addons.map(({ name: n, version }) => ({ name: n, version }))).toEqual(addonsAt('1.31'));

    // One health-check activity per phase: baseline before anything (the Kubernetes baseline came
    // with preflight), postStep after the hop (not the last step), then verify/bake.
    expect(fake.trace(name, /^(preflight|captureKubernetesBaseline|checkKubernetesHealth|evaluateHealthGate)/)).toEqual(
      ['preflightCluster'],
    );
    const [baseline, postStep, bake, ...more] = healthInputs(fake, name);
    expect(more).toEqual([]);
    expect(baseline).toMatchObject({ phase: 'baseline', runKubernetesChecks: false });
    expect(baseline?.gates.map((g) => g.name)).toEqual(['error-rate', 'latency']);
    expect(postStep).toMatchObject({ phase: 'postStep', runKubernetesChecks: true });
    expect(postStep?.gates.map((g) => g.name)).toEqual(['error-rate', 'latency']);
    expect(postStep?.baseline).toEqual({ crashLoopingPods: [], blockingPdbs: [] });
    // bake 5m / interval 30s = 10 > consecutiveSuccesses 2
    expect(bake).toMatchObject({
      phase: 'bake',
      runKubernetesChecks: true,
      requiredSuccessesByGate: { 'error-rate': 10, latency: 10 },
      expectedKubeletMinor: { 'ng-a': '1.31', 'ng-b': '1.31' },
    });
    expect(result.gates.filter((g) => g.phase === 'bake').every((g) => g.outcome === 'Successful')).toBe(true);
    expect(result.gates.map((g) => g.phase)).toEqual(['baseline', 'baseline', 'postStep', 'postStep', 'bake', 'bake']);
    expect(result.steps.filter((s) => s.step.startsWith('addon ')).map((s) => [s.step, s.status])).toEqual([
      ['addon vpc-cni', 'done'],
      ['addon coredns', 'done'],
      ['addon kube-proxy', 'done'],
    ]);

    // Visibility: search attributes, current details, activity summaries.
    const description = await run.handle.describe();
    expect(description.typedSearchAttributes.get(ClusterNameKey)).toBe(name);
    expect(description.typedSearchAttributes.get(UpgradeStepKey)).toBe('upgraded');
    const history = await run.handle.fetchHistory();
    const summaries = (history.events ?? [])
      .map((e) => e.userMetadata?.summary?.data)
      .filter((d): d is Uint8Array => d != null)
      .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as string);
    expect(summaries).toContain('control plane 1.30 → 1.31');
    expect(summaries).toContain(
      `add-ons ${addonsAt('1.30')
        .map((a, i) => `${a.name} ${a.version} → ${addonsAt('1.31')[i]?.version}`)
        .join(', ')}`,
    );
    expect(summaries).toContain('verify checks (bake): error-rate 10× every 30s, latency 10× every 30s; kubernetes');

    // Determinism: the recorded history replays against the same bundle.
    await Worker.runReplayHistory(
      { workflowBundle: await getWorkflowBundle(UPGRADE_TEST_WORKFLOWS) },
      history,
      run.handle.workflowId,
    );

    console.log(
      `history events per cluster-upgrade run: ${run.events} (by event type: ${eventCounts(history.events ?? [])})`,
    );
    if (process.env.FLEETWAVE_DEBUG_HISTORY) {
      console.log((history.events ?? []).map((e) => `${e.eventId} ${e.eventType}`).join('\n'));
    }
    // The budget (issue: ≤ 60 events per run); the header of workflows/cluster-upgrade.ts says where they go.
    expect(run.events).toBeLessThanOrEqual(60);
  });

  it('reports its result to the parent campaign by workflow ID once asked to (hand-over), and not otherwise', async () => {
    const sinkId = `report-sink-${randomUUID()}`;
    const taskQueue = temporal.taskQueue('report-sink');
    const sinkWorker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(UPGRADE_TEST_WORKFLOWS),
    });
    await sinkWorker.runUntil(async () => {
      const sink = await temporal.client.workflow.start<typeof reportSinkWorkflow>('reportSinkWorkflow', {
        workflowId: sinkId,
        taskQueue,
      });
      // Not asked: the parent run learns the end from the completion event; no signal is sent.
      const silent = await runUpgrade({ parentCampaignId: sinkId });
      expect(silent.result.outcome).toBe('upgraded');
      // Asked, as a campaign does before it continues as new.
      const asked = await runUpgrade({
        parentCampaignId: sinkId,
        during: async (handle) => {
          await handle.signal(reportBySignalSignal);
        },
      });
      expect(asked.result.outcome).toBe('upgraded');
      await waitFor('the finished report', async () => (await sink.query(reportsReceivedQuery)).length >= 1);
      await sink.signal(finishSignal);
      const received = await sink.result();
      expect(received).toHaveLength(1);
      expect(received[0]?.cluster).toBe(asked.name);
      expect(received[0]?.attempt).toBe(1);
      expect(received[0]?.result).toEqual(asked.result);
      console.log(
        `history events per cluster-upgrade run under a campaign: ${silent.events}; after a hand-over (asked to report by signal): ${asked.events}`,
      );
    });
  });

  it('chains control-plane hops one minor at a time, checking between them', async () => {
    const { result, fake, name, events } = await runUpgrade({
      cluster: { version: '1.29' },
      spec: (s) => ({ ...s, nodegroups: { maxParallel: 1, force: false } }),
    });
    expect(result.outcome).toBe('upgraded');
    expect(result.finalVersion).toBe('1.31');
    expect(fake.eksTrace(name)).toEqual([
      'startControlPlaneUpgrade:1.30',
      'awaitUpdate:control-plane:1.30',
      'startControlPlaneUpgrade:1.31',
      'awaitUpdate:control-plane:1.31',
      updateAddonsTo('1.31'),
      `startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`,
      'awaitUpdate:nodegroup:ng-a',
      `startNodegroupUpdate:ng-b@1.31/${fakeRelease('1.31')}`,
      'awaitUpdate:nodegroup:ng-b',
    ]);
    // The postStep gates and Kubernetes checks of each hop (one activity) run before the next step starts.
    expect(fake.trace(name, /^(start|updateAddons|checkClusterHealth)/)).toEqual([
      'checkClusterHealth:baseline',
      'startControlPlaneUpgrade:1.30',
      'checkClusterHealth:postStep',
      'startControlPlaneUpgrade:1.31',
      'checkClusterHealth:postStep',
      updateAddonsTo('1.31'),
      `startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`,
      `startNodegroupUpdate:ng-b@1.31/${fakeRelease('1.31')}`,
      'checkClusterHealth:bake',
    ]);
    expect(fake.cluster(name).version).toBe('1.31');
    console.log(`history events per cluster-upgrade run (2 hops, node groups one at a time): ${events}`);
  });

  it('does nothing to a cluster already at target', async () => {
    const { result, fake, name } = await runUpgrade({ cluster: { version: '1.31' } });
    expect(result.outcome).toBe('already-at-target');
    expect(result.finalVersion).toBe('1.31');
    expect(fake.trace(name)).toEqual(['preflightCluster']);
  });

  it('is blocked by preflight blockers and touches nothing', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: { behaviour: { blockers: ['insight UPGRADE_READINESS: deprecated API in use'] } },
    });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toContain('deprecated API in use');
    expect(fake.trace(name)).toEqual(['preflightCluster']);
  });

  it('is blocked when a baseline gate fails: an unhealthy cluster is not touched', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: { behaviour: { failGates: [{ gate: 'latency', phase: 'baseline', outcome: 'Inconclusive' }] } },
    });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toContain('gate latency (baseline): Inconclusive');
    expect(fake.eksTrace(name)).toEqual([]);
  });

  it('rolls back node groups and add-ons done so far when an update fails', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: { behaviour: { failUpdate: { 'nodegroup:ng-b': { at: 'await' } } } },
      spec: (s) => ({ ...s, nodegroups: { maxParallel: 1, force: false } }),
      record: 'rollback-nodegroup-failed',
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/nodegroup ng-b: EksUpdateFailed/);
    expect(result.reason).toContain('control plane stays at 1.31; node groups kept: node group ng-a stays at 1.31');
    const eks = fake.eksTrace(name);
    const firstRollback = eks.findIndex((l) => l.startsWith('rollback'));
    expect(eks.slice(firstRollback)).toEqual([
      // ng-b's failed update changed nothing: its rollback finds it at the snapshot and needs no wait.
      'rollbackNodegroup:ng-b',
      // ng-a's AMI is EKS's (its launch template names none): it stays, and nothing is started.
      'rollbackNodegroup:ng-a',
      `rollbackAddon:kube-proxy@${fakeAddonVersion('kube-proxy', '1.30')}`,
      'awaitUpdate:rollback-addon:kube-proxy',
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      'awaitUpdate:rollback-addon:coredns',
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
      'awaitUpdate:rollback-addon:vpc-cni',
    ]);
    const rollbackNgA = fake.calls.find((c) => c.cluster === name && c.label === 'rollbackNodegroup:ng-a');
    expect(rollbackNgA?.input).toMatchObject({
      previous: { name: 'ng-a', version: '1.30', launchTemplate: { version: '1' } },
    });
    const model = fake.cluster(name);
    expect(model.version).toBe('1.31');
    expect(model.nodegroups.map((n) => [n.name, n.version, n.launchTemplate?.version])).toEqual([
      ['ng-a', '1.31', '2'],
      ['ng-b', '1.30', undefined],
    ]);
    expect(model.addons.map(({ name: n, version }) => ({ name: n, version }))).toEqual(addonsAt('1.30'));
    expect(result.steps.find((s) => s.step === 'nodegroup ng-a')?.status).toBe('done');
    expect(result.steps.find((s) => s.step === 'rollback nodegroup ng-a')?.detail).toMatch(
      /^kept: node group ng-a stays at 1\.31 .*EKS picks its AL2023_x86_64_STANDARD AMI/,
    );
    expect(result.steps.find((s) => s.step === 'addon coredns')?.status).toBe('rolled-back');
  });

  it('rolls back after a bake gate fails as far as EKS allows: node groups and the control plane above them stay', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: { failGates: [{ gate: 'error-rate', phase: 'bake', message: 'error ratio 0.2 >= 0.01' }] },
      },
      spec: (s) => ({ ...s, rollback: { ...s.rollback, controlPlane: true } }),
      record: 'rollback-bake-gate',
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toContain('gate error-rate (bake): Failed: error ratio 0.2 >= 0.01');
    // EKS picks both node groups' AMIs: they stay at 1.31, and so does the control plane above them.
    expect(result.finalVersion).toBe('1.31');
    expect(result.reason).toContain(
      '; control plane stays at 1.31: node group ng-a 1.31, ng-b 1.31 run a kubelet newer than Kubernetes 1.30; node groups kept: ',
    );
    expect(result.reason).toContain('node group ng-a stays at 1.31');
    expect(result.reason).toContain('node group ng-b stays at 1.31');
    const rollbacks = fake.eksTrace(name).filter((l) => l.startsWith('rollback'));
    expect(rollbacks.slice(0, 2).sort()).toEqual(['rollbackNodegroup:ng-a', 'rollbackNodegroup:ng-b']);
    expect(rollbacks.slice(2)).toEqual([
      `rollbackAddon:kube-proxy@${fakeAddonVersion('kube-proxy', '1.30')}`,
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
      'rollbackControlPlane:1.30',
    ]);
    expect(fake.eksTrace(name).filter((l) => l.startsWith('awaitUpdate:rollback-'))).toEqual([
      'awaitUpdate:rollback-addon:kube-proxy',
      'awaitUpdate:rollback-addon:coredns',
      'awaitUpdate:rollback-addon:vpc-cni',
    ]);
    const model = fake.cluster(name);
    expect(model.version).toBe('1.31');
    expect(model.nodegroups.every((n) => n.version === '1.31' && n.releaseVersion === fakeRelease('1.31'))).toBe(true);
  });

  it('fails (needs attention) when the rollback itself fails, with both reasons', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: {
          failUpdate: { 'addon:coredns': { at: 'await' } },
          failRollback: { 'addon:vpc-cni': { at: 'start', message: 'EKS refuses to downgrade vpc-cni' } },
        },
      },
      spec: (s) => ({ ...s, rollback: { ...s.rollback, controlPlane: true } }),
    });
    expect(result.outcome).toBe('failed');
    expect(result.reason).toMatch(/addon coredns: EksUpdateFailed/);
    expect(result.reason).toMatch(
      /rollback failed: rollback addon vpc-cni: RollbackNotPossible: EKS refuses to downgrade vpc-cni/,
    );
    // Nothing of node groups was started; the control plane is not rolled back after a failed rollback.
    expect(fake.eksTrace(name).filter((l) => l.startsWith('rollback'))).toEqual([
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
    ]);
    expect(fake.trace(name, /^startNodegroupUpdate/)).toEqual([]);
    expect(result.finalVersion).toBe('1.31');
  });

  it('fails without rollback when the spec turns it off', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: { behaviour: { failUpdate: { 'addon:kube-proxy': { at: 'start' } } } },
      spec: (s) => ({ ...s, rollback: { ...s.rollback, onUpdateFailure: false } }),
    });
    expect(result.outcome).toBe('failed');
    expect(result.reason).toMatch(/addon kube-proxy: EksInvalidRequest.*spec\.rollback\.onUpdateFailure/);
    expect(fake.eksTrace(name).filter((l) => l.startsWith('rollback'))).toEqual([]);
  });

  it('keeps an add-on EKS cannot roll back on the new control plane, and still ends rolled-back', async () => {
    const kubeProxyBefore = fakeAddonVersion('kube-proxy', '1.30');
    const kubeProxyAfter = fakeAddonVersion('kube-proxy', '1.31');
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: {
          failUpdate: { 'nodegroup:ng-b': { at: 'await' } },
          unsupportedAddonVersions: { '1.31': [kubeProxyBefore] },
        },
      },
      spec: (s) => ({ ...s, nodegroups: { maxParallel: 1, force: false } }),
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^nodegroup ng-b: EksUpdateFailed/);
    expect(result.reason).toContain('; control plane stays at 1.31; node groups kept: node group ng-a stays at 1.31');
    expect(result.reason).toContain(
      `; add-ons kept: kube-proxy stays at ${kubeProxyAfter}: ${kubeProxyBefore} is not supported on control plane 1.31`,
    );
    const rollbacks = fake.eksTrace(name).filter((l) => /^(rollback|awaitUpdate:rollback)/.test(l));
    expect(rollbacks).toEqual([
      'rollbackNodegroup:ng-b',
      'rollbackNodegroup:ng-a',
      `rollbackAddon:kube-proxy@${kubeProxyBefore}`,
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      'awaitUpdate:rollback-addon:coredns',
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
      'awaitUpdate:rollback-addon:vpc-cni',
    ]);
    const model = fake.cluster(name);
    expect(model.version).toBe('1.31');
    expect(model.nodegroups.map((n) => [n.name, n.version])).toEqual([
      ['ng-a', '1.31'],
      ['ng-b', '1.30'],
    ]);
    expect(Object.fromEntries(model.addons.map((a) => [a.name, a.version]))).toEqual({
      'vpc-cni': fakeAddonVersion('vpc-cni', '1.30'),
      coredns: fakeAddonVersion('coredns', '1.30'),
      'kube-proxy': kubeProxyAfter,
    });
    const kept = result.steps.find((s) => s.step === 'rollback addon kube-proxy');
    expect(kept).toMatchObject({ status: 'skipped' });
    expect(kept?.detail).toMatch(/^kept: kube-proxy stays at /);
    expect(result.steps.find((s) => s.step === 'addon kube-proxy')?.status).toBe('done');
    expect(result.steps.find((s) => s.step === 'addon coredns')?.status).toBe('rolled-back');
  });

  it('with the control plane rolled back (opt-in), takes a kept add-on back once its old minor is back', async () => {
    const kubeProxyBefore = fakeAddonVersion('kube-proxy', '1.30');
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: {
          failGates: [{ gate: 'latency', phase: 'bake' }],
          unsupportedAddonVersions: { '1.31': [kubeProxyBefore] },
        },
      },
      // Node groups left alone: what is tested here is the control plane and the add-ons.
      spec: (s) => ({
        ...s,
        target: { ...s.target, skipNodegroups: true },
        rollback: { ...s.rollback, controlPlane: true },
      }),
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('verify: gate latency (bake): Failed: gate Failed');
    expect(result.finalVersion).toBe('1.30');
    const rollbacks = fake.eksTrace(name).filter((l) => l.startsWith('rollback'));
    expect(rollbacks).toEqual([
      `rollbackAddon:kube-proxy@${kubeProxyBefore}`,
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
      'rollbackControlPlane:1.30',
      // Supported again on 1.30: the second try goes through.
      `rollbackAddon:kube-proxy@${kubeProxyBefore}`,
    ]);
    const model = fake.cluster(name);
    expect(model.version).toBe('1.30');
    expect(model.addons.map(({ name: n, version }) => ({ name: n, version }))).toEqual(addonsAt('1.30'));
  });

  it('keeps the control plane (opt-in) when an add-on needs the newer minor, and says what stayed', async () => {
    const kubeProxyBefore = fakeAddonVersion('kube-proxy', '1.30');
    const kubeProxyAfter = fakeAddonVersion('kube-proxy', '1.31');
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: {
          failGates: [{ gate: 'latency', phase: 'bake' }],
          // Each kube-proxy build runs on its own minor only: neither way round is possible.
          unsupportedAddonVersions: { '1.31': [kubeProxyBefore], '1.30': [kubeProxyAfter] },
        },
      },
      // Node groups left alone: what is tested here is the control plane and the add-ons.
      spec: (s) => ({
        ...s,
        target: { ...s.target, skipNodegroups: true },
        rollback: { ...s.rollback, controlPlane: true },
      }),
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.finalVersion).toBe('1.31');
    expect(result.reason).toContain(
      `; control plane stays at 1.31: add-on kube-proxy ${kubeProxyAfter} is not supported on Kubernetes 1.30`,
    );
    expect(result.reason).toContain(`; add-ons kept: kube-proxy stays at ${kubeProxyAfter}`);
    expect(fake.eksTrace(name).filter((l) => l.startsWith('rollbackControlPlane'))).toEqual([
      'rollbackControlPlane:1.30',
    ]);
    expect(fake.eksTrace(name).filter((l) => l.startsWith('awaitUpdate:rollback-control-plane'))).toEqual([]);
    expect(fake.cluster(name).version).toBe('1.31');
    expect(fake.cluster(name).nodegroups.every((n) => n.version === '1.30')).toBe(true);
  });

  it('is blocked by a PDB that allows no disruption when node groups would be drained, touching nothing', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: { behaviour: { blockingPdbs: ['payments/ledger-db'] } },
      record: 'blocked-pdb',
    });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toBe(
      'preflight: PDB payments/ledger-db allows no disruption: node drains would fail with PodEvictionFailure; fix the PDB or set spec.nodegroups.force',
    );
    expect(fake.trace(name)).toEqual(['preflightCluster']);
  });

  it('proceeds past a blocking PDB with spec.nodegroups.force (a warning), and ignores it when no node group is updated', async () => {
    const forced = await runUpgrade({
      cluster: { behaviour: { blockingPdbs: ['payments/ledger-db'] } },
      spec: (s) => ({ ...s, nodegroups: { maxParallel: 2, force: true } }),
    });
    expect(forced.result.outcome).toBe('upgraded');
    expect(forced.result.steps.find((s) => s.step === 'preflight')?.detail).toBe(
      'warnings: PDB payments/ledger-db allows no disruption: node drains will be forced (spec.nodegroups.force)',
    );
    const started = forced.fake.calls.filter((c) => c.cluster === forced.name && c.name === 'startNodegroupUpdate');
    expect(started.map((c) => (c.input as { force: boolean }).force)).toEqual([true, true]);

    const noNodegroups = await runUpgrade({
      cluster: { behaviour: { blockingPdbs: ['payments/ledger-db'] } },
      spec: (s) => ({ ...s, target: { ...s.target, skipNodegroups: true } }),
    });
    expect(noNodegroups.result.outcome).toBe('upgraded');
    expect(noNodegroups.result.steps.find((s) => s.step === 'preflight')?.detail).toBeUndefined();
  });

  it('upserts no search attribute already set at start', async () => {
    const run = await runUpgrade({ startSearchAttributes: 'all' });
    expect(run.result.outcome).toBe('upgraded');
    const history = await run.handle.fetchHistory();
    const upserts = (history.events ?? []).filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
    // control-plane 1.31, addons, node-groups, verify, upgraded: no 'preflight' upsert.
    expect(upserts).toHaveLength(5);
    console.log(`history events per cluster-upgrade run started with every search attribute set: ${run.events}`);
  });

  it('pauses after the current step and resumes on signal', async () => {
    const hold = holdCalls((call) => call.label === 'awaitUpdate:control-plane:1.31');
    let statusWhilePaused: { step: string; paused: boolean } | undefined;
    const { result, fake, name } = await runUpgrade({
      beforeCall: hold.beforeCall,
      during: async (handle, fakeActivities, cluster) => {
        await hold.reached;
        await handle.signal(clusterPauseSignal);
        hold.release();
        // The control-plane step finishes, then nothing new starts while paused.
        await waitFor('control plane at 1.31', () => fakeActivities.cluster(cluster).version === '1.31');
        await new Promise((r) => setTimeout(r, 1500));
        const status = await handle.query(clusterStatusQuery);
        statusWhilePaused = { step: status.step, paused: status.paused };
        expect(fakeActivities.trace(cluster, /^updateAddons/)).toEqual([]);
        await handle.signal(clusterResumeSignal);
      },
      record: 'pause-resume',
    });
    expect(statusWhilePaused).toEqual({ step: 'control-plane 1.31', paused: true });
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^updateAddons/)).toEqual([updateAddonsTo('1.31')]);
  });

  it('pauses between control-plane hops: the hop in flight finishes, its checks run after the resume, then the next hop', async () => {
    const held = latch();
    const reached = latch();
    let whilePaused: string[] = [];
    const { result, fake, name } = await runUpgrade({
      cluster: { version: '1.29' },
      beforeCall: async (call) => {
        if (call.label === 'awaitUpdate:control-plane:1.30') {
          reached.open();
          await heartbeatUntil(held.promise, 100);
          // Like an EKS update that outlasts a heartbeat round trip: the cancellation reaches the step before the hop ends.
          const ctx = Context.current();
          while (!ctx.cancellationSignal.aborted) {
            ctx.heartbeat();
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      },
      during: async (handle, fakeActivities, cluster) => {
        await reached.promise;
        await handle.signal(clusterPauseSignal);
        // The workflow cancels the composite step; the hop in flight is still awaited.
        await waitFor('the cancellation of the step', async () => {
          const history = await handle.fetchHistory();
          return (history.events ?? []).some((e) => e.activityTaskCancelRequestedEventAttributes);
        });
        held.open();
        await waitFor('control plane at 1.30', () => fakeActivities.cluster(cluster).version === '1.30');
        await new Promise((r) => setTimeout(r, 1500));
        whilePaused = fakeActivities.trace(cluster, /^(startControlPlane|checkClusterHealth)/);
        expect((await handle.query(clusterStatusQuery)).paused).toBe(true);
        await handle.signal(clusterResumeSignal);
      },
    });
    // Nothing after the hop in flight while paused: no postStep check (it only reads, so it was skipped), no next hop.
    expect(whilePaused).toEqual(['checkClusterHealth:baseline', 'startControlPlaneUpgrade:1.30']);
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^(startControlPlane|checkClusterHealth)/)).toEqual([
      'checkClusterHealth:baseline',
      'startControlPlaneUpgrade:1.30',
      'checkClusterHealth:postStep',
      'startControlPlaneUpgrade:1.31',
      'checkClusterHealth:postStep',
      'checkClusterHealth:bake',
    ]);
    expect(result.steps.filter((s) => s.step.startsWith('checks after')).map((s) => [s.step, s.status])).toEqual([
      ['checks after control-plane 1.29 → 1.30', 'done'],
      ['checks after control-plane 1.30 → 1.31', 'done'],
    ]);
  });

  it('a pause that cancels the node-group step before it started holds there, then runs it after the resume', async () => {
    // One activity slot, held by another cluster's control-plane step: this cluster's node-group
    // step stays scheduled, not started, when the pause cancels it (the server cancels it at once).
    const [holder, paused] = [uniqueName(), uniqueName()];
    const hold = holdCalls((call) => call.cluster === holder && call.label === 'awaitUpdate:control-plane:1.31', 100);
    const fake = createFakeActivities({
      clusters: [
        { name: holder },
        // Already at 1.31 with add-ons pinned: only the node groups' AMI release changes.
        fakeCluster(paused, {
          version: '1.31',
          nodegroups: [fakeNodegroup('ng-a', '1.31', { releaseVersion: '1.31.0-20240101' })],
        }),
      ],
      beforeCall: hold.beforeCall,
    });
    const spec: Spec = {
      ...baseSpec(),
      healthGates: [],
      kubernetesChecks: { nodesReady: false, kubeletVersionsMatch: false, noNewCrashLoops: false },
    };
    const taskQueue = temporal.taskQueue('one-slot');
    const worker = await upgradeWorker(temporal, taskQueue, fake.activities, {
      maxConcurrentActivityTaskExecutions: 1,
    });
    const input = (name: string): ClusterUpgradeInput => upgradeInput(name, spec, '1.31', ['1.30', '1.31']);
    const { result, trace } = await worker.runUntil(async () => {
      const first = await temporal.client.workflow.start<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
        workflowId: clusterUpgradeWorkflowId(holder),
        taskQueue,
        args: [input(holder)],
      });
      await hold.reached;
      const second = await temporal.client.workflow.start<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
        workflowId: clusterUpgradeWorkflowId(paused),
        taskQueue,
        args: [input(paused)],
      });
      await waitFor('the node-group step scheduled', async () => {
        const history = await second.fetchHistory();
        return (history.events ?? []).some(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'updateNodegroups',
        );
      });
      await second.signal(clusterPauseSignal);
      await waitFor('the unstarted step cancelled', async () => {
        const history = await second.fetchHistory();
        return (history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes);
      });
      expect((await second.query(clusterStatusQuery)).paused).toBe(true);
      await second.signal(clusterResumeSignal);
      hold.release();
      await first.result();
      return { result: await second.result(), trace: fake.eksTrace(paused) };
    });
    expect(result.outcome).toBe('upgraded');
    expect(trace).toEqual([`startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`, 'awaitUpdate:nodegroup:ng-a']);
    expect(result.steps.filter((s) => s.step.startsWith('nodegroup')).map((s) => [s.step, s.status])).toEqual([
      ['nodegroup ng-a', 'done'],
    ]);
  });

  it('aborts between control-plane hops: the hop in flight finishes, the next one never starts', async () => {
    const hold = holdCalls((call) => call.label === 'awaitUpdate:control-plane:1.30', 100);
    const { result, fake, name } = await runUpgrade({
      cluster: { version: '1.29' },
      beforeCall: hold.beforeCall,
      during: async (handle) => {
        await hold.reached;
        await handle.signal(clusterAbortSignal, { by: 'carol' });
        hold.release();
      },
      record: 'abort-between-hops',
    });
    expect(result.outcome).toBe('aborted');
    expect(fake.eksTrace(name)).toEqual(['startControlPlaneUpgrade:1.30', 'awaitUpdate:control-plane:1.30']);
    expect(fake.cluster(name).version).toBe('1.30');
    expect(result.finalVersion).toBe('1.30');
  });

  it('pauses between node groups: the one in flight finishes, the next starts after the resume', async () => {
    const hold = holdCalls((call) => call.label === 'awaitUpdate:nodegroup:ng-a', 100);
    let whilePaused: string[] = [];
    const { result, fake, name } = await runUpgrade({
      spec: (s) => ({ ...s, nodegroups: { maxParallel: 1, force: false } }),
      beforeCall: hold.beforeCall,
      during: async (handle, fakeActivities, cluster) => {
        await hold.reached;
        await handle.signal(clusterPauseSignal);
        await waitFor('the cancellation of the step', async () => {
          const history = await handle.fetchHistory();
          return (history.events ?? []).some((e) => e.activityTaskCancelRequestedEventAttributes);
        });
        hold.release();
        await waitFor('ng-a at 1.31', () => fakeActivities.cluster(cluster).nodegroups[0]?.version === '1.31');
        await new Promise((r) => setTimeout(r, 1500));
        whilePaused = fakeActivities.trace(cluster, /^startNodegroupUpdate/);
        await handle.signal(clusterResumeSignal);
      },
    });
    expect(whilePaused).toEqual([`startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`]);
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^(startNodegroupUpdate|updateNodegroups)/)).toEqual([
      'updateNodegroups:ng-a,ng-b',
      `startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`,
      'updateNodegroups:ng-b',
      `startNodegroupUpdate:ng-b@1.31/${fakeRelease('1.31')}`,
    ]);
    expect(result.steps.filter((s) => s.step.startsWith('nodegroup ')).map((s) => [s.step, s.status])).toEqual([
      ['nodegroup ng-a', 'done'],
      ['nodegroup ng-b', 'done'],
    ]);
  });

  it('pauses during the add-on step: the step stops at once and runs again after the resume', async () => {
    let holds = 0;
    // The first add-on call stands for a look that waits on EKS; a pause cancels it.
    const hold = holdCalls((call) => call.name === 'updateAddons' && holds++ === 0, 100);
    let whilePaused: { step: string; paused: boolean; calls: number; changed: number } | undefined;
    const { result, fake, name } = await runUpgrade({
      beforeCall: hold.beforeCall,
      during: async (handle, fakeActivities, cluster) => {
        await hold.reached;
        await handle.signal(clusterPauseSignal);
        await waitFor('the cancellation of the add-on step', async () => {
          const history = await handle.fetchHistory();
          return (history.events ?? []).some((e) => e.activityTaskCancelRequestedEventAttributes);
        });
        await new Promise((r) => setTimeout(r, 1500));
        const status = await handle.query(clusterStatusQuery);
        whilePaused = {
          step: status.step,
          paused: status.paused,
          calls: fakeActivities.trace(cluster, /^updateAddons/).length,
          changed: fakeActivities.trace(cluster, /^(startAddonUpdate|updateNodegroups)/).length,
        };
        hold.release();
        await handle.signal(clusterResumeSignal);
      },
      record: 'pause-addons',
    });
    // Held at once in the add-on step: nothing more was called while paused.
    expect(whilePaused).toEqual({ step: 'addons', paused: true, calls: 1, changed: 0 });
    expect(result.outcome).toBe('upgraded');
    // After the resume, the same call again, which updated every add-on.
    expect(fake.trace(name, /^updateAddons/)).toEqual([updateAddonsTo('1.31'), updateAddonsTo('1.31')]);
    expect(fake.cluster(name).addons.map((a) => a.version)).toEqual(addonsAt('1.31').map((a) => a.version));
  });

  it('aborts at the next safe point: a started EKS update is awaited, nothing after it starts', async () => {
    const hold = holdCalls((call) => call.label === 'awaitUpdate:control-plane:1.31');
    const { result, fake, name } = await runUpgrade({
      beforeCall: hold.beforeCall,
      during: async (handle) => {
        await hold.reached;
        await handle.signal(clusterAbortSignal, { by: 'alice', reason: 'incident in eu-west-1' });
        hold.release();
      },
      record: 'abort',
    });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toBe('aborted by alice: incident in eu-west-1');
    expect(fake.eksTrace(name)).toEqual(['startControlPlaneUpgrade:1.31', 'awaitUpdate:control-plane:1.31']);
    expect(fake.cluster(name).version).toBe('1.31');
    expect(result.finalVersion).toBe('1.31');
  });

  it('aborts during bake at once: gates are cancelled, nothing is rolled back', async () => {
    // Never released: the abort cancels it.
    const hold = holdCalls((call) => call.label === 'checkClusterHealth:bake');
    const { result, fake, name } = await runUpgrade({
      beforeCall: hold.beforeCall,
      during: async (handle) => {
        await hold.reached;
        await handle.signal(clusterAbortSignal, { by: 'bob' });
      },
    });
    expect(result.outcome).toBe('aborted');
    expect(fake.eksTrace(name).filter((l) => l.startsWith('rollback'))).toEqual([]);
  });

  it('refuses a second start of the same cluster-upgrade/<cluster> while one runs', async () => {
    const hold = holdCalls((call) => call.name === 'awaitUpdate');
    const { result } = await runUpgrade({
      beforeCall: hold.beforeCall,
      during: async (handle) => {
        await hold.reached;
        const second = temporal.client.workflow.start<typeof clusterUpgradeWorkflow>(WorkflowTypes.clusterUpgrade, {
          workflowId: handle.workflowId,
          taskQueue: 'nobody-polls-this',
          args: [{} as ClusterUpgradeInput],
        });
        await expect(second).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        hold.release();
      },
    });
    expect(result.outcome).toBe('upgraded');
  });
});
