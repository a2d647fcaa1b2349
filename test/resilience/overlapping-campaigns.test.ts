/**
 * (e) Two campaigns over intersecting cluster sets at once: A takes groups a and ab to 1.32, B
 * takes ab and b to 1.33, starting two seconds later. Both canaries pick the first two ab
 * clusters, so B meets clusters A is upgrading (the `cluster-upgrade/<cluster>` workflow ID is the
 * fleet-wide lock: B records them blocked); later ab clusters may be taken by one campaign after
 * the other. No cluster may ever be upgraded by both at once: from the cluster-upgrade histories
 * (run intervals per cluster never overlap across campaigns) and from /sim/mutations (each
 * mutation lies inside a run of exactly one campaign).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import type { CampaignStatus } from '../../workflows/definitions';
import { approversOf, sleep, smallFleet, testCampaign, testWorkspace, TIME_SCALE } from './harness';

const SEED = 6_006;
const HOUR = 3_600_000;

describe('resilience: overlapping campaigns', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('never upgrades a cluster from two campaigns at once', async () => {
    const { dir, log } = testWorkspace('overlapping-campaigns');
    const fleet = smallFleet(20, SEED, (f) => {
      f.clusters.forEach((c, i) => {
        c.labels.group = i < 7 ? 'a' : i < 14 ? 'ab' : 'b';
      });
    });
    const waves = (canaryGroup: string) => [
      {
        name: 'canary',
        count: 2,
        maxParallel: 2,
        soakRealMs: HOUR,
        approval: 'required' as const,
        failureBudget: 1,
        selector: { matchLabels: { group: canaryGroup } },
      },
      { name: 'rest', maxParallel: 5, soakRealMs: HOUR, approval: 'auto' as const, failureBudget: '30%' },
    ];
    const a = testCampaign(fleet, {
      name: 'resilience-overlap-a',
      targetVersion: '1.32',
      selector: { matchExpressions: [{ key: 'group', operator: 'In', values: ['a', 'ab'] }] },
      waves: waves('ab'),
      maxInFlight: 5,
    });
    const b = testCampaign(fleet, {
      name: 'resilience-overlap-b',
      targetVersion: '1.33',
      selector: { matchExpressions: [{ key: 'group', operator: 'In', values: ['ab', 'b'] }] },
      waves: waves('ab'),
      maxInFlight: 5,
    });
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: SEED, dir, log });
    const s = stack;

    const startedA = await s.client.startCampaign({ campaign: a.campaign, fleet, startedBy: 'resilience test' });
    log(`campaign A started: ${a.planned} clusters planned`);
    const drivingA = driveCampaign(s.client, {
      name: a.campaign.metadata.name,
      approvers: approversOf(a.campaign),
      log,
    });
    await sleep(2_000);
    const startedB = await s.client.startCampaign({ campaign: b.campaign, fleet, startedBy: 'resilience test' });
    log(`campaign B started: ${b.planned} clusters planned`);
    const drivingB = driveCampaign(s.client, {
      name: b.campaign.metadata.name,
      approvers: approversOf(b.campaign),
      log,
    });
    const [ra, rb] = await Promise.all([drivingA, drivingB]);
    log(`A ${ra.result.state}, B ${rb.result.state}`);

    const v = await verifyCampaigns(
      s,
      [
        { name: a.campaign.metadata.name, runId: startedA.runId, targetVersion: '1.32' },
        { name: b.campaign.metadata.name, runId: startedB.runId, targetVersion: '1.33' },
      ],
      { atLeast: true },
    );
    const statusA = v.statuses.get(a.campaign.metadata.name) as CampaignStatus;
    const statusB = v.statuses.get(b.campaign.metadata.name) as CampaignStatus;
    const both = [...v.campaignsByCluster].filter(([, campaigns]) => campaigns.length > 1).map(([c]) => c);
    const blockedByOther = [...statusA.clusters, ...statusB.clusters].filter(
      (c) => c.state === 'blocked' && /another campaign/.test(c.reason ?? ''),
    );
    log(`A: ${describeOutcome(statusA)}; B: ${describeOutcome(statusB)}`);
    for (const line of [...describeNotUpgraded(statusA), ...describeNotUpgraded(statusB)]) log(`  ${line}`);
    log(
      `clusters run by both campaigns (one after the other): ${both.join(', ') || 'none'}; blocked by the other: ${blockedByOther.map((c) => c.name).join(', ')}`,
    );

    for (const r of [ra.result, rb.result]) expect(['completed', 'completed-with-failures']).toContain(r.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    // Not vacuous: B's canary met A's canary clusters while A upgraded them.
    expect(blockedByOther.length).toBeGreaterThan(0);
  });
});
