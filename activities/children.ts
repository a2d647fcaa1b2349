/**
 * Watching cluster-upgrade children a campaign run did not start. A run learns a child's end from
 * the child's completion event only if it started the child; children handed over at
 * continue-as-new report by signal instead (workflows/definitions.ts reportBySignalSignal). A
 * child that ends without running its code to the end (terminated by an operator, timed out,
 * cancelled, failed) sends no signal, and without this watch the campaign would wait for it for
 * ever. One activity per run watches every handed-over child: each attempt describes them once
 * (DescribeWorkflowExecution) and returns as soon as one of them ended that way, or when all ended;
 * otherwise it parks until its next look, as every fleetwave wait does (activities/waiting.ts).
 *
 * Workflows import this module with `import type` only.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { DEFAULT_WAIT_SCHEDULE, nextLookDelayMs } from '../domain/waits';
import { activityRuntime } from './context';
import type { WaitOptions } from './deps';
import { LookLater, parks, stillWaiting } from './waiting';

export interface WatchedChild {
  workflowId: string;
  runId: string;
}

export interface AwaitChildrenEndedInput {
  children: WatchedChild[];
  /** Between two rounds of DescribeWorkflowExecution. Default: the wait schedule (domain/waits.ts). */
  pollIntervalMs?: number;
}

/** A watched child that ended without completing: it cannot have reported its result. */
export interface UnreportedEnd extends WatchedChild {
  /** TERMINATED, TIMED_OUT, CANCELLED, FAILED, or NOT_FOUND (its history is gone). */
  status: string;
}

export interface AwaitChildrenEndedResult {
  unreported: UnreportedEnd[];
  /** Every watched child has ended (completed ones reported by signal). */
  allEnded: boolean;
}

export interface ChildrenActivities {
  awaitChildrenEnded(input: AwaitChildrenEndedInput): Promise<AwaitChildrenEndedResult>;
}

/** A workflow run's description, or undefined when the server has no such workflow (any more). */
export async function describeIfFound(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId, runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export function createChildrenActivities({
  client,
  pollIntervalMs: defaultPollMs,
  waits,
}: {
  client: Client;
  /** Default for {@link AwaitChildrenEndedInput.pollIntervalMs} (tests use less). */
  pollIntervalMs?: number;
  /** The wait schedule (`timeScale` for an accelerated simulator); parks by default. */
  waits?: Partial<WaitOptions>;
}): ChildrenActivities {
  const schedule: WaitOptions = { ...DEFAULT_WAIT_SCHEDULE, park: true, ...waits };
  /** The status of one run: RUNNING, COMPLETED, TERMINATED, ... or NOT_FOUND. */
  const statusOf = async (child: WatchedChild): Promise<string> =>
    (await describeIfFound(client, child.workflowId, child.runId))?.status.name ?? 'NOT_FOUND';

  return {
    async awaitChildrenEnded({ children, pollIntervalMs }) {
      const rt = activityRuntime();
      for (;;) {
        const statuses = await Promise.all(children.map(async (child) => ({ child, status: await statusOf(child) })));
        const unreported = statuses
          .filter((s) => s.status !== 'RUNNING' && s.status !== 'COMPLETED')
          .map((s) => ({ ...s.child, status: s.status }));
        const allEnded = statuses.every((s) => s.status !== 'RUNNING');
        if (unreported.length > 0 || allEnded) {
          if (unreported.length > 0) rt.log.warn('Cluster upgrades ended without reporting', { unreported });
          return { unreported, allEnded };
        }
        const running = statuses.filter((s) => s.status === 'RUNNING').length;
        const fixed = pollIntervalMs ?? defaultPollMs;
        if (parks({ waits: schedule }, rt)) {
          // The first attempt's schedule time: how long this watch has been waiting, across attempts.
          const elapsed = Date.now() - Context.current().info.scheduledTimestampMs;
          const delay = fixed ?? nextLookDelayMs('children', elapsed, schedule);
          throw stillWaiting(new LookLater(delay, `${running} handed-over cluster upgrade(s) still running`));
        }
        rt.heartbeat({ running });
        await rt.sleep(fixed ?? nextLookDelayMs('children', 0, schedule));
      }
    },
  };
}
