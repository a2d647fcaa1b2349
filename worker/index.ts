/**
 * `import … from 'fleetwave/worker'`: for people who run fleetwave's workflows and activities in
 * a worker of their own (their Runtime, connection and interceptors). Either run the packaged worker:
 *
 * ```ts
 * import { loadWorkerConfig, runWorker } from 'fleetwave/worker';
 * await runWorker(loadWorkerConfig(process.env));
 * ```
 *
 * or assemble one with the SDK (the workflows need fleetwave's data converter and the search
 * attributes registered on the namespace: `fleetwave setup`):
 *
 * ```ts
 * import { Worker } from '@temporalio/worker';
 * import { createActivities, createClusterAccessActivities, createDefaultDeps, fleetwaveDataConverter, workflowsPath } from 'fleetwave/worker';
 * const deps = createDefaultDeps({ region: 'eu-west-1' });
 * const worker = await Worker.create({
 *   connection, taskQueue: 'fleetwave', workflowsPath, dataConverter: fleetwaveDataConverter,
 *   activities: { ...createActivities(deps), ...createClusterAccessActivities(deps), ...leaseAndChildActivities },
 * });
 * ```
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The workflows entry point, for `Worker.create({ workflowsPath })` or `bundleWorkflowCode`:
 * workflows/index.js next to this file in the package (workflows/index.ts in a source checkout).
 */
export const workflowsPath: string = fileURLToPath(
  new URL(`../workflows/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export {
  clusterUpgradeWorkflow,
  campaignWorkflow,
  fleetLeaseWorkflow,
  clusterAccessCheckWorkflow,
} from '../workflows/index';
export {
  createActivities,
  createClusterAccessActivities,
  createDefaultDeps,
  type ActivityDeps,
  type DefaultDepsConfig,
} from '../activities/index';
export type { AccessActivities } from '../activities/access';
export type { FleetwaveActivities } from '../activities/types';
export { createLeaseActivities, type LeaseActivities, type LeaseActivitiesDeps } from '../activities/leases';
export { createChildrenActivities, type ChildrenActivities } from '../activities/children';
export { runWorker, workerMain, type RunWorkerOptions } from './main';
export { loadWorkerConfig, WorkerConfigError, WORKER_ENV_VARS, type WorkerConfig } from './config';
export { fleetwaveDataConverter } from '../client/payload-codec';
export { DEFAULT_TASK_QUEUE } from '../workflows/definitions';
export { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
