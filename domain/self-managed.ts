/**
 * Self-managed node groups (EC2 Auto Scaling groups): the pure rules fleetwave's node step and
 * `fleetwave plan` share.
 *
 * - Which groups belong to a cluster: the `kubernetes.io/cluster/<name>` tag (value `owned` or
 *   `shared`), which EKS's self-managed node CloudFormation templates and eksctl put on the group,
 *   or `eks:cluster-name`; groups with `eks:nodegroup-name` are the Auto Scaling groups of EKS
 *   managed node groups and are EKS's to change (userguide/worker.html,
 *   userguide/managed-node-groups.html).
 * - How a refresh is undone: RollbackInstanceRefresh only while the refresh is active, started with
 *   a desired configuration, the group on a numbered launch-template version, and the previous
 *   version naming an AMI ID rather than an SSM parameter
 *   (autoscaling/ec2/userguide/instance-refresh-rollback.html); otherwise a new refresh forward to
 *   the previous version.
 */
import { AMI_TYPES, amiTypeInfo, type AmiType } from './node-models';

/** spec.nodes.selfManaged's defaults, for histories started before spec.nodes existed. */
export const SELF_MANAGED_DEFAULTS: { minHealthyPercentage: number; checkpoints: number[]; drainTimeout: string } = {
  minHealthyPercentage: 90,
  checkpoints: [50, 100],
  drainTimeout: '15m',
};

/** Whether an Auto Scaling group with these tags is a self-managed node group of `cluster`. */
export function isSelfManagedGroupOf(cluster: string, tags: Record<string, string>): boolean {
  if (tags['eks:nodegroup-name'] !== undefined) return false;
  const k8s = tags[`kubernetes.io/cluster/${cluster}`];
  return k8s === 'owned' || k8s === 'shared' || tags['eks:cluster-name'] === cluster;
}

/** What a rollback of a self-managed group's refresh can do, as DescribeInstanceRefreshes shows it. */
export interface RefreshView {
  status: string;
  hasDesiredConfiguration: boolean;
  /** The group's launch-template version: a number, `$Latest` or `$Default`. */
  groupVersion: string;
  /** The image of the version the group ran before the refresh. */
  previousImageId: string;
}

/** How a self-managed group's refresh is undone, as `fleetwave plan` says it. */
export const SELF_MANAGED_ROLLBACK =
  'RollbackInstanceRefresh while the refresh is still active; after it has ended, a refresh forward to the previous launch-template version';

export type SelfManagedRollbackPath = { how: 'rollback' } | { how: 'forward'; reason: string };

const ROLLBACK_STATUSES = ['Pending', 'InProgress', 'Baking'];

/** RollbackInstanceRefresh where AWS allows it, or else a forward refresh to the previous version (and why). */
export function selfManagedRollbackPath(r: RefreshView): SelfManagedRollbackPath {
  if (!ROLLBACK_STATUSES.includes(r.status)) {
    return { how: 'forward', reason: `the instance refresh is ${r.status}; only an active one can be rolled back` };
  }
  if (!r.hasDesiredConfiguration) {
    return { how: 'forward', reason: 'the instance refresh was started without a desired configuration' };
  }
  if (r.groupVersion === '$Latest' || r.groupVersion === '$Default') {
    return { how: 'forward', reason: `the group uses launch-template version ${r.groupVersion}` };
  }
  if (r.previousImageId.startsWith('resolve:ssm:')) {
    return { how: 'forward', reason: 'the previous launch-template version names an SSM parameter, not an AMI ID' };
  }
  return { how: 'rollback' };
}

/**
 * The public EKS optimized AMI's name for a release of `amiType` on `minor`, as EKS and Bottlerocket
 * name them (userguide/eks-optimized-ami.html, retrieve-ami-id.html, retrieve-ami-id-bottlerocket.html):
 * what DescribeImages finds the pinned release's AMI ID by. Undefined for Windows and custom AMIs.
 */
export function eksAmiName(amiType: AmiType, minor: string, release: string): string | undefined {
  const { family, arch = 'x86_64' } = amiTypeInfo(amiType);
  const date = release.slice(release.lastIndexOf('-') + 1);
  if (family === 'al2023') {
    const variant = amiType.endsWith('_NVIDIA') ? 'nvidia' : amiType.endsWith('_NEURON') ? 'neuron' : 'standard';
    return `amazon-eks-node-al2023-${arch}-${variant}-${minor}-v${date}`;
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
  return undefined;
}

/**
 * The PodDisruptionBudget named in a 429 from the Eviction API: the API server's DisruptionBudget
 * cause says "The disruption budget <name> needs <n> healthy pods and has <m> currently"
 * (kubernetes pkg/registry/core/pod/storage/eviction.go).
 */
export function pdbOfEvictionRefusal(body: unknown): string | undefined {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return /disruption budget ([a-z0-9.-]+)/i.exec(text)?.[1];
}

/**
 * The EKS amiType of a public EKS optimized or Bottlerocket AMI, from its name (the inverse of
 * {@link eksAmiName}): how a self-managed group's family is told from the image it runs.
 * Undefined for any other image (custom AMIs, Windows).
 */
export function amiTypeOfEksAmiName(name: string): AmiType | undefined {
  const arch = (a: string) => (a === 'x86_64' ? 'x86_64' : 'ARM_64');
  let m = /^amazon-eks-node-al2023-(x86_64|arm64)-(standard|nvidia|neuron)-\d+\.\d+-v/.exec(name);
  if (m) return known(`AL2023_${arch(m[1] as string)}_${(m[2] as string).toUpperCase()}`);
  m = /^amazon-eks-(arm64-|gpu-)?node-\d+\.\d+-v/.exec(name);
  if (m) return m[1] === 'arm64-' ? 'AL2_ARM_64' : m[1] === 'gpu-' ? 'AL2_x86_64_GPU' : 'AL2_x86_64';
  m = /^bottlerocket-aws-k8s-\d+\.\d+(-nvidia|-fips)?-(x86_64|aarch64)-v/.exec(name);
  if (m)
    return known(
      `BOTTLEROCKET_${m[2] === 'aarch64' ? 'ARM_64' : 'x86_64'}${(m[1] ?? '').replace('-', '_').toUpperCase()}`,
    );
  return undefined;
}

function known(t: string): AmiType | undefined {
  return (AMI_TYPES as readonly string[]).includes(t) ? (t as AmiType) : undefined;
}
