import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toFleetMember } from '../../domain/fleet';
import { parseCampaign, parseFleet } from '../../domain/load';
import { buildPlan, effectiveApproval, failureBudgetCount } from '../../domain/plan';
import { campaign, member } from './fixtures';

describe('failureBudgetCount', () => {
  it('takes counts as is, capped at the wave size', () => {
    expect(failureBudgetCount(0, 10)).toBe(0);
    expect(failureBudgetCount(2, 10)).toBe(2);
    expect(failureBudgetCount(5, 3)).toBe(3);
  });
  it('rounds percentages down', () => {
    expect(failureBudgetCount('10%', 9)).toBe(0);
    expect(failureBudgetCount('10%', 10)).toBe(1);
    expect(failureBudgetCount('20%', 9)).toBe(1);
    expect(failureBudgetCount('30%', 10)).toBe(3);
    expect(failureBudgetCount('100%', 7)).toBe(7);
    expect(failureBudgetCount('12.5%', 8)).toBe(1);
  });
});

describe('buildPlan', () => {
  it('resolves policy per wave and reports risks per cluster', () => {
    const c = campaign({
      waves: [
        { name: 'canary', count: 1, approval: 'auto', failureBudget: '50%' },
        { name: 'rest', failureBudget: '10%', approval: 'required' },
      ],
      maintenanceWindows: [{ start: '01:00', end: '01:30', selector: { matchLabels: { env: 'prod' } } }],
    });
    const fleet = [
      member('a', { version: '1.29', labels: { env: 'dev' } }),
      member('b', { version: '1.30', labels: { env: 'prod' }, blockingPdbs: ['payments/db'] }),
      member('c', { version: '1.31' }),
    ];
    const plan = buildPlan(c, fleet);
    expect(plan.campaign).toMatchObject({ name: 'test', target: '1.31', fleetSize: 3, selected: 3, toUpgrade: 2 });
    expect(plan.waves.map((w) => [w.name, w.failureBudget, w.approval])).toEqual([
      ['canary', 0, 'auto'],
      ['rest', 0, 'auto'],
    ]);
    expect(plan.waves[0]?.clusters[0]).toMatchObject({
      name: 'a',
      from: '1.29',
      path: ['1.30', '1.31'],
      labels: { region: 'us-east-1', account: '111122223333', env: 'dev' },
    });
    const b = plan.waves[1]?.clusters[0];
    expect(b?.warnings).toEqual([
      expect.stringMatching(/^PDB payments\/db allows no disruption/),
      expect.stringMatching(/does not fit its longest maintenance window \(30m\)/),
    ]);
    expect(plan.skipped).toEqual([{ cluster: 'c', reason: 'already at target (1.31)' }]);
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/wave "canary": failureBudget 50% of 1 cluster\(s\) rounds down to 0/),
      ]),
    );
    expect(plan.estimate.totalMs).toBeGreaterThan(0);
    expect(plan.estimate.human).toMatch(/^\d+h|^\d+m/);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('the last wave never waits for an approval', () => {
    const spec = { waves: [{ approval: 'required' as const }, { approval: 'required' as const }] };
    expect([effectiveApproval(spec, 0), effectiveApproval(spec, 1)]).toEqual(['required', 'auto']);
  });

  it('plans the examples: 5 waves, a skip, a refusal, a PDB warning', () => {
    const c = parseCampaign(readFileSync('examples/campaign.yaml', 'utf8'));
    const f = parseFleet(readFileSync('examples/fleet.yaml', 'utf8'));
    if (!c.ok || !f.ok) throw new Error('examples must be valid');
    const plan = buildPlan(c.value, f.value.clusters.map(toFleetMember));
    expect(plan.waves.map((w) => w.name)).toEqual(['dev-canary', 'dev', 'staging', 'prod-us-east-1', 'prod-eu-west-1']);
    expect(plan.waves[0]?.clusters).toHaveLength(2);
    expect(plan.skipped.map((s) => s.cluster)).toEqual(['dev-use1-03']);
    expect(plan.refused.map((s) => s.cluster)).toEqual(['dev-euw1-legacy']);
    expect(plan.unplaced).toEqual([]);
    expect(
      plan.waves
        .flatMap((w) => w.clusters)
        .filter((cl) => cl.warnings)
        .map((cl) => cl.name),
    ).toEqual(['prod-use1-04']);
    expect(plan.waves.find((w) => w.name === 'staging')?.clusters.map((cl) => cl.name)).toContain('stg-euw1-02');
  });
});
