/**
 * Activities of the fleet lease protocol (see workflows/fleet-lease.ts): asking a lease workflow
 * for a slot, starting it if it is not running, and telling it which requesters have gone away.
 *
 * Workflows import this module with `import type` only.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describeIfFound } from './children';
import {
  fleetControlWorkflowId,
  takeStartsUpdate,
  type TakeStartsInput,
  type TakeStartsResult,
  fleetLeaseId,
  fleetLeaseWorkflowId,
  requestLeaseSignal,
  WorkflowTypes,
  type FleetLeaseInput,
  type LeaseRequest,
} from '../workflows/definitions';
import type { fleetLeaseWorkflow } from '../workflows/fleet-lease';

export interface RequestLeaseInput extends LeaseRequest {
  /** The shared cap's label key, e.g. `account`. */
  labelKey: string;
  /** The cluster's value of that label. */
  labelValue: string;
  /** Passed to the lease workflow when this request starts it; tests use small values. */
  idleTimeoutMs?: number;
  livenessCheckIntervalMs?: number;
}

export interface RequestLeaseResult {
  /** `key=value`: what `leaseGrantedSignal` will carry. */
  leaseId: string;
  /** Where to send `releaseLeaseSignal`. */
  leaseWorkflowId: string;
}

/** A requester as the lease knows it; `firstRunId` tells its continue-as-new chain from a later workflow with the same ID. */
export interface LeaseRequester {
  workflowId: string;
  firstRunId?: string;
}

export interface FindClosedRequestersInput {
  requesters: LeaseRequester[];
}

export interface LeaseActivities {
  /**
   * Queues a request at the lease of `labelKey=labelValue`, starting the lease workflow if needed.
   * Idempotent: a retried call queues nothing twice. The grant arrives later as `leaseGrantedSignal`.
   */
  requestLease(input: RequestLeaseInput): Promise<RequestLeaseResult>;
  /** The requesters (as given) whose workflow is not running, or is running as a different chain. */
  findClosedRequesters(input: FindClosedRequestersInput): Promise<LeaseRequester[]>;
  /**
   * Asks the fleet control (`fleet-control/<taskQueue>`) for cluster starts: none inside a freeze, at
   * most what the fleet-wide bucket holds. No fleet control workflow means no calendar and no
   * pace: every start is granted. A regular activity, once per start round (and, with `want: 0`,
   * when a campaign with upgrades in flight looks whether a freeze began or ended).
   */
  takeFleetStarts(input: TakeStartsInput): Promise<TakeStartsResult>;
}

export interface LeaseActivitiesDeps {
  client: Client;
  /** Task queue the lease workflows run on (the worker's). */
  taskQueue: string;
}

/** Builds the lease activities over a Temporal client. */
export function createLeaseActivities({ client, taskQueue }: LeaseActivitiesDeps): LeaseActivities {
  return {
    async requestLease(input) {
      const { labelKey, labelValue, idleTimeoutMs, livenessCheckIntervalMs, ...request } = input;
      const leaseWorkflowId = fleetLeaseWorkflowId(labelKey, labelValue);
      const leaseId = fleetLeaseId(labelKey, labelValue);
      const args: FleetLeaseInput = {
        labelKey,
        labelValue,
        ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
        ...(livenessCheckIntervalMs !== undefined ? { livenessCheckIntervalMs } : {}),
      };
      await client.workflow.signalWithStart<typeof fleetLeaseWorkflow, [LeaseRequest]>(WorkflowTypes.fleetLease, {
        workflowId: leaseWorkflowId,
        taskQueue,
        args: [args],
        signal: requestLeaseSignal,
        signalArgs: [request],
        staticSummary: `fleet-wide cap ${leaseId}`,
      });
      return { leaseId, leaseWorkflowId };
    },

    async takeFleetStarts(input) {
      try {
        return await client.workflow.getHandle(fleetControlWorkflowId(taskQueue)).executeUpdate(takeStartsUpdate, {
          args: [input],
        });
      } catch (err) {
        // Nobody ever set a freeze or a pace (or the calendar emptied and the workflow ended).
        if (err instanceof WorkflowNotFoundError) return { granted: input.want, absent: true };
        throw err;
      }
    },

    async findClosedRequesters({ requesters }) {
      const closed: LeaseRequester[] = [];
      for (const requester of requesters) {
        const description = await describeIfFound(client, requester.workflowId);
        const firstRunId = description?.raw.workflowExecutionInfo?.firstRunId;
        const otherChain = Boolean(requester.firstRunId && firstRunId && firstRunId !== requester.firstRunId);
        if (description?.status.name !== 'RUNNING' || otherChain) closed.push(requester);
      }
      return closed;
    },
  };
}
