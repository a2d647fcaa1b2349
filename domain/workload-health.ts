/**
 * Workload health of a cluster, from what its API server reports: Deployments, StatefulSets and
 * DaemonSets short of what they want, and pods left Pending. Pure: the Kubernetes checks
 * (activities/kubernetes.ts) read the objects and hand them here.
 *
 * The status fields, as the Kubernetes API reference defines them:
 * - Deployment (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/):
 *   `spec.replicas` desired (default 1), `status.availableReplicas` available (ready for at least
 *   minReadySeconds).
 * - StatefulSet (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/stateful-set-v1/):
 *   `spec.replicas` (default 1), `status.availableReplicas`; an API server too old to write it
 *   (before 1.22) is read by `status.readyReplicas`.
 * - DaemonSet (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/daemon-set-v1/):
 *   `status.desiredNumberScheduled` (nodes that should run the pod), `status.numberAvailable`.
 * - A controller that has not yet observed its latest spec (`status.observedGeneration` below
 *   `metadata.generation`) reports counts for an older spec: it is "not yet observed", counted as short.
 * - Pod (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase): `Pending` is
 *   accepted but not running: not scheduled yet, or pulling images. A pod whose `PodScheduled`
 *   condition is False (reason Unschedulable) found no node; any Pending pod older than
 *   {@link PENDING_GRACE_MS} is stuck either way.
 *
 * A workload or pod's workload already short in the baseline (before the upgrade) is not the
 * upgrade's doing: it is left out, as crash loops are.
 */

/** A Pending pod counts once it has waited this long (image pulls on fresh nodes take a minute or two). */
export const PENDING_GRACE_MS = 5 * 60_000;

interface Meta {
  name?: string;
  namespace?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
}

export interface WorkloadObject {
  metadata?: Meta;
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    desiredNumberScheduled?: number;
    numberAvailable?: number;
  };
}

export interface PodObject {
  metadata?: Meta;
  status?: { phase?: string; conditions?: { type?: string; status?: string; reason?: string }[] };
}

/** One workload short of what it wants: `namespace/Kind/name` and why. */
export interface WorkloadShortfall {
  key: string;
  detail: string;
}

function keyOf(kind: string, o: { metadata?: Meta }): string {
  return `${o.metadata?.namespace ?? 'default'}/${kind}/${o.metadata?.name ?? '?'}`;
}

function notObserved(o: WorkloadObject): boolean {
  const generation = o.metadata?.generation;
  const observed = o.status?.observedGeneration;
  return generation !== undefined && observed !== undefined && observed < generation;
}

/** Deployments, StatefulSets and DaemonSets with fewer available pods than desired, sorted by key. */
export function workloadShortfalls(objects: {
  deployments: readonly WorkloadObject[];
  statefulSets: readonly WorkloadObject[];
  daemonSets: readonly WorkloadObject[];
}): WorkloadShortfall[] {
  const out: WorkloadShortfall[] = [];
  const check = (kind: string, o: WorkloadObject, desired: number, available: number): void => {
    if (notObserved(o)) out.push({ key: keyOf(kind, o), detail: 'latest spec not yet observed by its controller' });
    else if (available < desired) out.push({ key: keyOf(kind, o), detail: `${available}/${desired} available` });
  };
  for (const d of objects.deployments) check('Deployment', d, d.spec?.replicas ?? 1, d.status?.availableReplicas ?? 0);
  for (const s of objects.statefulSets) {
    check('StatefulSet', s, s.spec?.replicas ?? 1, s.status?.availableReplicas ?? s.status?.readyReplicas ?? 0);
  }
  for (const d of objects.daemonSets) {
    check('DaemonSet', d, d.status?.desiredNumberScheduled ?? 0, d.status?.numberAvailable ?? 0);
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** The workload a pod belongs to (`namespace/Kind/name` of its controller), or the pod itself. */
export function podWorkload(pod: PodObject): string {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  const ns = pod.metadata?.namespace ?? 'default';
  return owner ? `${ns}/${owner.kind ?? '?'}/${owner.name ?? '?'}` : `${ns}/Pod/${pod.metadata?.name ?? '?'}`;
}

/** Pods stuck Pending at `now`: unschedulable, or Pending longer than {@link PENDING_GRACE_MS}; `namespace/name`, sorted. */
export function stuckPendingPods(pods: readonly PodObject[], now: number): PodObject[] {
  return pods
    .filter((p) => p.status?.phase === 'Pending')
    .filter((p) => {
      const unschedulable = p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False');
      const created = p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : NaN;
      return unschedulable || (Number.isFinite(created) && now - created >= PENDING_GRACE_MS);
    });
}

/**
 * The failures to report, leaving out what the baseline already had short or stuck (by workload).
 * Empty when every workload is whole and no pod is stuck.
 */
export function workloadFailures(
  shortfalls: readonly WorkloadShortfall[],
  pending: readonly PodObject[],
  baseline: readonly string[] | undefined,
  listNames: (names: string[]) => string,
): string[] {
  const known = new Set(baseline ?? []);
  const failures: string[] = [];
  const short = shortfalls.filter((s) => !known.has(s.key));
  if (short.length > 0) {
    failures.push(
      `${short.length} workload(s) short of desired${baseline ? '' : ' (no baseline taken)'}: ${listNames(
        short.map((s) => `${s.key} (${s.detail})`),
      )}`,
    );
  }
  const stuck = pending.filter((p) => !known.has(podWorkload(p)));
  if (stuck.length > 0) {
    failures.push(
      `${stuck.length} pod(s) stuck Pending: ${listNames(
        stuck.map((p) => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? '?'}`).sort(),
      )}`,
    );
  }
  return failures;
}

/** What the baseline keeps: every workload short now, and the workloads of pods stuck Pending now. */
export function workloadBaseline(shortfalls: readonly WorkloadShortfall[], pending: readonly PodObject[]): string[] {
  return [...new Set([...shortfalls.map((s) => s.key), ...pending.map(podWorkload)])].sort();
}
