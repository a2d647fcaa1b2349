/**
 * The pure half of signed approvals and operator actions as the campaign uses them: a signed
 * claim checked against its request and workflow (claimContextProblem), request shapes and
 * bounds (the Update validators' only checks), the spec's approvers (narrowing only, no keys,
 * no duplicates), and approval expiry in the state machine.
 */
import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import { parseCampaign } from '../../domain/load';
import {
  claimContextProblem,
  claimUseKey,
  signedClaimShapeProblem,
  type ActionClaim,
  type ClaimContext,
} from '../../domain/signed-actions';
import { campaignSchema, type CampaignInput } from '../../domain/spec';
import { CampaignMachine } from '../../workflows/campaign/state';
import { approvalShapeProblem, operatorShapeProblem } from '../../workflows/campaign/requests';
import { approvalsInForce } from '../../workflows/campaign/promotion';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const CLAIM: ActionClaim = {
  action: 'approve',
  campaign: 'fleet-to-1-31',
  runChain: 'run-1',
  wave: 'canary',
  actor: 'alice',
  comment: 'dashboards green',
  issuedAt: '2026-06-01T11:59:00Z',
  expiresAt: '2026-06-01T12:09:00Z',
};
const CONTEXT: ClaimContext = {
  campaign: 'fleet-to-1-31',
  runChain: 'run-1',
  action: 'approve',
  wave: 'canary',
  actor: 'alice',
  comment: 'dashboards green',
  now: NOW,
};

describe('claimContextProblem', () => {
  it('accepts a claim that says what the request asks, here, now', () => {
    expect(claimContextProblem(CLAIM, CONTEXT)).toBeUndefined();
    // Absent and empty comments are the same comment.
    expect(claimContextProblem({ ...CLAIM, comment: undefined }, { ...CONTEXT, comment: '' })).toBeUndefined();
  });

  it.each([
    ['another campaign', { campaign: 'other' }, /campaign \("other"\) is not the request's \("fleet-to-1-31"\)/],
    ['an earlier campaign of the same name', { runChain: 'run-0' }, /runChain \("run-0"\)/],
    ['another wave', { wave: 'rest' }, /wave \("rest"\) is not the request's \("canary"\)/],
    ['another action', { action: 'resume' as const }, /action \("resume"\)/],
    ['another actor', { actor: 'bob' }, /actor \("bob"\)/],
    ['another comment', { comment: 'ship it' }, /comment \("ship it"\)/],
    [
      'a cluster the request does not name',
      { cluster: 'prod-1' },
      /cluster \("prod-1"\) is not the request's \(none\)/,
    ],
    ['an expired claim', { expiresAt: '2026-06-01T12:00:00Z' }, /expired at 2026-06-01T12:00:00Z/],
    ['a claim from the future', { issuedAt: '2026-06-01T12:03:00Z' }, /issued in the future/],
    ['a claim that expires before it is issued', { issuedAt: '2026-06-01T12:10:00Z' }, /before it was issued/],
  ])('refuses %s', (_what, change, reason) => {
    expect(claimContextProblem({ ...CLAIM, ...change }, CONTEXT)).toMatch(reason);
  });

  it('tolerates a signer clock up to two minutes ahead', () => {
    expect(claimContextProblem({ ...CLAIM, issuedAt: '2026-06-01T12:01:59Z' }, CONTEXT)).toBeUndefined();
  });

  it('keys a used claim by action, target, key and issue time', () => {
    expect(claimUseKey(CLAIM, 'SHA256:abc')).toBe('approve|canary|SHA256:abc|2026-06-01T11:59:00Z');
    expect(claimUseKey({ ...CLAIM, wave: 'rest' }, 'SHA256:abc')).not.toBe(claimUseKey(CLAIM, 'SHA256:abc'));
  });
});

describe('request shapes (what Update validators refuse)', () => {
  it('bounds approver, comment and wave, refusing instead of truncating', () => {
    expect(approvalShapeProblem({ wave: 'canary', approver: 'alice', comment: 'ok' })).toBeUndefined();
    expect(approvalShapeProblem({ wave: 'canary', approver: ' ' })).toBe('an approval needs a wave and an approver');
    expect(approvalShapeProblem({ wave: 'canary', approver: 'a'.repeat(129) })).toBe(
      'approver: at most 128 characters (got 129)',
    );
    expect(approvalShapeProblem({ wave: 'canary', approver: 'alice', comment: 'x'.repeat(1001) })).toBe(
      'comment: at most 1000 characters (got 1001)',
    );
    expect(approvalShapeProblem({ wave: 'w'.repeat(254), approver: 'alice' })).toMatch(/^wave: at most 253/);
    expect(approvalShapeProblem({ wave: 'canary', approver: 'alice', comment: 42 })).toBe('comment: expected a string');
  });

  it('checks the shape of a signed claim, not its truth', () => {
    const signed = { claim: CLAIM, signature: '-----BEGIN SSH SIGNATURE-----' };
    expect(approvalShapeProblem({ wave: 'canary', approver: 'alice', signed })).toBeUndefined();
    expect(signedClaimShapeProblem({ claim: CLAIM, signature: 's'.repeat(4097) })).toBe(
      'signed.signature: at most 4096 characters',
    );
    expect(signedClaimShapeProblem({ claim: { ...CLAIM, actor: 'a'.repeat(200) }, signature: 's' })).toBe(
      'signed.claim.actor: at most 128 characters',
    );
    expect(signedClaimShapeProblem('a signature')).toBe('signed: expected { claim, signature }');
  });

  it('operator actions: skip and retry need cluster and by; pause, resume and abort may be bare signals', () => {
    expect(operatorShapeProblem(undefined, false)).toBeUndefined();
    expect(operatorShapeProblem({ by: 'oncall', reason: 'r' }, false)).toBeUndefined();
    expect(operatorShapeProblem({ by: 'b'.repeat(129) }, false)).toBe('by: at most 128 characters (got 129)');
    expect(operatorShapeProblem({ by: 'oncall', reason: 'r'.repeat(1001) }, false)).toMatch(/^reason: at most 1000/);
    expect(operatorShapeProblem({ by: 'oncall' }, true)).toBe('a cluster action needs a cluster and who asks (by)');
    expect(operatorShapeProblem({ by: 'oncall', cluster: 'prod-1' }, true)).toBeUndefined();
  });
});

const SPEC = `apiVersion: fleetwave.io/v1alpha1
kind: UpgradeCampaign
metadata:
  name: t
spec:
  target:
    kubernetesVersion: "1.31"
  waves:
    - name: canary
  approvers:
`;

describe('spec.approvers narrows the fleet policy', () => {
  it('refuses a duplicate approver, naming its path (it made N of M unsatisfiable)', () => {
    const r = parseCampaign(`${SPEC}    users: [alice, bob, alice]\n    minApprovals: 3\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => [i.path, i.message])).toEqual([
        ['spec.approvers.users[2]', 'duplicates spec.approvers.users[0] "alice" (each approver counts once)'],
        ['spec.approvers.minApprovals', 'must be <= the number of users (2)'],
      ]);
    }
  });

  it.each([
    ['keys', '    keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm alice"]\n'],
    ['allowedSigners', '    allowedSigners: "alice ssh-ed25519 AAAA"\n'],
  ])("has no place for approvers' keys: approvers.%s is refused by the strict schema", (field, yaml) => {
    const r = parseCampaign(`${SPEC}    users: [alice]\n${yaml}`);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')).toMatch(
        new RegExp(`spec\\.approvers.*${field}`),
      );
  });

  it('accepts groups and an expiry; groups lift the users-count bound on minApprovals', () => {
    const r = parseCampaign(
      `${SPEC}    users: [alice]\n    groups: [sre]\n    minApprovals: 2\n    expiresAfter: 4h\n`,
    );
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.value.spec.approvers).toEqual({
        users: ['alice'],
        groups: ['sre'],
        minApprovals: 2,
        expiresAfter: '4h',
      });
    expect(parseCampaign(`${SPEC}    expiresAfter: 0s\n`).ok).toBe(false);
  });
});

function machineAwaitingApproval(approvers: CampaignInput['spec']['approvers']): CampaignMachine {
  const campaign = campaignSchema.parse({
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name: 'exp' },
    spec: {
      target: { kubernetesVersion: '1.31' },
      waves: [
        { name: 'canary', approval: 'required' },
        { name: 'rest', approval: 'required' },
      ],
      approvers,
    },
  });
  const member = (name: string): FleetMember => ({
    name,
    region: 'eu-west-1',
    account: '1',
    version: '1.30',
    oldestNodeVersion: '1.30',
    labels: {},
    nodegroups: [],
    addons: [],
    blockingPdbs: [],
  });
  const m = CampaignMachine.fromPlan(
    campaign,
    [],
    {
      waves: [
        { spec: campaign.spec.waves[0]!, members: [{ member: member('a'), estimateMs: 1, hops: 1 }], failureBudget: 0 },
        { spec: campaign.spec.waves[1]!, members: [{ member: member('b'), estimateMs: 1, hops: 1 }], failureBudget: 0 },
      ],
      skippedAtPlan: [],
    },
    NOW,
  );
  m.pinVersions({ nodegroupRelease: {}, addons: {}, resolvedAt: 'x' });
  m.beginWaves(undefined);
  m.startWave(NOW);
  m.markClusterStarted('a', 'canary', NOW);
  m.onFinished({ cluster: 'a', attempt: 1, result: { cluster: 'a', outcome: 'upgraded', steps: [], gates: [] } }, NOW);
  m.endWindow(NOW);
  m.beginSoak(0, NOW);
  m.endSoak(NOW);
  m.awaitApproval(NOW);
  return m;
}

describe('approval expiry and groups in the state machine', () => {
  it('counts only approvals in force, drops expired ones with an audit entry, and lets the approver approve again', () => {
    const m = machineAwaitingApproval({ users: ['alice', 'bob'], minApprovals: 2, expiresAfter: '1h' });
    expect(m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', NOW)).toMatchObject({ approvals: 1 });
    const later = NOW + 3_600_000;
    // Not yet dropped, but no longer counting: bob's approval does not reach the quorum.
    expect(m.applyApproval({ wave: 'canary', approver: 'bob' }, 'update', later)).toEqual({
      approvals: 1,
      needed: 2,
      promoted: false,
    });
    expect(m.promotion(undefined, later).step).toBe('await-approval');
    expect(m.promotion().step).toBe('promote'); // without a clock every approval counts
    expect(m.expireApprovals(later)).toBe(later + 3_600_000);
    expect(m.status().waves[0]?.approvals.map((a) => a.approver)).toEqual(['bob']);
    expect(m.status().audit.at(-1)).toMatchObject({ kind: 'approval-expired', by: 'alice', wave: 'canary' });
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toBeUndefined();
    expect(m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', later + 1).promoted).toBe(true);
  });

  it('approvalsInForce keeps everything without an expiry', () => {
    const approvals = [{ at: '2026-06-01T00:00:00Z' }];
    expect(approvalsInForce(approvals, undefined, NOW)).toEqual(approvals);
    expect(approvalsInForce(approvals, 1000, NOW)).toEqual([]);
  });

  it('lets members of spec.approvers.groups approve besides the listed users', () => {
    const m = machineAwaitingApproval({ users: ['alice'], groups: ['sre'], minApprovals: 1 });
    expect(m.approvalRefusal({ wave: 'canary', approver: 'bob' }, ['dev'])).toBe(
      '"bob" is not an approver of campaign "exp" (approvers: alice; groups: sre)',
    );
    expect(m.approvalRefusal({ wave: 'canary', approver: 'bob' }, ['dev', 'sre'])).toBeUndefined();
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toBeUndefined();
  });
});
