/**
 * The campaign's state machine without Temporal: approval validation, budget acknowledgement
 * on resume, where a retried cluster runs, bounded audit trail, carried state.
 */
import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import { planCampaign, pinRequest } from '../../workflows/campaign/planning';
import { AUDIT_KEPT, CampaignMachine, type CarriedState } from '../../workflows/campaign/state';
import { makeCampaign } from './campaign-harness';

function member(name: string, version = '1.29', labels: Record<string, string> = {}): FleetMember {
  return {
    name,
    region: 'eu-west-1',
    account: '123456789012',
    labels: { region: 'eu-west-1', account: '123456789012', ...labels },
    version,
    oldestNodeVersion: version,
    nodegroups: [{ name: 'ng', version, nodes: 3, maxUnavailable: 1 }],
    addons: ['vpc-cni', 'coredns'],
    blockingPdbs: [],
  };
}

const T0 = Date.parse('2025-06-01T00:00:00Z');

function machine(fleet: FleetMember[], spec: Parameters<typeof makeCampaign>[1]) {
  const campaign = makeCampaign('state', spec);
  const plan = planCampaign(campaign, fleet);
  const m = CampaignMachine.fromPlan(campaign, plan.placed, plan, T0, 'tester');
  m.s.pinned = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };
  return { m, plan, campaign };
}

const twoWaves = {
  waves: [
    { name: 'canary', count: 1, approval: 'required' as const },
    { name: 'rest', failureBudget: 1 },
  ],
  approvers: { users: ['alice', 'bob'], minApprovals: 2 },
};

describe('campaign state machine', () => {
  it('plans with domain/plan: clusters at target are skipped at plan time, versions pinned for every hop', () => {
    const fleet = [member('a'), member('b', '1.31'), member('c', '1.30')];
    const { m, plan, campaign } = machine(fleet, twoWaves);
    expect(m.status().skippedAtPlan).toEqual([{ cluster: 'b', reason: 'already at target (1.31)' }]);
    expect(m.status().waves.map((w) => [w.name, w.total])).toEqual([
      ['canary', 1],
      ['rest', 1],
    ]);
    expect(pinRequest(campaign, plan.placed, plan.paths)).toEqual({
      target: campaign.spec.target,
      region: 'eu-west-1',
      minors: ['1.30', '1.31'],
      addonNames: ['coredns', 'vpc-cni'],
    });
  });

  it('validates approvals: not awaiting, wrong wave, not an approver, duplicate', () => {
    const { m } = machine([member('a'), member('c')], twoWaves);
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toMatch(
      /is not awaiting approval \(state: planning/,
    );
    m.s.phase = 'approval';
    (m.currentWave as { state: string }).state = 'awaiting-approval';
    expect(m.approvalRefusal({ wave: 'rest', approver: 'alice' })).toBe(
      'wave "rest" is not awaiting approval; wave "canary" is',
    );
    expect(m.approvalRefusal({ wave: 'canary', approver: 'mallory' })).toBe(
      '"mallory" is not an approver of campaign "state" (approvers: alice, bob)',
    );
    expect(m.applyApproval({ wave: 'canary', approver: 'alice' }, 'update', T0)).toEqual({
      approvals: 1,
      needed: 2,
      promoted: false,
    });
    expect(m.approvalRefusal({ wave: 'canary', approver: 'alice' })).toBe('"alice" already approved wave "canary"');
    expect(m.applyApproval({ wave: 'canary', approver: 'bob' }, 'signal', T0).promoted).toBe(true);
    expect(m.approved()).toBe(true);
  });

  it('acknowledges the failures so far when resumed past the budget', () => {
    const { m } = machine([member('a'), member('c'), member('d'), member('e')], twoWaves);
    m.s.phase = 'window';
    m.s.currentWave = 1;
    const rest = m.windowClusters(1);
    expect(rest.map((c) => c.name)).toEqual(['c', 'd', 'e']);
    for (const c of rest.slice(0, 2)) c.state = 'rolled-back';
    expect(m.budgetExceeded(1)).toBe(true);
    m.pause('budget', 'budget exceeded', T0);
    m.resume({ by: 'oncall' }, T0);
    expect(m.budgetExceeded(1)).toBe(false);
    (rest[2] as { state: string }).state = 'failed';
    expect(m.budgetExceeded(1)).toBe(true);
  });

  it('runs a retried cluster in the next window while the current wave awaits approval', () => {
    const { m } = machine([member('a'), member('c')], twoWaves);
    const a = m.clusters.get('a');
    if (!a) throw new Error('no a');
    a.state = 'failed';
    m.s.phase = 'approval';
    expect(m.retryRefusal({ cluster: 'a', by: 'ops' })).toBeUndefined();
    const status = m.applyRetry({ cluster: 'a', by: 'ops' }, T0);
    expect(status).toMatchObject({ state: 'pending', wave: 'canary', runsInWave: 'rest' });
    expect(a.attempt).toBe(2);
    expect(m.retryRefusal({ cluster: 'a', by: 'ops' })).toMatch(/is pending; only failed/);
  });

  it('keeps the last audit entries, counts the dropped ones, and restores from carried JSON', () => {
    const { m, campaign, plan } = machine([member('a'), member('c')], twoWaves);
    for (let i = 0; i < AUDIT_KEPT + 25; i++) m.record(T0 + i, { kind: 'paused', detail: String(i) });
    const status = m.status();
    expect(status.audit).toHaveLength(AUDIT_KEPT);
    expect(status.auditDropped).toBe(26);
    expect(status.audit.at(-1)?.detail).toBe(String(AUDIT_KEPT + 24));
    const carried = JSON.parse(JSON.stringify(m.toCarried())) as CarriedState;
    const restored = CampaignMachine.restore(campaign, plan.placed, carried);
    expect(restored.status()).toEqual({ ...status, runs: 2 });
  });
});
