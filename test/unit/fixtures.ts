/** Small builders for unit tests of domain/. */
import type { FleetMember } from '../../domain/fleet';
import { compareMinor } from '../../domain/versions';
import { campaignSchema, type Campaign, type CampaignInput } from '../../domain/spec';

/** A fleet member with the given labels and versions; node group versions default to the control plane's. */
export function member(
  name: string,
  opts: {
    labels?: Record<string, string>;
    version?: string;
    region?: string;
    account?: string;
    nodegroups?: { name?: string; version?: string; nodes?: number; maxUnavailable?: number }[];
    addons?: string[];
    blockingPdbs?: string[];
  } = {},
): FleetMember {
  const version = opts.version ?? '1.30';
  const region = opts.region ?? 'us-east-1';
  const account = opts.account ?? '111122223333';
  const nodegroups = (opts.nodegroups ?? [{}]).map((ng, i) => ({
    name: ng.name ?? `ng-${i}`,
    version: ng.version ?? version,
    nodes: ng.nodes ?? 3,
    maxUnavailable: ng.maxUnavailable ?? 1,
  }));
  const oldestNodeVersion = nodegroups.reduce((o, ng) => (compareMinor(ng.version, o) < 0 ? ng.version : o), version);
  return {
    name,
    region,
    account,
    labels: { region, account, ...(opts.labels ?? {}) },
    version,
    oldestNodeVersion,
    nodegroups,
    addons: opts.addons ?? ['vpc-cni', 'coredns', 'kube-proxy'],
    blockingPdbs: opts.blockingPdbs ?? [],
  };
}

/** A validated campaign from a partial spec (throws on invalid input, with the issues). */
export function campaign(spec: Partial<CampaignInput['spec']> & Pick<CampaignInput['spec'], 'waves'>): Campaign {
  return campaignSchema.parse({
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name: 'test' },
    spec: { target: { kubernetesVersion: '1.31' }, ...spec },
  });
}

/** A deterministic PRNG (mulberry32) for property-style tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
