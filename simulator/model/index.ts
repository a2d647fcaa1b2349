/**
 * The simulated fleet, protocol-free: fleet.ts (the SimFleet clock and update lifecycle),
 * rules-*.ts (EKS's rules per resource), build.ts (clusters from the inventory), signals.ts
 * and insights.ts (what a cluster shows from outside), nodes.ts (node names), types.ts, errors.ts.
 */
export { EksError } from './errors';
export { Ec2State, OWNED_IMAGE_DATES, ownedImageId } from './ec2';
export { SimFleet } from './fleet';
export { insightsFor, type InsightModel } from './insights';
export { fargateNodeName, instanceId, nodeName } from './nodes';
export { FARGATE_POD_START_MS, fargatePodPhase, fargateRolloutEnd, restartFargate } from './fargate';
export { batchSizeOf } from './rules-nodegroup';
export {
  APP_WORKLOADS,
  apiErrorFraction,
  crashLoopingPodCount,
  isDegraded,
  isUpgradedRelease,
  workloadSignals,
} from './signals';
export type {
  CallerScope,
  FleetOptions,
  LaunchTemplateVersion,
  SimLaunchTemplate,
  SimImage,
  Mutation,
  SimAddon,
  SimClock,
  SimCluster,
  SimFargateProfile,
  SimNodegroup,
  SimPdb,
  SimUpdate,
  Taint,
  UpdateEffect,
  UpdateError,
  UpdateStatus,
  UpdateType,
} from './types';
