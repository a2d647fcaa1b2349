/**
 * Waiting for EKS updates: awaitUpdate polls one update until it ends, recording its progress so a
 * retried attempt continues the same wait; pollUntilDone is that wait, also used by the composite
 * steps (activities/steps.ts).
 */
import type { Update } from '@aws-sdk/client-eks';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { nextLookDelayMs, type WaitKind } from '../../domain/waits';
import { activityRuntime, type ActivityRuntime } from '../context';
import type { ResolvedDeps } from '../deps';
import { toActivityFailure } from '../failures';
import { LookLater, park, parks } from '../waiting';
import { FailureTypes, type AwaitUpdateInput, type UpdateHandle, type UpdateOutcome } from '../types';
import { describeUpdate, scopeLabel, type UpdateScope } from './start';

/** Heartbeat details of awaitUpdate: enough for a retried attempt to continue. */
export interface AwaitUpdateProgress {
  updateId: string;
  polls: number;
  lastStatus?: string;
  /** When the first attempt started polling (epoch ms): awaitUpdate's own deadline spans attempts. */
  startedAtMs: number;
  /** The first look, where the start knew better than the update's kind (a node group's batches). */
  firstLookMs?: number;
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
      const delay = Math.min(
        nextLookDelayMs(kind, elapsed, deps.waits, progress.firstLookMs),
        Math.max(1, remainingMs),
      );
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
    : {
        updateId,
        polls: 0,
        startedAtMs: deps.now().getTime(),
        ...(h.firstLookMs !== undefined ? { firstLookMs: h.firstLookMs } : {}),
      };
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
