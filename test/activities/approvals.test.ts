/**
 * The fleet approval policy (activities/approvals.ts) against real OpenSSH: keys from
 * `ssh-keygen -t`, signatures from `ssh-keygen -Y sign` (and through ssh-agent), and the forged
 * cases refused with their reason. The workflow's own checks of the claim's context are elsewhere;
 * here: the signature covers exactly the claim given, by a key the policy lists for the actor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApprovalPolicyError,
  createApprovalActivities,
  loadApprovalPolicy,
  MAX_POLICY_FILE_BYTES,
} from '../../activities/approvals';
import { createActivities } from '../../activities/index';
import type { VerifyActionInput } from '../../activities/types';
import { canonicalClaimText, type ActionClaim } from '../../domain/signed-actions';
import {
  agentAdd,
  generateKey,
  signWithSshKeygen,
  sshSign,
  startAgent,
  tempDir,
  type TestKey,
} from '../helpers/ssh-keys';

let dir: string;
let alice: TestKey;
let bob: TestKey;
let mallory: TestKey;
let carol: TestKey;

const NOW = new Date('2026-05-01T12:00:00Z');

function claim(overrides: Partial<ActionClaim> = {}): ActionClaim {
  return {
    action: 'approve',
    campaign: 'k8s-131',
    runChain: '0196b3d2-run-chain',
    wave: 'canary',
    actor: 'alice',
    comment: 'dashboards green',
    issuedAt: '2026-05-01T11:59:00Z',
    expiresAt: '2026-05-01T12:14:00Z',
    ...overrides,
  };
}

/** Writes a policy file (and allowed_signers next to it) and returns the policy file's path. */
function writePolicy(name: string, policy: string, allowedSigners?: string): string {
  const sub = path.join(dir, name);
  fs.mkdirSync(sub, { recursive: true });
  if (allowedSigners !== undefined) fs.writeFileSync(path.join(sub, 'allowed_signers'), allowedSigners);
  fs.writeFileSync(path.join(sub, 'policy.yaml'), policy);
  return path.join(sub, 'policy.yaml');
}

function policyErrors(file: string): string[] {
  try {
    loadApprovalPolicy(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ApprovalPolicyError);
    return (err as ApprovalPolicyError).problems;
  }
  throw new Error('expected an ApprovalPolicyError');
}

let strictPolicy: string;

beforeAll(() => {
  dir = tempDir();
  alice = generateKey(dir, 'alice');
  bob = generateKey(dir, 'bob');
  mallory = generateKey(dir, 'mallory');
  carol = generateKey(dir, 'carol', 'ecdsa');
  strictPolicy = writePolicy(
    'strict',
    ['allowedSigners: allowed_signers', 'groups: { sre-leads: [alice, bob], platform: [carol] }', ''].join('\n'),
    [
      '# fleet approvers',
      `alice ${alice.line}`,
      `bob namespaces="fleetwave" ${bob.line}`,
      `carol ${carol.line}`,
      `mallory namespaces="git" ${mallory.line}`,
      '',
    ].join('\n'),
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const approval = (signed: VerifyActionInput['signed'], actor = 'alice'): VerifyActionInput => ({
  action: 'approve',
  actor,
  signed,
});

describe('verifyAction under a fleet approval policy', () => {
  it('accepts a claim signed by ssh-keygen -Y sign -n fleetwave with a listed ed25519 key', async () => {
    const { verifyAction, describeApprovalPolicy } = createApprovalActivities({
      policyFile: strictPolicy,
      now: () => NOW,
    });
    const verdict = await verifyAction(approval(signWithSshKeygen(claim(), alice.file)));
    expect(verdict).toEqual({
      ok: true,
      principal: 'alice',
      signed: true,
      fingerprint: alice.fingerprint,
      groups: ['sre-leads'],
      policy: {
        mode: 'signed',
        signedActions: ['approve', 'abort', 'resume', 'skip', 'retry', 'rollback'].sort(bySignedOrder),
      },
    });
    expect(await describeApprovalPolicy()).toEqual(verdict.policy);
  });

  it('accepts an ecdsa-sha2-nistp256 key', async () => {
    const { verifyAction } = createApprovalActivities({ policyFile: strictPolicy, now: () => NOW });
    const verdict = await verifyAction(approval(signWithSshKeygen(claim({ actor: 'carol' }), carol.file), 'carol'));
    expect(verdict).toMatchObject({
      ok: true,
      principal: 'carol',
      fingerprint: carol.fingerprint,
      groups: ['platform'],
    });
  });

  it('accepts a key restricted to namespaces="fleetwave" and an operator action', async () => {
    const { verifyAction } = createApprovalActivities({ policyFile: strictPolicy, now: () => NOW });
    const skip = claim({ action: 'skip', actor: 'bob', wave: undefined, cluster: 'prod-eu-1' });
    const verdict = await verifyAction({ action: 'skip', actor: 'bob', signed: signWithSshKeygen(skip, bob.file) });
    expect(verdict).toMatchObject({ ok: true, principal: 'bob', signed: true });
  });

  it('accepts a signature made through ssh-agent with only the .pub file', async () => {
    const agent = await startAgent(dir);
    try {
      agentAdd(agent.env, alice.file);
      const text = canonicalClaimText(claim());
      const signature = sshSign(text, alice.pub, 'fleetwave', agent.env);
      const { verifyAction } = createApprovalActivities({ policyFile: strictPolicy, now: () => NOW });
      expect(await verifyAction(approval({ claim: claim(), signature }))).toMatchObject({ ok: true, signed: true });
    } finally {
      agent.stop();
    }
  });

  describe('refuses forgeries, each with its reason', () => {
    const refusal = async (input: VerifyActionInput, policyFile = strictPolicy, now = NOW) => {
      const { verifyAction } = createApprovalActivities({ policyFile, now: () => now });
      const verdict = await verifyAction(input);
      expect(verdict.ok).toBe(false);
      return verdict.ok ? '' : verdict.reason;
    };

    it('right name, wrong key', async () => {
      const reason = await refusal(approval(signWithSshKeygen(claim(), mallory.file)));
      expect(reason).toBe(
        `key ${mallory.fingerprint} is not listed for alice in allowed_signers (${path.dirname(strictPolicy)}/allowed_signers)` +
          ' (it is listed for mallory)',
      );
    });

    it('a key in no allowed_signers line at all', async () => {
      const stranger = generateKey(dir, 'stranger');
      const reason = await refusal(approval(signWithSshKeygen(claim(), stranger.file)));
      expect(reason).toMatch(
        new RegExp(`^key ${escape(stranger.fingerprint)} is not listed for alice in allowed_signers`),
      );
      expect(reason).not.toContain('it is listed for');
    });

    it('a signature for another namespace (ssh-keygen -Y sign -n git)', async () => {
      const reason = await refusal(approval(signWithSshKeygen(claim(), alice.file, 'git')));
      expect(reason).toBe("signature is for namespace 'git', not 'fleetwave'");
    });

    it('a key the allowed_signers line limits to another namespace', async () => {
      const signed = signWithSshKeygen(claim({ actor: 'mallory' }), mallory.file);
      const reason = await refusal(approval(signed, 'mallory'));
      expect(reason).toMatch(
        /key SHA256:\S+ of mallory is not valid now in allowed_signers .*: line 5 limits it to namespaces "git"/,
      );
    });

    it.each([
      ['another wave', { wave: 'prod' }],
      ['another campaign', { campaign: 'k8s-132' }],
      ['another run chain', { runChain: 'another-run' }],
      ['a later expiry', { expiresAt: '2026-05-02T12:14:00Z' }],
      ['another comment', { comment: 'lgtm' }],
    ] as const)('a claim altered after signing: %s', async (_what, change) => {
      const signed = signWithSshKeygen(claim(), alice.file);
      const reason = await refusal(approval({ ...signed, claim: { ...signed.claim, ...change } }));
      expect(reason).toBe(
        `signature by key ${alice.fingerprint} does not match the claim (the claim was changed after signing, or signed by another key)`,
      );
    });

    it('a claim for another action or actor than the request', async () => {
      const signed = signWithSshKeygen(claim(), alice.file);
      expect(await refusal({ action: 'abort', actor: 'alice', signed })).toBe(
        "signed claim is for action 'approve' but the request is 'abort'",
      );
      expect(await refusal(approval(signed, 'bob'))).toBe(
        "signed claim names actor 'alice' but the request names 'bob'",
      );
    });

    it('outside the key validity window of allowed_signers (valid-before, valid-after)', async () => {
      const file = writePolicy(
        'window',
        'allowedSigners: allowed_signers\n',
        `alice valid-after="20260101",valid-before="20260401000000Z" ${alice.line}\n`,
      );
      const signed = signWithSshKeygen(claim(), alice.file);
      expect(await refusal(approval(signed), file)).toMatch(/line 1 made it valid only before 20260401000000Z$/);
      expect(await refusal(approval(signed), file, new Date('2025-12-01T00:00:00Z'))).toMatch(
        /line 1 makes it valid only after 20260101$/,
      );
      const { verifyAction } = createApprovalActivities({
        policyFile: file,
        now: () => new Date('2026-02-01T00:00:00Z'),
      });
      expect(await verifyAction(approval(signed))).toMatchObject({ ok: true });
    });

    it('an unsigned approval or risky action when the policy forbids name-only', async () => {
      expect(await refusal({ action: 'approve', actor: 'alice' })).toBe(
        "the fleet approval policy requires signed approvals (fleetwave approve --sign-key); 'alice' sent a name only",
      );
      expect(await refusal({ action: 'resume', actor: 'alice' })).toBe(
        "the fleet approval policy requires 'resume' to be signed (--sign-key); 'alice' sent a name only",
      );
      // pause only narrows risk: not signed by default.
      const { verifyAction } = createApprovalActivities({ policyFile: strictPolicy, now: () => NOW });
      expect(await verifyAction({ action: 'pause', actor: 'dave' })).toMatchObject({ ok: true, signed: false });
    });

    it('a signature that is not an SSHSIG, and an oversized one', async () => {
      const signed = signWithSshKeygen(claim(), alice.file);
      expect(await refusal(approval({ ...signed, signature: 'hello' }))).toBe(
        'signature: expected it to begin with -----BEGIN SSH SIGNATURE-----',
      );
      expect(await refusal(approval({ ...signed, signature: 'x'.repeat(5000) }))).toMatch(/at most 4096 characters/);
    });
  });

  it('lets name-only approvals through when the policy allows them, and says so', async () => {
    const file = writePolicy(
      'demo',
      `nameOnlyApprovals: true\nsigners:\n  - alice ${alice.line}\ngroups: { leads: [dave] }\n`,
    );
    const { verifyAction, describeApprovalPolicy } = createApprovalActivities({ policyFile: file, now: () => NOW });
    expect(await describeApprovalPolicy()).toEqual({
      mode: 'name-only-allowed',
      signedActions: ['resume', 'abort', 'skip', 'retry', 'rollback'],
    });
    expect(await verifyAction({ action: 'approve', actor: 'dave' })).toMatchObject({
      ok: true,
      principal: 'dave',
      signed: false,
      groups: ['leads'],
    });
    // A signature, when given, is still checked.
    const forged = signWithSshKeygen(claim(), mallory.file);
    expect(await verifyAction(approval(forged))).toMatchObject({ ok: false });
  });

  it('without a policy: name only, signatures refused (the test fakes and createActivities without a file)', async () => {
    const { verifyAction, describeApprovalPolicy } = createApprovalActivities();
    expect(await describeApprovalPolicy()).toEqual({ mode: 'no-policy', signedActions: [] });
    expect(await verifyAction({ action: 'approve', actor: 'x' })).toMatchObject({ ok: true, signed: false });
    const wired = createActivities({ eks: () => undefined as never, kube: () => undefined as never });
    expect(await wired.describeApprovalPolicy()).toEqual({ mode: 'no-policy', signedActions: [] });
  });

  it('createActivities wires the policy file from its deps', async () => {
    const wired = createActivities({
      eks: () => undefined as never,
      kube: () => undefined as never,
      approvalPolicyFile: strictPolicy,
      now: () => NOW,
    });
    expect(await wired.verifyAction(approval(signWithSshKeygen(claim(), alice.file)))).toMatchObject({ ok: true });
  });

  it('reloads the policy when the allowed_signers file changes: a removed key stops counting at once', async () => {
    const file = writePolicy('rotate', 'allowedSigners: allowed_signers\n', `alice ${alice.line}\n`);
    const signersFile = path.join(path.dirname(file), 'allowed_signers');
    const { verifyAction } = createApprovalActivities({ policyFile: file, now: () => NOW });
    const signed = signWithSshKeygen(claim(), alice.file);
    expect(await verifyAction(approval(signed))).toMatchObject({ ok: true });

    fs.writeFileSync(signersFile, `alice ${bob.line}\n`);
    fs.utimesSync(signersFile, new Date(), new Date(Date.now() + 5_000));
    expect(await verifyAction(approval(signed))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/is not listed for alice/),
    });

    // A broken edit refuses everything until fixed; fixing it restores service without a restart.
    fs.writeFileSync(file, 'allowedSigners: allowed_signers\nnameOnlyApprovals: maybe\n');
    expect(await verifyAction({ action: 'approve', actor: 'alice' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(
        /policy is invalid, so no action is accepted: .*policy\.yaml:2: nameOnlyApprovals: /,
      ),
    });
    fs.writeFileSync(file, 'allowedSigners: allowed_signers\n');
    fs.writeFileSync(signersFile, `alice ${alice.line}\n`);
    expect(await verifyAction(approval(signed))).toMatchObject({ ok: true });
  });
});

describe('loadApprovalPolicy', () => {
  it('names the file, line and field of each problem', () => {
    const file = writePolicy(
      'bad-fields',
      [
        'allowedSigners: allowed_signers',
        'groups:',
        '  sre-leads: [alice, alice]',
        'signedActions: [approve, deploy]',
        'nameOnlyApprovals: yes please',
        'approvers: [mallory]',
        '',
      ].join('\n'),
      `alice ${alice.line}\n`,
    );
    const problems = policyErrors(file);
    expect(problems).toContain(`${file}:3: groups.sre-leads: lists a member twice`);
    expect(problems).toContain(
      `${file}:4: signedActions[1]: must be one of approve, pause, resume, abort, skip, retry, rollback`,
    );
    expect(problems.find((p) => p.startsWith(`${file}:5: nameOnlyApprovals: `))).toBeDefined();
    expect(problems).toContain(`${file}:6: approvers: unknown field`);
  });

  it('needs exactly one source of signers, and no contradiction about approvals', () => {
    expect(policyErrors(writePolicy('none', 'groups: {}\n'))).toEqual([
      `${path.join(dir, 'none/policy.yaml')}:1: allowedSigners: give exactly one of allowedSigners or signers`,
    ]);
    const contradiction = writePolicy('contra', 'signers: []\nnameOnlyApprovals: true\nsignedActions: [approve]\n');
    expect(policyErrors(contradiction)).toEqual([
      `${contradiction}:3: signedActions: lists approve, but nameOnlyApprovals: true accepts unsigned approvals`,
    ]);
  });

  it('names the allowed_signers file and line of a malformed entry, and the policy entry of an inline one', () => {
    const file = writePolicy(
      'bad-signers',
      'allowedSigners: allowed_signers\n',
      `alice ${alice.line}\nbob frobnicate ${bob.line}\n`,
    );
    expect(policyErrors(file)).toEqual([
      `${path.join(path.dirname(file), 'allowed_signers')}:2: unknown option "frobnicate"`,
    ]);
    const inline = writePolicy('bad-inline', `signers:\n  - alice ${alice.line}\n  - bob ssh-ed25519 AAAA!!\n`);
    expect(policyErrors(inline)).toEqual([
      `${inline}: signers[1]: public key: the ssh-ed25519 key is not valid base64`,
    ]);
  });

  it('reads only regular files, checking the size before reading', () => {
    expect(policyErrors(path.join(dir, 'missing.yaml'))).toEqual([
      `approval policy ${path.join(dir, 'missing.yaml')}: ENOENT`,
    ]);
    expect(policyErrors(dir)).toEqual([`approval policy ${dir}: not a regular file`]);
    const big = path.join(dir, 'big.yaml');
    fs.writeFileSync(big, `# ${'x'.repeat(MAX_POLICY_FILE_BYTES)}\n`);
    expect(policyErrors(big)).toEqual([`approval policy ${big}: larger than ${MAX_POLICY_FILE_BYTES} bytes`]);
    const missingSigners = writePolicy('no-signers-file', 'allowedSigners: nowhere\n');
    expect(policyErrors(missingSigners)).toEqual([
      `allowedSigners of ${missingSigners}: ${path.join(path.dirname(missingSigners), 'nowhere')}: ENOENT`,
    ]);
  });

  it('ignores cert-authority and unsupported key types, keeping the reason', () => {
    const file = writePolicy(
      'ignored',
      'allowedSigners: allowed_signers\n',
      `*@example.com cert-authority ${alice.line}\nrsa-user ssh-rsa AAAAB3NzaC1yc2E= rsa\nalice ${alice.line}\n`,
    );
    const policy = loadApprovalPolicy(file);
    expect(policy.signers.map((s) => s.principals)).toEqual(['alice']);
    expect(policy.ignored).toEqual([
      { line: 1, reason: 'cert-authority lines are not used: the fleet policy accepts plain keys, not certificates' },
      { line: 2, reason: 'key type "ssh-rsa" is not supported (use ssh-ed25519 or ecdsa-sha2-nistp256)' },
    ]);
  });
});

const SIGNED_ORDER = ['approve', 'pause', 'resume', 'abort', 'skip', 'retry', 'rollback'];
function bySignedOrder(a: string, b: string): number {
  return SIGNED_ORDER.indexOf(a) - SIGNED_ORDER.indexOf(b);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
