/**
 * Control during the longest wait (docs/architecture.md, "Waiting"): clusters in the middle of a
 * control-plane hop, slowed down so the hop lasts 20–50 s at this time scale, while their
 * upgradeControlPlane activity is parked between looks. Two `fleetwave worker` processes poll the
 * task queue.
 *
 * - Abort a campaign in the middle of its hop: it ends without waiting for the hop.
 * - Pause another: each cluster upgrade holds at once (its parked activity is cancelled between
 *   looks), no EKS write follows, and after the resume every cluster finishes.
 * - SIGKILL one worker while the resumed clusters wait: the waits were on no worker, so the
 *   survivor takes the next looks with no timeout to sit out; every cluster still gets exactly one
 *   EKS mutation per step.
 *
 * The latencies (signal → the workflow holds or ends; SIGKILL → the survivor's first look) are
 * printed. Bounds asserted are the timeouts that make them, not speed targets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../bench/lib/stack';
import { describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import type { WorkerProcess } from '../../bench/lib/worker-process';
import {
  campaignWorkflowId,
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  type CampaignResult,
} from '../../workflows/definitions';
import { sleep, smallFleet, startTwoWorkers, testCampaign, testWorkspace } from './harness';

const SEED = 4_242;
/** Hops 40 times slower than EKS's 10–25 min: 20–50 s at ×1200, long enough to act in the middle. */
const SLOW = 40;

/** The waiting step activities. */
const STEPS = ['upgradeControlPlane', 'updateNodegroups', 'updateAddons'];

interface Pending {
  type: string;
  attempt: number;
  /** PENDING_ACTIVITY_STATE_*: 1 scheduled (parked between looks), 2 started, 3 cancel requested. */
  state: number;
  identity: string;
}

describe('resilience: pause, abort and a killed worker during the longest wait', () => {
  let stack: Stack | undefined;
  let survivor: WorkerProcess | undefined;
  afterAll(async () => {
    await survivor?.stop();
    await stack?.stop();
  });

  it('holds, ends and moves the wait to another worker without waiting for the hop', async () => {
    const { dir, log } = testWorkspace('long-wait');
    // Four clusters one minor below the target: three paused and resumed, one aborted.
    const fleet = smallFleet(40, SEED, (f) => {
      const picked = f.clusters.filter((c) => c.version === '1.31').slice(0, 4);
      picked.forEach((c, i) => {
        c.labels = { ...c.labels, group: i < 3 ? 'paused' : 'aborted' };
        c.faults = { ...c.faults, slowFactor: SLOW };
      });
      f.clusters = picked;
    });
    expect(fleet.clusters).toHaveLength(4);
    const campaignFor = (name: string, group: string) =>
      testCampaign(fleet, {
        name,
        selector: { matchLabels: { group } },
        waves: [{ name: 'all', maxParallel: 3, soakRealMs: 0, approval: 'auto', failureBudget: '100%' }],
        maxInFlight: 3,
      }).campaign;
    const paused = campaignFor('long-wait-paused', 'paused');
    const aborted = campaignFor('long-wait-aborted', 'aborted');
    const clustersOf = (group: string) => fleet.clusters.filter((c) => c.labels.group === group).map((c) => c.name);

    const started2 = await startTwoWorkers({ fleet, seed: SEED, dir, log });
    ({ stack, survivor } = started2);
    const { victimId, survivorId } = started2;
    const s = started2.stack;

    const pending = async (cluster: string): Promise<Pending[]> => {
      const d = await s.client.client.workflow
        .getHandle(clusterUpgradeWorkflowId(cluster))
        .describe()
        .catch(() => undefined);
      return (d?.raw.pendingActivities ?? []).map((a) => ({
        type: a.activityType?.name ?? '?',
        attempt: a.attempt ?? 0,
        state: Number(a.state ?? 0),
        identity: a.lastWorkerIdentity ?? '',
      }));
    };
    const parked = async (cluster: string): Promise<Pending | undefined> =>
      (await pending(cluster)).find((a) => STEPS.includes(a.type) && a.attempt >= 2);
    const inHop = async (cluster: string): Promise<Pending | undefined> =>
      (await pending(cluster)).find((a) => a.type === 'upgradeControlPlane' && a.attempt >= 2);
    const until = async (what: string, check: () => Promise<boolean>, limitMs = 180_000): Promise<number> => {
      const from = Date.now();
      while (!(await check())) {
        if (Date.now() - from > limitMs) throw new Error(`${what}: not within ${limitMs / 1000} s`);
        await sleep(100);
      }
      return Date.now() - from;
    };

    const startedPaused = await s.client.startCampaign({ campaign: paused, fleet, startedBy: 'resilience test' });
    const startedAborted = await s.client.startCampaign({ campaign: aborted, fleet, startedBy: 'resilience test' });
    const all = [...clustersOf('paused'), ...clustersOf('aborted')];
    const pausedClusters = clustersOf('paused');
    // Every cluster parked in its hop: the activity has ended at least one attempt still waiting.
    await until('every cluster parked in its control-plane hop', async () =>
      (await Promise.all(all.map(inHop))).every((a) => a !== undefined),
    );
    log(`all ${all.length} clusters parked in their hop`);

    // Abort one campaign while its cluster is in the hop (before the kill: a workflow cached on the
    // killed worker waits out its sticky timeout, which is the kill's cost, not the abort's).
    const abortLines: string[] = [];
    const abortedCluster = clustersOf('aborted')[0] as string;
    await until('the aborted cluster still in its hop', async () => (await inHop(abortedCluster)) !== undefined);
    const abortAt = Date.now();
    await s.client.abortCampaign(aborted.metadata.name, { by: 'resilience test', reason: 'testing abort mid-hop' });
    const abortResult = (await s.client.client.workflow
      .getHandle(campaignWorkflowId(aborted.metadata.name))
      .result()) as CampaignResult;
    const abortMs = Date.now() - abortAt;
    abortLines.push(`abort mid-hop → campaign ${abortResult.state} after ${(abortMs / 1000).toFixed(1)} s`);

    // Pause the other campaign while its clusters are in the hop; resume after the holds.
    await until('the paused clusters still in their hop', async () =>
      (await Promise.all(pausedClusters.map(inHop))).some((a) => a !== undefined),
    );
    const pauseAt = Date.now();
    await s.client.pauseCampaign(paused.metadata.name, { by: 'resilience test' });
    const holds = await Promise.all(
      pausedClusters.map(async (c) => {
        const handle = s.client.client.workflow.getHandle(clusterUpgradeWorkflowId(c));
        await until(`${c}: holds`, async () => {
          const status = await handle.query(clusterStatusQuery).catch(() => undefined);
          const desc = await handle.describe().catch(() => undefined);
          const closed = desc !== undefined && desc.status.name !== 'RUNNING';
          const stepActivity = (await pending(c)).some((a) => STEPS.includes(a.type));
          return closed || (status?.paused === true && !stepActivity);
        });
        return { cluster: c, ms: Date.now() - pauseAt };
      }),
    );
    const lines = [...abortLines];
    lines.push(
      `pause mid-hop → each cluster upgrade holds, no step activity left: ` +
        holds.map((h) => `${h.cluster} ${(h.ms / 1000).toFixed(1)} s`).join(', '),
    );
    const writesAtHold = s.sim.mutations().filter((m) => pausedClusters.includes(m.cluster)).length;
    await sleep(5_000);
    const writesAfter = s.sim.mutations().filter((m) => pausedClusters.includes(m.cluster)).length;
    await s.client.resumeCampaign(paused.metadata.name, { by: 'resilience test' });
    // SIGKILL one worker while the resumed clusters wait (the hop, or the node groups after it); the
    // survivor must take the next look of every wait.
    await until('a resumed cluster parked in a step', async () =>
      (await Promise.all(pausedClusters.map(parked))).some((a) => a !== undefined),
    );
    const before = new Map(
      await Promise.all(pausedClusters.map(async (c) => [c, (await parked(c))?.attempt ?? 0] as const)),
    );
    const killedAt = Date.now();
    await s.worker.kill9();
    const takeover = await Promise.all(
      pausedClusters.map(async (c) => {
        await until(`${c}: a look by the survivor`, async () => {
          const a = await parked(c);
          return a === undefined || (a.attempt > (before.get(c) ?? 0) && a.identity === survivorId);
        });
        return { cluster: c, ms: Date.now() - killedAt };
      }),
    );
    lines.push(
      `SIGKILL of ${victimId} during the wait → the survivor's next look: ` +
        takeover.map((t) => `${t.cluster} ${(t.ms / 1000).toFixed(1)} s`).join(', '),
    );

    const result = (await s.client.client.workflow
      .getHandle(campaignWorkflowId(paused.metadata.name))
      .result()) as CampaignResult;
    lines.push(`resumed: campaign ${result.state} (${result.upgraded.length} upgraded)`);
    for (const line of lines) log(line);
    console.log(lines.join('\n'));

    const v = await verifyCampaigns(s, [
      { name: paused.metadata.name, runId: startedPaused.runId, targetVersion: '1.32' },
      { name: aborted.metadata.name, runId: startedAborted.runId, targetVersion: '1.32' },
    ]);
    const status = v.statuses.get(paused.metadata.name);
    log(`outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations`);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(result.state).toBe('completed');
    expect([...result.upgraded].sort()).toEqual([...pausedClusters].sort());
    expect(abortResult.state).toBe('aborted');
    // Nothing was written to a paused cluster while it held.
    expect(writesAfter).toBe(writesAtHold);
    // The survivor took every wait; a parked wait has no heartbeat timeout to sit out.
    expect(takeover.length).toBe(pausedClusters.length);
  });
});
