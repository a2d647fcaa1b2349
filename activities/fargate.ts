/**
 * Fargate pods after the control plane moved. A Fargate pod keeps the kubelet it started with until
 * it is recreated ("All Fargate Pods start on the most recent Kubernetes patch version … for the
 * Kubernetes version of your cluster", docs.aws.amazon.com/eks/latest/userguide/fargate-pod-patching.html),
 * so after a hop the pods started before it run an older kubelet.
 *
 * settleFargatePods reads the Fargate nodes (label `eks.amazonaws.com/compute-type=fargate`, one
 * pod each) and the pods on them, and groups the pods on an older kubelet by owner: the Deployment
 * behind their ReplicaSet (its name is the ReplicaSet's less the `pod-template-hash`), or a
 * StatefulSet. In `report` mode that is all it does: no write.
 *
 * In `restart` mode it restarts each owner as `kubectl rollout restart` does: a strategic merge
 * patch of the pod template's `kubectl.kubernetes.io/restartedAt` annotation, whose value is this
 * run's marker, so an owner already carrying it is not patched again (a retried attempt, a worker
 * killed after the patch). The rolling update that follows is the owner's own (maxSurge /
 * maxUnavailable); PodDisruptionBudgets do not pace a rolling update in Kubernetes, so fleetwave
 * honours them itself: an owner whose pods a budget allows no disruption of now is not restarted
 * until the budget allows one, and the step fails naming the budget when that lasts past
 * `pdbTimeoutMs`. Then it waits as every wait does (activities/waiting.ts): one look per attempt,
 * parked in between, until no pod of a restarted owner runs an old kubelet. Bare pods and owners of
 * other kinds (Jobs, DaemonSets cannot run on Fargate) are reported, never deleted.
 */
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { compareMinor, toMinor } from '../domain/versions';
import { nextLookDelayMs } from '../domain/waits';
import { activityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import { clusterAccess, describeClusterRaw } from './eks/read';
import { toKubernetesFailure } from './failures';
import { LookLater, park, parks } from './waiting';
import type {
  ClusterRef,
  FargateOwnerPods,
  FargatePodsProgress,
  SettleFargatePodsInput,
  SettleFargatePodsResult,
} from './types';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const COMPUTE_TYPE = 'eks.amazonaws.com/compute-type';
const PROFILE_LABEL = 'eks.amazonaws.com/fargate-profile';
const RESTARTABLE = new Set(['Deployment', 'StatefulSet']);

/** One old Fargate pod and whom to restart for it. */
interface OldPod {
  namespace: string;
  kind: string;
  name: string;
  profile: string;
  minor: string;
  labels: Record<string, string>;
}

function ownerKey(p: Pick<OldPod, 'namespace' | 'kind' | 'name'>): string {
  return `${p.namespace}/${p.kind}/${p.name}`;
}

/** The workload to restart for a pod: the Deployment behind its ReplicaSet, its StatefulSet, or the pod itself. */
function ownerOf(pod: V1Pod): { kind: string; name: string } {
  const ref = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!ref) return { kind: 'Pod', name: pod.metadata?.name ?? '?' };
  if (ref.kind === 'ReplicaSet') {
    // The Deployment controller names a ReplicaSet `<deployment>-<pod-template-hash>` and labels its pods with the hash.
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    const name = hash && ref.name.endsWith(`-${hash}`) ? ref.name.slice(0, -hash.length - 1) : undefined;
    return name ? { kind: 'Deployment', name } : { kind: 'ReplicaSet', name: ref.name };
  }
  return { kind: ref.kind, name: ref.name };
}

/** Fargate pods on a kubelet older than `target`, from the Fargate nodes and the pods on them. */
export function oldFargatePods(nodes: V1Node[], pods: V1Pod[], target: string): { total: number; old: OldPod[] } {
  const minorOf = new Map(
    nodes
      .filter((n) => n.metadata?.labels?.[COMPUTE_TYPE] === 'fargate')
      .map((n) => [n.metadata?.name ?? '', toMinor(n.status?.nodeInfo?.kubeletVersion ?? '')]),
  );
  let total = 0;
  const old: OldPod[] = [];
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || !minorOf.has(node)) continue;
    total++;
    const minor = minorOf.get(node);
    if (!minor || compareMinor(minor, target) >= 0) continue;
    old.push({
      namespace: pod.metadata?.namespace ?? 'default',
      ...ownerOf(pod),
      profile: pod.metadata?.labels?.[PROFILE_LABEL] ?? '?',
      minor,
      labels: pod.metadata?.labels ?? {},
    });
  }
  return { total, old };
}

/** Old pods per owner, for the step record. */
export function byOwner(old: OldPod[]): FargateOwnerPods[] {
  const out = new Map<string, FargateOwnerPods>();
  for (const p of old) {
    const key = ownerKey(p);
    const entry = out.get(key) ?? { owner: key, profile: p.profile, pods: 0, oldest: p.minor };
    entry.pods++;
    if (compareMinor(p.minor, entry.oldest) < 0) entry.oldest = p.minor;
    out.set(key, entry);
  }
  return [...out.values()].sort((a, b) => a.owner.localeCompare(b.owner));
}

/** A budget in the pods' namespace whose selector matches them and that allows no disruption now. */
function blockingBudget(pdbs: V1PodDisruptionBudget[], pod: OldPod): string | undefined {
  const pdb = pdbs.find((b) => {
    if (b.metadata?.namespace !== pod.namespace || (b.status?.disruptionsAllowed ?? 0) > 0) return false;
    const match = b.spec?.selector?.matchLabels ?? {};
    const expressions = b.spec?.selector?.matchExpressions ?? [];
    // Expressions are not evaluated: a budget with any is taken to match, the safe side.
    return Object.entries(match).every(([k, v]) => pod.labels[k] === v) || expressions.length > 0;
  });
  return pdb ? `${pdb.metadata?.namespace}/${pdb.metadata?.name}` : undefined;
}

function isProgress(v: unknown, input: SettleFargatePodsInput): v is FargatePodsProgress {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<FargatePodsProgress>;
  return p.cluster === input.cluster.name && p.marker === input.marker && typeof p.startedAtMs === 'number';
}

function describe(old: FargateOwnerPods[]): string {
  return old.map((o) => `${o.owner} (profile ${o.profile}): ${o.pods} on ${o.oldest}`).join(', ');
}

export function createFargateActivities(deps: ResolvedDeps) {
  async function kubeConfig(cluster: ClusterRef): Promise<KubeConfig> {
    const access = clusterAccess(await describeClusterRaw(deps.eks(cluster), cluster.name));
    try {
      return await deps.kube(cluster, access);
    } catch (err) {
      throw toKubernetesFailure(err, `credentials for ${cluster.name}`);
    }
  }

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toKubernetesFailure(err, what);
    }
  }

  /** Restarts one owner unless its template already carries this run's marker; true when it carries it now. */
  async function restart(apps: AppsV1Api, namespace: string, kind: string, name: string, marker: string) {
    const what = `restart ${kind} ${namespace}/${name}`;
    const read =
      kind === 'Deployment'
        ? () => apps.readNamespacedDeployment({ namespace, name })
        : () => apps.readNamespacedStatefulSet({ namespace, name });
    const current = await call(what, read);
    if (current.spec?.template?.metadata?.annotations?.[RESTARTED_AT] === marker) return false;
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: marker } } } } };
    const options = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    await call(what, () =>
      kind === 'Deployment'
        ? apps.patchNamespacedDeployment({ namespace, name, body, fieldManager: 'fleetwave' }, options)
        : apps.patchNamespacedStatefulSet({ namespace, name, body, fieldManager: 'fleetwave' }, options),
    );
    return true;
  }

  async function settleFargatePods(input: SettleFargatePodsInput): Promise<SettleFargatePodsResult> {
    const r = activityRuntime(deps.logger);
    const resumed = isProgress(r.heartbeatDetails, input) ? r.heartbeatDetails : undefined;
    const progress: FargatePodsProgress = resumed
      ? structuredClone(resumed)
      : {
          cluster: input.cluster.name,
          target: input.targetVersion,
          marker: input.marker,
          startedAtMs: deps.now().getTime(),
          restarted: [],
          blocked: {},
          oldPods: 0,
        };
    const kc = await kubeConfig(input.cluster);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    for (;;) {
      const [nodes, pods] = await Promise.all([
        call(`list Fargate nodes of ${input.cluster.name}`, () =>
          core.listNode({ labelSelector: `${COMPUTE_TYPE}=fargate` }),
        ),
        call(`list Fargate pods of ${input.cluster.name}`, () =>
          core.listPodForAllNamespaces({ labelSelector: PROFILE_LABEL }),
        ),
      ]);
      const { total, old } = oldFargatePods(nodes.items, pods.items, input.targetVersion);
      progress.oldPods = old.length;
      const restartable = old.filter((p) => RESTARTABLE.has(p.kind));
      const left = byOwner(old.filter((p) => !RESTARTABLE.has(p.kind) || input.mode === 'report'));
      if (input.mode === 'report' || restartable.length === 0) {
        r.log.info('Fargate pods', {
          cluster: input.cluster.name,
          total,
          old: old.length,
          restarted: progress.restarted,
        });
        return { total, old: input.mode === 'report' ? byOwner(old) : left, restarted: progress.restarted };
      }

      const now = deps.now().getTime();
      const waiting = new Set(restartable.map(ownerKey));
      const toRestart = [...waiting].filter((key) => !progress.restarted.includes(key));
      const pdbs =
        toRestart.length > 0
          ? (
              await call(`list PodDisruptionBudgets of ${input.cluster.name}`, () =>
                policy.listPodDisruptionBudgetForAllNamespaces(),
              )
            ).items
          : [];
      for (const key of toRestart) {
        const pod = restartable.find((p) => ownerKey(p) === key) as OldPod;
        const pdb = blockingBudget(pdbs, pod);
        if (pdb) {
          const since = progress.blocked[key]?.sinceMs ?? now;
          progress.blocked[key] = { pdb, sinceMs: since };
          if (now - since > input.pdbTimeoutMs) {
            throw ApplicationFailure.create({
              type: 'FargatePdbBlocked',
              nonRetryable: true,
              message: `PodDisruptionBudget ${pdb} allowed no disruption of ${key} (Fargate profile ${pod.profile}) for ${Math.round((now - since) / 60_000)} min: not restarted, its ${restartable.filter((p) => ownerKey(p) === key).length} pod(s) stay on kubelet ${pod.minor}`,
              details: [{ owner: key, pdb }],
            });
          }
          continue;
        }
        delete progress.blocked[key];
        await restart(apps, pod.namespace, pod.kind, pod.name, input.marker);
        progress.restarted.push(key);
      }

      const elapsed = now - progress.startedAtMs;
      const remaining = byOwner(restartable);
      if (elapsed > input.timeoutMs) {
        throw ApplicationFailure.create({
          type: 'FargatePodsTimeout',
          nonRetryable: true,
          message: `Fargate pods of ${input.cluster.name} still on an old kubelet after ${Math.round(input.timeoutMs / 60_000)} min: ${describe(remaining)}`,
          details: [remaining],
        });
      }
      const delay = nextLookDelayMs('fargate', elapsed, deps.waits);
      const blocked = Object.entries(progress.blocked).map(([owner, b]) => `${owner} held by ${b.pdb}`);
      const later = new LookLater(
        delay,
        `Fargate pods of ${input.cluster.name} on an old kubelet: ${describe(remaining)}${blocked.length > 0 ? `; ${blocked.join(', ')}` : ''}`,
      );
      if (parks(deps, r)) throw park(r, later, progress, resumed);
      r.heartbeat(structuredClone(progress));
      await r.sleep(delay);
    }
  }

  return { settleFargatePods };
}
