/**
 * EKS activities through @aws-sdk/client-eks: describe, resolve pinned versions, preflight (with
 * the Kubernetes baseline when asked), start (control plane, add-on, node group), await an update,
 * and roll back, or keep what EKS cannot roll back and say why. Updating every add-on of a cluster
 * is a composite step (activities/steps.ts) built on the starts and the wait from here.
 *
 * One module per idea: read.ts (describe and list), start.ts (read-before-write starts, request
 * tokens and the EKS writes), pinning.ts, preflight.ts, updates.ts (forward starts),
 * await-update.ts (polling), rollbacks.ts. This file builds the activities from their dependencies.
 */
import { activityRuntime, type ActivityRuntime } from '../context';
import type { ResolvedDeps } from '../deps';
import type {
  AwaitUpdateInput,
  DescribeClusterInput,
  PreflightInput,
  ResolveTargetVersionsInput,
  RollbackAddonInput,
  RollbackControlPlaneInput,
  RollbackNodegroupInput,
  StartAddonUpdateInput,
  StartControlPlaneUpgradeInput,
  StartNodegroupUpdateInput,
  UpdateHandle,
} from '../types';
import { awaitUpdate, pollUntilDone, type AwaitUpdateProgress } from './await-update';
import { resolveTargetVersions } from './pinning';
import { preflightCluster, type BlockingPdbLister, type PreflightKubernetes } from './preflight';
import { describeCluster } from './read';
import { rollbackAddon, rollbackControlPlane, rollbackNodegroup } from './rollbacks';
import { startAddon, startControlPlane, startNodegroup, type NodegroupStartReads } from './updates';

export { compareAddonVersions } from '../../domain/versions';
export type { AwaitUpdateProgress, UpdateFailureDetails } from './await-update';
export type { BlockingPdbLister, PreflightKubernetes } from './preflight';
export { clusterAccess, describeClusterRaw, listAddonNames, listNodegroupNames, readClusterState } from './read';
export { ADDON_RESOLVE_CONFLICTS, clientRequestToken, stepIdentity } from './start';

/** The EKS activities. */
export function createEksActivities(deps: ResolvedDeps, kubernetes?: PreflightKubernetes | BlockingPdbLister) {
  const kube: PreflightKubernetes | undefined =
    typeof kubernetes === 'function' ? { blockingPdbs: kubernetes } : kubernetes;
  const rt = () => activityRuntime(deps.logger);

  return {
    resolveTargetVersions: async (input: ResolveTargetVersionsInput) => resolveTargetVersions(deps, input),
    describeCluster: async (input: DescribeClusterInput) => describeCluster(deps, input),
    preflightCluster: async (input: PreflightInput) => preflightCluster(deps, kube, input),
    startControlPlaneUpgrade: async (input: StartControlPlaneUpgradeInput) => startControlPlane(deps, rt(), input),
    startAddonUpdate: async (input: StartAddonUpdateInput) => startAddon(deps, rt(), input),
    startNodegroupUpdate: async (input: StartNodegroupUpdateInput) => startNodegroup(deps, rt(), input),
    awaitUpdate: async (input: AwaitUpdateInput) => awaitUpdate(deps, input),
    rollbackNodegroup: async (input: RollbackNodegroupInput) => rollbackNodegroup(deps, input),
    rollbackAddon: async (input: RollbackAddonInput) => rollbackAddon(deps, input),
    rollbackControlPlane: async (input: RollbackControlPlaneInput) => rollbackControlPlane(deps, input),
    /** For the composite steps (steps.ts): the starts and the wait, on the caller's runtime. */
    parts: {
      startControlPlane: async (r: ActivityRuntime, input: StartControlPlaneUpgradeInput, finalVersion?: string) =>
        startControlPlane(deps, r, input, finalVersion),
      startNodegroup: async (r: ActivityRuntime, input: StartNodegroupUpdateInput, reads?: NodegroupStartReads) =>
        startNodegroup(deps, r, input, reads),
      startAddon: async (r: ActivityRuntime, input: StartAddonUpdateInput) => startAddon(deps, r, input),
      pollUntilDone: async (
        r: ActivityRuntime,
        handle: UpdateHandle & { updateId: string },
        progress: AwaitUpdateProgress,
        timeoutMs: number | undefined,
        report: (progress: AwaitUpdateProgress) => void,
      ) => pollUntilDone(deps, r, handle, progress, timeoutMs, report),
    },
  };
}
