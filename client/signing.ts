/**
 * Signing operator actions with an SSH key, the way git signs commits: `ssh-keygen -Y sign -n
 * fleetwave -f KEY` over the claim's canonical text (domain/signed-actions.ts), stdin to stdout.
 * KEY is a private key file, or a `.pub` file whose private half ssh-agent holds (ssh-keygen then
 * asks the agent at SSH_AUTH_SOCK). A passphrase prompt goes to the terminal, never through us.
 *
 * The worker's fleet approval policy checks the result (activities/approvals.ts), and
 * `ssh-keygen -Y verify -n fleetwave -I WHO -f allowed_signers -s SIG < TEXT` accepts the same bytes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../domain/duration';
import {
  canonicalClaimText,
  claimShapeProblem,
  SIGNATURE_NAMESPACE,
  type ActionClaim,
  type SignedClaim,
} from '../domain/signed-actions';
import { InvalidInputError } from './errors';

/** How long a signed claim stays valid unless `--valid-for` says otherwise. */
export const DEFAULT_VALID_FOR = '15m';
/** The longest `--valid-for`: a signature is an authorisation for one moment, not a standing one. */
export const MAX_VALID_FOR_MS = 24 * 60 * 60_000;
/** ssh-keygen gets this long (a passphrase prompt or an agent confirmation included). */
const SIGN_TIMEOUT_MS = 120_000;

/** The signing flags of an operator command, as commander parses them. */
export interface SigningFlags {
  signKey?: string;
  validFor?: string;
}

/** Adds `--sign-key` and `--valid-for` to an operator command. */
export function withSigningOptions(command: Command): Command {
  return command
    .option(
      '--sign-key <file>',
      'sign the action with this SSH key (a private key, or a .pub whose key ssh-agent holds), as the fleet approval policy may require',
    )
    .option('--valid-for <duration>', `how long the signature counts, at most 24h (default: ${DEFAULT_VALID_FOR})`);
}

/** Validated signing flags: the key file, and how long a claim made now stays valid. */
export interface SigningPlan {
  keyFile: string;
  validForMs: number;
}

/**
 * Checks the signing flags before anything is contacted: undefined when the action is unsigned,
 * else the key file (which must be a regular file; `~/` is expanded) and the validity. Bad input
 * names the flag.
 */
export function signingPlan(flags: SigningFlags): SigningPlan | undefined {
  if (flags.signKey === undefined) {
    if (flags.validFor !== undefined) throw new InvalidInputError('--valid-for: only with --sign-key');
    return undefined;
  }
  const raw = flags.signKey.trim();
  if (!raw) throw new InvalidInputError('--sign-key: must not be empty');
  const keyFile = raw === '~' || raw.startsWith('~/') ? path.join(os.homedir(), raw.slice(1)) : raw;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(keyFile);
  } catch {
    throw new InvalidInputError(`--sign-key: ${keyFile}: no such file`);
  }
  if (!stat.isFile()) throw new InvalidInputError(`--sign-key: ${keyFile}: not a regular file`);
  const validFor = flags.validFor ?? DEFAULT_VALID_FOR;
  const validForMs = parseDuration(validFor);
  if (validForMs === undefined || validForMs <= 0) {
    throw new InvalidInputError(`--valid-for: "${validFor}" is not a positive duration such as "15m" or "2h"`);
  }
  if (validForMs > MAX_VALID_FOR_MS) throw new InvalidInputError(`--valid-for: "${validFor}" is longer than 24h`);
  return { keyFile, validForMs };
}

/** The claim's times: issued now, expiring `validForMs` later. */
export function claimTimes(plan: SigningPlan, now: Date = new Date()): Pick<ActionClaim, 'issuedAt' | 'expiresAt'> {
  return {
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + plan.validForMs).toISOString(),
  };
}

/** Options of {@link signClaim}. */
export interface SignClaimOptions {
  /** The ssh-keygen to run. Default: `ssh-keygen` from PATH. */
  sshKeygen?: string;
  /** Environment of ssh-keygen (SSH_AUTH_SOCK for the agent). Default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Signs `claim` with `keyFile` through `ssh-keygen -Y sign -n fleetwave`. Errors name
 * `--sign-key` and carry ssh-keygen's own message (wrong passphrase, agent without the key...).
 */
export async function signClaim(
  claim: ActionClaim,
  keyFile: string,
  opts: SignClaimOptions = {},
): Promise<SignedClaim> {
  const shape = claimShapeProblem(claim);
  if (shape) throw new InvalidInputError(shape);
  const sshKeygen = opts.sshKeygen ?? 'ssh-keygen';
  const { code, stdout, stderr, spawnError } = await run(
    sshKeygen,
    ['-Y', 'sign', '-n', SIGNATURE_NAMESPACE, '-f', keyFile],
    canonicalClaimText(claim),
    opts.env ?? process.env,
  );
  if (spawnError?.code === 'ENOENT') {
    throw new InvalidInputError(`--sign-key: ${sshKeygen} not found on PATH (OpenSSH 8.2 or newer signs with -Y sign)`);
  }
  if (spawnError) throw new InvalidInputError(`--sign-key: cannot run ${sshKeygen}: ${spawnError.message}`);
  const problem = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && line !== 'Signing data on standard input')
    .join('; ');
  if (code !== 0) {
    throw new InvalidInputError(
      `--sign-key: ssh-keygen -Y sign with ${keyFile} failed (${code === null ? 'timed out' : `exit ${code}`})` +
        `${problem ? `: ${problem}` : ''}`,
    );
  }
  const signature = stdout.trim();
  if (!signature.startsWith('-----BEGIN SSH SIGNATURE-----')) {
    throw new InvalidInputError(`--sign-key: ssh-keygen -Y sign with ${keyFile} wrote no signature`);
  }
  return { claim, signature: `${signature}\n` };
}

function run(
  command: string,
  args: string[],
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; spawnError?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    // Our own timer rather than spawn's `timeout`, whose timer outlives a spawn that failed.
    const timer = setTimeout(() => child.kill('SIGKILL'), SIGN_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => undefined); // ssh-keygen may exit before reading (a missing key)
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, spawnError: err });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
