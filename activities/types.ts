/**
 * The contract between workflows and activities: inputs, results and failure types.
 * Types plus the FailureTypes constants, nothing with side effects; workflows import this module
 * with `import type`.
 *
 * Every activity takes one input object. Nothing secret crosses this boundary: no tokens,
 * credentials or kubeconfigs; activities obtain those themselves from their deps.
 */
import type { FleetMember } from '../domain/fleet';
import type { WatchHealthGatesInput, WatchHealthGatesResult } from './watch';
import type { AmiType, Architecture } from '../domain/node-models';
import type { ClaimVerdict, PolicySummary, SignedActionKind, SignedClaim } from '../domain/signed-actions';
import type { NodeClaimCount } from '../domain/nodepool-hold';
import type { Ownership } from '../domain/ownership';
import type {
  AmiSelectorTerm,
  KarpenterDriftCount,
  NodeClassState,
  NodeClassTermsPlan,
  TermsOnRelease,
} from '../domain/karpenter';
import type { BaselineComparison } from '../domain/baseline';
import type { GatePhase, HealthGateSpec, CampaignSpec } from '../domain/spec';

/** Where a cluster lives and how to reach it. */
export interface ClusterRef {
  name: string;
  region: string;
  account?: string;
  /** Role to assume for this cluster's account. */
  roleArn?: string;
}

/**
 * Versions resolved once at campaign start and reused by every wave and every retry, so a
 * cluster upgraded on day 3 gets what the canary got on day 1.
 */
export interface PinnedVersions {
  /** Target minor, absent for a patch-only campaign. */
  kubernetesVersion?: string;
  /**
   * Node group AMI release version per Kubernetes minor: the AL2023 x86_64 standard AMI of the
   * first region. Kept for campaigns pinned before per-family pins ({@link amis}) existed.
   */
  nodegroupRelease: Record<string, string>;
  /** AMI release version per region, EKS amiType and Kubernetes minor, for the families in use. */
  amis?: Record<string, Partial<Record<AmiType, Record<string, string>>>>;
  /** Custom AMI ID per region, architecture and Kubernetes minor (spec.target.customAmis). */
  customAmis?: Record<string, Partial<Record<Architecture, Record<string, string>>>>;
  /** Add-on name → version, per Kubernetes minor. */
  addons: Record<string, Record<string, string>>;
  /** When they were resolved (ISO time, from the activity). */
  resolvedAt: string;
}

export interface ResolveTargetVersionsInput {
  target: CampaignSpec['target'];
  /** Region to ask (add-on and AMI catalogues are per region). */
  region: string;
  /** Minors to resolve for: the hops of an upgrade, or the current minors of a patch-only campaign. */
  minors: string[];
  /** Add-ons installed somewhere in the selected fleet. */
  addonNames: string[];
  /**
   * The node groups' needs: per region, per EKS amiType in use there, the minors its node groups
   * will run (CUSTOM: custom AMIs from spec.target.customAmis). Absent in campaigns started before
   * per-family pins: then only `nodegroupRelease` is resolved, for `region`, as before.
   */
  amis?: Record<string, Partial<Record<AmiType, string[]>>>;
}

export interface NodegroupState {
  name: string;
  version: string;
  releaseVersion?: string;
  status: string;
  launchTemplate?: { name?: string; id?: string; version?: string };
  desiredSize?: number;
  /** EKS amiType (CUSTOM: the launch template names the AMI). Absent in histories before node models. */
  amiType?: AmiType;
  /** CUSTOM node groups: the AMI the current launch-template version names, and its architecture. */
  imageId?: string;
  arch?: Architecture;
  /** The tool that owns it, from its EKS tags (domain/ownership.ts); absent when none is recognised. */
  owner?: Ownership;
}

/** Node models of a cluster besides managed node groups, as preflight detects them. */
export interface NodeModelsState {
  /** DescribeCluster computeConfig.enabled. */
  autoMode: boolean;
  /** Custom NodePools (karpenter.sh/v1) and whether they belong to Auto Mode or a Karpenter install. */
  nodePools: { name: string; autoMode: boolean; nodes: number; owner?: Ownership }[];
  /** EC2NodeClasses (karpenter.k8s.aws) of a self-installed Karpenter that a tool owns; absent when none. */
  ownedNodeClasses?: { name: string; owner: Ownership }[];
  /** Karpenter controller version, when one is installed. */
  karpenterVersion?: string;
  /** A self-installed Karpenter's EC2NodeClasses (absent in histories before the Karpenter node step). */
  nodeClasses?: NodeClassState[];
  /** Nodes of self-managed groups (no EKS node group, not Fargate, not Karpenter or Auto Mode). */
  selfManagedNodes: number;
  /** Self-managed groups (Auto Scaling groups) whose tags name an owning tool; absent when none. */
  ownedSelfManagedGroups?: { name: string; owner: Ownership }[];
  fargateProfiles: string[];
  /** The oldest kubelet minor of the Fargate pods (each keeps the kubelet it started with); absent without any. */
  oldestFargateKubelet?: string;
}

export interface AddonState {
  name: string;
  version: string;
  status: string;
}

/** What DescribeCluster, ListNodegroups/DescribeNodegroup and ListAddons/DescribeAddon say now. */
export interface ClusterState {
  name: string;
  version: string;
  platformVersion?: string;
  status: string;
  nodegroups: NodegroupState[];
  addons: AddonState[];
  /** Absent in histories before node models. */
  nodeModels?: NodeModelsState;
}

export interface DescribeClusterInput {
  cluster: ClusterRef;
}

export interface PreflightInput {
  cluster: ClusterRef;
  /** Target minor, absent for a patch-only campaign. */
  targetVersion?: string;
  pinned: PinnedVersions;
  /**
   * Also capture the Kubernetes baseline (pods crash-looping now, PDBs allowing no disruption) in
   * the same call, before anything is touched. Kubernetes errors then fail the preflight instead
   * of becoming a warning. Default false.
   */
  captureBaseline?: boolean;
  /**
   * The run restarts the owners of Fargate pods (spec.nodes.fargate: restart): with the baseline,
   * preflight then also asks for the permissions the restarts use. Default false.
   */
  fargateRestart?: boolean;
}

export interface PreflightResult {
  state: ClusterState;
  /** Control-plane hops still to do, e.g. ["1.30", "1.31"]; empty when at target. */
  path: string[];
  /** Reasons the upgrade must not start (insight ERROR, version skew, incompatible add-on...). */
  blockers: string[];
  /** Things worth knowing that do not block (insight WARNING, node group behind the control plane...). */
  warnings: string[];
  /**
   * namespace/name of PDBs that allow no disruption now; absent when they could not be listed.
   * Whether they block depends on the plan (are node groups drained? spec.nodegroups.force?), so
   * the caller decides: preflight reports them here, not in `blockers` or `warnings`.
   */
  blockingPdbs?: string[];
  /** The Kubernetes baseline, when asked for with `captureBaseline`. */
  baseline?: KubernetesBaseline;
}

/** Identifies one step of one cluster; the idempotency token is derived from it. */
export interface StepIdentity {
  campaign: string;
  cluster: ClusterRef;
  /** Incremented by an operator's retry-cluster so the retried step gets a fresh token. */
  attempt: number;
}

export interface StartControlPlaneUpgradeInput extends StepIdentity {
  toVersion: string;
}

export interface StartAddonUpdateInput extends StepIdentity {
  addon: string;
  version: string;
}

export interface StartNodegroupUpdateInput extends StepIdentity {
  nodegroup: string;
  /** Kubernetes minor for the node group (absent: keep its minor, patch only). */
  version?: string;
  releaseVersion?: string;
  /**
   * CUSTOM node groups: the AMI to move to. A new launch-template version naming it is created
   * from the current one, and the node group moves to it (no version or releaseVersion then).
   */
  imageId?: string;
  force: boolean;
}

export interface RollbackNodegroupInput extends StepIdentity {
  nodegroup: string;
  /** What the snapshot recorded before the campaign touched the node group. */
  previous: NodegroupState;
}

export interface RollbackAddonInput extends StepIdentity {
  addon: string;
  previousVersion: string;
}

export interface RollbackControlPlaneInput extends StepIdentity {
  toVersion: string;
}

/** An EKS update to wait for. `updateId` is absent when nothing needed doing. */
export interface UpdateHandle {
  cluster: ClusterRef;
  nodegroup?: string;
  addon?: string;
  updateId?: string;
  /** An update already in progress or done with our token (or an equivalent one) was adopted. */
  adopted: boolean;
  /** The resource was already at the requested version: nothing was started. */
  alreadyAtTarget: boolean;
  /** When to look first at the update (domain/waits.ts), where the start knows better than its kind. */
  firstLookMs?: number;
  /**
   * Rollbacks only: EKS cannot take the resource back from where it is now, so it stays (nothing
   * was started). E.g. the previous add-on version is not supported on the control plane's
   * current minor; the add-on's current version is, so keeping it is safe. Not a failure.
   */
  kept?: KeptResource;
}

/** A resource a rollback leaves where it is, and why. */
export interface KeptResource {
  /** The version it stays at (add-on version, or control-plane minor). */
  version: string;
  /** One line for humans: "kube-proxy stays at v1.31.3-eksbuild.2: v1.30.9-eksbuild.3 is not supported on control plane 1.31". */
  reason: string;
}

export interface UpdateAddonsInput extends StepIdentity {
  /** Updated together (activities/steps.ts, updateAddons); results come in this order. */
  addons: { name: string; version: string }[];
  /** Give up waiting for one add-on's update after this long (awaitUpdate's own deadline). */
  timeoutMs?: number;
}

export interface AddonUpdateResult {
  addon: string;
  updateId?: string;
  /** The add-on was at the version already: nothing was started. */
  alreadyAtTarget: boolean;
  /** An update already in progress with our token (or towards the same version) was adopted. */
  adopted: boolean;
}

export interface UpdateAddonsResult {
  /** One per add-on of the input, in its order. */
  results: AddonUpdateResult[];
}

/**
 * Details of a non-retryable failure of updateAddons (EksUpdateFailed, and refusals at start),
 * next to the update's own details where there are some: which add-on failed, which ones were
 * updated and which ones the step reached, so the workflow rolls back exactly those (and the
 * failed one). The step fails only once no add-on update is in flight.
 */
export interface AddonUpdateFailureDetails {
  /** The first add-on of the input that failed. */
  addon: string;
  /** Add-ons of the input done, in order (updated, adopted or found at target). */
  updated: string[];
  /** Add-ons the step started or adopted an update of, in order (absent from releases that updated one at a time). */
  reached?: string[];
  /** Other add-ons whose update failed too. */
  otherFailures?: { addon: string; message: string }[];
  updateId?: string;
  status?: string;
  errors?: { errorCode?: string; errorMessage?: string; resourceIds?: string[] }[];
}

/** What happened to one resource a composite step (upgradeControlPlane, updateNodegroups) worked on. */
export interface StepUpdateResult {
  /** The control plane's minor after the hop, or the node group's name. */
  target: string;
  updateId?: string;
  /** The resource was at the version already: nothing was started. */
  alreadyAtTarget: boolean;
  /** An update already in progress with our token (or towards the same version) was adopted. */
  adopted: boolean;
}

/**
 * Every control-plane hop of one cluster in one activity: each hop started idempotently, awaited,
 * and (all but the last) followed by the postStep health checks, so a multi-hop upgrade costs the
 * workflow's history one activity instead of a start, an await and a check per hop.
 */
export interface UpgradeControlPlaneInput extends StepIdentity {
  /** Minors in order, one hop each (e.g. ["1.30", "1.31"] from 1.29). */
  hops: string[];
  /** Health checks after every hop but the last (phase postStep); absent: none. */
  checksBetweenHops?: Omit<CheckClusterHealthInput, 'cluster'>;
  /** Run those checks after the last hop too (more steps follow it: add-ons, node groups). */
  checkAfterLastHop?: boolean;
  /** Give up waiting for one hop's update after this long. */
  timeoutMs?: number;
}

export interface UpgradeControlPlaneResult {
  /** Hops done (started and Successful, adopted, or found at target), in order. */
  hops: StepUpdateResult[];
  /** Results of the checks between hops. */
  gates: GateResult[];
  /** The checks after `afterHop` found the cluster unhealthy (or could not run): no later hop started. */
  unhealthy?: { afterHop: string; failures: string[] };
  /** The workflow cancelled the activity (pause, abort): the update in flight was awaited, nothing after it started. */
  stopped?: boolean;
  /** When stopped: the hop done whose checks did not run (the workflow runs them before going on). */
  uncheckedHop?: string;
}

/** Node groups of one cluster in one activity, up to `maxParallel` at once. */
export interface UpdateNodegroupsInput extends StepIdentity {
  nodegroups: { nodegroup: string; version?: string; releaseVersion?: string; imageId?: string }[];
  force: boolean;
  maxParallel: number;
  /** Give up waiting for one node group's update after this long. */
  timeoutMs?: number;
}

export interface UpdateNodegroupsResult {
  /** Node groups done, in input order. */
  results: StepUpdateResult[];
  /** The workflow cancelled the activity (pause, abort): updates in flight were awaited, no new one started. */
  stopped?: boolean;
}

/**
 * Details of a non-retryable failure of upgradeControlPlane or updateNodegroups (EksUpdateFailed,
 * refusals at start), next to the update's own details: which resource failed and which ones the
 * step changed, so the workflow rolls back exactly those.
 */
export interface StepFailureDetails {
  /** The hop's minor or the node group that failed first. */
  failed: string;
  /** Resources the step started or adopted an update of (the failed one too when EKS took its update), in order. */
  reached: string[];
  /** Of those, the ones whose update ended Successful. */
  done: string[];
  updateId?: string;
  status?: string;
  errors?: { errorCode?: string; errorMessage?: string; resourceIds?: string[] }[];
}

export interface AwaitUpdateInput {
  handle: UpdateHandle;
  /** Give up after this long (the activity's own deadline; Temporal's timeouts still apply). */
  timeoutMs?: number;
}

export interface UpdateOutcome {
  updateId?: string;
  status: 'Successful';
  /** Polls made across all attempts (from heartbeat details). */
  polls: number;
}

export interface KubernetesBaselineInput {
  cluster: ClusterRef;
}

export interface KubernetesBaseline {
  /** namespace/name of pods crash-looping before the upgrade. */
  crashLoopingPods: string[];
  /** namespace/name of PDBs that allow no disruption now. */
  blockingPdbs: string[];
  /**
   * namespace/Kind/name of the controllers (ReplicaSet, DaemonSet, StatefulSet...) of the pods
   * crash-looping before the upgrade: node replacement reschedules pods under new names.
   */
  crashLoopingWorkloads?: string[];
  /**
   * namespace/Kind/name of the workloads short of desired, or with pods stuck Pending, before the
   * upgrade (domain/workload-health.ts): the workloadsAvailable check leaves them out.
   */
  shortWorkloads?: string[];
}

/** The spec's Kubernetes checks; workloadsAvailable is absent from campaigns started before it existed (off). */
export type KubernetesChecks = Omit<CampaignSpec['kubernetesChecks'], 'workloadsAvailable'> & {
  workloadsAvailable?: boolean;
};

export interface KubernetesHealthInput {
  cluster: ClusterRef;
  checks: KubernetesChecks;
  /** Node group → minor every node of it must run (kubeletVersionsMatch). */
  expectedKubeletMinor?: Record<string, string>;
  baseline?: KubernetesBaseline;
}

export interface KubernetesHealthResult {
  healthy: boolean;
  failures: string[];
  nodes: { total: number; ready: number };
}

export interface EvaluateHealthGateInput {
  cluster: ClusterRef;
  gate: HealthGateSpec;
  phase: GatePhase;
  /** Overrides the gate's own consecutiveSuccesses (the bake phase uses bake / interval). */
  requiredSuccesses?: number;
  context?: GateContext;
}

export interface EvaluateHealthGatesInput {
  phase: GatePhase;
  /** Cluster × gate pairs, each evaluated like evaluateHealthGate; results come back in this order. */
  items: { cluster: ClusterRef; gate: HealthGateSpec; context?: GateContext }[];
  /** Pairs evaluated at once. Default 20. */
  concurrency?: number;
}

export interface EvaluateHealthGatesResult {
  /** One per input item, in its order. */
  results: GateResult[];
}

export interface CheckClusterHealthInput {
  cluster: ClusterRef;
  /** Every gate result is reported with this phase. */
  phase: GatePhase;
  /** Gates to run, all at once. */
  gates: HealthGateSpec[];
  /** Overrides every gate's consecutiveSuccesses (bake: bake / interval). */
  requiredSuccesses?: number;
  /** Per gate name; wins over `requiredSuccesses` (bake gates of different intervals need different counts). */
  requiredSuccessesByGate?: Record<string, number>;
  checks: KubernetesChecks;
  /** Node group → minor every node of it must run (kubeletVersionsMatch). */
  expectedKubeletMinor?: Record<string, string>;
  baseline?: KubernetesBaseline;
  /** Run the Kubernetes checks (after every gate passed). */
  runKubernetesChecks: boolean;
  /** When the cluster's upgrade started, for gates that compare with a baseline. */
  context?: GateContext;
}

export interface CheckClusterHealthResult {
  /** Every gate Successful and, if they ran, the Kubernetes checks healthy. */
  healthy: boolean;
  /** Results of the gates that reached a decision (the others were stopped by the first failure). */
  gates: GateResult[];
  /** Absent when the Kubernetes checks did not run (not asked for, or a gate failed first). */
  kubernetes?: KubernetesHealthResult;
  /** One line per failure: "gate latency (postStep): Failed: ...", "kubernetes checks: ...". */
  failures: string[];
}

/** Argo Rollouts' phases of an analysis run. */
export type GateOutcome = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

export interface GateResult {
  gate: string;
  phase: GatePhase;
  outcome: GateOutcome;
  measurements: number;
  successes: number;
  failures: number;
  inconclusive: number;
  errors: number;
  lastValue?: string;
  message: string;
  /** The numbers of the last baseline comparison (gates with `compare.baseline`). */
  comparison?: BaselineComparison;
}

/**
 * What a gate measurement needs beyond its cluster: the times that bound a baseline comparison
 * and, for a wave-scope gate, the wave and its clusters. Plain data from workflow state.
 */
export interface GateContext {
  /** When the cluster's upgrade started (epoch ms): the baseline window ends here. */
  changedAtMs?: number;
  /** When it ended: the current window starts no earlier. */
  changeEndedAtMs?: number;
  /** A wave-scope gate: the wave's name, for {{wave}}. */
  wave?: string;
  /** A wave-scope gate: the wave's upgraded clusters, for {{clusters}}. */
  clusters?: string[];
  /** A cohort comparison: the control clusters (not yet upgraded, same labels). */
  cohort?: string[];
  /** A cohort comparison the campaign refused (no matching control clusters), with why. */
  cohortRefused?: string;
}

export interface DiscoverFleetInput {
  regions: string[];
  /** Only clusters whose tags match (exact) all of these. */
  tagFilter?: Record<string, string>;
}

/** A discovered cluster, in the fleet file's shape (domain/fleet.ts FleetMember). */
export type { FleetMember } from '../domain/fleet';

/**
 * Failure types activities raise as `ApplicationFailure` types, so workflows can branch.
 * Retryable ones are thrown as ordinary failures; the others are non-retryable.
 */
export const FailureTypes = {
  /** EKS update ended Failed or Cancelled; details carry `{ updateId, status, errors: [{errorCode, errorMessage}] }`. */
  UpdateFailed: 'EksUpdateFailed',
  /** InvalidParameterException / InvalidRequestException from EKS: retrying cannot help. */
  InvalidRequest: 'EksInvalidRequest',
  /** ResourceNotFoundException. */
  NotFound: 'EksResourceNotFound',
  /** The requested step violates version rules (skew, skip, downgrade). */
  VersionSkew: 'VersionSkew',
  /** Rollback is not possible for this resource (no previous launch template, EKS refuses...). */
  RollbackNotPossible: 'RollbackNotPossible',
  /** awaitUpdate's own deadline passed. */
  UpdateTimedOut: 'EksUpdateTimedOut',
} as const;

export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];

/**
 * The type of the retryable failure that ends an attempt of a waiting activity until its next look
 * (activities/waiting.ts). Not in {@link FailureTypes}: those are never retried. A workflow sees it
 * only when it cancelled the activity while an attempt ran (the server does not retry a
 * cancelled activity), and treats it as that cancellation.
 */
export const STILL_WAITING_FAILURE = 'FleetwaveStillWaiting';

/** The activities the workflows call, as the worker registers them (see activities/index.ts createActivities). */
/** Input of {@link FleetwaveActivities.verifyAction}. */
export interface VerifyActionInput {
  /** The action as the operator asked for it. */
  action: SignedActionKind;
  /** Who the operator says they are (approver, or `by` of an operator action). */
  actor: string;
  /** The claim and its SSHSIG, when the operator signed. */
  signed?: SignedClaim;
}

/** Answer of {@link FleetwaveActivities.verifyAction}: the verdict, and the policy it was reached under. */
export type VerifyActionResult = ClaimVerdict & { policy: PolicySummary };

// --- EKS Auto Mode nodes (activities/automode.ts) ---

/** Input of awaitAutoModeNodes. */
export interface AwaitAutoModeNodesInput {
  cluster: ClusterRef;
  /** The minor every NodeClaim must run. */
  targetVersion: string;
  /** Gives up after this long (wall clock, across attempts). */
  timeoutMs: number;
}

/** Heartbeat details of awaitAutoModeNodes. */
export interface AutoModeNodesProgress extends NodeClaimCount {
  cluster: string;
  startedAtMs: number;
}

export type AwaitAutoModeNodesResult = NodeClaimCount;

// --- Fargate pods (activities/fargate.ts) ---

/** Input of settleFargatePods. */
export interface SettleFargatePodsInput {
  cluster: ClusterRef;
  /** The control plane's minor: a Fargate pod on an older kubelet is old. */
  targetVersion: string;
  /** report: list the old pods; restart: restart their owners and wait until none is left. */
  mode: 'report' | 'restart';
  /**
   * This run's restart marker, the `kubectl.kubernetes.io/restartedAt` value it writes (RFC 3339, as
   * kubectl writes it): an owner whose template already carries it is not restarted again.
   */
  marker: string;
  /** restart: gives up after this long (wall clock, across attempts). */
  timeoutMs: number;
  /** restart: fails when a PodDisruptionBudget keeps an owner from being restarted this long. */
  pdbTimeoutMs: number;
}

/** The old Fargate pods of one owner. */
export interface FargateOwnerPods {
  /** `namespace/Kind/name` of the pods' owner (the Deployment behind their ReplicaSet), or `namespace/Pod/name` for a bare pod. */
  owner: string;
  /** The Fargate profile their pods run under. */
  profile: string;
  /** Pods of the owner still on an old kubelet. */
  pods: number;
  /** The oldest kubelet minor among them. */
  oldest: string;
}

/** Answer of settleFargatePods. */
export interface SettleFargatePodsResult {
  /** Pods running on Fargate. */
  total: number;
  /** Old pods per owner (after a restart: those left, from owners fleetwave cannot restart). */
  old: FargateOwnerPods[];
  /** Owners restarted by this run (`namespace/Kind/name`), including those an earlier attempt restarted. */
  restarted: string[];
}

/** Heartbeat details of settleFargatePods. */
export interface FargatePodsProgress {
  cluster: string;
  target: string;
  marker: string;
  startedAtMs: number;
  restarted: string[];
  /** Owners a PodDisruptionBudget holds back, with the budget and since when (ms). */
  blocked: Record<string, { pdb: string; sinceMs: number }>;
  oldPods: number;
}

/** Input of holdNodePools. */
export interface HoldNodePoolsInput {
  cluster: ClusterRef;
  workflowId: string;
  runId: string;
  /** How long the hold is meant for: its budget stays active this long plus a margin. */
  forMs: number;
}

export interface HoldNodePoolsResult {
  held: string[];
  /** Built-in pools, which EKS owns: their nodes are not held. */
  builtIn: string[];
}

/** Input of releaseNodePoolHolds. */
export interface ReleaseNodePoolHoldsInput {
  cluster: ClusterRef;
  /** Release only this workflow's holds; absent: every fleetwave hold on the cluster. */
  workflowId?: string;
}

export interface ReleaseNodePoolHoldsResult {
  released: string[];
}

// --- A self-installed Karpenter's nodes (activities/karpenter.ts) ---

/** Input of holdKarpenterNodes: as holdNodePools (the NodePools are held the same way). */
export type HoldKarpenterNodesInput = HoldNodePoolsInput;

export interface HoldKarpenterNodesResult {
  /** EC2NodeClasses pinned to the AMI ids they resolve for the current minor. */
  pinned: { nodeClass: string; amis: string[] }[];
  /** EC2NodeClasses without resolved AMIs (status.amis empty): left alone. */
  unresolved: string[];
  held: string[];
  /** When the hold was placed, by the cluster's clock (ms). */
  sinceMs: number;
}

/** Input of driftKarpenterNodes: the node step of one cluster. */
export interface DriftKarpenterNodesInput {
  cluster: ClusterRef;
  workflowId: string;
  runId: string;
  /** The terms each EC2NodeClass gets (domain/karpenter.ts targetTerms). */
  nodeClasses: NodeClassTermsPlan[];
  /** spec.nodes.karpenter.budget: the Drifted budget of each NodePool during the step. */
  budget: string;
  pdbTimeoutMs: number;
  timeoutMs: number;
  /** When the hold was placed (cluster clock, ms): NodeClaims launched since are reported. */
  holdSinceMs?: number;
}

/** Heartbeat details of driftKarpenterNodes. */
export interface KarpenterDriftProgress extends KarpenterDriftCount {
  cluster: string;
  startedAtMs: number;
  /** The step's start by the cluster's clock (NodeClaim creation times are the cluster's). */
  clusterStartedAtMs: number;
  /** Terms and budgets set: later attempts only look. */
  configured: boolean;
  lastChangeAtMs: number;
  /** The NodeClaims of the last look, and whether they had drifted. */
  claims: { name: string; drifted: boolean }[];
  /** NodeClaims that went away without having drifted (expired, consolidated, deleted). */
  gone: string[];
}

export interface DriftKarpenterNodesResult extends KarpenterDriftCount {
  goneWithoutDrift: string[];
  /** NodeClaims launched while the pools were held (on the pinned AMIs of the previous minor). */
  launchedDuringHold: number;
}

/** Input of releaseKarpenterHolds. */
export interface ReleaseKarpenterHoldsInput {
  cluster: ClusterRef;
  /** Release only this workflow's holds and pins; absent: every fleetwave hold and pin on the cluster. */
  workflowId?: string;
  terms: TermsOnRelease;
}

export interface ReleaseKarpenterHoldsResult {
  nodeClasses: { nodeClass: string; terms: AmiSelectorTerm[] }[];
  /** NodePools whose budgets were restored. */
  released: string[];
}

export interface FleetwaveActivities {
  resolveTargetVersions(input: ResolveTargetVersionsInput): Promise<PinnedVersions>;
  preflightCluster(input: PreflightInput): Promise<PreflightResult>;
  awaitUpdate(input: AwaitUpdateInput): Promise<UpdateOutcome>;
  rollbackNodegroup(input: RollbackNodegroupInput): Promise<UpdateHandle>;
  rollbackAddon(input: RollbackAddonInput): Promise<UpdateHandle>;
  rollbackControlPlane(input: RollbackControlPlaneInput): Promise<UpdateHandle>;
  /** Many cluster × gate pairs in one activity (a wave's soak gates): one activity per batch (history budget). */
  evaluateHealthGates(input: EvaluateHealthGatesInput): Promise<EvaluateHealthGatesResult>;
  /**
   * A batch of cluster × gate pairs watched for a whole period (a soak, the watch after promotion),
   * parked between looks; returns at the first failure or the end. Past its end: one look (the
   * approval re-check). See activities/watch.ts.
   */
  watchHealthGates(input: WatchHealthGatesInput): Promise<WatchHealthGatesResult>;
  /** Every gate of a phase at once, then the Kubernetes checks: one activity per phase (history budget). */
  checkClusterHealth(input: CheckClusterHealthInput): Promise<CheckClusterHealthResult>;
  /** Every add-on started idempotently, all at once, and awaited as one wait: one activity for the add-on step. */
  updateAddons(input: UpdateAddonsInput): Promise<UpdateAddonsResult>;
  /** Every control-plane hop, with the postStep checks between hops, in one activity. */
  upgradeControlPlane(input: UpgradeControlPlaneInput): Promise<UpgradeControlPlaneResult>;
  /** Every node group, up to maxParallel at once, in one activity. */
  updateNodegroups(input: UpdateNodegroupsInput): Promise<UpdateNodegroupsResult>;
  /**
   * Checks an operator action against the worker's fleet approval policy: the SSHSIG over the
   * claim's canonical text, the key's principal in the policy's allowed_signers, the principal's
   * groups; or, unsigned, whether the policy allows the action by name only. A local activity:
   * its answer is recorded in the history, so replay never needs the policy or the keys.
   */
  verifyAction(input: VerifyActionInput): Promise<VerifyActionResult>;
  /** The worker's fleet approval policy, summarised for status and the audit trail. */
  describeApprovalPolicy(): Promise<PolicySummary>;
  /** Auto Mode: every NodeClaim on the target minor, one parked wait (activities/automode.ts). */
  awaitAutoModeNodes(input: AwaitAutoModeNodesInput): Promise<AwaitAutoModeNodesResult>;
  /** Fargate pods on an old kubelet: reported, or their owners restarted and awaited (activities/fargate.ts). */
  settleFargatePods(input: SettleFargatePodsInput): Promise<SettleFargatePodsResult>;
  /** Auto Mode: a zero Drifted budget on each custom NodePool while the control plane bakes. */
  holdNodePools(input: HoldNodePoolsInput): Promise<HoldNodePoolsResult>;
  /** Removes fleetwave's NodePool holds (one workflow's, or all) and restores the recorded budgets. */
  releaseNodePoolHolds(input: ReleaseNodePoolHoldsInput): Promise<ReleaseNodePoolHoldsResult>;
  /** Self-managed node groups: launch-template version, fleetwave's hook, and an instance refresh (activities/self-managed.ts). */
  startSelfManagedRefreshes(input: StartSelfManagedRefreshesInput): Promise<SelfManagedRefreshHandle[]>;
  /** Waits for the self-managed groups' refreshes, draining each node before its instance terminates. */
  awaitSelfManagedRefreshes(input: AwaitSelfManagedRefreshInput): Promise<AwaitSelfManagedRefreshResult>;
  /** Undoes a self-managed group's refresh: RollbackInstanceRefresh where AWS allows it, else forward. */
  rollbackSelfManagedGroup(input: RollbackSelfManagedGroupInput): Promise<RollbackSelfManagedGroupResult>;
  /** Karpenter: EC2NodeClasses pinned to the current minor's AMIs and NodePools held, before the hops. */
  holdKarpenterNodes(input: HoldKarpenterNodesInput): Promise<HoldKarpenterNodesResult>;
  /** Karpenter: the target terms, drift under the spec's budget, one parked wait until every NodeClaim runs them. */
  driftKarpenterNodes(input: DriftKarpenterNodesInput): Promise<DriftKarpenterNodesResult>;
  /** Karpenter: budgets restored and pins removed (terms kept, back to the pinned AMIs, or the user's). */
  releaseKarpenterHolds(input: ReleaseKarpenterHoldsInput): Promise<ReleaseKarpenterHoldsResult>;
}

/**
 * Single steps the registered activities are made of (a composite step starts and awaits each
 * EKS update; a health check runs each gate and Kubernetes check), and EKS discovery. No workflow
 * calls them, so the worker does not register them; tests call them directly through
 * {@link createActivityParts} in activities/index.ts.
 */
export interface ActivityParts {
  describeCluster(input: DescribeClusterInput): Promise<ClusterState>;
  startControlPlaneUpgrade(input: StartControlPlaneUpgradeInput): Promise<UpdateHandle>;
  startAddonUpdate(input: StartAddonUpdateInput): Promise<UpdateHandle>;
  startNodegroupUpdate(input: StartNodegroupUpdateInput): Promise<UpdateHandle>;
  captureKubernetesBaseline(input: KubernetesBaselineInput): Promise<KubernetesBaseline>;
  checkKubernetesHealth(input: KubernetesHealthInput): Promise<KubernetesHealthResult>;
  evaluateHealthGate(input: EvaluateHealthGateInput): Promise<GateResult>;
  discoverFleet(input: DiscoverFleetInput): Promise<FleetMember[]>;
  readSelfManagedGroups(input: { cluster: ClusterRef }): Promise<SelfManagedGroupState[]>;
  startSelfManagedRefresh(input: StartSelfManagedRefreshInput): Promise<SelfManagedRefreshHandle>;
}

/** A self-managed node group's Auto Scaling group as preflight and the node step read it. */
export interface SelfManagedGroupState {
  name: string;
  launchTemplate: { id: string; name: string; version: string };
  /** The image of the group's launch-template version; `resolve:ssm:…` when it names a parameter. */
  imageId: string;
  instances: number;
  /** Owner tags (`ManagedBy`, `Terraform`, …) as `key=value`. */
  tags: Record<string, string>;
}

/** Input of startSelfManagedRefresh. */
export interface StartSelfManagedRefreshInput {
  cluster: ClusterRef;
  group: string;
  /** The AMI the group's instances must run (the pinned one of its amiType and the target minor). */
  imageId: string;
  minHealthyPercentage: number;
  checkpoints: number[];
  /** Heartbeat timeout of fleetwave's termination hook (seconds, 30–7200): how long an undrained instance waits. */
  hookTimeoutS: number;
  /** Makes the launch-template version's ClientToken: the same for every attempt of one step. */
  workflowId: string;
}

export interface SelfManagedRefreshHandle {
  group: string;
  /** Absent when every instance already runs the image (nothing started). */
  refreshId?: string;
  fromVersion: string;
  toVersion: string;
  imageId: string;
  /** A rollback's refresh (RollbackInstanceRefresh): it ends RollbackSuccessful. */
  rollback?: boolean;
}

/** Input of startSelfManagedRefreshes: every self-managed group of a cluster to the target minor's pinned AMI. */
export interface StartSelfManagedRefreshesInput {
  cluster: ClusterRef;
  /** The minor the groups' nodes must run (the control plane's, after its hops). */
  targetVersion: string;
  pinned: PinnedVersions;
  minHealthyPercentage: number;
  checkpoints: number[];
  hookTimeoutS: number;
  workflowId: string;
}

/** Input of awaitSelfManagedRefreshes. */
export interface AwaitSelfManagedRefreshInput {
  cluster: ClusterRef;
  handles: SelfManagedRefreshHandle[];
  /** A PodDisruptionBudget blocking one node's drain longer than this fails the step. */
  drainTimeoutMs: number;
  /** The whole refresh gives up after this long. */
  timeoutMs: number;
}

/** One group's part of awaitSelfManagedRefreshes' heartbeat. */
export interface SelfManagedGroupProgress {
  /** Instances drained and let go (CompleteLifecycleAction CONTINUE). */
  drained: string[];
  /** Instances whose drain is blocked: since when, and by which PodDisruptionBudget. */
  blocked: Record<string, { sinceMs: number; pdb: string }>;
}

/** Heartbeat details of awaitSelfManagedRefreshes. */
export interface SelfManagedRefreshProgress {
  /** The refresh IDs waited for, joined: a different set starts afresh. */
  key: string;
  startedAtMs: number;
  groups: Record<string, SelfManagedGroupProgress>;
}

export interface AwaitSelfManagedRefreshResult {
  groups: SelfManagedRefreshResult[];
}

export interface SelfManagedRefreshResult {
  group: string;
  refreshId?: string;
  status: string;
  /** Instances fleetwave drained and let terminate. */
  replaced: string[];
  toVersion: string;
}

/** Input of rollbackSelfManagedGroup. */
export interface RollbackSelfManagedGroupInput {
  cluster: ClusterRef;
  handle: SelfManagedRefreshHandle;
  minHealthyPercentage: number;
}

export interface RollbackSelfManagedGroupResult {
  group: string;
  /** `rollback`: RollbackInstanceRefresh (the refresh was still active); `forward`: a new refresh to the previous version. */
  how: 'rollback' | 'forward' | 'none';
  refreshId?: string;
}
