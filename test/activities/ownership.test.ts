/**
 * Ownership against the simulator: preflight reads who owns a node group from its EKS tags
 * (DescribeNodegroup through the AWS SDK) and who owns a NodePool from its metadata (annotated here
 * through @kubernetes/client-node, as Argo CD's sync would leave it) and who owns a self-managed
 * group from its Auto Scaling group tags (DescribeAutoScalingGroups); the workflow's own pure
 * functions then refuse the change, or let it through under spec.nodes.allowOwnedBy.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import type { PinnedVersions, PreflightResult } from '../../activities/types';
import { assessOwnership } from '../../domain/ownership';
import type { OwnerTool } from '../../domain/spec';
import { ownedChanges, planUpgrade } from '../../workflows/cluster-upgrade/plan';
import type { ClusterUpgradeInput } from '../../workflows/definitions';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

beforeAll(async () => {
  h = await startSimHarness([
    clusterEntry('owned-ngs', {
      nodegroups: [
        { name: 'argo', nodes: 1, maxUnavailable: 1, managedBy: 'argocd' },
        { name: 'tf', nodes: 1, maxUnavailable: 1, managedBy: 'terraform' },
        { name: 'free', nodes: 1, maxUnavailable: 1 },
      ],
    }),
    clusterEntry('karp-markers', {
      nodegroups: [],
      karpenter: { version: '1.5.0', managedBy: 'terraform' },
      nodePools: [
        { name: 'argo', nodes: 1, budgetNodes: '10%', managedBy: 'argocd' },
        { name: 'flux', nodes: 1, budgetNodes: '10%', managedBy: 'flux' },
        { name: 'helm', nodes: 1, budgetNodes: '10%', managedBy: 'helm' },
        { name: 'plain', nodes: 1, budgetNodes: '10%' },
      ],
    }),
    clusterEntry('owned-asgs', {
      nodegroups: [],
      selfManagedGroups: [
        { name: 'tf-asg', nodes: 1, managedBy: 'terraform' },
        { name: 'argo-asg', nodes: 1, managedBy: 'argocd' },
        { name: 'free-asg', nodes: 1 },
      ],
    }),
    clusterEntry('karp-owned', {
      nodegroups: [],
      karpenter: { version: '1.5.0' },
      nodePools: [
        { name: 'default', nodes: 2, budgetNodes: '10%' },
        { name: 'spare', nodes: 1, budgetNodes: '10%' },
      ],
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

async function preflight(cluster: string): Promise<PreflightResult> {
  return runActivity(h.activities.preflightCluster, {
    cluster: h.ref(cluster),
    targetVersion: '1.30',
    pinned,
    captureBaseline: true,
  });
}

/** What the workflow's preflight decides about owned objects (workflows/cluster-upgrade.ts). */
function verdict(cluster: string, result: PreflightResult, allowOwnedBy: OwnerTool[] = []) {
  const input = {
    campaign: 'own',
    cluster: h.ref(cluster),
    targetVersion: '1.30',
    pinned,
    spec: { target: { skipAddons: true, skipNodegroups: false } },
    attempt: 1,
  } as unknown as ClusterUpgradeInput;
  return assessOwnership(ownedChanges(planUpgrade(input, result)), allowOwnedBy);
}

describe('ownership at preflight', () => {
  it('reads the owner of each node group from its EKS tags', async () => {
    const result = await preflight('owned-ngs');
    const owners = Object.fromEntries(result.state.nodegroups.map((ng) => [ng.name, ng.owner]));
    expect(owners).toEqual({
      argo: { tool: 'argocd', evidence: 'tag ManagedBy=argocd' },
      tf: { tool: 'terraform', evidence: 'tag Terraform=true' },
      free: undefined,
    });
  });

  it('refuses to update node groups Argo CD and Terraform own, naming tool, evidence and fix', async () => {
    const { blockers, warnings } = verdict('owned-ngs', await preflight('owned-ngs'));
    expect(blockers).toEqual([
      expect.stringMatching(
        /^node group argo is owned by argocd \(tag ManagedBy=argocd\).*spec\.nodes\.allowOwnedBy: \[argocd\]$/,
      ),
      expect.stringMatching(
        /^node group tf is owned by terraform \(tag Terraform=true\).*allowOwnedBy: \[terraform\]$/,
      ),
    ]);
    expect(warnings).toEqual([]);
  });

  it('allowOwnedBy lets the named tools through with a warning', async () => {
    const { blockers, warnings } = verdict('owned-ngs', await preflight('owned-ngs'), ['argocd', 'terraform']);
    expect(blockers).toEqual([]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('node group argo is owned by argocd');
  });

  it('a NodePool Argo CD tracks blocks a campaign whose control-plane hop moves its nodes', async () => {
    const before = await preflight('karp-owned');
    expect(verdict('karp-owned', before).blockers).toEqual([]);

    // Argo CD's annotation tracking, as a sync leaves it on the NodePool.
    const cluster = h.ref('karp-owned');
    const access = clusterAccess(await describeClusterRaw(h.deps.eks(cluster), cluster.name));
    const api = (await h.deps.kube(cluster, access)).makeApiClient(CustomObjectsApi);
    await api.patchClusterCustomObject(
      {
        group: 'karpenter.sh',
        version: 'v1',
        plural: 'nodepools',
        name: 'default',
        body: {
          metadata: { annotations: { 'argocd.argoproj.io/tracking-id': 'nodes:karpenter.sh/NodePool:/default' } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    const after = await preflight('karp-owned');
    expect(after.state.nodeModels?.nodePools.find((p) => p.name === 'default')?.owner).toEqual({
      tool: 'argocd',
      evidence: 'annotation argocd.argoproj.io/tracking-id=nodes:karpenter.sh/NodePool:/default',
    });
    expect(verdict('karp-owned', after).blockers).toEqual([
      expect.stringContaining('NodePool default is owned by argocd'),
    ]);
    expect(verdict('karp-owned', after, ['argocd']).blockers).toEqual([]);
  });

  it('the owner markers each tool leaves on NodePools and the EC2NodeClass (simulator fleet file managedBy)', async () => {
    const result = await preflight('karp-markers');
    const owners = Object.fromEntries(
      (result.state.nodeModels?.nodePools ?? []).map((p) => [p.name, p.owner?.tool ?? 'none']),
    );
    expect(owners).toEqual({ argo: 'argocd', flux: 'flux', helm: 'helm', plain: 'none' });
    expect(result.state.nodeModels?.ownedNodeClasses).toEqual([
      { name: 'default', owner: { tool: 'terraform', evidence: 'field manager Terraform' } },
    ]);
    const { blockers } = verdict('karp-markers', result, ['helm']);
    expect(blockers.map((b) => b.split(' is owned by')[0])).toEqual([
      'NodePool argo',
      'NodePool flux',
      'EC2NodeClass default',
    ]);
  });

  it('refuses to refresh self-managed groups whose Auto Scaling group tags name a tool, unless allowed', async () => {
    const result = await preflight('owned-asgs');
    expect(result.state.nodeModels?.selfManagedNodes).toBeGreaterThan(0);
    expect(result.state.nodeModels?.ownedSelfManagedGroups).toEqual([
      { name: 'argo-asg', owner: { tool: 'argocd', evidence: 'tag ManagedBy=argocd' } },
      { name: 'tf-asg', owner: { tool: 'terraform', evidence: 'tag Terraform=true' } },
    ]);
    expect(verdict('owned-asgs', result).blockers).toEqual([
      expect.stringMatching(
        /^self-managed group argo-asg \(Auto Scaling group\) is owned by argocd \(tag ManagedBy=argocd\).*spec\.nodes\.allowOwnedBy: \[argocd\]$/,
      ),
      expect.stringMatching(
        /^self-managed group tf-asg \(Auto Scaling group\) is owned by terraform \(tag Terraform=true\).*allowOwnedBy: \[terraform\]$/,
      ),
    ]);
    const allowed = verdict('owned-asgs', result, ['terraform']);
    expect(allowed.blockers.map((b) => b.split(' is owned by')[0])).toEqual([
      'self-managed group argo-asg (Auto Scaling group)',
    ]);
    expect(allowed.warnings).toEqual([
      expect.stringContaining('self-managed group tf-asg (Auto Scaling group) is owned by terraform'),
    ]);
  });

  it('a campaign without a control-plane hop refuses no self-managed group', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('owned-asgs'),
      targetVersion: '1.29',
      pinned,
      captureBaseline: true,
    });
    const input = {
      campaign: 'own',
      cluster: h.ref('owned-asgs'),
      targetVersion: '1.29',
      pinned,
      spec: { target: { skipAddons: true, skipNodegroups: false } },
      attempt: 1,
    } as unknown as ClusterUpgradeInput;
    expect(assessOwnership(ownedChanges(planUpgrade(input, result))).blockers).toEqual([]);
  });
});
