/**
 * A self-installed Karpenter's nodes through an upgrade: which controller versions support which
 * Kubernetes minor, what an EC2NodeClass alias resolves to, the AMI pin fleetwave records on an
 * EC2NodeClass, and the terms the node step sets. Pure: used by preflight, the plan, the workflow
 * and activities/karpenter.ts.
 *
 * The pin: Karpenter resolves an `alias` term (`al2023@latest`, `al2023@v20250101`) under the
 * cluster's current minor, so the moment the control plane moves every node drifts towards the new
 * minor's AMI (karpenter.sh/docs/concepts/nodeclasses/, spec.amiSelectorTerms; "Managing AMIs",
 * karpenter.sh/docs/tasks/managing-amis/). Before the hop fleetwave replaces the terms by the AMI ids
 * Karpenter resolved for the current minor (status.amis), and remembers the user's terms in an
 * annotation; the node step sets the target terms; the release removes the annotation.
 */
import { compareMinor } from './versions';

/** The annotation of a pinned EC2NodeClass: who pinned it and the terms to restore. */
export const PIN_ANNOTATION = 'fleetwave.io/ami-pin';

/**
 * The oldest Karpenter controller that supports each Kubernetes minor: Karpenter's compatibility
 * matrix (karpenter.sh/docs/upgrading/compatibility/, "Compatibility Matrix": 1.27 ≥ 0.28, 1.28 ≥
 * 0.31, 1.29 ≥ 0.34, 1.30 ≥ 0.37, 1.31 ≥ 1.0.5, 1.32 ≥ 1.2, 1.33 ≥ 1.5). The matrix on karpenter.sh
 * stops at 1.33 in the versions fleetwave could read; 1.34 and 1.35 follow the supported range each
 * Karpenter release states (endoflife.date/karpenter: 1.6–1.8 support 1.29–1.34, 1.9 and later
 * 1.29–1.35).
 */
export const KARPENTER_MIN_VERSION: Readonly<Record<string, string>> = {
  '1.27': '0.28.0',
  '1.28': '0.31.0',
  '1.29': '0.34.0',
  '1.30': '0.37.0',
  '1.31': '1.0.5',
  '1.32': '1.2.0',
  '1.33': '1.5.0',
  '1.34': '1.6.0',
  '1.35': '1.9.0',
};

export const KARPENTER_COMPATIBILITY_URL = 'https://karpenter.sh/docs/upgrading/compatibility/';

/** -1, 0 or 1 comparing two semantic versions ("1.0.5" < "1.2.0"); a missing part counts as 0. */
export function compareSemver(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.-]/).map(Number);
  const pb = b.replace(/^v/, '').split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Whether a Karpenter controller supports `minor`, and the fix when it does not. Every minor of the
 * upgrade path must be supported: the controller runs through each hop.
 */
export function karpenterSupports(
  version: string,
  minors: readonly string[],
): { ok: true } | { ok: false; reason: string } {
  for (const minor of minors) {
    const min = KARPENTER_MIN_VERSION[minor];
    if (!min) {
      const known = Object.keys(KARPENTER_MIN_VERSION).sort(compareMinor);
      return {
        ok: false,
        reason: `Karpenter ${version}: fleetwave does not know which Karpenter supports Kubernetes ${minor} (its table covers ${known[0]}–${known.at(-1)}; see ${KARPENTER_COMPATIBILITY_URL})`,
      };
    }
    if (compareSemver(version, min) < 0) {
      return {
        ok: false,
        reason: `Karpenter ${version} does not support Kubernetes ${minor}: upgrade the Karpenter controller to ${min} or later first (${KARPENTER_COMPATIBILITY_URL})`,
      };
    }
  }
  return { ok: true };
}

/** One `spec.amiSelectorTerms` entry of an EC2NodeClass. */
export interface AmiSelectorTerm {
  alias?: string;
  id?: string;
  name?: string;
  owner?: string;
  ssmParameter?: string;
  tags?: Record<string, string>;
}

/** The families an alias may name (EC2NodeClass spec.amiSelectorTerms[].alias). */
export type AliasFamily = 'al2023' | 'al2' | 'bottlerocket' | 'windows2019' | 'windows2022';

/** `family@version` of an alias term; version is `latest` or a pinned one (`v20250101`, Bottlerocket `v1.26.1`). */
export function parseAlias(alias: string): { family: string; version: string } | undefined {
  const m = /^([a-z0-9]+)@(latest|v[0-9][0-9a-z.-]*)$/.exec(alias);
  return m ? { family: m[1] as string, version: m[2] as string } : undefined;
}

/**
 * The SSM parameters Karpenter reads for a pinned alias under `minor`: one per architecture and
 * variant it tries (karpenter-provider-aws pkg/providers/amifamily: al2023.go resolvePath,
 * `/aws/service/eks/optimized-ami/{minor}/amazon-linux-2023/{arch}/{variant}/amazon-eks-node-al2023-{arch}-{variant}-{minor}-{version}/image_id`;
 * bottlerocket.go, `/aws/service/bottlerocket/aws-k8s-{minor}/{arch}/{version without v}/image_id`;
 * al2.go, `/aws/service/eks/optimized-ami/{minor}/amazon-linux-2{variant}/amazon-eks{variant}-node-{minor}-{version}/image_id`).
 * Karpenter accepts the alias when at least one of them exists. Undefined for `latest` and for
 * families fleetwave does not check (Windows).
 */
export function aliasParameters(alias: string, minor: string): string[] | undefined {
  const parsed = parseAlias(alias);
  if (!parsed || parsed.version === 'latest') return undefined;
  const { family, version } = parsed;
  if (family === 'al2023') {
    const out: string[] = [];
    for (const [arch, variants] of [
      ['x86_64', ['standard', 'nvidia', 'neuron']],
      ['arm64', ['standard', 'nvidia']],
    ] as const) {
      for (const v of variants) {
        out.push(
          `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2023/${arch}/${v}/amazon-eks-node-al2023-${arch}-${v}-${minor}-${version}/image_id`,
        );
      }
    }
    return out;
  }
  if (family === 'bottlerocket') {
    const v = version.replace(/^v/, '');
    return ['x86_64', 'arm64'].flatMap((arch) => [
      `/aws/service/bottlerocket/aws-k8s-${minor}/${arch}/${v}/image_id`,
      `/aws/service/bottlerocket/aws-k8s-${minor}-nvidia/${arch}/${v}/image_id`,
    ]);
  }
  if (family === 'al2') {
    return [
      `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2/amazon-eks-node-${minor}-${version}/image_id`,
      `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2-arm64/amazon-eks-arm64-node-${minor}-${version}/image_id`,
      `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2-gpu/amazon-eks-gpu-node-${minor}-${version}/image_id`,
    ];
  }
  return undefined;
}

/** An EC2NodeClass as preflight reports it: its terms and the AMI ids Karpenter resolved for them. */
export interface NodeClassState {
  name: string;
  terms: AmiSelectorTerm[];
  /** status.amis[].id. */
  amis: string[];
}

/** The terms of one EC2NodeClass before and after the node step. */
export interface NodeClassTermsPlan {
  name: string;
  from: AmiSelectorTerm[];
  to: AmiSelectorTerm[];
}

/**
 * The alias version the campaign pinned for a family at `minor`, from the pinned releases of the
 * EKS amiTypes: an AL2023 release "1.31.2-20241109" is alias version "v20241109"; a Bottlerocket
 * image version "1.26.1-7c3e9198" is "v1.26.1". Undefined when the campaign pinned none.
 */
export function pinnedAliasVersion(
  family: string,
  pinned: Partial<Record<string, Record<string, string>>> | undefined,
  minor: string,
): string | undefined {
  const prefix =
    family === 'al2023'
      ? 'AL2023_'
      : family === 'bottlerocket'
        ? 'BOTTLEROCKET_'
        : family === 'al2'
          ? 'AL2_'
          : undefined;
  if (!prefix || !pinned) return undefined;
  const types = Object.keys(pinned)
    .filter((t) => t.startsWith(prefix))
    .sort();
  for (const t of types) {
    const release = pinned[t]?.[minor];
    if (!release) continue;
    if (family === 'bottlerocket') {
      const m = /^(\d+\.\d+\.\d+)/.exec(release);
      if (m) return `v${m[1]}`;
    } else {
      const m = /-(\d{8})$/.exec(release);
      if (m) return `v${m[1]}`;
    }
  }
  return undefined;
}

/**
 * The terms the node step sets on each EC2NodeClass: an `@latest` alias becomes the alias at the
 * version the campaign pinned for its family and the target minor (so every cluster of the
 * campaign gets the same AMI, as node groups do); a pinned alias version is the user's choice and
 * stays (preflight checked it exists for the target minor); terms by id, name, tags or SSM
 * parameter select custom AMIs, which fleetwave does not choose, and stay too.
 */
export function targetTerms(
  classes: readonly NodeClassState[],
  pinnedAmis: Partial<Record<string, Record<string, string>>> | undefined,
  targetMinor: string,
): NodeClassTermsPlan[] {
  return classes.map((nc) => ({
    name: nc.name,
    from: nc.terms,
    to: nc.terms.map((t) => {
      const parsed = t.alias ? parseAlias(t.alias) : undefined;
      if (!parsed || parsed.version !== 'latest') return t;
      const version = pinnedAliasVersion(parsed.family, pinnedAmis, targetMinor);
      return version ? { alias: `${parsed.family}@${version}` } : t;
    }),
  }));
}

/** Whether every term is an alias (the AMIs follow the cluster's minor); otherwise custom AMIs are selected. */
export function followsClusterMinor(terms: readonly AmiSelectorTerm[]): boolean {
  return terms.length > 0 && terms.every((t) => t.alias !== undefined);
}

/** The terms that pin an EC2NodeClass to the AMIs it resolved now (status.amis), one id term each. */
export function pinnedTerms(amis: readonly string[]): AmiSelectorTerm[] {
  return [...new Set(amis)].sort().map((id) => ({ id }));
}

/** What the pin annotation records. */
export interface PinRecord {
  workflowId: string;
  runId: string;
  since: string;
  /** The user's terms before fleetwave touched them: what a release restores when asked to. */
  original: AmiSelectorTerm[];
  /** The AMI ids of the current minor, set before the hop: what a rollback goes back to. */
  pinned?: AmiSelectorTerm[];
}

export function parsePin(annotations: Record<string, string> | undefined): PinRecord | undefined {
  const text = annotations?.[PIN_ANNOTATION];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<PinRecord>;
    if (typeof v.workflowId !== 'string' || !Array.isArray(v.original)) return undefined;
    return v as PinRecord;
  } catch {
    return undefined;
  }
}

/**
 * What a release does to the terms: `keep` them (the node step set the target), go back to the
 * `pinned` AMIs of the previous minor (a rollback that leaves the control plane on the new minor),
 * or restore the user's `original` terms (nothing moved, the control plane went back, or the
 * recovery command).
 */
export type TermsOnRelease = 'keep' | 'pinned' | 'original';

/** The Drifted budget of the node step: spec.nodes.karpenter.budget, beside the user's own budgets. */
export function driftBudget(nodes: string): { nodes: string; reasons: string[] } {
  return { nodes, reasons: ['Drifted'] };
}

/** Progress of the node step: NodeClaims on the target AMIs, still drifted, replaced by the step, of all. */
export interface KarpenterDriftCount {
  onTarget: number;
  drifted: number;
  replaced: number;
  total: number;
}

export function describeDriftCount(c: KarpenterDriftCount): string {
  return `${c.onTarget}/${c.total} on the target AMI, ${c.drifted} drifted, ${c.replaced} replaced`;
}

/**
 * The terms a release leaves on the EC2NodeClasses, by how the upgrade ended:
 * - a rollback that took the control plane back (or found no hop done): the user's own terms, which
 *   resolve to the old minor's AMIs again;
 * - a rollback that leaves the control plane on the new minor: the AMIs pinned before the hop, so
 *   the nodes drift back to them;
 * - any other ending once the node step set the target: the target terms stay (its nodes are on
 *   them or drifting there);
 * - any other ending before: the user's own terms (the hold ends; Karpenter does what the user's
 *   NodeClass and budgets say, as without fleetwave).
 */
export function termsOnExit(e: {
  rolledBack: boolean;
  hopsDone: boolean;
  controlPlaneBack: boolean;
  nodeStepStarted: boolean;
}): TermsOnRelease {
  if (e.rolledBack) return !e.hopsDone || e.controlPlaneBack ? 'original' : 'pinned';
  return e.nodeStepStarted ? 'keep' : 'original';
}
