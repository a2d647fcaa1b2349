/**
 * A generated fleet for demos and benchmarks (`fleetwave sim --generate 5000 --seed 7`): a
 * plausible spread of environments, regions, accounts, teams and tiers, mostly on recent
 * minors with some node groups one minor behind, AMI releases that are not all current, add-on
 * versions that are EKS defaults or one step older, a few PodDisruptionBudgets that block
 * drains, and no faults. Node groups mix AMI families (mostly AL2023 x86_64, some Graviton,
 * Bottlerocket, NVIDIA, Windows and AL2, a few custom-AMI launch templates). The same count and
 * seed give the same fleet.
 */
import { API_VERSION } from '../domain/spec';
import type { ClusterInventory, Fleet } from '../domain/fleet';
import type { AmiType } from '../domain/node-models';
import { releasesOf } from './ami-catalogue';
import { AMI_RELEASES, ADDONS, SIM_MINORS, defaultAddonVersion, compareMinor, shiftMinor } from './catalogue';
import { ownedImageId } from './model';
import { createRng, hash32, unit, type Rng } from './random';

export interface GenerateOptions {
  count: number;
  /** Default 1. */
  seed?: number;
  /**
   * Mix AMI families and custom-AMI launch templates into the node groups. Default true; false
   * gives every node group the default AL2023 x86_64 AMI, with the fleet otherwise the same.
   */
  mixFamilies?: boolean;
}

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-1', 'ap-northeast-1'] as const;
const REGION_CODES: Record<string, string> = {
  'us-east-1': 'use1',
  'us-west-2': 'usw2',
  'eu-west-1': 'euw1',
  'eu-central-1': 'euc1',
  'ap-southeast-1': 'apse1',
  'ap-northeast-1': 'apne1',
};
const TEAMS = ['payments', 'search', 'ads', 'identity', 'data', 'platform', 'ml', 'web', 'mobile', 'risk'] as const;

function weighted<T>(rng: Rng, entries: readonly (readonly [T, number])[]): T {
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = rng.next() * total;
  for (const [v, w] of entries) {
    x -= w;
    if (x < 0) return v;
  }
  return (entries[entries.length - 1] as readonly [T, number])[0];
}

/** Shares of node groups per AMI type (CUSTOM: a launch template naming an owned image). */
const AMI_MIX: readonly (readonly [AmiType, number])[] = [
  ['AL2023_x86_64_STANDARD', 62],
  ['AL2023_ARM_64_STANDARD', 12],
  ['BOTTLEROCKET_x86_64', 5],
  ['BOTTLEROCKET_ARM_64', 4],
  ['AL2023_x86_64_NVIDIA', 4],
  ['AL2_x86_64', 4],
  ['WINDOWS_CORE_2022_x86_64', 3],
  ['CUSTOM', 6],
];

/**
 * The AMI type of a generated node group, from a draw of its own so that the rest of the fleet
 * (and the benchmarks built on it) stays what it was before families were mixed in.
 */
function amiTypeFor(seed: number, cluster: string, nodegroup: string): AmiType {
  const total = AMI_MIX.reduce((sum, [, w]) => sum + w, 0);
  let x = unit(seed, cluster, nodegroup, 'ami-type') * total;
  for (const [t, w] of AMI_MIX) {
    x -= w;
    if (x < 0) return t;
  }
  return 'AL2023_x86_64_STANDARD';
}

/** A fleet of `count` generated clusters, deterministic for the seed. */
export function generateFleet(opts: GenerateOptions): Fleet {
  const seed = opts.seed ?? 1;
  const rng = createRng(hash32(seed, 'generate'));
  const accounts = Array.from({ length: 24 }, (_, i) => String(100_000_000_000 + hash32(seed, 'account', i) * 100 + i));
  const clusters: ClusterInventory[] = [];
  for (let i = 0; i < opts.count; i++) {
    const env = weighted(rng, [
      ['prod', 5],
      ['staging', 3],
      ['dev', 2],
    ] as const);
    const region = rng.pick(REGIONS);
    const team = rng.pick(TEAMS);
    const tier =
      env === 'prod'
        ? weighted(rng, [
            ['critical', 3],
            ['standard', 5],
            ['batch', 2],
          ] as const)
        : 'standard';
    const account = accounts[(hash32(env, team) + (env === 'prod' ? 0 : 12)) % accounts.length] as string;
    const version = weighted(rng, [
      ['1.29', 1],
      ['1.30', 3],
      ['1.31', 4],
      ['1.32', 2],
    ] as const);
    const name = `${env}-${REGION_CODES[region]}-${team}-${String(i).padStart(4, '0')}`;

    const ngCount = weighted(rng, [
      [1, 3],
      [2, 5],
      [3, 2],
    ] as const);
    const ngNames = ['system', 'general', 'batch'];
    const nodegroups = Array.from({ length: ngCount }, (_, j) => {
      const behind = rng.next() < 0.2 && compareMinor(shiftMinor(version, -1), SIM_MINORS[0] as string) >= 0;
      const ngVersion = behind ? shiftMinor(version, -1) : version;
      const releases = AMI_RELEASES[ngVersion] ?? [];
      // Most node groups are one or two releases behind, so a patch campaign has work to do.
      const releaseIndex = Math.min(releases.length - 1, rng.int(0, releases.length - 2));
      const amiType: AmiType =
        opts.mixFamilies === false ? 'AL2023_x86_64_STANDARD' : amiTypeFor(seed, name, ngNames[j] as string);
      const familyReleases = amiType === 'CUSTOM' ? [] : releasesOf(amiType, ngVersion);
      const releaseVersion = familyReleases[Math.min(familyReleases.length - 1, releaseIndex)] as string;
      const nodes =
        j === 0
          ? rng.int(2, 4)
          : weighted(rng, [
              [rng.int(3, 8), 6],
              [rng.int(9, 20), 3],
              [rng.int(21, 40), 1],
            ] as const);
      const withLaunchTemplate = rng.next() < 0.5;
      const common = {
        name: ngNames[j] as string,
        version: ngVersion,
        nodes,
        maxUnavailable: nodes >= 10 ? rng.int(2, 4) : 1,
      };
      // Drawn after maxUnavailable, in the order the fleet always drew them.
      const ltVersion = withLaunchTemplate ? String(rng.int(1, 6)) : undefined;
      if (amiType === 'CUSTOM') {
        // The older of the two owned images of its minor, so a newer one exists to roll to.
        const imageId = ownedImageId(region, account, `acme-eks-${ngVersion}-x86_64-20250115`);
        return {
          ...common,
          launchTemplate: { name: `${name}-${ngNames[j]}-lt`, version: ltVersion ?? '1', imageId },
        };
      }
      return {
        ...common,
        releaseVersion,
        ...(amiType !== 'AL2023_x86_64_STANDARD' ? { amiType } : {}),
        ...(ltVersion !== undefined
          ? { launchTemplate: { name: `${name}-${ngNames[j]}-lt`, version: ltVersion } }
          : {}),
      };
    });

    const addons = ADDONS.filter((a) => a.name !== 'aws-ebs-csi-driver' || rng.next() < 0.6).map((a) => {
      const def = defaultAddonVersion(a.name, version) as string;
      const compatible = a.versions.filter((v) => v.compatible.includes(version)).map((v) => v.version);
      const idx = compatible.indexOf(def);
      // Some clusters run the compatible version just before the default.
      const older = idx > 0 && rng.next() < 0.3 ? compatible[idx - 1] : undefined;
      return { name: a.name, version: older ?? def };
    });

    const pdbs = Array.from({ length: rng.int(0, 2) }, (_, k) => ({
      name: `${team}-${['api', 'db', 'queue'][k % 3]}`,
      namespace: team,
      allowedDisruptions: rng.next() < 0.05 ? 0 : 1,
    }));

    clusters.push({
      name,
      region,
      account,
      labels: { env, team, tier },
      version,
      nodegroups,
      addons,
      pdbs,
    });
  }
  return { apiVersion: API_VERSION, kind: 'Fleet', clusters };
}
