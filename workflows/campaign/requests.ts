/**
 * Shape checks of the requests operators send the campaign (approve, pause, resume, abort, skip,
 * retry): types present, strings within CLAIM_LIMITS, a signed claim well formed. Nothing here
 * looks at the campaign's state or the fleet policy.
 *
 * These are what an Update validator may refuse: a validator writes nothing to the history, so
 * its refusals never reach the audit trail. Every refusal that depends on the campaign (wrong
 * wave, not an approver, not paused) or on the fleet policy (unknown key, signature required) is
 * made in the handler instead, which records it. Pure: unit-testable without Temporal.
 */
import { CLAIM_LIMITS, signedClaimShapeProblem, textFieldProblem } from '../../domain/signed-actions';

/** Why an approval request is malformed, or undefined. */
export function approvalShapeProblem(input: unknown): string | undefined {
  const a = input as Record<string, unknown> | undefined;
  if (!a || typeof a.wave !== 'string' || typeof a.approver !== 'string' || !a.approver.trim()) {
    return 'an approval needs a wave and an approver';
  }
  return (
    textFieldProblem('wave', a.wave, CLAIM_LIMITS.name, true) ??
    textFieldProblem('approver', a.approver, CLAIM_LIMITS.actor, true) ??
    textFieldProblem('comment', a.comment, CLAIM_LIMITS.comment, false) ??
    (a.signed === undefined ? undefined : signedClaimShapeProblem(a.signed))
  );
}

/**
 * Why an operator action's request is malformed, or undefined. Skip and retry (`withCluster`)
 * need a cluster and who asks; pause, resume and abort may come without `by` (a bare signal
 * from the Web UI), which then acts as "unknown".
 */
export function operatorShapeProblem(input: unknown, withCluster: boolean): string | undefined {
  const op = input as Record<string, unknown> | undefined | null;
  if (withCluster && (!op || typeof op.cluster !== 'string' || typeof op.by !== 'string' || !op.by.trim())) {
    return 'a cluster action needs a cluster and who asks (by)';
  }
  if (op === undefined || op === null) return undefined;
  if (typeof op !== 'object') return 'expected { by, reason }';
  return (
    (withCluster ? textFieldProblem('cluster', op.cluster, CLAIM_LIMITS.name, true) : undefined) ??
    textFieldProblem('by', op.by, CLAIM_LIMITS.actor, withCluster) ??
    textFieldProblem('reason', op.reason, CLAIM_LIMITS.comment, false) ??
    (op.signed === undefined ? undefined : signedClaimShapeProblem(op.signed))
  );
}
