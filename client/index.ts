/**
 * `import … from 'fleetwave'`: the client library for scripts (connect, plan, start and operate
 * campaigns) and the types of what goes in and comes out. No workflow or activity code is loaded.
 *
 * ```ts
 * import { connectTemporal, parseCampaign, parseFleet, validateStartInput } from 'fleetwave';
 * const { plan } = validateStartInput({ campaign, fleet });   // throws InvalidInputError
 * const fw = await connectTemporal();                          // TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...
 * try {
 *   const started = await fw.startCampaign({ campaign, fleet, startedBy: 'ci' });
 * } finally {
 *   await fw.close();
 * }
 * ```
 */
export {
  connectTemporal,
  currentUser,
  DEFAULT_TEMPORAL_UI,
  FleetwaveClient,
  temporalUiUrl,
  validateStartInput,
  type CampaignSummary,
  type ConnectOptions,
  type FleetwaveClientOptions,
  type OperatorOptions,
  type StartCampaignInput,
  type StartedCampaign,
} from './library';
export {
  CampaignAlreadyRunningError,
  CampaignNotFoundError,
  ExitCode,
  FleetwaveError,
  InvalidInputError,
  NoWorkerError,
  TemporalUnreachableError,
  UpdateRefusedError,
  type ExitCodeValue,
} from './errors';
export { fleetwaveDataConverter } from './payload-codec';
export { checkSetup, type SetupReport, type SetupOptions } from './setup';
export * from '../domain/index';
export {
  campaignWorkflowId,
  DEFAULT_TASK_QUEUE,
  WorkflowTypes,
  type Approval,
  type ApproveInput,
  type ApproveResult,
  type AuditEntry,
  type CampaignResult,
  type CampaignState,
  type CampaignStatus,
  type ClusterOutcome,
  type ClusterState,
  type ClusterStatus,
  type OperatorInput,
  type WaveState,
  type WaveStatus,
} from '../workflows/definitions';
export { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
