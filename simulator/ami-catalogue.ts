/**
 * The EKS optimized AMIs of every family, per amiType and Kubernetes minor: the release versions
 * EKS reports in DescribeNodegroup.releaseVersion, the AMI names and IDs per region, and the
 * Kubernetes patch their kubelet runs. SSM (aws-misc.ts), EC2 (ec2-api.ts), the node-group rules
 * and the nodes of the Kubernetes API all read them from here.
 *
 * Release-version formats, as EKS reports them:
 * - Amazon Linux (AL2, AL2023, every variant): `<k8s patch>-<build date>`, "1.31.5-20250304"
 *   (userguide/eks-linux-ami-versions.html; SSM `release_version`).
 * - Bottlerocket: the Bottlerocket OS version and commit, "1.34.0-18d04e52", the same string for
 *   every Kubernetes minor the OS release ships (SSM `image_version`; hashicorp/terraform-provider-aws#40903
 *   shows aws-k8s-1.29/1.30/1.31 all at "1.30.0-ca9b9399"; EKS answers "Requested release version
 *   1.34.0 is not valid for kubernetes version 1.32" to a short one, cloudposse/terraform-aws-eks-node-group#209).
 * - Windows: `<minor>-<YYYY.MM.DD>`, "1.24-2023.02.14" (cloudposse/terraform-aws-eks-node-group#139;
 *   userguide/eks-ami-versions-windows.html). Thin: no AWS page shows a DescribeNodegroup answer.
 * - CUSTOM: the AMI ID the launch template names (API reference, Nodegroup `releaseVersion`).
 */
import { AMI_TYPES, LAST_AL2_MINOR, amiTypeInfo, type AmiType, type Architecture } from '../domain/node-models';
import { compareAddonVersions } from '../domain/versions';
import { OLDER_MINORS, SIM_MINORS, amiReleasesOf, compareMinor, releaseKubernetesVersion, toMinor } from './catalogue';
import { hexOf } from './random';

/** Every minor the simulator runs, oldest first. */
export const ALL_MINORS: readonly string[] = [...OLDER_MINORS, ...SIM_MINORS];

/** AMI types EKS publishes optimized AMIs for (every one but CUSTOM). */
export const OPTIMIZED_AMI_TYPES = AMI_TYPES.filter((t): t is Exclude<AmiType, 'CUSTOM'> => t !== 'CUSTOM');

/**
 * Bottlerocket OS releases, oldest first. "1.34.0-18d04e52" and "1.19.2-29cc92cc" are real
 * (the issues cited above); the others are illustrative of the format.
 */
const BOTTLEROCKET_RELEASES: readonly string[] = [
  '1.19.2-29cc92cc',
  '1.20.5-a3e8bda1',
  '1.32.0-cacc4ce9',
  '1.33.0-a0fe3a0e',
  '1.34.0-18d04e52',
];

/** Which Bottlerocket releases ship a minor: extended-support minors the old ones, 1.33 only the newest two. */
function bottlerocketReleasesOf(minor: string): readonly string[] {
  if (OLDER_MINORS.includes(minor)) return BOTTLEROCKET_RELEASES.slice(0, 2);
  if (minor === '1.33') return BOTTLEROCKET_RELEASES.slice(3);
  return BOTTLEROCKET_RELEASES.slice(2);
}

/**
 * Whether EKS publishes an AMI of this type for this minor: AL2 ends with 1.32 (LAST_AL2_MINOR);
 * Windows Server 2025 AMIs exist from 1.31 on (thin: the first minor is not in the sources read).
 */
export function publishesAmi(amiType: AmiType, minor: string): boolean {
  if (amiType === 'CUSTOM' || !ALL_MINORS.includes(minor)) return false;
  const { family } = amiTypeInfo(amiType);
  if (family === 'al2') return compareMinor(minor, LAST_AL2_MINOR) <= 0;
  if (amiType.includes('_2025_')) return compareMinor(minor, '1.31') >= 0;
  return true;
}

/** Release versions of an AMI type for a minor, oldest first; the last is what `latest`/`recommended` name. */
export function releasesOf(amiType: AmiType, minor: string): readonly string[] {
  if (!publishesAmi(amiType, minor)) return [];
  const family = amiTypeInfo(amiType).family;
  if (family === 'bottlerocket') return bottlerocketReleasesOf(minor);
  const linux = amiReleasesOf(minor);
  if (family === 'windows') return linux.map((r) => windowsRelease(minor, r));
  return linux;
}

/** "1.31", "1.31.5-20250304" → "1.31-2025.03.04": Windows builds follow the Linux build dates here. */
function windowsRelease(minor: string, linuxRelease: string): string {
  const d = linuxRelease.slice(linuxRelease.lastIndexOf('-') + 1);
  return `${minor}-${d.slice(0, 4)}.${d.slice(4, 6)}.${d.slice(6, 8)}`;
}

/** The newest release of an AMI type for a minor. */
export function latestReleaseOf(amiType: AmiType, minor: string): string | undefined {
  const list = releasesOf(amiType, minor);
  return list[list.length - 1];
}

/** Orders two releases of one AMI type: Bottlerocket by OS version, Windows by date, Amazon Linux by version then date. */
export function compareReleasesOf(amiType: AmiType, a: string, b: string): number {
  if (amiTypeInfo(amiType).family === 'windows') {
    const minorOrder = compareMinor(a.split('-')[0] ?? a, b.split('-')[0] ?? b);
    return minorOrder !== 0 ? minorOrder : a.localeCompare(b);
  }
  return compareAddonVersions(a, b);
}

/**
 * The minor a release version pins, where its format says (Amazon Linux, Windows); undefined for
 * Bottlerocket, whose OS release ships several minors, and for a string of no family's format.
 */
export function releaseMinorOf(amiType: AmiType, release: string): string | undefined {
  const family = amiTypeInfo(amiType).family;
  if (family === 'windows') return /^(\d+\.\d+)-\d{4}\.\d{2}\.\d{2}$/.exec(release)?.[1];
  if (family === 'al2' || family === 'al2023')
    return /^\d+\.\d+\.\d+-\d{8}$/.test(release) ? toMinor(release) : undefined;
  return undefined;
}

/**
 * Whether a fleet file may declare `release` for a node group of this type at `minor`: Amazon Linux
 * and Windows releases of that minor (any build date), or any Bottlerocket OS version.
 */
export function isReleaseOf(amiType: AmiType, release: string, minor: string): boolean {
  if (amiTypeInfo(amiType).family === 'bottlerocket') return /^\d+\.\d+\.\d+-[0-9a-f]{8}$/.test(release);
  return releaseMinorOf(amiType, release) === minor;
}

/** The Kubernetes patch an AMI's kubelet runs ("1.31.5"): Amazon Linux from its release, others from the matching Linux build. */
export function kubernetesPatchOf(amiType: AmiType, minor: string, release: string): string {
  const family = amiTypeInfo(amiType).family;
  if (family === 'al2' || family === 'al2023') return releaseKubernetesVersion(release);
  const linux = amiReleasesOf(minor);
  const own = releasesOf(amiType, minor);
  const at = Math.max(0, Math.min(linux.length - 1, own.indexOf(release)));
  return releaseKubernetesVersion(linux[at] ?? `${minor}.0-0`);
}

const ARCH_IN_NAME: Record<Architecture, string> = { x86_64: 'x86_64', arm64: 'arm64' };

/** The public AMI's name, as EKS and Bottlerocket name them. */
export function amiNameOf(amiType: AmiType, minor: string, release: string): string {
  const { family, arch = 'x86_64' } = amiTypeInfo(amiType);
  const date = release.slice(release.lastIndexOf('-') + 1);
  if (family === 'al2023') {
    const variant = amiType.endsWith('_NVIDIA') ? 'nvidia' : amiType.endsWith('_NEURON') ? 'neuron' : 'standard';
    return `amazon-eks-node-al2023-${ARCH_IN_NAME[arch]}-${variant}-${minor}-v${date}`;
  }
  if (family === 'al2') {
    const prefix =
      amiType === 'AL2_ARM_64'
        ? 'amazon-eks-arm64-node'
        : amiType === 'AL2_x86_64_GPU'
          ? 'amazon-eks-gpu-node'
          : 'amazon-eks-node';
    return `${prefix}-${minor}-v${date}`;
  }
  if (family === 'bottlerocket') {
    const flavour = amiType.endsWith('_NVIDIA') ? '-nvidia' : amiType.endsWith('_FIPS') ? '-fips' : '';
    return `bottlerocket-aws-k8s-${minor}${flavour}-${arch === 'arm64' ? 'aarch64' : 'x86_64'}-v${release}`;
  }
  const [, edition = 'Core', year = '2022'] = /^WINDOWS_(CORE|FULL)_(\d{4})_/.exec(amiType) ?? [];
  const windowsDate = release.slice(release.indexOf('-') + 1);
  return `Windows_Server-${year}-English-${edition === 'CORE' ? 'Core' : 'Full'}-EKS_Optimized-${minor}-${windowsDate}`;
}

/**
 * The AMI ID of a release in a region. AL2023 x86_64 standard keeps the IDs the simulator always
 * gave (tests and recorded histories name them); other types mix the type and minor in, since a
 * Bottlerocket release is one image per minor.
 */
export function amiImageIdOf(amiType: AmiType, minor: string, release: string, region: string): string {
  if (amiType === 'AL2023_x86_64_STANDARD') return `ami-0${hexOf(16, 'ami', release, region)}`;
  return `ami-0${hexOf(16, 'ami', amiType, minor, release, region)}`;
}

/** One public EKS optimized AMI. */
export interface PublicAmi {
  imageId: string;
  name: string;
  amiType: Exclude<AmiType, 'CUSTOM'>;
  minor: string;
  release: string;
  arch: Architecture;
}

const publicByRegion = new Map<string, Map<string, PublicAmi>>();

/** Every public EKS optimized AMI of a region by image ID (built once per region, on first use). */
export function publicAmis(region: string): ReadonlyMap<string, PublicAmi> {
  let byId = publicByRegion.get(region);
  if (!byId) {
    byId = new Map();
    for (const amiType of OPTIMIZED_AMI_TYPES) {
      for (const minor of ALL_MINORS) {
        for (const release of releasesOf(amiType, minor)) {
          const imageId = amiImageIdOf(amiType, minor, release, region);
          const arch = amiTypeInfo(amiType).arch ?? 'x86_64';
          byId.set(imageId, { imageId, name: amiNameOf(amiType, minor, release), amiType, minor, release, arch });
        }
      }
    }
    publicByRegion.set(region, byId);
  }
  return byId;
}
