/**
 * The campaign workflow, ID `campaign/<name>`: plans the fleet into waves, pins versions
 * once, runs each wave as a sliding window of cluster-upgrade children under the pacing
 * rules, soaks and gates the wave, waits for its approval, and promotes to the next wave.
 *
 * The state machine lives in workflows/campaign/state.ts: a plain class that owns the state
 * (carried across continue-as-new as JSON) and changes it only through named transitions, with
 * the promotion rule in workflows/campaign/promotion.ts. This file registers the message
 * handlers, calls those transitions and performs the side effects: activities, child starts,
 * signals to children and lease holders, timers, search attributes and the Web UI's current details.
 *
 * Behaviour decisions (why, not what):
 * - Children run with ParentClosePolicy ABANDON. Temporal applies a parent-close policy when
 *   the parent continues-as-new, so REQUEST_CANCEL would cancel every in-flight upgrade at
 *   each continue-as-new. Stopping children is therefore explicit: `abort` signals each one
 *   (clusterAbortSignal) and waits for it to reach a safe point. Terminating the campaign is
 *   the hard stop: in-flight cluster upgrades then run to their end (which is safer than
 *   cancelling a half-done EKS update); use `abort` to stop them.
 * - The run that started a child learns its end from the child's completion event. Before
 *   continuing as new, the run asks each of its children still running to report by
 *   clusterFinishedSignal instead (by workflow ID, so the report reaches whichever run is
 *   current), and waits until each request is delivered or the child's completion arrived.
 *   The common case costs no signal at all; each continue-as-new costs two events per child in flight.
 * - A child start refused because `cluster-upgrade/<name>` is already running means another
 *   campaign (or an operator) is upgrading that cluster: the cluster is `blocked`, which does
 *   not count against the failure budget (nothing was done to it); retry-cluster later.
 * - The failure budget counts failed and rolled-back clusters of the wave's window. Beyond it,
 *   `pause` stops new starts (in-flight ones finish); resume acknowledges the failures so far,
 *   and the wave pauses again only at a further failure. `abort` aborts the campaign.
 * - Soak (patch soak-watch): every soak-phase gate of every upgraded cluster is measured every
 *   interval for the whole soak, one watchHealthGates activity per batch of 100 pairs for all of
 *   it (parked between looks: three events per batch however long the soak), each batch on its
 *   clusters' task queue (patch gates-on-cluster-queues, campaign/gate-queues.ts). A Failed gate sends
 *   its cluster through the wave's policy: a rollback-only child undoes its node groups and
 *   add-ons (the control plane stays: see the wave rollback below), and the cluster counts
 *   against the failure budget, whose excess pauses or aborts. Inconclusive and Error say nothing
 *   about the cluster: they pause the campaign before approval, as anything but Successful did
 *   before the patch. The last wave has nothing to promote to and needs no approval. An empty
 *   wave is skipped (no soak, no approval).
 * - After promotion (spec.watchAfterPromotion, default 1h): the promoted wave's clusters stay
 *   watched by the same gates while the next waves run; a failure pauses the campaign and records
 *   the rollback it proposes. The watch ends with the campaign.
 * - Undoing a promoted wave (`fleetwave rollback --wave`, Update `rollbackWave` or Signal
 *   `rollback`, signed as the fleet policy asks; or spec.rollback.afterPromotion.mode auto): the
 *   handler starts rollback-only children of the wave's upgraded clusters at once, whatever the
 *   main loop is waiting for; the campaign stays paused, and does not complete before they end.
 *   The control plane goes back (VersionRollback, the last hop) only where
 *   spec.rollback.afterPromotion.controlPlane opts in; EKS refuses it after 7 days or while a
 *   rollback-readiness insight is in ERROR, and the cluster's reason then says it stays.
 * - An approval that would promote a wave first re-checks its gates (one look each); a red wave's
 *   approval is refused with the gate named and audited, by Update and by Signal alike.
 * - Freezes (fleet control): inside a freeze nothing starts, and the in-flight children get the
 *   operator pause's signal (they finish their step and hold) until it ends; rollbacks are never
 *   held, and an operator pause outlasts the freeze. With upgrades in flight and nothing to start
 *   the campaign still asks the fleet control when a freeze may have begun or ended (patch
 *   freeze-hold-in-flight, `followFreeze`).
 * - Effective concurrency is min(wave.maxParallel, pacing.maxInFlight, 500): Temporal limits
 *   pending children per workflow (2,000 by default), and 500 keeps well clear of it.
 * - With pacing.sharedCaps, a cluster takes its rate-limit token and slot when picked, then waits
 *   for its fleet-wide leases; starts may bunch up after grants (never more than picked).
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  ChildWorkflowFailure,
  TerminatedFailure,
  WorkflowExecutionAlreadyStartedError,
  type SearchAttributeUpdatePair,
} from '@temporalio/common';
import type { ChildrenActivities } from '../activities/children';
import type { LeaseActivities } from '../activities/leases';
import type { ClusterRef, FleetwaveActivities, GateContext, GateResult } from '../activities/types';
import { selectCohort } from '../domain/baseline';
import { durationToMs, formatDuration } from '../domain/duration';
import type { FleetMember } from '../domain/fleet';
import { GATE_TIMEOUT_MARGIN_MS, gateErrorResult, gateWorstCaseMs } from '../domain/gates';
import { pickNextClusters, createBucket, rateLimitOf, resolveCaps, startOrder } from '../domain/pacing';
import { resolveCountOrPercent } from '../domain/freezes';
import type { HealthGateSpec } from '../domain/spec';
import { checkWindow, windowsFor } from '../domain/windows';
import type { clusterUpgradeWorkflow } from './cluster-upgrade';
import {
  abortSignal,
  approveSignal,
  approveWaveUpdate,
  campaignWorkflowId,
  clusterAbortSignal,
  clusterFinishedSignal,
  clusterPauseSignal,
  clusterResumeSignal,
  clusterUpgradeWorkflowId,
  fleetControlChangedSignal,
  fleetLeaseId,
  fleetLeaseWorkflowId,
  leaseGrantedSignal,
  notifySinkFailedSignal,
  pauseSignal,
  releaseLeaseSignal,
  reportBySignalSignal,
  resumeSignal,
  retryClusterUpdate,
  rollbackWaveSignal,
  rollbackWaveUpdate,
  skipClusterUpdate,
  statusQuery,
  WorkflowTypes,
  type ApproveInput,
  type ApproveResult,
  type CampaignResult,
  type CampaignWorkflowInput,
  type ClusterActionInput,
  type ClusterStatus,
  type OperatorInput,
  type RollbackWaveInput,
  type RollbackWaveResult,
  type ClusterUpgradeInput,
  type ClusterUpgradeResult,
  type TakeStartsResult,
} from './definitions';
import { checkAction, learnApprovalPolicy, signedActionsEnabled } from './campaign/actions';
import { renderDetails } from './campaign/details';
import { batchesByQueue, sharedQueue, type GateBatch } from './campaign/gate-queues';
import { CampaignNotifier } from './campaign/notify';
import { pinRequest, setUpCampaign, type CampaignSetup } from './campaign/planning';
import { approvalShapeProblem, operatorShapeProblem } from './campaign/requests';
import {
  CampaignMachine,
  MAX_CHILDREN_IN_FLIGHT,
  iso,
  type ActionProof,
  type ClusterView,
  type PendingSignal,
  type WaveView,
} from './campaign/state';
import { describeFailure } from './failure-text';
import {
  AwaitingApprovalKey,
  CampaignNameKey,
  CampaignStateKey,
  ClusterNameKey,
  ClustersDoneKey,
  ClustersFailedKey,
  ClustersTotalKey,
  CurrentWaveKey,
  TargetVersionKey,
} from './search-attributes';

/** Workflow type of the cluster-upgrade child (see workflows/cluster-upgrade.ts). */
const CHILD_WORKFLOW_TYPE = WorkflowTypes.clusterUpgrade;
/** Soak cluster × gate pairs per evaluateHealthGates activity, batches in flight, and pairs measured at once per batch. */
const SOAK_BATCH_PAIRS = 100;
const SOAK_BATCHES_IN_FLIGHT = 2;
const SOAK_PAIRS_AT_ONCE = 20;
/** Counters (ClustersDone/Failed) are re-published at most this often; state changes publish at once. */
const COUNTS_PUBLISH_INTERVAL_MS = 5_000;
/**
 * ...and only once a tenth of the planned clusters ended since the last publish: at real EKS pace
 * clusters end minutes apart, and the interval alone would cost an upsert per cluster. So a run
 * publishes the counters at most 10 times plus once per state change, however slow. The Web UI's
 * current details (rendered at every workflow task, no history event) show the live counts.
 */
const COUNTS_PUBLISH_STEPS = 10;

/**
 * Pinning versions is a few read-only EKS and SSM calls: a local activity, one marker in the
 * history instead of an activity's three events and the workflow task that reads its result.
 * Every retry waits on a workflow timer (localRetryThreshold), so signals such as abort are
 * handled between attempts instead of waiting for the worker's local backoff. It stays on the
 * campaign's worker whatever the clusters' queues: EKS and SSM are regional AWS endpoints, not a
 * cluster's private endpoint.
 */
const { resolveTargetVersions } = proxyLocalActivities<FleetwaveActivities>({
  startToCloseTimeout: '2 minutes',
  localRetryThreshold: '1 second',
  retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes', maximumAttempts: 10 },
});

const { evaluateHealthGates } = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
});

/**
 * Watching gates for a whole soak or watch after promotion: each attempt takes one look at the
 * pairs that are due and parks until the next (activities/watch.ts), so an attempt is short: a
 * look at 100 pairs, 20 at once, with queries of at most 30 s. Retried for ever: the retries are
 * the looks (nextRetryDelay); a real error retries with backoff. A look heartbeats after each
 * measurement: a worker killed mid-look loses it within the heartbeat timeout (1 minute), not
 * the start-to-close timeout, like every parked wait (docs/architecture.md, "Waiting").
 */
const { watchHealthGates } = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** See `runWatchedSoak` and docs/versioning.md. */
const SOAK_WATCH_PATCH = 'soak-watch';
/** See `runWatchedSoak` and docs/versioning.md. */
const SOAK_OVER_BEFORE_CONTINUE_PATCH = 'soak-over-before-continue';
/** See `watchPromotedWaves` and docs/versioning.md. */
const WATCH_AFTER_PROMOTION_PATCH = 'watch-after-promotion';
/** See `recheckBeforePromotion` and docs/versioning.md. */
const APPROVAL_RECHECK_PATCH = 'approval-recheck';
/** See `sharedRecheck` and docs/versioning.md. */
const SHARED_RECHECK_PATCH = 'approval-recheck-shared';
/** See `gateBatchesOf` and docs/versioning.md. */
const GATES_ON_CLUSTER_QUEUES_PATCH = 'gates-on-cluster-queues';

/** Watches children handed over by an earlier run (activities/children.ts): parks between looks, retried for ever. */
const { awaitChildrenEnded } = proxyActivities<ChildrenActivities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** See `changedWhileAwaiting` and docs/versioning.md. */
const WAKE_ON_CHANGE_WHILE_AWAITING_PATCH = 'wake-on-change-while-awaiting';
/** See `admitByFleetControl` and docs/versioning.md. */
const FLEET_CONTROL_PATCH = 'fleet-control';
/** See `followFreeze` and docs/versioning.md. */
const FREEZE_HOLD_PATCH = 'freeze-hold-in-flight';

/**
 * A quick Update on the fleet control workflow, once per start round. A regular activity, not a
 * local one: the main loop's local activity raced the approval handlers' `verifyAction` local
 * activities, and a replay (a query after an eviction, under CI load) scheduled them in another
 * order than the first run had ("recorded marker 'verifyAction' does not match … 'takeFleetStarts'").
 * A regular activity's completion is an event, so the loop resumes at the same point on replay.
 */
const { takeFleetStarts } = proxyActivities<LeaseActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** How soon a campaign asks again when the fleet control could not be reached. */
const FLEET_CONTROL_RETRY_MS = 60_000;

/** See `releaseHoldsOfTerminated` and docs/versioning.md. */
const RELEASE_HOLDS_OF_TERMINATED_PATCH = 'release-holds-of-terminated';

/** A terminated cluster upgrade cannot release its NodePool holds itself: the campaign does (activities/automode.ts). */
const { releaseNodePoolHolds } = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** The task queue option of a cluster's own activities: none (the campaign's queue) unless the fleet names one. */
function clusterQueueOption(member: { taskQueue?: string }): { taskQueue?: string } {
  return member.taskQueue ? { taskQueue: member.taskQueue } : {};
}

const { requestLease } = proxyActivities<LeaseActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * Upgrades a fleet in waves. Start it with ID `campaign/<name>` (campaignWorkflowId) and the
 * search attributes of campaignStartAttributes (search-attributes.ts).
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignResult> {
  const now = Date.now();
  let plan: CampaignSetup | undefined;
  let machine: CampaignMachine;
  if (input.continued) {
    machine = CampaignMachine.restore(input.campaign, input.fleet, input.continued);
  } else {
    plan = setUpCampaign(input.campaign, input.fleet);
    machine = CampaignMachine.fromPlan(input.campaign, plan.placed, plan, now, input.startedBy);
  }
  const starter: RollbackStarter = {};
  registerHandlers(machine, starter);
  const run = new CampaignRun(machine, input, plan);
  starter.start = () => run.startPromotedRollbacks();
  return run.run();
}

/**
 * How a wave-rollback handler starts the requested rollback-only runs: the run's own child start,
 * set right after the handlers are registered (before the first await).
 */
interface RollbackStarter {
  start?: () => Promise<void>;
}

/**
 * Every handler, registered before the first await so no early message is lost.
 *
 * Runs with signed actions (patch `signed-actions`, workflows/campaign/actions.ts) check each
 * approval and operator action against the worker's fleet policy in the handler and record every
 * refusal in the audit trail before answering it; Update validators refuse only malformed
 * requests (workflows/campaign/requests.ts), which leave no trace (a validator writes nothing to
 * the history). Older runs keep their old path: validators with the state's refusal, handlers
 * that apply at once.
 */
function registerHandlers(m: CampaignMachine, rollbacks: RollbackStarter): void {
  setHandler(
    approveWaveUpdate,
    async (approval) => {
      if (!signedActionsEnabled()) {
        const wave = m.currentWave?.name ?? approval.wave;
        const { approvals, needed, promoted } = m.applyApproval(approval, 'update', Date.now());
        return { wave, approvals, needed, promoted };
      }
      const applied = await admitApproval(m, approval, 'update');
      if (typeof applied === 'string') throw ApplicationFailure.nonRetryable(applied, 'ApprovalRefused');
      return applied;
    },
    {
      validator: (approval) => {
        const problem = approvalShapeProblem(approval);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'ApprovalRefused');
      },
    },
  );
  setHandler(approveSignal, async (approval) => {
    if (!signedActionsEnabled()) {
      const refusal = m.approvalRefusal(approval);
      if (refusal) m.recordRefusedApproval(approval, refusal, Date.now());
      else m.applyApproval(approval, 'signal', Date.now());
      return;
    }
    await admitApproval(m, approval, 'signal');
  });
  const pause = (op: OperatorInput | undefined, proof?: ActionProof): void => {
    const by = op?.by || 'unknown';
    m.pause('operator', op?.reason ? `paused by ${by}: ${op.reason}` : `paused by ${by}`, Date.now(), by, proof);
  };
  setHandler(pauseSignal, async (op) => {
    if (signedActionsEnabled()) await admitOperatorSignal(m, 'pause', op, (proof) => pause(op, proof));
    else pause(op);
  });
  setHandler(resumeSignal, async (op) => {
    if (signedActionsEnabled()) await admitOperatorSignal(m, 'resume', op, (proof) => m.resume(op, Date.now(), proof));
    else m.resume(op, Date.now());
  });
  setHandler(abortSignal, async (op) => {
    if (signedActionsEnabled()) await admitOperatorSignal(m, 'abort', op, (proof) => m.abort(op, Date.now(), proof));
    else m.abort(op, Date.now());
  });
  setHandler(
    skipClusterUpdate,
    async (action) => {
      if (!signedActionsEnabled()) return m.applySkip(action, Date.now());
      return admitClusterAction(m, 'skip', action, 'SkipRefused', (proof) => m.applySkip(action, Date.now(), proof));
    },
    {
      validator: (action) => {
        const problem = operatorShapeProblem(action, true);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'SkipRefused');
      },
    },
  );
  setHandler(
    retryClusterUpdate,
    async (action) => {
      if (!signedActionsEnabled()) return m.applyRetry(action, Date.now());
      return admitClusterAction(m, 'retry', action, 'RetryRefused', (proof) => m.applyRetry(action, Date.now(), proof));
    },
    {
      validator: (action) => {
        const problem = operatorShapeProblem(action, true);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'RetryRefused');
      },
    },
  );
  // Undoing a promoted wave is new: no run older than it received one, so it needs no patch.
  setHandler(
    rollbackWaveUpdate,
    async (input) => {
      const applied = await admitWaveRollback(m, input, rollbacks);
      if (typeof applied === 'string') throw ApplicationFailure.nonRetryable(applied, 'RollbackRefused');
      return applied;
    },
    {
      validator: (input) => {
        const problem = operatorShapeProblem(input, false) ?? waveShapeProblem(input);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'RollbackRefused');
      },
    },
  );
  setHandler(rollbackWaveSignal, async (input) => {
    await admitWaveRollback(m, input, rollbacks);
  });
  setHandler(statusQuery, () => m.status());
  setHandler(clusterFinishedSignal, (finished) => {
    m.onFinished(finished, Date.now());
  });
  setHandler(leaseGrantedSignal, (grant) => m.onLeaseGranted(grant.holder, grant.leaseId));
  setHandler(notifySinkFailedSignal, (failure) => m.recordSinkFailure(failure, Date.now()));
  // The patch is decided here, at the signal's own workflow task: asked in the main loop, its marker
  // could land in another task on replay when the loop was woken by a handler's local activity.
  setHandler(fleetControlChangedSignal, () => m.onFleetControlChanged(patched(FREEZE_HOLD_PATCH)));
}

/**
 * Checks an approval (shape, fleet policy, signed claim, the campaign's own rules) and applies it,
 * or records the refusal in the audit trail and returns its reason.
 */
async function admitApproval(
  m: CampaignMachine,
  approval: ApproveInput,
  via: 'update' | 'signal',
): Promise<ApproveResult | string> {
  const refuse = (reason: string, proof?: ActionProof): string => {
    m.recordRefusedApproval(approval, reason, Date.now(), proof);
    return reason;
  };
  const shape = approvalShapeProblem(approval);
  if (shape) return refuse(shape);
  // Decided here, before the policy check's local activity: where the patch marker lands must not
  // depend on when that activity's result is delivered (a replay under load put it elsewhere).
  const recheck = soakGatesOf(m).length > 0 && patched(APPROVAL_RECHECK_PATCH);
  const shared = recheck && patched(SHARED_RECHECK_PATCH);
  const check = await checkAction(m, {
    action: 'approve',
    actor: approval.approver,
    wave: approval.wave,
    ...(approval.comment !== undefined ? { comment: approval.comment } : {}),
    ...(approval.signed ? { signed: approval.signed } : {}),
  });
  if (!check.ok) return refuse(check.reason, check.proof);
  let now = Date.now();
  m.expireApprovals(now);
  let refusal = m.approvalRefusal(approval, check.groups);
  if (refusal) return refuse(refusal, check.proof);
  const red = recheck ? await (shared ? sharedRecheck(m, now) : recheckBeforePromotion(m, now)) : undefined;
  if (red) return refuse(red, check.proof);
  if (red !== undefined) {
    // The re-check awaited an activity: another message may have changed the wave meanwhile.
    now = Date.now();
    m.expireApprovals(now);
    refusal = m.approvalRefusal(approval, check.groups);
    if (refusal) return refuse(refusal, check.proof);
  }
  if (check.use) m.markClaimUsed(check.use.key, check.use.expiresAt, now);
  const wave = m.currentWave?.name ?? approval.wave;
  return { wave, ...m.applyApproval(approval, via, now, check.proof) };
}

/** True when an approval now would promote a wave that has soak gates: its re-check is due. */
function recheckDue(m: CampaignMachine, now: number): boolean {
  return m.currentWave !== undefined && soakGatesOf(m).length > 0 && m.approvalWouldPromote(now);
}

/** The approval re-check in flight per campaign run, by wave index. */
const recheckInFlight = new WeakMap<CampaignMachine, { wave: number; answer: Promise<string | undefined> }>();

/**
 * {@link recheckBeforePromotion}, once for approvals that arrive while one runs: they take its
 * answer instead of each looking at every gate again. (Every approval that arrived during a
 * re-check started its own: with approvers retrying against a wave of a thousand clusters, the
 * looks piled up on Prometheus faster than it answered, and each refusal brought the next.)
 */
function sharedRecheck(m: CampaignMachine, now: number): Promise<string | undefined> {
  // Only a re-check this approval needs is shared: one that was not due for an earlier approval
  // (it would not promote) answers `undefined` at once, and must not stand in for this one's.
  const wave = m.currentWave;
  if (!wave || !recheckDue(m, now)) return Promise.resolve(undefined);
  const running = recheckInFlight.get(m);
  if (running && running.wave === wave.index) return running.answer;
  const answer = recheckWave(m, wave).finally(() => {
    if (recheckInFlight.get(m)?.answer === answer) recheckInFlight.delete(m);
  });
  recheckInFlight.set(m, { wave: wave.index, answer });
  return answer;
}

/**
 * The approval re-check: an approval that would promote the wave first finds every soak-phase gate
 * of every upgraded cluster of the wave green, with one fresh look each (watchHealthGates with an
 * end already past, one pass needed). Runs in the approval's handler, Update or Signal alike: a
 * handler may run activities (a validator may not, and writes nothing), so the refusal is
 * recorded like every other one. Returns why the wave is red, '' when it is green, undefined when
 * no re-check was due (the approval does not promote, no soak gates, or a run older than the patch).
 */
function recheckBeforePromotion(m: CampaignMachine, now: number): Promise<string | undefined> {
  const wave = m.currentWave;
  return wave && recheckDue(m, now) ? recheckWave(m, wave) : Promise.resolve(undefined);
}

/** One fresh look at every soak-phase gate pair of `wave` (see {@link recheckBeforePromotion}): why it is red, or ''. */
async function recheckWave(m: CampaignMachine, wave: WaveView): Promise<string> {
  const batches = gateBatchesOf(m, pairsOf(m, wave.index, soakGatesOf(m)));
  let failures: { cluster: string; result: GateResult }[];
  try {
    const answers = await Promise.all(
      batches.map(({ pairs: batch, taskQueue }) =>
        watchHealthGates
          .executeWithOptions(
            {
              startToCloseTimeout: '5 minutes',
              retry: { initialInterval: '2 seconds', maximumInterval: '10 seconds', maximumAttempts: 3 },
              summary: `approval re-check of wave ${wave.name}: ${batch.length} gate(s)`,
              ...clusterQueueOption({ taskQueue }),
            },
            [
              {
                phase: 'soak',
                items: itemsOf(m, batch),
                untilMs: 0,
                requiredSuccesses: 1,
                concurrency: SOAK_PAIRS_AT_ONCE,
              },
            ],
          )
          .then((r) => r.failures.map((f) => ({ cluster: (batch[f.index] as SoakPair).cluster, result: f.result }))),
      ),
    );
    failures = answers.flat();
  } catch (err) {
    return `wave "${wave.name}" could not be re-checked before promotion: ${describeFailure(err)}`;
  }
  const first = failures[0];
  if (!first) return '';
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
  return `wave "${wave.name}" is not green: gate ${first.result.gate} on ${first.cluster} ${first.result.outcome}: ${first.result.message}${more}`;
}

/**
 * A cluster × gate pair of a soak or a watch. A wave-scope gate has one pair per wave: `cluster`
 * is then the wave's label (no cluster of the fleet), and `clusters` the wave's upgraded ones.
 */
interface SoakPair {
  cluster: string;
  gate: HealthGateSpec;
  wave?: { name: string; clusters: string[] };
}

function soakGatesOf(m: CampaignMachine): HealthGateSpec[] {
  return m.spec.healthGates.filter((g) => g.phases.includes('soak'));
}

/**
 * Every upgraded cluster of window `index` × every cluster-scope gate, in plan order (rollbacks
 * requested left out), then one pair per wave-scope gate over those clusters. Inputs from before
 * wave gates existed have no scope: every gate is a cluster gate, and the pairs are as they were.
 */
function pairsOf(m: CampaignMachine, index: number, gates: readonly HealthGateSpec[]): SoakPair[] {
  const pairs: SoakPair[] = [];
  const clusters: string[] = [];
  const clusterGates = gates.filter((g) => g.scope !== 'wave');
  for (const c of m.windowClusters(index)) {
    if (c.state !== 'upgraded' || c.rollback) continue;
    clusters.push(c.name);
    for (const gate of clusterGates) pairs.push({ cluster: c.name, gate: gate as HealthGateSpec });
  }
  const wave = m.view.waves[index]?.name ?? String(index);
  if (clusters.length > 0) {
    for (const gate of gates.filter((g) => g.scope === 'wave')) {
      pairs.push({ cluster: `wave ${wave}`, gate: gate as HealthGateSpec, wave: { name: wave, clusters } });
    }
  }
  return pairs;
}

/**
 * The pairs in batches, each on the task queue of its clusters (campaign/gate-queues.ts), so a gate
 * is read from inside the cluster's network. Asked only when a pair has a queue of its own: a
 * campaign without queues carries no marker and keeps its batches, all on the campaign's queue.
 */
function gateBatchesOf(m: CampaignMachine, pairs: SoakPair[]): GateBatch<SoakPair>[] {
  const queueOf = (pair: SoakPair): string | undefined =>
    pair.wave ? sharedQueue(pair.wave.clusters.map((c) => m.member(c).taskQueue)) : m.member(pair.cluster).taskQueue;
  const routed = pairs.some((p) => queueOf(p) !== undefined) && patched(GATES_ON_CLUSTER_QUEUES_PATCH);
  // Not routed: one group in the original order, all on the campaign's queue.
  return batchesByQueue(pairs, routed ? queueOf : () => undefined, SOAK_BATCH_PAIRS);
}

/** The times of a cluster's upgrade, for a gate that compares with the cluster's baseline. */
function changeTimesOf(m: CampaignMachine, cluster: string): GateContext {
  const c = m.cluster(cluster);
  const context: GateContext = {};
  if (c?.startedAt) context.changedAtMs = Date.parse(c.startedAt);
  if (c?.endedAt) context.changeEndedAtMs = Date.parse(c.endedAt);
  return context;
}

function itemsOf(
  m: CampaignMachine,
  batch: readonly SoakPair[],
): { cluster: ClusterRef; gate: HealthGateSpec; context?: GateContext }[] {
  return batch.map((pair) => {
    if (pair.wave) {
      // A wave gate is measured once for the wave, through the first cluster's region and account.
      const first = m.member(pair.wave.clusters[0] as string);
      const cluster: ClusterRef = { name: pair.cluster, region: first.region, account: first.account };
      const times = pair.wave.clusters.map((name) => changeTimesOf(m, name));
      const starts = times.flatMap((t) => (t.changedAtMs !== undefined ? [t.changedAtMs] : []));
      const ends = times.flatMap((t) => (t.changeEndedAtMs !== undefined ? [t.changeEndedAtMs] : []));
      const context: GateContext = { wave: pair.wave.name, clusters: pair.wave.clusters };
      // The wave's baseline ends at its first change; its current window starts after its last.
      if (starts.length > 0) context.changedAtMs = Math.min(...starts);
      if (ends.length > 0) context.changeEndedAtMs = Math.max(...ends);
      const cohort = pair.gate.compare?.cohort;
      if (cohort) {
        const labelled = (name: string) => ({ name, labels: m.member(name).labels });
        const candidates = m.view.clusters.filter((c) => c.state === 'pending').map((c) => labelled(c.name));
        const selected = selectCohort(pair.wave.clusters.map(labelled), candidates, cohort.labels);
        if ('clusters' in selected) context.cohort = selected.clusters;
        else context.cohortRefused = selected.refused;
      }
      return { cluster, gate: pair.gate, context };
    }
    const member = m.member(pair.cluster);
    const cluster: ClusterRef = { name: member.name, region: member.region, account: member.account };
    if (member.roleArn) cluster.roleArn = member.roleArn;
    if (!pair.gate.compare) return { cluster, gate: pair.gate };
    return { cluster, gate: pair.gate, context: changeTimesOf(m, pair.cluster) };
  });
}

/**
 * Checks a pause, resume or abort signal and applies it, or records the refusal in the audit
 * trail (a signal has nobody to answer). The state's refusal and `apply` run in one step, with no
 * await between them, so no other handler changes the state in between.
 */
async function admitOperatorSignal(
  m: CampaignMachine,
  action: 'pause' | 'resume' | 'abort',
  op: OperatorInput | undefined,
  apply: (proof: ActionProof) => void,
): Promise<void> {
  const shape = operatorShapeProblem(op, false);
  if (shape) {
    m.recordRefusedAction(action, op, shape, Date.now());
    return;
  }
  const check = await checkAction(m, {
    action,
    actor: op?.by || 'unknown',
    ...(op?.reason !== undefined ? { comment: op.reason } : {}),
    ...(op?.signed ? { signed: op.signed } : {}),
  });
  const refusal = check.ok ? m.operatorRefusal(action) : check.reason;
  if (refusal || !check.ok) {
    m.recordRefusedAction(action, op, refusal ?? 'refused', Date.now(), check.proof);
    return;
  }
  if (check.use) m.markClaimUsed(check.use.key, check.use.expiresAt, Date.now());
  apply(check.proof);
}

/**
 * Checks a skip or retry Update and applies it, or records the refusal in the audit trail and
 * throws it to the caller. The state's refusal and `apply` run in one step.
 */
async function admitClusterAction(
  m: CampaignMachine,
  action: 'skip' | 'retry',
  input: ClusterActionInput,
  failureType: string,
  apply: (proof: ActionProof) => ClusterStatus,
): Promise<ClusterStatus> {
  const check = await checkAction(m, {
    action,
    actor: input.by,
    cluster: input.cluster,
    ...(input.reason !== undefined ? { comment: input.reason } : {}),
    ...(input.signed ? { signed: input.signed } : {}),
  });
  const refusal = check.ok ? (action === 'skip' ? m.skipRefusal(input) : m.retryRefusal(input)) : check.reason;
  if (refusal || !check.ok) {
    const reason = refusal ?? 'refused';
    m.recordRefusedAction(action, input, reason, Date.now(), check.proof);
    throw ApplicationFailure.nonRetryable(reason, failureType);
  }
  if (check.use) m.markClaimUsed(check.use.key, check.use.expiresAt, Date.now());
  return apply(check.proof);
}

/** The wave (and cluster, if any) of a rollback request are names, or why not. */
function waveShapeProblem(input: RollbackWaveInput | undefined): string | undefined {
  if (!input || typeof input.wave !== 'string' || !input.wave.trim()) return 'wave: a rollback needs the wave to undo';
  if (input.wave.length > 253) return 'wave: at most 253 characters';
  if (
    input.cluster !== undefined &&
    (typeof input.cluster !== 'string' || !input.cluster.trim() || input.cluster.length > 253)
  )
    return 'cluster: a non-empty name of at most 253 characters';
  return undefined;
}

/**
 * Checks a wave rollback (shape, fleet policy, signed claim for this wave and cluster, the
 * campaign's own rules), requests it and starts the rollback-only runs; or records the refusal in
 * the audit trail and returns its reason. Update and Signal alike.
 */
async function admitWaveRollback(
  m: CampaignMachine,
  input: RollbackWaveInput,
  rollbacks: RollbackStarter,
): Promise<RollbackWaveResult | string> {
  const refuse = (reason: string, proof?: ActionProof): string => {
    m.recordRefusedAction('rollback', input, reason, Date.now(), proof);
    return reason;
  };
  const shape = operatorShapeProblem(input, false) ?? waveShapeProblem(input);
  if (shape) return refuse(shape);
  let proof: ActionProof | undefined;
  if (signedActionsEnabled()) {
    const check = await checkAction(m, {
      action: 'rollback',
      actor: input.by,
      wave: input.wave,
      ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
      ...(input.reason !== undefined ? { comment: input.reason } : {}),
      ...(input.signed ? { signed: input.signed } : {}),
    });
    if (!check.ok) return refuse(check.reason, check.proof);
    const refusal = m.waveRollbackRefusal(input);
    if (refusal) return refuse(refusal, check.proof);
    if (check.use) m.markClaimUsed(check.use.key, check.use.expiresAt, Date.now());
    proof = check.proof;
  } else {
    const refusal = m.waveRollbackRefusal(input);
    if (refusal) return refuse(refusal);
  }
  const result = m.requestWaveRollback(input, Date.now(), proof);
  await rollbacks.start?.();
  return result;
}

/** A timer that wakes the main loop; one at a time, re-armed only for an earlier wake. */
interface WakeTimer {
  at: number;
  fired: boolean;
  scope: CancellationScope;
}

/** The side-effecting half of the campaign: one instance per run. */
class CampaignRun {
  private wake?: WakeTimer;
  private soakScope?: CancellationScope;
  /** Promoted waves this run watches (spec.watchAfterPromotion), by index. */
  private readonly watchedWaves = new Map<number, CancellationScope>();
  /** Children this run started, by cluster: their attempt and when their handle settles. */
  private readonly children = new Map<string, { attempt: number; settled: Promise<void> }>();
  private readonly notifier: CampaignNotifier;

  constructor(
    private readonly m: CampaignMachine,
    private readonly input: CampaignWorkflowInput,
    private readonly plan: CampaignSetup | undefined,
  ) {
    this.notifier = new CampaignNotifier(m, input.campaign.spec);
  }

  async run(): Promise<CampaignResult> {
    this.watchHandedOverChildren();
    this.watchPromotedWaves();
    await learnApprovalPolicy(this.m);
    while (this.m.phase !== 'done') {
      if (this.m.phase === 'planning') await this.resolveVersions();
      else if (this.m.aborting) await this.finishAbort();
      else if (this.m.phase === 'window') await this.runWindow();
      else if (this.m.phase === 'soak') await this.runSoak();
      else if (this.m.phase === 'approval') await this.runApproval();
      // The phase getter is re-read here: the awaited step may have moved it (TS narrows it otherwise).
      if ((this.m.phase as string) !== 'done' && this.continueAsNewSuggested()) await this.continueAsNew();
    }
    // A promoted wave's rollback still running: the campaign ends after it (no command while none runs).
    if (this.m.promotedRollbacksPending()) {
      this.publish();
      await condition(() => !this.m.promotedRollbacksPending());
    }
    const result = this.m.complete(Date.now());
    this.publish(true);
    await this.notifier.started();
    await condition(allHandlersFinished);
    return result;
  }

  /**
   * Workflow time for pacing, never earlier than the end of the version resolution. During a
   * workflow task the clock stands at the task's start, and the resolution (a local activity)
   * runs inside the first task; the starts that task issues go out after it. Counted from the
   * task's start, the rate limit would let the next starts come early by the resolution's run
   * time. Later tasks start after it, so this is Date.now() from then on.
   */
  private now(): number {
    const pinned = this.m.view.pinned;
    const resolvedAt = pinned ? Date.parse(pinned.resolvedAt) : NaN;
    return Number.isFinite(resolvedAt) ? Math.max(Date.now(), resolvedAt) : Date.now();
  }

  // -------------------------------------------------------------------------------------
  // Planning

  /** Pins versions once for the whole campaign; retries reuse them. */
  private async resolveVersions(): Promise<void> {
    const m = this.m;
    const request = this.plan ? pinRequest(m.campaign, this.plan.placed, this.plan.paths) : undefined;
    this.publish(true);
    if (request && !m.aborting) {
      // An abort while the versions resolve (an unreachable EKS retries for minutes) ends the
      // campaign at once: nothing has started yet.
      const scope = new CancellationScope();
      const resolving = scope.run(() => resolveTargetVersions(request));
      await Promise.race([
        resolving.then(
          () => undefined,
          () => undefined,
        ),
        condition(() => m.aborting),
      ]);
      if (m.aborting) {
        scope.cancel();
        await resolving.catch(() => undefined);
      } else {
        try {
          m.pinVersions(await resolving);
        } catch (err) {
          m.fail(`could not resolve target versions: ${describeFailure(err)}`, Date.now());
          m.finish();
          return;
        }
      }
    }
    if (m.aborting) {
      m.finish();
      return;
    }
    const rate = rateLimitOf(m.spec.pacing);
    m.beginWaves(rate ? createBucket(rate, this.now()) : undefined);
  }

  // -------------------------------------------------------------------------------------
  // Window: the sliding window of cluster upgrades

  private async runWindow(): Promise<void> {
    const m = this.m;
    const index = m.view.currentWave;
    const wave = m.currentWave;
    if (!wave) {
      m.finish();
      return;
    }
    m.startWave(Date.now());
    for (;;) {
      if (m.aborting) return;
      m.applyBudgetPolicy(index, Date.now());
      // Before resuming children the operator held, look whether a freeze began meanwhile: they
      // would resume only to hold again, and might start a step in between.
      if (m.resumesPending()) await this.admitByFleetControl([]);
      await this.sendPendingSignals();
      let wake: { at?: number; why: string } = { why: 'next start check' };
      if (!m.paused && !m.aborting) wake = await this.startClusters(index);
      if (m.aborting) return;
      if (m.windowDone(index) && !m.paused) {
        m.endWindow(Date.now());
        return;
      }
      if (this.continueAsNewSuggested()) return;
      this.publish();
      await this.waitForChange(wake.at, `wave ${wave.name}: ${wake.why}`);
    }
  }

  /**
   * Starts what may start now: clusters whose leases were all granted, then new picks under
   * maxParallel, maxInFlight, caps, windows and the rate limit. Returns when a timer should
   * look again (a token refills or a window opens), if ever, and why (the timer's summary).
   */
  private async startClusters(index: number): Promise<{ at?: number; why: string }> {
    const m = this.m;
    const now = this.now();
    const wave = m.view.waves[index] as WaveView;
    const waveSpec = m.waveSpec(index);
    const toStart: ClusterView[] = [];
    const leaseRequests: Promise<void>[] = [];

    for (const c of m.windowClusters(index)) {
      if (c.reserved && c.leases && Object.values(c.leases).every((l) => l === 'granted')) toStart.push(c);
    }

    const occupying = m.occupying();
    const candidates = m
      .windowClusters(index)
      .filter((c) => (c.state === 'pending' || c.state === 'waiting') && !c.reserved);
    const windows = m.spec.maintenanceWindows;
    // Percentages: of the wave's clusters (maxParallel) and of the campaign's (caps); rounded down, at least 1.
    const selected = m.view.waves.reduce((n, w) => n + w.size, 0);
    const caps = resolveCaps(m.spec.pacing.caps, selected);
    const pick = pickNextClusters({
      pending: startOrder(
        candidates.map((c) => m.member(c.name)),
        (member) => m.cluster(member.name)?.estimateMs ?? 0,
        caps,
      ),
      inFlight: occupying.map((c) => m.member(c.name)),
      inFlightInWave: occupying.filter((c) => c.window === index).length,
      maxParallel: resolveCountOrPercent(waveSpec.maxParallel, wave.size),
      maxInFlight: Math.min(m.spec.pacing.maxInFlight, MAX_CHILDREN_IN_FLIGHT),
      caps,
      bucket: m.view.bucket,
      nowMs: now,
      windowCheck:
        windows.length === 0
          ? undefined
          : (member) => checkWindow(windowsFor(member, windows), now, m.cluster(member.name)?.estimateMs ?? 0),
    });
    m.updateRateLimit(pick.bucket);

    const waits = new Map(pick.waiting.map((w) => [w.cluster, w]));
    for (const c of candidates) {
      const wait = waits.get(c.name);
      if (wait === undefined) continue;
      // Waiting for a free slot is an ordinary queue position; a window, cap or rate limit is worth showing.
      m.markQueued(c.name, wait);
    }

    for (const name of pick.start) {
      const c = m.cluster(name) as ClusterView;
      const leases = this.sharedLeasesFor(m.member(name));
      if (leases.length === 0) {
        toStart.push(c);
        continue;
      }
      m.reserveForLeases(
        name,
        leases.map((l) => l.leaseId),
      );
      for (const lease of leases) leaseRequests.push(this.requestClusterLease(c, lease));
    }

    // A lease grant, a child's end or a signal that arrives while the starts and requests are
    // awaited has already counted its change: look again now rather than wait for the next one.
    const before = m.changes;
    const admitted = await this.admitByFleetControl(toStart);
    const starting = [...admitted.start.map((c) => this.startCluster(c, wave)), ...leaseRequests];
    await Promise.all(starting);
    if (this.changedWhileAwaiting(before)) return { at: now, why: 'a change while starting clusters' };
    if (admitted.held) {
      const at = pick.wakeAtMs === undefined ? admitted.retryAtMs : Math.min(pick.wakeAtMs, admitted.retryAtMs);
      return { at, why: admitted.held };
    }
    const kinds = new Set(pick.waiting.map((w) => w.kind));
    const why = [kinds.has('window') ? 'maintenance window' : '', kinds.has('rate-limit') ? 'rate limit' : '']
      .filter(Boolean)
      .join(' / ');
    // Set only by runs with the freeze-hold patch: the next freeze's start while upgrades are in flight.
    const freezeAt = m.freezeWakeAt(Date.now());
    if (freezeAt !== undefined && (pick.wakeAtMs === undefined || freezeAt < pick.wakeAtMs)) {
      return { at: freezeAt, why: 'the next freeze' };
    }
    return { at: pick.wakeAtMs, why: `waiting for ${why || 'a free slot'}` };
  }

  /**
   * Asks the fleet control (the `fleet=*` lease: change calendar and fleet-wide pace) how many of
   * the clusters about to start may start now; the first ones in `toStart` go, the rest wait
   * (a picked cluster back in the queue, a cluster holding its granted leases keeps them). Inside
   * a freeze none starts; a refused campaign is signalled when the freeze is lifted, and
   * otherwise asks again when the freeze (or the token) is due. An unreachable fleet control
   * starts nothing: starting blind could start inside a freeze.
   * With nothing to start, a campaign with upgrades in flight still asks (`want: 0`) when a freeze
   * may have begun or ended (`freezeCheckDue`), so a freeze holds them too (`followFreeze`).
   * Histories from before the patches never asked.
   */
  private async admitByFleetControl(
    toStart: ClusterView[],
  ): Promise<{ start: ClusterView[]; held?: string; retryAtMs: number }> {
    const m = this.m;
    if (toStart.length === 0) {
      // Only runs that took the freeze-hold patch (at a signal or an answer: see followFreeze) get here.
      if (!m.freezeCheckDue(Date.now())) return { start: toStart, retryAtMs: 0 };
    } else if (!patched(FLEET_CONTROL_PATCH)) return { start: toStart, retryAtMs: 0 };
    // No fleet control ran at the last ask: nothing to honour until fleetControlChanged says otherwise.
    if (m.fleetControlAbsent) return { start: toStart, retryAtMs: 0 };
    let granted: number;
    let reason: string | undefined;
    let retryAtMs: number;
    let answer: TakeStartsResult | undefined;
    m.markFleetControlAsked();
    try {
      answer = await takeFleetStarts({
        requesterWorkflowId: campaignWorkflowId(m.name),
        want: toStart.length,
        clusters: toStart.map((c) => c.name),
      });
      granted = Math.max(0, Math.min(toStart.length, answer.granted));
      if (answer.absent) m.markFleetControlAbsent();
      reason = answer.reason;
      retryAtMs = answer.retryAtMs ?? Date.now() + FLEET_CONTROL_RETRY_MS;
    } catch (err) {
      granted = 0;
      reason = `fleet control unreachable: ${describeFailure(err)}`;
      retryAtMs = Date.now() + FLEET_CONTROL_RETRY_MS;
    }
    const admitted = this.applyFleetAnswer(toStart, granted, reason, retryAtMs, answer);
    // After the hold is recorded, so the audit trail reads: frozen, then the children held.
    if (answer) await this.followFreeze(answer);
    return admitted;
  }

  /** What an answer (or its failure) means for the clusters about to start and for status. */
  private applyFleetAnswer(
    toStart: ClusterView[],
    granted: number,
    reason: string | undefined,
    retryAtMs: number,
    answer: TakeStartsResult | undefined,
  ): { start: ClusterView[]; held?: string; retryAtMs: number } {
    const m = this.m;
    if (toStart.length === 0) {
      // A look for the upgrades in flight: only a freeze has something to say here.
      if (answer?.frozen) {
        m.setFleetHold(answer.frozen.text, Date.now());
        return { start: toStart, held: answer.frozen.text, retryAtMs: answer.frozen.untilMs };
      }
      if (answer && m.view.fleetHold?.startsWith('frozen')) m.setFleetHold(undefined, Date.now());
      return { start: toStart, retryAtMs: 0 };
    }
    if (granted === toStart.length) {
      if (m.view.fleetHold !== undefined) m.setFleetHold(undefined, Date.now());
      return { start: toStart, retryAtMs };
    }
    const held = reason ?? 'fleet control: no start granted';
    m.setFleetHold(held, Date.now());
    for (const c of toStart.slice(granted)) {
      if (c.reserved) m.holdReserved(c.name, held);
      else m.markQueued(c.name, { kind: held.startsWith('frozen') ? 'frozen' : 'fleet-rate-limit', reason: held });
    }
    return { start: toStart.slice(0, granted), held, retryAtMs };
  }

  /**
   * Holds the upgrades in flight while a freeze is in force and resumes them when it ends, with the
   * pause an operator's pause sends (each child finishes the step it is in and waits at its next
   * safe point; a rollback is never held). An operator pause outlasts the freeze: takePendingSignals
   * keeps those children held until the operator resumes. Asked only when an answer names a freeze
   * (in force or coming) or one is recorded, so histories without freezes carry no marker; older
   * histories let in-flight upgrades run through a freeze.
   */
  private async followFreeze(answer: TakeStartsResult): Promise<void> {
    const m = this.m;
    const matters = answer.frozen !== undefined || answer.nextFreezeAtMs !== undefined || m.freeze !== undefined;
    if (!matters || !patched(FREEZE_HOLD_PATCH)) return;
    m.setFreeze(answer.frozen, answer.nextFreezeAtMs);
    await this.sendPendingSignals();
  }

  /** The fleet-wide caps (pacing.sharedCaps) that apply to a member. */
  private sharedLeasesFor(
    member: FleetMember,
  ): { leaseId: string; labelKey: string; labelValue: string; max: number }[] {
    const out: { leaseId: string; labelKey: string; labelValue: string; max: number }[] = [];
    for (const cap of this.m.spec.pacing.sharedCaps) {
      const value = member.labels[cap.labelKey];
      if (value === undefined) continue;
      out.push({ leaseId: fleetLeaseId(cap.labelKey, value), labelKey: cap.labelKey, labelValue: value, max: cap.max });
    }
    return out;
  }

  private async requestClusterLease(
    c: ClusterView,
    lease: { leaseId: string; labelKey: string; labelValue: string; max: number },
  ): Promise<void> {
    try {
      await requestLease.executeWithOptions(
        {
          startToCloseTimeout: '1 minute',
          retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
          summary: `lease ${lease.leaseId} for ${c.name}`,
        },
        [
          {
            requesterWorkflowId: campaignWorkflowId(this.m.name),
            // Tells this campaign's continue-as-new chain from a later campaign with the same name.
            requesterFirstRunId: workflowInfo().firstExecutionRunId,
            holder: c.name,
            max: lease.max,
            labelKey: lease.labelKey,
            labelValue: lease.labelValue,
          },
        ],
      );
    } catch (err) {
      this.m.leaseRequestFailed(c.name, lease.leaseId, describeFailure(err));
    }
  }

  /** Starts one cluster's child workflow; its completion event (or, after a hand-over, its signal) ends it. */
  private async startCluster(c: ClusterView, wave: WaveView): Promise<void> {
    const attempt = this.m.markClusterStarted(c.name, wave.name, Date.now());
    await this.startChildRun(c, wave, attempt);
  }

  /** Starts a child run of the cluster: an upgrade, or with `rollbackOnly` the undo of an earlier upgraded run. */
  private async startChildRun(
    c: ClusterView,
    wave: WaveView,
    attempt: number,
    rollbackOnly?: ClusterUpgradeInput['rollbackOnly'],
  ): Promise<void> {
    const m = this.m;
    const now = Date.now();
    const member = m.member(c.name);
    const target = m.spec.target.kubernetesVersion;
    const cluster = this.clusterRef(member.name);
    const childInput: ClusterUpgradeInput = {
      campaign: m.name,
      cluster,
      pinned: m.view.pinned ?? { nodegroupRelease: {}, addons: {}, resolvedAt: iso(now) },
      spec: {
        healthGates: m.spec.healthGates,
        kubernetesChecks: m.spec.kubernetesChecks,
        rollback: m.spec.rollback,
        nodegroups: m.spec.nodegroups,
        bake: m.spec.bake,
        target: m.spec.target,
        ...(m.spec.nodes ? { nodes: m.spec.nodes } : {}),
      },
      attempt,
      parentCampaignId: campaignWorkflowId(m.name),
      ...(rollbackOnly ? { rollbackOnly } : {}),
    };
    if (target) childInput.targetVersion = target;
    try {
      const handle = await startChild<typeof clusterUpgradeWorkflow>(CHILD_WORKFLOW_TYPE, {
        workflowId: clusterUpgradeWorkflowId(c.name),
        args: [childInput],
        // ABANDON: see the file header (parent-close policies also fire at continue-as-new).
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        // The worker inside the cluster's network runs the child, so its activities (local ones
        // too) reach a private endpoint. A member without a queue (every member of campaigns
        // started before queues existed) inherits the campaign's, as before: the command is unchanged.
        ...clusterQueueOption(member),
        staticSummary: rollbackOnly
          ? `${c.name}: rollback after a failed soak gate · campaign ${m.name} · wave ${wave.name} · attempt ${attempt}`
          : `${c.name} → ${target ?? 'patch'} · campaign ${m.name} · wave ${wave.name} · attempt ${attempt}`,
        typedSearchAttributes: [
          { key: CampaignNameKey, value: m.name },
          { key: ClusterNameKey, value: c.name },
          ...(target ? [{ key: TargetVersionKey, value: target }] : []),
        ],
      });
      m.childRunStarted(c.name, attempt, handle.firstExecutionRunId);
      // This run learns the end from the child's completion event; only a child still running
      // when the campaign continues as new is asked to report by signal (handOverChildren).
      const settled = handle.result().then(
        (result) => {
          m.onFinished({ cluster: c.name, attempt, result }, Date.now());
        },
        async (err: unknown) => {
          const released = await this.releaseHoldsOfTerminated(cluster, err);
          m.onFinished(
            {
              cluster: c.name,
              attempt,
              result: failedResult(
                c.name,
                `cluster-upgrade workflow ended without a result: ${describeFailure(err)}${released}`,
              ),
            },
            Date.now(),
          );
        },
      );
      this.children.set(c.name, { attempt, settled });
    } catch (err) {
      const blocked = err instanceof WorkflowExecutionAlreadyStartedError;
      m.markStartFailed(
        c.name,
        attempt,
        // A cluster whose soak gate failed was changed: not rolled back, it is failed whatever stopped the start.
        blocked && !rollbackOnly ? 'blocked' : 'failed',
        `${rollbackOnly ? `${rollbackOnly.reason}; rollback not started: ` : ''}${
          blocked
            ? `being upgraded by another campaign (${clusterUpgradeWorkflowId(c.name)} is running)`
            : `could not start ${clusterUpgradeWorkflowId(c.name)}: ${describeFailure(err)}`
        }`,
        wave.name,
        Date.now(),
      );
    }
  }

  /**
   * A cluster upgrade that was terminated ran no cleanup: NodePools it held during a control-plane
   * bake stay held (until the hold's own schedule ends). Only campaigns with a control-plane bake
   * hold anything, so only they ask the patch, and only for a terminated child: other histories
   * carry no marker. `err` is the child's failure; absent when the watch of handed-over children
   * saw it terminated. Returns what to add to the cluster's reason.
   */
  private async releaseHoldsOfTerminated(cluster: ClusterRef, err?: unknown): Promise<string> {
    const terminated =
      err === undefined || (err instanceof ChildWorkflowFailure && err.cause instanceof TerminatedFailure);
    if (!terminated || !this.m.spec.rollback.controlPlaneBake || !patched(RELEASE_HOLDS_OF_TERMINATED_PATCH)) return '';
    try {
      const { released } = await CancellationScope.nonCancellable(() =>
        releaseNodePoolHolds.executeWithOptions(
          // The NodePools are in the cluster: the worker of its network releases them.
          { summary: `release NodePool holds of ${cluster.name}`, ...clusterQueueOption(this.m.member(cluster.name)) },
          [{ cluster, workflowId: clusterUpgradeWorkflowId(cluster.name) }],
        ),
      );
      return released.length > 0 ? `; NodePool holds released: ${released.join(', ')}` : '';
    } catch (releaseErr) {
      return `; NodePool holds may remain (${describeFailure(releaseErr)}): run \`fleetwave release-holds --cluster ${cluster.name}\``;
    }
  }

  /** Where a fleet member lives and how to reach it. */
  private clusterRef(name: string): ClusterRef {
    const member = this.m.member(name);
    const cluster: ClusterRef = { name: member.name, region: member.region, account: member.account };
    if (member.roleArn) cluster.roleArn = member.roleArn;
    return cluster;
  }

  /** Lease releases and pause/resume/abort signals the state asks for. */
  private async sendPendingSignals(): Promise<void> {
    const m = this.m;
    const requester = campaignWorkflowId(m.name);
    const sends = m.takePendingSignals(Date.now()).map((p: PendingSignal) => {
      if (p.kind === 'release-lease') {
        const eq = p.leaseId.indexOf('=');
        const handle = getExternalWorkflowHandle(fleetLeaseWorkflowId(p.leaseId.slice(0, eq), p.leaseId.slice(eq + 1)));
        return ignoreGone(handle.signal(releaseLeaseSignal, { requesterWorkflowId: requester, holder: p.cluster }));
      }
      const child = getExternalWorkflowHandle(clusterUpgradeWorkflowId(p.cluster), p.runId);
      if (p.kind === 'abort-child') {
        return ignoreGone(child.signal(clusterAbortSignal, { by: 'campaign abort', reason: m.view.abortedReason }));
      }
      return ignoreGone(child.signal(p.kind === 'pause-child' ? clusterPauseSignal : clusterResumeSignal));
    });
    await Promise.all(sends);
  }

  // -------------------------------------------------------------------------------------
  // Soak

  private async runSoak(): Promise<void> {
    const m = this.m;
    const wave = m.currentWave as WaveView;
    if (soakGatesOf(m).length > 0 && patched(SOAK_WATCH_PATCH)) return this.runWatchedSoak(wave);
    const soakMs = durationToMs(m.waveSpec(wave.index).soak);
    m.beginSoak(soakMs, Date.now());
    const pairs = this.soakPairs(wave);
    let poolDone = (wave.soakCursor ?? 0) >= pairs.length;
    if (!poolDone) {
      const scope = new CancellationScope();
      this.soakScope = scope;
      void scope
        .run(() => this.evaluateSoakGates(wave, pairs))
        .then(
          () => undefined,
          (err: unknown) => {
            if (!isCancellation(err)) throw err;
          },
        )
        .finally(() => {
          poolDone = true;
          m.soakEvaluationsSettled();
        });
    }
    for (;;) {
      if (m.aborting) {
        this.soakScope?.cancel();
        return;
      }
      const before = m.changes;
      await this.sendPendingSignals();
      if (this.changedWhileAwaiting(before)) continue;
      const timeUp = Date.now() >= (wave.soakEndsAt ?? 0);
      if (poolDone && (wave.soakCursor ?? 0) < pairs.length) return; // stopped for continue-as-new
      if (poolDone && timeUp) break;
      this.publish();
      const until = wave.soakEndsAt ?? 0;
      await this.waitForChange(timeUp ? undefined : until, `soak wave ${wave.name} (${formatDuration(soakMs)})`);
    }
    this.soakScope = undefined;
    if (!m.windowDone(wave.index)) {
      m.reopenWindow();
      return;
    }
    m.endSoak(Date.now());
  }

  /**
   * The soak that watches (patch soak-watch): every soak-phase gate of every upgraded cluster of
   * the wave is measured every interval until the soak ends, one watchHealthGates activity per batch
   * of SOAK_BATCH_PAIRS pairs for the whole soak, all batches at once (a watch is mostly parked, so
   * they cost the worker little). A Failed gate sends its cluster through the wave's policy
   * (state.ts soakGateFailed): a rollback-only child, counted against the failure budget, whose
   * excess pauses or aborts as the wave says. The soak ends when its time is up, every watch has
   * returned and no rollback is still running. A continue-as-new stops the watches; the next run
   * watches again until the same end (the tallies start over). A soak whose time is up, with no
   * rollback running, ends before the run continues as new: its watches are at their last looks, so
   * the run waits for them (patch soak-over-before-continue). Older runs cancelled them and continued
   * first, and the next run took one more look at every pair of the wave after the soak's end; a run
   * told to continue as new whenever a watch returned never ended.
   */
  private async runWatchedSoak(wave: WaveView): Promise<void> {
    const m = this.m;
    const soakMs = durationToMs(m.waveSpec(wave.index).soak);
    m.beginSoak(soakMs, Date.now());
    const scope = new CancellationScope();
    this.soakScope = scope;
    let watching = 0;
    for (const batch of gateBatchesOf(m, pairsOf(m, wave.index, soakGatesOf(m)))) {
      watching++;
      void scope
        .run(() => this.watchSoakBatch(wave, batch))
        .then(
          () => undefined,
          (err: unknown) => {
            if (!isCancellation(err)) throw err;
          },
        )
        .finally(() => {
          watching--;
          m.soakEvaluationsSettled();
        });
    }
    for (;;) {
      if (m.aborting) {
        scope.cancel();
        return;
      }
      const before = m.changes;
      for (const c of m.rollbacksRequested(wave.index)) await this.startRollback(c, wave);
      m.applyBudgetPolicy(wave.index, Date.now());
      await this.sendPendingSignals();
      if (this.changedWhileAwaiting(before)) continue;
      if (m.aborting) continue;
      const timeUp = Date.now() >= (wave.soakEndsAt ?? 0);
      // Time up and nothing rolling back: each watch returns at its last look (a pair still short of its
      // passes in a row is looked at past the end, at its interval), so the soak ends without another run.
      const ending = timeUp && !m.rollbacksPending(wave.index);
      if (this.continueAsNewSuggested() && !(ending && patched(SOAK_OVER_BEFORE_CONTINUE_PATCH))) {
        scope.cancel();
        return;
      }
      if (ending && watching === 0) break;
      this.publish();
      const why = m.rollbacksPending(wave.index) ? ', rolling back' : '';
      await this.waitForChange(
        timeUp ? undefined : wave.soakEndsAt,
        `soak wave ${wave.name} (${formatDuration(soakMs)}), watching${why}`,
      );
    }
    this.soakScope = undefined;
    if (!m.windowDone(wave.index)) {
      m.reopenWindow();
      return;
    }
    m.endSoak(Date.now());
  }

  /**
   * Watches one batch until the soak ends. A watch returns at the first failure: those pairs are
   * decided (and a Failed cluster leaves the watch for its rollback), the rest are watched again
   * until the same end.
   */
  private async watchSoakBatch(wave: WaveView, { pairs, taskQueue }: GateBatch<SoakPair>): Promise<void> {
    const m = this.m;
    let left = pairs;
    while (left.length > 0) {
      const until = wave.soakEndsAt ?? 0;
      let answer: Awaited<ReturnType<FleetwaveActivities['watchHealthGates']>>;
      try {
        answer = await watchHealthGates.executeWithOptions(
          {
            // The soak's length plus slack: a watch that outlives its soak by an hour is lost.
            scheduleToCloseTimeout: Math.max(0, until - Date.now()) + 3_600_000,
            summary: `soak gates of wave ${wave.name}: ${left.length} checks on ${new Set(left.map((p) => p.cluster)).size} cluster(s)`,
            ...clusterQueueOption({ taskQueue }),
          },
          [{ phase: 'soak', items: itemsOf(m, left), untilMs: until, concurrency: SOAK_PAIRS_AT_ONCE }],
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        for (const pair of left) {
          m.soakGateFailed(
            wave.index,
            pair.cluster,
            gateErrorResult(pair.gate.name, 'soak', `watch failed: ${describeFailure(err)}`),
            Date.now(),
          );
        }
        return;
      }
      const now = Date.now();
      for (const f of answer.failures) m.soakGateFailed(wave.index, (left[f.index] as SoakPair).cluster, f.result, now);
      if (answer.ended) {
        for (const [i, result] of answer.results.entries()) {
          if (result.outcome === 'Successful')
            m.recordSoakResult(wave.index, (left[i] as SoakPair).cluster, result.gate, result);
        }
        return;
      }
      const decided = new Set(answer.failures.map((f) => f.index));
      const rolledBack = new Set(
        answer.failures.filter((f) => f.result.outcome === 'Failed').map((f) => (left[f.index] as SoakPair).cluster),
      );
      left = left.filter((p, i) => !decided.has(i) && !rolledBack.has(p.cluster));
    }
  }

  /** Starts the rollback-only child of an upgraded cluster whose soak gate failed (input.rollbackOnly). */
  private async startRollback(c: ClusterView, wave: WaveView): Promise<void> {
    const { attempt, reason, undo, controlPlane } = this.m.markRollbackStarted(c.name, wave.name, Date.now());
    await this.startChildRun(c, wave, attempt, { reason, undo, ...(controlPlane ? { controlPlane } : {}) });
  }

  /**
   * Starts the rollback-only runs of promoted waves' clusters that `fleetwave rollback` (or
   * spec.rollback.afterPromotion.mode auto) requested, from the handler that requested them or the
   * main loop, whichever comes first: each is marked running before its start is awaited.
   */
  async startPromotedRollbacks(): Promise<void> {
    for (const c of this.m.promotedRollbacksRequested()) {
      if (this.m.aborting) return;
      await this.startRollback(c, this.m.view.waves[c.window] as WaveView);
    }
  }

  // -------------------------------------------------------------------------------------
  // Watch after promotion

  /**
   * Watches every promoted wave whose spec.watchAfterPromotion has not run out, in the
   * background, with the soak-phase gates: one watchHealthGates activity per batch for the whole
   * watch. A Failed gate pauses the campaign and records the proposed rollback (state.ts
   * promotedWaveDegraded); no data or query errors are shown in status and the pairs are watched
   * again (a metrics outage must not stop a campaign whose current wave's gates still hold). The watch ends with the campaign: after the last wave nothing runs that
   * a pause could hold. A continue-as-new stops it; the next run watches again until the same end.
   */
  private watchPromotedWaves(): void {
    const m = this.m;
    const gates = soakGatesOf(m);
    if (gates.length === 0) return;
    for (const index of m.watchedWaves(Date.now())) {
      if (this.watchedWaves.has(index)) continue;
      const wave = m.view.waves[index] as WaveView;
      const scope = new CancellationScope();
      this.watchedWaves.set(index, scope);
      const batches = gateBatchesOf(m, pairsOf(m, index, gates));
      const watch = async ({ pairs: batch, taskQueue }: GateBatch<SoakPair>): Promise<void> => {
        for (;;) {
          const until = wave.watchUntil ?? 0;
          if (until <= Date.now()) return;
          const answer = await watchHealthGates.executeWithOptions(
            {
              scheduleToCloseTimeout: Math.max(0, until - Date.now()) + 3_600_000,
              summary: `watch of promoted wave ${wave.name}: ${batch.length} checks`,
              ...clusterQueueOption({ taskQueue }),
            },
            [{ phase: 'soak', items: itemsOf(m, batch), untilMs: until, concurrency: SOAK_PAIRS_AT_ONCE }],
          );
          // Only a failure during the watch counts: at its end the soak's last-looks rule does not apply.
          if (answer.ended) return;
          const failed = answer.failures.find((f) => f.result.outcome === 'Failed');
          if (failed) {
            m.promotedWaveDegraded(index, (batch[failed.index] as SoakPair).cluster, failed.result, Date.now());
            scope.cancel();
            // spec.rollback.afterPromotion.mode auto: the rollback it requested starts now.
            await CancellationScope.nonCancellable(() => this.startPromotedRollbacks());
            return;
          }
          // No data or query errors say nothing about the promoted clusters (the current wave's own
          // gates hold new starts on them): say the watch lost sight, and watch again with fresh tallies.
          const first = answer.failures[0];
          if (first) m.promotedWaveUnread(index, (batch[first.index] as SoakPair).cluster, first.result, Date.now());
        }
      };
      void scope
        .run(() => Promise.all(batches.map(watch)))
        .then(
          () => m.endWatch(index),
          (err: unknown) => {
            if (!isCancellation(err))
              log.warn('stopped watching a promoted wave', { wave: wave.name, error: describeFailure(err) });
          },
        );
    }
  }

  /** Every upgraded cluster of the wave × every soak-phase gate, in a stable order. */
  private soakPairs(wave: WaveView): { cluster: string; gate: HealthGateSpec }[] {
    const gates = this.m.spec.healthGates.filter((g) => g.phases.includes('soak'));
    if (gates.length === 0) return [];
    const pairs: { cluster: string; gate: HealthGateSpec }[] = [];
    for (const c of this.m.windowClusters(wave.index)) {
      if (c.state !== 'upgraded') continue;
      for (const gate of gates) pairs.push({ cluster: c.name, gate });
    }
    return pairs;
  }

  /**
   * Evaluates the pairs from the wave's cursor on, in batches of SOAK_BATCH_PAIRS (one
   * evaluateHealthGates activity each, SOAK_BATCHES_IN_FLIGHT at a time); stops early for
   * continue-as-new. One activity per batch instead of one per pair keeps the soak of a wave of
   * hundreds of clusters to a few history events.
   */
  private async evaluateSoakGates(wave: WaveView, pairs: { cluster: string; gate: HealthGateSpec }[]): Promise<void> {
    const running = new Set<Promise<void>>();
    for (;;) {
      while (
        running.size < SOAK_BATCHES_IN_FLIGHT &&
        (wave.soakCursor ?? 0) < pairs.length &&
        !this.continueAsNewSuggested() &&
        !this.m.aborting
      ) {
        const { from, to } = this.m.claimSoakEvaluations(pairs.length, SOAK_BATCH_PAIRS);
        const batch = pairs.slice(from, to);
        const p: Promise<void> = this.evaluateSoakBatch(wave, batch).finally(() => running.delete(p));
        running.add(p);
      }
      if (running.size === 0) return;
      await Promise.race(running);
    }
  }

  private async evaluateSoakBatch(wave: WaveView, batch: { cluster: string; gate: HealthGateSpec }[]): Promise<void> {
    const m = this.m;
    const items = batch.map((pair) => {
      const member = m.member(pair.cluster);
      const cluster: ClusterRef = { name: member.name, region: member.region, account: member.account };
      if (member.roleArn) cluster.roleArn = member.roleArn;
      return { cluster, gate: pair.gate };
    });
    // The worst case of one pair, times the rounds the batch needs at SOAK_PAIRS_AT_ONCE.
    const worstPairMs = Math.max(...batch.map((p) => gateWorstCaseMs(p.gate)));
    const rounds = Math.ceil(batch.length / SOAK_PAIRS_AT_ONCE);
    const clusters = new Set(batch.map((p) => p.cluster)).size;
    let results: GateResult[];
    try {
      ({ results } = await evaluateHealthGates.executeWithOptions(
        {
          startToCloseTimeout: worstPairMs * rounds + GATE_TIMEOUT_MARGIN_MS,
          heartbeatTimeout: '1 minute',
          retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
          summary: `soak gates of wave ${wave.name}: ${batch.length} checks on ${clusters} cluster(s)`,
        },
        [{ phase: 'soak', items, concurrency: SOAK_PAIRS_AT_ONCE }],
      ));
    } catch (err) {
      if (isCancellation(err)) throw err;
      results = batch.map((pair) =>
        gateErrorResult(pair.gate.name, 'soak', `evaluation failed: ${describeFailure(err)}`),
      );
    }
    for (const [i, pair] of batch.entries()) {
      const result = results[i];
      if (result) m.recordSoakResult(wave.index, pair.cluster, pair.gate.name, result);
    }
  }

  // -------------------------------------------------------------------------------------
  // Approval and promotion

  private async runApproval(): Promise<void> {
    const m = this.m;
    const wave = m.currentWave as WaveView;
    // A failed soak holds the wave in 'soaking' until a human resumes (resume clears soakFailure).
    while (m.promotion().step === 'hold-soak-failed') {
      if (m.aborting || this.continueAsNewSuggested()) return;
      this.publish();
      await this.waitForChange(undefined, `wave ${wave.name}: soak failed, waiting for resume`);
    }
    if (m.promotion().step === 'complete') {
      m.completeLastWave(Date.now());
      return;
    }
    if (m.promotion().approvalRequired) m.awaitApproval(Date.now());
    // With spec.approvers.expiresAfter, approvals that expired are dropped (and audited) at each
    // look, and a timer wakes the loop when the next one expires so status stays true.
    let nextExpiry = m.expireApprovals(Date.now());
    while (!m.aborting && m.promotion(wave.index, Date.now()).step !== 'promote') {
      if (this.continueAsNewSuggested()) return;
      const before = m.changes;
      await this.sendPendingSignals();
      this.publish();
      if (!this.changedWhileAwaiting(before)) {
        await this.waitForChange(nextExpiry, `wave ${wave.name}: waiting for ${m.paused ? 'resume' : 'approval'}`);
      }
      nextExpiry = m.expireApprovals(Date.now());
    }
    if (m.aborting) return;
    const watchMs = durationToMs((m.spec.watchAfterPromotion as string | undefined) ?? '0s');
    // Campaigns started before the field existed carry none: they are not watched.
    const watch = watchMs > 0 && soakGatesOf(m).length > 0 && patched(WATCH_AFTER_PROMOTION_PATCH);
    m.promote(Date.now(), watch ? watchMs : 0);
    this.watchPromotedWaves();
  }

  // -------------------------------------------------------------------------------------
  // Abort

  /** Tells in-flight children to stop, gives leases back, and waits until every child reported. */
  private async finishAbort(): Promise<void> {
    const m = this.m;
    this.soakScope?.cancel();
    m.markWaveAborted();
    for (;;) {
      await this.sendPendingSignals();
      if (m.inFlight().length === 0) break;
      if (this.continueAsNewSuggested()) return;
      this.publish();
      await this.waitForChange(undefined, `aborting: ${m.inFlight().length} cluster upgrade(s) stopping`);
    }
    m.finish();
  }

  // -------------------------------------------------------------------------------------
  // Waiting, continue-as-new, visibility

  /**
   * Waits until a handler changed the state or the wake time passed: one condition, no
   * polling. The timer is kept across calls while its time still serves, so a busy campaign
   * does not start and cancel a timer per event.
   */
  private async waitForChange(wakeAt: number | undefined, summary: string): Promise<void> {
    const seen = this.m.changes;
    const now = Date.now();
    if (wakeAt !== undefined && wakeAt > now && (!this.wake || this.wake.fired || this.wake.at > wakeAt)) {
      this.wake?.scope.cancel();
      const scope = new CancellationScope();
      const timer: WakeTimer = { at: wakeAt, fired: false, scope };
      this.wake = timer;
      void scope
        .run(() => sleep(wakeAt - now, { summary }))
        .then(
          () => {
            timer.fired = true;
          },
          (err: unknown) => {
            if (!isCancellation(err)) throw err;
          },
        );
    }
    const timer = this.wake;
    if (wakeAt !== undefined && wakeAt <= now) return;
    await condition(() => this.m.changes !== seen || (timer !== undefined && timer.fired));
    if (this.wake?.fired) this.wake = undefined;
  }

  /**
   * True when a handler changed the state while the loop awaited something of its own (a start,
   * a lease request, a signal it sent): the change is already counted, so `waitForChange` would
   * miss it and sleep until the next one. Older runs did (a lease granted during the request
   * could deadlock the wave), hence the patch; it is asked only when there was such a change, so
   * histories without one carry no marker.
   */
  private changedWhileAwaiting(before: number): boolean {
    return this.m.changes !== before && patched(WAKE_ON_CHANGE_WHILE_AWAITING_PATCH);
  }

  private continueAsNewSuggested(): boolean {
    return workflowInfo().continueAsNewSuggested;
  }

  /**
   * Children an earlier run handed over report by signal, which one that is terminated, times out
   * or fails never sends: one activity watches them all and this run marks such a child failed,
   * so the wave (and an abort) never waits for it for ever. Runs in the background.
   */
  private watchHandedOverChildren(): void {
    const m = this.m;
    const watch = async (): Promise<void> => {
      for (;;) {
        const carried = m.view.clusters.filter((c) => c.state === 'upgrading' && c.runId && !this.children.has(c.name));
        if (carried.length === 0) return;
        const { unreported, allEnded } = await awaitChildrenEnded.executeWithOptions(
          { summary: `watch ${carried.length} cluster upgrade(s) handed over by the previous run` },
          [
            {
              children: carried.map((c) => ({
                workflowId: clusterUpgradeWorkflowId(c.name),
                runId: c.runId as string,
              })),
            },
          ],
        );
        for (const u of unreported) {
          const c = carried.find((x) => clusterUpgradeWorkflowId(x.name) === u.workflowId && x.runId === u.runId);
          if (!c || c.state !== 'upgrading') continue;
          const how = u.status.toLowerCase().replace(/_/g, ' ');
          const released =
            u.status === 'TERMINATED' ? await this.releaseHoldsOfTerminated(this.clusterRef(c.name)) : '';
          m.onFinished(
            {
              cluster: c.name,
              attempt: c.attempt,
              result: failedResult(c.name, `cluster-upgrade workflow ${how} without reporting its result${released}`),
            },
            Date.now(),
          );
        }
        if (allEnded && unreported.length === 0) return;
      }
    };
    void watch().catch((err: unknown) => {
      if (!isCancellation(err))
        log.warn('stopped watching handed-over cluster upgrades', { error: describeFailure(err) });
    });
  }

  /**
   * Asks every child this run started that has not ended to report by signal from now on, and
   * waits until each request is delivered. A request that cannot be delivered means the child
   * ended: its completion event reaches this run (its parent, still open), so wait for that.
   * Children of earlier runs were asked by the run that started them.
   */
  private async handOverChildren(): Promise<void> {
    const m = this.m;
    const asks: Promise<void>[] = [];
    for (const c of m.view.clusters) {
      const child = this.children.get(c.name);
      if (!child || c.state !== 'upgrading' || c.attempt !== child.attempt || !c.runId) continue;
      const handle = getExternalWorkflowHandle(clusterUpgradeWorkflowId(c.name), c.runId);
      asks.push(handle.signal(reportBySignalSignal).catch(() => child.settled));
    }
    await Promise.all(asks);
  }

  /** Carries the whole state (in-flight children included: they were asked to report by signal) into a new run. */
  private async continueAsNew(): Promise<never> {
    const m = this.m;
    await this.handOverChildren();
    this.wake?.scope.cancel();
    m.handOver(Date.now(), workflowInfo().historyLength);
    this.publish(true);
    await this.notifier.started();
    await condition(allHandlersFinished);
    return continueAsNew<typeof campaignWorkflow>({
      campaign: this.input.campaign,
      fleet: m.fleet(),
      ...(this.input.startedBy !== undefined ? { startedBy: this.input.startedBy } : {}),
      continued: m.toCarried(),
    });
  }

  /**
   * Upserts the search attributes that changed. State, wave and approval changes go out at
   * once; the counters with every state change, otherwise at most every few seconds and once a
   * tenth of the clusters ended since the last time, so neither a wave of many clusters nor a
   * slow campaign costs one upsert per finished cluster.
   */
  private publish(force = false): void {
    const m = this.m;
    const now = Date.now();
    const state = m.campaignState();
    const totals = m.totals();
    const current: SearchAttributeUpdatePair[] = [
      { key: CampaignStateKey, value: state },
      { key: CurrentWaveKey, value: (m.phase !== 'planning' && m.currentWave?.name) || '' },
      { key: AwaitingApprovalKey, value: state === 'awaiting-approval' },
      { key: ClustersTotalKey, value: totals.total },
      { key: ClustersDoneKey, value: totals.done },
      { key: ClustersFailedKey, value: totals.failed },
    ];
    // Before the first upsert, what the campaign was started with (campaignStartAttributes): the
    // client sets every value the planning state has, so the first run upserts nothing until it moves.
    const published = { ...(m.view.publishedAttributes ?? startedWith(current.map((p) => p.key))) };
    const changed = current.filter((p) => published[p.key.name] !== p.value);
    const counters = new Set<string>([ClustersDoneKey.name, ClustersFailedKey.name]);
    const stateChanged = changed.some((p) => !counters.has(p.key.name));
    const ended = (v: unknown): number => (typeof v === 'number' ? v : 0);
    const advanced =
      totals.done + totals.failed - ended(published[ClustersDoneKey.name]) - ended(published[ClustersFailedKey.name]);
    const countsDue =
      force ||
      stateChanged ||
      (advanced >= Math.max(1, Math.ceil(totals.total / COUNTS_PUBLISH_STEPS)) &&
        now - (m.view.publishedCountsAt ?? 0) >= COUNTS_PUBLISH_INTERVAL_MS);
    const toSend = changed.filter((p) => !counters.has(p.key.name) || countsDue);
    if (toSend.length > 0) {
      upsertSearchAttributes(toSend);
      for (const p of toSend) published[p.key.name] = p.value as string | number | boolean;
      m.recordPublished(published, toSend.some((p) => counters.has(p.key.name)) ? now : undefined);
    }
    setCurrentDetails(renderDetails(m));
    this.notifier.send();
  }
}

/** These search attributes as the workflow was started with them. */
function startedWith(keys: readonly SearchAttributeUpdatePair['key'][]): Record<string, string | number | boolean> {
  const sa = workflowInfo().typedSearchAttributes;
  const out: Record<string, string | number | boolean> = {};
  for (const key of keys) {
    const value = sa.get(key);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key.name] = value;
  }
  return out;
}

/** A ClusterUpgradeResult for a child that ended without one. */
function failedResult(cluster: string, reason: string): ClusterUpgradeResult {
  return { cluster, outcome: 'failed', reason, steps: [], gates: [] };
}

/** Signals to workflows that may have closed in the meantime are best effort. */
function ignoreGone(p: Promise<void>): Promise<void> {
  return p.catch((err: unknown) => {
    log.warn('signal not delivered', { error: describeFailure(err) });
  });
}
