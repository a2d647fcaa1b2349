/**
 * The promotion rule of a wave whose soak has ended: may the campaign go on to the next wave,
 * and if not, what it waits for. One pure function, used by the workflow's approval step and by
 * the state machine's answers (status query, approval Update), so they never disagree.
 *
 * Decision inputs: whether the wave is the last, its effective approval rule, the approvals it
 * has in force ({@link approvalsInForce}: an approval older than spec.approvers.expiresAfter by
 * the workflow clock no longer counts) and needs, whether the campaign is paused, and the soak
 * gates' verdict. The failure budget
 * is not an input: a wave past its budget pauses (or aborts) before its soak, so it arrives here
 * as `paused`.
 */

/** What the promotion rule looks at. */
export interface PromotionFacts {
  /** The last wave has nothing to promote to. */
  lastWave: boolean;
  /** Effective approval rule of the wave (domain/plan's effectiveApproval). */
  approval: 'required' | 'auto';
  /** Distinct approvals the wave has in force (see {@link approvalsInForce}). */
  approvals: number;
  /** Distinct approvals a wave that requires approval needs (spec.approvers.minApprovals). */
  approvalsNeeded: number;
  /** The campaign is paused (by an operator, the failure budget, or a failed soak gate). */
  paused: boolean;
  /** A soak gate was anything but Successful (no data and errors included); cleared by resume. */
  soakFailed: boolean;
}

/** What the wave does next. */
export type PromotionStep =
  /** The soak gates failed: nothing moves until a human resumes. */
  | 'hold-soak-failed'
  /** The last wave: the campaign completes without approval. */
  | 'complete'
  /** Paused for another reason: wait for resume. */
  | 'hold-paused'
  /** Waiting for approvals. */
  | 'await-approval'
  /** Promote to the next wave now. */
  | 'promote';

/** The promotion decision. */
export interface Promotion {
  step: PromotionStep;
  /** True when the wave waits for humans before the next wave (never the last wave). */
  approvalRequired: boolean;
  /** True when the approvals reached the quorum (always true when none are required). */
  approved: boolean;
}

/** Decides what a soaked wave does next; see {@link PromotionFacts} for the inputs. */
export function decidePromotion(f: PromotionFacts): Promotion {
  const approvalRequired = !f.lastWave && f.approval === 'required';
  const approved = !approvalRequired || f.approvals >= f.approvalsNeeded;
  let step: PromotionStep;
  if (f.paused && f.soakFailed) step = 'hold-soak-failed';
  else if (f.lastWave) step = 'complete';
  else if (f.paused) step = 'hold-paused';
  else if (!approved) step = 'await-approval';
  else step = 'promote';
  return { step, approvalRequired, approved };
}

/**
 * The approvals that still count at `now` (workflow time, ms): all of them when approvals do not
 * expire (`expiresAfterMs` undefined) or when no time is given, else those given less than
 * `expiresAfterMs` ago.
 */
export function approvalsInForce<A extends { at: string }>(
  approvals: readonly A[],
  expiresAfterMs: number | undefined,
  now: number | undefined,
): A[] {
  if (expiresAfterMs === undefined || now === undefined) return [...approvals];
  return approvals.filter((a) => Date.parse(a.at) + expiresAfterMs > now);
}
