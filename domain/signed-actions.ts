/**
 * Signed operator actions: the contract between `fleetwave approve` (and the other operator
 * commands), the worker that verifies signatures, and the campaign workflow that counts them.
 *
 * An operator signs a {@link ActionClaim} — which action, on which campaign run chain, which wave
 * or cluster, as whom, when, until when — with an SSH key, in the SSHSIG format that
 * `ssh-keygen -Y sign -n fleetwave` writes. The bytes signed are {@link canonicalClaimText}: the
 * client, `ssh-keygen -Y verify` and the worker all see the same text.
 *
 * Who may sign is not in the campaign spec (whoever writes a spec could list their own keys M
 * times): it is the fleet approval policy that platform admins configure on the worker (an
 * OpenSSH allowed_signers file and named groups). The spec may only narrow it.
 *
 * Pure: no I/O, usable from workflows, activities and the CLI.
 */

/** The SSHSIG namespace of every fleetwave signature (`ssh-keygen -Y sign -n fleetwave`). */
export const SIGNATURE_NAMESPACE = 'fleetwave';

/** First line of every signed text: names the format, so a signature made for anything else never verifies here. */
export const CLAIM_PREAMBLE = 'fleetwave-action-v1';

/** Operator actions that can be signed. */
export const SIGNED_ACTION_KINDS = ['approve', 'pause', 'resume', 'abort', 'skip', 'retry', 'rollback'] as const;
export type SignedActionKind = (typeof SIGNED_ACTION_KINDS)[number];

/** Bounds of the free-text fields of a claim (and of unsigned operator input). */
export const CLAIM_LIMITS = {
  /** Principal names (approver, operator), as in allowed_signers. */
  actor: 128,
  /** Comments and reasons kept in the audit trail. */
  comment: 1000,
  /** Campaign, wave and cluster names. */
  name: 253,
  /** An armored SSHSIG of an ed25519 or ecdsa-sha2-nistp256 key is under 1 KiB. */
  signature: 4096,
} as const;

/** What an operator signs: one action on one campaign run chain, valid for a bounded time. */
export interface ActionClaim {
  action: SignedActionKind;
  /** Campaign name (the workflow ID is `campaign/<name>`). */
  campaign: string;
  /**
   * The first run ID of the campaign's run chain: a signature for an earlier campaign of the same
   * name (or for another campaign) never counts for this one.
   */
  runChain: string;
  /** The wave an approval or a rollback is for. */
  wave?: string;
  /** The cluster a skip, retry or one-cluster rollback is for. */
  cluster?: string;
  /** The principal signing, as named in the fleet policy's allowed_signers. */
  actor: string;
  comment?: string;
  /** ISO 8601 time the claim was made (client clock). */
  issuedAt: string;
  /** ISO 8601 time after which the claim is refused. */
  expiresAt: string;
}

/** A claim with its signature, as carried in an Update or Signal. */
export interface SignedClaim {
  claim: ActionClaim;
  /** Armored SSHSIG (`-----BEGIN SSH SIGNATURE-----` …) over {@link canonicalClaimText}(claim). */
  signature: string;
}

/** What the worker's verifier answers for a claim (a local activity; its answer is in the history). */
export type ClaimVerdict =
  | {
      ok: true;
      /** The principal the fleet policy matched the key to (equals claim.actor). */
      principal: string;
      /** True when checked against a signature; false for a name-only action the policy allows. */
      signed: boolean;
      /** `SHA256:…` fingerprint of the key that signed, as `ssh-keygen -l` prints it. */
      fingerprint?: string;
      /** The fleet policy's groups the principal belongs to. */
      groups: string[];
    }
  | {
      ok: false;
      reason: string;
      /** `SHA256:…` fingerprint of the key the refused signature names (not verified), when it could be read. */
      fingerprint?: string;
    };

/** How the worker's fleet policy treats approvals and operator actions, for status and audit. */
export interface PolicySummary {
  /** No policy configured, name-only allowed by the policy, or signatures required. */
  mode: 'no-policy' | 'name-only-allowed' | 'signed';
  /** Operator actions that need a signature under this policy. */
  signedActions: SignedActionKind[];
}

/**
 * The exact bytes an operator signs, as text: {@link CLAIM_PREAMBLE}, a newline, and the claim as
 * JSON with its keys in one fixed order and absent fields left out. Two claims that mean the same
 * produce the same text, and a change to any field changes it.
 */
export function canonicalClaimText(claim: ActionClaim): string {
  const ordered: Record<string, string> = {};
  for (const key of [
    'action',
    'campaign',
    'runChain',
    'wave',
    'cluster',
    'actor',
    'comment',
    'issuedAt',
    'expiresAt',
  ] as const) {
    const value = claim[key];
    if (value !== undefined) ordered[key] = value;
  }
  return `${CLAIM_PREAMBLE}\n${JSON.stringify(ordered)}\n`;
}

/** Why a claim's shape is unacceptable (missing or oversized fields), or undefined. */
export function claimShapeProblem(claim: unknown): string | undefined {
  if (typeof claim !== 'object' || claim === null) return 'claim: expected an object';
  const c = claim as Record<string, unknown>;
  if (!SIGNED_ACTION_KINDS.includes(c.action as SignedActionKind)) {
    return `claim.action: expected one of ${SIGNED_ACTION_KINDS.join(', ')}`;
  }
  const text = (key: string, max: number, required: boolean): string | undefined => {
    const v = c[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v.length === 0) return `claim.${key}: expected a non-empty string`;
    if (v.length > max) return `claim.${key}: at most ${max} characters`;
    return undefined;
  };
  return (
    text('campaign', CLAIM_LIMITS.name, true) ??
    text('runChain', CLAIM_LIMITS.name, true) ??
    text('wave', CLAIM_LIMITS.name, false) ??
    text('cluster', CLAIM_LIMITS.name, false) ??
    text('actor', CLAIM_LIMITS.actor, true) ??
    text('comment', CLAIM_LIMITS.comment, false) ??
    text('issuedAt', 40, true) ??
    text('expiresAt', 40, true) ??
    (Number.isFinite(Date.parse(c.issuedAt as string)) ? undefined : 'claim.issuedAt: not an ISO 8601 time') ??
    (Number.isFinite(Date.parse(c.expiresAt as string)) ? undefined : 'claim.expiresAt: not an ISO 8601 time')
  );
}

/**
 * How far in the future (by the workflow clock) a claim's issuedAt may lie: operators' clocks
 * drift a little; a claim issued later than this is refused.
 */
export const CLAIM_CLOCK_SKEW_MS = 2 * 60_000;

/** What a signed claim must match: the request it came with and the workflow it reached. */
export interface ClaimContext {
  /** The campaign's name (metadata.name). */
  campaign: string;
  /** The campaign's `workflowInfo().firstExecutionRunId`. */
  runChain: string;
  action: SignedActionKind;
  /** The wave of an approval (absent for other actions). */
  wave?: string;
  /** The cluster of a skip or retry (absent for other actions). */
  cluster?: string;
  /** Who the request says acts: the approver, or `by` of an operator action. */
  actor: string;
  /** The request's comment or reason. */
  comment?: string;
  /** Workflow time, ms since the epoch. */
  now: number;
}

/**
 * Why a claim does not fit its context, or undefined when it does. A verified signature only
 * proves that its key signed the claim; this proves the claim says what the request asks, here,
 * now: the same campaign and run chain (a signature for another campaign, or for an earlier
 * campaign of the same name, never counts), the same action on the same wave or cluster, the
 * same actor and comment, not expired, not issued in the future beyond {@link CLAIM_CLOCK_SKEW_MS}.
 *
 * Decision inputs: the claim's fields and the context's; nothing else.
 */
export function claimContextProblem(claim: ActionClaim, context: ClaimContext): string | undefined {
  const same = (field: string, signed: string | undefined, asked: string | undefined): string | undefined =>
    (signed || undefined) === (asked || undefined)
      ? undefined
      : `the signed claim's ${field} (${quoted(signed)}) is not the request's (${quoted(asked)})`;
  const problem =
    same('campaign', claim.campaign, context.campaign) ??
    same('runChain', claim.runChain, context.runChain) ??
    same('action', claim.action, context.action) ??
    same('wave', claim.wave, context.wave) ??
    same('cluster', claim.cluster, context.cluster) ??
    same('actor', claim.actor, context.actor) ??
    same('comment', claim.comment, context.comment);
  if (problem) return problem;
  const issuedAt = Date.parse(claim.issuedAt);
  const expiresAt = Date.parse(claim.expiresAt);
  if (!Number.isFinite(issuedAt) || !Number.isFinite(expiresAt))
    return 'the signed claim has no valid issuedAt/expiresAt';
  if (expiresAt <= issuedAt)
    return `the signed claim expires (${claim.expiresAt}) before it was issued (${claim.issuedAt})`;
  if (expiresAt <= context.now) return `the signed claim expired at ${claim.expiresAt}`;
  if (issuedAt > context.now + CLAIM_CLOCK_SKEW_MS) {
    return `the signed claim is issued in the future (${claim.issuedAt}); check the signer's clock`;
  }
  return undefined;
}

function quoted(value: string | undefined): string {
  return value === undefined || value === ''
    ? 'none'
    : JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Why a signed claim as carried in a request (claim and armored signature) is malformed, or undefined. */
export function signedClaimShapeProblem(signed: unknown): string | undefined {
  if (typeof signed !== 'object' || signed === null) return 'signed: expected { claim, signature }';
  const s = signed as Record<string, unknown>;
  if (typeof s.signature !== 'string' || s.signature.length === 0)
    return 'signed.signature: expected a non-empty string';
  if (s.signature.length > CLAIM_LIMITS.signature) {
    return `signed.signature: at most ${CLAIM_LIMITS.signature} characters`;
  }
  const problem = claimShapeProblem(s.claim);
  return problem ? `signed.${problem}` : undefined;
}

/**
 * Why a free-text field of a request is unacceptable, or undefined: not a string, empty (when
 * required) or longer than `max`. Over-long text is refused, never silently truncated: what a
 * signature covers must be what the audit trail keeps.
 */
export function textFieldProblem(path: string, value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') return `${path}: expected a string`;
  if (required && value.trim().length === 0) return `${path}: must not be empty`;
  if (value.length > max) return `${path}: at most ${max} characters (got ${value.length})`;
  return undefined;
}

/**
 * What identifies a signed claim once it was used: the action, its target, the key that signed
 * and the issue time. The workflow keeps these until the claims expire, so a claim is used once
 * (a signed `resume` cannot be sent again to resume the next time the budget is exceeded).
 */
export function claimUseKey(claim: ActionClaim, fingerprint: string | undefined): string {
  return [claim.action, claim.wave ?? claim.cluster ?? '', fingerprint ?? claim.actor, claim.issuedAt].join('|');
}
