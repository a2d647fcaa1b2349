/**
 * What a step's answer means for the cluster upgrade: the step records it leaves, the resources a
 * rollback must cover, and the error that ends the forward steps. Composite steps fail with an
 * application failure whose details say which resource failed and what the step changed before;
 * the readers here find those details in the cause chain. Pure: unit-tested without Temporal.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  STILL_WAITING_FAILURE,
  type AddonUpdateFailureDetails,
  type SettleFargatePodsResult,
  type StepFailureDetails,
} from '../../activities/types';
import type { ClusterStepRecord } from '../definitions';
import { addonStep, nodegroupStep, type AddonPlan, type HopPlan, type NodegroupPlan } from './plan';

/** A step failed: what kind decides which rollback policy applies. */
export class StepFailure extends Error {
  constructor(
    readonly kind: 'update' | 'gate' | 'activity',
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** The cluster must not be touched (preflight blockers, unhealthy baseline). */
export class Blocked extends Error {
  override name = 'Blocked';
}

/** An operator asked to stop; thrown only at safe points. */
export class AbortRequested extends Error {
  override name = 'AbortRequested';
}

/**
 * A waiting step that the workflow cancelled while one of its attempts ran: the server does not
 * retry a cancelled activity, so that attempt's "still waiting" answer ends it instead of a
 * cancellation (activities/waiting.ts). It means the same as the cancellation.
 */
export function stoppedWhileWaiting(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === STILL_WAITING_FAILURE
  );
}

/** The step record of a resource a multi-resource step finished: done, or skipped when it was at target already. */
export function updateRecord(
  step: string,
  done: { updateId?: string; alreadyAtTarget: boolean; adopted: boolean },
): ClusterStepRecord {
  return {
    step,
    status: done.alreadyAtTarget ? 'skipped' : 'done',
    ...(done.updateId ? { updateId: done.updateId } : {}),
    ...(done.alreadyAtTarget
      ? { detail: 'already at target' }
      : done.adopted
        ? { detail: 'adopted an update already started' }
        : {}),
  };
}

/** The first details entry of the application failure in the cause chain, if `is` accepts it. */
function failureDetails<T>(err: unknown, is: (d: Record<string, unknown>) => boolean): T | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) {
      const d = e.details?.[0];
      return typeof d === 'object' && d !== null && is(d as Record<string, unknown>) ? (d as T) : undefined;
    }
  }
  return undefined;
}

/** Which resource failed and what the step changed, from a failed composite step. */
export function stepFailureDetails(err: unknown): StepFailureDetails | undefined {
  return failureDetails(err, (d) => typeof d.failed === 'string' && Array.isArray(d.reached) && Array.isArray(d.done));
}

/** Which add-on failed and which were done before it, from a failed updateAddons. */
export function addonFailureDetails(err: unknown): AddonUpdateFailureDetails | undefined {
  return failureDetails(err, (d) => typeof d.addon === 'string' && Array.isArray(d.updated));
}

/**
 * A failed upgradeControlPlane: the hops EKS finished before the failure (in plan order), and the
 * hop that failed (the first one left when the details do not say).
 */
export function controlPlaneFailure(
  remaining: readonly HopPlan[],
  details: StepFailureDetails | undefined,
): { done: HopPlan[]; failed: HopPlan } {
  return {
    done: remaining.filter((hop) => details?.done.includes(hop.to)),
    failed: remaining.find((h) => h.to === details?.failed) ?? (remaining[0] as HopPlan),
  };
}

/** What a failed multi-resource step leaves: its records, what rollback must cover, and the failure message. */
export interface FailedStep<T> {
  records: ClusterStepRecord[];
  reached: T[];
  message: string;
}

/**
 * A failed updateAddons whose details say where it stopped: the add-ons done, the one that failed
 * and any other that failed with it are records, and every add-on the step reached is rolled back
 * (a failed one may be half-changed). Details from releases that updated one add-on at a time name
 * no `reached`: there the failed one is the only add-on reached besides those done.
 */
export function addonsFailure(
  addons: readonly AddonPlan[],
  details: AddonUpdateFailureDetails,
  detail: string,
): FailedStep<AddonPlan> {
  const records: ClusterStepRecord[] = [];
  const reached: AddonPlan[] = [];
  const others = new Map((details.otherFailures ?? []).map((f) => [f.addon, f.message]));
  for (const addon of addons) {
    if (details.updated.includes(addon.name)) {
      records.push({ step: addonStep(addon), status: 'done' });
      reached.push(addon);
    } else if (addon.name === details.addon) {
      records.push({
        step: addonStep(addon),
        status: 'failed',
        detail,
        ...(details.updateId ? { updateId: details.updateId } : {}),
      });
      reached.push(addon);
    } else if (others.has(addon.name)) {
      records.push({ step: addonStep(addon), status: 'failed', detail: others.get(addon.name) ?? '' });
      reached.push(addon);
    } else if (details.reached?.includes(addon.name)) {
      reached.push(addon);
    }
  }
  return { records, reached, message: `addon ${details.addon}: ${detail}` };
}

/**
 * A failed updateNodegroups whose details say where it stopped: records for the node groups done
 * and the one that failed; rollback covers every node group the step reached (started or found
 * changed), which the details list apart from those done.
 */
export function nodegroupsFailure(
  remaining: readonly NodegroupPlan[],
  details: StepFailureDetails,
  detail: string,
): FailedStep<NodegroupPlan> {
  const records: ClusterStepRecord[] = [];
  const reached: NodegroupPlan[] = [];
  for (const ng of remaining) {
    const name = ng.previous.name;
    if (details.reached.includes(name)) reached.push(ng);
    if (details.done.includes(name)) records.push({ step: nodegroupStep(ng), status: 'done' });
    else if (name === details.failed) {
      records.push({
        step: nodegroupStep(ng),
        status: 'failed',
        detail,
        ...(details.updateId ? { updateId: details.updateId } : {}),
      });
    }
  }
  return { records, reached, message: `nodegroup ${details.failed}: ${detail}` };
}

/**
 * The step record of the Fargate pods: under `report`, how many pods still run an old kubelet and
 * whose they are, with the two ways to move them (skipped: fleetwave changed nothing); under
 * `restart`, the owners restarted, and any pods left whose owner fleetwave cannot restart.
 */
export function fargateRecord(
  step: string,
  target: string,
  mode: 'report' | 'restart',
  result: SettleFargatePodsResult,
): ClusterStepRecord {
  const oldPods = result.old.reduce((n, o) => n + o.pods, 0);
  const owners = result.old.map((o) => `${o.owner} (profile ${o.profile}): ${o.pods} on ${o.oldest}`).join(', ');
  if (mode === 'report') {
    return oldPods === 0
      ? { step, status: 'done', detail: `all ${result.total} Fargate pods on ${target}` }
      : {
          step,
          status: 'skipped',
          detail: `${oldPods} of ${result.total} Fargate pods still on an old kubelet (control plane ${target}): ${owners}; restart their owners (kubectl rollout restart) or set spec.nodes.fargate: restart`,
        };
  }
  const restarted = `restarted ${result.restarted.length} owner${result.restarted.length === 1 ? '' : 's'}${result.restarted.length > 0 ? ` (${result.restarted.join(', ')})` : ''}`;
  return {
    step,
    status: 'done',
    detail:
      oldPods === 0
        ? `${restarted}; all ${result.total} Fargate pods on ${target}`
        : `${restarted}; ${oldPods} pods left on an old kubelet whose owner fleetwave does not restart: ${owners}`,
  };
}
