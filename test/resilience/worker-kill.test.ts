/**
 * (a) The worker dies: kill -9 the worker process at 10 seeded random moments of a 50-cluster
 * campaign (mid local activity, mid EKS wait, mid child start, during soak or approval), starting
 * it again each time. Idempotency tokens and read-before-write must keep every cluster step to
 * exactly one accepted EKS mutation, and every cluster must end at its target or in a documented
 * terminal state.
 *
 * The kills land in the last wave, where most clusters are in flight (mid local activity, mid EKS
 * wait, mid gate, mid child start), at seeded random moments 1–6 s apart. Each kill leaves the
 * activities it interrupted (a look in progress, a gate's checks) to their heartbeat timeout
 * (1 min) before Temporal retries them elsewhere; waits parked between looks lose nothing.
 * Killing during the canary too would add that stall twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { campaignProgress, driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { createRng } from '../../simulator/random';
import { approversOf, canaryThenRest, sleep, smallFleet, testCampaign, testWorkspace } from './harness';

const KILLS = 10;
const SEED = 20_251;

describe('resilience: worker killed with SIGKILL', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('survives 10 kills during a 50-cluster campaign with exactly one mutation per step', async () => {
    const { dir, log } = testWorkspace('worker-kill');
    const fleet = smallFleet(50, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'resilience-worker-kill',
      waves: canaryThenRest(3, 8),
      maxInFlight: 8,
      rateLimit: { starts: 4, perRealMs: 10 * 60_000 },
      caps: [{ labelKey: 'account', max: 3 }],
    });
    stack = await startStack({ fleet, timeScale: 1200, seed: SEED, dir, log });
    const s = stack;
    const name = campaign.metadata.name;
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    log(`campaign started: ${planned} clusters planned`);

    let finished = false;
    const driving = driveCampaign(s.client, { name, approvers: approversOf(campaign), log }).finally(() => {
      finished = true;
    });
    const rng = createRng(SEED);
    // Kills land in the last wave, where most clusters are in flight: the first a seeded 1–5 s after
    // it started, each next one 1–6 s after the worker is back.
    while (!finished) {
      const p = await campaignProgress(s.client, name).catch(() => undefined);
      if (p?.wave === 'rest' && p.state === 'running') break;
      await sleep(200);
    }
    await sleep(rng.between(0, 4_000));
    const kills: { done: number; wave?: string; state?: string }[] = [];
    for (let i = 0; i < KILLS && !finished; i++) {
      await sleep(rng.between(1_000, 6_000));
      if (finished) break;
      const p = await campaignProgress(s.client, name).catch(() => undefined);
      await s.worker.kill9();
      kills.push({ done: p?.done ?? -1, wave: p?.wave, state: p?.state });
      log(`kill ${kills.length}: worker SIGKILLed (${p?.state} wave ${p?.wave}, ${p?.done} done)`);
      await s.worker.restart();
      log(`kill ${kills.length}: worker pid ${s.worker.pid} ready`);
    }
    const { result } = await driving;
    log(`campaign ${result.state} after ${kills.length} kills`);

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name);
    log(`outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations`);
    for (const line of status ? describeNotUpgraded(status) : []) log(`  ${line}`);
    expect(kills).toHaveLength(KILLS);
    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(status?.clusters.filter((c) => c.state === 'upgraded').length).toBeGreaterThan(planned / 2);
  });
});
