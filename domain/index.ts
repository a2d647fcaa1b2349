/**
 * `import … from 'fleetwave/domain'`: the campaign and fleet model on its own (schemas, types,
 * parsing and planning), with no Temporal dependency.
 */
export { formatIssue, formatPath, parseCampaign, parseFleet, validateCampaign } from './load';
export type { ParseResult, ValidationIssue } from './load';
export {
  API_VERSION,
  campaignSchema,
  type Campaign,
  type CampaignInput,
  type CampaignSpec,
  type HealthGateSpec,
  type LabelSelector,
  type MaintenanceWindow,
  type WaveSpec,
} from './spec';
export {
  fleetSchema,
  toFleetMember,
  toFleetMembers,
  clusterTaskQueue,
  type ClusterInventory,
  type Fleet,
  type FleetMember,
} from './fleet';
export { buildPlan, type PlannedCampaign, type PlannedCluster, type PlannedWave } from './plan';
