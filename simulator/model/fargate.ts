/**
 * Fargate pods and their restart. Each pod of a Fargate profile runs on a node of its own, whose
 * kubelet is the newest patch of the control plane's minor when the pod was created, and keeps it
 * until the pod is recreated: EKS does not move running Fargate pods to a new kubelet after a
 * control-plane update ("All Fargate Pods start on the most recent Kubernetes patch version, which
 * is available from Amazon EKS for the Kubernetes version of your cluster",
 * docs.aws.amazon.com/eks/latest/userguide/fargate-pod-patching.html).
 *
 * The pods belong to one Deployment per profile (`fargate-<profile>` in `default`). A rollout
 * restart changes its pod template (the `kubectl.kubernetes.io/restartedAt` annotation), and the
 * Deployment controller replaces the pods as its rolling-update strategy says: the simulated
 * Deployment declares `maxSurge: 1, maxUnavailable: 0`, so one new pod is created, becomes Ready,
 * and only then is one old pod deleted (Kubernetes "Deployments", "Rolling Update Deployment",
 * kubernetes.io/docs/concepts/workloads/controllers/deployment/). A rolling update is not an
 * eviction, so PodDisruptionBudgets do not pace it ("Disruptions": "the workload resource … is not
 * limited by PDBs when doing rolling upgrades", kubernetes.io/docs/concepts/workloads/pods/disruptions/).
 */
import type { SimCluster, SimFargateProfile } from './types';

/** A Fargate pod from creation to Ready: Fargate provisions a node for it first (about a minute). */
export const FARGATE_POD_START_MS = 60_000;

/** When the running rollout of `f` has replaced its last pod. */
export function fargateRolloutEnd(f: SimFargateProfile): number | undefined {
  return f.rollout ? f.rollout.startedAt + f.pods * FARGATE_POD_START_MS : undefined;
}

/** The oldest kubelet minor among the profile's pods at `now`; undefined when it runs none. */
export function oldestFargateKubelet(f: SimFargateProfile, now: number): string | undefined {
  if (f.pods === 0) return undefined;
  const end = fargateRolloutEnd(f);
  return f.rollout && end !== undefined && now >= end ? f.rollout.version : f.version;
}

/**
 * Where pod `index` of `f` stands at `now`: `old` (the current generation's pod only), `both` (its
 * replacement is starting, the old pod still serves), or `new` (replaced at `since`).
 */
export function fargatePodPhase(
  f: SimFargateProfile,
  index: number,
  now: number,
): { phase: 'old' } | { phase: 'both' | 'new'; since: number } {
  if (!f.rollout) return { phase: 'old' };
  const since = f.rollout.startedAt + index * FARGATE_POD_START_MS;
  if (now < since) return { phase: 'old' };
  return { phase: now < since + FARGATE_POD_START_MS ? 'both' : 'new', since };
}

/**
 * A new pod template (`restartedAt`) for the profile's Deployment. A rollout that has ended is
 * folded into the profile first; one still running is taken as done (the simulator does not model
 * a third ReplicaSet scaling down beside two), and the new rollout starts over from the first pod,
 * on the control plane's minor now.
 */
export function restartFargate(c: SimCluster, f: SimFargateProfile, restartedAt: string, now: number): void {
  if (f.rollout) {
    f.version = f.rollout.version;
    f.generation += 1;
    f.createdAt = f.rollout.startedAt;
  }
  f.restartedAt = restartedAt;
  f.rollout = { startedAt: now, version: c.version };
}
