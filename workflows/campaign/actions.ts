/**
 * Approvals and operator actions under the worker's fleet approval policy: the Temporal half.
 *
 * Each request is checked by the `verifyAction` activity (the signature, the key's principal and
 * groups in the policy's allowed_signers, or whether the policy lets the action pass by name
 * only; a local activity in runs from before `verify-by-activity`); its answer is in the history
 * (an event, or a marker), so a replay never needs the policy
 * or the keys. Then the pure {@link claimContextProblem} checks that the signed claim is for this
 * campaign run chain, this action and target, this actor and comment, and has not expired by the
 * workflow clock; and a signed claim counts once. Only then may the handler ask the state machine
 * for its own refusal (wrong wave, not an approver, not paused) and apply the action.
 *
 * Runs started before signed actions existed take their old path: every entry point here is
 * behind `patched('signed-actions')`, because the local activities are new commands.
 */
import { patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { FleetwaveActivities } from '../../activities/types';
import { claimContextProblem, claimUseKey, type SignedActionKind, type SignedClaim } from '../../domain/signed-actions';
import { describeFailure } from '../failure-text';
import type { ActionProof, CampaignMachine } from './state';

/** The patch that introduced policy-checked approvals and operator actions (see docs/versioning.md). */
export const SIGNED_ACTIONS_PATCH = 'signed-actions';

/**
 * Checking a claim is CPU work on the worker, milliseconds: a short timeout and a few retries. A
 * policy that cannot be read after them refuses the action (and the refusal is audited).
 */
const { verifyAction, describeApprovalPolicy } = proxyLocalActivities<FleetwaveActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 3 },
});

/**
 * The same check as a regular activity, for runs from `verify-by-activity` on. A local activity
 * awaited in a Signal or Update handler races the main loop: on a replay (after an eviction, or a
 * query to an evicted run) its result reaches the handler at another point of the loop than it
 * did when it ran, so a patch marker or another local activity the loop recorded in between no
 * longer lines up ("patch marker … no corresponding change command", "recorded marker
 * 'verifyAction' does not match … 'takeFleetStarts'"); the run then fails every workflow task.
 * A regular activity's result is an event, delivered at the same point on every replay. It costs
 * about six events per approval or operator action (measured: 79 → 123 events for the seven of
 * campaign.workflow.test.ts "accepts approvals by Signal"); they are few.
 */
const { verifyAction: verifyActionByTask } = proxyActivities<FleetwaveActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 3 },
});

/** See `verifyActionByTask` and docs/versioning.md. */
export const VERIFY_BY_ACTIVITY_PATCH = 'verify-by-activity';

/** True for runs that check approvals and operator actions against the fleet policy (records the patch marker). */
export function signedActionsEnabled(): boolean {
  return patched(SIGNED_ACTIONS_PATCH);
}

/**
 * Asks the worker for its fleet approval policy once, for status, when the state does not carry
 * it yet (a first run, or the first run after one that predates signed actions). A worker that
 * cannot describe it leaves the policy unknown; every verdict describes it again.
 */
export async function learnApprovalPolicy(m: CampaignMachine): Promise<void> {
  if (m.view.approvalPolicy || !signedActionsEnabled()) return;
  try {
    m.noteApprovalPolicy(await describeApprovalPolicy());
  } catch {
    // Left unknown: the next verdict carries the policy.
  }
}

/** An approval or operator action as the operator asked for it. */
export interface ActionRequest {
  action: SignedActionKind;
  /** The approver, or `by` of an operator action. */
  actor: string;
  wave?: string;
  cluster?: string;
  /** The approval's comment or the action's reason. */
  comment?: string;
  signed?: SignedClaim;
}

/** The outcome of {@link checkAction}. */
export type ActionCheck =
  | {
      ok: true;
      proof: ActionProof;
      /** The fleet policy's groups of the principal (spec.approvers.groups narrows by them). */
      groups: string[];
      /** Remember the signed claim as used with this key until it expires, once the action is applied. */
      use?: { key: string; expiresAt: number };
    }
  | { ok: false; reason: string; proof?: ActionProof };

/**
 * Checks a request against the fleet policy (the verifyAction local activity) and, when signed,
 * its claim against the request and this workflow. Says nothing about the campaign's state.
 */
export async function checkAction(m: CampaignMachine, request: ActionRequest): Promise<ActionCheck> {
  let verdict: Awaited<ReturnType<FleetwaveActivities['verifyAction']>>;
  // Decided before the first await of the handler, where the signal or update is delivered: the
  // same point on every replay.
  const verify = patched(VERIFY_BY_ACTIVITY_PATCH) ? verifyActionByTask : verifyAction;
  try {
    verdict = await verify({
      action: request.action,
      actor: request.actor,
      ...(request.signed ? { signed: request.signed } : {}),
    });
  } catch (err) {
    return { ok: false, reason: `could not check it against the fleet approval policy: ${describeFailure(err)}` };
  }
  m.noteApprovalPolicy(verdict.policy);
  if (!verdict.ok) {
    // A refused signature is audited with the key it names, so a forgery attempt shows which key was used.
    return {
      ok: false,
      reason: verdict.reason,
      ...(verdict.fingerprint ? { proof: { signed: false, fingerprint: verdict.fingerprint } } : {}),
    };
  }
  const proof: ActionProof = { signed: verdict.signed };
  if (verdict.fingerprint) proof.fingerprint = verdict.fingerprint;
  if (verdict.principal !== request.actor) {
    return {
      ok: false,
      reason: `the fleet policy names the signer "${verdict.principal}", not "${request.actor}"`,
      proof,
    };
  }
  if (!request.signed) {
    if (verdict.signed) return { ok: false, reason: 'the verifier reported a signature where none was sent', proof };
    return { ok: true, proof, groups: verdict.groups };
  }
  // A signed request must count as signed: never fall back to name-only on a signature the policy ignored.
  if (!verdict.signed) return { ok: false, reason: 'the signature was not verified by the fleet policy', proof };
  const now = Date.now();
  const { claim } = request.signed;
  const problem = claimContextProblem(claim, {
    campaign: m.name,
    runChain: workflowInfo().firstExecutionRunId,
    action: request.action,
    ...(request.wave !== undefined ? { wave: request.wave } : {}),
    ...(request.cluster !== undefined ? { cluster: request.cluster } : {}),
    actor: request.actor,
    ...(request.comment !== undefined ? { comment: request.comment } : {}),
    now,
  });
  if (problem) return { ok: false, reason: problem, proof };
  const key = claimUseKey(claim, verdict.fingerprint);
  const used = m.claimRefusal(key, now);
  if (used) return { ok: false, reason: used, proof };
  return { ok: true, proof, groups: verdict.groups, use: { key, expiresAt: Date.parse(claim.expiresAt) } };
}
