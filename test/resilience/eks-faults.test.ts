/**
 * (c) EKS misbehaves: 10 % of every EKS call throttled (429 ThrottlingException) and 2 % answered
 * 500 ServerException — half of those on mutating calls after the update was applied, so the
 * answer is lost and only the clientRequestToken keeps the retry from starting a second update.
 * Injected at runtime for every cluster through the simulator's HTTP API (POST /sim/faults).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { approversOf, canaryThenRest, smallFleet, testCampaign, testWorkspace, TIME_SCALE } from './harness';

const SEED = 4_242;

describe('resilience: throttling and 5xx on every EKS call', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('upgrades through 10% throttling and 2% server errors with exactly one mutation per step', async () => {
    const { dir, log } = testWorkspace('eks-faults');
    const fleet = smallFleet(20, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'resilience-eks-faults',
      waves: canaryThenRest(3, 6),
      maxInFlight: 6,
    });
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: SEED, dir, log, countSimResponses: true });
    const s = stack;
    const res = await fetch(`${s.sim.url}/sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cluster: '*', faults: { throttleRate: 0.1, serverErrorRate: 0.02 } }),
    });
    expect(res.status).toBe(200);
    const faulty = s.sim
      .state()
      .clusters.filter((c) => c.faults.throttleRate === 0.1 && c.faults.serverErrorRate === 0.02);
    expect(faulty).toHaveLength(fleet.clusters.length);

    const name = campaign.metadata.name;
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    log(`campaign started: ${planned} clusters planned; faults on every cluster`);
    const { result } = await driveCampaign(s.client, { name, approvers: approversOf(campaign), log });
    log(`campaign ${result.state}`);

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name);
    const answers = Object.fromEntries(s.simResponses);
    log(
      `outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations; simulator answers ${JSON.stringify(answers)}`,
    );
    for (const line of status ? describeNotUpgraded(status) : []) log(`  ${line}`);
    // The faults really hit the run: throttled and failed calls that the SDK and the activities retried.
    expect(s.simResponses.get(429) ?? 0).toBeGreaterThan(10);
    expect(s.simResponses.get(500) ?? 0).toBeGreaterThan(0);
    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(status?.clusters.filter((c) => c.state === 'upgraded').length).toBeGreaterThan(planned / 2);
  });
});
