/**
 * What one cluster upgrade changes, decided once from preflight's view of the cluster, and how
 * long its composite steps may take. Pure: unit-tested without Temporal.
 *
 * Decision inputs of {@link planUpgrade}: the version path preflight found, the cluster's add-ons
 * and node groups as they are, the versions the campaign pinned per minor, and the spec's
 * target (skipAddons, skipNodegroups). Everything already in place is left alone (read before
 * write).
 */
import type { NodegroupState, PreflightResult, ClusterState as EksClusterState } from '../../activities/types';
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
  /** Sent to EKS only when the minor changes (a patch-only campaign keeps it). */
  version?: string;
  releaseVersion?: string;
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
export function nodegroupStep(ng: NodegroupPlan): string {
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

/** A node group's version as the UI shows it: "1.30 / 1.30.4-20240917 / launch template v3". */
export function describeNodegroup(ng: NodegroupState): string {
  const lt = ng.launchTemplate?.version ? `launch template v${ng.launchTemplate.version}` : undefined;
  return [ng.version, ng.releaseVersion, lt].filter(Boolean).join(' / ');
}
