/**
 * The doctor's check of one cluster, run as an activity on the cluster's own task queue so that it
 * sees what the worker that will upgrade the cluster sees: its network path to the endpoint, its
 * IAM principal, the access entry EKS holds for that principal, and what the API server lets it do.
 *
 * EKS: DescribeCluster (endpoint, authentication mode), ListAccessEntries and
 * ListAssociatedAccessPolicies (https://docs.aws.amazon.com/eks/latest/APIReference/API_ListAccessEntries.html,
 * API_ListAssociatedAccessPolicies.html). Kubernetes: one SelfSubjectAccessReview per permission of
 * domain/access.ts, the same question `kubectl auth can-i` asks
 * (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access).
 * Nothing is changed anywhere.
 */
import {
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
  type AssociatedAccessPolicy,
} from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import {
  KUBERNETES_NEEDS,
  accessReviewBody,
  describeNeed,
  missingAccess,
  principalOfCaller,
  type ClusterAccessReport,
} from '../domain/access';
import type { ResolvedDeps } from './deps';
import { clusterAccess, describeClusterRaw, listAll } from './eks/read';
import type { ClusterRef } from './types';

/** Input of {@link AccessActivities.checkClusterAccess}. */
export interface CheckClusterAccessInput {
  cluster: ClusterRef;
}

/** The doctor's activity; registered by every worker, whatever its task queue. */
export interface AccessActivities {
  checkClusterAccess(input: CheckClusterAccessInput): Promise<ClusterAccessReport>;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** HTTP status of a failed Kubernetes client call, if it got an answer. */
function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function createAccessActivities(deps: ResolvedDeps): AccessActivities {
  return {
    async checkClusterAccess({ cluster }) {
      const taskQueue = activityTaskQueue();
      const base = { cluster: cluster.name, ...(taskQueue ? { taskQueue } : {}) };
      const notes: string[] = [];

      let principal: string | undefined;
      const sts = deps.sts?.(cluster);
      if (sts) {
        try {
          const who = await sts.send(new GetCallerIdentityCommand({}));
          if (who.Arn) principal = principalOfCaller(who.Arn);
        } catch (err) {
          notes.push(`STS GetCallerIdentity failed: ${messageOf(err)}`);
        }
      }

      const eks = deps.eks(cluster);
      let described;
      try {
        described = await describeClusterRaw(eks, cluster.name);
      } catch (err) {
        return {
          ...base,
          reachable: false,
          ...(principal ? { principal } : {}),
          policies: [],
          denied: [],
          missing: [`EKS DescribeCluster failed: ${messageOf(err)}`, ...notes],
        };
      }
      const authenticationMode = described.accessConfig?.authenticationMode;

      // The access entry: only in API modes; CONFIG_MAP clusters map principals in aws-auth instead.
      let accessEntry: boolean | undefined;
      const policies: ClusterAccessReport['policies'] = [];
      if (principal && authenticationMode !== 'CONFIG_MAP') {
        try {
          const entries = await listAll('ListAccessEntries', async (nextToken) => {
            const out = await eks.send(new ListAccessEntriesCommand({ clusterName: cluster.name, nextToken }));
            return { items: out.accessEntries, nextToken: out.nextToken };
          });
          accessEntry = entries.includes(principal);
          if (accessEntry) {
            const associated = await listAll<AssociatedAccessPolicy>(
              'ListAssociatedAccessPolicies',
              async (nextToken) => {
                const out = await eks.send(
                  new ListAssociatedAccessPoliciesCommand({
                    clusterName: cluster.name,
                    principalArn: principal,
                    nextToken,
                  }),
                );
                return { items: out.associatedAccessPolicies, nextToken: out.nextToken };
              },
            );
            for (const p of associated) {
              const scope =
                p.accessScope?.type === 'namespace'
                  ? `namespaces ${(p.accessScope.namespaces ?? []).join(', ')}`
                  : 'cluster';
              policies.push({ name: (p.policyArn ?? '?').replace(/^.*\//, ''), scope });
            }
          }
        } catch (err) {
          notes.push(
            `cannot read access entries (${messageOf(err)}): the worker's IAM policy needs eks:ListAccessEntries and eks:ListAssociatedAccessPolicies`,
          );
        }
      }

      let reachable = true;
      let unreachableWhy: string | undefined;
      const denied: string[] = [];
      const endpoint = described.endpoint;
      try {
        const kc = await deps.kube(cluster, clusterAccess(described));
        const api = kc.makeApiClient(AuthorizationV1Api);
        // All at once; the answers come back in the order of the needs.
        const reviews = await Promise.all(
          KUBERNETES_NEEDS.map((need) => api.createSelfSubjectAccessReview({ body: accessReviewBody(need) })),
        );
        KUBERNETES_NEEDS.forEach((need, i) => {
          if (!reviews[i]?.status?.allowed) denied.push(describeNeed(need));
        });
      } catch (err) {
        const code = httpCode(err);
        if (code === 401)
          notes.push(
            `the API server refused the worker's token (401 Unauthorized): no access entry or aws-auth mapping for ${principal ?? 'its principal'}`,
          );
        else if (code !== undefined) notes.push(`SelfSubjectAccessReview answered ${code}: ${messageOf(err)}`);
        else {
          reachable = false;
          unreachableWhy = messageOf(err);
        }
      }

      const report = {
        ...base,
        reachable,
        ...(endpoint ? { endpoint } : {}),
        ...(principal ? { principal } : {}),
        ...(authenticationMode ? { authenticationMode } : {}),
        ...(accessEntry !== undefined ? { accessEntry } : {}),
        policies,
        denied,
      };
      return { ...report, missing: [...missingAccess(report, unreachableWhy), ...notes] };
    },
  };
}

/** The task queue this attempt was delivered on (undefined outside an activity, in unit tests). */
function activityTaskQueue(): string | undefined {
  try {
    return Context.current().info.taskQueue;
  } catch {
    return undefined;
  }
}
