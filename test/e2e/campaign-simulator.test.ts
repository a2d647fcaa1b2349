/**
 * End to end: a 20-cluster, 3-wave campaign completes through the real activities and the fleet
 * simulator (and a real Prometheus), with one injected bad cluster rolled back and counted
 * against its wave's failure budget.
 *
 * The whole stack of bench/lib/stack.ts (its own Temporal dev server, the simulator, Prometheus
 * scraping it, `fleetwave worker` as a child process: AWS SDK against the simulator), not the
 * shared dev server of the global setup. The fleet is generated (seed {@link SEED}: all 20
 * clusters need work, none has a PodDisruptionBudget that allows no disruption, so every
 * cluster but the bad one can end `upgraded`). One cluster of the middle wave carries the
 * simulator's `degradeAtVersion` fault for the target (as examples/fleet.yaml does for the
 * demo's stg-euw1-02): once all its nodes run 1.32 its error ratio jumps, its bake gate fails
 * and the cluster-upgrade workflow rolls its node groups and add-ons back (the control plane
 * stays: rollback.controlPlane is off and EKS cannot go back a minor anyway). The middle wave's
 * failure budget of 1 absorbs it: the wave is promoted, nothing pauses, and the campaign ends
 * `completed-with-failures`.
 *
 * Logs and the worker's log: test-output/e2e/campaign-simulator/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { benchCampaign, type BenchWave } from '../../bench/lib/campaign';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { validateStartInput } from '../../client/library';
import { nodegroupAmiType } from '../../domain/fleet';
import { nodegroupReversibility } from '../../domain/node-models';
import type { CampaignStatus } from '../../workflows/definitions';
import { approversOf, smallFleet, testWorkspace, TIME_SCALE } from '../resilience/harness';

const NAME = 'campaign-simulator';
/** generateFleet seed: 20 clusters, all planned (none already at 1.32 or refused), no PDB at 0 disruptions. */
const SEED = 56;
const TARGET = '1.32';
const HOUR = 3_600_000;

const WAVES: BenchWave[] = [
  { name: 'canary', count: 3, maxParallel: 3, soakRealMs: HOUR, approval: 'required', failureBudget: 1 },
  { name: 'middle', count: 8, maxParallel: 4, soakRealMs: HOUR, approval: 'auto', failureBudget: 1 },
  { name: 'rest', maxParallel: 6, soakRealMs: HOUR, approval: 'auto', failureBudget: 1 },
];

describe('e2e: campaign through the real activities, the fleet simulator and Prometheus', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('upgrades 20 clusters in 3 waves; the bad middle-wave cluster is rolled back within the budget', async () => {
    const wallStart = Date.now();
    const { dir, log } = testWorkspace(NAME, 'e2e');
    const fleet = smallFleet(20, SEED);
    const doc = benchCampaign({
      name: 'e2e-campaign-simulator',
      targetVersion: TARGET,
      timeScale: TIME_SCALE,
      waves: WAVES,
      maxInFlight: 6,
    });
    // benchCampaign bakes for one gate interval (1 s): a single passing measurement, which may
    // read a sample Prometheus scraped (every 1 s) just before the last node group finished, so a
    // degraded cluster can pass its bake (seen: 4 of 8 degraded clusters counted upgraded).
    // Four measurements a second apart are sure to see the degraded error ratio.
    doc.spec.bake = '4s';
    // The generated fleet has node groups whose launch template names a custom AMI: the simulator's
    // own images (acme-eks-<minor>-<arch>-<date>) serve them, as a team's image pipeline would.
    doc.spec.target.customAmis = { namePattern: 'acme-eks-{minor}-{arch}-*', owners: ['self'] };

    // Plan first (faults are ignored by planning), then inject the fault into one middle-wave cluster.
    const { plan } = validateStartInput({ campaign: doc, fleet });
    expect(plan.waves.map((w) => [w.name, w.clusters.length, w.failureBudget])).toEqual([
      ['canary', 3, 1],
      ['middle', 8, 1],
      ['rest', 9, 1],
    ]);
    expect(plan.skipped).toEqual([]);
    expect(plan.refused).toEqual([]);
    expect(fleet.clusters.filter((c) => c.pdbs.some((p) => p.allowedDisruptions === 0))).toEqual([]);
    const middle = plan.waves[1]?.clusters ?? [];
    // The first cluster of the middle wave with a single control-plane hop (1.31 → 1.32).
    const badPlan = middle.find((c) => c.path.length === 1);
    expect(badPlan, 'a one-hop cluster in the middle wave').toBeDefined();
    const bad = fleet.clusters.find((c) => c.name === badPlan?.name);
    if (!bad) throw new Error('bad cluster not in the fleet');
    bad.faults = { degradeAtVersion: TARGET };
    const before = structuredClone(bad);
    const { campaign } = validateStartInput({ campaign: doc, fleet });
    const name = campaign.metadata.name;
    log(
      `bad cluster ${bad.name} (${bad.version}; node groups ${bad.nodegroups.map((n) => `${n.name}@${n.version}`).join(', ')})`,
    );

    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: SEED, dir, log });
    const s = stack;
    const simBad = s.sim.state().clusters.find((c) => c.name === bad.name);
    expect(simBad?.faults).toEqual({ degradeAtVersion: TARGET });
    expect(simBad?.workload.degraded).toBe(false);

    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'e2e test' });
    log(`campaign started (run ${started.runId})`);
    const pauses: string[] = [];
    const drive = await driveCampaign(s.client, {
      name,
      approvers: approversOf(campaign),
      log,
      // Nothing should pause this campaign; if something does, abort so the test fails fast.
      onPaused: async (status) => {
        pauses.push(status.pausedReason ?? '?');
        await s.client.abortCampaign(name, { by: 'e2e test', reason: `unexpected pause: ${status.pausedReason}` });
      },
    });
    const { result } = drive;
    log(`campaign ${result.state} after ${((Date.now() - wallStart) / 1000).toFixed(1)} s`);

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: TARGET }]);
    const status = v.statuses.get(name) as CampaignStatus;
    log(`outcome: ${describeOutcome(status)}; ${v.mutations.length} mutations`);
    for (const line of describeNotUpgraded(status)) log(`  ${line}`);
    for (const a of status.audit)
      log(
        `  audit ${a.kind}${a.wave ? ` ${a.wave}` : ''}${a.cluster ? ` ${a.cluster}` : ''}${a.detail ? `: ${a.detail}` : ''}`,
      );

    // The campaign: completed with one failure, never paused.
    expect(pauses).toEqual([]);
    expect(result.state).toBe('completed-with-failures');
    expect(status.state).toBe('completed-with-failures');
    expect(result.rolledBack).toEqual([bad.name]);
    expect(result.failed).toEqual([]);
    expect(result.blocked ?? []).toEqual([]);
    expect(result.skipped).toEqual([]);
    expect(result.upgraded).toHaveLength(19);
    expect(status.audit.filter((a) => a.kind === 'paused' || a.kind === 'budget-exceeded')).toEqual([]);

    // Every invariant: final states agree with the simulator, one mutation per step, gates and promotions.
    expect(v.violations).toEqual(NO_VIOLATIONS);

    // The waves: canary promoted by approval, middle promoted automatically with its one failure, rest completed.
    expect(status.waves.map((w) => [w.name, w.state, w.total, w.failureBudget])).toEqual([
      ['canary', 'promoted', 3, 1],
      ['middle', 'promoted', 8, 1],
      ['rest', 'completed', 9, 1],
    ]);
    const failuresOf = (w: CampaignStatus['waves'][number]) =>
      w.counts['rolled-back'] + w.counts.failed + w.counts.blocked;
    expect(status.waves.map((w) => [w.name, failuresOf(w), w.counts.upgraded])).toEqual([
      ['canary', 0, 3],
      ['middle', 1, 7],
      ['rest', 0, 9],
    ]);
    expect(status.waves[1]?.counts['rolled-back']).toBe(1);
    expect(drive.approvals.filter((a) => a.promoted).map((a) => a.wave)).toEqual(['canary']);
    const promoted = status.audit.filter((a) => a.kind === 'promoted').map((a) => [a.wave, a.detail?.split(';')[0]]);
    expect(promoted).toEqual([
      ['canary', expect.stringMatching(/^approved by /) as unknown],
      ['middle', 'automatic'],
    ]);

    // The bad cluster: rolled back because its error-ratio gate failed in the bake.
    const badStatus = status.clusters.find((c) => c.name === bad.name);
    expect(badStatus?.wave).toBe('middle');
    expect(badStatus?.state).toBe('rolled-back');
    expect(badStatus?.reason).toMatch(/gate workload-error-ratio \(bake\): Failed/);
    expect(status.waves[1]?.gates).toContainEqual(
      expect.objectContaining({ cluster: bad.name, gate: 'workload-error-ratio', phase: 'bake', outcome: 'Failed' }),
    );

    // Everyone else: upgraded, and the simulator agrees (control plane and every node group at the target).
    const sim = new Map(v.sim.clusters.map((c) => [c.name, c]));
    const others = status.clusters.filter((c) => c.name !== bad.name);
    expect(others).toHaveLength(19);
    expect(others.filter((c) => c.state !== 'upgraded').map((c) => `${c.name}: ${c.state} ${c.reason ?? ''}`)).toEqual(
      [],
    );
    for (const c of others) {
      const simC = sim.get(c.name);
      expect(simC?.version, c.name).toBe(TARGET);
      expect(
        simC?.nodegroups.map((n) => n.version),
        c.name,
      ).toEqual(simC?.nodegroups.map(() => TARGET));
    }

    // The bad cluster's node groups went back as far as the rule allows (domain/node-models.ts): a
    // custom AMI to its previous launch-template version; an AMI EKS picks stays at the target, named
    // in the reason, with no rollback sent for it (and the control plane stays above it).
    const simBadAfter = sim.get(bad.name);
    const reversible = (n: (typeof before.nodegroups)[number]) =>
      nodegroupReversibility({ amiType: nodegroupAmiType(n), launchTemplate: n.launchTemplate }).reversible;
    expect(simBadAfter?.nodegroups.map((n) => [n.name, n.version])).toEqual(
      before.nodegroups.map((n) => [n.name, reversible(n) ? (n.version ?? before.version) : TARGET]),
    );
    for (const n of before.nodegroups.filter((ng) => !reversible(ng))) {
      expect(badStatus?.reason).toContain(`node group ${n.name} stays at ${TARGET}`);
    }
    expect(simBadAfter?.activeUpdates).toEqual([]);
    // Each node group was updated once forward, and once back only where it could go back.
    const badNgMutations = v.mutations.filter((m) => m.cluster === bad.name && m.nodegroup);
    log(
      `bad cluster node group mutations: ${badNgMutations.map((m) => `${m.operation} ${m.nodegroup} → ${m.target}`).join('; ')}`,
    );
    expect(badNgMutations.map((m) => m.nodegroup).sort()).toEqual(
      before.nodegroups.flatMap((n) => (reversible(n) ? [n.name, n.name] : [n.name])).sort(),
    );

    // Figures from the histories.
    const h = v.histories.get(name);
    if (!h) throw new Error('no histories');
    const badRuns = h.clusterRuns.filter((r) => r.workflowId === `cluster-upgrade/${bad.name}`);
    expect(badRuns).toHaveLength(1);
    expect(h.clusterRuns).toHaveLength(20);
    const perRun = h.clusterRuns.map((r) => r.events.length);
    const mean = (xs: number[]) => Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1));
    const hops = new Map(plan.waves.flatMap((w) => w.clusters.map((c) => [c.name, c.path.length] as const)));
    const byHops: Record<string, number[]> = {};
    for (const r of h.clusterRuns) {
      const cluster = r.workflowId.replace(/^cluster-upgrade\//, '');
      if (cluster !== bad.name) (byHops[`${hops.get(cluster)} hop(s)`] ??= []).push(r.events.length);
    }
    const campaignEvents = h.campaignRuns.reduce((n, r) => n + r.events.length, 0);
    const figures = {
      wallSeconds: Number(((Date.now() - wallStart) / 1000).toFixed(1)),
      badClusterRunEvents: badRuns[0]?.events.length,
      meanEventsPerClusterRun: mean(perRun),
      minMaxEventsPerClusterRun: [Math.min(...perRun), Math.max(...perRun)],
      upgradedRunEventsByHops: Object.fromEntries(
        Object.entries(byHops)
          .sort()
          .map(([k, xs]) => [k, { runs: xs.length, mean: mean(xs) }]),
      ),
      campaignRuns: h.campaignRuns.length,
      campaignEvents,
      campaignEventsPerCluster: Number((campaignEvents / status.clusters.length).toFixed(1)),
      mutations: v.mutations.length,
    };
    log(`figures ${JSON.stringify(figures)}`);
    console.log(`e2e campaign-simulator figures: ${JSON.stringify(figures)}`);
  }, 360_000);
});
