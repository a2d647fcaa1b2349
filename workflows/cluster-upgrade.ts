/**
 * The cluster-upgrade workflow: one EKS cluster from preflight to a baked upgrade, or back.
 *
 * Its workflow ID `cluster-upgrade/<cluster>` is the fleet-wide lock: while it runs, no other
 * campaign can start one for the same cluster.
 *
 * History budget: at most 60 events per run, whatever the number of hops and node groups. Each
 * phase is one activity, and no EKS wait moves into the workflow and no check is skipped:
 * - preflight and the Kubernetes baseline (crash-looping pods, PDBs) are one local activity;
 * - every health-check phase (baseline, verify/bake) is ONE `checkClusterHealth` activity that
 *   runs all gates of the phase at once and then the Kubernetes checks, heartbeating them together;
 * - all control-plane hops are ONE `upgradeControlPlane` activity (activities/steps.ts): each hop
 *   started idempotently (read before write, deterministic token) and awaited, then the postStep
 *   checks, before the next hop;
 * - all add-ons are ONE `updateAddons` activity, started together and awaited as one wait;
 * - all node groups are ONE `updateNodegroups` activity, up to spec.nodegroups.maxParallel at once;
 * - their heartbeats name the resource and update they are on, so a retried attempt resumes there
 *   without starting anything twice;
 * - the UpgradeStep search attribute changes only at major steps (control plane, add-ons, node
 *   groups, verify, rollback, outcome); keys the parent set at start are not upserted again.
 * A run with 1 or 2 hops, 3 add-ons, 2 node groups and 2 gates measures 42 events: 5 activities
 * × 3, 1 marker, 5–6 search-attribute upserts, start and completion, 6 workflow tasks × 3.
 * An EKS Auto Mode cluster adds one wait for its nodes and the checks after it (57 events recorded
 * with 1 hop, 3 add-ons, 2 node groups and 1 gate); a control-plane bake on such a cluster adds the
 * NodePool hold and release (local activities) and the bake (68): over the budget, by the two
 * patch markers and the extra steps.
 * A cluster with Fargate pods adds, after a hop, one `settleFargatePods` behind a patch marker: 4
 * events under `spec.nodes.fargate: report` (a local activity), 9 under `restart` (a parked wait);
 * 36 → 40 / 45 measured by test/workflows/fargate.workflow.test.ts. Without Fargate pods, none.
 * A cluster with self-managed node groups adds a patch marker, one local start and one parked wait
 * for all its groups (52 events recorded with 1 hop, its add-ons and node groups, and one group).
 * A self-installed Karpenter adds its pin and hold and its release (local activities), the drift
 * step (one parked wait) with its search-attribute upsert, and a patch marker: 53 events recorded
 * with 1 hop, 3 add-ons, 2 node groups and 1 gate. A cluster without Karpenter gets none of them.
 * Rollbacks keep a start (local activity) and an await per resource: they are rare, and each is
 * recorded on its own.
 *
 * Pause and abort inside a composite step. The workflow cancels the activity and waits for its
 * answer (WAIT_CANCELLATION_COMPLETED); before each new start the activity also asks the workflow
 * (query `stopRequested`), so the safe point is exact even before the cancellation arrives with a
 * heartbeat. The EKS update in flight is awaited to its end, nothing after it starts, checks
 * between hops stop at once, and the activity returns what it did (`stopped`). After a resume the
 * workflow runs what is left in a new call (and first the checks the stop skipped).
 *
 * Pure decisions live beside this file, in workflows/cluster-upgrade/: what to change (plan.ts),
 * the health-check rounds (checks.ts), what a step's answer means (step-results.ts) and the
 * rollback's order and ending (rollback.ts, whose header explains the order).
 */
import {
  ActivityCancellationType,
  CancellationScope,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  FailureTypes,
  type CheckClusterHealthInput,
  type CheckClusterHealthResult,
  type ClusterState as EksClusterState,
  type FleetwaveActivities,
  type GateResult,
  type KeptResource,
  type KubernetesBaseline,
  type PreflightResult,
  type SelfManagedRefreshHandle,
  type UpdateAddonsResult,
  type UpdateHandle,
  type UpdateNodegroupsResult,
  type UpgradeControlPlaneResult,
} from '../activities/types';
import { describeNodeClaimCount } from '../domain/nodepool-hold';
import {
  describeDriftCount,
  targetTerms,
  termsOnExit,
  type NodeClassTermsPlan,
  type TermsOnRelease,
} from '../domain/karpenter';
import { parseDuration } from '../domain/duration';
import { assessOwnership } from '../domain/ownership';
import { SELF_MANAGED_DEFAULTS } from '../domain/self-managed';
import { assessBlockingPdbs } from '../domain/pdbs';
import {
  clusterAbortSignal,
  clusterPauseSignal,
  clusterFinishedSignal,
  reportBySignalSignal,
  clusterResumeSignal,
  clusterStatusQuery,
  clusterStopRequestedQuery,
  type ClusterOutcome,
  type ClusterStepRecord,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
  type OperatorInput,
} from './definitions';
import {
  checkTimeoutMs,
  checksSummary,
  controlPlaneBakeRun,
  gatesFor,
  hasChecks,
  kubernetesChecksApply,
  verifyRun,
  type CheckRun,
} from './cluster-upgrade/checks';
import {
  abortReason,
  addonsSummary,
  controlPlaneSummary,
  nodegroupsSummary,
  renderUpgradeDetails,
} from './cluster-upgrade/details';
import {
  addonStep,
  controlPlaneTimeoutMs,
  describeNodegroup,
  hopStep,
  isEmptyPlan,
  nodegroupStep,
  nodegroupsTimeoutMs,
  ownedChanges,
  planUpgrade,
  type AddonPlan,
  type HopPlan,
  type NodegroupPlan,
  type UpgradePlan,
} from './cluster-upgrade/plan';
import {
  RollbackLedger,
  controlPlaneStays,
  controlPlaneUndo,
  endingAfterRollback,
  endingWithoutRollback,
  rollbackOrder,
  type ControlPlaneUndo,
  type Reversible,
  type RollbackSummary,
} from './cluster-upgrade/rollback';
import {
  AbortRequested,
  Blocked,
  StepFailure,
  addonFailureDetails,
  addonsFailure,
  controlPlaneFailure,
  fargateRecord,
  nodegroupsFailure,
  stepFailureDetails,
  updateRecord,
  stoppedWhileWaiting,
} from './cluster-upgrade/step-results';
import { describeFailure } from './failure-text';
import { CampaignNameKey, ClusterNameKey, TargetVersionKey, UpgradeStepKey } from './search-attributes';

/** See `ClusterUpgrade.stopAddons` and docs/versioning.md. */
const STOPPABLE_ADDONS_PATCH = 'stoppable-addons';
/** See `ClusterUpgrade.autoModeNodes` and docs/versioning.md. */
const AUTO_MODE_NODES_PATCH = 'auto-mode-nodes';
/** See `ClusterUpgrade.controlPlaneBakeMs` and docs/versioning.md. */
const CONTROL_PLANE_BAKE_PATCH = 'control-plane-bake';
/** See `ClusterUpgrade.selfManagedGroups` and docs/versioning.md. */
const SELF_MANAGED_GROUPS_PATCH = 'self-managed-groups';
/** The self-managed groups' wait gives up after this long (every group's instance refresh, with drains). */
const SELF_MANAGED_TIMEOUT_MS = 6 * 3600_000;

/** See `ClusterUpgrade.fargatePods` and docs/versioning.md. */
const FARGATE_PODS_PATCH = 'fargate-pods';
/** A Fargate restart gives up after this long: each owner replaces its pods at about a minute each. */
const FARGATE_PODS_TIMEOUT_MS = 2 * 3600_000;
/** A PodDisruptionBudget may keep a Fargate owner from its restart this long (as spec.nodes.karpenter.pdbTimeout's default). */
const FARGATE_PDB_TIMEOUT_MS = 30 * 60_000;
/** See `ClusterUpgrade.planKarpenter` and docs/versioning.md. */
const KARPENTER_NODES_PATCH = 'karpenter-nodes';

/** The Auto Mode nodes' wait gives up after this long: EKS paces them by the NodePools' budgets. */
const AUTO_MODE_NODES_TIMEOUT_MS = 6 * 3600_000;
/** What one control-plane hop may take, for how long a NodePool hold must last (simulator and EKS: 10–25 min). */
const HOLD_PER_HOP_MS = 30 * 60_000;

/** Failure types no retry can fix: the workflow branches on them at once. */
const NON_RETRYABLE: string[] = Object.values(FailureTypes);

/** Preflight (with the Kubernetes baseline) and rollback starts: seconds each, retried with backoff. */
const quick = proxyLocalActivities<FleetwaveActivities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '15m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Waiting for EKS updates (awaitUpdate of a rollback, updateAddons): node groups of hundreds of nodes take hours.
 * Each attempt looks once and, while EKS is still working, ends with a retryable
 * FleetwaveStillWaiting failure whose nextRetryDelay is the next look (activities/waiting.ts,
 * docs/architecture.md "Waiting"): no worker holds the wait between looks, and the looks are not in
 * this history. Attempts are unlimited because giving up on a running EKS update would leave the
 * cluster half-changed with nobody watching; the activity's own deadline (`timeoutMs`) ends it.
 *
 * The heartbeat timeout only bounds an attempt that runs for long (the checks between hops
 * heartbeat as they go). An attempt on a worker that died times out after a minute and is retried
 * elsewhere after the retry interval; every parked look counts as an attempt, so in a long wait the
 * interval is always at its maximum. 45 s keeps a dead worker's wait under two minutes (1 min +
 * 45 s; test/resilience/karpenter-kill.test.ts prints it: 140 s with a 2 min maximum), while an
 * error retried for hours still costs one call per 45 s per cluster. A parked wait is on no worker
 * at all. (Retry options are not part of the commands replay compares.)
 */
const updates = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '6h',
  // The attempts park between looks: this bounds the whole wait, as startToClose did for one long attempt.
  scheduleToCloseTimeout: '6h',
  heartbeatTimeout: '1m',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '45s',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

/**
 * The composite steps (upgradeControlPlane, updateNodegroups): like `updates`, and pause and abort
 * cancel them. Between looks the server cancels at once (nothing runs); an attempt that is running
 * ends as it would (a look is seconds) and the server does not retry it. Either way the workflow
 * holds at once: the EKS update in flight goes on in EKS (it cannot be stopped) and the next call,
 * after a resume, adopts it or finds it done. An attempt that runs the checks between hops learns of
 * the cancellation from its heartbeat, stops them and returns `stopped`. startToCloseTimeout is set
 * per call from the number of updates.
 */
const steps = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '6h',
  heartbeatTimeout: '1m',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '45s',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

/** Health checks of a phase (checkClusterHealth); startToCloseTimeout is set per call from the gates' own timing. */
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

/**
 * Upgrades one cluster: preflight → snapshot → baseline → control-plane hops → add-ons → node
 * groups → verify and bake, rolling back the reversible steps on failure where the spec says so.
 * Never throws for a cluster problem: every ending is a {@link ClusterUpgradeResult} outcome:
 * - `already-at-target`: preflight found nothing to do; nothing else ran.
 * - `blocked`: preflight blockers (including a PDB that allows no disruption when node groups
 *   will be drained without spec.nodegroups.force) or a failing baseline gate; nothing was touched.
 * - `upgraded`: every step done and the verify/bake gates passed.
 * - `rolled-back`: a step or gate failed and the rollback undid what EKS can undo (the reason
 *   says what stays: node groups whose AMI EKS picks (domain/node-models.ts), the control plane,
 *   add-ons kept at versions their minor needs).
 * - `failed`: needs attention: rollback off, nothing could be rolled back, a possible rollback
 *   failed, or preflight or baseline could not run.
 * - `aborted`: abort signal (or workflow cancellation) at a safe point; no rollback.
 * Pause holds at the next safe point (between steps, between control-plane hops, before a node group
 * starts; the add-ons are one step); a rollback, once started, runs to its end regardless of pause
 * and abort.
 */
export async function clusterUpgradeWorkflow(input: ClusterUpgradeInput): Promise<ClusterUpgradeResult> {
  const upgrade = new ClusterUpgrade(input);
  setHandler(clusterPauseSignal, () => upgrade.pause());
  setHandler(clusterResumeSignal, () => upgrade.resume());
  setHandler(clusterAbortSignal, (by) => upgrade.requestAbort(by));
  setHandler(clusterStatusQuery, () => upgrade.status());
  setHandler(clusterStopRequestedQuery, () => upgrade.stopRequested());
  let reportBySignal = false;
  setHandler(reportBySignalSignal, () => {
    reportBySignal = true;
  });
  // Cancelling the workflow (e.g. with its parent) is treated as an abort, so a started EKS update is still awaited.
  void CancellationScope.current().cancelRequested.catch(() => upgrade.requestAbort({ by: 'workflow cancellation' }));

  const result = await upgrade.run();
  await condition(allHandlersFinished);
  // Only when the campaign asked: otherwise the run that started us sees our completion itself.
  if (reportBySignal) await reportToCampaign(input, result);
  return result;
}

/**
 * Tells the campaign this cluster is done, by workflow ID (no run ID), so the report reaches
 * whichever run of the campaign is current: a campaign that continued as new while this upgrade
 * was in flight no longer holds its child handle (it asked for this report before it did).
 * Awaited (an unawaited signal command is dropped when the workflow completes); a campaign that
 * is gone must not fail the upgrade.
 */
async function reportToCampaign(input: ClusterUpgradeInput, result: ClusterUpgradeResult): Promise<void> {
  if (!input.parentCampaignId) return;
  const parent = input.parentCampaignId;
  try {
    await getExternalWorkflowHandle(parent).signal(clusterFinishedSignal, {
      cluster: input.cluster.name,
      attempt: input.attempt,
      result,
    });
  } catch (err) {
    log.warn('could not report the result to the campaign', { parent, error: describeFailure(err) });
  }
}

/** What applyUpdate did beyond its record: `kept` when a rollback was not possible. */
interface Applied {
  kept?: KeptResource;
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
  /** When the first change began (workflow time, after the baseline checks): where a gate's baseline window ends. */
  private changedAtMs?: number;
  private controlPlaneVersion?: string;
  /** The running gate/check round, cancelled by an abort (gates change nothing, so stopping them is safe). */
  private checks?: CancellationScope;
  /** The running composite step, cancelled by a pause or an abort: it finishes the EKS update in flight and stops. */
  private stoppable?: CancellationScope;
  /** The add-on step: shielded from a cancellation of the workflow, stopped by a pause or an abort (`stopAddons`). */
  private addonsScope?: CancellationScope;
  /** Custom NodePools may carry this run's hold: every exit path releases it (`releaseNodePoolHolds`). */
  private holdingNodePools = false;
  /** An Auto Mode cluster whose nodes this run follows (`autoModeNodes`). */
  private autoMode = false;
  /** The instance refreshes this run started on self-managed groups: what a rollback undoes. */
  private selfManagedHandles: SelfManagedRefreshHandle[] = [];
  /** A self-installed Karpenter's EC2NodeClasses and the terms the node step sets (`planKarpenter`). */
  private karpenter?: NodeClassTermsPlan[];
  /** EC2NodeClasses or NodePools may carry this run's pin or hold: every exit path releases them. */
  private holdingKarpenter = false;
  private karpenterStepStarted = false;
  /** When the Karpenter hold was placed (the cluster's clock): NodeClaims launched since are reported. */
  private karpenterHoldSinceMs?: number;

  constructor(private readonly input: ClusterUpgradeInput) {}

  pause(): void {
    this.paused = true;
    this.stoppable?.cancel();
    this.stopAddons();
    this.renderDetails();
  }

  /**
   * A pause or an abort during the add-on step stops it between looks, as the other steps stop.
   * Runs of older releases ran it to its end: the patch is asked only here, when that matters, so
   * histories without such a pause carry no marker.
   */
  private stopAddons(): void {
    if (this.addonsScope && patched(STOPPABLE_ADDONS_PATCH)) this.addonsScope.cancel();
  }

  resume(): void {
    this.paused = false;
    this.renderDetails();
  }

  requestAbort(by: OperatorInput): void {
    this.abortedBy ??= by;
    this.checks?.cancel();
    this.stoppable?.cancel();
    this.stopAddons();
    this.renderDetails();
  }

  /** Paused or aborting: a composite step starts nothing new. */
  stopRequested(): boolean {
    return this.paused || this.abortedBy !== undefined;
  }

  status(): { step: string; paused: boolean; steps: ClusterStepRecord[] } {
    return { step: this.step, paused: this.paused, steps: this.steps };
  }

  async run(): Promise<ClusterUpgradeResult> {
    this.upsertInitialSearchAttributes();
    this.renderDetails();
    if (this.input.rollbackOnly) return this.rollBackUpgraded(this.input.rollbackOnly);
    try {
      const plan = await this.preflight();
      if (isEmptyPlan(plan) && !this.karpenter) return this.finish('already-at-target');
      await this.checkBaseline();

      if (plan.hops.length > 0) await this.controlPlaneStep(plan);
      if (plan.addons.length > 0) await this.updateAddons(plan);
      if (plan.nodegroups.length > 0) await this.updateNodegroups(plan);
      if (this.karpenter) await this.driftKarpenterNodes(this.karpenter);
      if (this.selfManagedGroups()) await this.updateSelfManagedGroups();
      if (plan.hops.length > 0 && this.fargateRuns()) await this.fargatePods();
      await this.verify(plan);
      return this.finish('upgraded');
    } catch (err) {
      if (err instanceof Blocked) return this.finish('blocked', err.message);
      if (err instanceof AbortRequested) return this.finish('aborted', abortReason(this.abortedBy));
      // Awaited here, so that the release below comes after the rollback.
      if (err instanceof StepFailure) return await this.recover(err);
      throw err;
    } finally {
      // Whatever the ending (a rollback released them already with its own terms).
      if (this.holdingKarpenter) {
        await this.releaseKarpenter(
          'release Karpenter',
          termsOnExit({
            rolledBack: false,
            hopsDone: this.hopsDone.length > 0,
            controlPlaneBack: false,
            nodeStepStarted: this.karpenterStepStarted,
          }),
        );
      }
    }
  }

  // --- steps -----------------------------------------------------------------------------

  private async preflight(): Promise<UpgradePlan> {
    const { cluster, targetVersion, pinned, spec } = this.input;
    let result: PreflightResult;
    try {
      result = await quick.preflightCluster.executeWithOptions({ summary: `preflight ${cluster.name}` }, [
        {
          cluster,
          targetVersion,
          pinned,
          captureBaseline: true,
          // Only then does preflight ask for the restarts' permissions (local activity input: not in the history).
          ...(spec.nodes?.fargate === 'restart' ? { fargateRestart: true } : {}),
        },
      ]);
    } catch (err) {
      this.record({ step: 'preflight', status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('activity', `preflight: ${describeFailure(err)}`);
    }
    this.controlPlaneVersion = result.state.version;
    const plan = planUpgrade(this.input, result);
    const pdbs = assessBlockingPdbs({
      pdbs: result.blockingPdbs,
      drainsNodes: plan.nodegroups.length > 0,
      force: spec.nodegroups.force,
    });
    // Objects a GitOps or IaC tool owns: refused unless spec.nodes.allowOwnedBy names the tool.
    // Histories before ownership have no owner in their preflight result, so nothing changes there.
    const owned = assessOwnership(ownedChanges(plan), spec.nodes?.allowOwnedBy);
    const blockers = [...result.blockers, ...pdbs.blockers, ...owned.blockers];
    if (blockers.length > 0) {
      this.record({ step: 'preflight', status: 'failed', detail: blockers.join('; ') });
      throw new Blocked(`preflight: ${blockers.join('; ')}`);
    }
    this.snapshot = result.state;
    if (result.baseline) this.baseline = result.baseline;
    const allWarnings = [...result.warnings, ...pdbs.warnings, ...owned.warnings];
    const warnings = allWarnings.length > 0 ? `warnings: ${allWarnings.join('; ')}` : undefined;
    this.record({ step: 'preflight', status: 'done', ...(warnings ? { detail: warnings } : {}) });
    this.steps.push(...plan.skipped);
    this.karpenter = this.planKarpenter(plan);
    return plan;
  }

  /**
   * The EC2NodeClasses of a self-installed Karpenter (not Auto Mode) and the terms the node step
   * sets on them, when there is something to do: a hop (the AMIs follow the minor) or terms the
   * campaign's pin changes (a patch-only campaign). Asked only for such clusters, so the others
   * carry no marker.
   */
  private planKarpenter(plan: UpgradePlan): NodeClassTermsPlan[] | undefined {
    const models = this.snapshot?.nodeModels;
    if (!models || models.autoMode || !models.nodeClasses || models.nodeClasses.length === 0) return undefined;
    const { cluster, pinned } = this.input;
    const terms = targetTerms(models.nodeClasses, pinned.amis?.[cluster.region], plan.finalMinor);
    const moves = terms.some((t) => JSON.stringify(t.from) !== JSON.stringify(t.to));
    if (plan.hops.length === 0 && !moves) return undefined;
    return patched(KARPENTER_NODES_PATCH) ? terms : undefined;
  }

  /**
   * Baseline gates, before anything is touched (the Kubernetes baseline came with preflight). An
   * unhealthy cluster before we start is blocked, not failed: we must not make it worse.
   */
  private async checkBaseline(): Promise<void> {
    await this.checkpoint();
    this.setStep('baseline');
    try {
      await this.runChecks('baseline', {
        phase: 'baseline',
        gates: gatesFor(this.input.spec, 'baseline'),
        runKubernetesChecks: false,
      });
    } catch (err) {
      if (err instanceof StepFailure && err.kind === 'gate') throw new Blocked(err.message);
      throw err;
    }
    // The changes start now: a gate that compares with the cluster's baseline reads up to here.
    this.changedAtMs ??= Date.now();
  }

  /**
   * The control plane's hops, then the control-plane bake when the spec asks for one, then the Auto
   * Mode nodes when the cluster has them. On an Auto Mode cluster with a bake, the custom NodePools
   * are held from before the first hop (their nodes would start drifting the moment the last hop
   * ends) until the bake is over, whatever the bake's outcome: a zero budget would block the
   * VersionRollback a failed bake leads to.
   */
  private async controlPlaneStep(plan: UpgradePlan): Promise<void> {
    const bakeMs = this.controlPlaneBakeMs();
    this.autoMode = this.autoModeNodes();
    if (this.karpenter) await this.holdKarpenter(plan, bakeMs);
    try {
      if (bakeMs > 0 && this.autoMode) await this.holdNodePools(plan.hops.length * HOLD_PER_HOP_MS + bakeMs);
      await this.upgradeControlPlane(plan);
      if (bakeMs > 0) await this.bakeControlPlane(bakeMs);
    } finally {
      if (this.holdingNodePools) await this.releaseNodePoolHolds();
    }
    if (this.autoMode) await this.awaitAutoModeNodes(plan);
  }

  /**
   * spec.rollback.controlPlaneBake in milliseconds, 0 without one. Runs of older releases had no
   * bake: the patch is asked only when the spec has one, so other histories carry no marker.
   */
  private controlPlaneBakeMs(): number {
    const bake = this.input.spec.rollback.controlPlaneBake;
    if (!bake) return 0;
    return patched(CONTROL_PLANE_BAKE_PATCH) ? (parseDuration(bake) ?? 0) : 0;
  }

  /**
   * Whether the cluster is an EKS Auto Mode cluster (preflight: DescribeCluster computeConfig) whose
   * nodes this run follows. Asked only for such clusters, so the others carry no marker.
   */
  private autoModeNodes(): boolean {
    if (this.snapshot?.nodeModels?.autoMode !== true) return false;
    return patched(AUTO_MODE_NODES_PATCH);
  }

  /** Bake-phase and postStep gates for the bake's length, before add-ons and nodes (checks.ts). */
  private async bakeControlPlane(bakeMs: number): Promise<void> {
    await this.checkpoint();
    this.setStep('control-plane bake', true);
    await this.runChecks('control-plane bake', controlPlaneBakeRun(this.input.spec, bakeMs));
  }

  /** A zero Drifted budget on each custom NodePool; the built-in ones are EKS's and move anyway. */
  private async holdNodePools(forMs: number): Promise<void> {
    await this.checkpoint();
    const { cluster } = this.input;
    const { workflowId, runId } = workflowInfo();
    // Set before the call: a hold placed by an attempt whose answer was lost is released too.
    this.holdingNodePools = true;
    try {
      const held = await quick.holdNodePools.executeWithOptions({ summary: `hold NodePools of ${cluster.name}` }, [
        { cluster, workflowId, runId, forMs },
      ]);
      const builtIn =
        held.builtIn.length > 0
          ? `; built-in ${held.builtIn.join(', ')} cannot be held (EKS owns them): their nodes move during the bake`
          : '';
      this.record({
        step: 'hold NodePools',
        status: 'done',
        detail: `${held.held.length > 0 ? `held ${held.held.join(', ')}` : 'no custom NodePool to hold'}${builtIn}`,
      });
    } catch (err) {
      this.record({ step: 'hold NodePools', status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('activity', `hold NodePools: ${describeFailure(err)}`);
    }
  }

  /**
   * Releases this run's NodePool holds, on every exit path of the bake (completion, failure, abort,
   * cancellation: not cancellable). A release that fails is recorded with the recovery command; the
   * hold's own schedule ends it at the latest.
   */
  private async releaseNodePoolHolds(): Promise<void> {
    const { cluster } = this.input;
    const { workflowId } = workflowInfo();
    try {
      const released = await CancellationScope.nonCancellable(() =>
        quick.releaseNodePoolHolds.executeWithOptions({ summary: `release NodePool holds of ${cluster.name}` }, [
          { cluster, workflowId },
        ]),
      );
      this.holdingNodePools = false;
      this.record({
        step: 'release NodePools',
        status: 'done',
        ...(released.released.length > 0 ? { detail: `released ${released.released.join(', ')}` } : {}),
      });
    } catch (err) {
      this.record({
        step: 'release NodePools',
        status: 'failed',
        detail: `${describeFailure(err)}; run \`fleetwave release-holds --cluster ${cluster.name}\``,
      });
    }
  }

  /**
   * Auto Mode: EKS replaces the nodes on the old minor under the NodePools' budgets; one parked wait
   * until every NodeClaim runs the control plane's minor, then the postStep checks when more steps
   * follow (verify covers the last step). A pause or an abort stops the wait (it changes nothing).
   */
  private async awaitAutoModeNodes(plan: UpgradePlan): Promise<void> {
    const { cluster, spec } = this.input;
    const target = this.controlPlaneVersion as string;
    const step = `auto-mode nodes ${target}`;
    for (;;) {
      await this.checkpoint();
      if (this.step !== step) this.setStep(step, true);
      try {
        const count = await this.stoppableStep(() =>
          steps.awaitAutoModeNodes.executeWithOptions(
            {
              summary: `Auto Mode nodes → ${target}`,
              startToCloseTimeout: AUTO_MODE_NODES_TIMEOUT_MS + 10 * 60_000,
              scheduleToCloseTimeout: AUTO_MODE_NODES_TIMEOUT_MS + 10 * 60_000,
            },
            [{ cluster, targetVersion: target, timeoutMs: AUTO_MODE_NODES_TIMEOUT_MS }],
          ),
        );
        this.record({ step, status: 'done', detail: describeNodeClaimCount(count) });
        break;
      } catch (err) {
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          continue;
        }
        this.record({ step, status: 'failed', detail: describeFailure(err) });
        throw new StepFailure('update', `${step}: ${describeFailure(err)}`);
      }
    }
    if (plan.addons.length > 0 || plan.nodegroups.length > 0) {
      await this.runChecks(`after ${step}`, {
        phase: 'postStep',
        gates: gatesFor(spec, 'postStep'),
        runKubernetesChecks: kubernetesChecksApply(spec.kubernetesChecks),
      });
    }
  }

  /**
   * Before the first hop: each EC2NodeClass pinned to the AMIs it resolves for the current minor and
   * drift held on the NodePools, until the node step (one local activity). Set before the call: a
   * hold placed by an attempt whose answer was lost is released too.
   */
  private async holdKarpenter(plan: UpgradePlan, bakeMs: number): Promise<void> {
    await this.checkpoint();
    const { cluster, spec } = this.input;
    const { workflowId, runId } = workflowInfo();
    const forMs =
      plan.hops.length * HOLD_PER_HOP_MS +
      bakeMs +
      (plan.addons.length > 0 ? HOLD_PER_HOP_MS : 0) +
      (plan.nodegroups.length > 0 ? nodegroupsTimeoutMs(plan.nodegroups.length, spec.nodegroups.maxParallel) : 0);
    this.holdingKarpenter = true;
    try {
      const held = await quick.holdKarpenterNodes.executeWithOptions(
        { summary: `pin EC2NodeClasses and hold NodePools of ${cluster.name}` },
        [{ cluster, workflowId, runId, forMs }],
      );
      this.karpenterHoldSinceMs = held.sinceMs;
      const pinned = held.pinned.map((p) => `${p.nodeClass} → ${p.amis.join(', ')}`).join('; ');
      this.record({
        step: 'hold Karpenter',
        status: 'done',
        detail: `pinned ${pinned || 'no EC2NodeClass'}; held ${held.held.join(', ') || 'no NodePool'}${
          held.unresolved.length > 0 ? `; ${held.unresolved.join(', ')} resolve no AMI: left alone` : ''
        }`,
      });
    } catch (err) {
      this.record({ step: 'hold Karpenter', status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('activity', `hold Karpenter: ${describeFailure(err)}`);
    }
  }

  /**
   * The Karpenter node step, beside the managed node groups: the target terms, drift released under
   * spec.nodes.karpenter.budget, and one parked wait until every NodeClaim runs the target AMIs. A
   * pause or an abort stops the wait (Karpenter goes on under the budgets until the release).
   */
  private async driftKarpenterNodes(nodeClasses: NodeClassTermsPlan[]): Promise<void> {
    const { cluster, spec } = this.input;
    const karpenter = spec.nodes?.karpenter ?? { budget: '10%', pdbTimeout: '30m', timeout: '6h' };
    const timeoutMs = parseDuration(karpenter.timeout) ?? 6 * 3600_000;
    const pdbTimeoutMs = parseDuration(karpenter.pdbTimeout) ?? 30 * 60_000;
    const { workflowId, runId } = workflowInfo();
    const step = 'karpenter nodes';
    for (;;) {
      await this.checkpoint();
      if (this.step !== step) this.setStep(step, true);
      this.holdingKarpenter = true;
      this.karpenterStepStarted = true;
      try {
        const result = await this.stoppableStep(() =>
          steps.driftKarpenterNodes.executeWithOptions(
            {
              summary: `Karpenter nodes → ${nodeClasses.map((n) => n.name).join(', ')}`,
              startToCloseTimeout: timeoutMs + 10 * 60_000,
              scheduleToCloseTimeout: timeoutMs + 10 * 60_000,
            },
            [
              {
                cluster,
                workflowId,
                runId,
                nodeClasses,
                budget: karpenter.budget,
                pdbTimeoutMs,
                timeoutMs,
                ...(this.karpenterHoldSinceMs !== undefined ? { holdSinceMs: this.karpenterHoldSinceMs } : {}),
              },
            ],
          ),
        );
        const outside = [
          result.launchedDuringHold > 0 ? `${result.launchedDuringHold} launched while held` : '',
          result.goneWithoutDrift.length > 0
            ? `${result.goneWithoutDrift.length} gone without drift (expired, consolidated or deleted): ${result.goneWithoutDrift.join(', ')}`
            : '',
        ].filter(Boolean);
        this.record({
          step,
          status: 'done',
          detail: `${describeDriftCount(result)}${outside.length > 0 ? `; outside the step: ${outside.join('; ')}` : ''}`,
        });
        return;
      } catch (err) {
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          continue;
        }
        this.record({ step, status: 'failed', detail: describeFailure(err) });
        throw new StepFailure('update', `${step}: ${describeFailure(err)}`);
      }
    }
  }

  /**
   * Releases this run's Karpenter pins and holds (not cancellable): budgets restored byte for byte,
   * the terms as `terms` says. A release that fails is recorded with the recovery command.
   */
  private async releaseKarpenter(step: string, terms: TermsOnRelease): Promise<boolean> {
    const { cluster } = this.input;
    const { workflowId } = workflowInfo();
    try {
      const released = await CancellationScope.nonCancellable(() =>
        quick.releaseKarpenterHolds.executeWithOptions({ summary: `release Karpenter holds of ${cluster.name}` }, [
          { cluster, workflowId, terms },
        ]),
      );
      this.holdingKarpenter = false;
      const classes = released.nodeClasses.map((n) => n.nodeClass);
      this.record({
        step,
        status: 'done',
        detail: `budgets restored on ${released.released.join(', ') || 'no NodePool'}; EC2NodeClass terms ${
          terms === 'keep'
            ? 'kept at the target'
            : terms === 'pinned'
              ? "back to the previous minor's AMIs"
              : 'restored'
        }${classes.length > 0 ? ` (${classes.join(', ')})` : ''}`,
      });
      return true;
    } catch (err) {
      this.record({
        step,
        status: 'failed',
        detail: `${describeFailure(err)}; run \`fleetwave release-holds --cluster ${cluster.name}\``,
      });
      return false;
    }
  }

  /**
   * Every hop in one activity (upgradeControlPlane): each started, awaited, and followed by the
   * postStep checks, except after the last hop when nothing follows it (verify covers it with the
   * same gates and more successes). A pause or an abort stops it after the hop in flight; after a
   * resume the checks that did not run for the last hop done run first, then the remaining hops.
   */
  private async upgradeControlPlane(plan: UpgradePlan): Promise<void> {
    const { campaign, cluster, attempt, spec } = this.input;
    const moreSteps = plan.addons.length > 0 || plan.nodegroups.length > 0;
    const checks: CheckRun = {
      phase: 'postStep',
      gates: gatesFor(spec, 'postStep'),
      runKubernetesChecks: kubernetesChecksApply(spec.kubernetesChecks),
    };
    const wantChecks = hasChecks(checks);
    let remaining = plan.hops;
    while (remaining.length > 0) {
      await this.checkpoint();
      const final = remaining.at(-1) as HopPlan;
      if (this.step !== `control-plane ${final.to}`) this.setStep(`control-plane ${final.to}`, true);
      const summary = controlPlaneSummary(remaining);
      let result: UpgradeControlPlaneResult;
      try {
        result = await this.stoppableStep(() =>
          steps.upgradeControlPlane.executeWithOptions(
            {
              summary,
              // Per attempt and, the attempts being looks that park in between, for all of them.
              startToCloseTimeout: controlPlaneTimeoutMs(remaining.length, wantChecks ? checkTimeoutMs(checks) : 0),
              scheduleToCloseTimeout: controlPlaneTimeoutMs(remaining.length, wantChecks ? checkTimeoutMs(checks) : 0),
            },
            [
              {
                campaign,
                cluster,
                attempt,
                hops: remaining.map((h) => h.to),
                ...(wantChecks ? { checksBetweenHops: this.checkInput(checks), checkAfterLastHop: moreSteps } : {}),
              },
            ],
          ),
        );
      } catch (err) {
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          // Paused before the activity ran (a started one answers `stopped` instead): the next call
          // after the resume starts or adopts what is needed, and reports hops found done as done.
          continue;
        }
        const detail = describeFailure(err);
        const { done, failed } = controlPlaneFailure(remaining, stepFailureDetails(err));
        for (const hop of done) this.hopDone(hop, { step: hopStep(hop), status: 'done' });
        this.record({ step: hopStep(failed), status: 'failed', detail });
        throw new StepFailure('update', `${hopStep(failed)}: ${detail}`);
      }
      this.gateResults.push(...result.gates);
      for (const done of result.hops) {
        const hop = remaining.find((h) => h.to === done.target) as HopPlan;
        this.hopDone(hop, updateRecord(hopStep(hop), done));
        const checked = done.target !== result.uncheckedHop && done.target !== result.unhealthy?.afterHop;
        if (wantChecks && checked && (hop !== final || moreSteps)) {
          this.record({ step: `checks after ${hopStep(hop)}`, status: 'done' });
        }
      }
      if (result.unhealthy) {
        const hop = remaining.find((h) => h.to === result.unhealthy?.afterHop) as HopPlan;
        const failure = result.unhealthy.failures.join('; ');
        this.record({ step: `checks after ${hopStep(hop)}`, status: 'failed', detail: failure });
        throw new StepFailure('gate', `after ${hopStep(hop)}: ${failure}`);
      }
      remaining = remaining.filter((h) => !result.hops.some((done) => done.target === h.to));
      if (!result.stopped) break;
      if (result.uncheckedHop) {
        await this.checkpoint();
        const hop = plan.hops.find((h) => h.to === result.uncheckedHop) as HopPlan;
        await this.runChecks(`after ${hopStep(hop)}`, checks);
      }
    }
  }

  /** A hop EKS finished: rollback may take the control plane back from it. */
  private hopDone(hop: HopPlan, record: ClusterStepRecord): void {
    this.hopsDone.push(hop);
    this.controlPlaneVersion = hop.to;
    this.record(record);
  }

  /**
   * Runs a composite step that a pause or an abort may stop early. A started activity finishes the
   * EKS update in flight and returns `stopped`; one cancelled before it started fails with a
   * cancellation (the caller holds after a pause, or turns it into AbortRequested).
   */
  private async stoppableStep<T>(fn: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    this.stoppable = scope;
    try {
      return await scope.run(fn);
    } finally {
      this.stoppable = undefined;
    }
  }

  /**
   * Every add-on in one activity, started together and awaited as one wait. Rollback covers each
   * add-on the step reached (done, adopted, found at target, started, or failed): preflight saw
   * them at their previous versions, and this workflow holds the cluster's lock, so a version
   * change since is ours, maybe from an attempt whose heartbeat was lost. Rolling back an add-on that is still at its previous
   * version changes nothing (read before write).
   */
  private async updateAddons(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('addons', true);
    const { campaign, cluster, attempt } = this.input;
    const summary = addonsSummary(plan.addons);
    const reached = (addon: AddonPlan): void => {
      this.reversible.push({ kind: 'addon', plan: addon, step: addonStep(addon) });
    };
    let outcome: UpdateAddonsResult | undefined;
    while (!outcome) {
      await this.checkpoint();
      try {
        // Not cancelled with the workflow (as before), only by `stopAddons`: a cancellable scope
        // inside a non-cancellable one.
        outcome = await CancellationScope.nonCancellable(() => {
          const scope = new CancellationScope();
          this.addonsScope = scope;
          return scope.run(() =>
            updates.updateAddons.executeWithOptions({ summary }, [
              { campaign, cluster, attempt, addons: plan.addons.map((a) => ({ name: a.name, version: a.to })) },
            ]),
          );
        });
      } catch (err) {
        // Paused or aborted: the add-ons in flight go on in EKS; after a resume the same call
        // finds them done (at target) or adopts the updates still running.
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          continue;
        }
        this.failAddons(plan, err, reached);
      } finally {
        this.addonsScope = undefined;
      }
    }
    for (const result of outcome.results) {
      const addon = plan.addons.find((a) => a.name === result.addon);
      if (addon) reached(addon);
      this.record(updateRecord(addonStep({ name: result.addon }), result));
    }
  }

  /** The add-on step failed: what it reached is rolled back (see `updateAddons`). */
  private failAddons(plan: UpgradePlan, err: unknown, reached: (addon: AddonPlan) => void): never {
    const details = addonFailureDetails(err);
    const detail = describeFailure(err);
    if (!details) {
      // Which add-ons it reached is unknown: roll back all of them (a no-op for those untouched).
      for (const addon of plan.addons) reached(addon);
      this.record({ step: 'addons', status: 'failed', detail });
      throw new StepFailure('update', `addons: ${detail}`);
    }
    const failed = addonsFailure(plan.addons, details, detail);
    for (const addon of failed.reached) reached(addon);
    for (const record of failed.records) this.record(record);
    throw new StepFailure('update', failed.message);
  }

  /**
   * Every node group in one activity (updateNodegroups), up to spec.nodegroups.maxParallel at once;
   * a failure stops new starts, and the updates in flight are awaited. A pause or an abort stops it
   * the same way; after a resume the node groups not done yet go in a new call.
   */
  private async updateNodegroups(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('node-groups', true);
    const { campaign, cluster, attempt, spec } = this.input;
    const reached = (ng: NodegroupPlan): void => {
      const step = nodegroupStep(ng);
      if (this.reversible.some((r) => r.kind === 'nodegroup' && r.step === step)) return;
      this.reversible.push({ kind: 'nodegroup', plan: ng, step });
    };
    let remaining = plan.nodegroups;
    while (remaining.length > 0) {
      await this.checkpoint();
      const summary = nodegroupsSummary(remaining);
      let result: UpdateNodegroupsResult;
      try {
        result = await this.stoppableStep(() =>
          steps.updateNodegroups.executeWithOptions(
            {
              summary,
              startToCloseTimeout: nodegroupsTimeoutMs(remaining.length, spec.nodegroups.maxParallel),
              scheduleToCloseTimeout: nodegroupsTimeoutMs(remaining.length, spec.nodegroups.maxParallel),
            },
            [
              {
                campaign,
                cluster,
                attempt,
                nodegroups: remaining.map((ng) => ({
                  nodegroup: ng.previous.name,
                  ...(ng.version ? { version: ng.version } : {}),
                  ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
                  ...(ng.imageId ? { imageId: ng.imageId } : {}),
                })),
                force: spec.nodegroups.force,
                maxParallel: spec.nodegroups.maxParallel,
              },
            ],
          ),
        );
      } catch (err) {
        const details = stepFailureDetails(err);
        if (!details) {
          // Which node groups it reached is unknown: roll back all of them (a no-op for those untouched).
          for (const ng of remaining) reached(ng);
          if (isCancellation(err) || stoppedWhileWaiting(err)) {
            if (this.abortedBy) throw new AbortRequested();
            // Paused before the activity ran (a started one answers `stopped`): call again after the resume.
            continue;
          }
          this.record({ step: 'node-groups', status: 'failed', detail: describeFailure(err) });
          throw new StepFailure('update', `node-groups: ${describeFailure(err)}`);
        }
        const failed = nodegroupsFailure(remaining, details, describeFailure(err));
        for (const ng of failed.reached) reached(ng);
        for (const record of failed.records) this.record(record);
        throw new StepFailure('update', failed.message);
      }
      for (const done of result.results) {
        const ng = remaining.find((n) => n.previous.name === done.target) as NodegroupPlan;
        if (done.updateId) reached(ng);
        this.record(updateRecord(nodegroupStep(ng), done));
      }
      remaining = remaining.filter((ng) => !result.results.some((done) => done.target === ng.previous.name));
      if (!result.stopped) break;
    }
  }

  /**
   * Whether preflight saw pods on Fargate and this run looks after them. Asked only for such
   * clusters, so the others carry no marker and no extra event.
   */
  private fargateRuns(): boolean {
    if ((this.snapshot?.nodeModels?.fargateProfiles.length ?? 0) === 0) return false;
    return patched(FARGATE_PODS_PATCH);
  }

  /**
   * Fargate pods keep the kubelet they started with until recreated. `spec.nodes.fargate: report`
   * (the default) lists those on an old kubelet in one read (a local activity); `restart` restarts
   * their owners and waits, a parked wait like the others, and a PodDisruptionBudget that holds an
   * owner back past its timeout fails the step naming it. A pause or an abort stops the wait.
   */
  private async fargatePods(): Promise<void> {
    const { cluster, spec } = this.input;
    const target = this.controlPlaneVersion as string;
    const mode = spec.nodes?.fargate ?? 'report';
    const step = 'fargate pods';
    const input = {
      cluster,
      targetVersion: target,
      mode,
      marker: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      timeoutMs: FARGATE_PODS_TIMEOUT_MS,
      pdbTimeoutMs: FARGATE_PDB_TIMEOUT_MS,
    };
    for (;;) {
      await this.checkpoint();
      if (this.step !== step) this.setStep(step, true);
      try {
        const result =
          mode === 'report'
            ? await quick.settleFargatePods.executeWithOptions({ summary: `Fargate pods → ${target}` }, [input])
            : await this.stoppableStep(() =>
                steps.settleFargatePods.executeWithOptions(
                  {
                    summary: `restart Fargate pods → ${target}`,
                    startToCloseTimeout: FARGATE_PODS_TIMEOUT_MS + 10 * 60_000,
                    scheduleToCloseTimeout: FARGATE_PODS_TIMEOUT_MS + 10 * 60_000,
                  },
                  [input],
                ),
              );
        this.record(fargateRecord(step, target, mode, result));
        return;
      } catch (err) {
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          continue;
        }
        this.record({ step, status: 'failed', detail: describeFailure(err) });
        throw new StepFailure('update', `${step}: ${describeFailure(err)}`);
      }
    }
  }

  /**
   * Self-managed node groups follow the control plane. Asked only when preflight saw self-managed
   * nodes and the campaign has a target minor with node groups in it, so other clusters' histories
   * carry no marker and no extra event.
   */
  private selfManagedGroups(): boolean {
    if ((this.snapshot?.nodeModels?.selfManagedNodes ?? 0) === 0) return false;
    if (!this.input.targetVersion || this.input.spec.target.skipNodegroups) return false;
    return patched(SELF_MANAGED_GROUPS_PATCH);
  }

  /**
   * Every self-managed group of the cluster: a launch-template version with the pinned AMI, an
   * instance refresh and fleetwave's termination hook (one local activity for these writes), then
   * ONE parked wait that drains each node before its instance terminates and checks the new nodes
   * are Ready (activities/self-managed.ts). A pause or an abort stops the wait; the refreshes go on
   * in AWS, held by the hook, and the wait takes them up again after a resume.
   */
  private async updateSelfManagedGroups(): Promise<void> {
    await this.checkpoint();
    const { cluster, pinned, spec } = this.input;
    const target = this.controlPlaneVersion ?? (this.input.targetVersion as string);
    const settings = spec.nodes?.selfManaged ?? SELF_MANAGED_DEFAULTS;
    const drainTimeoutMs = parseDuration(settings.drainTimeout) ?? 15 * 60_000;
    const step = 'self-managed groups';
    this.setStep(step, true);
    let handles: SelfManagedRefreshHandle[];
    try {
      handles = await quick.startSelfManagedRefreshes.executeWithOptions(
        { summary: `self-managed groups → ${target}` },
        [
          {
            cluster,
            targetVersion: target,
            pinned,
            minHealthyPercentage: settings.minHealthyPercentage,
            checkpoints: settings.checkpoints,
            // The hook holds an undrained instance this long: the drain timeout and a margin, within AWS's 7200 s.
            hookTimeoutS: Math.min(7200, Math.ceil(drainTimeoutMs / 1000) + 600),
            workflowId: workflowInfo().workflowId,
          },
        ],
      );
    } catch (err) {
      this.record({ step, status: 'failed', detail: describeFailure(err) });
      throw new StepFailure('update', `${step}: ${describeFailure(err)}`);
    }
    this.selfManagedHandles = handles.filter((h) => h.refreshId);
    for (const h of handles) {
      if (!h.refreshId)
        this.record({ step: `self-managed ${h.group}`, status: 'skipped', detail: `already on ${h.imageId}` });
    }
    if (this.selfManagedHandles.length === 0) return;
    for (;;) {
      await this.checkpoint();
      try {
        const result = await this.stoppableStep(() =>
          steps.awaitSelfManagedRefreshes.executeWithOptions(
            {
              summary: `self-managed groups ${this.selfManagedHandles.map((h) => h.group).join(', ')} → ${target}`,
              startToCloseTimeout: SELF_MANAGED_TIMEOUT_MS + 10 * 60_000,
              scheduleToCloseTimeout: SELF_MANAGED_TIMEOUT_MS + 10 * 60_000,
            },
            [{ cluster, handles: this.selfManagedHandles, drainTimeoutMs, timeoutMs: SELF_MANAGED_TIMEOUT_MS }],
          ),
        );
        for (const g of result.groups) {
          this.record({
            step: `self-managed ${g.group}`,
            status: 'done',
            detail: `${g.replaced.length} instance${g.replaced.length === 1 ? '' : 's'} drained and replaced (launch-template version ${g.toVersion})`,
          });
        }
        return;
      } catch (err) {
        if (isCancellation(err) || stoppedWhileWaiting(err)) {
          if (this.abortedBy) throw new AbortRequested();
          continue;
        }
        this.record({ step, status: 'failed', detail: describeFailure(err) });
        throw new StepFailure('update', `${step}: ${describeFailure(err)}`);
      }
    }
  }

  /**
   * Undoes the self-managed groups' refreshes: RollbackInstanceRefresh while a refresh is still
   * active (where AWS allows it), otherwise a refresh forward to the previous launch-template
   * version; then the same drained wait. `fleetwave plan` says which applies.
   */
  private async rollBackSelfManagedGroups(ledger: RollbackLedger): Promise<void> {
    const { cluster, spec } = this.input;
    const settings = spec.nodes?.selfManaged ?? SELF_MANAGED_DEFAULTS;
    const back: SelfManagedRefreshHandle[] = [];
    for (const handle of this.selfManagedHandles) {
      const step = `rollback self-managed ${handle.group}`;
      try {
        const done = await quick.rollbackSelfManagedGroup.executeWithOptions(
          { summary: `roll back self-managed group ${handle.group} → launch-template version ${handle.fromVersion}` },
          [{ cluster, handle, minHealthyPercentage: settings.minHealthyPercentage }],
        );
        this.record({
          step,
          status: 'done',
          detail:
            done.how === 'rollback'
              ? `RollbackInstanceRefresh of ${handle.refreshId ?? ''}`
              : `instance refresh forward to launch-template version ${handle.fromVersion}`,
        });
        if (done.refreshId) {
          back.push({
            group: handle.group,
            refreshId: done.refreshId,
            fromVersion: handle.toVersion,
            toVersion: handle.fromVersion,
            imageId: '',
            ...(done.how === 'rollback' ? { rollback: true } : {}),
          });
        }
        ledger.undid(`self-managed ${handle.group}`, this.steps);
      } catch (err) {
        this.record({ step, status: 'failed', detail: describeFailure(err) });
        ledger.failed(`${step}: ${describeFailure(err)}`);
      }
    }
    if (back.length === 0) return;
    try {
      await updates.awaitSelfManagedRefreshes.executeWithOptions(
        { summary: `self-managed groups back: ${back.map((h) => h.group).join(', ')}` },
        [
          {
            cluster,
            handles: back,
            drainTimeoutMs: parseDuration(settings.drainTimeout) ?? 15 * 60_000,
            timeoutMs: SELF_MANAGED_TIMEOUT_MS,
          },
        ],
      );
    } catch (err) {
      ledger.failed(`rollback self-managed groups: ${describeFailure(err)}`);
    }
  }

  /** The final check, one checkClusterHealth call: see `verifyRun` for what it runs. */
  private async verify(plan: UpgradePlan): Promise<void> {
    await this.checkpoint();
    this.setStep('verify', true);
    await this.runChecks('verify', verifyRun(this.input, plan));
  }

  // --- failure and rollback --------------------------------------------------------------

  private async recover(failure: StepFailure): Promise<ClusterUpgradeResult> {
    const changed = this.reversible.length > 0 || this.hopsDone.length > 0 || this.selfManagedHandles.length > 0;
    const ending = endingWithoutRollback(failure, changed, this.input.spec.rollback);
    if (ending) return this.finish(ending.outcome, ending.reason);
    if (this.autoMode && this.hopsDone.length > 0 && !this.input.spec.rollback.controlPlane) {
      this.record({
        step: 'rollback auto-mode nodes',
        status: 'skipped',
        detail:
          'Auto Mode nodes roll back only with the control plane (VersionRollback), which spec.rollback.controlPlane does not allow',
      });
    }
    // Rollback runs to its end even if the workflow is cancelled: a half-done rollback is the worst state.
    const summary = await CancellationScope.nonCancellable(() => this.rollBack());
    const after = endingAfterRollback(failure.message, summary);
    return this.finish(after.outcome, after.reason);
  }

  /**
   * A rollback-only run (input.rollbackOnly): a gate failed after an earlier run of this cluster
   * ended upgraded, or an operator undoes its promoted wave. That run's node groups and add-ons go
   * back by the same rules as any rollback. The control plane stays unless the order names its
   * last hop (`fleetwave rollback` where spec.rollback.afterPromotion.controlPlane opts in): then
   * it goes back by VersionRollback after them, which EKS allows only within 7 days of the upgrade
   * and while its rollback-readiness insights pass; a refusal leaves it where it is and says why.
   * Runs to its end regardless of pause and abort.
   */
  private async rollBackUpgraded(
    order: NonNullable<ClusterUpgradeInput['rollbackOnly']>,
  ): Promise<ClusterUpgradeResult> {
    this.reversible.push(...order.undo);
    if (order.controlPlane) {
      this.hopsDone.push(order.controlPlane);
      this.controlPlaneVersion = order.controlPlane.to;
    }
    const summary = await CancellationScope.nonCancellable(() => this.rollBack());
    const after = endingAfterRollback(order.reason, summary);
    return this.finish(after.outcome, after.reason);
  }

  /** Node groups, add-ons, then (opt-in) the control plane and the add-ons it unblocks: see cluster-upgrade/rollback.ts. */
  private async rollBack(): Promise<RollbackSummary> {
    this.setStep('rollback', true);
    const { campaign, cluster, attempt, spec } = this.input;
    const ledger = new RollbackLedger();
    const undo = async (entry: Reversible | ControlPlaneUndo): Promise<void> => {
      const rollbackStep = `rollback ${entry.step}`;
      try {
        let applied: Applied;
        if (entry.kind === 'nodegroup') {
          const previous = entry.plan.previous;
          applied = await this.applyUpdate(
            rollbackStep,
            `roll back node group ${previous.name} → ${describeNodegroup(previous)}`,
            (summary) =>
              quick.rollbackNodegroup.executeWithOptions({ summary }, [
                { campaign, cluster, attempt, nodegroup: previous.name, previous },
              ]),
          );
        } else if (entry.kind === 'addon') {
          const { name, from } = entry.plan;
          applied = await this.applyUpdate(rollbackStep, `roll back add-on ${name} → ${from}`, (summary) =>
            quick.rollbackAddon.executeWithOptions({ summary }, [
              { campaign, cluster, attempt, addon: name, previousVersion: from },
            ]),
          );
        } else {
          applied = await this.applyUpdate(
            rollbackStep,
            `roll back control plane ${entry.hop.to} → ${entry.hop.from}${this.autoMode ? ' (EKS rolls the Auto Mode nodes back first)' : ''}`,
            (summary) =>
              quick.rollbackControlPlane.executeWithOptions({ summary }, [
                { campaign, cluster, attempt, toVersion: entry.hop.from },
              ]),
          );
          if (!applied.kept) this.controlPlaneVersion = entry.hop.from;
        }
        if (applied.kept) ledger.keep(entry.step, applied.kept.reason);
        else ledger.undid(entry.step, this.steps);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // An ordered VersionRollback EKS refuses (window passed, readiness insights failing) is
        // not a failed rollback: the control plane stays, and the reason says why.
        if (entry.kind === 'control-plane' && this.input.rollbackOnly?.controlPlane) {
          ledger.keep(entry.step, `control plane stays at ${entry.hop.to}: ${message}`);
        } else ledger.failed(message);
      }
    };

    await this.rollBackSelfManagedGroups(ledger);
    const order = rollbackOrder(this.reversible);
    await inLanes(order.nodegroups, spec.nodegroups.maxParallel, undo);
    for (const entry of order.addons) await undo(entry);

    const controlPlane = controlPlaneUndo(
      this.hopsDone,
      spec.rollback.controlPlane || this.input.rollbackOnly?.controlPlane !== undefined,
      ledger.failureCount,
    );
    if (controlPlane) {
      await undo(controlPlane);
      // Back on the minor they ran on before the upgrade: add-ons kept for the newer one may go back now.
      if (this.controlPlaneVersion === controlPlane.hop.from) {
        for (const entry of order.addons) if (ledger.isKept(entry.step)) await undo(entry);
      }
    }
    if (this.holdingKarpenter) {
      const terms = termsOnExit({
        rolledBack: true,
        hopsDone: this.hopsDone.length > 0,
        controlPlaneBack: this.controlPlaneVersion === this.snapshot?.version,
        nodeStepStarted: this.karpenterStepStarted,
      });
      const released = await this.releaseKarpenter('rollback karpenter', terms);
      if (!released) ledger.failed('rollback karpenter: the EC2NodeClasses and NodePools were not restored');
    }
    const startedAt = this.snapshot?.version ?? this.input.rollbackOnly?.controlPlane?.from;
    return ledger.summary(controlPlaneStays(this.hopsDone, this.controlPlaneVersion, startedAt));
  }

  // --- building blocks -------------------------------------------------------------------

  /**
   * Starts one EKS update and waits for it, shielded from cancellation: a started update is always
   * awaited to its end (rollbacks only: the forward steps are composite activities).
   * A rollback EKS cannot do comes back `kept` (recorded as skipped, with the reason).
   */
  private async applyUpdate(
    step: string,
    summary: string,
    start: (summary: string) => Promise<UpdateHandle>,
  ): Promise<Applied> {
    const record: ClusterStepRecord = { step, status: 'done' };
    const applied: Applied = {};
    try {
      await CancellationScope.nonCancellable(async () => {
        const handle = await start(summary);
        if (handle.kept) {
          record.status = 'skipped';
          record.detail = `kept: ${handle.kept.reason}`;
          applied.kept = handle.kept;
          return;
        }
        if (handle.alreadyAtTarget) {
          record.status = 'skipped';
          record.detail = 'already at target';
          return;
        }
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
    return applied;
  }

  /**
   * One checkClusterHealth call: the phase's gates at once, then the Kubernetes checks. "No data",
   * inconclusive and errors are failures, never passes; so is a call that could not run. An abort
   * cancels it (gates only read metrics).
   */
  private async runChecks(label: string, run: CheckRun): Promise<void> {
    if (run.gates.length === 0 && !run.runKubernetesChecks) return;
    const input = this.checkInput(run);
    const startToCloseTimeout = checkTimeoutMs(run);
    const scope = new CancellationScope();
    this.checks = scope;
    let result: CheckClusterHealthResult | undefined;
    let failure: string | undefined;
    try {
      result = await scope.run(() =>
        gates.checkClusterHealth.executeWithOptions({ summary: checksSummary(label, run), startToCloseTimeout }, [
          input,
        ]),
      );
    } catch (err) {
      if (!isCancellation(err) || !this.abortedBy) failure = `health checks: ${describeFailure(err)}`;
    } finally {
      this.checks = undefined;
    }
    if (result) {
      this.gateResults.push(...result.gates);
      if (!result.healthy) failure = result.failures.join('; ');
    }
    if (failure) {
      this.record({ step: `checks ${label}`, status: 'failed', detail: failure });
      throw new StepFailure('gate', `${label}: ${failure}`);
    }
    if (this.abortedBy) throw new AbortRequested();
    this.record({ step: `checks ${label}`, status: 'done' });
  }

  /** The checkClusterHealth input of a round: what every round shares (cluster, spec.kubernetesChecks, baseline) and `run`. */
  private checkInput(run: CheckRun): CheckClusterHealthInput {
    const { cluster, spec } = this.input;
    return {
      cluster,
      phase: run.phase,
      gates: run.gates,
      ...(run.requiredSuccessesByGate ? { requiredSuccessesByGate: run.requiredSuccessesByGate } : {}),
      checks: spec.kubernetesChecks,
      ...(run.expectedKubeletMinor ? { expectedKubeletMinor: run.expectedKubeletMinor } : {}),
      ...(this.baseline ? { baseline: this.baseline } : {}),
      runKubernetesChecks: run.runKubernetesChecks,
      ...(this.changedAtMs !== undefined && run.gates.some((g) => g.compare)
        ? { context: { changedAtMs: this.changedAtMs } }
        : {}),
    };
  }

  /**
   * The first search-attribute upsert: only what the parent did not set at start (a campaign sets
   * CampaignName, ClusterName and TargetVersion; UpgradeStep too, if it starts it at `preflight`).
   * Nothing missing: no event.
   */
  private upsertInitialSearchAttributes(): void {
    const { input } = this;
    const present = workflowInfo().typedSearchAttributes;
    const wanted = [
      { key: ClusterNameKey, value: input.cluster.name },
      { key: CampaignNameKey, value: input.campaign },
      ...(input.targetVersion ? [{ key: TargetVersionKey, value: input.targetVersion }] : []),
      { key: UpgradeStepKey, value: 'preflight' },
    ];
    const missing = wanted.filter(({ key, value }) => present.get(key) !== value);
    if (missing.length > 0) upsertSearchAttributes(missing);
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
   * UpgradeStep search attribute (one history event).
   */
  private setStep(step: string, major = false): void {
    this.step = step;
    // Only the search attribute: `fleetwave status` reads live steps from visibility, so the
    // campaign's history does not pay for a progress signal per step per cluster.
    if (major) upsertSearchAttributes([{ key: UpgradeStepKey, value: step }]);
    this.renderDetails();
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
      // What a rollback after the fact (the campaign's soak) would undo; nothing more is kept anywhere.
      ...(outcome === 'upgraded' && this.reversible.length > 0 ? { undo: [...this.reversible] } : {}),
    };
  }

  /** The Temporal UI's "current details" (costs no history events). */
  private renderDetails(reason?: string): void {
    const { cluster, targetVersion } = this.input;
    setCurrentDetails(
      renderUpgradeDetails({
        cluster: cluster.name,
        ...(targetVersion ? { targetVersion } : {}),
        step: this.step,
        ...(this.abortedBy ? { state: 'aborting' as const } : this.paused ? { state: 'paused' as const } : {}),
        ...(reason ? { reason } : {}),
        steps: this.steps,
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------

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
