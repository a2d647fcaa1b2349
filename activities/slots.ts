/**
 * Several resources of one cluster updated by one activity, up to `maxParallel` at once: the node
 * groups of updateNodegroups and the add-ons of updateAddons (activities/steps.ts). Each resource
 * has a slot in the heartbeat details; a lane takes the next slot, starts its update (read before
 * write, deterministic token) and waits for it.
 *
 * With parked waits (activities/waiting.ts) an attempt only looks: a lane whose update is still
 * running ends there and keeps its slot until the next attempt, so no more than `maxParallel`
 * updates are ever in flight, across attempts too. A failure stops new starts; the updates
 * already in flight are waited for before the step fails, so the workflow's rollback never meets
 * an update still running. The failure is kept in its slot until then, because the attempt that
 * saw it is not the one that ends the step.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityRuntime } from './context';
import { LookLater, sooner } from './waiting';
import type { StepUpdateResult, UpdateHandle } from './types';

/** An update being waited for, as heartbeated. */
export interface UpdateSlot {
  updateId?: string;
  adopted?: boolean;
  polls?: number;
  lastStatus?: string;
  startedAtMs?: number;
  /** The first look at the update, where its start knew better than the kind (UpdateHandle.firstLookMs). */
  firstLookMs?: number;
}

/** A failure kept in the heartbeat until the updates still in flight have ended. */
export interface SavedFailure {
  type?: string;
  message: string;
  details?: unknown[];
}

/** One resource of a multi-resource step. */
export interface ResourceSlot extends UpdateSlot {
  name: string;
  /** Its update ended Successful, or it was at target already. */
  result?: StepUpdateResult;
  /** Its update failed, or EKS refused to start it. */
  failed?: SavedFailure;
}

export interface SlotsRun {
  /** `base`: the activity's own runtime, for the cancellation and the stop question. */
  base: ActivityRuntime;
  slots: ResourceSlot[];
  maxParallel: number;
  /**
   * Whether to start nothing new. `firstPick`: the lane's first slot of this attempt, which follows
   * the workflow's own safe point (so only a cancellation counts); later picks may ask the workflow.
   */
  stopStarting(firstPick: boolean): Promise<boolean>;
  /** Starts the update of slot `index`, or finds it done or running. */
  start(index: number): Promise<UpdateHandle>;
  /** The handle of an update an earlier attempt started. */
  resumed(slot: ResourceSlot & { updateId: string }): UpdateHandle;
  /** Waits for the update until it ends (LookLater: still running, look again later). */
  wait(handle: UpdateHandle & { updateId: string }, slot: ResourceSlot): Promise<void>;
  /** Progress changed (an update started or ended). */
  beat(): void;
}

export interface SlotsOutcome {
  /** The first slot (in input order) that failed, with the failure to throw; only once nothing is in flight. */
  failure?: { slot: ResourceSlot; err: unknown };
  /** A retryable error (the attempt ends with it; the next one resumes from the heartbeat). */
  interrupted?: unknown;
  /** Updates still running: the soonest next look. */
  later?: LookLater;
}

/** Runs the slots' lanes once (one attempt) and says how the attempt should end. */
export async function runSlots(run: SlotsRun): Promise<SlotsOutcome> {
  const { slots } = run;
  const seen = new Map<ResourceSlot, unknown>();
  let interrupted: unknown;
  let later: LookLater | undefined;
  let next = 0;
  const lanes = Math.max(1, Math.min(run.maxParallel, slots.length));
  const failedSoFar = (): boolean => slots.some((s) => s.failed);
  const lane = async (): Promise<void> => {
    for (let i = next++; i < slots.length; i = next++) {
      const slot = slots[i] as ResourceSlot;
      if (slot.result || slot.failed) continue;
      if (!slot.updateId && (failedSoFar() || interrupted || (await run.stopStarting(i < lanes)))) continue;
      let handle: UpdateHandle;
      try {
        if (slot.updateId) {
          handle = run.resumed(slot as ResourceSlot & { updateId: string });
        } else {
          handle = await run.start(i);
          if (handle.updateId) {
            slot.updateId = handle.updateId;
            slot.adopted = handle.adopted;
            if (handle.firstLookMs !== undefined) slot.firstLookMs = handle.firstLookMs;
            run.beat();
          }
        }
        if (handle.updateId) await run.wait({ ...handle, updateId: handle.updateId }, slot);
      } catch (err) {
        if (err instanceof LookLater) {
          // Still running: this lane holds the slot until the next attempt looks again.
          later = sooner(later, err);
          return;
        }
        if (isNonRetryable(err)) {
          slot.failed = saveFailure(err);
          seen.set(slot, err);
          run.beat();
        } else {
          interrupted ??= err;
        }
        continue;
      }
      slot.result = stepResult(slot.name, handle);
      run.beat();
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));

  if (interrupted) return { interrupted };
  if (later) return { later };
  const failed = slots.find((s) => s.failed);
  if (failed) return { failure: { slot: failed, err: seen.get(failed) ?? restoreFailure(failed.failed) } };
  return {};
}

export function stepResult(target: string, handle: UpdateHandle): StepUpdateResult {
  return {
    target,
    ...(handle.updateId ? { updateId: handle.updateId } : {}),
    alreadyAtTarget: handle.alreadyAtTarget,
    adopted: handle.adopted,
  };
}

export function isNonRetryable(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.nonRetryable === true;
}

function saveFailure(err: unknown): SavedFailure {
  const f = err as ApplicationFailure;
  return {
    ...(f.type ? { type: f.type } : {}),
    message: f.message,
    ...(f.details?.length ? { details: structuredClone([...f.details]) } : {}),
  };
}

/** The failure an earlier attempt saw, as it saw it (type, message, details). */
function restoreFailure(saved: SavedFailure | undefined): ApplicationFailure {
  return ApplicationFailure.create({
    ...(saved?.type ? { type: saved.type } : {}),
    message: saved?.message ?? 'failed in an earlier attempt',
    nonRetryable: true,
    details: saved?.details ?? [],
  });
}
