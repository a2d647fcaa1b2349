/**
 * Runs activities the way a worker does, in a `MockActivityEnvironment` from
 * @temporalio/testing: real activity context (heartbeats, cancellation, heartbeat details of a
 * previous attempt), no Temporal server.
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

/** Activity logs at ERROR only (FLEETWAVE_TEST_LOG=DEBUG shows everything). */
const logger = new DefaultLogger((process.env.FLEETWAVE_TEST_LOG as 'DEBUG' | undefined) ?? 'ERROR');

/** A fresh environment, as one attempt of an activity sees it. */
export function activityEnvironment(info: Partial<Info> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger });
}

/** An environment that keeps every log line (TRACE and up), message and metadata, as JSON text. */
export function capturingEnvironment(): { env: MockActivityEnvironment; lines: string[] } {
  const lines: string[] = [];
  const capture = new DefaultLogger('TRACE', (entry) =>
    lines.push(JSON.stringify({ message: entry.message, meta: entry.meta })),
  );
  return { env: new MockActivityEnvironment({}, { logger: capture }), lines };
}

/** Runs one activity in a fresh environment (or the given one), typed by the activity. */
export function runActivity<I, O>(fn: (input: I) => Promise<O>, input: I, env?: MockActivityEnvironment): Promise<O> {
  return (env ?? activityEnvironment()).run(fn, input) as Promise<O>;
}

/** An environment whose attempt resumes from `heartbeatDetails`, as a retry after a timeout would. */
export function retryEnvironment(heartbeatDetails: unknown, info: Partial<Info> = {}): MockActivityEnvironment {
  return activityEnvironment({ attempt: 2, heartbeatDetails, ...info });
}

/** Collects every heartbeat an environment sees. */
export function recordHeartbeats(env: MockActivityEnvironment): unknown[] {
  const seen: unknown[] = [];
  env.on('heartbeat', (d: unknown) => seen.push(d));
  return seen;
}
