/**
 * The Karpenter activities against the simulator's self-installed Karpenter, with the real EKS,
 * SSM and Kubernetes clients: preflight refuses a controller too old for the path and an alias
 * version not published for the target minor; the pin keeps the nodes on the current minor's AMIs
 * through the hop; the drift step replaces them under the spec's budget (checked against the
 * simulator's disruption log) and names a PodDisruptionBudget that blocks it; the release restores
 * the budgets byte for byte and the terms it is asked for.
 */
import { UpdateClusterVersionCommand } from '@aws-sdk/client-eks';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import type { DriftKarpenterNodesInput, PinnedVersions } from '../../activities/types';
import { PIN_ANNOTATION } from '../../domain/karpenter';
import { HOLD_ANNOTATION } from '../../domain/nodepool-hold';
import { releaseHoldsCommand } from '../../client/commands/release-holds';
import { findCluster, type ClusterState } from '../../simulator/index';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
let h: SimHarness;

const karpenterCluster = (name: string, extra: Record<string, unknown> = {}) =>
  clusterEntry(name, {
    version: '1.31',
    nodegroups: [],
    addons: [],
    karpenter: { version: '1.5.0' },
    nodePools: [{ name: 'default', nodes: 6, budgetNodes: '50%' }],
    ...extra,
  });

beforeAll(async () => {
  h = await startSimHarness(
    [
      karpenterCluster('karp'),
      // The simulator places a PDB's pods on the node groups: one gives data/db pods to protect.
      karpenterCluster('blocked', {
        nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1 }],
        pdbs: [{ name: 'db', namespace: 'data', allowedDisruptions: 0 }],
      }),
      karpenterCluster('old', { version: '1.32', karpenter: { version: '1.4.0' } }),
      karpenterCluster('trap', {
        version: '1.32',
        karpenter: { version: '1.5.0', amiSelector: { alias: 'al2023@v20250304' } },
      }),
    ],
    { timeScale: 1 },
  );
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
async function api(cluster: string): Promise<CustomObjectsApi> {
  const ref = h.ref(cluster);
  const kc = await h.deps.kube(ref, clusterAccess(await describeClusterRaw(h.deps.eks(ref), cluster)));
  return kc.makeApiClient(CustomObjectsApi);
}
const nodeClass = async (cluster: string): Promise<any> =>
  (await api(cluster)).getClusterCustomObject({
    group: 'karpenter.k8s.aws',
    version: 'v1',
    plural: 'ec2nodeclasses',
    name: 'default',
  });
const pool = async (cluster: string): Promise<any> =>
  (await api(cluster)).getClusterCustomObject({
    group: 'karpenter.sh',
    version: 'v1',
    plural: 'nodepools',
    name: 'default',
  });
const claims = async (cluster: string): Promise<any[]> =>
  (
    (await (
      await api(cluster)
    ).listClusterCustomObject({ group: 'karpenter.sh', version: 'v1', plural: 'nodeclaims' })) as any
  ).items;
/* eslint-enable @typescript-eslint/no-explicit-any */

const simState = (name: string): ClusterState => findCluster(h.sim.state(name), name) as ClusterState;

/** The most NodeClaims of a pool disrupted at once for `reason`, from the simulator's event log. */
function maxConcurrent(st: ClusterState, reason: string): number {
  const log = (st.karpenter?.disruptions ?? []).filter((d) => d.reason === reason);
  let max = 0;
  for (const d of log) {
    const at = Date.parse(d.start);
    max = Math.max(
      max,
      log.filter((o) => Date.parse(o.start) <= at && (o.end === undefined || Date.parse(o.end) > at)).length,
    );
  }
  return max;
}

async function hop(cluster: string, version: string): Promise<void> {
  await h.deps.eks(h.ref(cluster)).send(new UpdateClusterVersionCommand({ name: cluster, version }));
  h.sim.advance(3 * HOUR);
}

/** One look of the drift step: its answer when done, or the failure (a timeout of 0 ends it after the look). */
async function driftLook(input: DriftKarpenterNodesInput): Promise<{ done?: unknown; failure?: ApplicationFailure }> {
  try {
    return { done: await h.activities.driftKarpenterNodes(input) };
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return { failure: err as ApplicationFailure };
  }
}

const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };

describe('Karpenter preflight against the simulator', () => {
  it('detects the EC2NodeClass with its terms and the AMIs they resolve; a supported path has no blocker', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('karp'),
      targetVersion: '1.32',
      pinned,
      captureBaseline: true,
    });
    expect(result.state.nodeModels?.karpenterVersion).toBe('1.5.0');
    const [nc] = result.state.nodeModels?.nodeClasses ?? [];
    expect(nc).toMatchObject({ name: 'default', terms: [{ alias: 'al2023@latest' }] });
    expect(nc?.amis.length).toBeGreaterThan(0);
    expect(result.blockers).toEqual([]);
  });

  it('refuses a controller too old for the target minor, naming the version to install', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('old'),
      targetVersion: '1.33',
      pinned,
      captureBaseline: true,
    });
    expect(result.blockers).toContain(
      'Karpenter 1.4.0 does not support Kubernetes 1.33: upgrade the Karpenter controller to 1.5.0 or later first (https://karpenter.sh/docs/upgrading/compatibility/)',
    );
  });

  it('refuses a pinned alias version not published for the target minor (SSM), naming the fix', async () => {
    const result = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('trap'),
      targetVersion: '1.33',
      pinned,
      captureBaseline: true,
    });
    const blocker = result.blockers.find((b) => b.startsWith('EC2NodeClass default: alias al2023@v20250304'));
    expect(blocker).toContain('is not published for Kubernetes 1.33');
    expect(blocker).toContain('use al2023@latest or a version published for 1.33');
    // Towards its own minor the same alias is fine.
    const same = await runActivity(h.activities.preflightCluster, {
      cluster: h.ref('trap'),
      pinned,
      captureBaseline: true,
    });
    expect(same.blockers).toEqual([]);
  });
});

describe('Karpenter pin, hold, drift and release against the simulator', () => {
  it('keeps the nodes on the pinned AMIs through the hop, drifts them under the budget, restores the budgets', async () => {
    const ref = h.ref('karp');
    const workflowId = 'cluster-upgrade/karp';
    const before = await nodeClass('karp');
    const oldAmis = (before.status.amis as { id: string }[]).map((a) => a.id).sort();
    const userBudgets = (await pool('karp')).spec.disruption.budgets;

    const hold = { cluster: ref, workflowId, runId: 'run-1', forMs: 6 * HOUR };
    const held = await h.activities.holdKarpenterNodes(hold);
    expect(held.pinned).toEqual([{ nodeClass: 'default', amis: oldAmis }]);
    expect(held.held).toEqual(['default']);
    // A retried attempt finds its own pin and hold and writes nothing.
    const rv = (await nodeClass('karp')).metadata.resourceVersion;
    await h.activities.holdKarpenterNodes(hold);
    expect((await nodeClass('karp')).metadata.resourceVersion).toBe(rv);
    const pinnedClass = await nodeClass('karp');
    expect(pinnedClass.spec.amiSelectorTerms).toEqual(oldAmis.map((id) => ({ id })));
    expect(JSON.parse(pinnedClass.metadata.annotations[PIN_ANNOTATION])).toMatchObject({
      workflowId,
      original: [{ alias: 'al2023@latest' }],
    });

    await hop('karp', '1.32');
    // Pinned: nothing drifted over the hop, every node still on the 1.31 AMIs.
    const afterHop = await claims('karp');
    expect(afterHop.filter((c) => c.status.conditions.some((x: { type: string }) => x.type === 'Drifted'))).toEqual([]);
    expect(afterHop.every((c) => oldAmis.includes(c.status.imageID))).toBe(true);

    const input: DriftKarpenterNodesInput = {
      cluster: ref,
      workflowId,
      runId: 'run-1',
      nodeClasses: [{ name: 'default', from: [{ alias: 'al2023@latest' }], to: [{ alias: 'al2023@latest' }] }],
      budget: '2',
      pdbTimeoutMs: HOUR,
      timeoutMs: 0,
      holdSinceMs: held.sinceMs,
    };
    const first = await driftLook(input);
    expect(first.failure?.type).toBe('KarpenterDriftTimeout');
    expect((await nodeClass('karp')).spec.amiSelectorTerms).toEqual([{ alias: 'al2023@latest' }]);
    expect((await pool('karp')).spec.disruption.budgets).toEqual([
      ...userBudgets,
      { nodes: '2', reasons: ['Drifted'] },
    ]);

    h.sim.advance(3 * HOUR);
    const done = await driftLook(input);
    expect(done.done).toMatchObject({ onTarget: 6, drifted: 0, total: 6, goneWithoutDrift: [] });
    const newAmis = ((await nodeClass('karp')).status.amis as { id: string }[]).map((a) => a.id);
    expect((await claims('karp')).every((c) => newAmis.includes(c.status.imageID))).toBe(true);
    // The budget of 2 was never exceeded (the user's own 50% of 6 would have allowed 3).
    expect(maxConcurrent(simState('karp'), 'Drifted')).toBe(2);

    const released = await h.activities.releaseKarpenterHolds({ cluster: ref, workflowId, terms: 'keep' });
    expect(released).toEqual({
      nodeClasses: [{ nodeClass: 'default', terms: [{ alias: 'al2023@latest' }] }],
      released: ['default'],
    });
    const after = await pool('karp');
    expect(after.spec.disruption.budgets).toEqual(userBudgets);
    expect(after.metadata.annotations?.[HOLD_ANNOTATION]).toBeUndefined();
    expect((await nodeClass('karp')).metadata.annotations?.[PIN_ANNOTATION]).toBeUndefined();
  });

  it('fails the step naming the PodDisruptionBudget that blocks the drain; release-holds goes back to the pinned AMIs', async () => {
    const ref = h.ref('blocked');
    const workflowId = 'cluster-upgrade/blocked';
    const held = await h.activities.holdKarpenterNodes({ cluster: ref, workflowId, runId: 'run-1', forMs: 6 * HOUR });
    const oldAmis = held.pinned[0]?.amis ?? [];
    await hop('blocked', '1.32');
    const input: DriftKarpenterNodesInput = {
      cluster: ref,
      workflowId,
      runId: 'run-1',
      nodeClasses: [{ name: 'default', from: [{ alias: 'al2023@latest' }], to: [{ alias: 'al2023@latest' }] }],
      budget: '2',
      pdbTimeoutMs: 0,
      timeoutMs: 12 * HOUR,
    };
    expect((await driftLook({ ...input, timeoutMs: 0 })).failure?.type).toBe('KarpenterDriftTimeout');
    h.sim.advance(HOUR);
    // Nothing moves while data/db allows no disruption: with pdbTimeout 0 the next look fails at once.
    const blocked = await driftLook({ ...input, pdbTimeoutMs: -1 });
    expect(blocked.failure?.type).toBe('KarpenterDriftBlocked');
    expect(blocked.failure?.message).toContain('PodDisruptionBudget data/db allows no disruption');

    const out: string[] = [];
    await releaseHoldsCommand({ out: (t) => out.push(t), err: () => undefined }, h.deps).parseAsync(
      ['--cluster', 'blocked', '--region', 'us-east-1', '--terms', 'pinned'],
      { from: 'user' },
    );
    expect(out.join('')).toBe('blocked: released default; EC2NodeClass pins removed (pinned terms): default\n');
    expect((await nodeClass('blocked')).spec.amiSelectorTerms).toEqual(oldAmis.map((id) => ({ id })));
    expect((await pool('blocked')).spec.disruption.budgets).toEqual([{ nodes: '50%' }]);
  });
});
