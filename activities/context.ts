/**
 * The slice of the Temporal activity context the activities use (heartbeat, cancellable
 * sleep, abort signal, logger), with plain fallbacks when the function runs outside an
 * activity (a script, the demo). Inside a worker or `MockActivityEnvironment` everything
 * goes through `@temporalio/activity`, so heartbeats reach the server and cancellation works.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure, type Logger, type LogMetadata } from '@temporalio/common';

/** A minimal structured logger. Never pass tokens or credentials in `meta`. */
export type ActivityLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

const silentLogger: ActivityLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What an activity needs from its surroundings. */
export interface ActivityRuntime {
  /** Heartbeat details of the previous attempt, if any. */
  heartbeatDetails: unknown;
  attempt: number;
  heartbeat(details?: unknown): void;
  /** Sleeps; rejects with a CancelledFailure when the activity is cancelled. */
  sleep(ms: number): Promise<void>;
  /** Aborted when the activity is cancelled. */
  signal: AbortSignal | undefined;
  /**
   * The activity was cancelled because its workflow asked (a pause or an abort), as opposed to a
   * worker shutdown, a timeout or the workflow being gone.
   */
  cancelRequested(): boolean;
  /** Inside a Temporal activity: a wait may end the attempt and let the server run the next (activities/waiting.ts). */
  canPark: boolean;
  log: ActivityLogger;
  /** The workflow that scheduled the activity (a gate webhook is told the campaign it runs for). */
  workflowId?: string;
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** The current activity's runtime, or a plain one outside an activity. */
export function activityRuntime(fallbackLogger?: ActivityLogger): ActivityRuntime {
  const ctx = currentContext();
  if (ctx) {
    return {
      heartbeatDetails: ctx.info.heartbeatDetails,
      attempt: ctx.info.attempt,
      heartbeat: (details) => ctx.heartbeat(details),
      sleep: (ms) => ctx.sleep(ms),
      signal: ctx.cancellationSignal,
      cancelRequested: () =>
        ctx.cancellationSignal.aborted &&
        (ctx.cancellationDetails?.cancelRequested === true ||
          (ctx.cancellationSignal.reason as { message?: unknown } | undefined)?.message === 'CANCELLED'),
      canPark: true,
      log: ctx.log,
      workflowId: ctx.info.workflowExecution?.workflowId,
    };
  }
  return {
    heartbeatDetails: undefined,
    attempt: 1,
    heartbeat: () => undefined,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    signal: undefined,
    cancelRequested: () => false,
    canPark: false,
    log: fallbackLogger ?? silentLogger,
  };
}

/**
 * A view of `rt` that a cancellation the workflow requested does not interrupt: EKS calls and
 * sleeps go on, so a started update is awaited to its end. Any other cancellation (worker
 * shutdown, heartbeat timeout, the workflow gone) still aborts them: the attempt ends and a retry
 * resumes from the heartbeat. A step asks `rt.cancelRequested()` at its safe points and stops there.
 */
export function shieldFromCancelRequest(rt: ActivityRuntime): ActivityRuntime {
  const outer = rt.signal;
  if (!outer) return rt;
  const controller = new AbortController();
  const forward = (): void => {
    if (!rt.cancelRequested()) controller.abort(outer.reason);
  };
  if (outer.aborted) forward();
  else outer.addEventListener('abort', forward, { once: true });
  const signal = controller.signal;
  const cancelled = (): CancelledFailure =>
    signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('activity cancelled');
  return {
    ...rt,
    signal,
    sleep: (ms) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(cancelled());
          return;
        }
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(cancelled());
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
  };
}

export type { LogMetadata };
