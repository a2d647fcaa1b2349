/**
 * The slice of the Temporal activity context the activities use (heartbeat, cancellable
 * sleep, abort signal, logger), with plain fallbacks when the function runs outside an
 * activity (a script, the demo). Inside a worker or `MockActivityEnvironment` everything
 * goes through `@temporalio/activity`, so heartbeats reach the server and cancellation works.
 */
import { Context } from '@temporalio/activity';
import type { Logger, LogMetadata } from '@temporalio/common';

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
  log: ActivityLogger;
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
      log: ctx.log,
    };
  }
  return {
    heartbeatDetails: undefined,
    attempt: 1,
    heartbeat: () => undefined,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    signal: undefined,
    log: fallbackLogger ?? silentLogger,
  };
}

export type { LogMetadata };
