/**
 * kill -9 during a Karpenter node step (issue 18): a campaign upgrades a cluster whose nodes a
 * self-installed Karpenter runs; while driftKarpenterNodes waits for the drifted NodeClaims to be
 * replaced, the worker that took its last look is SIGKILLed and the other `fleetwave worker` takes
 * the wait over.
 *
 * What must hold, read from the simulator's write log of NodePools and EC2NodeClasses (every
 * accepted PATCH/PUT) and its state at the end:
 * - each change was written once: the hold (pin + zero Drifted budget), the drift release (target
 *   terms + the step's Drifted budget) and the final release; no write repeats the object's
 *   previous content (a duplicated step after the takeover would);
 * - every NodeClaim ends on an AMI its EC2NodeClass resolves at the target minor;
 * - no fleetwave annotation is left, the NodePools' budgets are the user's again and the
 *   EC2NodeClass terms are the user's.
 *
 * The latency (SIGKILL → the wait's next look on the surviving worker) is printed, not asserted.
 * Killed mid look, it is the heartbeat timeout (1 min) plus the retry backoff of that attempt
 * number (the parked looks count as attempts: 10 s doubling, at most 45 s; workflows/cluster-upgrade.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../bench/lib/stack';
import { describeOutcome, verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { benchCampaign } from '../../bench/lib/campaign';
import type { WorkerProcess } from '../../bench/lib/worker-process';
import { validateStartInput } from '../../client/library';
import { clusterUpgradeWorkflowId, campaignWorkflowId, type CampaignResult } from '../../workflows/definitions';
import { sleep, smallFleet, startTwoWorkers, testWorkspace, TIME_SCALE } from './harness';

const SEED = 18_018;
/** Enough NodeClaims, replaced one at a time, for a drift wait of several seconds at ×1200. */
const NODES = { default: 24, batch: 12 };
const USER_BUDGET = '20%';

interface Pending {
  type: string;
  attempt: number;
  state: number;
  identity: string;
}

describe('resilience: worker killed with SIGKILL during the Karpenter node step', () => {
  let stack: Stack | undefined;
  let survivor: WorkerProcess | undefined;
  afterAll(async () => {
    await survivor?.stop();
    await stack?.stop();
  });

  it('writes each hold, drift release and release once, and ends on the target AMIs', async () => {
    const { dir, log } = testWorkspace('karpenter-kill');
    const fleet = smallFleet(20, SEED, (f) => {
      const c = f.clusters.find((x) => x.version === '1.31');
      if (!c) throw new Error('no 1.31 cluster in the generated fleet');
      c.name = 'karp-kill';
      c.karpenter = { version: '1.5.0' };
      c.nodePools = [
        { name: 'default', nodes: NODES.default, budgetNodes: USER_BUDGET },
        { name: 'batch', nodes: NODES.batch, budgetNodes: USER_BUDGET },
      ];
      f.clusters = [c];
    });
    const cluster = 'karp-kill';
    const doc = benchCampaign({
      name: 'resilience-karpenter-kill',
      targetVersion: '1.32',
      timeScale: TIME_SCALE,
      waves: [{ name: 'all', maxParallel: 1, soakRealMs: 0, approval: 'auto', failureBudget: '100%' }],
      maxInFlight: 1,
    });
    (doc.spec as Record<string, unknown>).nodes = { karpenter: { budget: '1' } };
    const { campaign } = validateStartInput({ campaign: doc, fleet });

    const started2 = await startTwoWorkers({ fleet, seed: SEED, dir, log });
    ({ stack, survivor } = started2);
    const { victimId, survivorId } = started2;
    const s = started2.stack;

    const pending = async (): Promise<Pending[]> => {
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
    const drift = async () => (await pending()).find((a) => a.type === 'driftKarpenterNodes');
    const until = async (what: string, check: () => Promise<boolean>, limitMs = 300_000): Promise<number> => {
      const from = Date.now();
      while (!(await check())) {
        if (Date.now() - from > limitMs) throw new Error(`${what}: not within ${limitMs / 1000} s`);
        await sleep(50);
      }
      return Date.now() - from;
    };

    const started = await s.client.startCampaign({ campaign, fleet, startedBy: 'resilience test' });
    const name = campaign.metadata.name;

    // Kill the worker while it runs a look of the drift wait (the harsher case: a parked wait is on
    // no worker); if no look is caught on it within a minute, while its last look was on it.
    let atKill: Pending | undefined;
    const watchFrom = Date.now();
    await until('the drift wait on the victim', async () => {
      const a = await drift();
      if (a && a.identity === victimId && (a.state === 2 || Date.now() - watchFrom > 60_000)) atKill = a;
      return atKill !== undefined;
    });
    const claimsAtKill = s.sim.state(cluster).clusters[0]?.karpenter?.nodeClaims ?? [];
    const killedAt = Date.now();
    await s.worker.kill9();
    const stateName = atKill?.state === 2 ? 'mid look' : 'parked between looks';
    log(`SIGKILL of ${victimId} (${stateName}, attempt ${atKill?.attempt}, ${claimsAtKill.length} NodeClaims)`);
    let tookOver: Pending | undefined;
    await until('the drift wait resumed on the survivor', async () => {
      const a = await drift();
      if (a && a.attempt > (atKill?.attempt ?? 0) && a.identity === survivorId) tookOver = a;
      return tookOver !== undefined || a === undefined;
    });
    const takeoverMs = Date.now() - killedAt;

    const result = (await s.client.client.workflow.getHandle(campaignWorkflowId(name)).result()) as CampaignResult;
    // The survivor's first look can also end the wait between two polls (the drift finished during
    // the stall): then the history's started event of the drift wait says who ran its last attempt.
    if (!tookOver) {
      const history = await s.client.client.workflow.getHandle(clusterUpgradeWorkflowId(cluster)).fetchHistory();
      const events = history.events ?? [];
      const driftIds = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'driftKarpenterNodes')
          .map((e) => String(e.eventId)),
      );
      const last = events
        .filter(
          (e) =>
            e.activityTaskStartedEventAttributes &&
            driftIds.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)),
        )
        .at(-1)?.activityTaskStartedEventAttributes;
      if (last && (last.attempt ?? 0) > (atKill?.attempt ?? 0) && last.identity === survivorId) {
        tookOver = { type: 'driftKarpenterNodes', attempt: last.attempt ?? 0, state: 0, identity: last.identity };
      }
    }
    const lines = [
      `SIGKILL of the worker holding the Karpenter drift wait (${stateName}) → ` +
        (tookOver
          ? `the survivor's next look (attempt ${tookOver.attempt}) after ${(takeoverMs / 1000).toFixed(2)} s`
          : `the wait ended after ${(takeoverMs / 1000).toFixed(2)} s`),
      `campaign ${result.state} (${result.upgraded.length} upgraded)`,
    ];
    for (const line of lines) log(line);
    console.log(lines.join('\n'));

    const v = await verifyCampaigns(s, [{ name, runId: started.runId, targetVersion: '1.32' }]);
    const status = v.statuses.get(name);
    log(`outcome: ${status ? describeOutcome(status) : '?'}; ${v.mutations.length} mutations`);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(result.state).toBe('completed');
    expect(result.upgraded).toEqual([cluster]);
    expect(tookOver).toBeDefined();

    const end = s.sim.state(cluster).clusters[0];
    const k = end?.karpenter;
    expect(end?.version).toBe('1.32');
    if (!k) throw new Error('no Karpenter state');
    for (const w of k.writes)
      log(
        `write ${w.at} ${w.kind}/${w.name} ${JSON.stringify(w.budgets ?? w.amiSelectorTerms)} ${JSON.stringify(w.annotations)}`,
      );

    // Once each per change: hold, drift release, release; nothing written twice in a row.
    const fleetwaveKeys = (a: Record<string, string>) =>
      Object.keys(a).filter((key) => key.startsWith('fleetwave.io/'));
    const content = (w: (typeof k.writes)[number]) => JSON.stringify([w.budgets ?? w.amiSelectorTerms, w.annotations]);
    const objects = [
      ...k.nodePools.map((p) => ({ kind: 'NodePool', name: p.name })),
      ...k.nodeClasses.map((nc) => ({ kind: 'EC2NodeClass', name: nc.name })),
    ];
    for (const o of objects) {
      const writes = k.writes.filter((w) => w.kind === o.kind && w.name === o.name);
      const repeated = writes.filter((w, i) => i > 0 && content(w) === content(writes[i - 1] as typeof w));
      expect(repeated, `${o.kind}/${o.name}: a write that repeats the previous one`).toEqual([]);
      expect(writes.length, `${o.kind}/${o.name}: hold, drift release, release`).toBe(3);
      // The hold and the drift release carry fleetwave's annotation; the release removes it.
      expect(writes.map((w) => fleetwaveKeys(w.annotations).length > 0)).toEqual([true, true, false]);
    }
    // The EC2NodeClass terms: the AMI ids of the old minor before the hop, the target terms in the
    // node step, kept by the release on success (domain/karpenter.ts termsOnExit: 'keep'), which only
    // removes the annotation.
    for (const nc of k.nodeClasses) {
      const terms = k.writes
        .filter((w) => w.kind === 'EC2NodeClass' && w.name === nc.name)
        .map((w) => w.amiSelectorTerms);
      expect(terms[0]?.every((t) => t.id !== undefined)).toBe(true);
      expect(terms[1]).toEqual([{ alias: expect.stringMatching(/^al2023@v\d{8}$/) }]);
      expect(terms[2]).toEqual(terms[1]);
      expect(nc.amiSelectorTerms).toEqual(terms[1]);
    }
    // Every NodeClaim on an AMI its class resolves at the target minor.
    const resolved = new Set(k.nodeClasses.flatMap((nc) => nc.resolvedAmis));
    expect(k.nodeClaims.length).toBe(NODES.default + NODES.batch);
    expect(k.nodeClaims.filter((c) => !resolved.has(c.imageId) || c.terminating)).toEqual([]);
    expect(k.disruptions.filter((d) => d.reason === 'Drifted').length).toBe(NODES.default + NODES.batch);

    // The holds released: no fleetwave annotation, the user's budgets and terms.
    for (const p of k.nodePools) {
      expect(fleetwaveKeys(p.annotations), `NodePool/${p.name}`).toEqual([]);
      expect(p.budgets).toEqual([{ nodes: USER_BUDGET }]);
    }
    for (const nc of k.nodeClasses) expect(fleetwaveKeys(nc.annotations), `EC2NodeClass/${nc.name}`).toEqual([]);
  });
});
