/**
 * The fleet approval policy's checks of operator actions (domain/signed-actions.ts): who may
 * approve and act, with which SSH keys, and whether an unsigned action may pass by name only.
 *
 * The policy belongs to platform admins and lives on the worker (FLEETWAVE_APPROVAL_POLICY, a
 * YAML file, e.g. from a Kubernetes Secret), never in a campaign spec. A worker without a policy
 * lets every action through by name only and says so (`mode: 'no-policy'`), which suits demos and
 * nothing else.
 *
 * Why signatures are checked here, with node:crypto, and not in the workflow with a pure library
 * such as @noble/curves: no new dependency (Ed25519 and P-256 come from the OpenSSL that Node.js
 * ships); the policy and its keys stay on the worker, out of workflow inputs and histories; a key
 * an admin adds or removes counts from the next check, with no workflow to update. The workflow
 * calls verifyAction as a local activity, so the verdict is recorded in the history (a marker)
 * and replay needs neither the policy nor the keys. The workflow itself checks the claim against
 * its own context (campaign, run chain, wave or cluster, expiry against workflow time); this
 * module checks that the signature covers exactly the claim given, made by a key the policy lists
 * for the actor.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../domain/load';
import {
  canonicalClaimText,
  claimShapeProblem,
  CLAIM_LIMITS,
  SIGNATURE_NAMESPACE,
  SIGNED_ACTION_KINDS,
  type PolicySummary,
  type SignedActionKind,
} from '../domain/signed-actions';
import {
  bytesEqual,
  formatFingerprint,
  matchPatternList,
  parseAllowedSigners,
  parseArmoredSignature,
  signedDataBlob,
  SshFormatError,
  type AllowedSigner,
  type SignerTime,
  type Sshsig,
  type SshPublicKey,
} from '../domain/sshsig';
import { activityRuntime, type ActivityLogger } from './context';
import type { VerifyActionInput, VerifyActionResult } from './types';

/** Largest policy or allowed_signers file read (both are small text files). */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** Operator actions signed by default: those that widen risk (pause only narrows it). */
export const DEFAULT_SIGNED_ACTIONS: SignedActionKind[] = ['approve', 'resume', 'skip', 'retry', 'abort', 'rollback'];

const principalName = z
  .string()
  .trim()
  .min(1, { message: 'must not be empty' })
  .max(CLAIM_LIMITS.actor, { message: `at most ${CLAIM_LIMITS.actor} characters` });

/** The policy file's schema; every field documents its default. */
export const approvalPolicySchema = z
  .object({
    allowedSigners: z
      .string()
      .trim()
      .min(1, { message: 'must be a file path' })
      .optional()
      .describe('OpenSSH allowed_signers file, relative to the policy file. Give this or `signers`.'),
    signers: z.array(z.string()).optional().describe('allowed_signers lines inline. Give this or `allowedSigners`.'),
    groups: z
      .record(
        z.string().regex(/^[A-Za-z0-9._-]+$/, { message: 'group names are letters, digits, ".", "_" and "-"' }),
        z.array(principalName).refine((m) => new Set(m).size === m.length, { message: 'lists a member twice' }),
      )
      .default({})
      .describe('Named groups of principals, which a campaign spec may require for a wave. Default: none.'),
    nameOnlyApprovals: z
      .boolean()
      .default(false)
      .describe('Accept unsigned approvals by name only (demos). Default: false.'),
    signedActions: z
      .array(z.enum(SIGNED_ACTION_KINDS, { message: `must be one of ${SIGNED_ACTION_KINDS.join(', ')}` }))
      .refine((a) => new Set(a).size === a.length, { message: 'lists an action twice' })
      .optional()
      .describe(`Operator actions that need a signature. Default: ${DEFAULT_SIGNED_ACTIONS.join(', ')}.`),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.allowedSigners === undefined) === (v.signers === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedSigners'],
        message: 'give exactly one of allowedSigners or signers',
      });
    }
    if (v.nameOnlyApprovals && v.signedActions?.includes('approve')) {
      ctx.addIssue({
        code: 'custom',
        path: ['signedActions'],
        message: 'lists approve, but nameOnlyApprovals: true accepts unsigned approvals',
      });
    }
  });

/** A loaded, validated fleet approval policy. */
export interface ApprovalPolicy {
  /** The policy file. */
  file: string;
  /** Where the signers came from: the allowed_signers file, or the policy file for inline `signers`. */
  signersFile: string;
  signers: AllowedSigner[];
  /** allowed_signers lines that are well-formed but not used, and why. */
  ignored: { line: number; reason: string }[];
  groups: Record<string, string[]>;
  summary: PolicySummary;
}

/** The policy file (or its allowed_signers) is unreadable or invalid; `problems` name file and field. */
export class ApprovalPolicyError extends Error {
  /** Exit code for bad input. */
  readonly exitCode = 2;
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ApprovalPolicyError';
  }
}

/**
 * Reads a regular file of at most {@link MAX_POLICY_FILE_BYTES}: the type and size are checked
 * before a byte is read, and the file is opened non-blocking, so a FIFO or device never hangs or
 * floods the worker.
 */
export function readPolicyText(file: string, what: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new ApprovalPolicyError([`${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  if (!stat.isFile()) throw new ApprovalPolicyError([`${what} ${file}: not a regular file`]);
  if (stat.size > MAX_POLICY_FILE_BYTES) {
    throw new ApprovalPolicyError([`${what} ${file}: larger than ${MAX_POLICY_FILE_BYTES} bytes`]);
  }
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) throw new ApprovalPolicyError([`${what} ${file}: not a regular file`]);
    const buffer = Buffer.alloc(MAX_POLICY_FILE_BYTES + 1);
    const length = fs.readSync(fd, buffer, 0, buffer.length, 0);
    if (length > MAX_POLICY_FILE_BYTES) {
      throw new ApprovalPolicyError([`${what} ${file}: larger than ${MAX_POLICY_FILE_BYTES} bytes`]);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Line of the YAML node at `path` (or its nearest parent), for error messages. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, at: PropertyKey[]): number | undefined {
  for (let n = at.length; n >= 0; n--) {
    const parentPath = at.slice(0, n - 1) as (string | number)[];
    const last = at[n - 1];
    if (n > 0 && typeof last === 'string') {
      const parent = doc.getIn(parentPath, true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
        if (pair && isNode(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]).line;
      }
    }
    const node = n === 0 ? doc.contents : doc.getIn(at.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/**
 * Reads and validates the fleet approval policy at `file` and the allowed_signers it names.
 * Throws {@link ApprovalPolicyError} whose lines name the file, the line and the field.
 */
export function loadApprovalPolicy(file: string): ApprovalPolicy {
  const text = readPolicyText(file, 'approval policy');
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    throw new ApprovalPolicyError(
      doc.errors.map((e) => `${file}:${counter.linePos(e.pos[0]).line}: YAML syntax: ${e.message.split('\n')[0]}`),
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ApprovalPolicyError([`${file}: must be a YAML mapping with allowedSigners or signers`]);
  }
  const parsed = approvalPolicySchema.safeParse(data);
  if (!parsed.success) {
    throw new ApprovalPolicyError(
      parsed.error.issues.flatMap((issue) => {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        return keys.map((key) => {
          const at = key === undefined ? issue.path : [...issue.path, key];
          const line = lineOf(doc, counter, at);
          const message = key !== undefined ? 'unknown field' : issue.message;
          return `${file}${line ? `:${line}` : ''}: ${formatPath(at) || '(document)'}: ${message}`;
        });
      }),
    );
  }
  const policy = parsed.data;

  const signersFile = policy.allowedSigners ? path.resolve(path.dirname(file), policy.allowedSigners) : file;
  const signersText = policy.allowedSigners
    ? readPolicyText(signersFile, `allowedSigners of ${file}:`)
    : (policy.signers ?? []).join('\n');
  const signers = parseAllowedSigners(signersText);
  if (signers.errors.length > 0) {
    throw new ApprovalPolicyError(
      signers.errors.map((e) =>
        policy.allowedSigners
          ? `${signersFile}:${e.line}: ${e.message}`
          : `${file}: signers[${e.line - 1}]: ${e.message}`,
      ),
    );
  }

  const signedActions = policy.nameOnlyApprovals
    ? (policy.signedActions ?? DEFAULT_SIGNED_ACTIONS.filter((a) => a !== 'approve'))
    : [...new Set<SignedActionKind>(['approve', ...(policy.signedActions ?? DEFAULT_SIGNED_ACTIONS)])];
  return {
    file,
    signersFile,
    signers: signers.signers,
    ignored: signers.ignored,
    groups: policy.groups,
    summary: {
      mode: policy.nameOnlyApprovals ? 'name-only-allowed' : 'signed',
      signedActions: SIGNED_ACTION_KINDS.filter((a) => signedActions.includes(a)),
    },
  };
}

// ---------------------------------------------------------------------------------------
// Signatures (node:crypto)

/** `SHA256:…` fingerprint of a key, as `ssh-keygen -l` prints it. */
export function keyFingerprint(key: SshPublicKey): string {
  return formatFingerprint(crypto.createHash('sha256').update(key.blob).digest());
}

function publicKeyObject(key: SshPublicKey): crypto.KeyObject {
  const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  if (key.type === 'ssh-ed25519') {
    return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(key.point) }, format: 'jwk' });
  }
  return crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(key.point.subarray(1, 33)), y: b64url(key.point.subarray(33, 65)) },
    format: 'jwk',
  });
}

/**
 * Whether `sig` is a valid SSHSIG over `message` (PROTOCOL.sshsig): the message is hashed with
 * the signature's hash algorithm, and the key signed the resulting "signed data" blob (Ed25519
 * directly; ECDSA P-256 over its SHA-256, r ‖ s in IEEE P1363 form).
 */
export function verifySshsig(sig: Sshsig, message: Uint8Array): boolean {
  const digest = crypto.createHash(sig.hashAlgorithm).update(message).digest();
  const data = signedDataBlob(sig, digest);
  let key: crypto.KeyObject;
  try {
    key = publicKeyObject(sig.publicKey);
  } catch {
    return false; // an ECDSA point not on the curve: no signature by it can be valid
  }
  if (sig.publicKey.type === 'ssh-ed25519') return crypto.verify(null, data, key, sig.signature);
  return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig.signature);
}

/** A signer time as epoch ms: UTC with `Z`, else the worker's local time (as ssh-keygen reads it). */
function signerTimeMs(t: SignerTime): number {
  return t.utc
    ? Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second)
    : new Date(t.year, t.month - 1, t.day, t.hour, t.minute, t.second).getTime();
}

/**
 * The verdict on a signed action under `policy` at time `now`. The claim must be well-formed and
 * name the same action and actor as the request, the signature must be an SSHSIG in namespace
 * `fleetwave` over exactly canonicalClaimText(claim), and an allowed_signers line must list the
 * key for the actor, for that namespace, at that time.
 */
export function verifySignedAction(policy: ApprovalPolicy, input: VerifyActionInput, now: Date): VerifyActionResult {
  const refuse = (reason: string): VerifyActionResult => ({ ok: false, reason, policy: policy.summary });
  const signed = input.signed;
  if (!signed) return refuse('no signature');
  const shape = claimShapeProblem(signed.claim);
  if (shape) return refuse(`signed ${shape}`);
  const { claim } = signed;
  if (claim.action !== input.action) {
    return refuse(`signed claim is for action '${claim.action}' but the request is '${input.action}'`);
  }
  if (claim.actor !== input.actor) {
    return refuse(`signed claim names actor '${claim.actor}' but the request names '${input.actor}'`);
  }
  if (typeof signed.signature !== 'string' || signed.signature.length > CLAIM_LIMITS.signature) {
    return refuse(`signature: expected an armored SSHSIG of at most ${CLAIM_LIMITS.signature} characters`);
  }
  let sig: Sshsig;
  try {
    sig = parseArmoredSignature(signed.signature);
  } catch (err) {
    if (err instanceof SshFormatError) return refuse(err.message);
    throw err;
  }
  if (sig.namespace !== SIGNATURE_NAMESPACE) {
    return refuse(`signature is for namespace '${sig.namespace}', not '${SIGNATURE_NAMESPACE}'`);
  }
  const fingerprint = keyFingerprint(sig.publicKey);
  const refuseKey = (reason: string): VerifyActionResult => ({
    ok: false,
    reason,
    fingerprint,
    policy: policy.summary,
  });
  if (!verifySshsig(sig, new TextEncoder().encode(canonicalClaimText(claim)))) {
    return refuseKey(
      `signature by key ${fingerprint} does not match the claim (the claim was changed after signing, or signed by another key)`,
    );
  }

  const lines = policy.signers.filter((s) => bytesEqual(s.key.blob, sig.publicKey.blob));
  const forActor = lines.filter((s) => matchPatternList(claim.actor, s.principals));
  const where = `allowed_signers (${policy.signersFile})`;
  if (forActor.length === 0) {
    const others = lines.length > 0 ? ` (it is listed for ${lines.map((s) => s.principals).join(', ')})` : '';
    return refuseKey(`key ${fingerprint} is not listed for ${claim.actor} in ${where}${others}`);
  }
  const problems: string[] = [];
  for (const line of forActor) {
    if (line.namespaces !== undefined && !matchPatternList(SIGNATURE_NAMESPACE, line.namespaces)) {
      problems.push(`line ${line.line} limits it to namespaces "${line.namespaces}"`);
    } else if (line.validAfter && now.getTime() < signerTimeMs(line.validAfter)) {
      problems.push(`line ${line.line} makes it valid only after ${line.validAfter.text}`);
    } else if (line.validBefore && now.getTime() >= signerTimeMs(line.validBefore)) {
      problems.push(`line ${line.line} made it valid only before ${line.validBefore.text}`);
    } else {
      return {
        ok: true,
        principal: claim.actor,
        signed: true,
        fingerprint,
        groups: groupsOf(policy, claim.actor),
        policy: policy.summary,
      };
    }
  }
  return refuseKey(`key ${fingerprint} of ${claim.actor} is not valid now in ${where}: ${problems.join('; ')}`);
}

function groupsOf(policy: ApprovalPolicy, principal: string): string[] {
  return Object.entries(policy.groups)
    .filter(([, members]) => members.includes(principal))
    .map(([name]) => name)
    .sort();
}

/** Whether `action` needs a signature under `summary`. */
export function actionNeedsSignature(summary: PolicySummary, action: SignedActionKind): boolean {
  return summary.signedActions.includes(action);
}

// ---------------------------------------------------------------------------------------
// The activities

/** Options of {@link createApprovalActivities}. */
export interface ApprovalActivityOptions {
  /** The fleet approval policy file (FLEETWAVE_APPROVAL_POLICY). Absent: no policy. */
  policyFile?: string;
  /** Clock for allowed_signers validity windows. Default: `() => new Date()`. */
  now?: () => Date;
  /** Used outside an activity context. */
  logger?: ActivityLogger;
}

const NO_POLICY: PolicySummary = { mode: 'no-policy', signedActions: [] };

/** What identifies a version of a file: a change of any part means it was rewritten or replaced. */
function fileStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The approval activities. Without `policyFile`: the no-policy behaviour (name only, signatures
 * refused). With it: the policy is loaded at once (an invalid one throws
 * {@link ApprovalPolicyError}, so the worker does not start) and reloaded when the policy file or
 * its allowed_signers file changes (size, mtime or inode: a Kubernetes Secret update swaps a
 * symlink), so admins rotate keys without restarting workers. A policy that becomes invalid
 * refuses every action, signed or not, until it is fixed: a half-edited file must not keep a
 * revoked key valid.
 */
export function createApprovalActivities(opts: ApprovalActivityOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const policyFile = opts.policyFile ? path.resolve(opts.policyFile) : undefined;

  // The files the policy was read from, and their stamps when it was: a change to either reloads it.
  let watched: string[] = [];
  let state: { stamp: string; policy: ApprovalPolicy | string } | undefined;
  const stampNow = () => watched.map(fileStamp).join('|');
  if (policyFile) {
    const policy = loadApprovalPolicy(policyFile);
    watched = [policyFile, policy.signersFile];
    state = { stamp: stampNow(), policy };
  }

  /** The policy in force, reloaded if its files changed; the problem text while it is invalid. */
  const policyNow = (): ApprovalPolicy | string | undefined => {
    if (!policyFile || !state) return undefined;
    const stamp = stampNow();
    if (stamp === state.stamp) return state.policy;
    const log = activityRuntime(opts.logger).log;
    try {
      const policy = loadApprovalPolicy(policyFile);
      watched = [policyFile, policy.signersFile];
      state = { stamp: stampNow(), policy };
      log.info('fleet approval policy reloaded', { file: policyFile, signers: policy.signers.length });
    } catch (err) {
      const problem = err instanceof ApprovalPolicyError ? err.message : String(err);
      state = { stamp, policy: problem };
      log.error('fleet approval policy is invalid: refusing every operator action until it is fixed', {
        file: policyFile,
        problem,
      });
    }
    return state.policy;
  };

  return {
    async describeApprovalPolicy(): Promise<PolicySummary> {
      const policy = policyNow();
      if (policy === undefined) return NO_POLICY;
      // An unusable policy refuses everything: summarised as signatures required for every action.
      if (typeof policy === 'string') return { mode: 'signed', signedActions: [...SIGNED_ACTION_KINDS] };
      return policy.summary;
    },

    async verifyAction(input: VerifyActionInput): Promise<VerifyActionResult> {
      const policy = policyNow();
      if (policy === undefined) {
        if (input.signed) {
          return {
            ok: false,
            reason:
              'this worker has no fleet approval policy (FLEETWAVE_APPROVAL_POLICY), so no signature can be checked',
            policy: NO_POLICY,
          };
        }
        return { ok: true, principal: input.actor, signed: false, groups: [], policy: NO_POLICY };
      }
      if (typeof policy === 'string') {
        return {
          ok: false,
          reason: `the worker's fleet approval policy is invalid, so no action is accepted: ${policy}`,
          policy: { mode: 'signed', signedActions: [...SIGNED_ACTION_KINDS] },
        };
      }
      if (input.signed) return verifySignedAction(policy, input, now());
      if (actionNeedsSignature(policy.summary, input.action)) {
        return {
          ok: false,
          reason:
            input.action === 'approve'
              ? `the fleet approval policy requires signed approvals (fleetwave approve --sign-key); '${input.actor}' sent a name only`
              : `the fleet approval policy requires '${input.action}' to be signed (--sign-key); '${input.actor}' sent a name only`,
          policy: policy.summary,
        };
      }
      return {
        ok: true,
        principal: input.actor,
        signed: false,
        groups: groupsOf(policy, input.actor),
        policy: policy.summary,
      };
    },
  };
}
