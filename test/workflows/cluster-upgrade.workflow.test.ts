/**
 * The cluster-upgrade workflow on the shared Temporal dev server, with fake activities over an
 * in-memory cluster (test/helpers/fake-activities.ts).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HealthGateSpec } from '../../domain/spec';
import {
  clusterAbortSignal,
  clusterPauseSignal,
  clusterResumeSignal,
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
} from '../../workflows/definitions';
import { ClusterNameKey, UpgradeStepKey } from '../../workflows/search-attributes';
import type { clusterUpgradeWorkflow, progressSinkWorkflow } from '../fixtures/upgrade-test-workflows';
import { finishSignal, progressReceivedQuery } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import {
  createFakeActivities,
  fakeAddonVersion,
  fakePinned,
  fakeRelease,
  heartbeatUntil,
  type FakeActivities,
  type FakeClusterInit,
  type RecordedCall,
} from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';

const WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/upgrade-test-workflows.ts');

let temporal: TestTemporal;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [temporal, bundle] = await Promise.all([getTestTemporal(), getWorkflowBundle(WORKFLOWS)]);
});

const gate = (name: string, extra: Partial<HealthGateSpec> = {}): HealthGateSpec => ({
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
  ...extra,
});

type Spec = ClusterUpgradeInput['spec'];

const baseSpec = (): Spec => ({
  healthGates: [gate('error-rate'), gate('latency')],
  kubernetesChecks: { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true },
  rollback: { onGateFailure: true, onUpdateFailure: true, controlPlane: false },
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

interface Scenario {
  cluster?: Omit<FakeClusterInit, 'name'>;
  targetVersion?: string;
  spec?: (spec: Spec) => Spec;
  parentCampaignId?: string;
  beforeCall?: (call: RecordedCall) => Promise<void> | void;
  /** Runs against the started workflow before its result is awaited. */
  during?: (handle: WorkflowHandle<typeof clusterUpgradeWorkflow>, fake: FakeActivities, name: string) => Promise<void>;
}

interface Run {
  name: string;
  result: ClusterUpgradeResult;
  fake: FakeActivities;
  handle: WorkflowHandle<typeof clusterUpgradeWorkflow>;
  historyEvents: number;
}

const uniqueName = (): string => `c-${randomUUID().slice(0, 8)}`;

async function runUpgrade(scenario: Scenario = {}): Promise<Run> {
  const name = uniqueName();
  const fake = createFakeActivities({
    clusters: [{ name, ...scenario.cluster }],
    ...(scenario.beforeCall ? { beforeCall: scenario.beforeCall } : {}),
  });
  const targetVersion = scenario.targetVersion ?? '1.31';
  const spec = (scenario.spec ?? ((s) => s))(baseSpec());
  const input: ClusterUpgradeInput = {
    campaign: 'test-campaign',
    cluster: { name, region: 'eu-west-1' },
    targetVersion,
    pinned: fakePinned(['1.29', '1.30', '1.31', '1.32'], targetVersion),
    spec,
    attempt: 1,
    ...(scenario.parentCampaignId ? { parentCampaignId: scenario.parentCampaignId } : {}),
  };
  const taskQueue = temporal.taskQueue('cluster-upgrade');
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: fake.activities,
  });
  return worker.runUntil(async () => {
    const handle = await temporal.client.workflow.start<typeof clusterUpgradeWorkflow>('clusterUpgradeWorkflow', {
      workflowId: clusterUpgradeWorkflowId(name),
      taskQueue,
      args: [input],
    });
    await scenario.during?.(handle, fake, name);
    const result = await handle.result();
    const history = await handle.fetchHistory();
    return { name, result, fake, handle, historyEvents: history.events?.length ?? 0 };
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

async function waitFor(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const addonsAt = (minor: string) =>
  ['vpc-cni', 'coredns', 'kube-proxy'].map((a) => ({ name: a, version: fakeAddonVersion(a, minor) }));

describe('clusterUpgradeWorkflow', () => {
  it('upgrades control plane, add-ons and node groups, then bakes (happy path, history measured)', async () => {
    const run = await runUpgrade();
    const { result, fake, name } = run;
    expect(result.outcome).toBe('upgraded');
    expect(result.finalVersion).toBe('1.31');

    const eks = fake.eksTrace(name);
    expect(eks.slice(0, 8)).toEqual([
      'startControlPlaneUpgrade:1.31',
      'awaitUpdate:control-plane:1.31',
      `startAddonUpdate:vpc-cni@${fakeAddonVersion('vpc-cni', '1.31')}`,
      'awaitUpdate:addon:vpc-cni',
      `startAddonUpdate:coredns@${fakeAddonVersion('coredns', '1.31')}`,
      'awaitUpdate:addon:coredns',
      `startAddonUpdate:kube-proxy@${fakeAddonVersion('kube-proxy', '1.31')}`,
      'awaitUpdate:addon:kube-proxy',
    ]);
    // Two node groups at once (maxParallel 2): their order is not defined.
    expect([...eks.slice(8)].sort()).toEqual(
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

    // Baseline before anything, postStep is folded into the final bake (the hop is not the last step).
    const gates = fake.calls.filter((c) => c.cluster === name && c.name === 'evaluateHealthGate');
    const phases = gates.map((c) => c.label.split('/')[1]);
    expect(phases.filter((p) => p === 'baseline')).toHaveLength(2);
    expect(phases.filter((p) => p === 'postStep')).toHaveLength(2);
    const bake = gates.filter((c) => c.label.endsWith('/bake'));
    expect(bake).toHaveLength(2);
    // bake 5m / interval 30s = 10 > consecutiveSuccesses 2
    expect(bake.map((c) => (c.input as { requiredSuccesses?: number }).requiredSuccesses)).toEqual([10, 10]);
    const kube = fake.calls.filter((c) => c.cluster === name && c.name === 'checkKubernetesHealth').at(-1);
    expect((kube?.input as { expectedKubeletMinor?: Record<string, string> }).expectedKubeletMinor).toEqual({
      'ng-a': '1.31',
      'ng-b': '1.31',
    });
    expect(result.gates.filter((g) => g.phase === 'bake').every((g) => g.outcome === 'Successful')).toBe(true);

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

    // Determinism: the recorded history replays against the same bundle.
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, run.handle.workflowId);

    console.log(`history events per cluster-upgrade run: ${run.historyEvents}`);
    if (process.env.FLEETWAVE_DEBUG_HISTORY) {
      console.log((history.events ?? []).map((e) => `${e.eventId} ${e.eventType}`).join('\n'));
    }
    // A regression guard, not the target: the header of workflows/cluster-upgrade.ts says where the events go.
    expect(run.historyEvents).toBeLessThanOrEqual(100);
  });

  it('signals progress to a parent campaign at each major step (history measured with a parent)', async () => {
    const sinkId = `progress-sink-${randomUUID()}`;
    const taskQueue = temporal.taskQueue('progress-sink');
    const sinkWorker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: bundle,
    });
    await sinkWorker.runUntil(async () => {
      const sink = await temporal.client.workflow.start<typeof progressSinkWorkflow>('progressSinkWorkflow', {
        workflowId: sinkId,
        taskQueue,
      });
      const run = await runUpgrade({ parentCampaignId: sinkId });
      expect(run.result.outcome).toBe('upgraded');
      await waitFor('four progress signals', async () => (await sink.query(progressReceivedQuery)).length >= 4);
      const received = await sink.query(progressReceivedQuery);
      expect(received.map((p) => p.step)).toEqual(['control-plane 1.31', 'addons', 'node-groups', 'verify']);
      expect(received.every((p) => p.cluster === run.name)).toBe(true);
      await sink.signal(finishSignal);
      await sink.result();
      console.log(`history events per cluster-upgrade run with progress signals to a parent: ${run.historyEvents}`);
    });
  });

  it('chains control-plane hops one minor at a time, checking between them', async () => {
    const { result, fake, name, historyEvents } = await runUpgrade({
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
      `startAddonUpdate:vpc-cni@${fakeAddonVersion('vpc-cni', '1.31')}`,
      'awaitUpdate:addon:vpc-cni',
      `startAddonUpdate:coredns@${fakeAddonVersion('coredns', '1.31')}`,
      'awaitUpdate:addon:coredns',
      `startAddonUpdate:kube-proxy@${fakeAddonVersion('kube-proxy', '1.31')}`,
      'awaitUpdate:addon:kube-proxy',
      `startNodegroupUpdate:ng-a@1.31/${fakeRelease('1.31')}`,
      'awaitUpdate:nodegroup:ng-a',
      `startNodegroupUpdate:ng-b@1.31/${fakeRelease('1.31')}`,
      'awaitUpdate:nodegroup:ng-b',
    ]);
    // The postStep gates and Kubernetes checks of each hop run before the next step starts.
    const trace = fake.trace(name, /^(start|evaluateHealthGate:.*postStep|checkKubernetesHealth)/);
    const checks = [
      'checkKubernetesHealth',
      'evaluateHealthGate:error-rate/postStep',
      'evaluateHealthGate:latency/postStep',
    ];
    expect(trace[0]).toBe('startControlPlaneUpgrade:1.30');
    expect(trace.slice(1, 4).sort()).toEqual(checks);
    expect(trace[4]).toBe('startControlPlaneUpgrade:1.31');
    expect(trace.slice(5, 8).sort()).toEqual(checks);
    expect(trace[8]).toMatch(/^startAddonUpdate:vpc-cni/);
    expect(fake.cluster(name).version).toBe('1.31');
    console.log(`history events per cluster-upgrade run (2 hops, node groups one at a time): ${historyEvents}`);
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
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/nodegroup ng-b: EksUpdateFailed/);
    expect(result.reason).toContain('control plane stays at 1.31');
    const eks = fake.eksTrace(name);
    const firstRollback = eks.findIndex((l) => l.startsWith('rollback'));
    expect(eks.slice(firstRollback)).toEqual([
      // ng-b's failed update changed nothing: its rollback finds it at the snapshot and needs no wait.
      'rollbackNodegroup:ng-b',
      'rollbackNodegroup:ng-a',
      'awaitUpdate:rollback-nodegroup:ng-a',
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
      ['ng-a', '1.30', '1'],
      ['ng-b', '1.30', undefined],
    ]);
    expect(model.addons.map(({ name: n, version }) => ({ name: n, version }))).toEqual(addonsAt('1.30'));
    expect(result.steps.find((s) => s.step === 'nodegroup ng-a')?.status).toBe('rolled-back');
    expect(result.steps.find((s) => s.step === 'addon coredns')?.status).toBe('rolled-back');
  });

  it('rolls back after a bake gate fails, including the last control-plane hop when the spec opts in', async () => {
    const { result, fake, name } = await runUpgrade({
      cluster: {
        behaviour: { failGates: [{ gate: 'error-rate', phase: 'bake', message: 'error ratio 0.2 >= 0.01' }] },
      },
      spec: (s) => ({ ...s, rollback: { ...s.rollback, controlPlane: true } }),
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toContain('gate error-rate (bake): Failed: error ratio 0.2 >= 0.01');
    expect(result.finalVersion).toBe('1.30');
    const rollbacks = fake.eksTrace(name).filter((l) => l.startsWith('rollback'));
    expect(rollbacks.slice(0, 2).sort()).toEqual(['rollbackNodegroup:ng-a', 'rollbackNodegroup:ng-b']);
    expect(rollbacks.slice(2)).toEqual([
      `rollbackAddon:kube-proxy@${fakeAddonVersion('kube-proxy', '1.30')}`,
      `rollbackAddon:coredns@${fakeAddonVersion('coredns', '1.30')}`,
      `rollbackAddon:vpc-cni@${fakeAddonVersion('vpc-cni', '1.30')}`,
      'rollbackControlPlane:1.30',
    ]);
    const model = fake.cluster(name);
    expect(model.version).toBe('1.30');
    expect(model.nodegroups.every((n) => n.version === '1.30' && n.releaseVersion === fakeRelease('1.30'))).toBe(true);
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

  it('pauses after the current step and resumes on signal', async () => {
    const held = latch();
    const reached = latch();
    let statusWhilePaused: { step: string; paused: boolean } | undefined;
    const { result, fake, name } = await runUpgrade({
      beforeCall: async (call) => {
        if (call.label === 'awaitUpdate:control-plane:1.31') {
          reached.open();
          await heartbeatUntil(held.promise);
        }
      },
      during: async (handle, fakeActivities, cluster) => {
        await reached.promise;
        await handle.signal(clusterPauseSignal);
        held.open();
        // The control-plane step finishes, then nothing new starts while paused.
        await waitFor('control plane at 1.31', () => fakeActivities.cluster(cluster).version === '1.31');
        await new Promise((r) => setTimeout(r, 1500));
        const status = await handle.query(clusterStatusQuery);
        statusWhilePaused = { step: status.step, paused: status.paused };
        expect(fakeActivities.trace(cluster, /^startAddonUpdate/)).toEqual([]);
        await handle.signal(clusterResumeSignal);
      },
    });
    expect(statusWhilePaused).toEqual({ step: 'control-plane 1.31', paused: true });
    expect(result.outcome).toBe('upgraded');
    expect(fake.trace(name, /^startAddonUpdate/)).toHaveLength(3);
  });

  it('aborts at the next safe point: a started EKS update is awaited, nothing after it starts', async () => {
    const held = latch();
    const reached = latch();
    const { result, fake, name } = await runUpgrade({
      beforeCall: async (call) => {
        if (call.label === 'awaitUpdate:control-plane:1.31') {
          reached.open();
          await heartbeatUntil(held.promise);
        }
      },
      during: async (handle) => {
        await reached.promise;
        await handle.signal(clusterAbortSignal, { by: 'alice', reason: 'incident in eu-west-1' });
        held.open();
      },
    });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toBe('aborted by alice: incident in eu-west-1');
    expect(fake.eksTrace(name)).toEqual(['startControlPlaneUpgrade:1.31', 'awaitUpdate:control-plane:1.31']);
    expect(fake.cluster(name).version).toBe('1.31');
    expect(result.finalVersion).toBe('1.31');
  });

  it('aborts during bake at once: gates are cancelled, nothing is rolled back', async () => {
    const reached = latch();
    const never = new Promise<void>(() => undefined);
    const { result, fake, name } = await runUpgrade({
      beforeCall: async (call) => {
        if (call.label.endsWith('/bake')) {
          reached.open();
          await heartbeatUntil(never);
        }
      },
      during: async (handle) => {
        await reached.promise;
        await handle.signal(clusterAbortSignal, { by: 'bob' });
      },
    });
    expect(result.outcome).toBe('aborted');
    expect(fake.eksTrace(name).filter((l) => l.startsWith('rollback'))).toEqual([]);
  });

  it('refuses a second start of the same cluster-upgrade/<cluster> while one runs', async () => {
    const held = latch();
    const reached = latch();
    const { result } = await runUpgrade({
      beforeCall: async (call) => {
        if (call.name === 'awaitUpdate') {
          reached.open();
          await heartbeatUntil(held.promise);
        }
      },
      during: async (handle) => {
        await reached.promise;
        const second = temporal.client.workflow.start<typeof clusterUpgradeWorkflow>('clusterUpgradeWorkflow', {
          workflowId: handle.workflowId,
          taskQueue: 'nobody-polls-this',
          args: [{} as ClusterUpgradeInput],
        });
        await expect(second).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        held.open();
      },
    });
    expect(result.outcome).toBe('upgraded');
  });
});
