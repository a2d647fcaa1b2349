/**
 * (d) Prometheus goes away while gates measure: stopped (its data gone with it) and started
 * again on the same port, twice — as the canary wave's soak gates begin, and while the second
 * wave's clusters run their baseline and bake gates. "No data" and an unreachable Prometheus are
 * never a pass, so:
 *
 * - the canary's soak fails and the campaign pauses instead of promoting; the test resumes it
 *   (as an operator would) only once Prometheus is back, and only then approves;
 * - a cluster whose gates ran in an outage is not counted upgraded on missing data (rolled back
 *   or blocked instead); every gate evaluation that ran wholly inside an outage did not pass.
 *
 * The second outage starts once two second-wave clusters are updating node groups or baking, so
 * it meets bake gates (the cluster rolls back) as well as baseline gates (the cluster is blocked).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { driveCampaign } from '../../bench/lib/driver';
import { gateResultsOf, checkOutageGates, type Outage } from '../../bench/lib/invariants';
import { startStack, type Stack } from '../../bench/lib/stack';
import { describeNotUpgraded, describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import type { CampaignStatus } from '../../workflows/definitions';
import { approversOf, canaryThenRest, sleep, smallFleet, testCampaign, testWorkspace, TIME_SCALE } from './harness';

const SEED = 5_150;
/** Down this long, plus the restart and first scrape (about 5 s). */
const OUTAGE_MS = 4_000;

describe('resilience: Prometheus down during gates', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('never promotes a wave or counts a cluster upgraded on missing data', async () => {
    const { dir, log } = testWorkspace('prometheus-outage');
    const fleet = smallFleet(20, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'resilience-prometheus-outage',
      waves: [
        ...canaryThenRest(4, 6).map((w) =>
          w.name === 'canary' ? { ...w, failureBudget: 3 } : { ...w, failureBudget: '50%' },
        ),
      ],
      maxInFlight: 6,
      // A soak-only gate that starts measuring 3 s into the soak: the outage is sure to cover it.
      extraGates: [
        {
          name: 'soak-error-ratio',
          query: 'max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"})',
          condition: '< 0.02',
          interval: '1s',
          initialDelay: '3s',
          consecutiveSuccesses: 2,
          inconclusiveLimit: 2,
          consecutiveErrorLimit: 2,
          timeout: '30s',
          phases: ['soak'],
        },
      ],
    });
    stack = await startStack({ fleet, timeScale: TIME_SCALE, seed: SEED, dir, log });
    const s = stack;
    const name = campaign.metadata.name;
    const outages: Outage[] = [];
    let promDown: Promise<void> | undefined;

    /** Stops Prometheus now and starts it again OUTAGE_MS later (waiting for its first scrape). */
    const outage = (why: string) => {
      log(`outage (${why}): stopping prometheus`);
      promDown = (async () => {
        // The window is when Prometheus really answers nothing: from its exit (it finishes queries
        // in flight while it shuts down) to the moment it is started again.
        await s.stopPrometheus();
        const from = Date.now();
        await sleep(OUTAGE_MS);
        const to = Date.now();
        await s.startPrometheus();
        outages.push({ from, to });
        log(`outage (${why}) over after ${Date.now() - from} ms`);
      })();
      return promDown;
    };
    const resumes: string[] = [];
    const onPaused = async (status: CampaignStatus) => {
      // An operator resumes once the metrics are back, never during the outage.
      await promDown;
      resumes.push(status.pausedReason ?? '');
      await s.client.resumeCampaign(name, { by: 'resilience-test', reason: 'Prometheus is back' });
      log(`resumed: ${status.pausedReason}`);
    };

    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    log(`campaign started: ${planned} clusters planned`);
    let finished = false;
    const driving = driveCampaign(s.client, { name, approvers: approversOf(campaign), onPaused, log }).finally(() => {
      finished = true;
    });

    // Outage 1: as the canary wave starts to soak.
    while (!finished) {
      const st = await s.client.getStatus(name, { liveSteps: false }).catch(() => undefined);
      if (st?.waves[0]?.state === 'soaking') break;
      await sleep(100);
    }
    if (!finished) await outage('canary soak');
    // Outage 2: while second-wave clusters bake (their verify gates) and others start (baseline gates).
    while (!finished) {
      const st = await s.client.getStatus(name).catch(() => undefined);
      const baking = st?.clusters.filter(
        (c) => c.wave === 'rest' && c.state === 'upgrading' && /verify|node-groups/.test(c.step ?? ''),
      );
      if ((baking?.length ?? 0) >= 2) break;
      await sleep(100);
    }
    if (!finished) await outage('rest wave gates');

    const { result } = await driving;
    log(`campaign ${result.state}; resumed ${resumes.length} time(s)`);
    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name) as CampaignStatus;
    const histories = v.histories.get(name);
    const campaignRuns = histories?.campaignRuns ?? [];
    const inOutage = checkOutageGates([...campaignRuns, ...v.clusterRuns], outages);
    const failedClusterGates = v.clusterRuns
      .flatMap((r) => gateResultsOf(r))
      .filter((g) => g.result.outcome !== 'Successful');
    for (const line of describeNotUpgraded(status)) log(`  ${line}`);
    log(
      `outcome: ${describeOutcome(status)}; gate results inside an outage: ${inOutage.insideOutage}; non-Successful cluster gates: ${failedClusterGates.length}`,
    );

    expect(outages).toHaveLength(2);
    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(inOutage.violations).toEqual([]);
    // Not vacuous: the canary's soak failed in the outage and the campaign paused rather than promoting.
    const audit = status.audit.map((a) => `${a.kind}:${a.wave ?? ''}`);
    expect(audit).toContain('soak-failed:canary');
    expect(audit.indexOf('soak-failed:canary')).toBeLessThan(audit.indexOf('promoted:canary'));
    expect(status.audit.findIndex((a) => a.kind === 'resumed')).toBeLessThan(audit.indexOf('promoted:canary'));
    // ...and cluster gates did meet the outage (their clusters rolled back or were blocked, not upgraded).
    expect(inOutage.insideOutage + failedClusterGates.length).toBeGreaterThan(0);
  });
});
