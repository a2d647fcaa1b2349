/**
 * What fleetwave must be allowed to do in a cluster, and how a doctor's findings read.
 *
 * Access to an EKS cluster's Kubernetes API has two layers: an EKS access entry for the IAM
 * principal (without one, the API server answers 401), and Kubernetes authorization of each
 * request, from the access policies associated with the entry or RBAC bound to its groups
 * (https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html). Only the API server
 * knows the second layer for sure, so the doctor asks it (SelfSubjectAccessReview) for every
 * verb below, and reads the entry and its policies from EKS to explain a refusal.
 */

/** The EKS access policies the doctor names; others are reported by ARN. */
export const ACCESS_POLICIES = [
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSViewPolicy',
] as const;
export type AccessPolicyName = (typeof ACCESS_POLICIES)[number];

/** `arn:aws:eks::aws:cluster-access-policy/<name>` (the ARN form ListAccessPolicies answers). */
export function accessPolicyArn(name: string, partition = 'aws'): string {
  return `arn:${partition}:eks::aws:cluster-access-policy/${name}`;
}

/** One Kubernetes permission fleetwave uses, and what for. */
export interface KubernetesNeed {
  verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'update' | 'delete';
  /** API group; '' is the core group. */
  group: string;
  resource: string;
  subresource?: string;
  why: string;
}

/**
 * Every Kubernetes request the activities make (activities/kubernetes.ts, nodepools.ts, automode.ts,
 * karpenter.ts, self-managed.ts, fargate.ts), as RBAC sees it. A cluster without Karpenter never
 * needs the karpenter.sh ones, but RBAC answers for them all the same, so they are asked everywhere.
 */
export const KUBERNETES_NEEDS: readonly KubernetesNeed[] = [
  { verb: 'list', group: '', resource: 'nodes', why: 'node readiness and kubelet versions' },
  { verb: 'patch', group: '', resource: 'nodes', why: 'cordon self-managed nodes before replacing them' },
  { verb: 'list', group: '', resource: 'pods', why: 'crash-looping pods, drains and Fargate pods' },
  { verb: 'create', group: '', resource: 'pods', subresource: 'eviction', why: 'drain self-managed nodes' },
  { verb: 'list', group: 'policy', resource: 'poddisruptionbudgets', why: 'PDBs that block drains' },
  { verb: 'get', group: 'apps', resource: 'deployments', why: 'a self-installed Karpenter and Fargate workloads' },
  { verb: 'patch', group: 'apps', resource: 'deployments', why: 'restart Fargate workloads, pin Karpenter' },
  { verb: 'patch', group: 'apps', resource: 'statefulsets', why: 'restart Fargate workloads' },
  { verb: 'list', group: 'karpenter.sh', resource: 'nodepools', why: 'NodePool budgets' },
  { verb: 'patch', group: 'karpenter.sh', resource: 'nodepools', why: 'hold and release NodePools during a bake' },
  { verb: 'list', group: 'karpenter.sh', resource: 'nodeclaims', why: 'drift of Karpenter and Auto Mode nodes' },
  { verb: 'patch', group: 'karpenter.k8s.aws', resource: 'ec2nodeclasses', why: 'pin and move AMI selector terms' },
];

/** `patch deployments.apps`, `create pods/eviction`: how kubectl auth can-i names a permission. */
export function describeNeed(n: Pick<KubernetesNeed, 'verb' | 'group' | 'resource' | 'subresource'>): string {
  const resource = `${n.resource}${n.subresource ? `/${n.subresource}` : ''}`;
  return `${n.verb} ${resource}${n.group ? `.${n.group}` : ''}`;
}

/**
 * The IAM principal an access entry names for a caller: an assumed-role session is its role (the
 * role's path is not in the session ARN, so a role with a path is named without it); users and
 * roles are themselves. https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html
 */
export function principalOfCaller(callerArn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/** What the doctor found for one cluster. */
export interface ClusterAccessReport {
  cluster: string;
  /** The task queue whose worker ran the check; absent: the campaign's. */
  taskQueue?: string;
  /** The identity of the worker that ran the check. */
  worker?: string;
  /** The worker reached the Kubernetes endpoint (it answered, whatever it said). */
  reachable: boolean;
  endpoint?: string;
  /** The IAM principal the worker acts as for this cluster. */
  principal?: string;
  /** The cluster's authentication mode (EKS accessConfig). */
  authenticationMode?: string;
  /** The worker's access entry exists; undefined when EKS could not tell (mode CONFIG_MAP, or no permission). */
  accessEntry?: boolean;
  /** Access policies associated with the entry (name, scope). */
  policies: { name: string; scope: string }[];
  /** Permissions the API server refused. */
  denied: string[];
  /** Everything that stands in the way, one plain sentence each; empty when the cluster is ready. */
  missing: string[];
}

/** The findings of one check, as the doctor names them (pure, for the activity and for tests). */
export function missingAccess(r: Omit<ClusterAccessReport, 'missing'>, unreachableWhy?: string): string[] {
  const missing: string[] = [];
  if (!r.reachable) {
    missing.push(
      `the Kubernetes endpoint is not reachable from the worker${unreachableWhy ? ` (${unreachableWhy})` : ''}`,
    );
    return missing;
  }
  if (r.accessEntry === false) missing.push(`no EKS access entry for ${r.principal ?? 'the worker principal'}`);
  if (r.denied.length > 0) {
    const policies = r.policies.length > 0 ? r.policies.map((p) => p.name).join(', ') : 'no access policy';
    missing.push(`Kubernetes RBAC denies ${r.denied.join(', ')} (the access entry has ${policies})`);
  }
  return missing;
}
