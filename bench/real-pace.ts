/**
 * `npm run bench:real-pace`: fleetwave on a few simulated clusters at real EKS pace (time scale 1
 * by default), counting Temporal actions from the server rather than estimating them.
 *
 * Two stacks run side by side (bench/lib/stack.ts), so nothing of one leaks into the other's
 * figures:
 *   - counted: N clusters, one control-plane hop each, one wave, approval auto, all at once. Its
 *     dev server serves its own metrics; the frontend's request counters are scraped before the
 *     campaign starts and after it ends. Actions = the histories of every run (billing rules of
 *     bench/lib/histories.ts, activity retries from ActivityTaskStarted.attempt) + heartbeats and
 *     queries as the server counted them. The harness sends the counted stack no query.
 *   - probe: 1 cluster, paused in the middle of its control-plane hop, resumed, then aborted while
 *     its node groups roll; it measures how long each takes to show.
 *
 *   npm run bench:real-pace                          # 3 clusters at real pace: 40–60 minutes
 *   npm run bench:real-pace -- --time-scale 60       # the same, compressed: about a minute
 *   npm run bench:real-pace -- --clusters 5 --json --out bench/results/x   # x.json and x.md
 *   npm run bench:real-pace -- --report bench/results/real-pace.json       # the table again, no run
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { FleetwaveClient } from '../client/library';
import { validateStartInput } from '../client/library';
import type { Fleet } from '../domain/fleet';
import {
  campaignWorkflowId,
  clusterStatusQuery,
  clusterUpgradeWorkflowId,
  WorkflowTypes,
  type CampaignResult,
} from '../workflows/definitions';
import { CampaignStateKey } from '../workflows/search-attributes';
import { benchCampaign } from './lib/campaign';
import { campaignProgress, waitForResult } from './lib/driver';
import { eventBreakdown, fetchRun, mapLimit, summarize, type ActionCounts, type RunHistory } from './lib/histories';
import { actionTotal, REAL_PACE_TARGET, realPaceFleet, runActions, sumRunActions } from './lib/real-pace';
import {
  HEARTBEAT_OPERATIONS,
  QUERY_OPERATIONS,
  requestDelta,
  scrapeFrontendRequests,
  sumOperations,
} from './lib/server-metrics';
import { startStack, type Stack } from './lib/stack';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Options {
  clusters: string;
  timeScale: string;
  json: boolean;
  out: string;
  keep: boolean;
  report?: string;
}

/** One wave of every cluster at once, approval auto, no soak; gates measured every 30 s (real). */
function realPaceCampaign(name: string, clusters: number, timeScale: number) {
  return benchCampaign({
    name,
    timeScale,
    targetVersion: REAL_PACE_TARGET,
    waves: [{ name: 'all', maxParallel: clusters, soakRealMs: 0, approval: 'auto' }],
    maxInFlight: clusters,
    gateIntervalSec: Math.max(1, Math.round(30 / timeScale)),
    gateTimeout: `${Math.max(60, Math.round(600 / timeScale))}s`,
  });
}

/** Latencies the probe campaign measured (epoch-relative ms from the signal; undefined: never seen). */
interface ProbeFigures {
  cluster: string;
  pause: {
    /** In the control-plane hop for this long (wall) before the signal. */
    sentAfterActivityStartMs: number;
    /** clusterStatus query answered `paused: true`. */
    statusPausedMs?: number;
    /** The campaign's CampaignState search attribute said `paused`. */
    campaignPausedMs?: number;
    /** upgradeControlPlane no longer among the child's pending activities (the EKS update ended). */
    activityStoppedMs?: number;
    stepWhenPaused?: string;
  };
  abort: {
    /** Which activity was running when the abort was sent, and for how long. */
    activity: string;
    sentAfterActivityStartMs: number;
    activityStoppedMs?: number;
    childClosedMs?: number;
    childCloseStatus?: string;
    campaignClosedMs?: number;
    campaignState?: string;
  };
  /** Queries the probe sent its own stack (not part of any counted figure). */
  queries: number;
}

/**
 * The child's pending activity of `type`: `started` once a worker picked it up. A cancelled
 * activity stays pending (CANCEL_REQUESTED) until the worker reports it ended.
 */
async function pendingActivity(
  fw: FleetwaveClient,
  cluster: string,
  type: string,
): Promise<{ started: boolean; startedMs: number; state: number } | undefined> {
  const d = await fw.client.workflow.getHandle(clusterUpgradeWorkflowId(cluster)).describe();
  if (d.status.name !== 'RUNNING') return undefined;
  const a = d.raw.pendingActivities?.find((p) => p.activityType?.name === type);
  if (!a) return undefined;
  const t = a.lastStartedTime;
  return {
    // PENDING_ACTIVITY_STATE_STARTED = 2, CANCEL_REQUESTED = 3. A wait that parks between looks is
    // SCHEDULED (1) most of the time: past its first attempt it has started all the same.
    started: a.state === 2 || a.state === 3 || (a.attempt ?? 1) >= 2,
    startedMs: t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : Date.now(),
    state: a.state ?? 0,
  };
}

/** True once the activity is no longer pending; false while it is, or when the server did not answer. */
const activityGone = (fw: FleetwaveClient, cluster: string, type: string) =>
  pendingActivity(fw, cluster, type).then(
    (a) => a === undefined,
    () => false,
  );

/** The activity once it started (for {@link until}). */
const startedActivity = async (fw: FleetwaveClient, cluster: string, type: string) => {
  const a = await pendingActivity(fw, cluster, type);
  return a?.started ? a : undefined;
};

async function childStatus(fw: FleetwaveClient, cluster: string): Promise<{ running: boolean; status: string }> {
  const d = await fw.client.workflow.getHandle(clusterUpgradeWorkflowId(cluster)).describe();
  return { running: d.status.name === 'RUNNING', status: d.status.name };
}

async function until<T>(what: string, timeoutMs: number, pollMs: number, probe: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * Pauses the probe campaign while its control-plane update is in flight and watches three signs
 * of the pause; resumes; aborts while its node groups roll and watches the child and campaign end.
 */
async function runProbe(
  fw: FleetwaveClient,
  name: string,
  cluster: string,
  timeScale: number,
  log: (line: string) => void,
): Promise<ProbeFigures> {
  const pollMs = 500;
  const limitMs = 90 * MINUTE;
  const holdMs = (2 * MINUTE) / timeScale;
  let queries = 0;
  const child = fw.client.workflow.getHandle(clusterUpgradeWorkflowId(cluster));
  const campaign = fw.client.workflow.getHandle(campaignWorkflowId(name));

  const cp = await until('the control-plane hop', limitMs, pollMs, () =>
    startedActivity(fw, cluster, 'upgradeControlPlane'),
  );
  await sleep(Math.max(0, cp.startedMs + holdMs - Date.now()));
  const pauseSent = Date.now();
  await fw.pauseCampaign(name, { by: 'bench', reason: 'pause latency' });
  log(`probe: pause sent ${((pauseSent - cp.startedMs) / 1000).toFixed(0)} s into the control-plane hop`);
  const pause: ProbeFigures['pause'] = { sentAfterActivityStartMs: pauseSent - cp.startedMs };
  while (
    pause.statusPausedMs === undefined ||
    pause.campaignPausedMs === undefined ||
    pause.activityStoppedMs === undefined
  ) {
    if (Date.now() - pauseSent > limitMs) throw new Error('probe: pause not complete after 90 minutes');
    const now = Date.now();
    if (pause.statusPausedMs === undefined) {
      queries++;
      const s = await child.query(clusterStatusQuery).catch(() => undefined);
      if (s?.paused) {
        pause.statusPausedMs = now - pauseSent;
        pause.stepWhenPaused = s.step;
        log(`probe: clusterStatus says paused after ${pause.statusPausedMs} ms (step ${s.step})`);
      }
    }
    if (pause.campaignPausedMs === undefined) {
      const d = await campaign.describe().catch(() => undefined);
      if (d?.typedSearchAttributes.get(CampaignStateKey) === 'paused') {
        pause.campaignPausedMs = now - pauseSent;
        log(`probe: campaign state paused after ${pause.campaignPausedMs} ms`);
      }
    }
    if (pause.activityStoppedMs === undefined && (await activityGone(fw, cluster, 'upgradeControlPlane'))) {
      pause.activityStoppedMs = now - pauseSent;
      log(`probe: upgradeControlPlane no longer running after ${(pause.activityStoppedMs / 1000).toFixed(1)} s`);
    }
    await sleep(pollMs);
  }

  await fw.resumeCampaign(name, { by: 'bench', reason: 'pause latency measured' });
  log('probe: resumed');
  const ng = await until('the node group rollout', limitMs, pollMs, () =>
    startedActivity(fw, cluster, 'updateNodegroups'),
  );
  await sleep(Math.max(0, ng.startedMs + holdMs - Date.now()));
  const abortSent = Date.now();
  await fw.abortCampaign(name, { by: 'bench', reason: 'abort latency' });
  log(`probe: abort sent ${((abortSent - ng.startedMs) / 1000).toFixed(0)} s into the node group rollout`);
  const abort: ProbeFigures['abort'] = {
    activity: 'updateNodegroups',
    sentAfterActivityStartMs: abortSent - ng.startedMs,
  };
  while (
    abort.activityStoppedMs === undefined ||
    abort.childClosedMs === undefined ||
    abort.campaignClosedMs === undefined
  ) {
    if (Date.now() - abortSent > limitMs) throw new Error('probe: abort not complete after 90 minutes');
    const now = Date.now();
    if (abort.activityStoppedMs === undefined && (await activityGone(fw, cluster, 'updateNodegroups'))) {
      abort.activityStoppedMs = now - abortSent;
      log(`probe: updateNodegroups no longer running after ${(abort.activityStoppedMs / 1000).toFixed(1)} s`);
    }
    if (abort.childClosedMs === undefined) {
      const c = await childStatus(fw, cluster).catch(() => undefined);
      if (c && !c.running) {
        abort.childClosedMs = now - abortSent;
        abort.childCloseStatus = c.status;
        log(`probe: cluster-upgrade closed (${c.status}) after ${(abort.childClosedMs / 1000).toFixed(1)} s`);
      }
    }
    if (abort.campaignClosedMs === undefined) {
      const d = await campaign.describe().catch(() => undefined);
      if (d && d.status.name !== 'RUNNING') {
        abort.campaignClosedMs = now - abortSent;
        abort.campaignState = d.typedSearchAttributes.get(CampaignStateKey);
        log(`probe: campaign closed (${abort.campaignState}) after ${(abort.campaignClosedMs / 1000).toFixed(1)} s`);
      }
    }
    await sleep(pollMs);
  }
  return { cluster, pause, abort, queries };
}

/** Every run the counted stack's namespace holds (campaign, cluster upgrades, fleet leases). */
async function fetchAllRuns(stack: Stack): Promise<RunHistory[]> {
  const ids: { workflowId: string; runId: string }[] = [];
  for await (const info of stack.client.client.workflow.list())
    ids.push({ workflowId: info.workflowId, runId: info.runId });
  return mapLimit(ids, 4, (x) => fetchRun(stack.client.client, x.workflowId, x.runId));
}

type KindCounts = Omit<ActionCounts, 'heartbeats' | 'queries' | 'total'>;
const kinds = (a: ActionCounts): KindCounts => {
  const { heartbeats: _h, queries: _q, total: _t, ...rest } = a;
  return rest;
};

async function main(): Promise<number> {
  const program = new Command('bench:real-pace')
    .description('fleetwave at real EKS pace; actions counted from histories and the server')
    .option('--clusters <n>', 'clusters in the counted campaign', '3')
    .option('--time-scale <n>', 'simulated seconds per real second (1 = real EKS durations)', '1')
    .option('--json', 'print the result as JSON instead of the markdown table', false)
    .option('--out <base>', 'write <base>.json and <base>.md', 'bench/results/real-pace')
    .option('--keep', 'keep logs under .fleetwave/bench/real-pace', false)
    .option('--report <json>', 'no run: print the markdown of a saved result (and rewrite its .md)');
  program.parse(process.argv);
  const opts = program.opts<Options>();
  if (opts.report) {
    const md = markdown(JSON.parse(readFileSync(opts.report, 'utf8')) as Parameters<typeof markdown>[0]);
    writeFileSync(opts.report.replace(/\.json$/, '.md'), md);
    process.stdout.write(md);
    return 0;
  }
  const n = Number(opts.clusters);
  const timeScale = Number(opts.timeScale);
  if (!Number.isInteger(n) || n < 1 || !(timeScale >= 1)) throw new Error('--clusters ≥ 1 and --time-scale ≥ 1');

  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
  const dir = path.join(root, '.fleetwave/bench/real-pace');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const all = realPaceFleet(n + 1);
  const counted: Fleet = { ...all, clusters: all.clusters.slice(0, n) };
  const probeFleet: Fleet = { ...all, clusters: all.clusters.slice(n) };
  const probeCluster = probeFleet.clusters[0]?.name as string;
  const countedName = 'real-pace';
  const probeName = 'real-pace-probe';
  const countedCampaign = validateStartInput({ campaign: realPaceCampaign(countedName, n, timeScale), fleet: counted });
  const probeCampaign = validateStartInput({ campaign: realPaceCampaign(probeName, 1, timeScale), fleet: probeFleet });
  log(
    `${n} counted clusters (${counted.clusters.map((c) => c.name).join(', ')}) + probe ${probeCluster}, ×${timeScale}`,
  );

  const workerEnv = { LOG_LEVEL: 'info' };
  const stack = await startStack({
    fleet: counted,
    timeScale,
    dir: path.join(dir, 'counted'),
    serverMetrics: true,
    workerEnv,
    log,
  });
  let probeStack: Stack | undefined;
  try {
    probeStack = await startStack({
      fleet: probeFleet,
      timeScale,
      seed: 2,
      dir: path.join(dir, 'probe'),
      workerEnv,
      log,
    });
    const metricsUrl = stack.server.metricsUrl as string;
    const namespace = stack.server.namespace;

    const before = await scrapeFrontendRequests(metricsUrl, namespace);
    const t0 = Date.now();
    const start = await stack.client.startCampaign({
      campaign: countedCampaign.campaign,
      fleet: counted,
      startedBy: 'bench:real-pace',
    });
    await probeStack.client.startCampaign({
      campaign: probeCampaign.campaign,
      fleet: probeFleet,
      startedBy: 'bench:real-pace',
    });
    log(`campaigns started; counted ${start.workflowId}`);
    const probeFw = probeStack.client;
    const probe = runProbe(probeFw, probeName, probeCluster, timeScale, log).catch((err: unknown) => {
      log(`probe failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });

    const progressEvery = timeScale >= 60 ? 10_000 : MINUTE;
    const progress = setInterval(() => {
      void campaignProgress(stack.client, countedName)
        .then((p) => log(`counted: ${p.state ?? '?'}: ${p.done}/${p.total ?? '?'} done, ${p.failed} failed`))
        .catch(() => undefined);
    }, progressEvery);
    let result: CampaignResult;
    try {
      result = await waitForResult(stack.client, countedName, log);
    } finally {
      clearInterval(progress);
    }
    const t1 = Date.now();
    // Scraped before anything else asks the counted server anything.
    const after = await scrapeFrontendRequests(metricsUrl, namespace);
    log(`counted campaign ${result.state} in ${((t1 - t0) / 60_000).toFixed(1)} min; waiting for the probe`);
    const probeFigures = await probe;

    const runs = await fetchAllRuns(stack);
    const delta = requestDelta(before, after);
    const measured = {
      heartbeats: sumOperations(delta, HEARTBEAT_OPERATIONS),
      queries: sumOperations(delta, QUERY_OPERATIONS),
    };
    const byType = (t: string) => runs.filter((r) => r.workflowType === t);
    const campaignActions = sumRunActions(byType(WorkflowTypes.campaign).map(runActions));
    const leaseActions = sumRunActions(byType(WorkflowTypes.fleetLease).map(runActions));
    const clusterRuns = byType(WorkflowTypes.clusterUpgrade).sort((a, b) => a.startMs - b.startMs);
    const clusters = clusterRuns.map((r) => {
      const a = runActions(r);
      return {
        cluster: r.workflowId.replace(/^cluster-upgrade\//, ''),
        outcome: r.closeEvent ?? 'running',
        durationMs: (r.closeMs ?? NaN) - r.startMs,
        events: r.events.length,
        actionsFromHistory: a.history.total,
        byKind: kinds(a.history),
        estimatedHeartbeats: a.estimatedHeartbeats,
        estimatedStopQueries: a.estimatedQueries,
      };
    });
    const fromHistory = sumRunActions([campaignActions, leaseActions, ...clusterRuns.map(runActions)]);
    const total = actionTotal(fromHistory.history.total, measured, 0);
    const perCluster = (x: number) => Math.round((x / n) * 10) / 10;

    const out = {
      startedAt: new Date(started).toISOString(),
      setup: {
        clusters: n,
        timeScale,
        target: REAL_PACE_TARGET,
        fleet: counted.clusters.map((c) => ({
          name: c.name,
          version: c.version,
          nodegroups: c.nodegroups.map((g) => `${g.name}:${g.nodes}/${g.maxUnavailable}`),
          addons: c.addons?.length ?? 0,
        })),
        campaign: 'one wave, maxParallel = clusters, approval auto, no soak, gates every 30 s (real)',
      },
      outcome: { state: result.state, upgraded: result.upgraded.length, failed: result.failed.length },
      wallClockMs: t1 - t0,
      clusterUpgradeMs: summarize(clusters.map((c) => c.durationMs)),
      runs: {
        campaign: byType(WorkflowTypes.campaign).length,
        clusterUpgrade: clusterRuns.length,
        fleetLease: byType(WorkflowTypes.fleetLease).length,
      },
      actions: {
        total,
        perCluster: {
          total: perCluster(total.total),
          fromHistory: perCluster(total.fromHistory),
          heartbeats: perCluster(total.heartbeats),
          queries: perCluster(total.queries),
        },
        fromHistoryByKind: kinds(fromHistory.history),
        campaignRuns: campaignActions.history.total,
        fleetLeaseRuns: leaseActions.history.total,
        /** The history-based estimates of bench/lib/histories.ts, for comparison with the measured ones. */
        estimated: { heartbeats: fromHistory.estimatedHeartbeats, stopQueries: fromHistory.estimatedQueries },
        harnessQueriesToCountedServer: 0,
      },
      serverRequests: delta,
      eventsPerClusterUpgrade: summarize(clusters.map((c) => c.events)),
      eventKinds: eventBreakdown(clusterRuns),
      clusters,
      probe: probeFigures ?? null,
    };

    const base = path.resolve(root, opts.out);
    mkdirSync(path.dirname(base), { recursive: true });
    writeFileSync(`${base}.json`, `${JSON.stringify(out, null, 2)}\n`);
    const md = markdown(out);
    writeFileSync(`${base}.md`, md);
    process.stdout.write(opts.json ? `${JSON.stringify(out, null, 2)}\n` : md);
    log(`wrote ${path.relative(root, base)}.json and .md`);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    return 0;
  } finally {
    await probeStack?.stop();
    await stack.stop();
  }
}

const sec = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '—' : `${(ms / 1000).toFixed(1)} s`;
const min = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;

/** The report as markdown (bench/results/real-pace.md). */
function markdown(r: {
  startedAt: string;
  setup: { clusters: number; timeScale: number };
  outcome: { state: string };
  wallClockMs: number;
  clusterUpgradeMs: ReturnType<typeof summarize>;
  actions: {
    total: { fromHistory: number; heartbeats: number; queries: number; total: number };
    perCluster: Record<string, number>;
    fromHistoryByKind: KindCounts;
    estimated: { heartbeats: number; stopQueries: number };
  };
  serverRequests: Record<string, number>;
  clusters: {
    cluster: string;
    outcome: string;
    durationMs: number;
    events: number;
    actionsFromHistory: number;
    byKind: KindCounts;
    estimatedHeartbeats: number;
  }[];
  probe: ProbeFigures | null;
}): string {
  const a = r.actions;
  const lines = [
    `# Real pace: ${r.setup.clusters} clusters at time scale ×${r.setup.timeScale}`,
    '',
    `Run ${r.startedAt}: campaign ${r.outcome.state} in ${min(r.wallClockMs)}; cluster upgrades ${min(r.clusterUpgradeMs.min)}–${min(r.clusterUpgradeMs.max)} (mean ${min(r.clusterUpgradeMs.mean)}).`,
    '',
    '## Actions',
    '',
    '| | total | per cluster |',
    '|---|---:|---:|',
    `| from histories | ${a.total.fromHistory} | ${a.perCluster.fromHistory} |`,
    `| heartbeats (server, measured) | ${a.total.heartbeats} | ${a.perCluster.heartbeats} |`,
    `| queries (server, measured) | ${a.total.queries} | ${a.perCluster.queries} |`,
    `| **total** | **${a.total.total}** | **${a.perCluster.total}** |`,
    '',
    `History actions by kind: ${Object.entries(a.fromHistoryByKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `History-based estimates for comparison: ${a.estimated.heartbeats} heartbeats, ${a.estimated.stopQueries} stopRequested queries.`,
    '',
    '| cluster | outcome | duration | events | history actions | activities | timers | est. heartbeats |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...r.clusters.map(
      (c) =>
        `| ${c.cluster} | ${c.outcome.replace('WorkflowExecution', '')} | ${min(c.durationMs)} | ${c.events} | ${c.actionsFromHistory} | ${c.byKind.activities} | ${c.byKind.timers} | ${c.estimatedHeartbeats} |`,
    ),
    '',
    `Frontend requests during the run: ${Object.entries(r.serverRequests)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    '## Pause and abort (probe campaign, not counted above)',
    '',
  ];
  const p = r.probe;
  if (r.setup.timeScale !== 1) lines.push(`Wall-clock times; ×${r.setup.timeScale} for simulated EKS time.`, '');
  if (!p) lines.push('The probe did not finish (see the log).');
  else
    lines.push(
      '| | time |',
      '|---|---:|',
      `| pause sent, this far into the control-plane hop | ${sec(p.pause.sentAfterActivityStartMs)} |`,
      `| → clusterStatus query says paused, after the signal | ${sec(p.pause.statusPausedMs)} |`,
      `| → campaign state paused, after the signal | ${sec(p.pause.campaignPausedMs)} |`,
      `| → upgradeControlPlane activity ended, after the signal | ${sec(p.pause.activityStoppedMs)} |`,
      `| abort sent, this far into the node group rollout | ${sec(p.abort.sentAfterActivityStartMs)} |`,
      `| → updateNodegroups activity ended, after the signal | ${sec(p.abort.activityStoppedMs)} |`,
      `| → cluster-upgrade closed (${p.abort.childCloseStatus ?? '?'}), after the signal | ${sec(p.abort.childClosedMs)} |`,
      `| → campaign closed (${p.abort.campaignState ?? '?'}), after the signal | ${sec(p.abort.campaignClosedMs)} |`,
    );
  return `${lines.join('\n')}\n`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench:real-pace failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
