/**
 * The fleet approval policy's checks of operator actions (domain/signed-actions.ts): who may
 * approve and act, with which SSH keys, and whether an unsigned action may pass by name only.
 *
 * The policy belongs to platform admins and lives on the worker, never in a campaign spec. A
 * worker without a policy lets every action through by name only and says so
 * (`mode: 'no-policy'`), which suits demos and nothing else.
 */
import type { PolicySummary } from '../domain/signed-actions';
import type { VerifyActionInput, VerifyActionResult } from './types';

/** The approval activities of a worker without a fleet approval policy. */
export function createApprovalActivities() {
  const policy: PolicySummary = { mode: 'no-policy', signedActions: [] };
  return {
    async describeApprovalPolicy(): Promise<PolicySummary> {
      return policy;
    },
    async verifyAction(input: VerifyActionInput): Promise<VerifyActionResult> {
      if (input.signed) {
        return {
          ok: false,
          reason:
            'this worker has no fleet approval policy (FLEETWAVE_APPROVAL_POLICY), so no signature can be checked',
          policy,
        };
      }
      return { ok: true, principal: input.actor, signed: false, groups: [], policy };
    },
  };
}
