/** The simulated fleet's data: clusters, node groups, add-ons, updates and their effects. */
import type { SimAsg } from './asg';
import type { ClusterFaults } from '../../domain/fleet';
import type { SimAccessPolicy } from '../k8s-access';
import type { AmiType, Architecture } from '../../domain/node-models';
import type { AddonCatalogue } from '../catalogue';
import type { Rng } from '../random';
import type { NodePoolState } from './automode';
import type { Ec2State } from './ec2';

export type UpdateStatus = 'InProgress' | 'Failed' | 'Cancelled' | 'Successful';
export type UpdateType = 'VersionUpdate' | 'VersionRollback' | 'ConfigUpdate' | 'AddonUpdate';

export interface UpdateError {
  errorCode: string;
  errorMessage: string;
  resourceIds: string[];
}

/** What an update changes when it succeeds. */
export type UpdateEffect =
  | { kind: 'control-plane'; from: string; to: string; rollback: boolean }
  | {
      kind: 'nodegroup-version';
      version: string;
      releaseVersion: string;
      launchTemplateVersion: string;
      /** The custom AMI the new launch-template version names (CUSTOM node groups). */
      imageId?: string;
    }
  | {
      kind: 'nodegroup-config';
      maxUnavailable?: number;
      maxUnavailablePercentage?: number;
      updateStrategy?: string;
      minSize?: number;
      maxSize?: number;
      desiredSize?: number;
      addLabels?: Record<string, string>;
      removeLabels?: string[];
      addTaints?: Taint[];
      removeTaints?: Taint[];
    }
  | { kind: 'addon'; from: string; to: string };

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface SimUpdate {
  id: string;
  cluster: string;
  nodegroup?: string;
  addon?: string;
  type: UpdateType;
  params: { type: string; value: string }[];
  status: UpdateStatus;
  /** Simulated epoch milliseconds. */
  createdAt: number;
  /** When it succeeds, unless `failAt` comes first. */
  endsAt: number;
  failAt?: number;
  failure?: UpdateError;
  errors: UpdateError[];
  cancellation?: { status: 'InProgress' | 'Failed' | 'Successful'; reason: string };
  /**
   * Auto Mode control-plane rollbacks: the end of the node rollback, until which the cluster
   * stays ACTIVE and CancelUpdate can stop the update; the control plane rolls back after it.
   */
  cancellableUntil?: number;
  effect: UpdateEffect;
  /**
   * Node group version updates: phase boundaries [setupEnd, launchEnd₀, end₀, launchEnd₁, end₁, ...].
   * In batch k the surge nodes launch until launchEndₖ (NotReady), then the old nodes of the
   * batch are cordoned and drained until endₖ, when they are terminated.
   */
  phases?: Float64Array;
  batchSize?: number;
  /** The node group's node count when the update started. */
  nodeCount?: number;
  finishedAt?: number;
}

/** One version of an EC2 launch template: only the field node groups care about, the AMI it names. */
export interface LaunchTemplateVersion {
  number: number;
  imageId?: string;
  description?: string;
  createdAt: number;
}

/** An EC2 launch template (ec2-api.ts serves it; node groups point at one of its versions). */
export interface SimLaunchTemplate {
  id: string;
  name: string;
  region: string;
  account: string;
  createdAt: number;
  versions: Map<number, LaunchTemplateVersion>;
  defaultVersion: number;
  latestVersion: number;
  /** CreateLaunchTemplateVersion ClientToken → the version it created. */
  tokens: Map<string, number>;
}

/** A custom (account-owned) AMI: its Kubernetes minor is what a node on it runs. */
export interface SimImage {
  imageId: string;
  name: string;
  region: string;
  owner: string;
  arch: Architecture;
  minor: string;
  createdAt: number;
  tags: Record<string, string>;
}

export interface SimNodegroup {
  name: string;
  index: number;
  version: string;
  releaseVersion: string;
  desiredSize: number;
  minSize: number;
  maxSize: number;
  maxUnavailable?: number;
  maxUnavailablePercentage?: number;
  updateStrategy: string;
  /** EKS amiType: the fleet's, or CUSTOM when the launch template names its own AMI. */
  amiType: AmiType;
  /** CPU architecture of the nodes (from the amiType, or the custom image). */
  arch: Architecture;
  /** The custom AMI the nodes run (CUSTOM only); DescribeNodegroup reports it as releaseVersion. */
  imageId?: string;
  launchTemplate: { name: string; id: string; version: string };
  /** The EC2 launch template behind `launchTemplate`. */
  template: SimLaunchTemplate;
  /** Whether the fleet file declared the launch template (else the simulator made one up). */
  declaredLaunchTemplate: boolean;
  /** The release the node group had at start: crash-loop faults compare against it. */
  originalRelease: string;
  /** Increments each time the nodes are replaced; part of node names. */
  generation: number;
  /** When the nodes of the current generation were created. */
  nodesSince: number;
  labels: Record<string, string>;
  /** AWS resource tags (TagResource), not Kubernetes labels. */
  tags: Record<string, string>;
  taints: Taint[];
  status: 'ACTIVE' | 'UPDATING';
  createdAt: number;
  modifiedAt: number;
  active?: SimUpdate;
  uid: string;
}

export interface SimAddon {
  name: string;
  version: string;
  status: 'ACTIVE' | 'UPDATING' | 'UPDATE_FAILED';
  createdAt: number;
  modifiedAt: number;
  /** Set when the last successful update went to an older version; clears the degrade fault. */
  rolledBack: boolean;
  /** AWS resource tags (TagResource). */
  tags: Record<string, string>;
  active?: SimUpdate;
  uid: string;
}

export interface SimPdb {
  name: string;
  namespace: string;
  allowedDisruptions: number;
}

/**
 * A Fargate profile and the Deployment whose pods it runs (one Fargate node per pod). A rollout
 * restart (`restartedAt`, the pod template's annotation) replaces the pods one at a time on new
 * nodes of the control plane's minor at that moment (`rollout.version`).
 */
export interface SimFargateProfile {
  name: string;
  pods: number;
  /** The minor the current pods started on. */
  version: string;
  createdAt: number;
  /** Pod-template generation: 0 as built, one more per rollout restart. */
  generation: number;
  /** `kubectl.kubernetes.io/restartedAt` of the pod template, once a client restarted it. */
  restartedAt?: string;
  /** The rollout of generation `generation + 1`, while it may still run (ended when every pod is replaced). */
  rollout?: { startedAt: number; version: string };
}

export interface SimCluster {
  name: string;
  region: string;
  account: string;
  roleArn?: string;
  /** The fleet file's labels, which are also the cluster's AWS tags (TagResource / UntagResource change them). */
  labels: Record<string, string>;
  arn: string;
  /** EKS Auto Mode: a VersionRollback rolls the Auto Mode nodes back first (cancellable), then the control plane. */
  autoMode: boolean;
  /** karpenter.sh NodePools and NodeClaims: Auto Mode's, or a self-installed Karpenter's (automode.ts). */
  nodePools?: NodePoolState;
  version: string;
  platformVersion: string;
  status: 'ACTIVE' | 'UPDATING';
  createdAt: number;
  nodegroups: SimNodegroup[];
  nodegroupByName: Map<string, SimNodegroup>;
  /** Self-managed node groups (Auto Scaling groups): nodes in the Kubernetes API, unknown to EKS. */
  selfManagedGroups: { name: string; version: string; nodes: number; amiType: AmiType }[];
  /** The Auto Scaling groups behind them, one per self-managed group (asg.ts). */
  asgs: SimAsg[];
  /** Fargate profiles: pods keep the kubelet of the minor they started on (`version`) until recreated. */
  fargateProfiles: SimFargateProfile[];
  addons: SimAddon[];
  addonByName: Map<string, SimAddon>;
  pdbs: SimPdb[];
  faults: ClusterFaults;
  /** The access policy of every caller's access entry, or none (k8s-access.ts). */
  accessPolicy: SimAccessPolicy;
  /** Every update, oldest first. */
  updates: SimUpdate[];
  /** Updates in progress. */
  active: SimUpdate[];
  tokens: Map<string, SimUpdate>;
  /** The last successful control-plane version change: the rollback window starts there. */
  lastVersionChange?: { from: string; to: string; type: UpdateType; at: number };
  /** Durations and update IDs. */
  rng: Rng;
  /** Throttling and 5xx draws, separate so that faults do not shift durations. */
  faultRng: Rng;
  /** Workload signals of a healthy cluster (deterministic per seed and name). */
  baseErrorRatio: number;
  baseLatencyP99: number;
  degradedErrorRatio: number;
  /** Simulated API-server background traffic, requests per simulated second. */
  apiRate: number;
  counters: { requests: number; errors: number; restarts: number; at: number };
  /** Pre-rendered `cluster="…",region="…"` for the exposition. */
  metricLabels: string;
}

/** One accepted mutating call, as `GET /sim/mutations` lists it. */
export interface Mutation {
  seq: number;
  /** Simulated time of the call (the scaled clock). */
  time: string;
  /**
   * The host's wall clock at the call, for matching with what other processes logged (Temporal's
   * event times, the worker's log). Mapping `time` back to the wall clock assumes the monotonic clock
   * the simulated one runs on kept pace with it, which a paused machine breaks: the wall clock jumps
   * over the pause, the monotonic one does not.
   */
  wallTime: string;
  operation: string;
  cluster: string;
  nodegroup?: string;
  addon?: string;
  /** Control-plane version, AMI release, `lt:<version>`, add-on version, or a config summary. */
  target: string;
  clientRequestToken: string;
  updateId: string;
  updateType: UpdateType;
}

/** Simulated wall clock in epoch milliseconds. */
export interface SimClock {
  now(): number;
}

/** The caller as the SigV4 scope and access key reveal it. */
export interface CallerScope {
  region: string;
  /** Set for credentials that AssumeRole issued: only that account's clusters are visible. */
  account?: string;
}

/** How a fleet is built: the seed of every draw and the simulated clock. */
export interface FleetOptions {
  seed: number;
  clock: SimClock;
  /**
   * The PodDisruptionBudget that forbids evicting a pod now, as the cluster's Kubernetes API
   * answers an eviction (simulator/k8s-state.ts, given by the server, which knows the pods clients
   * deleted or evicted). Without it, a budget of the fleet file that allows no disruption.
   */
  blockingPdb?: (c: SimCluster) => { namespace: string; name: string } | undefined;
}

/**
 * What the per-resource rules (rules-*.ts) need from the fleet's update lifecycle: the
 * simulated clock, token replay, the start of an update, slow-down faults, quiet checks and
 * the counters brought up to a time.
 */
export interface UpdateHost {
  readonly addonCatalogue: AddonCatalogue;
  /** Launch templates and custom AMIs: what a launch-template version names. */
  readonly ec2: Ec2State;
  now(): number;
  replay(c: SimCluster, key: string): SimUpdate | undefined;
  begin(
    c: SimCluster,
    tokenKey: string,
    token: string,
    operation: string,
    target: string,
    u: Omit<SimUpdate, 'id' | 'cluster' | 'status' | 'errors'>,
  ): SimUpdate;
  slow(c: SimCluster, ms: number): number;
  /** The budget that blocks a drain of the cluster's nodes now (FleetOptions.blockingPdb). */
  blockingPdb(c: SimCluster): { namespace: string; name: string } | undefined;
  requireQuiet(c: SimCluster): void;
  integrate(c: SimCluster, t: number): void;
}
