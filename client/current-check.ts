/**
 * Which clusters of a patch-only campaign are already current, for `fleetwave plan`.
 *
 * A patch-only campaign (no `spec.target.kubernetesVersion`) moves node groups to the newest AMI
 * release of their family and add-ons to the pinned versions. Whether a cluster has anything to
 * do depends on what "latest" and "default" are today, so the plan asks EKS and SSM with the
 * same `resolveTargetVersions` the campaign runs at start (the CLI's AWS settings, as the live
 * check of pinned versions uses them), then runs the cluster-upgrade workflow's own decision
 * (`planUpgrade`) over the versions the fleet file lists. A cluster for which that decision
 * changes nothing is listed as skipped, with the reason. Node groups whose release the fleet file
 * does not list, and custom-AMI node groups (whose architecture only preflight reads), count as
 * needing work: the plan never skips a cluster it cannot show to be current. At run time each
 * cluster's preflight decides again from what EKS reports.
 */
import { resolveDeps } from '../activities/deps';
import { resolveTargetVersions } from '../activities/eks/pinning';
import type { ClusterState, PinnedVersions } from '../activities/types';
import type { ClusterInventory } from '../domain/fleet';
import { toFleetMember } from '../domain/fleet';
import { DEFAULT_AMI_TYPE } from '../domain/node-models';
import type { PlannedCampaign } from '../domain/plan';
import type { Campaign } from '../domain/spec';
import { pinRequest } from '../workflows/campaign/planning';
import { isEmptyPlan, planUpgrade } from '../workflows/cluster-upgrade/plan';
import type { ClusterUpgradeInput } from '../workflows/definitions';
import { cliAwsDeps, LIVE_CHECK_TIMEOUT_MS, type LiveCheckOptions } from './version-check';

/** Where the live resolution asks: the environment's AWS settings, or the clients given. */
export type CurrentCheckOptions = Pick<LiveCheckOptions, 'env' | 'deps'>;

/** The cluster as its preflight would see it, from the fleet file (versions it does not list stay unknown). */
function stateFromInventory(c: ClusterInventory): ClusterState {
  return {
    name: c.name,
    version: c.version,
    status: 'ACTIVE',
    nodegroups: c.nodegroups.map((ng) => ({
      name: ng.name,
      version: ng.version ?? c.version,
      status: 'ACTIVE',
      amiType: ng.amiType ?? (ng.launchTemplate?.imageId ? 'CUSTOM' : DEFAULT_AMI_TYPE),
      ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
      ...(ng.launchTemplate?.imageId ? { imageId: ng.launchTemplate.imageId } : {}),
    })),
    addons: c.addons.map((a) => ({ name: a.name, version: a.version, status: 'ACTIVE' })),
  };
}

/** Whether the cluster-upgrade workflow would change nothing on this cluster with these pins. */
export function isCurrent(campaign: Campaign, c: ClusterInventory, pinned: PinnedVersions): boolean {
  // A node group whose release the file does not list may be anywhere: not provably current.
  if (c.nodegroups.some((ng) => !ng.releaseVersion && !ng.launchTemplate?.imageId)) return false;
  const input = {
    spec: campaign.spec,
    pinned,
    cluster: { name: c.name, region: c.region },
  } as unknown as ClusterUpgradeInput;
  return isEmptyPlan(planUpgrade(input, { state: stateFromInventory(c), path: [] } as never));
}

/**
 * The versions the campaign would pin if it started now, for the planned clusters: the same
 * `resolveTargetVersions` call the campaign makes at start (every region, amiType and minor in
 * use), with the CLI's AWS settings. Rejects when EKS or SSM cannot be asked.
 */
export async function resolvePinsLive(
  campaign: Campaign,
  fleet: readonly ClusterInventory[],
  plan: PlannedCampaign,
  opts: CurrentCheckOptions = {},
): Promise<PinnedVersions | undefined> {
  const planned = new Set(plan.waves.flatMap((w) => w.clusters.map((c) => c.name)));
  const inventory = fleet.filter((c) => planned.has(c.name));
  const request = pinRequest(campaign, inventory.map(toFleetMember), plannedPaths(plan));
  if (!request) return undefined;
  const deps = cliAwsDeps(opts);
  const timeout = AbortSignal.timeout(LIVE_CHECK_TIMEOUT_MS);
  return Promise.race([
    resolveTargetVersions(resolveDeps(deps), request),
    new Promise<never>((_, reject) =>
      timeout.addEventListener('abort', () => reject(new Error('timed out asking EKS and SSM')), { once: true }),
    ),
  ]);
}

function plannedPaths(plan: PlannedCampaign): Record<string, string[]> {
  return Object.fromEntries(plan.waves.flatMap((w) => w.clusters.map((c) => [c.name, c.path])));
}

/**
 * For a patch-only campaign: the planned clusters that are already current with these pins, each
 * with its reason. Empty for a campaign with a target version (its plan already skips clusters at
 * the target).
 */
export function findCurrentClusters(
  campaign: Campaign,
  fleet: readonly ClusterInventory[],
  plan: PlannedCampaign,
  pinned: PinnedVersions,
): Map<string, string> {
  const current = new Map<string, string>();
  if (campaign.spec.target.kubernetesVersion) return current;
  const planned = new Set(plan.waves.flatMap((w) => w.clusters.map((c) => c.name)));
  for (const c of fleet) {
    if (planned.has(c.name) && isCurrent(campaign, c, pinned)) {
      current.set(
        c.name,
        'already current: node AMIs at the newest release of their family, add-ons at the pinned versions',
      );
    }
  }
  return current;
}

/** The pins as plan lines, one per region: "us-east-1: AL2023_x86_64_STANDARD 1.31 1.31.5-20250304, ...". */
export function describePins(pinned: PinnedVersions): string[] {
  const regions = new Set([...Object.keys(pinned.amis ?? {}), ...Object.keys(pinned.customAmis ?? {})]);
  return [...regions].sort().map((region) => {
    const parts: string[] = [];
    for (const [amiType, byMinor] of Object.entries(pinned.amis?.[region] ?? {}).sort(([a], [b]) => a.localeCompare(b)))
      parts.push(
        `${amiType} ${Object.entries(byMinor ?? {})
          .map(([minor, release]) => `${minor} ${release}`)
          .join(', ')}`,
      );
    for (const [arch, byMinor] of Object.entries(pinned.customAmis?.[region] ?? {}).sort(([a], [b]) =>
      a.localeCompare(b),
    ))
      parts.push(
        `custom ${arch} ${Object.entries(byMinor ?? {})
          .map(([minor, ami]) => `${minor} ${ami}`)
          .join(', ')}`,
      );
    return `${region}: ${parts.join('; ')}`;
  });
}
