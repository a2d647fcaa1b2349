/**
 * Real OpenSSH keys and signatures for the signed-action tests: keys made with `ssh-keygen -t
 * ed25519 | ecdsa` in a temporary directory, signatures with `ssh-keygen -Y sign`, checks with
 * `ssh-keygen -Y verify`, and an `ssh-agent` on a socket of its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalClaimText, type ActionClaim, type SignedClaim } from '../../domain/signed-actions';

/** A key pair on disk. */
export interface TestKey {
  /** Private key file (no passphrase). */
  file: string;
  pub: string;
  /** The public key line (`TYPE BASE64 COMMENT`). */
  line: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** A temporary directory for keys and policies; remove it with `fs.rmSync(dir, { recursive: true })`. */
export function tempDir(prefix = 'fleetwave-sign-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function check(result: ReturnType<typeof spawnSync>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} failed: ${String(result.stderr)}`);
  return String(result.stdout);
}

/** `ssh-keygen -t ed25519` or `-t ecdsa -b 256`, no passphrase. */
export function generateKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' = 'ed25519'): TestKey {
  const file = path.join(dir, name);
  const args = ['-q', '-t', type, ...(type === 'ecdsa' ? ['-b', '256'] : []), '-N', '', '-C', name, '-f', file];
  check(spawnSync('ssh-keygen', args, { encoding: 'utf8' }), 'ssh-keygen -t');
  const fingerprint = check(
    spawnSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }),
    'ssh-keygen -l',
  );
  return {
    file,
    pub: `${file}.pub`,
    line: fs.readFileSync(`${file}.pub`, 'utf8').trim(),
    fingerprint: fingerprint.split(' ')[1] as string,
  };
}

/** `ssh-keygen -Y sign -n NAMESPACE -f KEY` over `text`; the armored signature. */
export function sshSign(text: string, keyFile: string, namespace = 'fleetwave', env?: NodeJS.ProcessEnv): string {
  const result = spawnSync('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', keyFile], {
    input: text,
    encoding: 'utf8',
    env: env ?? process.env,
  });
  return check(result, 'ssh-keygen -Y sign');
}

/** A claim signed by `ssh-keygen -Y sign` (namespace fleetwave unless given). */
export function signWithSshKeygen(claim: ActionClaim, keyFile: string, namespace = 'fleetwave'): SignedClaim {
  return { claim, signature: sshSign(canonicalClaimText(claim), keyFile, namespace) };
}

/** `ssh-keygen -Y verify -f ALLOWED -I PRINCIPAL -n fleetwave -s SIG < TEXT`: exit status and output. */
export function sshVerify(
  dir: string,
  allowedSigners: string,
  principal: string,
  text: string,
  signature: string,
): { status: number | null; output: string } {
  const allowed = path.join(dir, `verify-allowed-${process.hrtime.bigint()}`);
  const sig = `${allowed}.sig`;
  fs.writeFileSync(allowed, allowedSigners);
  fs.writeFileSync(sig, signature);
  const result = spawnSync(
    'ssh-keygen',
    ['-Y', 'verify', '-f', allowed, '-I', principal, '-n', 'fleetwave', '-s', sig],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** An ssh-agent on its own socket, stopped by `stop()` (kills only the agent this started). */
export async function startAgent(dir: string): Promise<{ env: NodeJS.ProcessEnv; stop: () => void }> {
  const sock = path.join(dir, 'agent.sock');
  // -D: stays in the foreground as this child, so its pid is known and killed by us alone.
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  if (!fs.existsSync(sock)) {
    agent.kill();
    throw new Error('ssh-agent did not create its socket');
  }
  return { env: { ...process.env, SSH_AUTH_SOCK: sock }, stop: () => agent.kill() };
}

/** `ssh-add KEY` to the agent at `env.SSH_AUTH_SOCK`. */
export function agentAdd(env: NodeJS.ProcessEnv, keyFile: string): void {
  check(spawnSync('ssh-add', ['-q', keyFile], { env, encoding: 'utf8' }), 'ssh-add');
}
