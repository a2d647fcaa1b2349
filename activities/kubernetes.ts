/**
 * Kubernetes-native checks through @kubernetes/client-node, authenticated with an EKS token
 * made in-process (eks-token.ts) inside a KubeConfig that lives only for one activity call.
 *
 * - captureKubernetesBaseline: pods crash-looping now and PDBs that allow no disruption (preflight
 *   captures the same baseline in its own call, see eks/preflight.ts).
 * - checkKubernetesHealth: all nodes Ready, kubelets of each node group at the expected
 *   minor, no crash-looping workload that was not crash-looping in the baseline.
 * An unreachable API server fails the activity (retryable); it never yields "healthy".
 */
import { CoreV1Api, PolicyV1Api, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { toMinor } from '../domain/versions';
import { activityRuntime } from './context';
import type { ClusterAccess, ResolvedDeps } from './deps';
import { clusterAccess, describeClusterRaw } from './eks/read';
import { toKubernetesFailure } from './failures';
import type {
  ClusterRef,
  KubernetesBaseline,
  KubernetesBaselineInput,
  KubernetesHealthInput,
  KubernetesHealthResult,
} from './types';

const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';
const PAGE_SIZE = 500;
const CALL_TIMEOUT_MS = 30_000;
/** Names listed in one failure message; the rest are counted, to keep workflow history small. */
const MAX_NAMES = 10;

function withTimeout<T>(what: string, promise: Promise<T>, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(what, fn());
  } catch (err) {
    throw toKubernetesFailure(err, what);
  }
}

function listNames(names: string[]): string {
  const shown = names.slice(0, MAX_NAMES).join(', ');
  return names.length > MAX_NAMES ? `${shown} and ${names.length - MAX_NAMES} more` : shown;
}

/** True when a container of the pod is waiting in CrashLoopBackOff. */
function isCrashLooping(pod: V1Pod): boolean {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return statuses.some((s) => s.state?.waiting?.reason === 'CrashLoopBackOff');
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? '?'}`;
}

/**
 * The workload a pod belongs to, `namespace/Kind/name` of its controller, or undefined for a
 * bare pod. Node replacement reschedules pods under new names; the workload stays the same.
 */
function workloadKey(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  return owner ? `${pod.metadata?.namespace ?? 'default'}/${owner.kind}/${owner.name}` : undefined;
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** A session against one cluster's API server. */
interface KubernetesSession {
  listNodes(): Promise<V1Node[]>;
  listPods(): Promise<V1Pod[]>;
  listBlockingPdbs(): Promise<string[]>;
}

/** Every item of a paged list call, page after page (each page is one `call`) until no `_continue` is left. */
async function listAllPages<T>(
  what: string,
  page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
): Promise<T[]> {
  const items: T[] = [];
  let cont: string | undefined;
  do {
    const result = await call(what, () => page(cont));
    items.push(...result.items);
    cont = result.metadata?._continue || undefined;
  } while (cont);
  return items;
}

/** Paged reads of one cluster's API server: each call under a timeout, its failure classified. */
function kubernetesSession(kc: KubeConfig, clusterName: string): KubernetesSession {
  const core = kc.makeApiClient(CoreV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  return {
    listNodes: () =>
      listAllPages(`list nodes of ${clusterName}`, (cont) => core.listNode({ limit: PAGE_SIZE, _continue: cont })),
    listPods: () =>
      listAllPages(`list pods of ${clusterName}`, (cont) =>
        core.listPodForAllNamespaces({ limit: PAGE_SIZE, _continue: cont }),
      ),
    async listBlockingPdbs() {
      const list = await call(`list PodDisruptionBudgets of ${clusterName}`, () =>
        policy.listPodDisruptionBudgetForAllNamespaces({}),
      );
      return list.items
        .filter((pdb) => pdb.status?.disruptionsAllowed === 0 && pdb.status?.expectedPods !== 0)
        .map((pdb) => `${pdb.metadata?.namespace ?? 'default'}/${pdb.metadata?.name ?? '?'}`)
        .sort();
    },
  };
}

/** The Kubernetes activities. */
export function createKubernetesActivities(deps: ResolvedDeps) {
  const rt = () => activityRuntime(deps.logger);

  async function session(cluster: ClusterRef, access?: ClusterAccess): Promise<KubernetesSession> {
    const where = access ?? clusterAccess(await describeClusterRaw(deps.eks(cluster), cluster.name));
    let kc: KubeConfig;
    try {
      kc = await deps.kube(cluster, where);
    } catch (err) {
      throw toKubernetesFailure(err, `credentials for ${cluster.name}`);
    }
    return kubernetesSession(kc, cluster.name);
  }

  /** PDBs that allow no disruption (preflight's drain risk). */
  async function blockingPdbs(cluster: ClusterRef, access?: ClusterAccess): Promise<string[]> {
    return (await session(cluster, access)).listBlockingPdbs();
  }

  /** Pods crash-looping now and PDBs that allow no disruption (preflight passes the access it already has). */
  async function captureBaseline(cluster: ClusterRef, access?: ClusterAccess): Promise<KubernetesBaseline> {
    const s = await session(cluster, access);
    const [pods, pdbs] = await Promise.all([s.listPods(), s.listBlockingPdbs()]);
    const looping = pods.filter(isCrashLooping);
    const baseline: KubernetesBaseline = {
      crashLoopingPods: looping.map(podKey).sort(),
      blockingPdbs: pdbs,
      crashLoopingWorkloads: [...new Set(looping.map(workloadKey).filter((k): k is string => k !== undefined))].sort(),
    };
    rt().log.info('Kubernetes baseline', {
      cluster: cluster.name,
      crashLoopingPods: baseline.crashLoopingPods.length,
      blockingPdbs: baseline.blockingPdbs.length,
    });
    return baseline;
  }

  async function captureKubernetesBaseline(input: KubernetesBaselineInput): Promise<KubernetesBaseline> {
    return captureBaseline(input.cluster);
  }

  async function checkKubernetesHealth(input: KubernetesHealthInput): Promise<KubernetesHealthResult> {
    const checks = input.checks ?? { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true };
    const s = await session(input.cluster);
    const failures: string[] = [];
    const nodes = await s.listNodes();
    const ready = nodes.filter(isReady);

    if (checks.nodesReady) {
      const notReady = nodes.filter((n) => !isReady(n)).map((n) => n.metadata?.name ?? '?');
      if (notReady.length > 0)
        failures.push(`${notReady.length} of ${nodes.length} nodes not Ready: ${listNames(notReady)}`);
    }

    if (checks.kubeletVersionsMatch && input.expectedKubeletMinor) {
      for (const [nodegroup, minor] of Object.entries(input.expectedKubeletMinor)) {
        const members = nodes.filter((n) => n.metadata?.labels?.[NODEGROUP_LABEL] === nodegroup);
        const off = members
          .map((n) => ({ name: n.metadata?.name ?? '?', kubelet: n.status?.nodeInfo?.kubeletVersion ?? '' }))
          .filter((n) => toMinor(n.kubelet) !== minor)
          .map((n) => `${n.name} (${n.kubelet || 'unknown'})`);
        if (off.length > 0)
          failures.push(`node group ${nodegroup}: ${off.length} node(s) not at kubelet ${minor}: ${listNames(off)}`);
      }
    }

    if (checks.noNewCrashLoops) {
      const knownPods = new Set(input.baseline?.crashLoopingPods ?? []);
      const knownWorkloads = new Set(input.baseline?.crashLoopingWorkloads ?? []);
      const fresh = (await s.listPods())
        .filter(isCrashLooping)
        .filter((p) => !knownPods.has(podKey(p)) && !knownWorkloads.has(workloadKey(p) ?? '\0'))
        .map(podKey)
        .sort();
      if (fresh.length > 0) {
        failures.push(
          `${fresh.length} pod(s) crash-looping that were not in the baseline${input.baseline ? '' : ' (no baseline taken)'}: ${listNames(fresh)}`,
        );
      }
    }

    const result: KubernetesHealthResult = {
      healthy: failures.length === 0,
      failures,
      nodes: { total: nodes.length, ready: ready.length },
    };
    rt().log.info('Kubernetes health', {
      cluster: input.cluster.name,
      healthy: result.healthy,
      failures: failures.length,
    });
    return result;
  }

  return { captureKubernetesBaseline, checkKubernetesHealth, blockingPdbs, captureBaseline };
}
