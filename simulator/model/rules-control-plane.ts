/**
 * EKS's rules for a control-plane version update: one minor up (node-group skew, upgrade
 * insights), or back to the previous minor within the rollback window.
 *
 * Sources: the UpdateClusterVersion API reference and "Update existing cluster to new Kubernetes
 * version" (docs.aws.amazon.com/eks/latest/userguide/update-cluster.html) for upgrades; "Rollback
 * cluster to previous Kubernetes version" (docs.aws.amazon.com/eks/latest/userguide/rollback-cluster.html)
 * and "Rollback EKS Auto Mode clusters" (.../rollback-automode.html) for VersionRollback,
 * `rollbackConfig` and what CancelUpdate can stop.
 */
import { DURATIONS, PLATFORM_VERSIONS, compareMinor, isMinorString, isSimMinor } from '../catalogue';
import { hexOf } from '../random';
import { invalidParameter, invalidRequest, inUse } from './errors';
import { oldestFargateKubelet } from './fargate';
import { insightsFor, rollbackInsightsFor } from './insights';
import type { SimCluster, SimUpdate, UpdateError, UpdateHost } from './types';

/** UpdateClusterVersion's request body. */
export interface ClusterVersionRequest {
  version?: string;
  clientRequestToken: string;
  force?: boolean;
  /** Bounds an Auto Mode cluster's node rollback; accepted and unused elsewhere, as documented. */
  rollbackConfig?: { timeoutMinutes?: unknown };
}

/** rollbackConfig.timeoutMinutes: 120 (2 hours) to 10080 (7 days), default 720, per the service model. */
const ROLLBACK_TIMEOUT = { minMinutes: 120, maxMinutes: 10_080, defaultMinutes: 720 };

/** UpdateClusterVersion: one minor up, or back to the previous minor within the rollback window. */
export function startClusterVersionUpdate(host: UpdateHost, c: SimCluster, req: ClusterVersionRequest): SimUpdate {
  const key = `UpdateClusterVersion||${req.clientRequestToken}`;
  const replayed = host.replay(c, key);
  if (replayed) return replayed;
  const to = req.version;
  if (!to || !isMinorString(to)) {
    throw invalidParameter(`version must be a Kubernetes minor version such as "1.31", not "${to ?? ''}"`, {
      clusterName: c.name,
    });
  }
  const timeoutMinutes = req.rollbackConfig?.timeoutMinutes ?? ROLLBACK_TIMEOUT.defaultMinutes;
  if (
    typeof timeoutMinutes !== 'number' ||
    !Number.isInteger(timeoutMinutes) ||
    timeoutMinutes < ROLLBACK_TIMEOUT.minMinutes ||
    timeoutMinutes > ROLLBACK_TIMEOUT.maxMinutes
  ) {
    throw invalidParameter(
      `rollbackConfig.timeoutMinutes must be between ${ROLLBACK_TIMEOUT.minMinutes} and ${ROLLBACK_TIMEOUT.maxMinutes}, not ${String(timeoutMinutes)}`,
      { clusterName: c.name },
    );
  }
  const inProgress = c.active[0];
  if (inProgress) {
    throw inUse(`Cluster ${c.name} has an update in progress (${inProgress.type} ${inProgress.id}).`, {
      clusterName: c.name,
    });
  }
  const from = c.version;
  const distance = compareMinor(to, from);
  const rollback = distance === -1;
  if (distance === 0 || distance > 1 || distance < -1 || !isSimMinor(to)) {
    throw invalidParameter(`Unsupported Kubernetes minor version update from ${from} to ${to}`, {
      clusterName: c.name,
    });
  }
  const now = host.now();
  if (rollback) {
    const last = c.lastVersionChange;
    const inWindow =
      last !== undefined &&
      last.type === 'VersionUpdate' &&
      last.from === to &&
      last.to === from &&
      now - last.at <= DURATIONS.rollbackWindowMs;
    if (!inWindow) {
      throw invalidParameter(
        `Unsupported Kubernetes minor version update from ${from} to ${to}: a control plane can be rolled back only to the minor it was upgraded from, within 7 days of that upgrade`,
        { clusterName: c.name },
      );
    }
    // A ROLLBACK_READINESS insight in ERROR (the kubelet version skew one while a node group is
    // newer than the target) blocks the rollback unless `force`, which bypasses readiness checks,
    // not the window (service model, UpdateClusterVersion `force`: "override upgrade-blocking or
    // rollback-blocking readiness checks"; userguide/rollback-cluster.html).
    const blocking = rollbackInsightsFor(c, now, host.addonCatalogue).filter(
      (i) => i.kubernetesVersion === to && i.status === 'ERROR',
    );
    const newer = c.nodegroups.find((ng) => compareMinor(ng.version, to) > 0);
    if (blocking.length > 0 && !req.force) {
      throw invalidRequest(
        `Rollback readiness: ${blocking.map((i) => `${i.name}: ${i.reason}`).join('; ')} Roll the node groups back first (UpdateNodegroupVersion) or pass force to override`,
        { clusterName: c.name, ...(newer ? { nodegroupName: newer.name } : {}) },
      );
    }
  } else {
    const behind = c.nodegroups.find((ng) => compareMinor(to, ng.version) > 3);
    if (behind) {
      throw invalidRequest(
        `Nodegroup ${behind.name} runs Kubernetes ${behind.version}: kubelets may be at most 3 minor versions older than the control plane; update the node group before upgrading to ${to}`,
        { clusterName: c.name, nodegroupName: behind.name },
      );
    }
    // The same skew paragraph of update-cluster.html names Fargate nodes: "If the kubelet on your
    // managed and Fargate nodes is on Kubernetes version 1.25 or newer, you can update your cluster
    // up to three versions ahead without updating the kubelet version". A Fargate pod keeps the
    // kubelet it started with (fargate-pod-patching.html), so an older pod is refused past that.
    const oldFargate = c.fargateProfiles
      .map((f) => ({ f, minor: oldestFargateKubelet(f, now) }))
      .find((x) => x.minor !== undefined && compareMinor(to, x.minor) > 3);
    if (oldFargate) {
      throw invalidRequest(
        `Kubelet version of Fargate pods must be updated to match cluster version ${c.version} before updating cluster version; Please recycle all offending pod replicas (profile ${oldFargate.f.name} runs Kubernetes ${oldFargate.minor})`,
        { clusterName: c.name },
      );
    }
    if (!req.force) {
      const blocking = insightsFor(c, now, host.addonCatalogue).filter(
        (i) => i.kubernetesVersion === to && i.category === 'UPGRADE_READINESS' && i.status === 'ERROR',
      );
      if (blocking.length > 0) {
        throw invalidRequest(
          `Upgrade insights report ${blocking.length} issue(s) for Kubernetes ${to} (${blocking.map((i) => i.name).join('; ')}); resolve them or pass force to override`,
          { clusterName: c.name },
        );
      }
    }
  }
  const duration = host.slow(
    c,
    rollback
      ? c.rng.between(DURATIONS.rollbackMinMs, DURATIONS.rollbackMaxMs)
      : c.rng.between(DURATIONS.controlPlaneMinMs, DURATIONS.controlPlaneMaxMs),
  );
  let failAt: number | undefined;
  let failure: UpdateError | undefined;
  // Auto Mode: the nodes roll back first, with the cluster ACTIVE, and only that phase can be
  // cancelled; it fails the update when it outlasts rollbackConfig.timeoutMinutes.
  const nodePhase = rollback && c.autoMode ? Math.round(duration * DURATIONS.rollbackCancellableShare) : undefined;
  if (nodePhase !== undefined && nodePhase > timeoutMinutes * 60_000) {
    failAt = now + timeoutMinutes * 60_000;
    failure = {
      errorCode: 'Unknown',
      errorMessage: `The Auto Mode nodes did not finish rolling back to ${to} within rollbackConfig.timeoutMinutes (${timeoutMinutes}); the control plane stays at ${from}.`,
      resourceIds: [],
    };
  }
  if (!rollback && c.faults.controlPlaneUpdateFails) {
    // One-shot, as the fault says "the next control-plane update fails": a retry succeeds.
    delete c.faults.controlPlaneUpdateFails;
    failAt = now + Math.round(duration * 0.6);
    failure = {
      errorCode: 'InsufficientFreeAddresses',
      errorMessage:
        'One or more of the subnets associated with your cluster does not have enough available IP addresses for Amazon EKS to perform cluster management operations (simulated fault controlPlaneUpdateFails).',
      resourceIds: [`subnet-0${hexOf(16, c.name, 'subnet', 0)}`],
    };
  }
  host.integrate(c, now);
  c.status = 'UPDATING';
  return host.begin(c, key, req.clientRequestToken, 'UpdateClusterVersion', to, {
    createdAt: now,
    type: rollback ? 'VersionRollback' : 'VersionUpdate',
    params: [
      { type: 'Version', value: to },
      { type: 'PlatformVersion', value: PLATFORM_VERSIONS[to] ?? 'eks.1' },
    ],
    endsAt: now + duration,
    ...(failAt !== undefined ? { failAt, failure } : {}),
    ...(nodePhase !== undefined ? { cancellableUntil: now + nodePhase } : {}),
    effect: { kind: 'control-plane', from, to, rollback },
  });
}
