/**
 * Preflight's node-model detection against the simulator, through the real SDK clients: the
 * amiType of each node group, the image and architecture a custom-AMI launch template names (EC2),
 * Fargate profiles (only asked for when Fargate runs nodes), self-managed nodes, Auto Mode and its
 * custom NodePools; and what a run costs in EKS calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageTag } from '../../activities/kubernetes';
import type { PinnedVersions } from '../../activities/types';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
const CUSTOM_AMI = 'ami-0123456789abcdef0';

beforeAll(async () => {
  h = await startSimHarness([
    clusterEntry('mixed', {
      nodegroups: [
        { name: 'std', nodes: 2, maxUnavailable: 1 },
        { name: 'graviton', nodes: 2, maxUnavailable: 1, amiType: 'AL2023_ARM_64_STANDARD' },
        { name: 'bottle', nodes: 1, maxUnavailable: 1, amiType: 'BOTTLEROCKET_ARM_64' },
        {
          name: 'golden',
          nodes: 1,
          maxUnavailable: 1,
          launchTemplate: { name: 'golden-lt', version: '3', imageId: CUSTOM_AMI },
        },
      ],
      fargateProfiles: [{ name: 'batch', pods: 2 }],
      selfManagedGroups: [{ name: 'legacy-asg', nodes: 2 }],
    }),
    clusterEntry('karp', {
      karpenter: { version: '1.5.0' },
      nodePools: [{ name: 'default', nodes: 3, budgetNodes: '10%' }],
    }),
    clusterEntry('auto', {
      autoMode: true,
      nodegroups: [],
      nodePools: [{ name: 'web', nodes: 2, budgetNodes: '10%' }],
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

describe('preflight detects node models', () => {
  it('a self-installed Karpenter’s NodePools with their NodeClaims', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('karp'),
      pinned,
      captureBaseline: true,
    });
    expect(result.state.nodeModels?.nodePools).toEqual([{ name: 'default', autoMode: false, nodes: 3 }]);
    // A self-installed Karpenter is upgraded by the Karpenter node step: no longer "detected, not upgraded".
    expect(result.warnings.some((w) => w.startsWith('detected, not upgraded by fleetwave: Karpenter'))).toBe(false);
    expect(result.state.nodeModels?.nodeClasses?.map((nc) => nc.name)).toEqual(['default']);
  });

  it('reads the Karpenter version from its controller image tag', () => {
    expect(imageTag('public.ecr.aws/karpenter/controller:1.5.0@sha256:0123')).toBe('1.5.0');
    expect(imageTag('registry:5000/karpenter/controller:v1.4.2')).toBe('1.4.2');
    expect(imageTag('registry:5000/karpenter/controller')).toBeUndefined();
  });

  it('amiType per node group, a custom AMI and its architecture, Fargate profiles and self-managed nodes', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('mixed'),
      pinned,
      captureBaseline: true,
    });
    const byName = Object.fromEntries(result.state.nodegroups.map((ng) => [ng.name, ng]));
    expect(byName.std?.amiType).toBe('AL2023_x86_64_STANDARD');
    expect(byName.graviton?.amiType).toBe('AL2023_ARM_64_STANDARD');
    expect(byName.bottle?.amiType).toBe('BOTTLEROCKET_ARM_64');
    expect(byName.golden).toMatchObject({ amiType: 'CUSTOM', imageId: CUSTOM_AMI, arch: 'x86_64' });
    expect(byName.std?.imageId).toBeUndefined();
    expect(result.state.nodeModels).toEqual({
      autoMode: false,
      nodePools: [],
      selfManagedNodes: 2,
      fargateProfiles: ['batch'],
      oldestFargateKubelet: '1.29',
    });
    expect(result.warnings).toContain(
      'node groups std (AL2023_x86_64_STANDARD), graviton (AL2023_ARM_64_STANDARD), bottle (BOTTLEROCKET_ARM_64): an upgrade cannot be rolled back, EKS picks the AMI (Amazon EKS API Reference: UpdateNodegroupVersion)',
    );
    expect(result.warnings).toContain(
      'Fargate profiles batch: pods keep their kubelet until recreated; after a hop they are reported, or restarted under spec.nodes.fargate: restart',
    );
  });

  it('Auto Mode from DescribeCluster, its custom NodePools (not the built-in ones) with their NodeClaims; no Fargate call without Fargate nodes', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('auto'),
      pinned,
      captureBaseline: true,
    });
    expect(result.state.nodeModels).toEqual({
      autoMode: true,
      nodePools: [{ name: 'web', autoMode: true, nodes: 2 }],
      selfManagedNodes: 0,
      fargateProfiles: [],
    });
  });
});
