/**
 * What clients change through a cluster's Kubernetes API: cordons (`spec.unschedulable`) and
 * deleted or evicted pods, on top of the nodes and pods workloads.ts derives from the node groups;
 * and the Secrets seeded through `POST /sim/secrets`.
 * Kept per cluster object, so a simulator reset (which builds new clusters) forgets them. Watchers
 * of the cluster's nodes are told after every change.
 */
import type { SimCluster } from './model';
import { setAsgNodeProbe } from './model/asg';
import { asgNodeName, nodesOf, pdbsOf, podsOf, type NodeView, type PdbView, type PodView } from './workloads';

/** A core/v1 Secret: `data` values are base64, as the API serves them (https://kubernetes.io/docs/concepts/configuration/secret/). */
export interface SimSecret {
  namespace: string;
  name: string;
  type: string;
  data: Record<string, string>;
  createdAt: number;
  uid: string;
  resourceVersion: number;
}

interface KubernetesState {
  /** Cordons set or lifted by clients, by node name (they win over the rollout's own cordon). */
  cordons: Map<string, boolean>;
  /** Pods deleted or evicted, `namespace/name`. */
  deletedPods: Set<string>;
  /** Secrets by `namespace/name`. */
  secrets: Map<string, SimSecret>;
  /** Bumped on every change: the resourceVersion of writes and watch events. */
  revision: number;
  /** Called after every change (node watchers). */
  listeners: Set<() => void>;
}

const states = new WeakMap<SimCluster, KubernetesState>();

export function kubernetesState(c: SimCluster): KubernetesState {
  let s = states.get(c);
  if (!s) {
    s = { cordons: new Map(), deletedPods: new Set(), secrets: new Map(), revision: 0, listeners: new Set() };
    states.set(c, s);
  }
  return s;
}

/** Nodes as clients see them: derived, with their cordons applied. */
export function clusterNodes(c: SimCluster, now: number): NodeView[] {
  const { cordons } = kubernetesState(c);
  const nodes = nodesOf(c, now);
  if (cordons.size === 0) return nodes;
  return nodes.map((n) => {
    const set = cordons.get(n.name);
    return set === undefined ? n : { ...n, cordoned: set };
  });
}

/** Pods as clients see them: on those nodes, without the deleted ones. */
export function clusterPods(c: SimCluster, nodes: readonly NodeView[], now: number): PodView[] {
  const { deletedPods } = kubernetesState(c);
  const pods = podsOf(c, nodes, now);
  return deletedPods.size === 0 ? pods : pods.filter((p) => !deletedPods.has(`${p.namespace}/${p.name}`));
}

/** Tells the cluster's watchers that something clients see changed (a write outside this module). */
export function noteChange(c: SimCluster): number {
  return changed(c);
}

function changed(c: SimCluster): number {
  const s = kubernetesState(c);
  s.revision += 1;
  for (const listener of s.listeners) listener();
  return s.revision;
}

export function setCordon(c: SimCluster, node: string, unschedulable: boolean): void {
  kubernetesState(c).cordons.set(node, unschedulable);
  changed(c);
}

/** Creates or replaces a Secret (the simulator's seeding; clients only read Secrets). */
export function putSecret(c: SimCluster, secret: Omit<SimSecret, 'resourceVersion'>): SimSecret {
  const state = kubernetesState(c);
  const key = `${secret.namespace}/${secret.name}`;
  const before = state.secrets.get(key);
  const stored: SimSecret = {
    ...secret,
    ...(before ? { uid: before.uid, createdAt: before.createdAt } : {}),
    resourceVersion: 0,
  };
  state.secrets.set(key, stored);
  stored.resourceVersion = changed(c);
  return stored;
}

/** The cluster's Secrets, ordered by namespace and name as the API server lists them. */
export function clusterSecrets(c: SimCluster): SimSecret[] {
  return [...kubernetesState(c).secrets.values()].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name),
  );
}

export function deletePod(c: SimCluster, pod: PodView): void {
  kubernetesState(c).deletedPods.add(`${pod.namespace}/${pod.name}`);
  changed(c);
}

/**
 * PodDisruptionBudgets as clients see them: each pod of a budget that a client deleted or evicted
 * is one healthy pod fewer (no controller replaces it here), and the budget allows
 * `currentHealthy - desiredHealthy` disruptions, as the disruption controller computes it.
 * The simulator's PDBs select `app=<name>` in their namespace.
 */
export function clusterPdbs(c: SimCluster): PdbView[] {
  const { deletedPods } = kubernetesState(c);
  return pdbsOf(c).map((p) => {
    if (deletedPods.size === 0) return p;
    const prefix = `${p.namespace}/${p.name}-`;
    const gone = [...deletedPods].filter((key) => key.startsWith(prefix)).length;
    const currentHealthy = Math.max(0, p.currentHealthy - gone);
    return {
      ...p,
      currentHealthy,
      disruptionsAllowed: Math.max(0, Math.min(p.disruptionsAllowed, currentHealthy - p.desiredHealthy)),
    };
  });
}

/**
 * The PodDisruptionBudget that forbids evicting `pod` now, if any: one in the pod's namespace
 * whose selector matches it and that allows no disruption (`checkAndDecrement` in kubernetes
 * pkg/registry/core/pod/storage/eviction.go). An allowed eviction deletes the pod, which lowers
 * the budget's healthy count ({@link clusterPdbs}): the API server's decrement.
 */
export function evictionBlockedBy(c: SimCluster, pod: PodView): PdbView | undefined {
  return clusterPdbs(c).find(
    (p) => p.namespace === pod.namespace && pod.labels.app === p.name && p.disruptionsAllowed <= 0,
  );
}

// What an Auto Scaling group's instance leaves behind as it stops: whether its node was cordoned
// and how many pods other than DaemonSet pods were still on it (the simulator's drain record).
setAsgNodeProbe((c, asg, instance, at) => {
  const node = asgNodeName(c, asg, instance);
  const nodes = clusterNodes(c, at);
  const view = nodes.find((n) => n.name === node);
  const podsLeft = view
    ? clusterPods(c, nodes, at).filter((p) => p.nodeName === node && p.ownerKind !== 'DaemonSet').length
    : 0;
  return { node, cordoned: view?.cordoned ?? false, podsLeft };
});
