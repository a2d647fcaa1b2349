/**
 * The campaign's state machine and its promotion rule without Temporal: each test drives the
 * machine through its named transitions (as the workflow's main loop and handlers do) and checks
 * the status, the counts, the refusals and the budget policy's outcome.
 */
import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import { campaignSchema, type Campaign, type CampaignInput } from '../../domain/spec';
import type { ClusterUpgradeResult } from '../../workflows/definitions';
import type { Reversible } from '../../workflows/cluster-upgrade/rollback';
import { setUpCampaign, pinRequest } from '../../workflows/campaign/planning';
import { decidePromotion, type PromotionFacts } from '../../workflows/campaign/promotion';
import { AUDIT_KEPT, CampaignMachine, type CarriedState } from '../../workflows/campaign/state';

function member(name: string, version = '1.29', labels: Record<string, string> = {}): FleetMember {
  return {
    name,
    region: 'eu-west-1',
    account: '123456789012',
    labels: { region: 'eu-west-1', account: '123456789012', ...labels },
    version,
    oldestNodeVersion: version,
    nodegroups: [{ name: 'ng', version, nodes: 3, maxUnavailable: 1 }],
    addons: ['vpc-cni', 'coredns'],
    blockingPdbs: [],
  };
}

function makeCampaign(name: string, spec: Partial<CampaignInput['spec']>): Campaign {
  return campaignSchema.parse({
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name },
    spec: { target: { kubernetesVersion: '1.31' }, bake: '0s', ...spec },
  });
}

const T0 = Date.parse('2025-06-01T00:00:00Z');
const PINNED = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

/** A machine past version resolution, in its first wave's window. */
function machine(fleet: FleetMember[], spec: Partial<CampaignInput['spec']>) {
  const campaign = makeCampaign('state', spec);
  const plan = setUpCampaign(campaign, fleet);
  const m = CampaignMachine.fromPlan(campaign, plan.placed, plan, T0, 'tester');
  m.pinVersions(PINNED);
  m.beginWaves(undefined);
  m.startWave(T0);
  return { m, plan, campaign };
}

function result(cluster: string, outcome: ClusterUpgradeResult['outcome']): ClusterUpgradeResult {
  return { cluster, outcome, steps: [{ step: 'done', status: 'done' }], gates: [] };
}

/** Starts and finishes every cluster of the current window with `outcome`. */
function runWindow(m: CampaignMachine, outcome: (name: string) => ClusterUpgradeResult['outcome'] = () => 'upgraded') {
  const wave = m.currentWave;
  if (!wave) throw new Error('no current wave');
  for (const c of m.windowClusters(wave.index)) {
    const attempt = m.markClusterStarted(c.name, wave.name, T0);
    m.childRunStarted(c.name, attempt, `run-${c.name}`);
    expect(m.onFinished({ cluster: c.name, attempt, result: result(c.name, outcome(c.name)) }, T0 + 1)).toBe(true);
  }
}

/** Ends the current window and its (zero-length) soak. */
function soak(m: CampaignMachine) {
  m.endWindow(T0);
  expect(m.phase).toBe('soak');
  m.beginSoak(0, T0);
  m.endSoak(T0);
  expect(m.phase).toBe('approval');
}

const twoWaves = {
  waves: [
    { name: 'canary', count: 1, approval: 'required' as const },
    { name: 'rest', failureBudget: 1 },
  ],
  approvers: { users: ['alice', 'bob'], minApprovals: 2 },
};

describe('campaign state machine', () => {
  it('plans with domain/plan: clusters at target are skipped at plan time, versions pinned for every hop', () => {
    const fleet = [member('a'), member('b', '1.31'), member('c', '1.30')];
    const { m, plan, campaign } = machine(fleet, twoWaves);
    expect(m.status().skippedAtPlan).toEqual([{ cluster: 'b', reason: 'already at target (1.31)' }]);
    expect(m.status().waves.map((w) => [w.name, w.total, w.approvalsNeeded])).toEqual([
      ['canary', 1, 2],
      ['rest', 1, 0],
    ]);
    expect(pinRequest(campaign, plan.placed, plan.paths)).toEqual({
      target: campaign.spec.target,
      region: 'eu-west-1',
      minors: ['1.30', '1.31'],
      addonNames: ['coredns', 'vpc-cni'],
      // Node groups end at the target minor; members without an amiType count as EKS's default.
      amis: { 'eu-west-1': { AL2023_x86_64_STANDARD: ['1.31'] } },
    });
  });

  it('runs a wave to approval, validates approvals, and promotes on the quorum', () => {
    const { m } = machine([member('a'), member('c')], twoWaves);
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toMatch(
      /is not awaiting approval \(state: running, wave "canary"/,
    );
    runWindow(m);
    expect(m.windowDone(0)).toBe(true);
    soak(m);
    expect(m.promotion().step).toBe('await-approval');
    m.awaitApproval(T0);
    expect(m.campaignState()).toBe('awaiting-approval');
    expect(m.approvalRefusal({ wave: 'rest', approver: 'alice' })).toBe(
      'wave "rest" is not awaiting approval; wave "canary" is',
    );
    expect(m.approvalRefusal({ wave: 'canary', approver: 'mallory' })).toBe(
      '"mallory" is not an approver of campaign "state" (approvers: alice, bob)',
    );
    expect(m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', T0)).toEqual({
      approvals: 1,
      needed: 2,
      promoted: false,
    });
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toBe('"alice" already approved wave "canary"');
    expect(m.applyApproval({ wave: 'canary', approver: 'bob' }, 'signal', T0).promoted).toBe(true);
    expect(m.promotion().step).toBe('promote');
    m.promote(T0);
    expect(m.phase).toBe('window');
    expect(m.currentWave?.name).toBe('rest');
    expect(m.status().waves[0]?.state).toBe('promoted');
    expect(m.status().audit.at(-1)).toMatchObject({ kind: 'promoted', detail: 'approved by alice, bob; next: rest' });
    m.startWave(T0);
    runWindow(m);
    soak(m);
    expect(m.promotion().step).toBe('complete');
    m.completeLastWave(T0);
    expect(m.phase).toBe('done');
    expect(m.result()).toMatchObject({ state: 'completed', upgraded: ['a', 'c'] });
    expect(m.totals()).toEqual({ done: 2, failed: 0, total: 2 });
  });

  it('answers a wave rollback with the node groups EKS cannot take back as staying', () => {
    const { m } = machine([member('a'), member('c')], {
      ...twoWaves,
      rollback: { afterPromotion: { mode: 'propose', controlPlane: true } },
    });
    const previous = { version: '1.29', status: 'ACTIVE' };
    const undo: Reversible[] = [
      { kind: 'addon', plan: { name: 'vpc-cni', from: 'v1.0', to: 'v1.1' }, step: 'addon vpc-cni' },
      {
        kind: 'nodegroup',
        plan: { previous: { ...previous, name: 'ng', amiType: 'AL2023_x86_64_STANDARD' }, minor: '1.31' },
        step: 'nodegroup ng',
      },
      {
        kind: 'nodegroup',
        plan: {
          previous: { ...previous, name: 'custom', amiType: 'CUSTOM', launchTemplate: { name: 'lt', version: '3' } },
          minor: '1.31',
          imageId: 'ami-0123456789abcdef0',
        },
        step: 'nodegroup custom',
      },
    ];
    const [canary] = m.windowClusters(0);
    if (!canary) throw new Error('no canary cluster');
    const attempt = m.markClusterStarted(canary.name, 'canary', T0);
    m.childRunStarted(canary.name, attempt, 'run-canary');
    m.onFinished({ cluster: canary.name, attempt, result: { ...result(canary.name, 'upgraded'), undo } }, T0 + 1);
    soak(m);
    m.awaitApproval(T0);
    m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', T0);
    m.applyApproval({ wave: 'canary', approver: 'bob' }, 'update', T0);
    m.promote(T0);
    expect(m.waveRollbackRefusal({ wave: 'canary', by: 'ops' })).toBeUndefined();
    expect(m.requestWaveRollback({ wave: 'canary', by: 'ops' }, T0).clusters).toEqual([
      {
        cluster: canary.name,
        started: true,
        goesBack: [
          'nodegroup custom',
          'addon vpc-cni',
          'control-plane 1.31 → 1.30 (VersionRollback, if EKS allows it now)',
        ],
        stays: [
          'node group ng stays at 1.31: EKS picks its AL2023_x86_64_STANDARD AMI, and EKS cannot roll a node group back to an earlier Kubernetes or AMI version',
        ],
      },
    ]);
  });

  it('acknowledges the failures so far when resumed past the budget, and pauses again on a further one', () => {
    const { m } = machine([member('a'), member('c'), member('d'), member('e')], twoWaves);
    runWindow(m);
    soak(m);
    m.awaitApproval(T0);
    m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', T0);
    m.applyApproval({ wave: 'canary', approver: 'bob' }, 'update', T0);
    m.promote(T0);
    m.startWave(T0);
    const rest = m.windowClusters(1).map((c) => c.name);
    expect(rest).toEqual(['c', 'd', 'e']);
    expect(m.applyBudgetPolicy(1, T0)).toBe('within-budget');
    for (const name of rest.slice(0, 2)) {
      const attempt = m.markClusterStarted(name, 'rest', T0);
      m.onFinished({ cluster: name, attempt, result: result(name, 'rolled-back') }, T0);
    }
    expect(m.budgetExceeded(1)).toBe(true);
    expect(m.applyBudgetPolicy(1, T0)).toBe('paused');
    expect(m.campaignState()).toBe('paused');
    expect(m.status().waves[1]).toMatchObject({ state: 'paused-budget-exceeded', counts: { 'rolled-back': 2 } });
    expect(m.status().pausedReason).toMatch(/failure budget exceeded: 2 failed or rolled back, budget 1/);
    const audit = m.status().audit.length;
    expect(m.applyBudgetPolicy(1, T0)).toBe('paused');
    expect(m.status().audit).toHaveLength(audit);
    m.resume({ by: 'oncall' }, T0);
    expect(m.budgetExceeded(1)).toBe(false);
    expect(m.status().waves[1]).toMatchObject({ state: 'running', acknowledgedFailures: 2 });
    const attempt = m.markClusterStarted('e', 'rest', T0);
    m.onFinished({ cluster: 'e', attempt, result: result('e', 'failed') }, T0);
    expect(m.budgetExceeded(1)).toBe(true);
  });

  it('aborts when the wave says so, and hands the children an abort signal once', () => {
    const { m } = machine([member('a'), member('c'), member('d')], {
      waves: [{ name: 'all', maxParallel: 3, approval: 'auto', failureBudget: 0, onBudgetExceeded: 'abort' }],
    });
    const [a, c] = m.windowClusters(0);
    if (!a || !c) throw new Error('plan');
    const attemptA = m.markClusterStarted(a.name, 'all', T0);
    m.childRunStarted(a.name, attemptA, 'run-a');
    const attemptC = m.markClusterStarted(c.name, 'all', T0);
    m.childRunStarted(c.name, attemptC, 'run-c');
    m.onFinished({ cluster: a.name, attempt: attemptA, result: result(a.name, 'failed') }, T0);
    expect(m.applyBudgetPolicy(0, T0)).toBe('aborted');
    expect(m.aborting).toBe(true);
    expect(m.takePendingSignals(0)).toEqual([{ kind: 'abort-child', cluster: 'c', runId: 'run-c' }]);
    expect(m.takePendingSignals(0)).toEqual([]);
    expect(m.skipRefusal({ cluster: 'd', by: 'ops' })).toBe('campaign "state" is aborting');
    m.markWaveAborted();
    m.onFinished({ cluster: c.name, attempt: attemptC, result: result(c.name, 'aborted') }, T0);
    m.finish();
    expect(m.result()).toMatchObject({ state: 'aborted', failed: ['a', 'c'] });
    expect(m.status().waves[0]?.state).toBe('aborted');
  });

  it('tells children to hold on an operator pause only, and to go on after resume', () => {
    const { m } = machine([member('a')], { waves: [{ name: 'all', approval: 'auto' }] });
    const attempt = m.markClusterStarted('a', 'all', T0);
    m.childRunStarted('a', attempt, 'run-a');
    const changes = m.changes;
    m.pause('operator', 'paused by ops', T0, 'ops');
    expect(m.changes).toBeGreaterThan(changes);
    m.pause('operator', 'paused by ops', T0, 'ops');
    expect(m.status().pausedReason).toBe('paused by ops');
    expect(m.takePendingSignals(0)).toEqual([{ kind: 'pause-child', cluster: 'a', runId: 'run-a' }]);
    m.resume({ by: 'ops' }, T0);
    expect(m.takePendingSignals(0)).toEqual([{ kind: 'resume-child', cluster: 'a', runId: 'run-a' }]);
  });

  it('holds in-flight children while a freeze is in force, never a rollback, and resumes them when it ends', () => {
    const { m } = machine([member('a'), member('b'), member('r')], {
      waves: [{ name: 'all', maxParallel: 3, approval: 'auto' }],
    });
    for (const name of ['a', 'b']) m.childRunStarted(name, m.markClusterStarted(name, 'all', T0), `run-${name}`);
    // A cluster rolling back (here a rollback-only child) runs to its end inside a freeze.
    const rollback = m.markRollbackStarted('r', 'all', T0);
    m.childRunStarted('r', rollback.attempt, 'run-r');
    const freeze = { id: 'f1', reason: 'holiday', untilMs: T0 + 3_600_000, text: 'frozen: holiday until X' };
    expect(m.freezeCheckDue(T0)).toBe(false);
    m.onFleetControlChanged(true);
    expect(m.freezeCheckDue(T0)).toBe(true);
    m.markFleetControlAsked();
    m.setFreeze(freeze, undefined);
    expect(m.campaignState()).toBe('frozen');
    expect(m.takePendingSignals(T0)).toEqual([
      { kind: 'pause-child', cluster: 'a', runId: 'run-a' },
      { kind: 'pause-child', cluster: 'b', runId: 'run-b' },
    ]);
    expect(m.takePendingSignals(T0)).toEqual([]);
    expect(m.status().clusters.find((c) => c.name === 'a')?.held).toBe('held by freeze f1: frozen: holiday until X');
    expect(m.status().clusters.find((c) => c.name === 'r')?.held).toBeUndefined();
    // Asked again only when the freeze ends (or a signal says it may have been lifted).
    expect(m.freezeCheckDue(T0 + 1000)).toBe(false);
    expect(m.freezeWakeAt(T0)).toBe(freeze.untilMs);
    expect(m.freezeCheckDue(freeze.untilMs)).toBe(true);
    // The operator pauses meanwhile: the freeze ends, but the children stay held until resume.
    m.pause('operator', 'paused by ops', T0, 'ops');
    m.setFreeze(undefined, T0 + 7_200_000);
    expect(m.campaignState()).toBe('paused');
    // An operator pause holds a rollback of this wave as it always did; only a freeze lets it run.
    expect(m.takePendingSignals(T0)).toEqual([{ kind: 'pause-child', cluster: 'r', runId: 'run-r' }]);
    expect(m.status().clusters.find((c) => c.name === 'a')?.held).toBe('held by pause');
    expect(m.resumesPending()).toBe(false);
    m.resume({ by: 'ops' }, T0);
    // The loop looks at the calendar before these resumes go out (a freeze may have begun meanwhile).
    expect(m.resumesPending()).toBe(true);
    expect(m.takePendingSignals(T0)).toEqual([
      { kind: 'resume-child', cluster: 'a', runId: 'run-a' },
      { kind: 'resume-child', cluster: 'b', runId: 'run-b' },
      { kind: 'resume-child', cluster: 'r', runId: 'run-r' },
    ]);
    expect(m.campaignState()).toBe('running');
    expect(m.resumesPending()).toBe(false);
    // The next freeze's start is a wake time while upgrades are in flight.
    expect(m.freezeWakeAt(T0)).toBe(T0 + 7_200_000);
    expect(m.freezeCheckDue(T0 + 7_200_000)).toBe(true);
    const audited = m.status().audit.filter((e) => e.kind === 'freeze-hold-children');
    expect(audited.map((e) => e.detail)).toEqual([
      '2 in-flight upgrade(s) hold at their next safe point (freeze f1): frozen: holiday until X',
      '3 held upgrade(s) resumed',
    ]);
  });

  it('asks the fleet control with nothing to start only while upgrades are in flight', () => {
    const { m } = machine([member('a')], { waves: [{ name: 'all', approval: 'auto' }] });
    m.onFleetControlChanged(true);
    m.setFreeze(undefined, T0 + 1000);
    expect(m.freezeCheckDue(T0 + 2000)).toBe(false);
    expect(m.freezeWakeAt(T0)).toBeUndefined();
    m.childRunStarted('a', m.markClusterStarted('a', 'all', T0), 'run-a');
    expect(m.freezeCheckDue(T0 + 2000)).toBe(true);
    m.markFleetControlAbsent();
    expect(m.freezeCheckDue(T0 + 2000)).toBe(false);
  });

  it('blocks a cluster another workflow upgrades without counting an attempt or a failure', () => {
    const { m } = machine([member('a')], { waves: [{ name: 'all', approval: 'auto', failureBudget: 0 }] });
    const attempt = m.markClusterStarted('a', 'all', T0);
    m.markStartFailed('a', attempt, 'blocked', 'being upgraded by another campaign', 'all', T0);
    expect(m.status().clusters[0]).toMatchObject({ state: 'blocked', attempts: 0 });
    expect(m.budgetExceeded(0)).toBe(false);
    expect(m.windowDone(0)).toBe(true);
  });

  it('returns leases of a skipped cluster, and a grant nobody waits for', () => {
    const { m } = machine([member('a'), member('c')], { waves: [{ name: 'all', approval: 'auto' }] });
    m.reserveForLeases('a', ['region=eu-west-1']);
    expect(m.occupying().map((c) => c.name)).toEqual(['a']);
    expect(m.cluster('a')).toMatchObject({ state: 'waiting', waitingFor: 'fleet-wide lease region=eu-west-1' });
    m.onLeaseGranted('a', 'region=eu-west-1');
    expect(m.cluster('a')?.leases).toEqual({ 'region=eu-west-1': 'granted' });
    expect(m.skipRefusal({ cluster: 'a', by: 'ops' })).toBeUndefined();
    m.applySkip({ cluster: 'a', by: 'ops' }, T0);
    m.onLeaseGranted('c', 'account=1');
    expect(m.takePendingSignals(0)).toEqual([
      { kind: 'release-lease', cluster: 'a', leaseId: 'region=eu-west-1' },
      { kind: 'release-lease', cluster: 'c', leaseId: 'account=1' },
    ]);
    expect(m.occupying()).toEqual([]);
    expect(m.skipRefusal({ cluster: 'a', by: 'ops' })).toMatch(/is skipped; only pending/);
  });

  it('holds the wave after a failed soak gate until resume, then goes on to approval', () => {
    const { m } = machine([member('a'), member('c')], twoWaves);
    runWindow(m);
    m.endWindow(T0);
    m.beginSoak(60_000, T0);
    expect(m.claimSoakEvaluations(3, 2)).toEqual({ from: 0, to: 2 });
    expect(m.claimSoakEvaluations(3, 2)).toEqual({ from: 2, to: 3 });
    const gate = { gate: 'errors', phase: 'soak' as const, measurements: 1, successes: 0, failures: 0 };
    m.recordSoakResult(0, 'a', 'errors', {
      ...gate,
      outcome: 'Inconclusive',
      inconclusive: 1,
      errors: 0,
      message: 'no data',
    });
    m.endSoak(T0);
    expect(m.campaignState()).toBe('paused');
    expect(m.promotion().step).toBe('hold-soak-failed');
    expect(m.status().waves[0]?.gates).toHaveLength(1);
    m.resume({ by: 'oncall' }, T0);
    expect(m.promotion().step).toBe('await-approval');
  });

  it('runs a retried cluster in the next window while the current wave awaits approval', () => {
    const { m } = machine([member('a'), member('c')], twoWaves);
    runWindow(m, () => 'failed');
    soak(m);
    m.awaitApproval(T0);
    expect(m.retryRefusal({ cluster: 'a', by: 'ops' })).toBeUndefined();
    const status = m.applyRetry({ cluster: 'a', by: 'ops' }, T0);
    expect(status).toMatchObject({ state: 'pending', wave: 'canary', runsInWave: 'rest' });
    expect(m.cluster('a')?.attempt).toBe(2);
    expect(m.retryRefusal({ cluster: 'a', by: 'ops' })).toMatch(/is pending; only failed/);
  });

  it('keeps the last audit entries, counts the dropped ones, and restores from carried JSON', () => {
    const { m, campaign, plan } = machine([member('a'), member('c')], twoWaves);
    for (let i = 0; i < AUDIT_KEPT + 25; i++) m.recordRefusedApproval({ wave: 'x', approver: 'y' }, String(i), T0 + i);
    const status = m.status();
    expect(status.audit).toHaveLength(AUDIT_KEPT);
    expect(status.auditDropped).toBe(27);
    expect(status.audit.at(-1)?.detail).toBe(String(AUDIT_KEPT + 24));
    const carried: CarriedState = JSON.parse(JSON.stringify(m.toCarried()));
    const restored = CampaignMachine.restore(campaign, plan.placed, carried);
    expect(restored.status()).toEqual({ ...status, runs: 2 });
    restored.pause('operator', 'x', T0);
    expect(carried.paused).toBe(false);
    expect(m.toCarried()).not.toBe(m.toCarried());
  });
});

describe('promotion rule', () => {
  const facts: PromotionFacts = {
    lastWave: false,
    approval: 'required',
    approvals: 0,
    approvalsNeeded: 2,
    paused: false,
    soakFailed: false,
  };

  it('waits for the quorum, then promotes', () => {
    expect(decidePromotion(facts)).toEqual({ step: 'await-approval', approvalRequired: true, approved: false });
    expect(decidePromotion({ ...facts, approvals: 2 })).toEqual({
      step: 'promote',
      approvalRequired: true,
      approved: true,
    });
  });

  it('promotes an automatic wave at once, and completes the last wave without approval', () => {
    expect(decidePromotion({ ...facts, approval: 'auto' }).step).toBe('promote');
    expect(decidePromotion({ ...facts, lastWave: true })).toEqual({
      step: 'complete',
      approvalRequired: false,
      approved: true,
    });
  });

  it('never promotes on a failed soak or while paused', () => {
    expect(decidePromotion({ ...facts, approvals: 2, paused: true, soakFailed: true }).step).toBe('hold-soak-failed');
    expect(decidePromotion({ ...facts, lastWave: true, paused: true, soakFailed: true }).step).toBe('hold-soak-failed');
    expect(decidePromotion({ ...facts, approvals: 2, paused: true }).step).toBe('hold-paused');
  });
});

describe('who may write the state', () => {
  /**
   * Never called: `tsc --noEmit` (CI's typecheck) fails if any line below stops being an error,
   * that is if code outside CampaignMachine could write its state.
   */
  function writesOutsideTheMachine(m: CampaignMachine): void {
    // @ts-expect-error the state view is deeply read-only
    m.view.phase = 'done';
    // @ts-expect-error wave records read through the machine are read-only
    m.view.waves[0].state = 'completed';
    // @ts-expect-error cluster records too
    m.windowClusters(0)[0].state = 'upgraded';
    // @ts-expect-error the change counter is counted inside the machine only
    m.changes += 1;
  }

  it('keeps its state in #private fields: no own property exposes it', () => {
    const { m } = machine([member('a'), member('b')], twoWaves);
    expect(typeof writesOutsideTheMachine).toBe('function');
    // Only the spec as given is public; it is input, not state.
    expect(Object.getOwnPropertyNames(m)).toEqual(['campaign']);
  });
});
