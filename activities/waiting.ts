/**
 * The one way fleetwave waits for something slow (docs/architecture.md, "Waiting"): an attempt of
 * the waiting activity looks once (a few reads, at most the idempotent writes that are due), and
 * when what it waits for is still running it ends with a retryable `FleetwaveStillWaiting` failure
 * whose `nextRetryDelay` is the next look (domain/waits.ts). The Temporal server runs the next
 * attempt then, on whichever worker polls: no worker holds the wait in between, no heartbeat is
 * sent while nothing changes, and the attempts are not in the workflow's history.
 *
 * What the attempts know of each other travels in the heartbeat details, written once, when an
 * attempt ends with progress that changed (an update started, a resource done). The SDK sends the
 * last heartbeat before the failure that ends the attempt, so the next attempt reads it. If a worker
 * dies before that, the next attempt finds its place again from EKS itself: every start reads
 * before it writes and carries a deterministic token, so nothing is written twice.
 */
import { ApplicationFailure } from '@temporalio/common';
import { STILL_WAITING_FAILURE } from './types';
import type { ActivityRuntime } from './context';
import type { ResolvedDeps } from './deps';

/** Whether this wait parks between looks: inside a worker, unless the deps turned it off. */
export function parks(deps: Pick<ResolvedDeps, 'waits'>, r: Pick<ActivityRuntime, 'canPark'>): boolean {
  return deps.waits.park && r.canPark;
}

/** Thrown inside an attempt when what it waits for is still running; the activity turns it into {@link stillWaiting}. */
export class LookLater extends Error {
  constructor(
    readonly delayMs: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'LookLater';
  }
}

/** The sooner of two looks (either may be absent). */
export function sooner(a: LookLater | undefined, b: LookLater): LookLater {
  return a === undefined || b.delayMs < a.delayMs ? b : a;
}

/**
 * The shortest next look. A `nextRetryDelay` of zero ended the activity with the attempt's failure
 * instead of retrying it (seen on the Temporal dev server: a soak's watch parked for a look due at
 * once failed its soak), so a look due now is asked for a moment later.
 */
const SOONEST_LOOK_MS = 10;

/** The failure that ends an attempt until its next look. Never fatal: the retry policy's attempts are unlimited. */
export function stillWaiting(later: LookLater): ApplicationFailure {
  const delayMs = Math.max(SOONEST_LOOK_MS, later.delayMs);
  return ApplicationFailure.create({
    type: STILL_WAITING_FAILURE,
    message: `still waiting: ${later.reason}; next look in ${formatDelay(delayMs)}`,
    nonRetryable: false,
    nextRetryDelay: delayMs,
  });
}

function formatDelay(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/**
 * Progress as it matters to the next attempt: poll counts and the last status seen are only shown,
 * and a slot's `result` (activities/slots.ts: its update seen Successful, or found at target) is
 * found again by the next attempt with one read, so it is worth no heartbeat of its own.
 */
function essential(progress: unknown): string {
  return JSON.stringify(progress ?? null, (key, value: unknown) =>
    key === 'polls' || key === 'lastStatus' || key === 'result' ? undefined : value,
  );
}

/**
 * Ends the attempt for `later`: records `progress` in the heartbeat when it differs from what this
 * attempt started from (`resumed`) in more than poll counts, then returns the failure to throw.
 * An attempt that only looked and saw the same thing running costs one action, not two.
 */
export function park(r: ActivityRuntime, later: LookLater, progress: unknown, resumed: unknown): ApplicationFailure {
  keepProgress(r, progress, resumed);
  return stillWaiting(later);
}

/**
 * Records `progress` in the heartbeat when it differs from what this attempt started from
 * (`resumed`) in more than poll counts: before an attempt ends parked, or with a retryable error.
 */
export function keepProgress(r: ActivityRuntime, progress: unknown, resumed: unknown): void {
  if (essential(progress) !== essential(resumed)) r.heartbeat(structuredClone(progress));
}
