/**
 * A self-installed Karpenter (v1) as its clients see it: EC2NodeClasses whose amiSelectorTerms
 * resolve to AMIs, and a controller that launches NodeClaims with the resolved AMI, marks the
 * ones whose AMI is no longer resolved Drifted and replaces them under the NodePool's disruption
 * budgets, expires them regardless of budgets, and drains them honouring PodDisruptionBudgets.
 *
 * Sources (each rule below names its own):
 * - EC2NodeClass amiSelectorTerms and status.amis: karpenter.sh/docs/concepts/nodeclasses/
 *   ("spec.amiSelectorTerms", "status.amis"); the alias is resolved per Kubernetes minor through
 *   the public SSM parameters, as aws/karpenter-provider-aws pkg/providers/amifamily/al2023.go
 *   (resolvePath) and al2.go build the parameter names.
 * - Drift: karpenter.sh/docs/concepts/disruption/ ("Drift": a NodeClaim whose AMI is not among its
 *   NodeClass's resolved AMIs is Drifted, reason AMIDrift in the provider).
 * - Budgets: the same page, "NodePool Disruption Budgets" (budget-schedule.ts); nodes being
 *   disrupted for any reason count against a budget; graceful methods (Drift) pre-spin the
 *   replacement and wait for it before deleting the old node ("Control Flow").
 * - Expiration: the same page, "Forceful Methods" / "Expiration": `expireAfter` on the NodePool
 *   template deletes the node once it is that old, and disruption budgets do not apply to it.
 * - Termination: the same page, "Termination Controller": pods are evicted through the Eviction
 *   API, which honours PodDisruptionBudgets; without `terminationGracePeriod` a blocked drain
 *   waits for ever (the NodeClaim stays with a deletionTimestamp).
 * - Compatibility: karpenter.sh/docs/upgrading/compatibility/ ("Compatibility Matrix").
 */
import { amiParameter } from '../aws-misc';
import { publicAmis } from '../ami-catalogue';
import { allowedDisruptions } from './budget-schedule';
import type { NodePoolState, SimNodeClaim, SimNodePool } from './automode';
import type { SimCluster, SimImage } from './types';

/**
 * The oldest Karpenter version that supports each Kubernetes minor, from the compatibility
 * matrix of karpenter.sh/v1.6/upgrading/compatibility/ (1.27 >= 0.28, 1.28 >= 0.31, 1.29 >= 0.34,
 * 1.30 >= 0.37, 1.31 >= 1.0.5, 1.32 >= 1.2, 1.33 >= 1.5) and karpenter.sh/v0.34/upgrading/compatibility/
 * for the older minors (1.23 >= 0.21, 1.24 >= 0.21, 1.25 >= 0.25, 1.26 >= 0.28).
 */
export const KARPENTER_MIN_VERSION_FOR_MINOR: Readonly<Record<string, string>> = {
  '1.23': '0.21.0',
  '1.24': '0.21.0',
  '1.25': '0.25.0',
  '1.26': '0.28.0',
  '1.27': '0.28.0',
  '1.28': '0.31.0',
  '1.29': '0.34.0',
  '1.30': '0.37.0',
  '1.31': '1.0.5',
  '1.32': '1.2.0',
  '1.33': '1.5.0',
};

/** The matrix's source, for messages and the fidelity table. */
export const KARPENTER_COMPATIBILITY_SOURCE = 'https://karpenter.sh/v1.6/upgrading/compatibility/';

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether a Karpenter version supports a Kubernetes minor per the matrix; undefined for a minor
 * the matrix does not list.
 */
export function karpenterSupportsMinor(version: string, minor: string): boolean | undefined {
  const min = KARPENTER_MIN_VERSION_FOR_MINOR[minor];
  if (min === undefined) return undefined;
  return compareVersions(version, min) >= 0;
}

/** One entry of an EC2NodeClass's `spec.amiSelectorTerms`. */
export interface AmiSelectorTerm {
  alias?: string;
  id?: string;
  tags?: Record<string, string>;
  name?: string;
  owner?: string;
  /** An SSM parameter whose value is an AMI id (Karpenter v1.1+; the simulator's public parameters). */
  ssmParameter?: string;
}

/** A karpenter.k8s.aws/v1 EC2NodeClass. */
export interface SimNodeClass {
  name: string;
  amiSelectorTerms: AmiSelectorTerm[];
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** `metadata.managedFields[].manager` of the tool that applied it, if it applies server-side. */
  fieldManager?: string;
  uid: string;
  createdAt: number;
  generation: number;
  resourceVersion: number;
}

/** One AMI an EC2NodeClass resolved (status.amis). */
export interface ResolvedAmi {
  id: string;
  name: string;
  arch: 'amd64' | 'arm64';
  /** Kubernetes minor of its kubelet, when the image says. */
  minor?: string;
  createdAt: number;
}

/** One disruption of a NodeClaim, in the order they started (the event log tests read). */
export interface DisruptionRecord {
  pool: string;
  nodeClaim: string;
  node: string;
  reason: 'Drifted' | 'Expired' | 'Deleted';
  /** Simulated epoch ms. */
  start: number;
  /** When the NodeClaim was gone; absent while it is still terminating. */
  end?: number;
  /** The PodDisruptionBudget that blocked its drain, once one did. */
  blockedBy?: string;
}

/** A NodeClaim being disrupted: it has a deletionTimestamp and the karpenter.sh/disrupted taint. */
export interface ClaimDisruption {
  reason: DisruptionRecord['reason'];
  since: number;
  /** The drain may finish from here on (a graceful disruption waits for its replacement first). */
  drainAt: number;
  record: DisruptionRecord;
}

/** Launching a NodeClaim until it is Ready, and draining one, in simulated time (as Auto Mode's REPLACEMENT_MS). */
export const LAUNCH_MS = 3 * 60_000;
export const DRAIN_MS = 60_000;

/** Karpenter v1's NodePool default for spec.template.spec.expireAfter (NodePool CRD default). */
export const DEFAULT_EXPIRE_AFTER = '720h';

/** "720h", "1h30m", "90s" → ms; "Never" → undefined. */
export function parseExpireAfter(text: string | undefined): number | undefined {
  const value = text ?? DEFAULT_EXPIRE_AFTER;
  if (value === 'Never') return undefined;
  const re = /(\d+)(h|m|s)/g;
  let ms = 0;
  let seen = '';
  for (let m = re.exec(value); m; m = re.exec(value)) {
    seen += m[0];
    ms += Number(m[1]) * (m[2] === 'h' ? 3_600_000 : m[2] === 'm' ? 60_000 : 1000);
  }
  return seen === value && ms > 0 ? ms : undefined;
}

const ALIAS = /^(al2|al2023|bottlerocket|windows2019|windows2022)@(latest|v[0-9][0-9.a-z-]*)$/;

/**
 * A validation message for amiSelectorTerms as the EC2NodeClass CRD checks them, or undefined:
 * 1–30 terms, each with at least one field; `alias` is exclusive (with other terms and fields)
 * and has the form family@version; `id` cannot be combined with other fields.
 */
export function invalidAmiSelectorTerms(terms: unknown): string | undefined {
  const path = 'spec.amiSelectorTerms';
  if (!Array.isArray(terms) || terms.length === 0) return `${path}: Required value`;
  if (terms.length > 30) return `${path}: Too many: must have at most 30 items`;
  for (const [i, t] of terms.entries()) {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return `${path}[${i}]: must be an object`;
    const term = t as Record<string, unknown>;
    const keys = Object.keys(term).filter((k) => term[k] !== undefined);
    if (keys.length === 0)
      return `${path}[${i}]: expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']`;
    if (keys.some((k) => !['alias', 'id', 'tags', 'name', 'owner', 'ssmParameter'].includes(k))) {
      return `${path}[${i}]: unknown field`;
    }
    if (term.alias !== undefined) {
      if (keys.length > 1)
        return `${path}: 'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms`;
      if (terms.length > 1)
        return `${path}: 'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms`;
      if (typeof term.alias !== 'string' || !ALIAS.test(term.alias)) {
        return `${path}[${i}].alias: 'alias' is improperly formatted, must match the format 'family@version'`;
      }
    }
    if (term.id !== undefined) {
      if (typeof term.id !== 'string' || !/^ami-[0-9a-z]+$/.test(term.id)) return `${path}[${i}].id: Invalid value`;
      if (keys.length > 1)
        return `${path}: 'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms`;
    }
    if (term.tags !== undefined) {
      const tags = term.tags;
      if (typeof tags !== 'object' || tags === null || Array.isArray(tags) || Object.keys(tags).length === 0) {
        return `${path}[${i}].tags: empty tag keys or values aren't supported`;
      }
      if (Object.entries(tags).some(([k, v]) => k === '' || typeof v !== 'string' || v === '')) {
        return `${path}[${i}].tags: empty tag keys or values aren't supported`;
      }
    }
    if (term.name !== undefined && typeof term.name !== 'string') return `${path}[${i}].name: must be a string`;
    if (term.owner !== undefined && typeof term.owner !== 'string') return `${path}[${i}].owner: must be a string`;
  }
  return undefined;
}

const ARCHES = [
  ['x86_64', 'amd64'],
  ['arm64', 'arm64'],
] as const;

/** The SSM parameter names Karpenter reads for an alias at a Kubernetes minor, one per architecture. */
export function aliasParameters(alias: string, minor: string): { arch: 'amd64' | 'arm64'; name: string }[] {
  const m = ALIAS.exec(alias);
  if (!m) return [];
  const [, family, version] = m as unknown as [string, string, string];
  const out: { arch: 'amd64' | 'arm64'; name: string }[] = [];
  for (const [arch, k8sArch] of ARCHES) {
    if (family === 'al2023') {
      // aws/karpenter-provider-aws pkg/providers/amifamily/al2023.go, resolvePath (variant "standard").
      const leaf = version === 'latest' ? 'recommended' : `amazon-eks-node-al2023-${arch}-standard-${minor}-${version}`;
      out.push({
        arch: k8sArch,
        name: `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2023/${arch}/standard/${leaf}/image_id`,
      });
    } else if (family === 'al2') {
      // pkg/providers/amifamily/al2.go: amazon-linux-2[-arm64]/{recommended | amazon-eks[-arm64]-node-<minor>-<version>}.
      const suffix = arch === 'arm64' ? '-arm64' : '';
      const leaf = version === 'latest' ? 'recommended' : `amazon-eks${suffix}-node-${minor}-${version}`;
      out.push({
        arch: k8sArch,
        name: `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2${suffix}/${leaf}/image_id`,
      });
    } else if (family === 'bottlerocket') {
      // pkg/providers/amifamily/bottlerocket.go: aws-k8s-<minor>/<arch>/<latest | version without the v>.
      const leaf = version === 'latest' ? 'latest' : version.slice(1);
      out.push({ arch: k8sArch, name: `/aws/service/bottlerocket/aws-k8s-${minor}/${arch}/${leaf}/image_id` });
    }
    // Windows aliases resolve x86_64 only, through the ami-windows-latest parameters: not modelled.
  }
  return out;
}

function releaseDate(name: string): number {
  const m = /v?(\d{4})(\d{2})(\d{2})$/.exec(name) ?? /(\d{4})\.(\d{2})\.(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : 0;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

/** Public EKS AMIs are owned by Amazon ("amazon" as an owner alias, or the EKS AMI account). */
const AMAZON_OWNERS = new Set(['amazon', '602401143452']);

/**
 * The AMIs a NodeClass's terms resolve to at a Kubernetes minor, newest first. Terms are ORed;
 * the fields of one term are ANDed (karpenter.sh/docs/concepts/nodeclasses/, amiSelectorTerms).
 */
export function resolveAmis(
  terms: readonly AmiSelectorTerm[],
  minor: string,
  region: string,
  account: string,
  customImages: ReadonlyMap<string, SimImage>,
): ResolvedAmi[] {
  const pub = publicAmis(region);
  const found = new Map<string, ResolvedAmi>();
  const fromPublic = (id: string): ResolvedAmi | undefined => {
    const p = pub.get(id);
    if (!p) return undefined;
    return {
      id,
      name: p.name,
      arch: p.arch === 'arm64' ? 'arm64' : 'amd64',
      minor: p.minor,
      createdAt: releaseDate(p.name),
    };
  };
  const fromCustom = (img: SimImage): ResolvedAmi => ({
    id: img.imageId,
    name: img.name,
    arch: img.arch === 'arm64' ? 'arm64' : 'amd64',
    minor: img.minor,
    createdAt: img.createdAt,
  });
  for (const term of terms) {
    if (term.alias !== undefined) {
      for (const p of aliasParameters(term.alias, minor)) {
        const id = amiParameter(p.name, region);
        const ami = id ? fromPublic(id) : undefined;
        if (ami) found.set(ami.id, ami);
      }
      continue;
    }
    if (term.ssmParameter !== undefined) {
      const id = amiParameter(term.ssmParameter, region);
      const ami = id ? fromPublic(id) : undefined;
      if (ami) found.set(ami.id, ami);
      continue;
    }
    if (term.id !== undefined) {
      const custom = customImages.get(term.id);
      const ami = fromPublic(term.id) ?? (custom && (custom.owner === account ? fromCustom(custom) : undefined));
      if (ami) found.set(ami.id, ami);
      continue;
    }
    // Without an owner, Karpenter looks at the account's own images and Amazon's.
    const owners = term.owner ? term.owner.split(',').map((o) => o.trim()) : ['self', 'amazon'];
    const ownsCustom = (img: SimImage) =>
      owners.includes('self') ? img.owner === account || owners.includes(img.owner) : owners.includes(img.owner);
    if (term.tags === undefined && term.name !== undefined && owners.some((o) => AMAZON_OWNERS.has(o))) {
      for (const p of pub.values()) {
        if (globMatch(term.name, p.name)) {
          const ami = fromPublic(p.imageId);
          if (ami) found.set(ami.id, ami);
        }
      }
    }
    for (const img of customImages.values()) {
      if (!ownsCustom(img)) continue;
      if (term.name !== undefined && !globMatch(term.name, img.name)) continue;
      if (
        term.tags &&
        !Object.entries(term.tags).every(([k, v]) => img.tags[k] !== undefined && (v === '*' || img.tags[k] === v))
      ) {
        continue;
      }
      found.set(img.imageId, fromCustom(img));
    }
  }
  return [...found.values()].sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
}

/** The NodeClass of the state by name. */
export function nodeClassOf(state: NodePoolState, name: string): SimNodeClass | undefined {
  return state.nodeClasses.find((n) => n.name === name);
}

/**
 * What a NodeClass resolves to now: at the cluster's current minor, or, while the controller is
 * stopped (see advanceKarpenter), at the last minor it ran at — nobody refreshes the status then.
 */
export function resolvedAmisOf(c: SimCluster, nc: SimNodeClass): ResolvedAmi[] {
  const state = c.nodePools;
  const images = state?.customImages?.() ?? new Map<string, SimImage>();
  const minor = controllerWorks(c) ? c.version : (state?.observedMinor ?? c.version);
  return resolveAmis(nc.amiSelectorTerms, minor, c.region, c.account, images);
}

/**
 * The markers each tool leaves on an object it applies, by the tool's own documentation:
 * - Argo CD: annotation `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`,
 *   its default tracking method since 3.0 (argo-cd.readthedocs.io, user-guide/resource_tracking/);
 * - Flux: labels `kustomize.toolkit.fluxcd.io/name` and `.../namespace` (fluxcd.io, Kustomization
 *   docs, "Garbage collection": every applied object is labelled with its Kustomization);
 * - Helm: label `app.kubernetes.io/managed-by: Helm` and annotations `meta.helm.sh/release-name`
 *   and `meta.helm.sh/release-namespace` (helm.sh/docs, "Labels and Annotations"; Helm 3.2+ adopts
 *   objects only with them);
 * - Terraform: no label or annotation; the kubernetes provider's `kubernetes_manifest` applies
 *   server-side with the field manager "Terraform" (terraform-provider-kubernetes docs/resources/
 *   manifest.md, `field_manager.name`, default "Terraform"), so its mark is a `metadata.managedFields`
 *   entry with `manager: Terraform`, `operation: Apply`.
 */
export function ownerMarkers(
  tool: string | undefined,
  obj: { group: string; kind: string; name: string },
): { labels: Record<string, string>; annotations: Record<string, string>; fieldManager?: string } {
  switch (tool) {
    case 'argocd':
      return {
        labels: {},
        annotations: { 'argocd.argoproj.io/tracking-id': `karpenter-config:${obj.group}/${obj.kind}:/${obj.name}` },
      };
    case 'flux':
      return {
        labels: {
          'kustomize.toolkit.fluxcd.io/name': 'karpenter-config',
          'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
        },
        annotations: {},
      };
    case 'helm':
      return {
        labels: { 'app.kubernetes.io/managed-by': 'Helm' },
        annotations: {
          'meta.helm.sh/release-name': 'karpenter-config',
          'meta.helm.sh/release-namespace': 'kube-system',
        },
      };
    case 'terraform':
      return { labels: {}, annotations: {}, fieldManager: 'Terraform' };
    default:
      return { labels: {}, annotations: {} };
  }
}

/** The Node name Karpenter's NodeClaim gets: the instance's private DNS name (resource-name hostnames off). */
export function karpenterNodeName(region: string, claim: SimNodeClaim): string {
  const n = Number.parseInt(claim.instanceId.slice(3, 9), 16);
  return `ip-10-200-${(n >> 8) & 255}-${n & 255 || 1}.${region}.compute.internal`;
}

export type BlockingPdb = (c: SimCluster) => { namespace: string; name: string } | undefined;

export type Launch = (
  state: NodePoolState,
  p: SimNodePool,
  at: number,
  ami: ResolvedAmi,
  version: string,
) => SimNodeClaim;

/** Whether the controller runs at the cluster's minor (see advanceKarpenter). */
export function controllerWorks(c: SimCluster): boolean {
  const v = c.nodePools?.karpenterVersion;
  return v === undefined || karpenterSupportsMinor(v, c.version) !== false;
}

function startDisruption(
  c: SimCluster,
  state: NodePoolState,
  claim: SimNodeClaim,
  reason: DisruptionRecord['reason'],
  t: number,
  drainAt: number,
): void {
  const record: DisruptionRecord = {
    pool: claim.pool,
    nodeClaim: claim.name,
    node: karpenterNodeName(c.region, claim),
    reason,
    start: t,
  };
  state.disruptions.push(record);
  claim.disruption = { reason, since: t, drainAt, record };
}

/**
 * Replays the controller up to `now`, event by event (launches Ready, drains done, expiries, budget
 * minutes). At each event:
 * 1. Terminating NodeClaims whose drain may finish go away, unless a PodDisruptionBudget blocks
 *    the eviction (then they stay, with the budget named in the event log).
 * 2. Expired NodeClaims (older than the pool's expireAfter) start terminating at once, budgets or
 *    not; their pods go pending and the pool's replacement is launched in step 4.
 * 3. Drifted NodeClaims (AMI not among the NodeClass's resolved AMIs) start terminating, as many as
 *    the pool's budgets for reason Drifted allow minus those already terminating; each drains once
 *    its replacement is Ready.
 * 4. A pool with fewer live NodeClaims than it needs launches the rest with the newest resolved
 *    amd64 AMI. A NodeClass that resolves nothing (an alias version never published for the
 *    cluster's minor) launches nothing and drifts nothing: the provider errors out of drift
 *    detection with no AMIs (karpenter-provider-aws pkg/cloudprovider/drift.go) and the launch fails.
 * A Karpenter whose version the compatibility matrix does not list for the cluster's minor does
 * none of this: the matrix is the only statement Karpenter makes, and the simulator models the
 * controller as stopped (nothing launches, nothing is disrupted) — a modelling choice, not a
 * documented failure mode.
 */
export function advanceKarpenter(
  c: SimCluster,
  now: number,
  blockingPdb: BlockingPdb | undefined,
  launch: Launch,
): void {
  const state = c.nodePools;
  if (!state) return;
  let t = state.advancedTo;
  for (let guard = 0; guard < 100_000; guard++) {
    const next = step(c, state, t, blockingPdb, launch);
    if (next === Infinity || next > now) break;
    t = Math.max(next, t + 1);
  }
  step(c, state, now, blockingPdb, launch);
  state.advancedTo = now;
}

function step(
  c: SimCluster,
  state: NodePoolState,
  t: number,
  blockingPdb: BlockingPdb | undefined,
  launch: Launch,
): number {
  let next = Infinity;
  if (!controllerWorks(c)) return next;
  state.observedMinor = c.version;
  // 1. Drains.
  const pdb = () => blockingPdb?.(c) ?? c.pdbs.find((p) => p.allowedDisruptions === 0);
  for (const claim of [...state.claims]) {
    const d = claim.disruption;
    if (!d) continue;
    if (t < d.drainAt) {
      next = Math.min(next, d.drainAt);
      continue;
    }
    const blocked = pdb();
    if (blocked) {
      d.record.blockedBy ??= `${blocked.namespace}/${blocked.name}`;
      continue;
    }
    d.record.end = t;
    state.claims = state.claims.filter((x) => x !== claim);
  }
  // 2. Expiration: forceful, no budget.
  for (const claim of state.claims) {
    if (claim.disruption) continue;
    const pool = state.pools.find((p) => p.name === claim.pool);
    const ttl = parseExpireAfter(pool?.expireAfter);
    if (ttl === undefined) continue;
    const at = claim.createdAt + ttl;
    if (t >= at) startDisruption(c, state, claim, 'Expired', t, t + DRAIN_MS);
    else next = Math.min(next, at);
  }
  // 3. Drift, under budgets.
  for (const p of state.pools) {
    const nc = nodeClassOf(state, p.nodeClassRef.name);
    const amis = nc ? resolvedAmisOf(c, nc) : [];
    const ids = new Set(amis.map((a) => a.id));
    const newest = amis.find((a) => a.arch === 'amd64');
    const claims = state.claims.filter((x) => x.pool === p.name);
    if (newest) {
      const drifted = claims.filter(
        (x) => !x.disruption && t >= x.readyAt && x.imageId !== undefined && !ids.has(x.imageId),
      );
      const inFlight = claims.filter((x) => x.disruption).length;
      const room = allowedDisruptions(p.budgets, 'Drifted', p.nodes, t) - inFlight;
      for (const old of drifted.slice(0, Math.max(0, room)))
        startDisruption(c, state, old, 'Drifted', t, t + LAUNCH_MS + DRAIN_MS);
      // Held: only a scheduled budget changes with time; look again at the next minute then.
      if (drifted.length > Math.max(0, room) && p.budgets.some((b) => b.schedule !== undefined)) {
        next = Math.min(next, Math.floor(t / 60_000) * 60_000 + 60_000);
      }
    }
    // 4. Launches for the pool's missing nodes (pods pending after a disruption, or pre-spun replacements).
    const live = state.claims.filter((x) => x.pool === p.name && !x.disruption).length;
    if (newest) {
      for (let i = live; i < p.nodes; i++) {
        const fresh = launch(state, p, t, newest, newest.minor ?? c.version);
        fresh.readyAt = t + LAUNCH_MS;
      }
    }
    for (const x of state.claims) if (x.pool === p.name && x.readyAt > t) next = Math.min(next, x.readyAt);
  }
  return next;
}
