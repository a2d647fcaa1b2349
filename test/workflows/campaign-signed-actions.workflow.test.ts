/**
 * Approvals and operator actions under a fleet approval policy, on a real Temporal dev server:
 * refused Updates are refused AND audited (not an approver, wrong wave, expired claim, a claim
 * replayed for another wave or another campaign run, a claim used twice), approvals expire,
 * resume after an exceeded budget needs a signature when the policy says so, and status shows
 * the policy's mode and the keys' fingerprints.
 *
 * The SSHSIG cryptography is tested on its own (against ssh-keygen); here `verifyAction` is a
 * stand-in policy that "verifies" a signature `sig-by:<principal>` over a claim whose actor is
 * that principal, and answers verdicts exactly as the contract (domain/signed-actions.ts) says.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VerifyActionInput, VerifyActionResult } from '../../activities/types';
import { FleetwaveClient } from '../../client/library';
import { formatStatus } from '../../client/format';
import { UpdateRefusedError } from '../../client/errors';
import type { ActionClaim, PolicySummary, SignedClaim } from '../../domain/signed-actions';
import {
  approveSignal,
  approveWaveUpdate,
  resumeSignal,
  skipClusterUpdate,
  statusQuery,
  type ApproveInput,
  type CampaignStatus,
} from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
  type CampaignHandle,
} from './campaign-harness';

const POLICY: PolicySummary = { mode: 'signed', signedActions: ['approve', 'resume', 'abort', 'skip', 'retry'] };
/** The stand-in policy's principals and their groups. */
const PRINCIPALS: Record<string, string[]> = { alice: [], bob: ['sre'], carol: ['dev'] };
const fingerprintOf = (principal: string) => `SHA256:${principal}-key`;

/** A stand-in of the worker's policy check: signatures `sig-by:<principal>`, name-only only for unlisted actions. */
async function policyVerifyAction(input: VerifyActionInput): Promise<VerifyActionResult> {
  if (!input.signed) {
    if (POLICY.signedActions.includes(input.action)) {
      return { ok: false, reason: `the fleet policy requires a signature for ${input.action}`, policy: POLICY };
    }
    return { ok: true, principal: input.actor, signed: false, groups: PRINCIPALS[input.actor] ?? [], policy: POLICY };
  }
  const signer = /^sig-by:(.+)$/.exec(input.signed.signature)?.[1];
  if (!signer || !(signer in PRINCIPALS) || signer !== input.signed.claim.actor) {
    return { ok: false, reason: 'no key of the fleet policy made this signature', policy: POLICY };
  }
  return {
    ok: true,
    principal: signer,
    signed: true,
    fingerprint: fingerprintOf(signer),
    groups: PRINCIPALS[signer] ?? [],
    policy: POLICY,
  };
}

/** A claim signed (in the stand-in's sense) by `claim.actor`, valid for ten minutes from now unless told. */
function sign(claim: Omit<ActionClaim, 'issuedAt' | 'expiresAt'> & Partial<ActionClaim>): SignedClaim {
  const now = Date.now();
  return {
    claim: {
      issuedAt: new Date(now - 1_000).toISOString(),
      expiresAt: new Date(now + 600_000).toISOString(),
      ...claim,
    },
    signature: `sig-by:${claim.actor}`,
  };
}

const refusal = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: unknown) => (err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err)),
  );

const awaiting = (wave: string) => (s: CampaignStatus) => s.state === 'awaiting-approval' && s.currentWave === wave;

describe('campaign workflow: approvals and operator actions under the fleet policy', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('counts only approvals the policy verified for this campaign run and wave; refusals are audited', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b'].map((n) => `sg-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const activities = {
      ...fake.activities,
      verifyAction: policyVerifyAction,
      describeApprovalPolicy: async () => POLICY,
    };
    const name = `sg-${tag}`;
    const campaign = makeCampaign(name, {
      waves: [
        { name: 'first', count: 1, soak: '0s', approval: 'required' },
        { name: 'second', soak: '0s' },
      ],
      approvers: { users: ['alice'], groups: ['sre'], minApprovals: 2 },
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status, cliError } = await withWorker(temporal, taskQueue, activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      const runChain = handle.firstExecutionRunId;
      await waitForStatus(handle, awaiting('first'), 30_000, 'first awaiting approval');
      const approve = (input: ApproveInput) => refusal(handle.executeUpdate(approveWaveUpdate, { args: [input] }));
      const claim = { action: 'approve' as const, campaign: name, runChain, wave: 'first', actor: 'alice' };

      // Name only: the policy wants a signature.
      expect(await approve({ wave: 'first', approver: 'alice' })).toBe(
        'the fleet policy requires a signature for approve',
      );
      // A key the policy knows, but carol is neither listed nor in group sre: the spec narrows the policy.
      expect(await approve({ wave: 'first', approver: 'carol', signed: sign({ ...claim, actor: 'carol' }) })).toMatch(
        /"carol" is not an approver .*\(approvers: alice; groups: sre\)/,
      );
      // Right name, no key of the policy.
      expect(
        await approve({ wave: 'first', approver: 'alice', signed: { ...sign(claim), signature: 'sig-by:mallory' } }),
      ).toBe('no key of the fleet policy made this signature');
      // alice's signature for wave "second", replayed for "first".
      expect(await approve({ wave: 'first', approver: 'alice', signed: sign({ ...claim, wave: 'second' }) })).toBe(
        `the signed claim's wave ("second") is not the request's ("first")`,
      );
      // A signature for an earlier campaign of the same name (another run chain).
      expect(
        await approve({ wave: 'first', approver: 'alice', signed: sign({ ...claim, runChain: 'an-earlier-run' }) }),
      ).toMatch(/the signed claim's runChain \("an-earlier-run"\) is not the request's/);
      // Expired.
      const expired = sign({ ...claim, issuedAt: '2020-01-01T00:00:00.000Z', expiresAt: '2020-01-01T00:10:00.000Z' });
      expect(await approve({ wave: 'first', approver: 'alice', signed: expired })).toBe(
        'the signed claim expired at 2020-01-01T00:10:00.000Z',
      );
      // The comment is part of what was signed.
      expect(await approve({ wave: 'first', approver: 'alice', comment: 'lgtm', signed: sign(claim) })).toMatch(
        /the signed claim's comment \(none\) is not the request's \("lgtm"\)/,
      );
      // Over-long strings are refused by the validator (not recorded: a validator writes no history).
      expect(await approve({ wave: 'first', approver: 'a'.repeat(129) })).toBe(
        'approver: at most 128 characters (got 129)',
      );

      const good = sign({ ...claim, comment: 'canary fine' });
      expect(await approve({ wave: 'first', approver: 'alice', comment: 'canary fine', signed: good })).toBe(
        'accepted',
      );
      // The same signed claim again: used once.
      expect(await approve({ wave: 'first', approver: 'alice', comment: 'canary fine', signed: good })).toBe(
        'this signed claim was already used; sign a new one',
      );

      // Through the client library (what `fleetwave approve` calls): a refusal is exit 2 with the reason.
      const fw = new FleetwaveClient({ client: temporal.client, taskQueue });
      const cliError = await fw.approveWave(name, { wave: 'first', approver: 'bob' }).catch((err: unknown) => err);

      const waiting = await handle.query(statusQuery);
      expect(waiting.approvalPolicy).toEqual(POLICY);
      expect(formatStatus(waiting)).toContain(
        'approvals: signed (fleet policy; signatures required for approve, resume, abort, skip, retry)',
      );
      expect(formatStatus(waiting)).toContain(`alice at`);
      expect(formatStatus(waiting)).toContain(`signed ${fingerprintOf('alice')}`);

      // bob (group sre), by Signal, as pasted into the Web UI.
      await handle.signal(approveSignal, {
        wave: 'first',
        approver: 'bob',
        signed: sign({ ...claim, actor: 'bob' }),
      });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'signed-approvals');
      return { result, status: await handle.query(statusQuery), cliError };
    });

    expect(cliError).toBeInstanceOf(UpdateRefusedError);
    expect((cliError as UpdateRefusedError).exitCode).toBe(2);
    expect((cliError as UpdateRefusedError).message).toBe(
      'approval refused: the fleet policy requires a signature for approve',
    );
    expect(result.state).toBe('completed');
    expect(status.waves[0]?.approvals.map((a) => [a.approver, a.via, a.signed, a.fingerprint])).toEqual([
      ['alice', 'update', true, fingerprintOf('alice')],
      ['bob', 'signal', true, fingerprintOf('bob')],
    ]);
    const refused = status.audit.filter((a) => a.kind === 'approval-refused');
    expect(refused.map((a) => [a.by, a.fingerprint, a.detail])).toEqual([
      ['alice', undefined, 'the fleet policy requires a signature for approve'],
      ['carol', fingerprintOf('carol'), expect.stringMatching(/"carol" is not an approver/)],
      ['alice', undefined, 'no key of the fleet policy made this signature'],
      ['alice', fingerprintOf('alice'), expect.stringMatching(/claim's wave \("second"\)/)],
      ['alice', fingerprintOf('alice'), expect.stringMatching(/claim's runChain/)],
      ['alice', fingerprintOf('alice'), expect.stringMatching(/expired/)],
      ['alice', fingerprintOf('alice'), expect.stringMatching(/claim's comment/)],
      ['alice', fingerprintOf('alice'), 'this signed claim was already used; sign a new one'],
      ['bob', undefined, 'the fleet policy requires a signature for approve'],
    ]);
    expect(refused.every((a) => a.wave === 'first' && a.at)).toBe(true);
    expect(status.audit.filter((a) => a.kind === 'approval').map((a) => [a.by, a.signed, a.fingerprint])).toEqual([
      ['alice', true, fingerprintOf('alice')],
      ['bob', true, fingerprintOf('bob')],
    ]);
  });

  it('refuses an unsigned resume after an exceeded budget when the policy wants it signed, and audits it', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b', 'c'].map((n) => `sr-${tag}-${n}`) as [string, string, string];
    const [a, b, c] = names;
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a, { behaviour: { failUpdate: { 'control-plane': {} } } }),
        fakeCluster(b),
        fakeCluster(c),
      ],
    });
    const activities = {
      ...fake.activities,
      verifyAction: policyVerifyAction,
      describeApprovalPolicy: async () => POLICY,
    };
    const name = `sr-${tag}`;
    const campaign = makeCampaign(name, {
      waves: [{ name: 'all', maxParallel: 1, failureBudget: 0, onBudgetExceeded: 'pause', approval: 'auto' }],
    });
    const taskQueue = temporal.taskQueue('campaign');
    const { result, status } = await withWorker(temporal, taskQueue, activities, async () => {
      const handle: CampaignHandle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      await waitForStatus(handle, (s) => s.state === 'paused', 30_000, 'budget pause');
      const runChain = handle.firstExecutionRunId;

      await handle.signal(resumeSignal, { by: 'oncall', reason: 'known issue' });
      const stillPaused = await waitForStatus(
        handle,
        (s) => s.audit.some((x) => x.kind === 'action-refused'),
        10_000,
        'refused resume audited',
      );
      expect(stillPaused.state).toBe('paused');

      // Skip needs a signature too: refused to the caller, and audited.
      expect(await refusal(handle.executeUpdate(skipClusterUpdate, { args: [{ cluster: b, by: 'oncall' }] }))).toBe(
        'the fleet policy requires a signature for skip',
      );

      const resume = sign({ action: 'resume', campaign: name, runChain, actor: 'alice', comment: 'known issue' });
      await handle.signal(resumeSignal, { by: 'alice', reason: 'known issue', signed: resume });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'signed-resume');
      return { result, status: await handle.query(statusQuery) };
    });

    expect(result.state).toBe('completed-with-failures');
    expect(result.upgraded).toEqual([b, c]);
    const actions = status.audit.filter((x) => ['action-refused', 'resumed'].includes(x.kind));
    expect(actions.map((x) => [x.kind, x.by, x.cluster, x.signed, x.fingerprint, x.detail])).toEqual([
      [
        'action-refused',
        'oncall',
        undefined,
        undefined,
        undefined,
        'resume refused: the fleet policy requires a signature for resume',
      ],
      [
        'action-refused',
        'oncall',
        b,
        undefined,
        undefined,
        'skip refused: the fleet policy requires a signature for skip',
      ],
      ['resumed', 'alice', undefined, true, fingerprintOf('alice'), 'known issue'],
    ]);
  });

  it('lets approvals expire (spec.approvers.expiresAfter): an expired one no longer counts and is audited', async () => {
    const tag = uniqueTag();
    const names = ['a', 'b'].map((n) => `ex-${tag}-${n}`);
    const fake = createFakeActivities({ clusters: names.map((n) => fakeCluster(n)) });
    const campaign = makeCampaign(`ex-${tag}`, {
      waves: [
        { name: 'first', count: 1, soak: '0s', approval: 'required' },
        { name: 'second', soak: '0s' },
      ],
      approvers: { users: ['alice', 'bob'], minApprovals: 2, expiresAfter: '2s' },
    });
    const taskQueue = temporal.taskQueue('campaign');
    // The worker has no fleet policy (the real approval activities): name-only approvals pass.
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        temporal,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      await waitForStatus(handle, awaiting('first'), 30_000, 'first awaiting approval');
      const first = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'alice' }] });
      expect(first).toMatchObject({ approvals: 1, needed: 2, promoted: false });
      const expired = await waitForStatus(
        handle,
        (s) => s.audit.some((x) => x.kind === 'approval-expired'),
        10_000,
        'approval expired',
      );
      expect(expired.waves[0]?.approvals).toEqual([]);
      expect(expired.state).toBe('awaiting-approval');
      expect(formatStatus(expired)).toContain('approvals: name only (no fleet policy on the worker)');
      const bob = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'bob' }] });
      expect(bob).toMatchObject({ approvals: 1, needed: 2, promoted: false });
      const again = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'alice' }] });
      expect(again).toMatchObject({ approvals: 2, needed: 2, promoted: true });
      const result = await resultWithin(handle);
      await recordHistory(handle, 'approval-expiry');
      return { result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('completed');
    expect(status.audit.filter((x) => x.kind === 'approval-expired').map((x) => [x.by, x.wave])).toEqual([
      ['alice', 'first'],
    ]);
    expect(status.waves[0]?.approvals.map((x) => [x.approver, x.signed])).toEqual([
      ['bob', false],
      ['alice', false],
    ]);
    expect(
      status.waves[0]?.approvals.every((x) => x.expiresAt && Date.parse(x.expiresAt) - Date.parse(x.at) === 2000),
    ).toBe(true);
  });
});
