/**
 * `fleetwave doctor`'s RBAC check inside preflight, against the simulator through the real clients:
 * SelfSubjectAccessReviews of the permissions the cluster's node models use, in the same local
 * activity. A refusal is a blocker naming each permission; a review that fails is a warning.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveDeps } from '../../activities/deps';
import { createEksActivities } from '../../activities/eks';
import { createKubernetesActivities } from '../../activities/kubernetes';
import type { PinnedVersions } from '../../activities/types';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

beforeAll(async () => {
  h = await startSimHarness([
    clusterEntry('admin'),
    clusterEntry('view', { accessPolicy: 'AmazonEKSViewPolicy' }),
    clusterEntry('edit-selfmanaged', {
      accessPolicy: 'AmazonEKSEditPolicy',
      selfManagedGroups: [{ name: 'legacy-asg', nodes: 2 }],
    }),
    clusterEntry('admin-karpenter', {
      karpenter: { version: '1.5.0' },
      nodePools: [{ name: 'default', nodes: 3, budgetNodes: '10%' }],
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

/** The SelfSubjectAccessReviews the activities POST while `fn` runs. */
async function reviewsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; reviews: number }> {
  const original = https.request.bind(https);
  let reviews = 0;
  const spy = vi.spyOn(https, 'request').mockImplementation(((...args: Parameters<typeof https.request>) => {
    const url = args[0];
    if (url instanceof URL && url.pathname.endsWith('/selfsubjectaccessreviews')) reviews++;
    return original(...args);
  }) as typeof https.request);
  try {
    return { result: await fn(), reviews };
  } finally {
    spy.mockRestore();
  }
}

const preflight = (name: string, extra: { fargateRestart?: boolean } = {}) =>
  runActivity(h.activities.preflightCluster, {
    cluster: h.ref(name),
    targetVersion: '1.30',
    pinned,
    captureBaseline: true,
    ...extra,
  });

describe('preflight asks the API server for the permissions of the plan', () => {
  it('an admin cluster of managed node groups: no review at all, nothing blocked', async () => {
    // The first preflight of a cluster opens its session; the count is of the second, as in a warm worker.
    await preflight('admin');
    const { result, reviews } = await reviewsDuring(() => preflight('admin'));
    expect(reviews).toBe(0);
    expect(result.blockers).toEqual([]);
  });

  it('a self-installed Karpenter: its four permissions, all allowed', async () => {
    const { result, reviews } = await reviewsDuring(() => preflight('admin-karpenter'));
    expect(reviews).toBe(4);
    expect(result.blockers.filter((b) => b.includes('RBAC'))).toEqual([]);
  });

  it('a View-only access entry: blocked, each refused permission named', async () => {
    const { result, reviews } = await reviewsDuring(() => preflight('view'));
    // Nodes are not View's to read: the node models are unknown, so every permission is asked.
    expect(result.warnings.some((w) => w.startsWith('could not read node models'))).toBe(true);
    expect(reviews).toBe(11);
    const rbac = result.blockers.filter((b) => b.startsWith('Kubernetes RBAC denies'));
    expect(rbac).toHaveLength(1);
    expect(rbac[0]).toContain(
      'denies list nodes, patch nodes, create pods/eviction, patch deployments.apps, patch statefulsets.apps, ' +
        'list nodepools.karpenter.sh, patch nodepools.karpenter.sh, list nodeclaims.karpenter.sh, ' +
        'patch ec2nodeclasses.karpenter.k8s.aws to the worker',
    );
    expect(rbac[0]).toContain('`fleetwave doctor`');
    expect(await h.mutations('view')).toEqual([]);
  });

  it('an Edit access entry: evictions allowed, cluster-scoped kinds refused', async () => {
    const { result } = await reviewsDuring(() => preflight('edit-selfmanaged'));
    const rbac = result.blockers.find((b) => b.startsWith('Kubernetes RBAC denies')) ?? '';
    expect(rbac).toContain('list nodes, patch nodes, list nodepools.karpenter.sh');
    expect(rbac).not.toContain('eviction');
  });

  it('a review that fails is a warning, not a blocker', async () => {
    const deps = resolveDeps(h.deps);
    const kubernetes = createKubernetesActivities(deps);
    const eks = createEksActivities(deps, {
      ...kubernetes,
      reviewAccess: async (_cluster, _access, needs) => ({
        denied: [],
        unanswered: needs.map((n) => `${n.verb} ${n.resource}`),
        error: 'SelfSubjectAccessReview of admin-karpenter: Kubernetes API answered HTTP 503',
      }),
    });
    const result = await runActivity(eks.preflightCluster, {
      cluster: h.ref('admin-karpenter'),
      targetVersion: '1.30',
      pinned,
      captureBaseline: true,
    });
    expect(result.blockers.filter((b) => b.includes('RBAC'))).toEqual([]);
    expect(result.warnings).toContainEqual(
      expect.stringMatching(/^could not ask the API server whether the worker may get deployments, .*HTTP 503/),
    );
  });
});
