/**
 * The node models of an EKS cluster and the facts fleetwave keeps about them in one place: the
 * managed node group AMI types EKS names, their family and architecture, and whether EKS lets a
 * node-group step be undone. Pure: used by the plan, preflight, the activities and the CLI.
 *
 * The simulator keeps its own copy of what EKS enforces (simulator/model/rules-nodegroup.ts), so
 * that a mistake here shows up as a refusal there instead of agreeing with itself.
 */

/**
 * Managed node group `amiType` values, as the EKS service model lists them (botocore
 * `eks/2017-11-01/service-2.json`, shape AMITypes) and the Nodegroup data type page of the API
 * reference describes them. CUSTOM is what EKS reports for a node group whose launch template
 * names its own AMI.
 */
export const AMI_TYPES = [
  'AL2_x86_64',
  'AL2_x86_64_GPU',
  'AL2_ARM_64',
  'AL2023_x86_64_STANDARD',
  'AL2023_ARM_64_STANDARD',
  'AL2023_x86_64_NVIDIA',
  'AL2023_ARM_64_NVIDIA',
  'AL2023_x86_64_NEURON',
  'BOTTLEROCKET_x86_64',
  'BOTTLEROCKET_ARM_64',
  'BOTTLEROCKET_x86_64_NVIDIA',
  'BOTTLEROCKET_ARM_64_NVIDIA',
  'BOTTLEROCKET_x86_64_FIPS',
  'BOTTLEROCKET_ARM_64_FIPS',
  'WINDOWS_CORE_2019_x86_64',
  'WINDOWS_FULL_2019_x86_64',
  'WINDOWS_CORE_2022_x86_64',
  'WINDOWS_FULL_2022_x86_64',
  'WINDOWS_CORE_2025_x86_64',
  'WINDOWS_FULL_2025_x86_64',
  'CUSTOM',
] as const;

export type AmiType = (typeof AMI_TYPES)[number];

/** The AMI type EKS gives a node group created without one (the AL2023 x86_64 standard AMI). */
export const DEFAULT_AMI_TYPE: AmiType = 'AL2023_x86_64_STANDARD';

export type AmiFamily = 'al2' | 'al2023' | 'bottlerocket' | 'windows' | 'custom';
export type Architecture = 'x86_64' | 'arm64';

/** The family and architecture of an AMI type (CUSTOM: the family is the owner's, the architecture unknown here). */
export function amiTypeInfo(amiType: AmiType): { family: AmiFamily; arch?: Architecture } {
  if (amiType === 'CUSTOM') return { family: 'custom' };
  const arch: Architecture = /ARM_64/.test(amiType) ? 'arm64' : 'x86_64';
  if (amiType.startsWith('AL2023_')) return { family: 'al2023', arch };
  if (amiType.startsWith('AL2_')) return { family: 'al2', arch };
  if (amiType.startsWith('BOTTLEROCKET_')) return { family: 'bottlerocket', arch };
  return { family: 'windows', arch };
}

/**
 * Amazon Linux 2 AMIs end with Kubernetes 1.32: EKS publishes no AL2 AMI for a later minor.
 * Source: docs.aws.amazon.com/eks/latest/userguide/al2023.html ("Amazon EKS will stop publishing
 * EKS-optimized Amazon Linux 2 (AL2) AMIs on November 26, 2025 … Kubernetes version 1.32 is the
 * last version for which Amazon EKS will release AL2 AMIs"), awslabs/amazon-eks-ami#2545.
 */
export const LAST_AL2_MINOR = '1.32';

/**
 * Whether a managed node group's step can be undone, and how. This is the one place fleetwave
 * decides it: the plan, preflight, the approval details and `rollbackNodegroup` all ask here.
 *
 * The sources disagree. The UpdateNodegroupVersion API reference says "You cannot roll back a
 * node group to an earlier Kubernetes version or AMI version". The newer version-rollback guide
 * (userguide/rollback-cluster.html) says managed node groups "must roll back separately using
 * the UpdateNodegroupVersion API", without saying that EKS accepts an earlier version. The
 * launch-template page (userguide/launch-templates.html) makes a launch-template version the way
 * a custom AMI is chosen, forward or back. So fleetwave promises only what every source allows:
 * - amiType CUSTOM (the launch template names the AMI): reversible, by pointing the node group
 *   back at its previous launch-template version, which names the previous image;
 * - every other amiType, with or without a launch template: not reversible. EKS picks the AMI
 *   from `version`/`releaseVersion`, which cannot go back, and an earlier launch-template version
 *   without an image changes neither.
 * Once someone confirms on a real account that EKS accepts an earlier version, change it here.
 */
export interface NodegroupReversibility {
  reversible: boolean;
  /** How the step is undone, when it can be. */
  how?: 'previous launch-template version';
  /** One line for humans, naming the node group's AMI source. */
  why: string;
  /** The document the answer follows. */
  source: { title: string; url: string };
}

/** The documents {@link nodegroupReversibility} follows. */
export const NODEGROUP_ROLLBACK_SOURCES = {
  apiReference: {
    title: 'Amazon EKS API Reference: UpdateNodegroupVersion',
    url: 'https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupVersion.html',
  },
  launchTemplates: {
    title: 'Amazon EKS User Guide: Customize managed nodes with launch templates',
    url: 'https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html',
  },
} as const;

/**
 * The rule of the module comment above for one node group. `amiType` absent means EKS's default
 * (a node group read before node models, or a fleet file that names none); `launchTemplate` is
 * whether it was created with one.
 */
export function nodegroupReversibility(ng: {
  amiType?: AmiType | undefined;
  launchTemplate?: object | undefined;
}): NodegroupReversibility {
  const amiType = ng.amiType ?? DEFAULT_AMI_TYPE;
  if (amiType === 'CUSTOM' && ng.launchTemplate) {
    return {
      reversible: true,
      how: 'previous launch-template version',
      why: 'its launch template names a custom AMI: the previous launch-template version names the previous image',
      source: NODEGROUP_ROLLBACK_SOURCES.launchTemplates,
    };
  }
  const picked =
    amiType === 'CUSTOM' ? 'it names a custom AMI without a launch template' : `EKS picks its ${amiType} AMI`;
  return {
    reversible: false,
    why: `${picked}, and EKS cannot roll a node group back to an earlier Kubernetes or AMI version${
      ng.launchTemplate && amiType !== 'CUSTOM'
        ? ' (an earlier launch-template version without an image changes neither)'
        : ''
    }`,
    source: NODEGROUP_ROLLBACK_SOURCES.apiReference,
  };
}

/**
 * How a rollback's ending names the node groups it kept ("; node groups kept: node group a stays
 * at ..."): the cluster-upgrade workflow writes it, `fleetwave status` looks for it.
 */
export const NODEGROUPS_KEPT = 'node groups kept: ';

/** "stays at the new version: <why> (<source title>)": the reason a rollback gives for a node group it keeps. */
export function irreversibleNodegroupReason(name: string, at: string, rule: NodegroupReversibility): string {
  return `node group ${name} stays at ${at}: ${rule.why} (${rule.source.title})`;
}

/**
 * A fleet member's node group: its amiType (absent: EKS's default). A CUSTOM node group always has
 * a launch template (EKS requires one to name the AMI), so the rule sees one.
 */
export function memberNodegroupReversibility(ng: { amiType?: AmiType | undefined }): NodegroupReversibility {
  return nodegroupReversibility({ amiType: ng.amiType, launchTemplate: ng.amiType === 'CUSTOM' ? {} : undefined });
}

/**
 * A cluster's node models besides managed node groups, as counts: what a workflow input carries
 * for each of 5,000 clusters. Each field is absent when the cluster has none of that model.
 */
export interface NodeModelsSummary {
  /** EKS Auto Mode: its nodes follow the control plane. */
  autoMode?: true;
  /** Custom NodePools (Auto Mode's, or Karpenter's where `karpenter` is set). */
  nodePools?: number;
  /** Version of a self-installed Karpenter controller. */
  karpenter?: string;
  /** Self-managed node groups (Auto Scaling groups). */
  selfManagedGroups?: number;
  /** Their AMI families (the campaign pins a release of each for the target minor). */
  selfManagedAmiTypes?: AmiType[];
  /** Fargate profiles. */
  fargateProfiles?: number;
}

/**
 * Whether a cluster keeps the clean rollback path EKS's rollback best practice describes: its
 * control plane moves (hops), then bakes under gates (spec.rollback.controlPlaneBake) while add-ons
 * and nodes are still on the previous minor, and the spec lets fleetwave roll the control plane
 * back (spec.rollback.controlPlane). A failed bake then undoes the control plane alone, with no
 * node rollback, which EKS does not offer for node groups whose AMI it picks.
 */
export function keepsCleanRollbackPath(
  spec: { rollback: { controlPlane: boolean; controlPlaneBake?: string } },
  hops: number,
): boolean {
  return hops > 0 && spec.rollback.controlPlane && spec.rollback.controlPlaneBake !== undefined;
}
