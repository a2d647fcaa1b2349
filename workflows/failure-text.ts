/**
 * One-line reasons from the failures workflows catch, for step records, outcome reasons, status
 * and logs. Shared by the campaign and cluster-upgrade workflows; pure, so unit tests need no
 * Temporal server.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/common';

/**
 * A one-line reason for a failure: `Type: message` of the first application failure in the
 * cause chain, `timed out: ...` for a timeout. The activity and child-workflow wrappers say only
 * that something failed, so the chain is followed through them (a local activity's failure may
 * also arrive without its wrapper). Any other error gives its message, followed by its cause's
 * when that adds something.
 */
export function describeFailure(err: unknown): string {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
    if (e instanceof TimeoutFailure) return `timed out: ${e.message}`;
    if (e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) continue;
    const cause = e.cause;
    return cause instanceof Error && cause.message && cause.message !== e.message
      ? `${e.message}: ${cause.message}`
      : e.message;
  }
  return err instanceof Error ? err.message : String(err);
}
