/**
 * fleetwave's activities: every side effect, one file per external system.
 *
 * - eks/          — @aws-sdk/client-eks (+ SSM for AMI releases): describe, resolve, preflight,
 *                   start / await / roll back updates, read-before-write with idempotency tokens
 * - kubernetes.ts — @kubernetes/client-node with in-process EKS tokens (eks-token.ts)
 * - prometheus.ts — the health-gate loop, and the PromQL gate provider (assessment in domain/gates.ts)
 * - gate-provider.ts — the interface every gate provider implements: measure once
 * - cloudwatch.ts — CloudWatch gates (GetMetricData in the cluster's account and region)
 * - webhook.ts    — webhook gates (POST the cluster and wave, read pass / fail / inconclusive)
 * - health.ts     — every gate of a phase plus the Kubernetes checks in one activity
 * - watch.ts      — a batch of gates watched for a whole soak (parked between looks)
 * - steps.ts      — composite steps: all control-plane hops (with checks between), all node groups
 * - inventory.ts  — EKS discovery into the fleet file's schema
 * - approvals.ts  — the fleet approval policy: SSHSIG checks of signed operator actions
 * - automode.ts   — EKS Auto Mode: NodeClaims following the control plane, NodePool holds
 * - fargate.ts    — Fargate pods on an old kubelet: reported, or their owners restarted
 * - self-managed.ts — self-managed node groups: launch-template version, instance refresh, own drains
 * - karpenter.ts  — a self-installed Karpenter: EC2NodeClass pins, drift holds, the drift step
 * - aws.ts        — createDefaultDeps: credentials, assumed roles, endpoints, client caches
 * - failures.ts   — error classification into Temporal failure types
 *
 * Workflows import this module with `import type` only.
 */
import type { ActivityDeps } from './deps';
import { resolveDeps } from './deps';
import { createAccessActivities, type AccessActivities } from './access';
import { createApprovalActivities } from './approvals';
import { createAutoModeActivities } from './automode';
import { createEksActivities } from './eks';
import { createFargateActivities } from './fargate';
import { createKarpenterActivities } from './karpenter';
import { createHealthActivities } from './health';
import { createStepActivities } from './steps';
import { createInventoryActivities } from './inventory';
import { createKubernetesActivities } from './kubernetes';
import { createCloudWatchProvider } from './cloudwatch';
import { createPrometheusActivities } from './prometheus';
import { createWebhookProvider } from './webhook';
import { createSelfManagedActivities } from './self-managed';
import { activityRuntime } from './context';
import { parks } from './waiting';
import { createWatchActivity } from './watch';
import type { ActivityParts, FleetwaveActivities } from './types';

export type { ActivityDeps, AwsTarget, ClusterAccess, PollingOptions } from './deps';
export type { ActivityLogger } from './context';
export { createDefaultDeps, type DefaultDepsConfig } from './aws';
export { FailureTypes } from './types';
export { ExtraFailureTypes } from './failures';

/** The doctor's activity (activities/access.ts); every worker registers it beside {@link createActivities}. */
export function createClusterAccessActivities(deps: ActivityDeps): AccessActivities {
  return createAccessActivities(resolveDeps(deps));
}

/** Builds the activities the workflows call from their clients. Register the result on a worker as it is. */
export function createActivities(deps: ActivityDeps): FleetwaveActivities {
  const all = createActivityParts(deps);
  return {
    resolveTargetVersions: all.resolveTargetVersions,
    preflightCluster: all.preflightCluster,
    awaitUpdate: all.awaitUpdate,
    updateAddons: all.updateAddons,
    upgradeControlPlane: all.upgradeControlPlane,
    updateNodegroups: all.updateNodegroups,
    rollbackNodegroup: all.rollbackNodegroup,
    rollbackAddon: all.rollbackAddon,
    rollbackControlPlane: all.rollbackControlPlane,
    evaluateHealthGates: all.evaluateHealthGates,
    watchHealthGates: all.watchHealthGates,
    checkClusterHealth: all.checkClusterHealth,
    verifyAction: all.verifyAction,
    describeApprovalPolicy: all.describeApprovalPolicy,
    awaitAutoModeNodes: all.awaitAutoModeNodes,
    holdNodePools: all.holdNodePools,
    releaseNodePoolHolds: all.releaseNodePoolHolds,
    settleFargatePods: all.settleFargatePods,
    startSelfManagedRefreshes: all.startSelfManagedRefreshes,
    awaitSelfManagedRefreshes: all.awaitSelfManagedRefreshes,
    rollbackSelfManagedGroup: all.rollbackSelfManagedGroup,
    holdKarpenterNodes: all.holdKarpenterNodes,
    driftKarpenterNodes: all.driftKarpenterNodes,
    releaseKarpenterHolds: all.releaseKarpenterHolds,
  };
}

/**
 * The registered activities together with the single steps they are made of and EKS discovery
 * ({@link ActivityParts}), for tests that exercise one EKS call, gate or Kubernetes check on its own.
 */
export function createActivityParts(deps: ActivityDeps): FleetwaveActivities & ActivityParts {
  const resolved = resolveDeps(deps);
  const kubernetes = createKubernetesActivities(resolved);
  const eks = createEksActivities(resolved, {
    blockingPdbs: kubernetes.blockingPdbs,
    captureBaseline: kubernetes.captureBaseline,
    nodeModels: kubernetes.nodeModels,
    reviewAccess: kubernetes.reviewAccess,
  });
  const prometheus = createPrometheusActivities(resolved, {
    cloudwatch: createCloudWatchProvider(resolved),
    webhook: createWebhookProvider(resolved),
  });
  const health = createHealthActivities(resolved, {
    runGate: prometheus.runGate,
    checkKubernetesHealth: kubernetes.checkKubernetesHealth,
  });
  const watch = createWatchActivity(
    {
      measureOnce: prometheus.measureGate,
      now: () => resolved.now().getTime(),
      park: (rt) => parks(resolved, rt),
    },
    () => activityRuntime(resolved.logger),
  );
  const steps = createStepActivities(resolved, { ...eks.parts, runClusterHealth: health.runClusterHealth });
  const inventory = createInventoryActivities(resolved);
  const approvals = createApprovalActivities({
    policyFile: resolved.approvalPolicyFile,
    now: resolved.now,
    logger: resolved.logger,
  });
  const autoMode = createAutoModeActivities(resolved);
  const fargate = createFargateActivities(resolved);
  const selfManaged = createSelfManagedActivities(resolved);
  const karpenter = createKarpenterActivities(resolved, autoMode);
  return {
    ...approvals,
    ...autoMode,
    ...fargate,
    ...selfManaged,
    ...karpenter,
    resolveTargetVersions: eks.resolveTargetVersions,
    describeCluster: eks.describeCluster,
    preflightCluster: eks.preflightCluster,
    startControlPlaneUpgrade: eks.startControlPlaneUpgrade,
    startAddonUpdate: eks.startAddonUpdate,
    startNodegroupUpdate: eks.startNodegroupUpdate,
    awaitUpdate: eks.awaitUpdate,
    updateAddons: steps.updateAddons,
    upgradeControlPlane: steps.upgradeControlPlane,
    updateNodegroups: steps.updateNodegroups,
    rollbackNodegroup: eks.rollbackNodegroup,
    rollbackAddon: eks.rollbackAddon,
    rollbackControlPlane: eks.rollbackControlPlane,
    captureKubernetesBaseline: kubernetes.captureKubernetesBaseline,
    checkKubernetesHealth: kubernetes.checkKubernetesHealth,
    evaluateHealthGate: prometheus.evaluateHealthGate,
    evaluateHealthGates: health.evaluateHealthGates,
    watchHealthGates: watch.watchHealthGates,
    checkClusterHealth: health.checkClusterHealth,
    discoverFleet: inventory.discoverFleet,
  };
}
