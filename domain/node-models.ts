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
