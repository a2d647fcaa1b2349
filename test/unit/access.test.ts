/**
 * The permissions preflight asks for (domain/access.ts): only those the cluster's node models use,
 * never the reads preflight has just made, and everything when the node models could not be read.
 */
import { describe, expect, it } from 'vitest';
import {
  KUBERNETES_NEEDS,
  deniedBlocker,
  describeNeed,
  needScopes,
  preflightNeeds,
  unansweredWarning,
  type NeedScope,
} from '../../domain/access';

const plain = { autoMode: false, nodePools: [], selfManagedNodes: 0, fargateProfiles: [] };
const names = (scopes: NeedScope[] | undefined) =>
  preflightNeeds(scopes ? new Set(scopes) : undefined).map(describeNeed);

describe('preflight permissions', () => {
  it('a cluster of managed node groups needs nothing beyond the reads preflight made', () => {
    expect(names([])).toEqual([]);
    expect(needScopes(plain, true)).toEqual(new Set());
  });

  it('each node model adds its own writes', () => {
    expect(names(['self-managed'])).toEqual(['patch nodes', 'create pods/eviction']);
    expect(names(['karpenter'])).toEqual([
      'get deployments.apps',
      'patch nodepools.karpenter.sh',
      'list nodeclaims.karpenter.sh',
      'patch ec2nodeclasses.karpenter.k8s.aws',
    ]);
    expect(names(['auto-mode'])).toEqual(['patch nodepools.karpenter.sh', 'list nodeclaims.karpenter.sh']);
    expect(names(['fargate-restart'])).toEqual([
      'get deployments.apps',
      'get statefulsets.apps',
      'patch deployments.apps',
      'patch statefulsets.apps',
    ]);
  });

  it('node models unread: every permission but the baseline reads, the node-model reads included', () => {
    const all = names(undefined);
    expect(all).toContain('list nodes');
    expect(all).toContain('list nodepools.karpenter.sh');
    expect(all).not.toContain('list pods');
    expect(all).toEqual(KUBERNETES_NEEDS.filter((n) => n.readByPreflight !== 'baseline').map(describeNeed));
  });

  it('scopes from the detected node models', () => {
    expect(needScopes({ ...plain, selfManagedNodes: 2 }, false)).toEqual(new Set(['self-managed']));
    // Auto Mode's own NodePools are not a self-installed Karpenter.
    expect(needScopes({ ...plain, autoMode: true, nodePools: [{ autoMode: true }] }, false)).toEqual(
      new Set(['auto-mode']),
    );
    expect(needScopes({ ...plain, nodePools: [{ autoMode: false }] }, false)).toEqual(new Set(['karpenter']));
    expect(needScopes({ ...plain, nodeClasses: [{}] }, false)).toEqual(new Set(['karpenter']));
    // Fargate pods are only restarted under spec.nodes.fargate: restart.
    expect(needScopes({ ...plain, fargateProfiles: ['batch'] }, false)).toEqual(new Set());
    expect(needScopes({ ...plain, fargateProfiles: ['batch'] }, true)).toEqual(new Set(['fargate-restart']));
  });

  it('a refusal is a blocker naming each permission; a failed review a warning', () => {
    expect(deniedBlocker([])).toBeUndefined();
    expect(deniedBlocker(['patch nodes', 'create pods/eviction'])).toMatch(
      /^Kubernetes RBAC denies patch nodes, create pods\/eviction to the worker, .*`fleetwave doctor`/,
    );
    expect(unansweredWarning([], 'x')).toBeUndefined();
    expect(unansweredWarning(['patch nodes'], 'HTTP 503')).toMatch(/patch nodes \(SelfSubjectAccessReview: HTTP 503\)/);
  });
});
