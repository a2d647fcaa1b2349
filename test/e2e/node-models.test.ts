/**
 * End to end over the node models EKS really has: AL2023 x86_64, Bottlerocket on arm64, NVIDIA,
 * Windows and AL2023 arm64 managed node groups, a node group whose launch template names a custom
 * AMI, and an EKS Auto Mode cluster, in two regions. The whole stack of bench/lib/stack.ts (its
 * own Temporal dev server, the simulator, Prometheus, `fleetwave worker` as a child process).
 *
 * 1. An upgrade to 1.32: every node group ends on the AMI pinned for its own amiType and region
 *    (the campaign status's `pinned`), the custom one on the image the name pattern picked, the
 *    Auto Mode cluster's nodes follow its control plane; one mutation per step. One cluster's bake
 *    gate fails: its custom-AMI node group goes back to its previous launch-template version, its
 *    AL2023 arm64 node group stays on 1.32 (EKS picks its AMI and cannot go back), and its status
 *    says so.
 * 2. A patch-only campaign (no kubernetesVersion): clusters whose node groups already run the
 *    newest release of their family and whose add-ons are at the default are left alone; the
 *    others move to the pinned releases.
 *
 * Logs: test-output/e2e/node-models/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { benchCampaign } from '../../bench/lib/campaign';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { createDefaultDeps } from '../../activities/aws';
import { describePins, findCurrentClusters, resolvePinsLive } from '../../client/current-check';
import { validateStartInput } from '../../client/library';
import { buildPlan } from '../../domain/plan';
import { fleetSchema, toFleetMember, type Fleet } from '../../domain/fleet';
import { amiTypeInfo, type AmiType } from '../../domain/node-models';
import { API_VERSION } from '../../domain/spec';
import { releasesOf } from '../../simulator/ami-catalogue';
import { defaultAddonVersion } from '../../simulator/catalogue';
import type { CampaignStatus, ClusterUpgradeResult } from '../../workflows/definitions';
import { approversOf, testWorkspace, TIME_SCALE } from '../resilience/harness';

const TARGET = '1.32';
const HOUR = 3_600_000;
const BAD = 'nm-euw1-custom';
const PLAN_CREDENTIALS = { accessKeyId: 'AKIDNODEMODELSPLAN', secretAccessKey: 'node-models-plan-secret' };

const ng = (name: string, amiType: AmiType, extra: Record<string, unknown> = {}) => ({
  name,
  amiType,
  nodes: 2,
  maxUnavailable: 1,
  ...extra,
});
const kubeProxy = (minor: string) => [{ name: 'kube-proxy', version: defaultAddonVersion('kube-proxy', minor) }];
/** The newest release the simulator publishes for an amiType and minor (what "latest" pins). */
const newest = (amiType: AmiType, minor: string) => releasesOf(amiType, minor).at(-1);

function nodeModelFleet(): Fleet {
  const base = (name: string, region: string, labels: Record<string, string>) => ({
    name,
    region,
    account: '111122223333',
    labels,
  });
  return fleetSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Fleet',
    clusters: [
      {
        ...base('nm-use1-std', 'us-east-1', { env: 'upgrade' }),
        version: '1.31',
        nodegroups: [ng('std', 'AL2023_x86_64_STANDARD'), ng('br-arm', 'BOTTLEROCKET_ARM_64')],
        addons: kubeProxy('1.31'),
      },
      {
        ...base('nm-euw1-gpu', 'eu-west-1', { env: 'upgrade' }),
        version: '1.31',
        nodegroups: [ng('gpu', 'AL2023_x86_64_NVIDIA'), ng('win', 'WINDOWS_CORE_2022_x86_64')],
        addons: kubeProxy('1.31'),
      },
      {
        ...base(BAD, 'eu-west-1', { env: 'upgrade' }),
        version: '1.31',
        nodegroups: [
          {
            name: 'custom',
            nodes: 2,
            maxUnavailable: 1,
            launchTemplate: { name: 'nm-custom', version: '2', imageId: 'ami-0123456789abcdef0' },
          },
          ng('arm', 'AL2023_ARM_64_STANDARD'),
        ],
        addons: kubeProxy('1.31'),
        faults: { degradeAtVersion: TARGET },
      },
      {
        ...base('nm-use1-auto', 'us-east-1', { env: 'upgrade' }),
        version: '1.31',
        autoMode: true,
        nodePools: [{ name: 'web', nodes: 4, budgetNodes: '2' }],
        nodegroups: [ng('std', 'AL2023_x86_64_STANDARD')],
        addons: kubeProxy('1.31'),
      },
      // Patch-only: already on the newest release of every family and the default add-on.
      {
        ...base('nm-patch-current', 'us-east-1', { env: 'patch' }),
        version: TARGET,
        nodegroups: [
          ng('std', 'AL2023_x86_64_STANDARD', { releaseVersion: newest('AL2023_x86_64_STANDARD', TARGET) }),
          ng('br', 'BOTTLEROCKET_x86_64', { releaseVersion: newest('BOTTLEROCKET_x86_64', TARGET) }),
        ],
        addons: kubeProxy(TARGET),
      },
      // Patch-only: older releases of the same minor.
      {
        ...base('nm-patch-behind', 'eu-west-1', { env: 'patch' }),
        version: TARGET,
        nodegroups: [
          ng('std', 'AL2023_x86_64_STANDARD', { releaseVersion: releasesOf('AL2023_x86_64_STANDARD', TARGET)[0] }),
          ng('br', 'BOTTLEROCKET_x86_64', { releaseVersion: releasesOf('BOTTLEROCKET_x86_64', TARGET)[0] }),
        ],
        addons: kubeProxy(TARGET),
      },
    ],
  });
}

describe('e2e: node models (AMI families, custom AMI, Auto Mode) through the real activities and the simulator', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('pins each family per region, rolls back as far as EKS allows, and a patch-only campaign skips what is current', async () => {
    const { dir, log } = testWorkspace('node-models', 'e2e');
    const fleet = nodeModelFleet();
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: 3, dir, log });
    const s = stack;

    // --- 1. The upgrade -------------------------------------------------------------------------
    const doc = benchCampaign({
      name: 'e2e-node-models',
      targetVersion: TARGET,
      timeScale: TIME_SCALE,
      waves: [
        {
          name: 'all',
          maxParallel: 4,
          soakRealMs: HOUR,
          approval: 'auto',
          failureBudget: 1,
          selector: { matchLabels: { env: 'upgrade' } },
        },
      ],
      maxInFlight: 4,
    });
    doc.spec.selector = { matchLabels: { env: 'upgrade' } };
    doc.spec.bake = '4s';
    const { campaign, plan } = validateStartInput({ campaign: doc, fleet });
    expect(plan.waves.map((w) => w.clusters.map((c) => c.name).sort())).toEqual([
      ['nm-euw1-custom', 'nm-euw1-gpu', 'nm-use1-auto', 'nm-use1-std'],
    ]);
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'e2e node models' });
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
    expect(result.rolledBack).toEqual([BAD]);
    expect(result.upgraded.sort()).toEqual(['nm-euw1-gpu', 'nm-use1-auto', 'nm-use1-std']);
    // One mutation per step, final states as the simulator has them, gates and promotions in order.
    expect(v.violations).toEqual(NO_VIOLATIONS);

    // Each node group on the AMI pinned for its own amiType and region.
    const pinned = status.pinned;
    expect(Object.keys(pinned?.amis ?? {}).sort()).toEqual(['eu-west-1', 'us-east-1']);
    const sim = new Map(v.sim.clusters.map((c) => [c.name, c]));
    const seen = new Set<string>();
    for (const name of result.upgraded) {
      const c = sim.get(name);
      const region = fleet.clusters.find((f) => f.name === name)?.region ?? '';
      expect(c?.version, name).toBe(TARGET);
      for (const g of c?.nodegroups ?? []) {
        const want = pinned?.amis?.[region]?.[g.amiType as AmiType]?.[TARGET];
        expect(want, `${name}/${g.name} ${g.amiType} pinned in ${region}`).toBeDefined();
        expect([g.name, g.version, g.releaseVersion]).toEqual([g.name, TARGET, want]);
        expect(g.releaseVersion).toBe(newest(g.amiType as AmiType, TARGET));
        seen.add(g.amiType);
      }
    }
    expect([...seen].sort()).toEqual([
      'AL2023_x86_64_NVIDIA',
      'AL2023_x86_64_STANDARD',
      'BOTTLEROCKET_ARM_64',
      'WINDOWS_CORE_2022_x86_64',
    ]);
    // Bottlerocket and Windows releases are numbered their own way, not as Amazon Linux's.
    const std = pinned?.amis?.['us-east-1']?.AL2023_x86_64_STANDARD?.[TARGET];
    expect(pinned?.amis?.['us-east-1']?.BOTTLEROCKET_ARM_64?.[TARGET]).not.toBe(std);
    expect(pinned?.amis?.['eu-west-1']?.WINDOWS_CORE_2022_x86_64?.[TARGET]).toMatch(/^1\.32-\d{4}\.\d{2}\.\d{2}$/);

    // The Auto Mode cluster: its step is reported, every NodeClaim ended on the target.
    const autoRun = (await s.client.client.workflow
      .getHandle('cluster-upgrade/nm-use1-auto')
      .result()) as ClusterUpgradeResult;
    log(`auto mode steps: ${JSON.stringify(autoRun.steps)}`);
    expect(autoRun.steps).toContainEqual(
      expect.objectContaining({
        step: `auto-mode nodes ${TARGET}`,
        status: 'done',
        detail: expect.stringMatching(/^(\d+)\/\1 on 1\.32$/) as unknown,
      }),
    );

    // The bad cluster: the custom-AMI node group went forward once (a new launch-template version
    // naming the pinned image) and back once; the arm64 one went forward and stayed.
    const bad = status.clusters.find((c) => c.name === BAD);
    expect(bad?.state).toBe('rolled-back');
    expect(bad?.reason).toMatch(/gate workload-error-ratio \(bake\): Failed/);
    expect(bad?.reason).toMatch(/\barm\b/);
    const simBad = sim.get(BAD);
    const byName = new Map(simBad?.nodegroups.map((g) => [g.name, g]));
    expect(byName.get('custom')?.imageId).toBe('ami-0123456789abcdef0');
    expect(byName.get('custom')?.version).toBe('1.31');
    expect(byName.get('arm')?.version).toBe(TARGET);
    expect(byName.get('arm')?.releaseVersion).toBe(pinned?.amis?.['eu-west-1']?.AL2023_ARM_64_STANDARD?.[TARGET]);
    const badNg = v.mutations.filter((m) => m.cluster === BAD && m.nodegroup);
    log(`bad cluster node-group mutations: ${badNg.map((m) => `${m.nodegroup} → ${m.target}`).join('; ')}`);
    expect(badNg.filter((m) => m.nodegroup === 'custom')).toHaveLength(2);
    expect(badNg.filter((m) => m.nodegroup === 'arm')).toHaveLength(1);
    expect(pinned?.customAmis?.['eu-west-1']?.x86_64?.[TARGET]).toMatch(/^ami-/);

    // --- 2. Patch-only ---------------------------------------------------------------------------
    const patchDoc = benchCampaign({
      name: 'e2e-node-models-patch',
      targetVersion: TARGET,
      timeScale: TIME_SCALE,
      waves: [{ name: 'patch', maxParallel: 2, soakRealMs: HOUR, approval: 'auto', failureBudget: 0 }],
      maxInFlight: 2,
    });
    delete (patchDoc.spec.target as { kubernetesVersion?: string }).kubernetesVersion;
    patchDoc.spec.selector = { matchLabels: { env: 'patch' } };
    const patch = validateStartInput({ campaign: patchDoc, fleet });
    // `fleetwave plan` asks EKS and SSM what is newest today and skips the cluster already there.
    const livePins = await resolvePinsLive(patch.campaign, fleet.clusters, patch.plan, {
      deps: createDefaultDeps({ endpoint: s.sim.url, region: 'us-east-1', credentials: PLAN_CREDENTIALS }),
    });
    if (!livePins) throw new Error('no pins resolved');
    log(`live pins: ${describePins(livePins).join(' | ')}`);
    const currentNow = findCurrentClusters(patch.campaign, fleet.clusters, patch.plan, livePins);
    const patchPlan = buildPlan(patch.campaign, fleet.clusters.map(toFleetMember), currentNow);
    log(`patch plan with live pins: skipped ${JSON.stringify(patchPlan.skipped)}`);
    expect(patchPlan.waves.map((w) => w.clusters.map((c) => c.name))).toEqual([['nm-patch-behind']]);
    expect(patchPlan.skipped).toEqual([
      { cluster: 'nm-patch-current', reason: expect.stringMatching(/^already current/) as unknown },
    ]);
    log(
      `patch plan: ${JSON.stringify(patch.plan.waves.map((w) => w.clusters.map((c) => c.name)))} skipped ${JSON.stringify(patch.plan.skipped)}`,
    );
    const patchStarted = await s.client.startCampaign({
      campaign: patch.campaign,
      fleet,
      startedBy: 'e2e node models',
    });
    await driveCampaign(s.client, { name: patch.campaign.metadata.name, approvers: [], log });
    const pv = await verifyCampaigns(s, [
      { name: patch.campaign.metadata.name, runId: patchStarted.runId, targetVersion: TARGET },
    ]);
    const patchStatus = pv.statuses.get(patch.campaign.metadata.name) as CampaignStatus;
    for (const c of patchStatus.clusters) log(`${c.name}: ${c.state} ${c.reason ?? ''}`);
    expect(pv.violations.exactlyOnce).toEqual([]);
    // The current cluster's preflight finds nothing to change: it ends already at target, untouched.
    expect(patchStatus.clusters.map((c) => [c.name, c.state]).sort()).toEqual([
      ['nm-patch-behind', 'upgraded'],
      ['nm-patch-current', 'already-at-target'],
    ]);
    const current = pv.mutations.filter((m) => m.cluster === 'nm-patch-current');
    expect(current).toEqual([]);
    const behind = new Map(
      pv.sim.clusters.find((c) => c.name === 'nm-patch-behind')?.nodegroups.map((g) => [g.name, g]),
    );
    expect(behind.get('std')?.releaseVersion).toBe(newest('AL2023_x86_64_STANDARD', TARGET));
    expect(behind.get('br')?.releaseVersion).toBe(newest('BOTTLEROCKET_x86_64', TARGET));
    expect(amiTypeInfo('BOTTLEROCKET_x86_64').family).toBe('bottlerocket');
  }, 600_000);
});
