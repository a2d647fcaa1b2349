/** What a simulated cluster shows from outside: API errors, crash-looping pods, workload signals. */
import { compareReleasesOf } from '../ami-catalogue';
import { compareMinor } from '../catalogue';
import type { SimCluster, SimNodegroup } from './types';

/** Application Deployments with one pod per node (the pods a crash-loop fault breaks). */
export const APP_WORKLOADS: readonly string[] = ['web', 'api', 'worker'];
const APP_PODS_PER_NODE = APP_WORKLOADS.length;

/** Fraction of simulated API-server requests that answer 5xx: a trickle, more while the control plane is replaced. */
export function apiErrorFraction(c: SimCluster): number {
  const cpUpdating = c.status === 'UPDATING' ? 0.003 : 0;
  return 0.0002 + cpUpdating + (c.faults.serverErrorRate ?? 0);
}

/** Whether the node group's nodes run a newer AMI than the one it started with (crash-loop fault). */
export function isUpgradedRelease(ng: SimNodegroup, release: string): boolean {
  // A custom AMI's release is its image ID: any other image than the first one counts.
  if (ng.amiType === 'CUSTOM') return release !== ng.originalRelease;
  return compareReleasesOf(ng.amiType, release, ng.originalRelease) > 0;
}

/** Application pods crash-looping now (approximated from the node groups' settled releases). */
export function crashLoopingPodCount(c: SimCluster): number {
  if (!c.faults.crashLoopAfterUpgrade) return 0;
  let n = 0;
  for (const ng of c.nodegroups) if (isUpgradedRelease(ng, ng.releaseVersion)) n += ng.desiredSize * APP_PODS_PER_NODE;
  return n;
}

/**
 * The degrade-after-upgrade fault: the workload suffers once every node runs at least
 * `degradeAtVersion`, and recovers when a node group is rolled back below it or an add-on is
 * rolled back to an older version.
 */
export function isDegraded(c: SimCluster): boolean {
  const at = c.faults.degradeAtVersion;
  if (!at) return false;
  let nodes = 0;
  for (const ng of c.nodegroups) {
    if (ng.desiredSize === 0) continue;
    if (compareMinor(ng.version, at) < 0) return false;
    nodes += ng.desiredSize;
  }
  if (nodes === 0) return false;
  return !c.addons.some((a) => a.rolledBack);
}

/** The workload signals /metrics exposes for a cluster. */
export function workloadSignals(c: SimCluster): { errorRatio: number; latencyP99: number } {
  const degraded = isDegraded(c);
  const crash = crashLoopingPodCount(c) > 0 ? 0.02 : 0;
  return {
    errorRatio: (degraded ? c.degradedErrorRatio : c.baseErrorRatio) + crash,
    latencyP99: c.baseLatencyP99 * (degraded ? 4 : 1) * (crash > 0 ? 1.5 : 1),
  };
}
