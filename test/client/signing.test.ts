/**
 * `fleetwave approve --sign-key` and the operator commands' signing, through the real CLI and the
 * real ssh-keygen: the bytes the CLI signed are accepted by `ssh-keygen -Y verify` and by the
 * worker's verifyAction; the run chain comes from describing `campaign/<name>` on a real Temporal
 * server; bad signing flags exit 2 naming the flag before anything is contacted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalActivities } from '../../activities/approvals';
import { canonicalClaimText, type SignedClaim } from '../../domain/signed-actions';
import type { ApproveInput } from '../../workflows/definitions';
import { runCli } from '../helpers/cli';
import { getTestTemporal } from '../helpers/temporal';
import { agentAdd, generateKey, sshVerify, startAgent, tempDir, type TestKey } from '../helpers/ssh-keys';

let dir: string;
let alice: TestKey;
let policyFile: string;
/** Nothing listens here: a command that tried to connect would fail with exit 1, not 2. */
const UNREACHABLE = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

beforeAll(() => {
  dir = tempDir();
  alice = generateKey(dir, 'alice');
  fs.writeFileSync(path.join(dir, 'allowed_signers'), `alice ${alice.line}\n`);
  policyFile = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policyFile, 'allowedSigners: allowed_signers\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const printSignal = (extra: string[], env: Record<string, string | undefined> = {}) =>
  runCli(
    ['approve', 'k8s-131', '--wave', 'canary', '--as', 'alice', '--print-signal', '--run-chain', 'run-1', ...extra],
    { env: { ...UNREACHABLE, ...env } },
  );

describe('fleetwave approve --sign-key --print-signal', () => {
  it('prints the approve Signal input, signed: ssh-keygen -Y verify and verifyAction accept the bytes', async () => {
    const before = Date.now();
    const run = await printSignal(['--comment', 'dashboards green', '--sign-key', alice.file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const input = JSON.parse(run.stdout) as ApproveInput;
    const signed = input.signed as SignedClaim;
    expect(input).toMatchObject({ wave: 'canary', approver: 'alice', comment: 'dashboards green' });
    expect(signed.claim).toMatchObject({
      action: 'approve',
      campaign: 'k8s-131',
      runChain: 'run-1',
      wave: 'canary',
      actor: 'alice',
      comment: 'dashboards green',
    });
    const issued = Date.parse(signed.claim.issuedAt);
    expect(issued).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(signed.claim.expiresAt) - issued).toBe(15 * 60_000);

    const verify = sshVerify(dir, `alice ${alice.line}\n`, 'alice', canonicalClaimText(signed.claim), signed.signature);
    expect(verify.output).toContain('Good "fleetwave" signature for alice');
    expect(verify.status).toBe(0);
    // The same bytes with one field changed: ssh-keygen refuses them too.
    const other = canonicalClaimText({ ...signed.claim, wave: 'prod' });
    expect(sshVerify(dir, `alice ${alice.line}\n`, 'alice', other, signed.signature).status).not.toBe(0);

    const { verifyAction } = createApprovalActivities({ policyFile });
    expect(await verifyAction({ action: 'approve', actor: 'alice', signed })).toMatchObject({
      ok: true,
      signed: true,
      fingerprint: alice.fingerprint,
    });
  });

  it('signs with the .pub file through ssh-agent, and honours --valid-for', async () => {
    const agent = await startAgent(dir);
    try {
      agentAdd(agent.env, alice.file);
      const run = await printSignal(['--sign-key', alice.pub, '--valid-for', '2h'], {
        SSH_AUTH_SOCK: agent.env.SSH_AUTH_SOCK,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const { claim, signature } = (JSON.parse(run.stdout) as ApproveInput).signed as SignedClaim;
      expect(Date.parse(claim.expiresAt) - Date.parse(claim.issuedAt)).toBe(2 * 3_600_000);
      expect(sshVerify(dir, `alice ${alice.line}\n`, 'alice', canonicalClaimText(claim), signature).status).toBe(0);
    } finally {
      agent.stop();
    }
  });

  it('prints an unsigned input without --sign-key', async () => {
    const run = await runCli(['approve', 'k8s-131', '--wave', 'canary', '--as', 'bob', '--print-signal'], {
      env: UNREACHABLE,
    });
    // Without --run-chain and without a key nothing needs Temporal.
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ wave: 'canary', approver: 'bob' });
  });

  it('looks the run chain up from campaign/<name> on Temporal when --run-chain is not given', async () => {
    const temporal = await getTestTemporal();
    const name = `sign-${Date.now()}`;
    const handle = await temporal.client.workflow.start('campaign', {
      workflowId: `campaign/${name}`,
      taskQueue: temporal.taskQueue('no-worker'),
      args: [],
    });
    try {
      const run = await runCli(
        ['approve', name, '--wave', 'canary', '--as', 'alice', '--sign-key', alice.file, '--print-signal'],
        { env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace } },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const { claim } = (JSON.parse(run.stdout) as ApproveInput).signed as SignedClaim;
      expect(claim.campaign).toBe(name);
      expect(claim.runChain).toBe(handle.firstExecutionRunId);
    } finally {
      await handle.terminate('test over');
    }
  });
});

describe('signing flags: exit 2 naming the flag, nothing contacted', () => {
  it.each([
    [
      'a missing key file',
      ['--sign-key', '/nonexistent/id_ed25519'],
      /^error: --sign-key: \/nonexistent\/id_ed25519: no such file/,
    ],
    ['a directory as key', ['--sign-key', '/tmp'], /^error: --sign-key: \/tmp: not a regular file/],
    [
      'a validity over 24h',
      ['--sign-key', 'KEY', '--valid-for', '48h'],
      /^error: --valid-for: "48h" is longer than 24h/,
    ],
    [
      'a validity that is no duration',
      ['--sign-key', 'KEY', '--valid-for', 'soon'],
      /^error: --valid-for: "soon" is not a positive duration/,
    ],
    ['--valid-for without a key', ['--valid-for', '1h'], /^error: --valid-for: only with --sign-key/],
  ])('approve with %s', async (_what, flags, message) => {
    const run = await printSignal(flags.map((f) => (f === 'KEY' ? alice.file : f)));
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  });

  it('shows ssh-keygen failing: a .pub file with no agent holding its key', async () => {
    // ssh-keygen falls back to the private key next to a .pub: this .pub has none.
    const lonely = path.join(dir, 'lonely');
    fs.mkdirSync(lonely, { recursive: true });
    fs.copyFileSync(alice.pub, path.join(lonely, 'alice.pub'));
    const run = await printSignal(['--sign-key', path.join(lonely, 'alice.pub')], { SSH_AUTH_SOCK: undefined });
    expect(run.stderr).toMatch(/^error: --sign-key: ssh-keygen -Y sign with \S+alice\.pub failed \(exit \d+\): \S/);
    expect(run.code).toBe(2);
  });

  it('says when ssh-keygen is not installed', async () => {
    const run = await printSignal(['--sign-key', alice.file], { PATH: path.join(dir, 'empty-path') });
    expect(run.stderr).toMatch(/^error: --sign-key: ssh-keygen not found on PATH/);
    expect(run.code).toBe(2);
  });

  it.each([
    ['pause', ['pause', 'k8s-131']],
    ['resume', ['resume', 'k8s-131']],
    ['abort', ['abort', 'k8s-131', '--reason', 'stop']],
    ['skip', ['skip', 'k8s-131', '--cluster', 'c1']],
    ['retry', ['retry', 'k8s-131', '--cluster', 'c1']],
  ])('%s takes --sign-key and --valid-for, checked before connecting', async (_name, args) => {
    const missing = await runCli([...args, '--sign-key', '/nonexistent/key'], { env: UNREACHABLE });
    expect(missing.stderr).toMatch(/^error: --sign-key: \/nonexistent\/key: no such file/);
    expect(missing.code).toBe(2);
    const long = await runCli([...args, '--sign-key', alice.file, '--valid-for', '25h'], { env: UNREACHABLE });
    expect(long.stderr).toMatch(/^error: --valid-for: "25h" is longer than 24h/);
    expect(long.code).toBe(2);
  });
});
