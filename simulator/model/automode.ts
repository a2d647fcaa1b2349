/**
 * NodePools and NodeClaims (karpenter.sh/v1) of EKS Auto Mode clusters and of clusters with a
 * self-installed Karpenter.
 *
 * Auto Mode ("Update the Kubernetes Version of an EKS Auto Mode cluster", docs.aws.amazon.com/eks/
 * latest/userguide/auto-upgrade.html, and "Rollback EKS Auto Mode clusters", .../rollback-automode.html):
 * after the control plane moves, the nodes follow it; NodeClaims on the old minor are Drifted and
 * replaced at the pace the NodePool's disruption budgets allow for reason Drifted (budget rules in
 * budget-schedule.ts). A VersionRollback first rolls the nodes back to the target minor, during the
 * update's node phase (rules-control-plane.ts plans its length), then the control plane.
 * The built-in NodePools `system` and `general-purpose` are EKS's ("Enable or Disable Built-in
 * NodePools", .../set-builtin-node-pools.html, and the Auto Mode best practices: "you should not
 * edit default NodePools"): nothing documents an admission refusal, so a write is accepted and
 * EKS's controller restores the managed spec; the simulator restores it at once.
 *
 * Self-installed Karpenter: the same objects with EC2NodeClass references; its controller
 * (drift by AMI, budgets, expiry, drains honouring PDBs) is model/karpenter.ts. Karpenter's own
 * upgrade is not modelled.
 *
 * Time advances lazily, as for updates (fleet.ts): a read replays replacements up to "now".
 */
import type { ClusterInventory } from '../../domain/fleet';
import { hexOf, podSuffix, unit, uuidOf } from '../random';
import { allowedDisruptions, type DisruptionBudget } from './budget-schedule';
import {
  advanceKarpenter,
  controllerWorks,
  resolvedAmisOf,
  ownerMarkers,
  resolveAmis,
  type AmiSelectorTerm,
  type BlockingPdb,
  type ClaimDisruption,
  type DisruptionRecord,
  type ResolvedAmi,
  type SimNodeClass,
} from './karpenter';
import type { SimCluster, SimImage } from './types';

/** The NodePools EKS creates on an Auto Mode cluster (computeConfig.nodePools). */
export const BUILT_IN_NODE_POOLS = ['general-purpose', 'system'] as const;

/** Launching a replacement until it is Ready, then draining and terminating the drifted node. */
export const REPLACEMENT_MS = 3 * 60_000;

export interface SimNodePool {
  name: string;
  builtIn: boolean;
  nodeClassRef: { group: string; kind: string; name: string };
  budgets: DisruptionBudget[];
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** NodeClaims the pool keeps (its workload needs them). */
  nodes: number;
  /** spec.template.spec.expireAfter (Karpenter pools; absent: the CRD default, DEFAULT_EXPIRE_AFTER). */
  expireAfter?: string;
  /** `metadata.managedFields[].manager` of the tool that applied it server-side (Terraform). */
  fieldManager?: string;
  uid: string;
  createdAt: number;
  generation: number;
  resourceVersion: number;
}

export interface SimNodeClaim {
  name: string;
  pool: string;
  /** Kubernetes minor of its node's kubelet: the cluster's at launch. */
  version: string;
  createdAt: number;
  /** Not Ready until then (a replacement being launched). */
  readyAt: number;
  instanceId: string;
  /** Set while it is being replaced: it is deleted (and its replacement Ready) at this time. */
  replacedAt?: number;
  /** Karpenter: the AMI it launched with (status.imageID). */
  imageId?: string;
  /** Karpenter: set once it is being disrupted (deletionTimestamp, karpenter.sh/disrupted taint). */
  disruption?: ClaimDisruption;
}

/** One accepted write of a NodePool or EC2NodeClass, as stored after it. */
export interface NodePoolWrite {
  /** Simulated epoch ms. */
  at: number;
  kind: 'NodePool' | 'EC2NodeClass';
  name: string;
  annotations: Record<string, string>;
  /** NodePool: spec.disruption.budgets after the write. */
  budgets?: DisruptionBudget[];
  /** EC2NodeClass: spec.amiSelectorTerms after the write. */
  amiSelectorTerms?: AmiSelectorTerm[];
}

export interface NodePoolState {
  mode: 'auto' | 'karpenter';
  karpenterVersion?: string;
  pools: SimNodePool[];
  claims: SimNodeClaim[];
  /** Replacements have been replayed up to here. */
  advancedTo: number;
  launches: number;
  /** Karpenter: the EC2NodeClasses (Auto Mode: none; its NodeClass is EKS's). */
  nodeClasses: SimNodeClass[];
  /** Karpenter: every disruption, oldest first (the event log of model/karpenter.ts). */
  disruptions: DisruptionRecord[];
  /**
   * Every accepted PATCH or PUT of a NodePool or EC2NodeClass, oldest first: the object as written
   * (what tests read to count a client's writes; the API server keeps no such log, its audit log does).
   */
  writes: NodePoolWrite[];
  /** Karpenter: the cluster minor its controller last ran at (its status stays as of then while stopped). */
  observedMinor?: string;
  /** Karpenter: the custom images of the cluster's region (EC2 state), for id, tag and name terms. */
  customImages?: () => ReadonlyMap<string, SimImage>;
}

/** The NodePools of a cluster from its inventory, or undefined when it has none. */
export function buildNodePools(
  inv: ClusterInventory,
  seed: number,
  now: number,
  customImages?: () => ReadonlyMap<string, SimImage>,
): NodePoolState | undefined {
  const auto = inv.autoMode === true;
  if (!auto && !inv.karpenter) return undefined;
  const mode = auto ? 'auto' : 'karpenter';
  const nodeClassRef = auto
    ? { group: 'eks.amazonaws.com', kind: 'NodeClass', name: 'default' }
    : { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'default' };
  const createdAt = now - 20 * 86_400_000;
  const pool = (
    name: string,
    builtIn: boolean,
    nodes: number,
    budget: string,
    extra: { managedBy?: string; expireAfter?: string } = {},
  ): SimNodePool => {
    const owner = ownerMarkers(auto ? undefined : extra.managedBy, { group: 'karpenter.sh', kind: 'NodePool', name });
    return {
      name,
      builtIn,
      nodeClassRef,
      budgets: [{ nodes: budget }],
      annotations: owner.annotations,
      labels: builtIn ? { 'app.kubernetes.io/managed-by': 'eks' } : owner.labels,
      nodes,
      ...(!auto && extra.expireAfter ? { expireAfter: extra.expireAfter } : {}),
      ...(owner.fieldManager ? { fieldManager: owner.fieldManager } : {}),
      uid: uuidOf(seed, inv.name, 'nodepool', name),
      createdAt,
      generation: 1,
      resourceVersion: 1,
    };
  };
  const pools = [
    ...(auto ? [pool('general-purpose', true, 2, '10%'), pool('system', true, 1, '10%')] : []),
    ...(inv.nodePools ?? []).map((p) =>
      pool(p.name, false, p.nodes, p.budgetNodes, {
        ...(p.managedBy ? { managedBy: p.managedBy } : {}),
        ...(p.expireAfter ? { expireAfter: p.expireAfter } : {}),
      }),
    ),
  ];
  const nodeClasses: SimNodeClass[] = [];
  if (!auto && inv.karpenter) {
    const sel = inv.karpenter.amiSelector;
    const terms: AmiSelectorTerm[] = [sel && 'id' in sel ? { id: sel.id } : { alias: sel?.alias ?? 'al2023@latest' }];
    const owner = ownerMarkers(inv.karpenter.managedBy, {
      group: 'karpenter.k8s.aws',
      kind: 'EC2NodeClass',
      name: 'default',
    });
    nodeClasses.push({
      name: 'default',
      amiSelectorTerms: terms,
      annotations: owner.annotations,
      labels: owner.labels,
      ...(owner.fieldManager ? { fieldManager: owner.fieldManager } : {}),
      uid: uuidOf(seed, inv.name, 'ec2nodeclass', 'default'),
      createdAt,
      generation: 1,
      resourceVersion: 1,
    });
  }
  const state: NodePoolState = {
    mode,
    ...(inv.karpenter ? { karpenterVersion: inv.karpenter.version } : {}),
    pools,
    claims: [],
    advancedTo: now,
    launches: 0,
    nodeClasses,
    disruptions: [],
    writes: [],
    observedMinor: inv.version,
    ...(customImages ? { customImages } : {}),
  };
  // The nodes running now were launched with what the NodeClass resolved then; a selector that
  // resolves nothing at this minor leaves them on the minor's newest AL2023 AMI.
  let initialAmi: ResolvedAmi | undefined;
  if (!auto && nodeClasses[0]) {
    const images = customImages?.() ?? new Map<string, SimImage>();
    const at = (terms: AmiSelectorTerm[]) =>
      resolveAmis(terms, inv.version, inv.region, inv.account, images).find((a) => a.arch === 'amd64');
    initialAmi = at(nodeClasses[0].amiSelectorTerms) ?? at([{ alias: 'al2023@latest' }]);
  }
  for (const p of pools) {
    for (let i = 0; i < p.nodes; i++) {
      // Karpenter nodes have come and gone (expiry, consolidation): their ages spread over 3 to 20
      // days, so that expireAfter does not replace a whole pool at one instant.
      const at = auto
        ? createdAt + i * 60_000
        : now - Math.floor((3 + 17 * unit(seed, inv.name, p.name, i)) * 86_400_000);
      const claim = launch(state, inv.name, p, initialAmi?.minor ?? inv.version, at, seed);
      if (initialAmi) claim.imageId = initialAmi.id;
    }
  }
  return state;
}

function launch(state: NodePoolState, cluster: string, p: SimNodePool, version: string, at: number, seed = 0) {
  const n = state.launches++;
  const claim: SimNodeClaim = {
    name: `${p.name}-${podSuffix(5, seed, cluster, p.name, n)}`,
    pool: p.name,
    version,
    createdAt: at,
    readyAt: at,
    instanceId: `i-0${hexOf(16, seed, cluster, 'nodeclaim', n)}`,
  };
  state.claims.push(claim);
  return claim;
}

/**
 * The minor the nodes are driven to at `t`: during an Auto Mode rollback's node phase, the
 * rollback's target; otherwise the control plane's.
 */
export function nodeTarget(c: SimCluster, t: number): { version: string; rollbackEndsAt?: number } {
  for (const u of c.active) {
    if (
      u.effect.kind === 'control-plane' &&
      u.effect.rollback &&
      u.cancellableUntil !== undefined &&
      t >= u.createdAt
    ) {
      return { version: u.effect.to, rollbackEndsAt: u.cancellableUntil };
    }
  }
  return { version: c.version };
}

/**
 * Replays replacements up to `now`. Auto Mode only: Drifted NodeClaims (on another minor than the
 * target) are replaced, each taking REPLACEMENT_MS, as many at once as the pool's budgets allow for
 * reason Drifted. A rollback's node phase replaces the rest of each pool evenly before it ends, as
 * rules-control-plane.ts plans it.
 */
export function advanceNodePools(c: SimCluster, now: number, blockingPdb?: BlockingPdb): void {
  const state = c.nodePools;
  if (state?.mode === 'karpenter' && now > state.advancedTo) {
    advanceKarpenter(c, now, blockingPdb, (st, p, at, ami, version) => {
      const claim = launch(st, c.name, p, version, at);
      claim.imageId = ami.id;
      return claim;
    });
    return;
  }
  if (!state || state.mode !== 'auto' || now <= state.advancedTo) {
    if (state) state.advancedTo = Math.max(state.advancedTo, now);
    return;
  }
  let t = state.advancedTo;
  // Bounded: every round either finishes a replacement or waits for the next budget change.
  for (let guard = 0; guard < 100_000 && t <= now; guard++) {
    finishReplacements(c, state, t);
    const target = nodeTarget(c, t);
    let next = Infinity;
    for (const p of state.pools) {
      const claims = state.claims.filter((x) => x.pool === p.name);
      const drifted = claims.filter((x) => x.version !== target.version && x.replacedAt === undefined);
      const inFlight = claims.filter((x) => x.replacedAt !== undefined);
      for (const x of inFlight) next = Math.min(next, x.replacedAt as number);
      if (drifted.length === 0) continue;
      // The pool's size, not counting replacements being launched, so a percentage stays stable.
      const total = p.nodes;
      let room: number;
      let pace = REPLACEMENT_MS;
      if (target.rollbackEndsAt !== undefined) {
        // The node rollback finishes by the end of its phase: what is left, spread evenly.
        room = drifted.length;
        pace = Math.max(1, Math.min(REPLACEMENT_MS, target.rollbackEndsAt - t));
      } else {
        room = allowedDisruptions(p.budgets, 'Drifted', total, t) - inFlight.length;
      }
      if (room > 0) {
        for (const old of drifted.slice(0, room)) {
          old.replacedAt = t + pace;
          const fresh = launch(state, c.name, p, target.version, t);
          fresh.readyAt = t + pace;
          next = Math.min(next, t + pace);
        }
      } else if (inFlight.length === 0) {
        // Held: look again at the next minute, when a scheduled budget may change.
        next = Math.min(next, Math.floor(t / 60_000) * 60_000 + 60_000);
      }
    }
    if (next === Infinity || next > now) break;
    t = next;
  }
  finishReplacements(c, state, now);
  state.advancedTo = now;
}

function finishReplacements(c: SimCluster, state: NodePoolState, t: number): void {
  state.claims = state.claims.filter((x) => x.replacedAt === undefined || x.replacedAt > t);
  void c;
}

/** Whether a NodeClaim is Drifted at `now` (its minor is not the one its nodes are driven to). */
export function isDrifted(c: SimCluster, claim: SimNodeClaim, now: number): boolean {
  const state = c.nodePools;
  if (state?.mode === 'karpenter') {
    // Karpenter: its AMI is not among its NodeClass's resolved AMIs (nothing resolved: no drift).
    const pool = state.pools.find((p) => p.name === claim.pool);
    const nc = pool ? state.nodeClasses.find((n) => n.name === pool.nodeClassRef.name) : undefined;
    if (!nc || claim.imageId === undefined || !controllerWorks(c)) return false;
    const amis = resolvedAmisOf(c, nc);
    return amis.length > 0 && !amis.some((a) => a.id === claim.imageId);
  }
  return state?.mode === 'auto' && claim.version !== nodeTarget(c, now).version;
}

/**
 * A write to a NodePool's spec: custom pools take it; built-in Auto Mode pools are restored by
 * EKS at once, so the stored object does not change (their `generation` moves, as the write did).
 */
export function writeNodePool(
  state: NodePoolState,
  pool: SimNodePool,
  next: {
    budgets: DisruptionBudget[];
    annotations: Record<string, string>;
    labels: Record<string, string>;
    expireAfter?: string;
  },
): void {
  pool.generation++;
  pool.resourceVersion++;
  if (pool.builtIn && state.mode === 'auto') return;
  pool.budgets = next.budgets;
  pool.annotations = next.annotations;
  pool.labels = next.labels;
  if (state.mode === 'karpenter') {
    if (next.expireAfter === undefined) delete pool.expireAfter;
    else pool.expireAfter = next.expireAfter;
  }
}
