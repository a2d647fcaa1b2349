/**
 * Composite steps: every control-plane hop of a cluster (with the postStep checks between hops)
 * in one activity, and every node group of a cluster in one activity. Each EKS update inside is
 * started and awaited exactly as startControlPlaneUpgrade / startNodegroupUpdate and awaitUpdate
 * do it (read before write, deterministic tokens), so what changes is only what the workflow's
 * history pays: one activity per step instead of a start, an await and a check per resource.
 *
 * Retry safety. The heartbeat details name the resource being worked on and its update as soon as
 * it is started, so a retried attempt waits for that update instead of starting anything; the
 * start itself is idempotent anyway.
 *
 * Pause and abort. The workflow cancels the activity (and waits for it to end). A cancellation it
 * requested never interrupts an EKS update in flight: that update is awaited to its end, nothing
 * after it starts, the checks between hops stop at once (they only read), and the activity
 * returns normally with `stopped`, saying what was done. Any other cancellation (worker shutdown,
 * heartbeat timeout) ends the attempt, and the retry resumes from the heartbeat.
 *
 * Failures. A non-retryable failure (EksUpdateFailed, a refused start) keeps its type and gains
 * {@link StepFailureDetails}: which resource failed and which ones the step changed, so the
 * workflow rolls back exactly those.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { clusterStopRequestedQuery } from '../workflows/definitions';
import { activityRuntime, shieldFromCancelRequest, type ActivityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import { withFailureContext } from './failures';
import { runSlots, stepResult, type ResourceSlot, type UpdateSlot } from './slots';
import { keepProgress, LookLater, park, parks } from './waiting';
import type { AwaitUpdateProgress } from './eks/await-update';
import { stepIdentity } from './eks/start';
import type { NodegroupStartReads } from './eks/updates';
import type { ClusterHealthProgress } from './health';
import type {
  AddonUpdateFailureDetails,
  AddonUpdateResult,
  CheckClusterHealthInput,
  CheckClusterHealthResult,
  ClusterRef,
  GateResult,
  StartAddonUpdateInput,
  StartControlPlaneUpgradeInput,
  StartNodegroupUpdateInput,
  StepFailureDetails,
  StepUpdateResult,
  UpdateAddonsInput,
  UpdateAddonsResult,
  UpdateHandle,
  UpdateNodegroupsInput,
  UpdateNodegroupsResult,
  UpdateOutcome,
  UpgradeControlPlaneInput,
  UpgradeControlPlaneResult,
} from './types';

/** What the composite steps need from eks.ts and health.ts. */
export interface StepParts {
  startControlPlane(
    r: ActivityRuntime,
    input: StartControlPlaneUpgradeInput,
    finalVersion?: string,
  ): Promise<UpdateHandle>;
  startNodegroup(
    r: ActivityRuntime,
    input: StartNodegroupUpdateInput,
    reads?: NodegroupStartReads,
  ): Promise<UpdateHandle>;
  startAddon(r: ActivityRuntime, input: StartAddonUpdateInput): Promise<UpdateHandle>;
  pollUntilDone(
    r: ActivityRuntime,
    handle: UpdateHandle & { updateId: string },
    progress: AwaitUpdateProgress,
    timeoutMs: number | undefined,
    report: (progress: AwaitUpdateProgress) => void,
  ): Promise<UpdateOutcome>;
  runClusterHealth(
    rt: ActivityRuntime,
    input: CheckClusterHealthInput,
    opts: { resumed?: unknown; report: (progress: ClusterHealthProgress) => void },
  ): Promise<CheckClusterHealthResult>;
}

/** Heartbeat details of upgradeControlPlane. */
export interface ControlPlaneProgress extends UpdateSlot {
  cluster: string;
  hops: string[];
  /** The hop being worked on. */
  index: number;
  stage: 'update' | 'checks';
  checks?: ClusterHealthProgress;
  /** Hops done before `index` (and `index` itself once its update ended). */
  results: StepUpdateResult[];
  gates: GateResult[];
}

/** Heartbeat details of updateNodegroups and updateAddons: one slot per resource of the input, in its order. */
export interface SlotsProgress {
  cluster: string;
  slots: ResourceSlot[];
}
export type NodegroupsProgress = SlotsProgress;
export type AddonsProgress = SlotsProgress;

/**
 * Whether the step should start nothing new: its cancellation arrived (the workflow asked), or the
 * workflow, asked directly, says it is paused or aborting. Cancellation reaches an activity only
 * with a heartbeat's answer (up to a minute with the SDK's heartbeat throttle), so without the
 * question a pause or abort sent just before a hop ends would let the next hop start. Outside a
 * worker (no client), or when the question fails, only the cancellation counts.
 */
export async function stopRequested(base: ActivityRuntime): Promise<boolean> {
  if (base.cancelRequested()) return true;
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return false;
  }
  try {
    const execution = ctx.info.workflowExecution;
    if (!execution) return false;
    const { workflowId, runId } = execution;
    return (await ctx.client.workflow.getHandle(workflowId, runId).query(clusterStopRequestedQuery)) === true;
  } catch (err) {
    base.log.debug('Could not ask the workflow whether to stop', {
      error: err instanceof Error ? err.message : String(err),
    });
    return base.cancelRequested();
  }
}

/** Attempts of the checks between hops before a check that cannot run counts as unhealthy. */
const CHECK_ATTEMPTS = 3;
const CHECK_RETRY_MS = 5_000;

export function createStepActivities(deps: ResolvedDeps, parts: StepParts) {
  /**
   * What a composite step starts with: the runtime (`base`: cancellable, for checks and the stop
   * question; `r`: shielded from a requested cancellation, for EKS calls, unless `shield` is
   * false), the previous attempt's
   * progress if it is this step's, the progress to work on, and its heartbeat.
   */
  function begin<P>(isProgress: (value: unknown) => value is P, initial: () => P, opts: { shield?: boolean } = {}) {
    const base = activityRuntime(deps.logger);
    const r = opts.shield === false ? base : shieldFromCancelRequest(base);
    const resumed = isProgress(base.heartbeatDetails) ? base.heartbeatDetails : undefined;
    const progress: P = resumed ? structuredClone(resumed) : initial();
    // A parking attempt records its progress once, when it ends (activities/waiting.ts); the
    // checks between hops, which run for minutes inside one attempt, heartbeat as they go.
    const keepAlive = (): void => base.heartbeat(structuredClone(progress));
    const beat = (): void => {
      if (!parks(deps, base)) keepAlive();
    };
    const parkFor = (later: LookLater) => park(base, later, progress, resumed);
    return { base, r, resumed, progress, beat, keepAlive, parkFor };
  }

  /** Waits for `handle`'s update from `slot` (a resumed wait continues its polls and deadline). */
  async function awaitSlot(
    r: ActivityRuntime,
    handle: UpdateHandle & { updateId: string },
    slot: UpdateSlot,
    timeoutMs: number | undefined,
    beat: () => void,
  ): Promise<void> {
    const progress: AwaitUpdateProgress = {
      updateId: handle.updateId,
      polls: slot.polls ?? 0,
      ...(slot.lastStatus ? { lastStatus: slot.lastStatus } : {}),
      startedAtMs: slot.startedAtMs ?? deps.now().getTime(),
      ...(slot.firstLookMs !== undefined ? { firstLookMs: slot.firstLookMs } : {}),
    };
    slot.startedAtMs = progress.startedAtMs;
    await parts.pollUntilDone(r, handle, progress, timeoutMs, (p) => {
      slot.polls = p.polls;
      if (p.lastStatus) slot.lastStatus = p.lastStatus;
      beat();
    });
  }

  async function upgradeControlPlane(input: UpgradeControlPlaneInput): Promise<UpgradeControlPlaneResult> {
    const cluster = input.cluster.name;
    const { base, r, resumed, progress, beat, keepAlive, parkFor } = begin(
      (v): v is ControlPlaneProgress => isControlPlaneProgress(v, input),
      (): ControlPlaneProgress => ({ cluster, hops: input.hops, index: 0, stage: 'update', results: [], gates: [] }),
    );
    if (resumed) r.log.info('Resuming control-plane hops', { cluster, index: resumed.index, stage: resumed.stage });
    const done = (): string[] => progress.results.map((x) => x.target);
    const stopped = (): UpgradeControlPlaneResult => ({ hops: progress.results, gates: progress.gates, stopped: true });

    for (; progress.index < input.hops.length; progress.index++) {
      const to = input.hops[progress.index] as string;
      if (progress.stage === 'update') {
        if (!progress.updateId && progress.index > 0 && (await stopRequested(base))) return stopped();
        let handle: UpdateHandle;
        if (progress.updateId) {
          handle = resumedHandle(input.cluster, progress.updateId, progress.adopted);
        } else {
          try {
            handle = await parts.startControlPlane(
              r,
              { ...stepIdentity(input), toVersion: to },
              input.hops[input.hops.length - 1],
            );
          } catch (err) {
            throw withStepContext(err, to, done(), done());
          }
          if (handle.updateId) {
            progress.updateId = handle.updateId;
            progress.adopted = handle.adopted;
            beat();
          }
        }
        if (handle.updateId) {
          try {
            await awaitSlot(r, { ...handle, updateId: handle.updateId }, progress, input.timeoutMs, beat);
          } catch (err) {
            if (err instanceof LookLater) throw parkFor(err);
            throw withStepContext(err, to, [...done(), to], done());
          }
        }
        progress.results.push(stepResult(to, handle));
        for (const key of ['updateId', 'adopted', 'polls', 'lastStatus', 'startedAtMs'] as const) delete progress[key];
        progress.stage = 'checks';
        beat();
      }
      const last = progress.index === input.hops.length - 1;
      const checks = input.checksBetweenHops;
      if (checks && (!last || input.checkAfterLastHop)) {
        // Checks only read: the cancellation alone stops them (no question to the workflow needed).
        if (base.cancelRequested()) return { ...stopped(), uncheckedHop: to };
        const outcome = await checkBetweenHops(base, { ...checks, cluster: input.cluster }, progress, keepAlive);
        if (outcome === 'stopped') return { ...stopped(), uncheckedHop: to };
        progress.gates.push(...outcome.gates);
        delete progress.checks;
        if (!outcome.healthy) {
          beat();
          return {
            hops: progress.results,
            gates: progress.gates,
            unhealthy: { afterHop: to, failures: outcome.failures },
          };
        }
      }
      progress.stage = 'update';
      beat();
    }
    r.log.info('Control plane upgraded', { cluster, hops: progress.results.map((x) => x.target) });
    return { hops: progress.results, gates: progress.gates };
  }

  /**
   * The postStep checks after a hop, on the cancellable runtime (they only read). An error is
   * retried a few times here, then counts as unhealthy, never as a pass; a cancellation the
   * workflow asked for stops them.
   */
  async function checkBetweenHops(
    base: ActivityRuntime,
    input: CheckClusterHealthInput,
    progress: ControlPlaneProgress,
    beat: () => void,
  ): Promise<CheckClusterHealthResult | 'stopped'> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await parts.runClusterHealth(base, input, {
          ...(progress.checks ? { resumed: progress.checks } : {}),
          report: (p) => {
            progress.checks = p;
            beat();
          },
        });
      } catch (err) {
        if (base.cancelRequested()) return 'stopped';
        if (err instanceof CancelledFailure || base.signal?.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        if (attempt >= CHECK_ATTEMPTS) {
          return { healthy: false, gates: [], failures: [`health checks: ${message}`] };
        }
        base.log.warn('Health checks between hops failed, trying again', {
          cluster: input.cluster.name,
          attempt,
          message,
        });
        await base.sleep(CHECK_RETRY_MS * attempt);
      }
    }
  }

  /**
   * Runs the step's slots for one attempt (activities/slots.ts) and ends it: parked while updates
   * run, with the failure once nothing is in flight, with a retryable error after keeping the
   * progress it made, or normally when every slot it could start has ended.
   */
  async function runStepSlots(
    step: ReturnType<typeof begin<{ slots: ResourceSlot[] }>>,
    opts: {
      cluster: ClusterRef;
      maxParallel: number;
      timeoutMs: number | undefined;
      stopStarting: (firstPick: boolean) => Promise<boolean>;
      start: (index: number, r: ActivityRuntime) => Promise<UpdateHandle>;
      scope: (name: string) => Partial<UpdateHandle>;
      fail: (err: unknown, failed: ResourceSlot) => unknown;
    },
  ): Promise<void> {
    const { base, r, progress, beat, resumed } = step;
    const outcome = await runSlots({
      base,
      slots: progress.slots,
      maxParallel: opts.maxParallel,
      stopStarting: opts.stopStarting,
      start: (index) => opts.start(index, r),
      resumed: (slot) => resumedHandle(opts.cluster, slot.updateId, slot.adopted),
      wait: (handle, slot) =>
        awaitSlot(r, { ...handle, ...opts.scope(slot.name), updateId: handle.updateId }, slot, opts.timeoutMs, beat),
      beat,
    });
    if (outcome.interrupted) {
      if (parks(deps, base)) keepProgress(base, progress, resumed);
      throw outcome.interrupted;
    }
    if (outcome.later) throw step.parkFor(outcome.later);
    if (outcome.failure) throw opts.fail(outcome.failure.err, outcome.failure.slot);
  }

  async function updateNodegroups(input: UpdateNodegroupsInput): Promise<UpdateNodegroupsResult> {
    const cluster = input.cluster.name;
    const step = begin(
      (v): v is NodegroupsProgress =>
        isSlotsProgress(
          v,
          cluster,
          input.nodegroups.map((ng) => ng.nodegroup),
        ),
      (): NodegroupsProgress => ({ cluster, slots: input.nodegroups.map((ng) => ({ name: ng.nodegroup })) }),
    );
    const { base, r, resumed, progress } = step;
    if (resumed) {
      r.log.info('Resuming node group updates', {
        cluster,
        done: progress.slots.filter((s) => s.result).length,
        total: progress.slots.length,
      });
    }
    // The starts of this attempt read the control plane's version once between them.
    const reads: NodegroupStartReads = {};
    await runStepSlots(step, {
      cluster: input.cluster,
      maxParallel: input.maxParallel,
      timeoutMs: input.timeoutMs,
      stopStarting: async (firstPick) => (firstPick ? base.cancelRequested() : stopRequested(base)),
      start: (i, rt) => {
        const ng = input.nodegroups[i] as UpdateNodegroupsInput['nodegroups'][number];
        return parts.startNodegroup(
          rt,
          {
            ...stepIdentity(input),
            nodegroup: ng.nodegroup,
            ...(ng.version ? { version: ng.version } : {}),
            ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
            ...(ng.imageId ? { imageId: ng.imageId } : {}),
            force: input.force,
          },
          reads,
        );
      },
      scope: (nodegroup) => ({ nodegroup }),
      fail: (err, failed) => withStepContext(err, failed.name, reachedNames(progress), doneNames(progress)),
    });
    const results = progress.slots.flatMap((s) => (s.result ? [s.result] : []));
    const stopped = results.length < progress.slots.length;
    r.log.info('Node groups updated', { cluster, done: results.length, total: progress.slots.length, stopped });
    return { results, ...(stopped ? { stopped: true } : {}) };
  }

  /**
   * Every add-on of a cluster at once, each started and awaited as a node group is. Add-ons are
   * separate EKS resources, updated independently (UpdateAddon refuses only while the control
   * plane updates, or while the same add-on does), so one wait covers them all: an attempt looks at
   * each add-on still updating and parks until the soonest next look.
   *
   * Not stopped in between (the updates are started together): the workflow cancels the activity,
   * which ends the attempt; after a resume the same call finds the add-ons done (at target) or
   * adopts the updates still running.
   */
  async function updateAddons(input: UpdateAddonsInput): Promise<UpdateAddonsResult> {
    const cluster = input.cluster.name;
    const names = input.addons.map((a) => a.name);
    const step = begin(
      (v): v is AddonsProgress => isSlotsProgress(v, cluster, names),
      (): AddonsProgress => ({ cluster, slots: names.map((name) => ({ name })) }),
      { shield: false },
    );
    const { r, resumed, progress } = step;
    if (resumed)
      r.log.info('Resuming add-on updates', { cluster, done: doneNames(progress).length, total: names.length });
    await runStepSlots(step, {
      cluster: input.cluster,
      maxParallel: input.addons.length,
      timeoutMs: input.timeoutMs,
      stopStarting: async () => false,
      start: (i, rt) => {
        const addon = input.addons[i] as UpdateAddonsInput['addons'][number];
        return parts.startAddon(rt, { ...stepIdentity(input), addon: addon.name, version: addon.version });
      },
      scope: (addon) => ({ addon }),
      fail: (err, failed) => {
        const otherFailures = progress.slots
          .filter((s) => s.failed && s !== failed)
          .map((s) => ({ addon: s.name, message: s.failed?.message ?? '' }));
        const context: AddonUpdateFailureDetails = {
          addon: failed.name,
          updated: doneNames(progress),
          reached: reachedNames(progress),
          ...(otherFailures.length ? { otherFailures } : {}),
        };
        return withFailureContext(err, { ...context });
      },
    });
    const results: AddonUpdateResult[] = progress.slots.map((s) => {
      const done = s.result as StepUpdateResult;
      return {
        addon: s.name,
        ...(done.updateId ? { updateId: done.updateId } : {}),
        alreadyAtTarget: done.alreadyAtTarget,
        adopted: done.adopted,
      };
    });
    r.log.info('Add-ons updated', {
      cluster,
      updated: results.filter((x) => !x.alreadyAtTarget).length,
      atTarget: results.filter((x) => x.alreadyAtTarget).length,
    });
    return { results };
  }

  return { upgradeControlPlane, updateNodegroups, updateAddons };
}

/** The handle of an update a previous attempt started (from the heartbeat): waited for, not started again. */
function resumedHandle(cluster: ClusterRef, updateId: string, adopted?: boolean): UpdateHandle {
  return { cluster, updateId, adopted: adopted ?? false, alreadyAtTarget: false };
}

/** A non-retryable failure of one resource, with which one it was and what the step changed before it. */
export function withStepContext(err: unknown, failed: string, reached: string[], done: string[]): unknown {
  const context: StepFailureDetails = { failed, reached, done };
  return withFailureContext(err, { ...context });
}

function isControlPlaneProgress(value: unknown, input: UpgradeControlPlaneInput): value is ControlPlaneProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<ControlPlaneProgress>;
  return (
    v.cluster === input.cluster.name &&
    Array.isArray(v.hops) &&
    v.hops.join(',') === input.hops.join(',') &&
    typeof v.index === 'number' &&
    Array.isArray(v.results) &&
    Array.isArray(v.gates)
  );
}

function isSlotsProgress(value: unknown, cluster: string, names: readonly string[]): value is SlotsProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<SlotsProgress>;
  return (
    v.cluster === cluster &&
    Array.isArray(v.slots) &&
    v.slots.length === names.length &&
    v.slots.every((s, i) => s?.name === names[i])
  );
}

/** Resources the step started or adopted an update of, in input order. */
function reachedNames(progress: SlotsProgress): string[] {
  return progress.slots.filter((s) => s.updateId !== undefined).map((s) => s.name);
}

/** Resources whose update ended Successful (or that were at target), in input order. */
function doneNames(progress: SlotsProgress): string[] {
  return progress.slots.filter((s) => s.result).map((s) => s.name);
}
