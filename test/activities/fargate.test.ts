/**
 * settleFargatePods against the simulator through @kubernetes/client-node: Fargate pods that
 * started on 1.29 under a 1.30 control plane are reported by owner and profile with no write; under
 * `restart` their Deployment gets kubectl's restart annotation (once per marker) and the step waits
 * until every pod runs a 1.30 kubelet; a PodDisruptionBudget that allows no disruption keeps the
 * owner from its restart and fails the step naming it.
 */
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import type { SettleFargatePodsInput } from '../../activities/types';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
const MARKER = '2026-12-03T02:00:00Z';

const fargateCluster = (name: string, extra: Record<string, unknown> = {}) =>
  clusterEntry(name, {
    version: '1.30',
    nodegroups: [{ name: 'general', nodes: 1, maxUnavailable: 1, version: '1.30' }],
    addons: [],
    fargateProfiles: [{ name: 'batch', pods: 3, version: '1.29' }],
    ...extra,
  });

beforeAll(async () => {
  h = await startSimHarness([
    fargateCluster('fg-report'),
    fargateCluster('fg-restart'),
    // 40 pods: its rollout runs 40 simulated minutes, long enough to still be under way when the activity looks.
    fargateCluster('fg-idem', { fargateProfiles: [{ name: 'batch', pods: 40, version: '1.29' }] }),
    fargateCluster('fg-pdb', { pdbs: [{ name: 'fargate-batch', namespace: 'default', allowedDisruptions: 0 }] }),
    clusterEntry('no-fargate', { version: '1.30', nodegroups: [{ name: 'general', nodes: 1, maxUnavailable: 1 }] }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const input = (cluster: string, mode: 'report' | 'restart', over: Partial<SettleFargatePodsInput> = {}) => ({
  cluster: h.ref(cluster),
  targetVersion: '1.30',
  mode,
  marker: MARKER,
  timeoutMs: 3_600_000,
  pdbTimeoutMs: 1_800_000,
  ...over,
});

async function apis(cluster: string) {
  const ref = h.ref(cluster);
  const kc = await h.deps.kube(ref, clusterAccess(await describeClusterRaw(h.deps.eks(ref), ref.name)));
  return { apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

async function fargateKubelets(cluster: string): Promise<string[]> {
  const { core } = await apis(cluster);
  const nodes = await core.listNode({ labelSelector: 'eks.amazonaws.com/compute-type=fargate' });
  return nodes.items.map((n) => n.status?.nodeInfo?.kubeletVersion?.split('.').slice(0, 2).join('.') ?? '?');
}

describe('settleFargatePods', () => {
  it('report: the pods on an old kubelet by owner and profile, and no write', async () => {
    const result = await runActivity(h.activities.settleFargatePods, input('fg-report', 'report'));
    expect(result).toEqual({
      total: 3,
      old: [{ owner: 'default/Deployment/fargate-batch', profile: 'batch', pods: 3, oldest: '1.29' }],
      restarted: [],
    });
    const { apps } = await apis('fg-report');
    const dep = await apps.readNamespacedDeployment({ namespace: 'default', name: 'fargate-batch' });
    expect(dep.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeUndefined();
    expect(await fargateKubelets('fg-report')).toEqual(['v1.29', 'v1.29', 'v1.29']);
  });

  it('a cluster without Fargate pods: nothing old, nothing restarted', async () => {
    const result = await runActivity(h.activities.settleFargatePods, input('no-fargate', 'restart'));
    expect(result).toEqual({ total: 0, old: [], restarted: [] });
  });

  it('restart: one rollout restart per owner, carrying the marker, then every pod on the control plane’s minor', async () => {
    const patch = vi.spyOn(AppsV1Api.prototype, 'patchNamespacedDeployment');
    try {
      const result = await runActivity(h.activities.settleFargatePods, input('fg-restart', 'restart'));
      expect(result).toEqual({ total: 3, old: [], restarted: ['default/Deployment/fargate-batch'] });
      expect(patch).toHaveBeenCalledTimes(1);
      expect(await fargateKubelets('fg-restart')).toEqual(['v1.30', 'v1.30', 'v1.30']);
      const { apps } = await apis('fg-restart');
      const dep = await apps.readNamespacedDeployment({ namespace: 'default', name: 'fargate-batch' });
      expect(dep.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(MARKER);
      expect(dep.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    } finally {
      patch.mockRestore();
    }
  });

  it('restart is not sent again for a template that already carries this run’s marker', async () => {
    // An earlier attempt sent the restart and died before its heartbeat: the rollout is under way.
    const { apps } = await apis('fg-idem');
    await apps.patchNamespacedDeployment(
      {
        namespace: 'default',
        name: 'fargate-batch',
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': MARKER } } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const patch = vi.spyOn(AppsV1Api.prototype, 'patchNamespacedDeployment');
    try {
      const result = await runActivity(h.activities.settleFargatePods, input('fg-idem', 'restart'));
      expect(result).toEqual({ total: 40, old: [], restarted: ['default/Deployment/fargate-batch'] });
      expect(patch).not.toHaveBeenCalled();
    } finally {
      patch.mockRestore();
    }
    expect(new Set(await fargateKubelets('fg-idem'))).toEqual(new Set(['v1.30']));
  });

  it('a PodDisruptionBudget allowing no disruption keeps the owner from its restart, then fails the step naming it', async () => {
    const { apps } = await apis('fg-pdb');
    const before = await apps.readNamespacedDeployment({ namespace: 'default', name: 'fargate-batch' });
    expect(before.metadata?.generation).toBe(1);
    const patch = vi.spyOn(AppsV1Api.prototype, 'patchNamespacedDeployment');
    try {
      await expect(
        runActivity(h.activities.settleFargatePods, input('fg-pdb', 'restart', { pdbTimeoutMs: 1 })),
      ).rejects.toThrow(
        /PodDisruptionBudget default\/fargate-batch allowed no disruption of default\/Deployment\/fargate-batch \(Fargate profile batch\).*3 pod\(s\) stay on kubelet 1\.29/,
      );
      expect(patch).not.toHaveBeenCalled();
    } finally {
      patch.mockRestore();
    }
    expect(await fargateKubelets('fg-pdb')).toEqual(['v1.29', 'v1.29', 'v1.29']);
  });
});
