/**
 * Who may do what in a simulated cluster: the EKS access entry of the caller and the access policy
 * associated with it, as the API server enforces them.
 *
 * The simulator gives every caller an access entry with the cluster's `accessPolicy` (fleet file;
 * default AmazonEKSClusterAdminPolicy, what EKS associates with the cluster creator:
 * https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html), scoped to the
 * cluster. `none` means the caller has no access entry: EKS then answers every authenticated request
 * with 401 Unauthorized, as for a principal it cannot map
 * (https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html).
 *
 * What a policy allows follows the tables of
 * https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html, which mirror the
 * Kubernetes user-facing roles (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles):
 * - AmazonEKSClusterAdminPolicy: every verb on every resource (cluster-admin);
 * - AmazonEKSAdminPolicy and AmazonEKSEditPolicy: read and write namespaced resources, including
 *   pods/eviction; no cluster-scoped resource (nodes, Karpenter's NodePools, NodeClaims,
 *   EC2NodeClasses) is in their tables, not even to read;
 * - AmazonEKSViewPolicy: get, list and watch namespaced resources except Secrets.
 * Refusals are 403 Forbidden Status objects worded as the API server words them, and
 * SelfSubjectAccessReview (POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews,
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access)
 * answers with the same rule.
 */
import { ACCESS_POLICIES, type AccessPolicyName } from '../domain/access';

export type SimAccessPolicy = AccessPolicyName | 'none';
export const SIM_ACCESS_POLICIES = [...ACCESS_POLICIES, 'none'] as const;

/** Resource attributes of a request, as the authorizer sees them. */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Cluster-scoped resources the simulator serves (everything else it serves is namespaced). */
const CLUSTER_SCOPED = new Set([
  'nodes',
  'namespaces',
  'persistentvolumes',
  'nodepools',
  'nodeclaims',
  'ec2nodeclasses',
  'customresourcedefinitions',
  'clusterroles',
  'clusterrolebindings',
]);
const READ_VERBS = new Set(['get', 'list', 'watch']);

/** Whether `policy` allows the request (the rule of the file header). */
export function policyAllows(policy: SimAccessPolicy, a: ResourceAttributes): boolean {
  if (policy === 'AmazonEKSClusterAdminPolicy') return true;
  if (policy === 'none') return false;
  if (CLUSTER_SCOPED.has(a.resource)) return false;
  if (policy === 'AmazonEKSViewPolicy') return READ_VERBS.has(a.verb) && a.resource !== 'secrets';
  return true;
}

/**
 * The attributes of a resource request (`/api/v1/...`, `/apis/<group>/<version>/...`), or undefined
 * for a non-resource path (discovery, /version), which every authenticated caller may read.
 */
export function requestAttributes(method: string, s: string[], query: URLSearchParams): ResourceAttributes | undefined {
  let group: string;
  let rest: string[];
  if (s[0] === 'api' && s[1]) [group, rest] = ['', s.slice(2)];
  else if (s[0] === 'apis' && s[1] && s[2]) [group, rest] = [s[1], s.slice(3)];
  else return undefined;
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest as [string, string | undefined, string | undefined];
  const watching = query.get('watch') === '1' || query.get('watch') === 'true';
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : watching
          ? 'watch'
          : 'list'
      : method === 'POST'
        ? 'create'
        : method === 'PUT'
          ? 'update'
          : method === 'PATCH'
            ? 'patch'
            : method === 'DELETE'
              ? name
                ? 'delete'
                : 'deletecollection'
              : method.toLowerCase();
  return {
    verb,
    group,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

/** The 403 message of the API server: `nodes "n1" is forbidden: User "…" cannot patch resource "nodes" …`. */
export function forbiddenMessage(user: string, a: ResourceAttributes): string {
  const res = `${a.resource}${a.subresource ? `/${a.subresource}` : ''}`;
  const what = `${a.resource}${a.group ? `.${a.group}` : ''}${a.name ? ` "${a.name}"` : ''}`;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${what} is forbidden: User "${user}" cannot ${a.verb} resource "${res}" in API group "${a.group}" ${where}`;
}

/** The answer to a SelfSubjectAccessReview body (its spec.resourceAttributes). */
export function selfSubjectAccessReview(policy: SimAccessPolicy, body: unknown): { status: number; body: unknown } {
  const spec = (body as { spec?: { resourceAttributes?: Record<string, unknown> } } | undefined)?.spec;
  const ra = spec?.resourceAttributes;
  if (!ra || typeof ra.verb !== 'string' || typeof ra.resource !== 'string') {
    return {
      status: 422,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
        message:
          'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified',
      },
    };
  }
  const attrs: ResourceAttributes = {
    verb: ra.verb,
    group: typeof ra.group === 'string' ? ra.group : '',
    resource: ra.resource,
    ...(typeof ra.subresource === 'string' && ra.subresource ? { subresource: ra.subresource } : {}),
    ...(typeof ra.namespace === 'string' && ra.namespace ? { namespace: ra.namespace } : {}),
    ...(typeof ra.name === 'string' && ra.name ? { name: ra.name } : {}),
  };
  const allowed = policyAllows(policy, attrs);
  return {
    status: 201,
    body: {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: ra },
      status: allowed
        ? { allowed: true, reason: `EKS Access Policy: allowed by ClusterRoleBinding of ${policy}` }
        : { allowed: false },
    },
  };
}
