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

/**
 * The node models and modes that bring permissions of their own: a cluster without them never makes
 * those requests, so preflight does not ask for them there (the doctor asks for every one).
 * - self-managed: self-managed node groups, cordoned and drained by fleetwave (self-managed.ts);
 * - karpenter: a self-installed Karpenter (its NodePools held, EC2NodeClasses pinned, karpenter.ts);
 * - auto-mode: EKS Auto Mode (NodeClaims followed, custom NodePools held during a bake, automode.ts);
 * - fargate-restart: Fargate pods whose owners the run restarts (spec.nodes.fargate: restart, fargate.ts).
 */
export type NeedScope = 'self-managed' | 'karpenter' | 'auto-mode' | 'fargate-restart';

/** One Kubernetes permission fleetwave uses, and what for. */
export interface KubernetesNeed {
  verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'update' | 'delete';
  /** API group; '' is the core group. */
  group: string;
  resource: string;
  subresource?: string;
  why: string;
  /** Needed only on clusters with one of these; absent: on every cluster. */
  only?: readonly NeedScope[];
  /**
   * A read preflight itself makes, in its Kubernetes baseline or its node-model reads: once that
   * read has answered, the API server has allowed it, so preflight does not ask again.
   */
  readByPreflight?: 'baseline' | 'node-models';
}

/**
 * Every Kubernetes request the activities make (activities/kubernetes.ts, nodepools.ts, automode.ts,
 * karpenter.ts, self-managed.ts, fargate.ts), as RBAC sees it.
 */
export const KUBERNETES_NEEDS: readonly KubernetesNeed[] = [
  {
    verb: 'list',
    group: '',
    resource: 'nodes',
    why: 'node readiness and kubelet versions',
    readByPreflight: 'node-models',
  },
  {
    verb: 'patch',
    group: '',
    resource: 'nodes',
    why: 'cordon self-managed nodes before replacing them',
    only: ['self-managed'],
  },
  {
    verb: 'list',
    group: '',
    resource: 'pods',
    why: 'crash-looping pods, drains and Fargate pods',
    readByPreflight: 'baseline',
  },
  {
    verb: 'create',
    group: '',
    resource: 'pods',
    subresource: 'eviction',
    why: 'drain self-managed nodes',
    only: ['self-managed'],
  },
  {
    verb: 'list',
    group: 'policy',
    resource: 'poddisruptionbudgets',
    why: 'PDBs that block drains',
    readByPreflight: 'baseline',
  },
  { verb: 'list', group: 'apps', resource: 'deployments', why: 'workloads available', readByPreflight: 'baseline' },
  { verb: 'list', group: 'apps', resource: 'statefulsets', why: 'workloads available', readByPreflight: 'baseline' },
  { verb: 'list', group: 'apps', resource: 'daemonsets', why: 'workloads available', readByPreflight: 'baseline' },
  {
    verb: 'get',
    group: 'apps',
    resource: 'deployments',
    why: 'a self-installed Karpenter and Fargate workloads',
    only: ['karpenter', 'fargate-restart'],
  },
  {
    verb: 'get',
    group: 'apps',
    resource: 'statefulsets',
    why: 'Fargate workloads to restart',
    only: ['fargate-restart'],
  },
  {
    verb: 'patch',
    group: 'apps',
    resource: 'deployments',
    why: 'restart Fargate workloads',
    only: ['fargate-restart'],
  },
  {
    verb: 'patch',
    group: 'apps',
    resource: 'statefulsets',
    why: 'restart Fargate workloads',
    only: ['fargate-restart'],
  },
  {
    verb: 'list',
    group: 'karpenter.sh',
    resource: 'nodepools',
    why: 'NodePools and their budgets (node models)',
    readByPreflight: 'node-models',
  },
  {
    verb: 'patch',
    group: 'karpenter.sh',
    resource: 'nodepools',
    why: 'hold and release NodePools during a bake',
    only: ['karpenter', 'auto-mode'],
  },
  {
    verb: 'list',
    group: 'karpenter.sh',
    resource: 'nodeclaims',
    why: 'drift of Karpenter and Auto Mode nodes',
    only: ['karpenter', 'auto-mode'],
  },
  {
    verb: 'patch',
    group: 'karpenter.k8s.aws',
    resource: 'ec2nodeclasses',
    why: 'pin and move AMI selector terms',
    only: ['karpenter'],
  },
];

/**
 * The scopes of a cluster from the node models preflight detected (pure). A self-installed
 * Karpenter shows as NodePools of its own or EC2NodeClasses; Fargate counts only when the run
 * restarts its pods' owners.
 */
export function needScopes(
  models: {
    autoMode: boolean;
    nodePools: readonly { autoMode: boolean }[];
    nodeClasses?: readonly unknown[];
    selfManagedNodes: number;
    fargateProfiles: readonly string[];
  },
  fargateRestart: boolean,
): Set<NeedScope> {
  const scopes = new Set<NeedScope>();
  if (models.selfManagedNodes > 0) scopes.add('self-managed');
  if (models.nodePools.some((p) => !p.autoMode) || (models.nodeClasses?.length ?? 0) > 0) scopes.add('karpenter');
  if (models.autoMode) scopes.add('auto-mode');
  if (fargateRestart && models.fargateProfiles.length > 0) scopes.add('fargate-restart');
  return scopes;
}

/**
 * The permissions preflight asks the API server about for one cluster, once its Kubernetes
 * baseline is captured (pure).
 *
 * `scopes`: the node models and modes of the cluster (see {@link NeedScope}); undefined when
 * preflight could not read the node models, and then every permission is asked, since any of them
 * may be needed, the node-model reads included. The baseline's reads have answered already.
 */
export function preflightNeeds(scopes: ReadonlySet<NeedScope> | undefined): KubernetesNeed[] {
  return KUBERNETES_NEEDS.filter((n) => {
    if (n.readByPreflight === 'baseline') return false;
    if (!scopes) return true;
    if (n.readByPreflight === 'node-models') return false;
    return !n.only || n.only.some((s) => scopes.has(s));
  });
}

/**
 * The preflight blocker for permissions the API server refused; undefined when none was. An
 * upgrade that would stop half-way for want of a permission must not start.
 */
export function deniedBlocker(denied: readonly string[]): string | undefined {
  if (denied.length === 0) return undefined;
  return (
    `Kubernetes RBAC denies ${denied.join(', ')} to the worker, which this upgrade needs: ` +
    'grant them through its EKS access entry (an access policy) or RBAC; `fleetwave doctor` shows the entry and its policies'
  );
}

/**
 * The preflight warning for permissions the API server could not be asked about (the review
 * failed, not refused): the upgrade goes on, as the reads and writes themselves fail loudly if
 * they are refused.
 */
export function unansweredWarning(unanswered: readonly string[], why: string): string | undefined {
  if (unanswered.length === 0) return undefined;
  return `could not ask the API server whether the worker may ${unanswered.join(', ')} (SelfSubjectAccessReview: ${why}); \`fleetwave doctor\` checks them`;
}

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

/** The body of a SelfSubjectAccessReview for one permission, across all namespaces. */
export function accessReviewBody(need: KubernetesNeed) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: {
      resourceAttributes: {
        verb: need.verb,
        group: need.group,
        resource: need.resource,
        ...(need.subresource ? { subresource: need.subresource } : {}),
      },
    },
  };
}
