/**
 * The shared contract of fleetwave's workflows: task queue, workflow IDs, message
 * definitions (signals, updates, queries), inputs, results and status shapes.
 *
 * Imported by the workflows, the worker and the client. It must stay free of Node
 * built-ins and of anything with side effects.
 */
import type { Reversible } from './cluster-upgrade/rollback';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ClusterRef, GateResult, KubernetesChecks, PinnedVersions } from '../activities/types';
import type { FleetMember } from '../domain/fleet';
import type { FleetPace, Freeze, FreezeInput } from '../domain/freezes';
import type { Notification } from '../domain/notify';
import type { Campaign, NotifySink } from '../domain/spec';
import type { PolicySummary, SignedClaim } from '../domain/signed-actions';
import type { CarriedState } from './campaign/state';
import type * as registeredWorkflows from './index';

/** Default task queue of the worker; override with FLEETWAVE_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'fleetwave';

/** `campaign/<name>`: one running campaign per name. */
export const campaignWorkflowId = (name: string): string => `campaign/${name}`;

/** `cluster-upgrade/<cluster>`: the fleet-wide lock that keeps two campaigns off one cluster. */
export const clusterUpgradeWorkflowId = (cluster: string): string => `cluster-upgrade/${cluster}`;

/** `notify/<campaign>/<first run ID>/<audit sequence>`: one notification of a campaign, delivered on its own. */
export const notifyWorkflowId = (campaign: string, firstRunId: string, seq: number): string =>
  `notify/${campaign}/${firstRunId}/${seq}`;

/** `fleet-lease/<key>=<value>`: holder of a fleet-wide cap shared by concurrent campaigns. */
export const fleetLeaseWorkflowId = (labelKey: string, labelValue: string): string =>
  `fleet-lease/${labelKey}=${labelValue}`;

/** `doctor/<id>`: one run of `fleetwave doctor`. */
export const doctorWorkflowId = (id: string): string => `doctor/${id}`;

/** Input of the doctor's workflow: the clusters to check, each with the task queue of the worker that serves it. */
export interface ClusterAccessCheckInput {
  clusters: { cluster: ClusterRef; taskQueue?: string }[];
  /** How long a check may wait for a worker on its queue before the cluster is reported unserved. Default: "1 minute". */
  scheduleToStartTimeout?: string;
}

/**
 * Workflow type names: each is the name of a workflow function that workflows/index.ts exports
 * (the worker registers them under these names). Clients, activities and the campaign start
 * workflows by these names; `satisfies` fails the typecheck if one names no registered workflow.
 */
export const WorkflowTypes = {
  campaign: 'campaignWorkflow',
  clusterUpgrade: 'clusterUpgradeWorkflow',
  fleetLease: 'fleetLeaseWorkflow',
  clusterAccessCheck: 'clusterAccessCheckWorkflow',
  notify: 'notifyWorkflow',
} as const satisfies Record<string, keyof typeof registeredWorkflows>;

// ---------------------------------------------------------------------------------------
// Campaign workflow

export interface CampaignWorkflowInput {
  /** The validated campaign, every default filled in. */
  campaign: Campaign;
  /** The fleet at start (compact members; selection and waves are computed in the workflow). */
  fleet: FleetMember[];
  /** Who started it (for the audit trail). */
  startedBy?: string;
  /** Carried across continue-as-new; absent on the first run. */
  continued?: CampaignCarriedState;
}

/** The campaign's state carried across continue-as-new (workflows/campaign/state.ts owns its shape). */
export type CampaignCarriedState = CarriedState;

export type CampaignState =
  | 'planning'
  | 'running'
  | 'soaking'
  | 'awaiting-approval'
  | 'paused'
  /** Held by a fleet-wide freeze: nothing starts, and upgrades in flight hold at their next safe point. */
  | 'frozen'
  | 'completed'
  | 'completed-with-failures'
  | 'failed'
  | 'aborted';

export type WaveState =
  | 'pending'
  | 'running'
  | 'soaking'
  | 'awaiting-approval'
  | 'paused-budget-exceeded'
  | 'promoted'
  | 'completed'
  | 'aborted';

export type ClusterState =
  | 'pending'
  | 'waiting'
  | 'upgrading'
  | 'upgraded'
  | 'already-at-target'
  | 'rolled-back'
  | 'failed'
  | 'blocked'
  | 'skipped';

/** Cluster states that need nothing more from their wave's window (finished, one way or another). */
export const TERMINAL_CLUSTER_STATES: readonly ClusterState[] = [
  'upgraded',
  'already-at-target',
  'rolled-back',
  'failed',
  'blocked',
  'skipped',
];

export interface Approval {
  wave: string;
  approver: string;
  comment?: string;
  /** ISO time from the workflow clock. */
  at: string;
  via: 'update' | 'signal';
  /** True when a signature was verified against the fleet policy; false for a name-only approval. */
  signed?: boolean;
  /** `SHA256:…` fingerprint of the key that signed. */
  fingerprint?: string;
  /** When it stops counting (spec.approvers.expiresAfter), ISO time. */
  expiresAt?: string;
}

export interface AuditEntry {
  at: string;
  kind:
    | 'started'
    | 'wave-started'
    | 'cluster-started'
    | 'cluster-finished'
    | 'approval'
    | 'approval-refused'
    | 'approval-expired'
    | 'action-refused'
    | 'paused'
    | 'resumed'
    | 'aborted'
    | 'skipped'
    | 'retried'
    | 'budget-exceeded'
    | 'wave-completed'
    | 'promoted'
    | 'continued-as-new'
    | 'completed'
    | 'soak-failed'
    | 'watch-unread'
    | 'rollback-requested'
    | 'freeze-held'
    | 'freeze-lifted'
    | 'freeze-hold-children';
  by?: string;
  wave?: string;
  cluster?: string;
  detail?: string;
  /**
   * For approvals and operator actions: true when the fleet policy verified a signature, false
   * when it let the action pass by name only. Absent for the campaign's own entries.
   */
  signed?: boolean;
  /** `SHA256:…` fingerprint of the key whose signature was verified. */
  fingerprint?: string;
}

export interface ClusterStatus {
  name: string;
  wave: string;
  state: ClusterState;
  /** Current or last step (preflight, controlplane 1.30, addons, nodegroups, bake, rollback...). */
  step?: string;
  reason?: string;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  /** Why it is waiting: window closed, cap reached, rate limit... */
  waitingFor?: string;
  /** Set when a retry runs the cluster in a later wave's window than the one it was planned in. */
  runsInWave?: string;
  /** An upgrade in flight the campaign holds: `held by freeze f1: <reason> until <ISO>`, or `held by pause`. */
  held?: string;
}

/** A gate result as the campaign keeps it: tagged with the cluster it was measured on. */
export type ClusterGateResult = GateResult & { cluster?: string };

export interface WaveStatus {
  name: string;
  index: number;
  state: WaveState;
  total: number;
  counts: Record<ClusterState, number>;
  failureBudget: number;
  approvalsNeeded: number;
  approvals: Approval[];
  soakEndsAt?: string;
  /** Promoted and still watched by the soak-phase gates until then (spec.watchAfterPromotion). */
  watchedUntil?: string;
  /** A gate failed during the watch after promotion: what, and the rollback proposed. */
  watchFailure?: string;
  /** The watch after promotion could not read a gate (no data, query errors) and watches again. */
  watchWarning?: string;
  /** Last result per cluster/gate (bounded; successful ones are evicted first). */
  gates: ClusterGateResult[];
  /** Gate results evicted by the bound. */
  gatesDropped?: number;
  /** Failures a human accepted by resuming after the failure budget was exceeded. */
  acknowledgedFailures?: number;
}

export interface CampaignStatus {
  name: string;
  state: CampaignState;
  targetVersion?: string;
  currentWave?: string;
  pausedReason?: string;
  /** Why the fleet control lets no (or fewer) clusters start: `frozen: <reason> until <ISO>` or the fleet-wide rate limit. */
  fleetHold?: string;
  abortedReason?: string;
  waves: WaveStatus[];
  clusters: ClusterStatus[];
  pinned?: PinnedVersions;
  skippedAtPlan: { cluster: string; reason: string }[];
  audit: AuditEntry[];
  /** The runs so far (1 + continue-as-new count). */
  runs: number;
  /** Audit entries dropped because only the most recent ones are kept. */
  auditDropped?: number;
  /**
   * How the worker's fleet approval policy treats approvals and operator actions (asked at the
   * campaign's start, updated with every verdict). Absent for campaigns started before signed actions.
   */
  approvalPolicy?: PolicySummary;
  /** Sinks of spec.notify whose delivery failed after its retries; absent while none did. */
  notifySinks?: NotifySinkStatus[];
}

/** A notification sink that failed (status): failures so far and the last one. */
export interface NotifySinkStatus {
  sink: string;
  failures: number;
  lastEvent: string;
  lastError: string;
  /** ISO time from the campaign's clock when it learnt of the last failure. */
  lastAt: string;
}

export interface CampaignResult {
  name: string;
  state: Extract<CampaignState, 'completed' | 'completed-with-failures' | 'failed' | 'aborted'>;
  upgraded: string[];
  rolledBack: string[];
  failed: string[];
  skipped: string[];
  /** Clusters that could not start (preflight blockers, or another campaign upgrading them). */
  blocked?: string[];
  reason?: string;
}

export interface ApproveInput {
  wave: string;
  approver: string;
  comment?: string;
  /**
   * The approval signed with the approver's SSH key (domain/signed-actions.ts): what the worker's
   * fleet approval policy checks. Absent: a name-only approval, which only a policy that allows
   * them (or a worker without one) accepts.
   */
  signed?: SignedClaim;
}

export interface ApproveResult {
  wave: string;
  approvals: number;
  needed: number;
  /** True when this approval completed the quorum and the next wave will start. */
  promoted: boolean;
}

export interface OperatorInput {
  by: string;
  reason?: string;
  /** The action signed with the operator's SSH key, for actions the fleet policy wants signed. */
  signed?: SignedClaim;
}

export interface ClusterActionInput extends OperatorInput {
  cluster: string;
}

/** `fleetwave rollback NAME --wave W [--cluster C]`: undo a promoted wave, or one cluster of it. */
export interface RollbackWaveInput extends OperatorInput {
  wave: string;
  /** Only this cluster of the wave; absent: every upgraded cluster of the wave. */
  cluster?: string;
}

/** What a wave rollback does to one cluster, decided when it is accepted. */
export interface WaveRollbackPlan {
  cluster: string;
  /** True when its rollback-only run was requested (it starts at once). */
  started: boolean;
  /** The steps that are to go back, newest first (`nodegroup ng-1`, `addon vpc-cni`, `control-plane 1.31`). */
  goesBack: string[];
  /** What stays, and why (the control plane unless the spec opts in; steps EKS cannot undo). */
  stays: string[];
}

export interface RollbackWaveResult {
  wave: string;
  clusters: WaveRollbackPlan[];
}

/** Approve a wave's promotion; the caller learns at once if it was refused. */
export const approveWaveUpdate = defineUpdate<ApproveResult, [ApproveInput]>('approveWave');
/** Same approval as a Signal, for the Temporal UI and `temporal workflow signal`; refusals land in the audit trail. */
export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const pauseSignal = defineSignal<[OperatorInput]>('pause');
export const resumeSignal = defineSignal<[OperatorInput]>('resume');
export const abortSignal = defineSignal<[OperatorInput]>('abort');
/** Skip a pending or waiting cluster (or one that failed, to stop counting it as in need of attention). */
export const skipClusterUpdate = defineUpdate<ClusterStatus, [ClusterActionInput]>('skipCluster');
/** Retry a failed, rolled-back, blocked or skipped cluster with the same pinned versions. */
export const retryClusterUpdate = defineUpdate<ClusterStatus, [ClusterActionInput]>('retryCluster');
/**
 * Undo a promoted wave: rollback-only runs of its upgraded clusters (node groups and add-ons as
 * the rollback rules allow; the control plane by EKS VersionRollback only where
 * spec.rollback.afterPromotion.controlPlane opts in). Refusals throw and are audited.
 */
export const rollbackWaveUpdate = defineUpdate<RollbackWaveResult, [RollbackWaveInput]>('rollbackWave');
/** The same as a Signal; a refusal lands in the audit trail. */
export const rollbackWaveSignal = defineSignal<[RollbackWaveInput]>('rollback');
export const statusQuery = defineQuery<CampaignStatus>('status');

/** A notification for the campaign's sinks (workflows/notify.ts): delivered by a workflow of its own. */
export interface NotifyWorkflowInput {
  notification: Notification;
  /** The sinks that want it (references to URLs only: the URLs stay on the worker). */
  sinks: NotifySink[];
}

/** What a notify workflow reports to its campaign when a sink failed after every retry. */
export interface NotifySinkFailure {
  sink: string;
  event: string;
  error: string;
}

export interface NotifyWorkflowResult {
  delivered: string[];
  failed: NotifySinkFailure[];
}

/** Notify workflow → campaign (by workflow ID, so the newest run): a sink failed after its retries. */
export const notifySinkFailedSignal = defineSignal<[NotifySinkFailure]>('notifySinkFailed');

// ---------------------------------------------------------------------------------------
// Cluster-upgrade workflow

export interface ClusterUpgradeInput {
  campaign: string;
  cluster: ClusterRef;
  /** Target minor (absent: patch only). */
  targetVersion?: string;
  pinned: PinnedVersions;
  spec: Pick<Campaign['spec'], 'healthGates' | 'rollback' | 'nodegroups' | 'bake' | 'target'> & {
    /** Inputs of campaigns started before `workloadsAvailable` existed lack it: off for them. */
    kubernetesChecks: KubernetesChecks;
    /** Absent in the inputs of older histories: the defaults then (domain/spec.ts nodesSchema). */
    nodes?: Campaign['spec']['nodes'];
  };
  /** 1 on the first try; an operator's retry increments it (fresh idempotency tokens). */
  attempt: number;
  /** Campaign workflow to report the result to by signal, when it asks (reportBySignalSignal). */
  parentCampaignId?: string;
  /**
   * A rollback-only run: undo what an earlier, upgraded run of this cluster changed (its result's
   * `undo`), because a gate failed after it ended (the wave's soak). Nothing else runs: no
   * preflight, no gates; node groups and add-ons go back as the rollback rules allow
   * (workflows/cluster-upgrade/rollback.ts). The control plane goes back only with `controlPlane`.
   */
  rollbackOnly?: {
    reason: string;
    undo: Reversible[];
    /**
     * The last control-plane hop to undo by EKS VersionRollback (a promoted wave's rollback where
     * spec.rollback.afterPromotion.controlPlane opts in); absent: the control plane stays.
     */
    controlPlane?: { from: string; to: string };
  };
}

export type ClusterOutcome = 'upgraded' | 'already-at-target' | 'rolled-back' | 'failed' | 'blocked' | 'aborted';

export interface ClusterStepRecord {
  step: string;
  status: 'done' | 'skipped' | 'failed' | 'rolled-back';
  updateId?: string;
  detail?: string;
}

export interface ClusterUpgradeResult {
  cluster: string;
  outcome: ClusterOutcome;
  reason?: string;
  finalVersion?: string;
  steps: ClusterStepRecord[];
  gates: GateResult[];
  /** `upgraded` only: the add-ons and node groups changed, in order, with what a later rollback restores. */
  undo?: Reversible[];
}

/** What a cluster-upgrade child tells its campaign as its last act. */
export interface ClusterFinished {
  /** Same as `result.cluster`; repeated so the campaign can route it without looking inside. */
  cluster: string;
  /** The child's `input.attempt`: the campaign ignores reports of an attempt it no longer waits for. */
  attempt: number;
  result: ClusterUpgradeResult;
}

/**
 * Child → campaign, sent to `parentCampaignId` (workflow ID only, no run ID) as the child's last
 * act before it returns `result`, but only once the campaign asked for it with
 * {@link reportBySignalSignal}. A child whose parent run is still open needs no signal: the
 * parent sees ChildWorkflowExecutionCompleted. A campaign about to continue-as-new has no handle
 * to its in-flight children in the next run, so it first tells each of them (awaiting delivery)
 * to report by signal, which by workflow ID reaches the newest run; a child that ended before
 * the request arrived ended in the run that started it. Budget: nothing per cluster in the
 * normal case, two events per in-flight child at each continue-as-new.
 */
export const clusterFinishedSignal = defineSignal<[ClusterFinished]>('clusterFinished');
/** Campaign → child, before the campaign continues as new: report the end with clusterFinishedSignal. */
export const reportBySignalSignal = defineSignal('reportBySignal');
/** Campaign → child: finish the current step, then wait. */
export const clusterPauseSignal = defineSignal('pause');
export const clusterResumeSignal = defineSignal('resume');
/** Campaign → child: stop at the next safe point (rolling back what the spec says). */
export const clusterAbortSignal = defineSignal<[OperatorInput]>('abort');
export const clusterStatusQuery = defineQuery<{ step: string; paused: boolean; steps: ClusterStepRecord[] }>(
  'clusterStatus',
);
/**
 * Composite step → its own workflow: is it paused or aborting? Asked before each new EKS update
 * starts, so a pause or abort holds there exactly, not only once the activity's cancellation
 * arrives with a heartbeat.
 */
export const clusterStopRequestedQuery = defineQuery<boolean>('stopRequested');

// ---------------------------------------------------------------------------------------
// Fleet lease workflow: a counting semaphore per label value, shared by concurrent campaigns

/** `key=value`: names one lease (one label value of a shared cap). */
export const fleetLeaseId = (labelKey: string, labelValue: string): string => `${labelKey}=${labelValue}`;

/** A workflow asks for one slot of a lease on behalf of `holder` (a cluster name). */
export interface LeaseRequest {
  /** Workflow that receives `leaseGrantedSignal` (e.g. `campaign/<name>`; signalled by ID, so it survives continue-as-new). */
  requesterWorkflowId: string;
  /** What holds the slot, usually the cluster name. Unique per requester. */
  holder: string;
  /** The requester's cap for this label value: granted only while fewer than `max` slots are held. */
  max: number;
  /**
   * The requester's `workflowInfo().firstExecutionRunId`: tells its continue-as-new chain from a
   * later workflow with the same ID, so the liveness check can free slots of a requester that died.
   */
  requesterFirstRunId?: string;
}

export interface LeaseHolder extends LeaseRequest {
  /** ISO time from the lease workflow's clock. */
  grantedAt: string;
}

export interface LeaseGrant {
  /** `key=value`, see {@link fleetLeaseId}. */
  leaseId: string;
  holder: string;
}

export interface LeaseRelease {
  requesterWorkflowId: string;
  holder: string;
}

export interface FleetLeaseInput {
  labelKey: string;
  labelValue: string;
  /** The lease workflow exits after this long with no holder and nobody waiting. Default 60 000. */
  idleTimeoutMs?: number;
  /** While slots are held, how often to check that their requesters still run. Default 300 000. */
  livenessCheckIntervalMs?: number;
  /** Carried across continue-as-new; absent on the first run. */
  continued?: {
    holders: LeaseHolder[];
    queue: LeaseRequest[];
    runs: number;
    granted: number;
    /** Fleet control only (absent in older runs): the calendar, the pace and who waits for a change. */
    control?: FleetControlState;
  };
}

export interface FleetLeaseStatus {
  leaseId: string;
  holders: LeaseHolder[];
  /** Waiting requests, first in line first. */
  queue: LeaseRequest[];
  /** Grants made over the lease's life (all runs). */
  granted: number;
  runs: number;
}

/** Requester → lease (sent with signalWithStart by the `requestLease` activity). Idempotent per requester+holder. */
export const requestLeaseSignal = defineSignal<[LeaseRequest]>('requestLease');
/** Requester → lease: give the slot back, or withdraw a request still waiting. Idempotent. */
export const releaseLeaseSignal = defineSignal<[LeaseRelease]>('releaseLease');
/** Lease → requester: `holder` now holds a slot of `leaseId`. */
export const leaseGrantedSignal = defineSignal<[LeaseGrant]>('leaseGranted');
export const fleetLeaseStatusQuery = defineQuery<FleetLeaseStatus>('fleetLeaseStatus');

// ---------------------------------------------------------------------------------------
// Fleet control: the change calendar and the fleet-wide start pace, held by one fleet lease
// workflow per task queue (`fleet-control/<taskQueue>`, lease `fleet=*`: "*" is no valid label
// value, so no shared cap can collide). Campaigns served by one worker pool share one calendar.

export const FLEET_CONTROL_LABEL = { labelKey: 'fleet', labelValue: '*' } as const;
export const fleetControlWorkflowId = (taskQueue: string): string => `fleet-control/${taskQueue}`;

export interface FleetControlState {
  freezes: Freeze[];
  /** Next freeze number (`f<n>`): ids are never reused, so `remove f3` cannot hit a later freeze. */
  nextFreeze: number;
  pace?: FleetPace;
  /** GCRA theoretical arrival time of the fleet-wide bucket (see domain/pacing.ts). */
  tatMs?: number;
  /** Requesters refused by a freeze or the pace: signalled (fleetControlChangedSignal) when a freeze is removed or the pace changes. */
  waiters: string[];
  /** Starts granted over the calendar's life. */
  started: number;
}

export interface TakeStartsInput {
  requesterWorkflowId: string;
  /** Cluster starts wanted now. */
  want: number;
  /** For the log only. */
  clusters?: string[];
}

export interface TakeStartsResult {
  /** Starts granted now (0..want), taken from the fleet-wide bucket. */
  granted: number;
  /** Set when a freeze is in force: nothing starts. */
  frozen?: { id: string; reason: string; untilMs: number; text: string };
  /** When fewer than wanted were granted: when to ask again. */
  retryAtMs?: number;
  /** Why fewer than wanted were granted, for status. */
  reason?: string;
  /**
   * When no freeze is in force: when the next one begins (a scheduled range or a weekly
   * occurrence), so a campaign with upgrades in flight can wake then and hold them.
   */
  nextFreezeAtMs?: number;
  /**
   * No fleet control runs (nobody set a freeze or a pace, or it ended): everything was granted,
   * and the campaign stops asking until `fleetControlChanged` (sent by `fleetwave freeze add` and
   * `fleetwave pace set` to running campaigns) says one may run again.
   */
  absent?: boolean;
}

export interface FleetControlView {
  freezes: Freeze[];
  pace?: FleetPace;
  /** The freeze in force at the calendar's workflow time, if any. */
  frozen?: { id: string; reason: string; untilMs: number; text: string };
  /** Whole starts available now in the fleet-wide bucket (undefined without a pace). */
  tokens?: number;
  started: number;
  /** The calendar's workflow time when it answered. */
  nowMs: number;
}

export const addFreezeUpdate = defineUpdate<Freeze, [FreezeInput]>('addFreeze');
export const removeFreezeUpdate = defineUpdate<Freeze, [{ id: string }]>('removeFreeze');
/** Sets the fleet-wide pace; `null` removes it. Returns the view after the change. */
export const setFleetPaceUpdate = defineUpdate<FleetControlView, [FleetPace | null]>('setFleetPace');
/** A campaign asks for starts (the `takeFleetStarts` activity); `want: 0` only asks whether a freeze is in force. */
export const takeStartsUpdate = defineUpdate<TakeStartsResult, [TakeStartsInput]>('takeStarts');
export const fleetControlQuery = defineQuery<FleetControlView>('fleetControl');
/** Fleet control → a refused requester: a freeze was lifted or the pace changed; look again. */
export const fleetControlChangedSignal = defineSignal('fleetControlChanged');
