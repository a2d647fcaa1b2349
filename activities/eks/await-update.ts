/**
 * Waiting for EKS updates: awaitUpdate polls one update until it ends, heartbeating its progress
 * so a retried attempt continues the same wait; updateAddons starts and waits for a list of
 * add-ons in one activity.
 */
import type { Update } from '@aws-sdk/client-eks';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { nextLookDelayMs, type WaitKind } from '../../domain/waits';
import { activityRuntime, type ActivityRuntime } from '../context';
import type { ResolvedDeps } from '../deps';
import { toActivityFailure, withFailureContext } from '../failures';
import { LookLater, park, parks } from '../waiting';
import {
  FailureTypes,
  type AddonUpdateFailureDetails,
  type AddonUpdateResult,
  type AwaitUpdateInput,
  type UpdateAddonsInput,
  type UpdateAddonsProgress,
  type UpdateAddonsResult,
  type UpdateHandle,
  type UpdateOutcome,
} from '../types';
import { describeUpdate, scopeLabel, stepIdentity, type UpdateScope } from './start';
import { startAddon } from './updates';

/** Heartbeat details of awaitUpdate: enough for a retried attempt to continue. */
export interface AwaitUpdateProgress {
  updateId: string;
  polls: number;
  lastStatus?: string;
  /** When the first attempt started polling (epoch ms): awaitUpdate's own deadline spans attempts. */
  startedAtMs: number;
}

/** Details of an `EksUpdateFailed` failure. */
export interface UpdateFailureDetails {
  updateId: string;
  status: string;
  updateType?: string;
  errors: { errorCode?: string; errorMessage?: string; resourceIds?: string[] }[];
}

const MAX_RESOURCE_IDS = 10;

function updateFailure(scope: UpdateScope, update: Update): ApplicationFailure {
  const errors = (update.errors ?? []).map((e) => ({
    ...(e.errorCode ? { errorCode: e.errorCode } : {}),
    ...(e.errorMessage ? { errorMessage: e.errorMessage } : {}),
    ...(e.resourceIds?.length ? { resourceIds: e.resourceIds.slice(0, MAX_RESOURCE_IDS) } : {}),
  }));
  const codes = errors.map((e) => [e.errorCode, e.errorMessage].filter(Boolean).join(': ')).filter(Boolean);
  const details: UpdateFailureDetails = {
    updateId: update.id ?? '',
    status: update.status ?? 'Failed',
    ...(update.type ? { updateType: update.type } : {}),
    errors,
  };
  return ApplicationFailure.create({
    type: FailureTypes.UpdateFailed,
    nonRetryable: true,
    message: `EKS update ${update.id} (${update.type ?? 'update'}) of ${scopeLabel(scope)} ended ${update.status}${
      codes.length ? `: ${codes.join('; ')}` : ''
    }`,
    details: [details],
  });
}

function isProgress(value: unknown, updateId: string): value is AwaitUpdateProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<AwaitUpdateProgress>;
  return v.updateId === updateId && typeof v.polls === 'number' && typeof v.startedAtMs === 'number';
}

function isAddonsProgress(value: unknown, input: UpdateAddonsInput): value is UpdateAddonsProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<UpdateAddonsProgress>;
  if (typeof v.index !== 'number' || typeof v.polls !== 'number' || !Array.isArray(v.results)) return false;
  // Only progress of this very list: the results so far name its first add-ons, in order.
  return (
    v.index === v.results.length &&
    v.index <= input.addons.length &&
    v.results.every((x, i) => x?.addon === input.addons[i]?.name)
  );
}

/** A non-retryable failure of one add-on, with which add-on it was and which ones were done before it. */
function withAddonContext(err: unknown, addon: string, done: AddonUpdateResult[]): unknown {
  const context: AddonUpdateFailureDetails = { addon, updated: done.map((x) => x.addon) };
  return withFailureContext(err, { ...context });
}

/**
 * Polls DescribeUpdate with backoff until the update ends; `report` gets the progress after each
 * poll (the caller heartbeats it). Failed/Cancelled → non-retryable EksUpdateFailed; past
 * `timeoutMs` since `progress.startedAtMs` → non-retryable EksUpdateTimedOut.
 */
export async function pollUntilDone(
  deps: ResolvedDeps,
  r: ActivityRuntime,
  h: UpdateHandle & { updateId: string },
  progress: AwaitUpdateProgress,
  timeoutMs: number | undefined,
  report: (progress: AwaitUpdateProgress) => void,
): Promise<UpdateOutcome> {
  const updateId = h.updateId;
  const scope: UpdateScope = {
    clusterName: h.cluster.name,
    ...(h.nodegroup ? { nodegroupName: h.nodegroup } : {}),
    ...(h.addon ? { addonName: h.addon } : {}),
  };
  const client = deps.eks(h.cluster);
  const { initialMs, maxMs, factor, maxConsecutiveErrors } = deps.polling;
  let consecutiveErrors = 0;

  for (;;) {
    let update: Update | undefined;
    try {
      update = await describeUpdate(client, scope, updateId, r.signal);
      consecutiveErrors = 0;
    } catch (err) {
      if (r.signal?.aborted) throw new CancelledFailure(`wait for EKS update ${updateId} cancelled`);
      const failure = toActivityFailure(err, `DescribeUpdate ${scopeLabel(scope)} ${updateId}`);
      consecutiveErrors++;
      if (failure.nonRetryable || consecutiveErrors > maxConsecutiveErrors) throw failure;
      r.log.warn('DescribeUpdate failed, polling on', { updateId, error: failure.message, consecutiveErrors });
    }
    progress.polls++;
    if (update?.status) progress.lastStatus = update.status;
    report({ ...progress });

    if (update?.status === 'Successful') {
      r.log.info('EKS update successful', { cluster: h.cluster.name, updateId, polls: progress.polls });
      return { updateId, status: 'Successful', polls: progress.polls };
    }
    if (update?.status === 'Failed' || update?.status === 'Cancelled') throw updateFailure(scope, update);

    const elapsed = deps.now().getTime() - progress.startedAtMs;
    if (timeoutMs !== undefined && elapsed >= timeoutMs) {
      throw ApplicationFailure.create({
        type: FailureTypes.UpdateTimedOut,
        nonRetryable: true,
        message: `EKS update ${updateId} of ${scopeLabel(scope)} still ${progress.lastStatus ?? 'unknown'} after ${Math.round(elapsed / 1000)} s`,
        details: [{ ...progress }],
      });
    }
    const remainingMs = timeoutMs === undefined ? Infinity : Math.max(0, timeoutMs - elapsed);
    if (parks(deps, r)) {
      // Ends the attempt: the server runs the next one at the next look (activities/waiting.ts).
      const kind: WaitKind = h.addon ? 'addon' : h.nodegroup ? 'nodegroup' : 'control-plane';
      const delay = Math.min(nextLookDelayMs(kind, elapsed, deps.waits), Math.max(1, remainingMs));
      throw new LookLater(delay, `EKS update ${updateId} of ${scopeLabel(scope)} ${progress.lastStatus ?? 'unknown'}`);
    }
    const delay = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, progress.polls - 1)));
    await r.sleep(Math.max(1, Math.min(delay, remainingMs)));
  }
}

/** The awaitUpdate activity: polls the handle's update until it ends (nothing to wait for without one). */
export async function awaitUpdate(deps: ResolvedDeps, input: AwaitUpdateInput): Promise<UpdateOutcome> {
  const r = activityRuntime(deps.logger);
  const h = input.handle;
  if (!h.updateId) return { status: 'Successful', polls: 0 };
  const updateId = h.updateId;
  const resumed = isProgress(r.heartbeatDetails, updateId) ? r.heartbeatDetails : undefined;
  const progress: AwaitUpdateProgress = resumed
    ? { ...resumed }
    : { updateId, polls: 0, startedAtMs: deps.now().getTime() };
  if (resumed) r.log.debug('Resuming wait for EKS update', { cluster: h.cluster.name, updateId, polls: resumed.polls });
  try {
    return await pollUntilDone(deps, r, { ...h, updateId }, progress, input.timeoutMs, (p) => {
      if (!parks(deps, r)) r.heartbeat(p);
    });
  } catch (err) {
    // The deadline and the first look are what the next attempt needs; the poll count is only shown.
    if (err instanceof LookLater) throw park(r, err, progress, resumed);
    throw err;
  }
}

/**
 * Add-ons one after the other, each as startAddonUpdate then awaitUpdate would do it, in one
 * activity (the workflow's history pays for one activity instead of two per add-on). The
 * heartbeat ({@link UpdateAddonsProgress}) names the add-on being worked on and its update as
 * soon as it is started, so a retried attempt waits for that update instead of starting
 * anything; the start itself is idempotent anyway (read-before-write, deterministic token).
 * A non-retryable failure keeps its type (EksUpdateFailed, EksInvalidRequest...) and gains
 * {@link AddonUpdateFailureDetails}: the add-on that failed and those already updated.
 */
export async function updateAddons(deps: ResolvedDeps, input: UpdateAddonsInput): Promise<UpdateAddonsResult> {
  const r = activityRuntime(deps.logger);
  const resumed = isAddonsProgress(r.heartbeatDetails, input) ? r.heartbeatDetails : undefined;
  const results: AddonUpdateResult[] = resumed ? resumed.results.map((x) => ({ ...x })) : [];
  if (resumed) {
    r.log.info('Resuming add-on updates', {
      cluster: input.cluster.name,
      index: resumed.index,
      updateId: resumed.updateId,
      polls: resumed.polls,
    });
  }
  const identity = stepIdentity(input);

  for (let index = results.length; index < input.addons.length; index++) {
    const addon = input.addons[index] as { name: string; version: string };
    const failed = (err: unknown) => withAddonContext(err, addon.name, results);
    const continuing = resumed?.index === index && resumed.updateId ? resumed : undefined;
    let handle: UpdateHandle;
    if (continuing?.updateId) {
      handle = {
        cluster: input.cluster,
        addon: addon.name,
        updateId: continuing.updateId,
        adopted: continuing.adopted ?? false,
        alreadyAtTarget: false,
      };
    } else {
      try {
        handle = await startAddon(deps, r, { ...identity, addon: addon.name, version: addon.version });
      } catch (err) {
        throw failed(err);
      }
    }
    const result: AddonUpdateResult = {
      addon: addon.name,
      ...(handle.updateId ? { updateId: handle.updateId } : {}),
      alreadyAtTarget: handle.alreadyAtTarget,
      adopted: handle.adopted,
    };
    if (handle.updateId) {
      const progress: AwaitUpdateProgress = {
        updateId: handle.updateId,
        polls: continuing?.polls ?? 0,
        ...(continuing?.lastStatus ? { lastStatus: continuing.lastStatus } : {}),
        startedAtMs: continuing?.startedAtMs ?? deps.now().getTime(),
      };
      const current = (p: AwaitUpdateProgress): UpdateAddonsProgress => ({
        index,
        ...p,
        adopted: handle.adopted,
        results: [...results],
      });
      const beat = (p: AwaitUpdateProgress): void => {
        if (!parks(deps, r)) r.heartbeat(current(p));
      };
      // Before the first poll: from here on a retry waits for this update instead of starting one.
      beat(progress);
      try {
        await pollUntilDone(deps, r, { ...handle, updateId: handle.updateId }, progress, input.timeoutMs, beat);
      } catch (err) {
        if (err instanceof LookLater) throw park(r, err, current(progress), resumed);
        throw failed(err);
      }
    }
    results.push(result);
    if (!parks(deps, r))
      r.heartbeat({ index: index + 1, polls: 0, results: [...results] } satisfies UpdateAddonsProgress);
  }
  r.log.info('Add-ons updated', {
    cluster: input.cluster.name,
    updated: results.filter((x) => !x.alreadyAtTarget).length,
    atTarget: results.filter((x) => x.alreadyAtTarget).length,
  });
  return { results };
}
