/**
 * The cluster-upgrade workflow: one EKS cluster from preflight to a baked upgrade, or back.
 *
 * Its workflow ID `cluster-upgrade/<cluster>` is the fleet-wide lock: while it runs, no other
 * campaign can start one for the same cluster.
 *
 * History budget: short calls (preflight, baseline capture, start* and rollback* of EKS updates,
 * Kubernetes checks) run as local activities, one marker event each inside the current workflow
 * task; only the long waits (`awaitUpdate`, `evaluateHealthGate`) are ordinary activities. Every
 * start* is idempotent by its token, so a local activity re-run after a worker crash adopts the
 * update it already started instead of issuing a second one. A typical run (1 hop, 3 add-ons,
 * 2 node groups in parallel, 2 gates) measures 81–93 events: 12 activities × 3, 10 markers,
 * 6 search-attribute upserts, start and completion, and 9–13 workflow tasks × 3 (parallel gates
 * that complete apart cost a workflow task each). Progress signals to a parent add about 5 events
 * each (4 in that run). Below ~60 needs activities that batch per phase (all gates and Kubernetes
 * checks of a phase in one call; the add-ons one after the other in one call).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  FailureTypes,
  type ClusterState as EksClusterState,
  type FleetwaveActivities,
  type GateResult,
  type KubernetesBaseline,
  type KubernetesHealthInput,
  type NodegroupState,
  type PreflightResult,
  type UpdateHandle,
} from '../activities/types';
import { parseDuration } from '../domain/duration';
import type { GatePhase, HealthGateSpec } from '../domain/spec';
import {
  clusterAbortSignal,
  clusterPauseSignal,
  clusterProgressSignal,
  clusterResumeSignal,
  clusterStatusQuery,
  type ClusterOutcome,
  type ClusterStepRecord,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
  type OperatorInput,
} from './definitions';
import { CampaignNameKey, ClusterNameKey, TargetVersionKey, UpgradeStepKey } from './search-attributes';

/** Failure types no retry can fix: the workflow branches on them at once. */
const NON_RETRYABLE: string[] = Object.values(FailureTypes);

/** Describe, preflight, start*, rollback*, Kubernetes checks: seconds each, retried with backoff. */
const quick = proxyLocalActivities<FleetwaveActivities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '15m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Waiting for an EKS update: node groups of hundreds of nodes take hours. The activity polls and
 * heartbeats its progress, so a retried attempt resumes; attempts are unlimited because giving up
 * on a running EKS update would leave the cluster half-changed with nobody watching.
 */
const updates = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '6h',
  heartbeatTimeout: '2m',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

/** Health gates; startToCloseTimeout is set per call from the gate's own timing. */
const gates = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '1m',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 3,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

/** Slack on top of a gate's own worst-case duration before Temporal times the attempt out. */
const GATE_TIMEOUT_MARGIN_MS = 2 * 60_000;

/**
 * Upgrades one cluster: preflight → snapshot → baseline → control-plane hops → add-ons → node
 * groups → verify and bake, rolling back the reversible steps on failure where the spec says so.
 * Never throws for a cluster problem: every ending is a {@link ClusterUpgradeResult} outcome:
 * - `already-at-target`: preflight found nothing to do; nothing else ran.
 * - `blocked`: preflight blockers or a failing baseline gate; nothing was touched.
 * - `upgraded`: every step done and the verify/bake gates passed.
 * - `rolled-back`: a step or gate failed and the rollback undid the reversible steps (the reason
 *   says if the control plane stays upgraded).
 * - `failed`: needs attention: rollback off, nothing reversible, the rollback failed, or preflight
 *   or baseline could not run.
 * - `aborted`: abort signal (or workflow cancellation) at a safe point; no rollback.
 * Pause holds at the next safe point (between steps, before each node group); a rollback, once
 * started, runs to its end regardless of pause and abort.
 */
export async function clusterUpgradeWorkflow(input: ClusterUpgradeInput): Promise<ClusterUpgradeResult> {
  const upgrade = new ClusterUpgrade(input);
  setHandler(clusterPauseSignal, () => upgrade.pause());
  setHandler(clusterResumeSignal, () => upgrade.resume());
  setHandler(clusterAbortSignal, (by) => upgrade.requestAbort(by));
  setHandler(clusterStatusQuery, () => upgrade.status());
  // Cancelling the workflow (e.g. with its parent) is treated as an abort, so a started EKS update is still awaited.
  void CancellationScope.current().cancelRequested.catch(() => upgrade.requestAbort({ by: 'workflow cancellation' }));

  const result = await upgrade.run();
  await condition(allHandlersFinished);
  return result;
}

// ---------------------------------------------------------------------------------------

/** A step failed: what kind decides which rollback policy applies. */
class StepFailure extends Error {
  constructor(
    readonly kind: 'update' | 'gate' | 'activity',
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** The cluster must not be touched (preflight blockers, unhealthy baseline). */
class Blocked extends Error {
  override name = 'Blocked';
}

/** An operator asked to stop; thrown only at safe points. */
class AbortRequested extends Error {
  override name = 'AbortRequested';
}

interface HopPlan {
  from: string;
  to: string;
}

interface AddonPlan {
  name: string;
  from: string;
  to: string;
}

interface NodegroupPlan {
  previous: NodegroupState;
  /** Kubernetes minor after the update. */
  minor: string;
  /** Sent to EKS only when the minor changes (a patch-only campaign keeps it). */
  version?: string;
  releaseVersion?: string;
}

interface UpgradePlan {
  state: EksClusterState;
  finalMinor: string;
  hops: HopPlan[];
  addons: AddonPlan[];
  nodegroups: NodegroupPlan[];
  /** Step records for what the plan leaves alone and why. */
  skipped: ClusterStepRecord[];
}

/** What was changed and can be undone, in the order it was changed. */
type Reversible =
  { kind: 'addon'; plan: AddonPlan; step: string } | { kind: 'nodegroup'; plan: NodegroupPlan; step: string };

interface GateRun {
  gate: HealthGateSpec;
  phase: GatePhase;
  requiredSuccesses?: number;
}

class ClusterUpgrade {
  private step = 'preflight';
  private paused = false;
  private abortedBy?: OperatorInput;
  private readonly steps: ClusterStepRecord[] = [];
  private readonly gateResults: GateResult[] = [];
  private readonly reversible: Reversible[] = [];
  private readonly hopsDone: HopPlan[] = [];
  /** The state before anything was touched: what rollback restores. */
  private snapshot?: EksClusterState;
  private baseline?: KubernetesBaseline;
  private controlPlaneVersion?: string;
  /** The running gate/check round, cancelled by an abort (gates change nothing, so stopping them is safe). */
  private checks?: CancellationScope;
  private parentReachable = true;

  constructor(private readonly input: ClusterUpgradeInput) {}

  pause(): void {
    this.paused = true;
    this.renderDetails();
  }

  resume(): void {
    this.paused = false;
    this.renderDetails();
  }

  requestAbort(by: OperatorInput): void {
    this.abortedBy ??= by;
    this.checks?.cancel();
    this.renderDetails();
  }

  status(): { step: string; paused: boolean; steps: ClusterStepRecord[] } {
    return { step: this.step, paused: this.paused, steps: this.steps };
  }

  async run(): Promise<ClusterUpgradeResult> {
    const { input } = this;
    upsertSearchAttributes([
      { key: ClusterNameKey, value: input.cluster.name },
      { key: CampaignNameKey, value: input.campaign },
      ...(input.targetVersion ? [{ key: TargetVersionKey, value: input.targetVersion }] : []),
      { key: UpgradeStepKey, value: 'preflight' },
    ]);
    this.renderDetails();
    try {
      const plan = await this.preflight();
      if (plan.hops.length === 0 && plan.addons.length === 0 && plan.nodegroups.length === 0) {
        return this.finish('already-at-target');
      }
      await this.captureBaseline();

      for (const [i, hop] of plan.hops.entries()) {
        const last = i === plan.hops.length - 1 && plan.addons.length === 0 && plan.nodegroups.length === 0;
        await this.controlPlaneHop(hop, last);
      }
      if (plan.addons.length > 0) await this.updateAddons(plan);
      if (plan.nodegroups.length > 0) await this.updateNodegroups(plan);
      await this.verify(plan);
      return this.finish('upgraded');
    } catch (err) {
      if (err instanceof Blocked) return this.finish('blocked', err.message);
      if (err instanceof AbortRequested) return this.finish('aborted', this.abortReason());
      if (err instanceof StepFailure) return this.recover(err);
      throw err;
    }
  }

  // --- steps -----------------------------------------------------------------------------

  private async preflight(): Promise<UpgradePlan> {
    const { cluster, targetVersion, pinned } = this.input;
    let result: PreflightResult;
    try {
      result = await quick.preflightCluster.executeWithOptions({ summary: `preflight ${cluster.name}` }, [
        { cluster, targetVersion, pinned },
      ]);
    } catch (err) {
      this.record({ step: 'preflight', status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('activity', `preflight: ${describeFailure(err)}`);
    }
    this.controlPlaneVersion = result.state.version;
    if (result.blockers.length > 0) {
      this.record({ step: 'preflight', status: 'failed', detail: result.blockers.join('; ') });
      throw new Blocked(`preflight: ${result.blockers.join('; ')}`);
    }
    this.snapshot = result.state;
    const plan = planUpgrade(this.input, result);
    const warnings = result.warnings.length > 0 ? `warnings: ${result.warnings.join('; ')}` : undefined;
    this.record({ step: 'preflight', status: 'done', ...(warnings ? { detail: warnings } : {}) });
    this.steps.push(...plan.skipped);
    return plan;
  }

  /** An unhealthy cluster before we start is blocked, not failed: we must not make it worse. */
  private async captureBaseline(): Promise<void> {
    await this.checkpoint();
    this.setStep('baseline');
    const { cluster } = this.input;
    const baseline = quick.captureKubernetesBaseline
      .executeWithOptions({ summary: `kubernetes baseline ${cluster.name}` }, [{ cluster }])
      .then((b) => {
        this.baseline = b;
      });
    try {
      await Promise.all([baseline, this.runChecks('baseline', this.gatesFor('baseline'))]);
    } catch (err) {
      if (err instanceof StepFailure && err.kind === 'gate') throw new Blocked(err.message);
      if (err instanceof StepFailure || err instanceof AbortRequested) throw err;
      this.record({ step: 'baseline', status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('activity', `baseline: ${describeFailure(err)}`);
    }
  }

  private async controlPlaneHop(hop: HopPlan, last: boolean): Promise<void> {
    await this.checkpoint();
    const step = `control-plane ${hop.from} → ${hop.to}`;
    this.setStep(`control-plane ${hop.to}`, true);
    const { campaign, cluster, attempt } = this.input;
    await this.applyUpdate(step, `control plane ${hop.from} → ${hop.to}`, (summary) =>
      quick.startControlPlaneUpgrade.executeWithOptions({ summary }, [
        { campaign, cluster, attempt, toVersion: hop.to },
      ]),
    );
    this.hopsDone.push(hop);
    this.controlPlaneVersion = hop.to;
    // The last step is covered by verify (same gates, more successes): checking twice would only cost history.
    if (!last) await this.runChecks(`after ${step}`, this.gatesFor('postStep'), this.kubernetesCheck());
  }

  private async updateAddons(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('addons', true);
    const { campaign, cluster, attempt } = this.input;
    for (const addon of plan.addons) {
      await this.checkpoint();
      const step = `addon ${addon.name}`;
      await this.applyUpdate(
        step,
        `add-on ${addon.name} ${addon.from} → ${addon.to}`,
        (summary) =>
          quick.startAddonUpdate.executeWithOptions({ summary }, [
            { campaign, cluster, attempt, addon: addon.name, version: addon.to },
          ]),
        () => this.reversible.push({ kind: 'addon', plan: addon, step }),
      );
    }
  }

  /** Up to spec.nodegroups.maxParallel at once, as a sliding window; a failure stops new starts. */
  private async updateNodegroups(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('node-groups', true);
    const { campaign, cluster, attempt, spec } = this.input;
    await inLanes(plan.nodegroups, spec.nodegroups.maxParallel, async (ng) => {
      await this.checkpoint();
      const step = `nodegroup ${ng.previous.name}`;
      const to = [ng.minor, ng.releaseVersion].filter(Boolean).join(' / ');
      await this.applyUpdate(
        step,
        `node group ${ng.previous.name} → ${to}`,
        (summary) =>
          quick.startNodegroupUpdate.executeWithOptions({ summary }, [
            {
              campaign,
              cluster,
              attempt,
              nodegroup: ng.previous.name,
              ...(ng.version ? { version: ng.version } : {}),
              ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
              force: spec.nodegroups.force,
            },
          ]),
        () => this.reversible.push({ kind: 'nodegroup', plan: ng, step }),
      );
    });
  }

  /**
   * The final check: bake-phase gates with `max(consecutiveSuccesses, ceil(bake / interval))`
   * passes, postStep-only gates once, and the Kubernetes checks with the kubelet minor expected
   * per node group. It also stands in for the last step's postStep check.
   */
  private async verify(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('verify', true);
    const bakeMs = parseDuration(this.input.spec.bake) ?? 0;
    const runs: GateRun[] = [];
    for (const gate of this.input.spec.healthGates) {
      if (gate.phases.includes('bake')) {
        const intervalMs = Math.max(1, parseDuration(gate.interval) ?? 30_000);
        runs.push({
          gate,
          phase: 'bake',
          requiredSuccesses: Math.max(gate.consecutiveSuccesses, Math.ceil(bakeMs / intervalMs)),
        });
      } else if (gate.phases.includes('postStep')) {
        runs.push({ gate, phase: 'postStep' });
      }
    }
    let kubelets: Record<string, string> | undefined;
    if (!this.input.spec.target.skipNodegroups && plan.state.nodegroups.length > 0) {
      const planned = new Map(plan.nodegroups.map((ng) => [ng.previous.name, ng.minor]));
      kubelets = Object.fromEntries(
        plan.state.nodegroups.map((ng) => [
          ng.name,
          planned.get(ng.name) ?? (this.input.targetVersion ? plan.finalMinor : ng.version),
        ]),
      );
    }
    await this.runChecks('verify', runs, this.kubernetesCheck(kubelets));
  }

  // --- failure and rollback --------------------------------------------------------------

  private async recover(failure: StepFailure): Promise<ClusterUpgradeResult> {
    const { rollback } = this.input.spec;
    const changed = this.reversible.length > 0 || this.hopsDone.length > 0;
    if (!changed) return this.finish('failed', failure.message);
    const policy = failure.kind === 'gate' ? 'onGateFailure' : 'onUpdateFailure';
    if (!rollback[policy]) {
      return this.finish('failed', `${failure.message}; automatic rollback is off (spec.rollback.${policy})`);
    }
    // Rollback runs to its end even if the workflow is cancelled: a half-done rollback is the worst state.
    const { undone, failures, controlPlaneStays } = await CancellationScope.nonCancellable(() => this.rollBack());
    if (failures.length > 0) {
      return this.finish('failed', `${failure.message}; rollback failed: ${failures.join('; ')}`);
    }
    const stays = controlPlaneStays ? `; control plane stays at ${controlPlaneStays}` : '';
    if (undone === 0) return this.finish('failed', `${failure.message}; nothing reversible to roll back${stays}`);
    return this.finish('rolled-back', `${failure.message}${stays}`);
  }

  /**
   * Node groups back to their snapshot (launch template / release version), then add-ons to their
   * previous versions, then, only where the spec opts in and nothing else failed (a node group left
   * newer than the control plane would be skew), the last control-plane hop.
   */
  private async rollBack(): Promise<{ undone: number; failures: string[]; controlPlaneStays?: string }> {
    this.setStep('rollback', true);
    const { campaign, cluster, attempt, spec } = this.input;
    const failures: string[] = [];
    let undone = 0;
    const undo = async (entry: Reversible | { kind: 'control-plane'; hop: HopPlan; step: string }): Promise<void> => {
      const rollbackStep = `rollback ${entry.step}`;
      try {
        if (entry.kind === 'nodegroup') {
          const previous = entry.plan.previous;
          await this.applyUpdate(
            rollbackStep,
            `roll back node group ${previous.name} → ${describeNodegroup(previous)}`,
            (summary) =>
              quick.rollbackNodegroup.executeWithOptions({ summary }, [
                { campaign, cluster, attempt, nodegroup: previous.name, previous },
              ]),
          );
        } else if (entry.kind === 'addon') {
          const { name, from } = entry.plan;
          await this.applyUpdate(rollbackStep, `roll back add-on ${name} → ${from}`, (summary) =>
            quick.rollbackAddon.executeWithOptions({ summary }, [
              { campaign, cluster, attempt, addon: name, previousVersion: from },
            ]),
          );
        } else {
          await this.applyUpdate(
            rollbackStep,
            `roll back control plane ${entry.hop.to} → ${entry.hop.from}`,
            (summary) =>
              quick.rollbackControlPlane.executeWithOptions({ summary }, [
                { campaign, cluster, attempt, toVersion: entry.hop.from },
              ]),
          );
          this.controlPlaneVersion = entry.hop.from;
        }
        undone++;
        for (const record of this.steps)
          if (record.step === entry.step && record.status !== 'skipped') record.status = 'rolled-back';
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    };

    const reversed = [...this.reversible].reverse();
    await inLanes(
      reversed.filter((e) => e.kind === 'nodegroup'),
      spec.nodegroups.maxParallel,
      undo,
    );
    for (const entry of reversed.filter((e) => e.kind === 'addon')) await undo(entry);

    const lastHop = this.hopsDone.at(-1);
    if (lastHop && spec.rollback.controlPlane && failures.length === 0) {
      await undo({ kind: 'control-plane', hop: lastHop, step: `control-plane ${lastHop.from} → ${lastHop.to}` });
    }
    const controlPlaneStays =
      this.hopsDone.length > 0 && this.controlPlaneVersion !== this.snapshot?.version
        ? this.controlPlaneVersion
        : undefined;
    return { undone, failures, ...(controlPlaneStays ? { controlPlaneStays } : {}) };
  }

  // --- building blocks -------------------------------------------------------------------

  /**
   * Starts one EKS update and waits for it, shielded from cancellation: a started update is always
   * awaited to its end. `touched` runs once EKS accepted the change, so rollback knows what to undo.
   */
  private async applyUpdate(
    step: string,
    summary: string,
    start: (summary: string) => Promise<UpdateHandle>,
    touched?: () => void,
  ): Promise<void> {
    const record: ClusterStepRecord = { step, status: 'done' };
    try {
      await CancellationScope.nonCancellable(async () => {
        const handle = await start(summary);
        if (handle.alreadyAtTarget) {
          record.status = 'skipped';
          record.detail = 'already at target';
          return;
        }
        touched?.();
        if (handle.updateId) record.updateId = handle.updateId;
        if (handle.adopted) record.detail = 'adopted an update already started';
        if (handle.updateId) await updates.awaitUpdate.executeWithOptions({ summary }, [{ handle }]);
      });
    } catch (err) {
      record.status = 'failed';
      record.detail = describeFailure(err);
      this.record(record);
      throw new StepFailure('update', `${step}: ${record.detail}`);
    }
    this.record(record);
  }

  /**
   * Runs gates and Kubernetes checks in parallel; the first failure cancels the rest (gates only
   * read metrics). "No data", inconclusive and errors are failures, never passes.
   */
  private async runChecks(label: string, runs: GateRun[], kube?: KubernetesHealthInput): Promise<void> {
    if (runs.length === 0 && !kube) return;
    const scope = new CancellationScope();
    this.checks = scope;
    let failure: string | undefined;
    const fail = (why: string): void => {
      failure ??= why;
      scope.cancel();
    };
    const onError = (what: string) => (err: unknown) => {
      if (!isCancellation(err)) fail(`${what}: ${describeFailure(err)}`);
    };
    const { cluster } = this.input;
    try {
      await scope.run(() =>
        Promise.all([
          ...runs.map((run) =>
            gates.evaluateHealthGate
              .executeWithOptions(
                { summary: gateSummary(run), startToCloseTimeout: gateTimeoutMs(run) + GATE_TIMEOUT_MARGIN_MS },
                [
                  {
                    cluster,
                    gate: run.gate,
                    phase: run.phase,
                    ...(run.requiredSuccesses ? { requiredSuccesses: run.requiredSuccesses } : {}),
                  },
                ],
              )
              .then(
                (result) => {
                  this.gateResults.push(result);
                  if (result.outcome !== 'Successful')
                    fail(`gate ${result.gate} (${run.phase}): ${result.outcome}: ${result.message}`);
                },
                onError(`gate ${run.gate.name} (${run.phase})`),
              ),
          ),
          ...(kube
            ? [
                quick.checkKubernetesHealth
                  .executeWithOptions({ summary: `kubernetes checks ${label}` }, [kube])
                  .then((result) => {
                    if (!result.healthy) fail(`kubernetes checks: ${result.failures.join('; ')}`);
                  }, onError('kubernetes checks')),
              ]
            : []),
        ]),
      );
    } finally {
      this.checks = undefined;
    }
    if (failure) {
      this.record({ step: `checks ${label}`, status: 'failed', detail: failure });
      throw new StepFailure('gate', `${label}: ${failure}`);
    }
    if (this.abortedBy) throw new AbortRequested();
    this.record({ step: `checks ${label}`, status: 'done' });
  }

  private gatesFor(phase: GatePhase): GateRun[] {
    return this.input.spec.healthGates.filter((g) => g.phases.includes(phase)).map((gate) => ({ gate, phase }));
  }

  private kubernetesCheck(expectedKubeletMinor?: Record<string, string>): KubernetesHealthInput | undefined {
    const checks = this.input.spec.kubernetesChecks;
    if (!checks.nodesReady && !checks.noNewCrashLoops && !(checks.kubeletVersionsMatch && expectedKubeletMinor)) {
      return undefined;
    }
    return {
      cluster: this.input.cluster,
      checks,
      ...(expectedKubeletMinor ? { expectedKubeletMinor } : {}),
      ...(this.baseline ? { baseline: this.baseline } : {}),
    };
  }

  /** The safe point between steps: honours abort, and waits here while paused. */
  private async checkpoint(): Promise<void> {
    if (!this.abortedBy && this.paused) {
      this.renderDetails();
      await condition(() => !this.paused || this.abortedBy !== undefined);
    }
    if (this.abortedBy) throw new AbortRequested();
  }

  /**
   * Every step shows in the status query and the current details; `major` ones also go to the
   * UpgradeStep search attribute (one history event) and to the parent campaign (about five).
   */
  private setStep(step: string, major = false): void {
    this.step = step;
    if (major) {
      upsertSearchAttributes([{ key: UpgradeStepKey, value: step }]);
      this.notifyParent(step);
    }
    this.renderDetails();
  }

  private notifyParent(step: string): void {
    const parent = this.input.parentCampaignId;
    if (!parent || !this.parentReachable) return;
    void getExternalWorkflowHandle(parent)
      .signal(clusterProgressSignal, { cluster: this.input.cluster.name, step })
      .catch((err: unknown) => {
        // A parent that is gone (or was never there) must not fail the upgrade; stop trying.
        this.parentReachable = false;
        log.warn('progress signal to the campaign failed', { parent, error: describeFailure(err) });
      });
  }

  private record(record: ClusterStepRecord): void {
    this.steps.push(record);
    this.renderDetails();
  }

  private finish(outcome: ClusterOutcome, reason?: string): ClusterUpgradeResult {
    this.step = outcome;
    upsertSearchAttributes([{ key: UpgradeStepKey, value: outcome }]);
    this.renderDetails(reason);
    return {
      cluster: this.input.cluster.name,
      outcome,
      ...(reason ? { reason } : {}),
      ...(this.controlPlaneVersion ? { finalVersion: this.controlPlaneVersion } : {}),
      steps: this.steps,
      gates: this.gateResults,
    };
  }

  private abortReason(): string {
    const by = this.abortedBy;
    return `aborted by ${by?.by ?? 'unknown'}${by?.reason ? `: ${by.reason}` : ''}`;
  }

  /** The Temporal UI's "current details": a short markdown checklist (costs no history events). */
  private renderDetails(reason?: string): void {
    const { cluster, targetVersion } = this.input;
    const mark: Record<ClusterStepRecord['status'], string> = {
      done: '[x]',
      skipped: '[x] (skipped)',
      failed: '[ ] **failed**',
      'rolled-back': '[x] (rolled back)',
    };
    const state = this.abortedBy ? ' (aborting)' : this.paused ? ' (paused)' : '';
    const lines = [
      `**${cluster.name}** → ${targetVersion ?? 'patch'} · step: **${this.step}**${state}`,
      ...(reason ? [`> ${reason}`] : []),
      '',
      ...this.steps.map(
        (s) =>
          `- ${mark[s.status]} ${s.step}${s.updateId ? ` · \`${s.updateId}\`` : ''}${s.detail ? ` · ${s.detail}` : ''}`,
      ),
    ];
    setCurrentDetails(lines.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------

/**
 * What this cluster needs, from preflight's view of it: the control-plane hops, the add-ons not at
 * the version pinned for the final minor, and the node groups not at that minor and release.
 * Everything already in place is left alone (read before write).
 */
function planUpgrade(input: ClusterUpgradeInput, pre: PreflightResult): UpgradePlan {
  const { state } = pre;
  const { target } = input.spec;
  const hops: HopPlan[] = [];
  let from = state.version;
  for (const to of pre.path) {
    hops.push({ from, to });
    from = to;
  }
  const finalMinor = from;
  const skipped: ClusterStepRecord[] = [];

  const addons: AddonPlan[] = [];
  if (!target.skipAddons) {
    const pinned = input.pinned.addons[finalMinor] ?? {};
    for (const addon of state.addons) {
      const to = pinned[addon.name];
      if (to === undefined) {
        skipped.push({ step: `addon ${addon.name}`, status: 'skipped', detail: `no version pinned for ${finalMinor}` });
      } else if (to !== addon.version) {
        addons.push({ name: addon.name, from: addon.version, to });
      }
    }
  }

  const nodegroups: NodegroupPlan[] = [];
  if (!target.skipNodegroups) {
    for (const ng of state.nodegroups) {
      const minor = input.targetVersion ? finalMinor : ng.version;
      const releaseVersion = input.pinned.nodegroupRelease[minor];
      if (ng.version === minor && (releaseVersion === undefined || ng.releaseVersion === releaseVersion)) continue;
      nodegroups.push({
        previous: ng,
        minor,
        ...(input.targetVersion ? { version: minor } : {}),
        ...(releaseVersion ? { releaseVersion } : {}),
      });
    }
  }
  return { state, finalMinor, hops, addons, nodegroups, skipped };
}

/**
 * Runs `fn` over `items` with at most `limit` at once, as a sliding window. After the first
 * failure no new item starts, but those running finish; then the first failure (a step failure
 * before an abort) is rethrown.
 */
async function inLanes<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const lane = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined && errors.length === 0; item = queue.shift()) {
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  const first = errors.find((e) => e instanceof StepFailure) ?? errors[0];
  if (first !== undefined) throw first;
}

function gateTimeoutMs(run: GateRun): number {
  const interval = parseDuration(run.gate.interval) ?? 30_000;
  const measuring = (run.requiredSuccesses ?? run.gate.consecutiveSuccesses) * interval;
  return (parseDuration(run.gate.initialDelay) ?? 0) + Math.max(parseDuration(run.gate.timeout) ?? 600_000, measuring);
}

function gateSummary(run: GateRun): string {
  const passes = run.requiredSuccesses ?? run.gate.consecutiveSuccesses;
  return `gate ${run.gate.name} (${run.phase}, ${passes}× every ${run.gate.interval})`;
}

function describeNodegroup(ng: NodegroupState): string {
  const lt = ng.launchTemplate?.version ? `launch template v${ng.launchTemplate.version}` : undefined;
  return [ng.version, ng.releaseVersion, lt].filter(Boolean).join(' / ');
}

/**
 * A one-line reason from an activity failure: the application failure type and message where there
 * is one. Walks the cause chain because local activity failures may arrive without the ActivityFailure wrapper.
 */
function describeFailure(err: unknown): string {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
    if (e instanceof TimeoutFailure) return `timed out: ${e.message}`;
    if (!(e instanceof ActivityFailure)) return e.message;
  }
  return err instanceof Error ? err.message : String(err);
}
