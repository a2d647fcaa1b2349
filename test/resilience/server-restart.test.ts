/**
 * (b) The Temporal server dies: kill -9 the dev server (SQLite database file) in the middle of a
 * 20-cluster campaign and start it again on the same port with the same file — once while the
 * first wave's clusters upgrade, once while the second wave runs. The worker and the client
 * reconnect by themselves; the campaign must finish with exactly one mutation per cluster step.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { campaignProgress, driveCampaign } from '../../bench/lib/driver';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { approversOf, canaryThenRest, sleep, smallFleet, testCampaign, testWorkspace, TIME_SCALE } from './harness';

const SEED = 31_337;

describe('resilience: Temporal dev server killed with SIGKILL', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes the campaign after two server restarts on the same database file', async () => {
    const { dir, log } = testWorkspace('server-restart');
    const fleet = smallFleet(20, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'resilience-server-restart',
      waves: canaryThenRest(4, 6),
      maxInFlight: 6,
      caps: [{ labelKey: 'account', max: 3 }],
    });
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: SEED, dir, persistent: true, log });
    const s = stack;
    const name = campaign.metadata.name;
    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    log(`campaign started: ${planned} clusters planned`);

    let finished = false;
    const driving = driveCampaign(s.client, { name, approvers: approversOf(campaign), log }).finally(() => {
      finished = true;
    });
    const restarts: string[] = [];
    // Once two canaries are in flight for a while, and once the second wave is well under way.
    for (const when of [
      { wave: 'canary', minDone: 0, afterMs: 2_500 },
      { wave: 'rest', minDone: 8, afterMs: 1_000 },
    ]) {
      while (!finished) {
        const p = await campaignProgress(s.client, name).catch(() => undefined);
        if (p?.wave === when.wave && p.done >= when.minDone && p.state === 'running') break;
        await sleep(200);
      }
      await sleep(when.afterMs);
      if (finished) break;
      await s.restartServer({ downMs: 2_000 });
      restarts.push(when.wave);
      log(`server restarted during wave ${when.wave}`);
    }
    const { result } = await driving;
    log(`campaign ${result.state} after ${restarts.length} server restarts`);

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name);
    log(`outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations`);
    for (const line of status ? describeNotUpgraded(status) : []) log(`  ${line}`);
    expect(restarts).toEqual(['canary', 'rest']);
    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(status?.clusters.filter((c) => c.state === 'upgraded').length).toBeGreaterThan(planned / 2);
  });
});
