/**
 * Every workflow the worker registers. The worker bundles this file (`workflowsPath`), so each
 * export here is a workflow type: export workflow functions only.
 */
export { clusterUpgradeWorkflow } from './cluster-upgrade';
export { fleetLeaseWorkflow } from './fleet-lease';
export { campaignWorkflow } from './campaign';
export { clusterAccessCheckWorkflow } from './doctor';
export { notifyWorkflow } from './notify';
