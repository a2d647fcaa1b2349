/**
 * The fleet control from the operator's side: the change calendar (freezes) and the fleet-wide
 * start pace, held by the `fleet-control/<taskQueue>` workflow (workflows/fleet-lease.ts).
 * Changes are Updates sent with update-with-start, so the first `freeze add` or `pace set`
 * starts the workflow; reading is a Query, and a calendar that was never started reads as empty.
 */
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import type { FleetPace, Freeze, FreezeInput } from '../domain/freezes';
import {
  FLEET_CONTROL_LABEL,
  WorkflowTypes,
  addFreezeUpdate,
  fleetControlChangedSignal,
  fleetControlQuery,
  fleetControlWorkflowId,
  removeFreezeUpdate,
  setFleetPaceUpdate,
  type FleetControlView,
  type FleetLeaseInput,
} from '../workflows/definitions';
import type { fleetLeaseWorkflow } from '../workflows/fleet-lease';
import { NoWorkerError, UpdateRefusedError } from './errors';

/** What the fleet control needs of a connection: the client and the worker pool's task queue. */
export interface FleetControlTarget {
  client: Client;
  taskQueue: string;
}

const UPDATE_TIMEOUT_MS = 20_000;

function translate(err: unknown, what: string, taskQueue: string): unknown {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    return new UpdateRefusedError(what, cause instanceof Error ? cause.message : err.message);
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return new NoWorkerError(taskQueue, what);
  return err;
}

async function updateWithStart<Ret, Args extends unknown[]>(
  target: FleetControlTarget,
  what: string,
  update: Parameters<Client['workflow']['executeUpdateWithStart']>[0] & { name: string },
  args: Args,
): Promise<Ret> {
  const input: FleetLeaseInput = { ...FLEET_CONTROL_LABEL };
  const start = new WithStartWorkflowOperation<typeof fleetLeaseWorkflow>(WorkflowTypes.fleetLease, {
    workflowId: fleetControlWorkflowId(target.taskQueue),
    taskQueue: target.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'fleet control: change calendar (freezes) and fleet-wide start pace',
  });
  try {
    return (await target.client.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () =>
      target.client.workflow.executeUpdateWithStart(update, { args, startWorkflowOperation: start }),
    )) as Ret;
  } catch (err) {
    throw translate(err, what, target.taskQueue);
  }
}

/**
 * Tells the running campaigns of the task queue that a fleet control runs now: a campaign that
 * found none at its last start round stops asking (no events spent on an absent calendar) until
 * this signal. Best effort per campaign: one that ended meanwhile needs nothing.
 */
async function tellRunningCampaigns(target: FleetControlTarget): Promise<void> {
  const query =
    `WorkflowType = '${WorkflowTypes.campaign}' AND ExecutionStatus = 'Running' ` +
    `AND TaskQueue = '${target.taskQueue.replace(/'/g, "\\'")}'`;
  const sends: Promise<unknown>[] = [];
  for await (const wf of target.client.workflow.list({ query })) {
    sends.push(
      target.client.workflow
        .getHandle(wf.workflowId)
        .signal(fleetControlChangedSignal)
        .catch(() => undefined),
    );
  }
  await Promise.all(sends);
}

/** Adds a freeze; the calendar checks it and names every problem (UpdateRefusedError). */
export async function addFreeze(target: FleetControlTarget, input: FreezeInput): Promise<Freeze> {
  const freeze = await updateWithStart<Freeze, [FreezeInput]>(target, 'freeze add', addFreezeUpdate, [input]);
  await tellRunningCampaigns(target);
  return freeze;
}

/** Removes freeze `id` (`f3`); refused when there is no such freeze. */
export function removeFreeze(target: FleetControlTarget, id: string): Promise<Freeze> {
  return updateWithStart<Freeze, [{ id: string }]>(target, 'freeze remove', removeFreezeUpdate, [{ id }]);
}

/** Sets the fleet-wide pace, or removes it with `null`. */
export async function setFleetPace(target: FleetControlTarget, pace: FleetPace | null): Promise<FleetControlView> {
  const view = await updateWithStart<FleetControlView, [FleetPace | null]>(target, 'pace set', setFleetPaceUpdate, [
    pace,
  ]);
  if (pace) await tellRunningCampaigns(target);
  return view;
}

/** The calendar and pace; empty when the fleet control never ran or has ended (nothing held). */
export async function readFleetControl(target: FleetControlTarget): Promise<FleetControlView> {
  const handle = target.client.workflow.getHandle(fleetControlWorkflowId(target.taskQueue));
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return { freezes: [], started: 0, nowMs: Date.now() };
    return await target.client.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () => handle.query(fleetControlQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { freezes: [], started: 0, nowMs: Date.now() };
    throw translate(err, 'freeze list', target.taskQueue);
  }
}
