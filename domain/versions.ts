/**
 * EKS version rules. Pure: safe in workflows.
 *
 * EKS upgrades a control plane one minor version at a time, never downgrades it, and refuses
 * a control-plane update that would leave a node group more than three minors behind the new
 * version. Kubelets may never be newer than the control plane. fleetwave plans with exactly
 * these rules so a plan never promises what EKS will refuse.
 */
import type { FleetMember } from './fleet';
import { LAST_AL2_MINOR, amiTypeInfo, type AmiType } from './node-models';

/** Minors fleetwave knows how to reach (EKS standard and extended support, plus what is next). */
export const SUPPORTED_MINORS: readonly string[] = [
  '1.23',
  '1.24',
  '1.25',
  '1.26',
  '1.27',
  '1.28',
  '1.29',
  '1.30',
  '1.31',
  '1.32',
  '1.33',
  '1.34',
  '1.35',
];

/**
 * Control-plane hops one campaign may chain. Each hop costs a full control-plane update plus
 * gates; a longer chain is almost always a fleet that needs a human plan, not a campaign.
 */
export const MAX_HOPS = 4;

/** Kubelets may lag the control plane by at most this many minors (Kubernetes skew policy since 1.28). */
export const MAX_NODE_SKEW = 3;

/** A parsed "major.minor". */
export interface MinorVersion {
  major: number;
  minor: number;
}

const MINOR_RE = /^v?(\d+)\.(\d+)(?:[.+-].*)?$/;

/** Compares "1.29" with "1.31": negative, zero or positive. */
export function compareMinor(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am === bm ? an - bn : am - bm;
}

/**
 * Reads the minor out of anything Kubernetes or EKS calls a version: "1.31", "v1.31.2",
 * "v1.31.2-eks-a737599", "1.31.0-20241024". Returns undefined for anything else.
 */
export function parseMinor(version: string): MinorVersion | undefined {
  const match = MINOR_RE.exec(version.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/** "v1.31.2-eks-a737599" → "1.31"; undefined when it is not a version. */
export function toMinor(version: string): string | undefined {
  const parsed = parseMinor(version);
  return parsed ? `${parsed.major}.${parsed.minor}` : undefined;
}

/** "1.30" → "1.31". Kubernetes 1.x has no major bump in sight, so the minor just increments. */
export function nextMinor(version: string): string {
  const parsed = parseMinor(version);
  if (!parsed) throw new Error(`not a Kubernetes version: "${version}"`);
  return `${parsed.major}.${parsed.minor + 1}`;
}

/** Minors between two versions, b − a ("1.29", "1.31" → 2). Same major assumed. */
function minorDistance(a: string, b: string): number {
  return compareMinor(b, a);
}

/** True for a minor in {@link SUPPORTED_MINORS}. */
export function isSupportedMinor(version: string): boolean {
  const minor = toMinor(version);
  return minor !== undefined && SUPPORTED_MINORS.includes(minor);
}

export type UpgradePathResult = { ok: true; path: string[] } | { ok: false; reason: string };

/**
 * The control-plane hops from `from` to `to`, one minor each: ("1.29", "1.31") → ["1.30", "1.31"].
 * Equal versions give an empty path. Refused: unparseable or unsupported versions, downgrades
 * (EKS cannot downgrade a control plane), and chains longer than {@link MAX_HOPS}.
 */
export function upgradePath(from: string, to: string): UpgradePathResult {
  const fromMinor = toMinor(from);
  const toMinorVersion = toMinor(to);
  if (!fromMinor) return { ok: false, reason: `"${from}" is not a Kubernetes version` };
  if (!toMinorVersion) return { ok: false, reason: `"${to}" is not a Kubernetes version` };
  if (!isSupportedMinor(toMinorVersion)) {
    return { ok: false, reason: `target ${toMinorVersion} is outside the supported minors ${supportedRange()}` };
  }
  const distance = minorDistance(fromMinor, toMinorVersion);
  if (distance < 0) {
    return {
      ok: false,
      reason: `downgrade from ${fromMinor} to ${toMinorVersion}: EKS cannot downgrade a control plane`,
    };
  }
  if (distance === 0) return { ok: true, path: [] };
  if (!isSupportedMinor(fromMinor)) {
    return { ok: false, reason: `current version ${fromMinor} is outside the supported minors ${supportedRange()}` };
  }
  if (distance > MAX_HOPS) {
    return {
      ok: false,
      reason: `${fromMinor} → ${toMinorVersion} needs ${distance} control-plane hops, more than the ${MAX_HOPS} one campaign may chain`,
    };
  }
  const path: string[] = [];
  let current = fromMinor;
  for (let i = 0; i < distance; i++) {
    current = nextMinor(current);
    path.push(current);
  }
  return { ok: true, path };
}

export type SkewResult = { ok: true } | { ok: false; reason: string };

/**
 * Whether kubelets at `nodeMinor` may run under a control plane at `controlPlane`: never newer,
 * at most {@link MAX_NODE_SKEW} minors older.
 */
export function checkNodeSkew(controlPlane: string, nodeMinor: string): SkewResult {
  const cp = toMinor(controlPlane);
  const node = toMinor(nodeMinor);
  if (!cp) return { ok: false, reason: `"${controlPlane}" is not a Kubernetes version` };
  if (!node) return { ok: false, reason: `"${nodeMinor}" is not a Kubernetes version` };
  const lag = minorDistance(node, cp);
  if (lag < 0) return { ok: false, reason: `nodes at ${node} are newer than the control plane at ${cp}` };
  if (lag > MAX_NODE_SKEW) {
    return {
      ok: false,
      reason: `nodes at ${node} would be ${lag} minors behind the control plane at ${cp} (at most ${MAX_NODE_SKEW} allowed)`,
    };
  }
  return { ok: true };
}

/**
 * Whether a control plane may go from `from` to `to` in one EKS update: the same minor or the
 * next one. Refused: unparseable versions, downgrades, and skipping a minor.
 */
export function checkMinorStep(from: string, to: string): SkewResult {
  const fromMinor = toMinor(from);
  const toMinorVersion = toMinor(to);
  if (!fromMinor || !toMinorVersion) {
    return { ok: false, reason: `"${from}" → "${to}" is not a Kubernetes minor version step` };
  }
  const distance = minorDistance(fromMinor, toMinorVersion);
  if (distance < 0) return { ok: false, reason: `${fromMinor} → ${toMinorVersion} is a downgrade` };
  if (distance > 1) {
    return {
      ok: false,
      reason: `${fromMinor} → ${toMinorVersion} skips a minor; EKS upgrades one minor at a time`,
    };
  }
  return { ok: true };
}

/**
 * The first control-plane hop of `path` that would leave kubelets at `nodeMinor` out of skew
 * ({@link checkNodeSkew}), with the reason; undefined when every hop keeps them in skew.
 */
export function firstSkewedHop(
  path: readonly string[],
  nodeMinor: string,
): { hop: string; reason: string } | undefined {
  for (const hop of path) {
    const skew = checkNodeSkew(hop, nodeMinor);
    if (!skew.ok) return { hop, reason: skew.reason };
  }
  return undefined;
}

/** Compares add-on versions such as "v1.18.1-eksbuild.1" numerically, part by part. */
export function compareAddonVersions(a: string, b: string): number {
  const parts = (v: string) => (v.match(/\d+/g) ?? []).map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** What a campaign will do with one cluster's versions. */
export interface ClusterVersionPlan {
  /** Control-plane hops, e.g. ["1.30", "1.31"]; empty when the control plane is at target or for a patch-only campaign. */
  path: string[];
  /** Set when there is nothing to do: `already at target (1.31)`. */
  skip?: string;
  /** Set when the campaign must not touch the cluster; `path` is then empty. */
  refusal?: string;
}

/**
 * Decides one cluster's control-plane path towards `target` (undefined: a patch-only
 * campaign, which changes no minor and so has an empty path).
 *
 * - skip: the control plane and every node group already run the target minor. (A cluster
 *   whose control plane is at target but whose node groups lag is not skipped: the node
 *   groups still need their upgrade, with an empty control-plane path.)
 * - refusal: unparseable or unsupported versions, downgrade, a chain longer than MAX_HOPS,
 *   node groups newer than the control plane, node groups whose AMI family ends before the
 *   target ({@link nodegroupsWithoutAmi}), or the skew rule below.
 *
 * Skew rule (the simplest one that is always correct): node groups are upgraded once, after
 * the last control-plane hop, so every hop h needs `oldestNodeVersion >= h - 3`. If the
 * oldest node group is too far behind for some hop, EKS would refuse that hop; the plan
 * refuses the cluster and says to upgrade the node groups first.
 */
export function planClusterVersions(member: FleetMember, target: string | undefined): ClusterVersionPlan {
  const current = toMinor(member.version);
  if (!current) return { path: [], refusal: `control-plane version "${member.version}" is not a Kubernetes version` };

  for (const ng of member.nodegroups) {
    const skew = checkNodeSkew(current, ng.version);
    if (!skew.ok && compareMinor(ng.version, current) > 0) {
      return { path: [], refusal: `node group ${ng.name}: ${skew.reason}` };
    }
  }

  if (target === undefined) return { path: [] };

  const route = upgradePath(current, target);
  if (!route.ok) return { path: [], refusal: route.reason };

  const noAmi = nodegroupsWithoutAmi(member.nodegroups, target)[0];
  if (noAmi) return { path: [], refusal: noAmi };

  if (route.path.length === 0) {
    const lagging = member.nodegroups.filter((ng) => compareMinor(ng.version, current) < 0);
    if (lagging.length === 0) return { path: [], skip: `already at target (${current})` };
    return { path: [] };
  }

  const oldest = toMinor(member.oldestNodeVersion) ?? current;
  const skewed = firstSkewedHop(route.path, oldest);
  if (skewed) {
    const hop = skewed.hop;
    const laggards = member.nodegroups
      .filter((ng) => !checkNodeSkew(hop, ng.version).ok)
      .map((ng) => `${ng.name} (${ng.version})`);
    const minimum = `1.${(parseMinor(hop)?.minor ?? 0) - MAX_NODE_SKEW}`;
    return {
      path: [],
      refusal:
        `control-plane hop to ${hop} would leave node group${laggards.length === 1 ? '' : 's'} ` +
        `${laggards.join(', ') || oldest} more than ${MAX_NODE_SKEW} minors behind (EKS refuses it); ` +
        `upgrade node groups to at least ${minimum} first`,
    };
  }
  return { path: route.path };
}

function supportedRange(): string {
  return `${SUPPORTED_MINORS[0]}–${SUPPORTED_MINORS[SUPPORTED_MINORS.length - 1]}`;
}

/**
 * Node groups that cannot follow the control plane to `minor` because their AMI family publishes
 * nothing for it, one reason each: Amazon Linux 2 AMIs end with {@link LAST_AL2_MINOR}
 * (docs.aws.amazon.com/eks/latest/userguide/al2023.html). EKS sets a node group's amiType only
 * when it creates it (CreateNodegroup; UpdateNodegroupConfig and UpdateNodegroupVersion take
 * none), so the way out is a new node group. Node groups without a known amiType pass.
 */
export function nodegroupsWithoutAmi(
  nodegroups: readonly { name: string; amiType?: AmiType }[],
  minor: string,
): string[] {
  if (compareMinor(minor, LAST_AL2_MINOR) <= 0) return [];
  return nodegroups
    .filter((ng) => ng.amiType !== undefined && amiTypeInfo(ng.amiType).family === 'al2')
    .map(
      (ng) =>
        `node group ${ng.name} (${ng.amiType}): Amazon Linux 2 AMIs end with Kubernetes ${LAST_AL2_MINOR}, so it cannot follow the control plane to ${minor}; ` +
        `create a node group with an AL2023 or Bottlerocket amiType, move the workloads to it and delete ${ng.name} (EKS cannot change a node group's amiType), then upgrade`,
    );
}
