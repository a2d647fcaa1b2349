/**
 * What one cluster upgrade changes, decided once from preflight's view of the cluster, and how
 * long its composite steps may take. Pure: unit-tested without Temporal.
 *
 * Decision inputs of {@link planUpgrade}: the version path preflight found, the cluster's add-ons
 * and node groups as they are (with each node group's amiType and, for a custom AMI, its image and
 * architecture), the versions the campaign pinned per minor (AMIs also per region and amiType),
 * and the spec's target (skipAddons, skipNodegroups). Everything already in place is left alone (read before
 * write).
 */
import type {
  NodegroupState,
  PinnedVersions,
  PreflightResult,
  ClusterState as EksClusterState,
} from '../../activities/types';
import { DEFAULT_AMI_TYPE } from '../../domain/node-models';
import type { OwnedChange } from '../../domain/ownership';
import type { ClusterStepRecord, ClusterUpgradeInput } from '../definitions';

/** One control-plane hop: one minor version up. */
export interface HopPlan {
  from: string;
  to: string;
}

/** One add-on moved to the version pinned for the final minor. */
export interface AddonPlan {
  name: string;
  from: string;
  to: string;
}

/** One node group to update; `previous` is what a rollback restores. */
export interface NodegroupPlan {
  previous: NodegroupState;
  /** Kubernetes minor after the update. */
  minor: string;
  /** Sent to EKS only when the minor changes (a patch-only campaign keeps it); never for a custom AMI. */
  version?: string;
  /** The release pinned for the node group's amiType, region and minor. */
  releaseVersion?: string;
  /**
   * CUSTOM node groups: the AMI pinned for their region, architecture and minor. The update is a
   * new launch-template version naming it; `previous.launchTemplate.version` is the way back.
   */
  imageId?: string;
}

/** The whole upgrade of one cluster, in the order the workflow runs it. */
export interface UpgradePlan {
  state: EksClusterState;
  finalMinor: string;
  hops: HopPlan[];
  addons: AddonPlan[];
  nodegroups: NodegroupPlan[];
  /** Step records for what the plan leaves alone and why. */
  skipped: ClusterStepRecord[];
}

/** How long one EKS update may take inside a composite step (awaitUpdate's own limit). */
export const UPDATE_TIMEOUT_MS = 6 * 3_600_000;

/**
 * What this cluster needs, from preflight's view of it: the control-plane hops, the add-ons not at
 * the version pinned for the final minor, and the node groups not at that minor and release.
 */
export function planUpgrade(input: ClusterUpgradeInput, pre: PreflightResult): UpgradePlan {
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
      const pin = nodegroupPin(input.pinned, input.cluster.region, ng, minor);
      if (pin.kind === 'image') {
        if (pin.imageId === undefined) {
          skipped.push({ step: nodegroupStep({ previous: ng }), status: 'skipped', detail: pin.missing });
        } else if (ng.imageId !== pin.imageId) {
          nodegroups.push({ previous: ng, minor, imageId: pin.imageId });
        }
        continue;
      }
      const releaseVersion = pin.releaseVersion;
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

/** What the campaign pinned for one node group: an AMI release, or (CUSTOM) an image or why there is none. */
export type NodegroupPin =
  | { kind: 'release'; releaseVersion?: string }
  | { kind: 'image'; imageId: string; missing?: undefined }
  | { kind: 'image'; imageId?: undefined; missing: string };

/**
 * What the campaign pinned for one node group at `minor`:
 * - a CUSTOM node group: the image of its region and architecture (`missing` says why there is none);
 * - any other: the release of its amiType and region. Campaigns pinned before per-family pins
 *   (no `amis`) read `nodegroupRelease`, as they did; a node group whose amiType is not known
 *   (a state read before node models) counts as the AL2023 x86_64 standard type EKS defaults to.
 * No release pinned: the node group moves to `minor` with the newest release EKS has, or stays
 * where it is when its minor does not change.
 */
export function nodegroupPin(pinned: PinnedVersions, region: string, ng: NodegroupState, minor: string): NodegroupPin {
  if (ng.amiType === 'CUSTOM') {
    const imageId = ng.arch ? pinned.customAmis?.[region]?.[ng.arch]?.[minor] : undefined;
    if (imageId) return { kind: 'image', imageId };
    return {
      kind: 'image',
      missing: `no custom AMI pinned for ${region} ${ng.arch ?? '(architecture unknown)'} Kubernetes ${minor} (spec.target.customAmis)`,
    };
  }
  if (!pinned.amis) return { kind: 'release', releaseVersion: pinned.nodegroupRelease[minor] };
  return { kind: 'release', releaseVersion: pinned.amis[region]?.[ng.amiType ?? DEFAULT_AMI_TYPE]?.[minor] };
}

/** Whether the plan changes nothing: the cluster is already at its target. */
export function isEmptyPlan(plan: UpgradePlan): boolean {
  return plan.hops.length === 0 && plan.addons.length === 0 && plan.nodegroups.length === 0;
}

/** The step name of a control-plane hop: "control-plane 1.30 → 1.31". */
export function hopStep(hop: HopPlan): string {
  return `control-plane ${hop.from} → ${hop.to}`;
}

/** The step name of an add-on: "addon vpc-cni". */
export function addonStep(addon: Pick<AddonPlan, 'name'>): string {
  return `addon ${addon.name}`;
}

/** The step name of a node group: "nodegroup workers". */
export function nodegroupStep(ng: Pick<NodegroupPlan, 'previous'>): string {
  return `nodegroup ${ng.previous.name}`;
}

/**
 * startToCloseTimeout of one upgradeControlPlane call: per hop left, one EKS update and, when
 * checks run between hops, one round of them (`checkRoundMs`, 0 when none run).
 */
export function controlPlaneTimeoutMs(hopsLeft: number, checkRoundMs: number): number {
  return hopsLeft * (UPDATE_TIMEOUT_MS + checkRoundMs);
}

/** startToCloseTimeout of one updateNodegroups call: one EKS update per round of `maxParallel` node groups. */
export function nodegroupsTimeoutMs(nodegroupsLeft: number, maxParallel: number): number {
  return Math.ceil(nodegroupsLeft / Math.max(1, maxParallel)) * UPDATE_TIMEOUT_MS;
}

/** A node group's version as the UI shows it: "1.30 / 1.30.4-20240917 / launch template v3" (custom AMI: its image). */
export function describeNodegroup(ng: NodegroupState): string {
  const lt = ng.launchTemplate?.version ? `launch template v${ng.launchTemplate.version}` : undefined;
  return [ng.version, ng.releaseVersion, ng.amiType === 'CUSTOM' ? ng.imageId : undefined, lt]
    .filter(Boolean)
    .join(' / ');
}

/**
 * What the plan would change that a GitOps or IaC tool owns (domain/ownership.ts decides what
 * preflight says about it): the node groups it updates, and a self-installed Karpenter's NodePools
 * and EC2NodeClasses when the control plane moves (their nodes drift to the new minor's AMI, which
 * the node-model step steers through them), and the self-managed groups' Auto Scaling groups when it
 * moves (the node step gives each a launch-template version and an instance refresh). Auto Mode's
 * pools are EKS's and never listed.
 */
export function ownedChanges(plan: Pick<UpgradePlan, 'state' | 'hops' | 'nodegroups'>): OwnedChange[] {
  const changes: OwnedChange[] = [];
  for (const ng of plan.nodegroups) {
    if (ng.previous.owner) changes.push({ what: `node group ${ng.previous.name}`, owner: ng.previous.owner });
  }
  const models = plan.state.nodeModels;
  const karpenterPools = models?.nodePools.filter((p) => !p.autoMode) ?? [];
  if (plan.hops.length > 0 && karpenterPools.length > 0) {
    for (const pool of karpenterPools) {
      if (pool.owner) changes.push({ what: `NodePool ${pool.name}`, owner: pool.owner });
    }
    for (const nc of models?.ownedNodeClasses ?? []) changes.push({ what: `EC2NodeClass ${nc.name}`, owner: nc.owner });
  }
  if (plan.hops.length > 0) {
    for (const g of models?.ownedSelfManagedGroups ?? [])
      changes.push({ what: `self-managed group ${g.name} (Auto Scaling group)`, owner: g.owner });
  }
  return changes;
}
