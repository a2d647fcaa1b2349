/**
 * Fargate pods and the control-plane hop, against the simulator: a Fargate pod keeps the kubelet it
 * started with, and EKS refuses UpdateClusterVersion when a hop would leave one more than three
 * minors behind (userguide/update-cluster.html). Preflight reads the oldest Fargate kubelet from
 * the Kubernetes API and refuses such a hop before anything is touched, naming the restart.
 */
import { UpdateClusterVersionCommand } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PinnedVersions } from '../../activities/types';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

beforeAll(async () => {
  h = await startSimHarness([
    // 1.29 → 1.30 with pods on 1.26: 4 minors behind after the hop.
    clusterEntry('old-fargate', { fargateProfiles: [{ name: 'batch', pods: 2, version: '1.26' }] }),
    // Pods on 1.27: 3 behind after the hop, within the skew.
    clusterEntry('ok-fargate', { fargateProfiles: [{ name: 'batch', pods: 2, version: '1.27' }] }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const preflight = (cluster: string) =>
  runActivity(h.activities.preflightCluster, {
    cluster: h.ref(cluster),
    targetVersion: '1.30',
    pinned,
    captureBaseline: true,
  });

describe('Fargate kubelet skew at preflight', () => {
  it('refuses a hop EKS would refuse, naming the oldest kubelet and the restart', async () => {
    const result = await preflight('old-fargate');
    expect(result.state.nodeModels?.oldestFargateKubelet).toBe('1.26');
    expect(result.blockers).toContainEqual(
      expect.stringMatching(
        /^control-plane hop to 1\.30 would leave Fargate pods on Kubernetes 1\.26 more than 3 minors behind: EKS refuses it .*kubectl rollout restart.* run 1\.29/,
      ),
    );
    // What EKS (the simulator) answers the same hop.
    const eks = h.deps.eks(h.ref('old-fargate'));
    await expect(
      eks.send(new UpdateClusterVersionCommand({ name: 'old-fargate', version: '1.30' })),
    ).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: expect.stringContaining('Kubelet version of Fargate pods'),
    });
  });

  it('lets a hop within three minors through', async () => {
    const result = await preflight('ok-fargate');
    expect(result.state.nodeModels?.oldestFargateKubelet).toBe('1.27');
    expect(result.blockers.filter((b) => b.includes('Fargate'))).toEqual([]);
  });
});
