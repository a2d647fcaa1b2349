/**
 * End to end over the node models of issue 18 next to managed node groups: two clusters with a
 * self-installed Karpenter, one with a self-managed Auto Scaling group, one with a Fargate profile
 * (spec.nodes.fargate: restart). The whole stack of bench/lib/stack.ts (its own Temporal dev
 * server, the simulator, Prometheus, `fleetwave worker` as a child process), one campaign to 1.32.
 *
 * - Every cluster but one reaches the target; one mutation per EKS step (bench/lib/verify.ts), one
 *   write per NodePool and EC2NodeClass per Karpenter step (their resourceVersions), one instance
 *   refresh for the self-managed group, every original NodeClaim disrupted once.
 * - One Karpenter cluster degrades on 1.32: its bake gate fails and it is rolled back, its NodePool
 *   budgets as they were, its EC2NodeClass terms on the AMIs pinned before the hop (the control
 *   plane stays on 1.32) and its nodes back on the old AMI.
 * - During the drift step never more NodeClaims of a pool are disrupted at once than
 *   spec.nodes.karpenter.budget allows (from the simulator's disruption log).
 * - The self-managed group's instances all run the new AMI, every termination was drained first;
 *   the Fargate pods run the new kubelet.
 *
 * Logs: test-output/e2e/node-models-2/.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { benchCampaign } from '../../bench/lib/campaign';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { createDefaultDeps } from '../../activities/aws';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import { validateStartInput } from '../../client/library';
import { fleetSchema, type Fleet } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';
import { defaultAddonVersion } from '../../simulator/catalogue';
import type { ClusterState } from '../../simulator/index';
import type { CampaignStatus } from '../../workflows/definitions';
import { approversOf, testWorkspace, TIME_SCALE } from '../resilience/harness';

const FROM = '1.31';
const TARGET = '1.32';
const HOUR = 3_600_000;
const KARP = 'nm2-use1-karp';
const BAD = 'nm2-euw1-karp';
const ASG = 'nm2-euw1-asg';
const FARGATE = 'nm2-use1-fargate';
const MNG = 'nm2-use1-mng';
/** spec.nodes.karpenter.budget: 50% of a 4-node pool is 2 at once (of a 2-node pool, 1). */
const BUDGET = '50%';
const CREDENTIALS = { accessKeyId: 'AKIDNODEMODELS2E2E', secretAccessKey: 'node-models-2-secret' };

const ng = (name: string) => ({ name, nodes: 2, maxUnavailable: 1 });
const kubeProxy = [{ name: 'kube-proxy', version: defaultAddonVersion('kube-proxy', FROM) }];

function fleetOf(): Fleet {
  const base = (name: string, region: string) => ({
    name,
    region,
    account: '111122223333',
    labels: { env: 'upgrade' },
    version: FROM,
    addons: kubeProxy,
  });
  const karpenter = {
    karpenter: { version: '1.5.0' },
    nodePools: [
      // The pool's own budget allows all four: the step's Drifted budget is what limits its drift.
      { name: 'default', nodes: 4, budgetNodes: '100%' },
      { name: 'batch', nodes: 2, budgetNodes: '1' },
    ],
  };
  return fleetSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Fleet',
    clusters: [
      { ...base(MNG, 'us-east-1'), nodegroups: [ng('std')] },
      { ...base(KARP, 'us-east-1'), nodegroups: [ng('system')], ...karpenter },
      { ...base(BAD, 'eu-west-1'), nodegroups: [ng('system')], ...karpenter, faults: { degradeAtVersion: TARGET } },
      { ...base(ASG, 'eu-west-1'), nodegroups: [ng('system')], selfManagedGroups: [{ name: 'legacy', nodes: 3 }] },
      { ...base(FARGATE, 'us-east-1'), nodegroups: [ng('system')], fargateProfiles: [{ name: 'jobs', pods: 3 }] },
    ],
  });
}

/** The largest number of intervals [start, end) open at one instant. */
function maxConcurrent(intervals: { start: number; end: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  // Ends before starts at the same instant: a replacement that begins as another ends is not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const e of edges) {
    open += e.d;
    max = Math.max(max, open);
  }
  return max;
}

/** A percentage or count of a pool's nodes, as Karpenter rounds a percentage budget (up). */
function budgetOf(budget: string, nodes: number): number {
  return budget.endsWith('%') ? Math.ceil((nodes * Number(budget.slice(0, -1))) / 100) : Number(budget);
}

describe('e2e: Karpenter, self-managed groups and Fargate next to managed node groups', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('reaches the target with one mutation per step, rolls a Karpenter cluster back, and keeps drift within its budget', async () => {
    const { dir, log } = testWorkspace('node-models-2', 'e2e');
    const fleet = fleetOf();
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: 7, dir, log });
    const s = stack;
    const deps = createDefaultDeps({ endpoint: s.sim.url, region: 'us-east-1', credentials: CREDENTIALS });
    const kube = async (name: string) => {
      const region = fleet.clusters.find((c) => c.name === name)?.region ?? 'us-east-1';
      const ref = { name, region };
      return deps.kube(ref, clusterAccess(await describeClusterRaw(deps.eks(ref), name)));
    };
    /* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
    const karpenterObjects = async (name: string) => {
      const api = (await kube(name)).makeApiClient(CustomObjectsApi);
      const pools = await api.listClusterCustomObject({ group: 'karpenter.sh', version: 'v1', plural: 'nodepools' });
      const classes = await api.listClusterCustomObject({
        group: 'karpenter.k8s.aws',
        version: 'v1',
        plural: 'ec2nodeclasses',
      });
      return {
        budgets: Object.fromEntries(
          (pools.items as any[]).map((p) => [p.metadata.name, p.spec.disruption?.budgets ?? null]),
        ),
        terms: Object.fromEntries((classes.items as any[]).map((c) => [c.metadata.name, c.spec.amiSelectorTerms])),
        annotations: (pools.items as any[]).map((p) => p.metadata.annotations ?? {}),
        // Each object's resourceVersion moves on every write to it (and on nothing else here).
        versions: Object.fromEntries(
          [...(pools.items as any[]), ...(classes.items as any[])].map((o) => [
            `${o.kind}/${o.metadata.name}`,
            Number(o.metadata.resourceVersion),
          ]),
        ),
      };
    };
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const simState = (name: string) => s.sim.state(name).clusters[0] as ClusterState;

    // Before: what a rollback must restore.
    const badBefore = await karpenterObjects(BAD);
    const karpBefore = await karpenterObjects(KARP);
    const badAmisBefore = new Set(simState(BAD).karpenter?.nodeClaims.map((c) => c.imageId));
    log(`${BAD} before: ${JSON.stringify(badBefore)} on ${[...badAmisBefore].join(',')}`);
    expect(badAmisBefore.size).toBeGreaterThan(0);
    const originalClaims = new Map(
      [KARP, BAD].map((n) => [n, new Set(simState(n).karpenter?.nodeClaims.map((c) => c.name))]),
    );
    const asgBefore = simState(ASG).autoScalingGroups?.[0];
    const asgImageBefore = asgBefore?.instances[0]?.imageId;

    const doc = benchCampaign({
      name: 'e2e-node-models-2',
      targetVersion: TARGET,
      timeScale: TIME_SCALE,
      waves: [
        {
          name: 'all',
          maxParallel: 5,
          soakRealMs: HOUR,
          approval: 'auto',
          failureBudget: 1,
          selector: { matchLabels: { env: 'upgrade' } },
        },
      ],
      maxInFlight: 5,
    });
    doc.spec.bake = '4s';
    (doc.spec as Record<string, unknown>).nodes = { karpenter: { budget: BUDGET }, fargate: 'restart' };
    const { campaign } = validateStartInput({ campaign: doc, fleet });
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'e2e node models 2' });
    const { result } = await driveCampaign(s.client, {
      name: campaign.metadata.name,
      approvers: approversOf(campaign),
      log,
      onPaused: async (st) => {
        await s.client.abortCampaign(campaign.metadata.name, {
          by: 'e2e',
          reason: `unexpected pause: ${st.pausedReason}`,
        });
      },
    });
    const v = await verifyCampaigns(s, [{ name: campaign.metadata.name, runId: started.runId, targetVersion: TARGET }]);
    const status = v.statuses.get(campaign.metadata.name) as CampaignStatus;
    for (const c of status.clusters) log(`${c.name}: ${c.state} ${c.reason ?? ''}`);

    // Every cluster on the target but the degraded one; one EKS mutation per step.
    expect(result.rolledBack).toEqual([BAD]);
    expect(result.upgraded.sort()).toEqual([ASG, KARP, MNG, FARGATE].sort());
    expect(v.violations).toEqual(NO_VIOLATIONS);
    for (const name of result.upgraded) {
      const c = simState(name);
      expect(c.version, name).toBe(TARGET);
      for (const g of c.nodegroups) expect([name, g.name, g.version]).toEqual([name, g.name, TARGET]);
    }

    // Karpenter, upgraded: every NodeClaim on the AMI the pin resolved, each original one disrupted
    // once for drift (one replacement each, nothing repeated).
    const karp = simState(KARP).karpenter;
    const karpAmis = new Set(karp?.nodeClaims.filter((c) => !c.terminating).map((c) => c.imageId));
    log(`${KARP} AMIs after: ${[...karpAmis].join(',')}`);
    expect(karpAmis.size).toBe(1);
    expect(karp?.nodeClaims.filter((c) => !c.terminating)).toHaveLength(6);
    const drifted = (karp?.disruptions ?? []).filter((d) => d.reason === 'Drifted');
    expect(drifted.map((d) => d.nodeClaim).sort()).toEqual([...(originalClaims.get(KARP) ?? [])].sort());
    const karpAfter = await karpenterObjects(KARP);
    expect(karpAfter.annotations.some((a) => 'fleetwave.io/drift-hold' in a)).toBe(false);
    const writes = (before: typeof karpAfter, after: typeof karpAfter) =>
      Object.fromEntries(Object.entries(after.versions).map(([k, v]) => [k, v - (before.versions[k] ?? 0)]));
    log(`${KARP} writes: ${JSON.stringify(writes(karpBefore, karpAfter))}`);
    // One write per object per step: the hold before the hop (pin, zero Drifted budget), the node
    // step (target terms, the step's Drifted budget), the release (pin record off, budgets restored).
    const oncePerStep = { 'NodePool/default': 3, 'NodePool/batch': 3, 'EC2NodeClass/default': 3 };
    expect(writes(karpBefore, karpAfter)).toEqual(oncePerStep);

    // Never more disrupted at once than the budgets allow, per pool, in both Karpenter clusters.
    // Karpenter applies the most restrictive budget: during the node step the step's Drifted one
    // beside the pool's own (the original NodeClaims); after a rollback the pool's own alone (their
    // replacements drifting back).
    for (const name of [KARP, BAD]) {
      const state = simState(name).karpenter;
      const originals = originalClaims.get(name) ?? new Set<string>();
      for (const pool of fleet.clusters.find((c) => c.name === name)?.nodePools ?? []) {
        const drifted = (state?.disruptions ?? []).filter((d) => d.pool === pool.name && d.reason === 'Drifted');
        const during = (step: boolean) =>
          drifted
            .filter((d) => originals.has(d.nodeClaim) === step)
            .map((d) => ({ start: Date.parse(d.start), end: d.end ? Date.parse(d.end) : Infinity }));
        const own = budgetOf(pool.budgetNodes, pool.nodes);
        const allowed = Math.min(budgetOf(BUDGET, pool.nodes), own);
        const max = maxConcurrent(during(true));
        const maxBack = maxConcurrent(during(false));
        log(
          `${name}/${pool.name}: ${during(true).length} drifted in the step, at most ${max} at once (budget ${allowed}); ` +
            `${during(false).length} drifted back, at most ${maxBack} at once (budget ${own})`,
        );
        expect(during(true).length, `${name}/${pool.name}`).toBe(pool.nodes);
        expect(max, `${name}/${pool.name}`).toBeLessThanOrEqual(allowed);
        expect(maxBack, `${name}/${pool.name} back`).toBeLessThanOrEqual(own);
        expect(during(false).length, `${name}/${pool.name} back`).toBe(name === BAD ? pool.nodes : 0);
      }
      expect(state?.disruptions.filter((d) => d.reason !== 'Drifted')).toEqual([]);
    }

    // The rolled-back Karpenter cluster: terms and budgets as before, no hold left; the controller
    // drifts its nodes back to the old AMI (no further write from fleetwave needed: wait for it).
    const bad = status.clusters.find((c) => c.name === BAD);
    expect(bad?.state).toBe('rolled-back');
    expect(bad?.reason).toMatch(/gate workload-(error-ratio|latency-p99) \(bake\): Failed/);
    const badAfter = await karpenterObjects(BAD);
    // The control plane stays on 1.32 (EKS cannot take it back here), where the user's alias would
    // resolve to the new AMIs again: the terms name the AMIs pinned before the hop (domain/karpenter.ts
    // termsOnExit), among them the ones the nodes ran on.
    log(`${BAD} after rollback: ${JSON.stringify(badAfter)}`);
    expect(Object.keys(badAfter.terms)).toEqual(Object.keys(badBefore.terms));
    const pinnedBack = (badAfter.terms.default as { id?: string }[]).map((t) => t.id);
    expect(pinnedBack.every((id) => id?.startsWith('ami-'))).toBe(true);
    for (const ami of badAmisBefore) expect(pinnedBack).toContain(ami);
    expect(badAfter.budgets).toEqual(badBefore.budgets);
    expect(badAfter.annotations.some((a) => 'fleetwave.io/drift-hold' in a)).toBe(false);
    log(`${BAD} writes: ${JSON.stringify(writes(badBefore, badAfter))}`);
    // The rollback's release is the third write (terms back to the pinned AMIs, budgets restored).
    expect(writes(badBefore, badAfter)).toEqual(oncePerStep);
    const deadline = Date.now() + 60_000;
    let badClaims = simState(BAD).karpenter?.nodeClaims ?? [];
    while (Date.now() < deadline && badClaims.some((c) => c.terminating || !badAmisBefore.has(c.imageId))) {
      await new Promise((r) => setTimeout(r, 500));
      badClaims = simState(BAD).karpenter?.nodeClaims ?? [];
    }
    log(`${BAD} AMIs after rollback: ${[...new Set(badClaims.map((c) => c.imageId))].join(',')}`);
    expect(badClaims.filter((c) => !c.terminating)).toHaveLength(6);
    expect(badClaims.every((c) => !c.terminating && badAmisBefore.has(c.imageId))).toBe(true);

    // The self-managed group: one refresh, every instance on a new AMI, every termination drained.
    const asg = simState(ASG).autoScalingGroups?.[0];
    log(`${ASG}: ${JSON.stringify({ refreshes: asg?.refreshes, terminations: asg?.terminations })}`);
    expect(asg?.refreshes.map((r) => r.status)).toEqual(['Successful']);
    const live = asg?.instances.filter((i) => i.state !== 'Terminated') ?? [];
    expect(live).toHaveLength(3);
    expect(live.every((i) => i.state === 'InService' && i.imageId !== asgImageBefore)).toBe(true);
    expect(new Set(live.map((i) => i.imageId)).size).toBe(1);
    // One new launch-template version (the one after the version the group ran), used by all.
    const ltBefore = asgBefore?.instances[0]?.launchTemplateVersion ?? 0;
    expect(live.map((i) => i.launchTemplateVersion)).toEqual([ltBefore + 1, ltBefore + 1, ltBefore + 1]);
    expect(asg?.terminations).toHaveLength(3);
    for (const t of asg?.terminations ?? []) {
      expect(t, t.instanceId).toMatchObject({ via: 'lifecycle-action', cordoned: true, podsLeft: 0 });
    }

    // Fargate: every pod on a node whose kubelet is the new minor's.
    const core = (await kube(FARGATE)).makeApiClient(CoreV1Api);
    const fargateNodes = (await core.listNode({ labelSelector: 'eks.amazonaws.com/compute-type=fargate' })).items.map(
      (n) => `${n.metadata?.name} ${n.status?.nodeInfo?.kubeletVersion}`,
    );
    log(`${FARGATE} Fargate nodes: ${fargateNodes.join('; ')}`);
    expect(fargateNodes).toHaveLength(3);
    for (const n of fargateNodes) expect(n).toMatch(new RegExp(` v${TARGET.replace('.', '\\.')}\\.`));
  }, 600_000);
});
