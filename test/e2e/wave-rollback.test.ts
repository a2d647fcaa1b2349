/**
 * End to end: undoing a promoted wave (`fleetwave rollback NAME --wave W [--cluster C]`, here
 * through FleetwaveClient.rollbackWave, the Update the CLI sends) with
 * spec.rollback.afterPromotion {mode: propose, controlPlane: true}, through the real activities,
 * the fleet simulator and a real Prometheus (the stack of bench/lib/stack.ts).
 *
 * Four clusters upgrade 1.31 → 1.32 in two waves. Once the first wave is promoted:
 * (a) rb-fargate (Fargate only, no node group): its add-on goes back, then its control plane by a
 *     VersionRollback (the update type in the simulator's mutations), ending on 1.31;
 * (b) rb-managed (an AL2023 managed node group, whose AMI EKS picks, so it stays on 1.32): the
 *     kubelet version skew ROLLBACK_READINESS insight is in ERROR, no VersionRollback is sent, and
 *     the campaign status says "control plane stays at 1.32" with the node group named;
 * (c) rb-late (Fargate only): rolled back with the `fleetwave rollback` CLI after the simulator's
 *     clock moved 8 days on, past EKS's 7-day window: EKS refuses the VersionRollback, and the
 *     status (and `fleetwave status`) says so.
 * The second wave soaks long, so the campaign is still running when the rollbacks are asked for;
 * the test aborts it at the end.
 *
 * Logs: test-output/e2e/wave-rollback/.
 */
import { EKSClient, ListInsightsCommand } from '@aws-sdk/client-eks';
import { afterAll, describe, expect, it } from 'vitest';
import { benchCampaign } from '../../bench/lib/campaign';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { validateStartInput, type FleetwaveClient } from '../../client/library';
import { fleetSchema, type Fleet } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';
import { defaultAddonVersion } from '../../simulator/catalogue';
import type { Mutation } from '../../simulator/model/types';
import type { CampaignStatus, ClusterStatus, RollbackWaveResult } from '../../workflows/definitions';
import { runCli } from '../helpers/cli';
import { approversOf, sleep, testWorkspace, TIME_SCALE } from '../resilience/harness';

const FROM = '1.31';
const TARGET = '1.32';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NAME = 'e2e-wave-rollback';
const CREDENTIALS = { accessKeyId: 'AKIDWAVEROLLBACK', secretAccessKey: 'wave-rollback-secret' };

function rollbackFleet(): Fleet {
  const cluster = (name: string, wave: string, extra: Record<string, unknown>) => ({
    name,
    region: 'us-east-1',
    account: '111122223333',
    labels: { wave },
    version: FROM,
    addons: [{ name: 'kube-proxy', version: defaultAddonVersion('kube-proxy', FROM) }],
    ...extra,
  });
  const fargateOnly = { nodegroups: [], fargateProfiles: [{ name: 'default', pods: 2 }] };
  return fleetSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Fleet',
    clusters: [
      cluster('rb-fargate', 'first', fargateOnly),
      cluster('rb-managed', 'first', {
        nodegroups: [{ name: 'std', amiType: 'AL2023_x86_64_STANDARD', nodes: 2, maxUnavailable: 1 }],
      }),
      cluster('rb-late', 'first', fargateOnly),
      cluster('rb-second', 'second', fargateOnly),
    ],
  });
}

/** The simulator's accepted mutating calls for one cluster, over its HTTP API. */
async function simMutations(s: Stack, cluster: string): Promise<Mutation[]> {
  const res = await fetch(`${s.sim.url}/sim/mutations?cluster=${cluster}`);
  return ((await res.json()) as { mutations: Mutation[] }).mutations;
}

/** Polls the campaign status until `done` holds (the rollback Update returns before its runs end). */
async function statusWhen(
  fw: FleetwaveClient,
  name: string,
  done: (s: CampaignStatus) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<CampaignStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await fw.getStatus(name, { liveSteps: false });
    if (done(status)) return status;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; status ${JSON.stringify(status.clusters)}`);
    await sleep(250);
  }
}

const clusterOf = (s: CampaignStatus, name: string) => s.clusters.find((c) => c.name === name) as ClusterStatus;
/** The rollback-only runs of `names` ended: their result's reason is the rollback's, and they no longer run. */
const rollbackEnded = (s: CampaignStatus, names: string[]) =>
  names.every((n) => {
    const c = clusterOf(s, n);
    return c.state !== 'upgrading' && (c.reason ?? '').startsWith('rolled back with wave "first"');
  });

describe('e2e: a promoted wave rolled back, control plane by VersionRollback where EKS allows it', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('rolls the control plane back one minor where allowed; refused by the readiness insight and the 7-day window', async () => {
    const wallStart = Date.now();
    const { dir, log } = testWorkspace('wave-rollback', 'e2e');
    const fleet = rollbackFleet();
    const doc = benchCampaign({
      name: NAME,
      targetVersion: TARGET,
      timeScale: TIME_SCALE,
      waves: [
        {
          name: 'first',
          maxParallel: 3,
          soakRealMs: HOUR,
          approval: 'required',
          failureBudget: 0,
          selector: { matchLabels: { wave: 'first' } },
        },
        // Long enough that the campaign still runs while the first wave is undone (aborted at the end).
        { name: 'second', maxParallel: 1, soakRealMs: 30 * DAY, approval: 'auto', failureBudget: 0 },
      ],
      maxInFlight: 4,
      watchAfterPromotionRealMs: DAY,
    });
    doc.spec.rollback = { ...doc.spec.rollback, afterPromotion: { mode: 'propose', controlPlane: true } };
    const { campaign, plan } = validateStartInput({ campaign: doc, fleet });
    expect(plan.waves.map((w) => w.clusters.map((c) => c.name).sort())).toEqual([
      ['rb-fargate', 'rb-late', 'rb-managed'],
      ['rb-second'],
    ]);

    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: 7, dir, log });
    const s = stack;
    const fw = s.client;
    const startedAt = Date.now();
    await fw.startCampaign({ campaign, fleet, startedBy: 'e2e wave rollback' });
    const drive = driveCampaign(fw, { name: NAME, approvers: approversOf(campaign), log });

    // --- The first wave upgrades and is promoted ------------------------------------------------
    const promoted = await statusWhen(
      fw,
      NAME,
      (st) => st.waves[0]?.state === 'promoted',
      'the first wave promoted',
      150_000,
    );
    const promotedMs = Date.now() - startedAt;
    log(`first wave promoted after ${promotedMs} ms`);
    expect(
      promoted.clusters
        .filter((c) => c.wave === 'first')
        .map((c) => [c.name, c.state])
        .sort(),
    ).toEqual([
      ['rb-fargate', 'upgraded'],
      ['rb-late', 'upgraded'],
      ['rb-managed', 'upgraded'],
    ]);
    for (const name of ['rb-fargate', 'rb-managed', 'rb-late'])
      expect(s.sim.state(name).clusters[0]?.version).toBe(TARGET);
    expect(s.sim.state('rb-managed').clusters[0]?.nodegroups.map((n) => n.version)).toEqual([TARGET]);

    // The readiness insight EKS lists for rb-managed, read with the AWS SDK: kubelet skew in ERROR.
    const eks = new EKSClient({ endpoint: s.sim.url, region: 'us-east-1', credentials: CREDENTIALS });
    const insights = await eks.send(
      new ListInsightsCommand({
        clusterName: 'rb-managed',
        filter: { categories: ['ROLLBACK_READINESS'], kubernetesVersions: [FROM] },
      }),
    );
    const skew = insights.insights?.find((i) => i.name === 'Kubelet version skew');
    log(`rb-managed rollback insight: ${JSON.stringify(skew?.insightStatus)}`);
    expect(skew?.insightStatus?.status).toBe('ERROR');
    expect(skew?.insightStatus?.reason).toMatch(/std \(1\.32\)/);

    // --- (a) and (b): the wave's two clusters within the window ---------------------------------
    const askMs = Date.now();
    const firstAnswer: RollbackWaveResult[] = [];
    for (const cluster of ['rb-fargate', 'rb-managed']) {
      firstAnswer.push(await fw.rollbackWave(NAME, { by: 'e2e operator', wave: 'first', cluster, reason: 'e2e' }));
    }
    const answeredMs = Date.now() - askMs;
    for (const r of firstAnswer) log(`rollback answer: ${JSON.stringify(r)}`);
    expect(firstAnswer.map((r) => r.clusters.map((c) => [c.cluster, c.started]))).toEqual([
      [['rb-fargate', true]],
      [['rb-managed', true]],
    ]);
    const cpBack = 'control-plane 1.32 → 1.31 (VersionRollback, if EKS allows it now)';
    expect(firstAnswer[0]?.clusters[0]).toMatchObject({ goesBack: ['addon kube-proxy', cpBack], stays: [] });
    // The answer promises only what EKS can do: the node group whose AMI EKS picks stays.
    expect(firstAnswer[1]?.clusters[0]).toMatchObject({
      goesBack: ['addon kube-proxy', cpBack],
      stays: [expect.stringMatching(/^node group std stays at 1\.32: EKS picks its AL2023_x86_64_STANDARD AMI/)],
    });

    const afterWindow = await statusWhen(
      fw,
      NAME,
      (st) => rollbackEnded(st, ['rb-fargate', 'rb-managed']),
      'rollbacks',
    );
    const rolledBackMs = Date.now() - askMs;
    const fargate = clusterOf(afterWindow, 'rb-fargate');
    const managed = clusterOf(afterWindow, 'rb-managed');
    log(`rb-fargate: ${fargate.state} ${fargate.reason ?? ''}`);
    log(`rb-managed: ${managed.state} ${managed.reason ?? ''}`);

    // (a) Back one minor by a VersionRollback, after its add-on.
    expect(fargate.state).toBe('rolled-back');
    expect(fargate.reason ?? '').not.toMatch(/control plane stays/);
    expect(s.sim.state('rb-fargate').clusters[0]?.version).toBe(FROM);
    const fargateOps = (await simMutations(s, 'rb-fargate')).map((m) => [m.operation, m.updateType, m.target]);
    log(`rb-fargate mutations: ${JSON.stringify(fargateOps)}`);
    expect(fargateOps.filter((m) => m[0] === 'UpdateClusterVersion')).toEqual([
      ['UpdateClusterVersion', 'VersionUpdate', TARGET],
      ['UpdateClusterVersion', 'VersionRollback', FROM],
    ]);
    // The add-on went back before the control plane did.
    expect(fargateOps.at(-1)).toEqual(['UpdateClusterVersion', 'VersionRollback', FROM]);
    expect(fargateOps.at(-2)?.[0]).toBe('UpdateAddon');

    // (b) The control plane stays with the node group EKS cannot take back: no VersionRollback sent.
    expect(managed.state).toBe('rolled-back');
    expect(managed.reason).toMatch(
      /control plane stays at 1\.32: node group std 1\.32 runs a kubelet newer than Kubernetes 1\.31/,
    );
    expect(managed.reason).toMatch(/node group std stays at 1\.32/);
    expect(s.sim.state('rb-managed').clusters[0]?.version).toBe(TARGET);
    const managedOps = (await simMutations(s, 'rb-managed')).map((m) => [m.operation, m.updateType, m.target]);
    log(`rb-managed mutations: ${JSON.stringify(managedOps)}`);
    expect(managedOps.filter((m) => m[1] === 'VersionRollback')).toEqual([]);
    expect(managedOps.filter((m) => m[0] === 'UpdateClusterVersion')).toHaveLength(1);

    // --- (c) Eight days later: past EKS's 7-day window -----------------------------------------
    const advanced = await fetch(`${s.sim.url}/sim/advance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seconds: (8 * DAY) / 1000 }),
    });
    expect(advanced.status).toBe(200);
    log(`simulator clock advanced 8 days: ${JSON.stringify(await advanced.json())}`);
    // This one through the CLI, as an operator types it.
    const cliEnv = { TEMPORAL_ADDRESS: s.server.address, TEMPORAL_NAMESPACE: s.server.namespace };
    const rollbackArgs = ['rollback', NAME, '--wave', 'first', '--cluster', 'rb-late', '--as', 'e2e operator'];
    const lateAskMs = Date.now();
    const cli = await runCli([...rollbackArgs, '--json'], { env: cliEnv });
    const cliMs = Date.now() - lateAskMs;
    log(`fleetwave rollback --json (exit ${cli.code}, ${cli.ms} ms): ${cli.stdout.trim()} ${cli.stderr.trim()}`);
    expect(cli.code, cli.stderr).toBe(0);
    const late = JSON.parse(cli.stdout) as RollbackWaveResult;
    expect(late.clusters.map((c) => [c.cluster, c.started])).toEqual([['rb-late', true]]);
    const afterLate = await statusWhen(fw, NAME, (st) => rollbackEnded(st, ['rb-late']), 'the late rollback');
    const lateMs = Date.now() - lateAskMs;
    const lateStatus = clusterOf(afterLate, 'rb-late');
    log(`rb-late: ${lateStatus.state} ${lateStatus.reason ?? ''}`);
    expect(lateStatus.state).toBe('rolled-back');
    expect(lateStatus.reason).toMatch(/control plane stays at 1\.32: .*within 7 days of that upgrade/);
    expect(s.sim.state('rb-late').clusters[0]?.version).toBe(TARGET);
    const lateOps = (await simMutations(s, 'rb-late')).map((m) => [m.operation, m.updateType, m.target]);
    log(`rb-late mutations: ${JSON.stringify(lateOps)}`);
    expect(lateOps.filter((m) => m[1] === 'VersionRollback')).toEqual([]);
    expect(lateOps.at(-1)?.[0]).toBe('UpdateAddon');

    // The audit trail holds the three requests; the wave's status still says promoted.
    const requested = afterLate.audit.filter((a) => a.kind === 'rollback-requested');
    expect(requested.map((a) => [a.wave, a.cluster])).toEqual([
      ['first', 'rb-fargate'],
      ['first', 'rb-managed'],
      ['first', 'rb-late'],
    ]);
    expect(afterLate.waves[0]?.state).toBe('promoted');

    // `fleetwave status` reports what stayed; a second rollback of the same cluster is refused (exit 2).
    const statusCli = await runCli(['status', NAME], { env: cliEnv });
    log(`fleetwave status (exit ${statusCli.code}):\n${statusCli.stdout}`);
    expect(statusCli.code, statusCli.stderr).toBe(0);
    expect(statusCli.stdout).toMatch(/rb-late .*control plane stays at 1\.32: .*within 7 days of that upgrade/);
    expect(statusCli.stdout).toMatch(/rb-managed .*control plane stays at 1\.32: node group std 1\.32 runs a kubelet/);
    const again = await runCli(rollbackArgs, { env: cliEnv });
    log(`fleetwave rollback again (exit ${again.code}): ${again.stdout.trim()} ${again.stderr.trim()}`);
    expect(again.code).toBe(2);
    expect(again.stderr + again.stdout).toMatch(
      /cluster "rb-late" is (rolled-back; only upgraded clusters can be rolled back|already rolling back)/,
    );

    await fw.abortCampaign(NAME, { by: 'e2e operator', reason: 'wave rollback checked' });
    const { result } = await drive;
    log(`campaign ${result.state}`);
    expect(result.state).toBe('aborted');

    const figures = {
      wallSeconds: Number(((Date.now() - wallStart) / 1000).toFixed(1)),
      firstWavePromotedMs: promotedMs,
      rollbackUpdatesAnsweredMs: answeredMs,
      rollbacksWithinWindowEndedMs: rolledBackMs,
      rollbackPastWindowEndedMs: lateMs,
      cliRollbackAnsweredMs: cliMs,
    };
    log(`figures ${JSON.stringify(figures)}`);
    console.log(`e2e wave-rollback figures: ${JSON.stringify(figures)}`);
  }, 300_000);
});
