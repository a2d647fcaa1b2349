/**
 * One benchmark scenario end to end: generate the fleet, start the stack, run the campaign with
 * the driver approving each wave at once, then read the histories and the simulator and turn
 * them into figures (bench/lib/report.ts formats them).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { validateStartInput } from '../../client/library';
import { durationToMs } from '../../domain/duration';
import type { PlannedCampaign } from '../../domain/plan';
import { generateFleet } from '../../simulator/index';
import { campaignWorkflowId } from '../../workflows/definitions';
import { sumWithSoaks, type BoundConstraints } from './bounds';
import { benchCampaign, type BenchCampaignOptions } from './campaign';
import { campaignProgress, driveCampaign } from './driver';
import {
  addActions,
  campaignTimelineText,
  countActions,
  emptyActions,
  eventBreakdown,
  fetchCampaignHistories,
  summarize,
  withQueries,
  type ActionCounts,
  type RunHistory,
} from './histories';
import { checkExactlyOnce, checkFinalStates, checkPromotions, duplicateSteps } from './invariants';
import { analyseMeasured, toMeasuredCampaign, type MeasuredCampaign } from './measured';
import { ProcessSampler } from './proc';
import { campaignTimeline, refillDelays } from './timeline';
import { HEARTBEAT_OPERATIONS, requestDelta, scrapeFrontendRequests, sumOperations } from './server-metrics';
import { startStack } from './stack';
import type { WorkerEntry } from './worker-process';

/** A scenario: fleet size and seed, time scale, and the campaign's shape. */
export interface ScenarioDefinition {
  name: string;
  clusters: number;
  seed: number;
  timeScale: number;
  campaign: Omit<BenchCampaignOptions, 'name' | 'timeScale'>;
  /** Prometheus scrape interval. Default "1s". */
  scrapeInterval?: string;
  /** Worker environment on top of the stack's. */
  workerEnv?: Record<string, string>;
  /** Give up (and fail the scenario) when the campaign runs longer. Default: 2 h. */
  timeoutMs?: number;
  /** Dev server dynamic config (only when truly needed; reported). */
  dynamicConfig?: Record<string, string | number | boolean>;
}

type Stats = ReturnType<typeof summarize>;

/** Everything a scenario measured; written as bench/results/<scenario>.json. */
export interface ScenarioResult {
  scenario: string;
  startedAt: string;
  machine: { cpus: number; loadAverageAtStart: number[]; node: string };
  setup: {
    clusters: number;
    seed: number;
    timeScale: number;
    planned: number;
    waves: { name: string; clusters: number; maxParallel: number; soak: string; approval: string }[];
    maxInFlight: number;
    rateLimit?: string;
    caps: string[];
    temporal: string;
    workerEnv: Record<string, string>;
    /** How the worker ran: `built` (dist/, as the image runs it) or `source` (tsx). Absent in older results: source. */
    worker?: WorkerEntry;
  };
  outcome: {
    state: string;
    upgraded: number;
    rolledBack: number;
    failed: number;
    blocked: number;
    skipped: number;
    alreadyAtTarget: number;
    wallClockMs: number;
  };
  makespan: {
    ms: number;
    /** Lower bound from the measured per-cluster durations (bench/lib/bounds.ts). */
    measuredBoundMs: number;
    ratio: number;
    /** domain/estimate.ts with spec.estimates at the simulator's shortest compressed durations. */
    planEstimateMs: number;
    planRatio: number;
    /** Before the first child started (planning, version resolution). */
    startupMs: number;
    waves: {
      name: string;
      clusters: number;
      boundBy: string;
      /** How the binding bound was proven (bench/lib/bounds.ts SlotBoundMethod), for parallelism and caps. */
      boundMethod?: string;
      /** The binding group: `account=…: 18 clusters, 5 at once`. */
      boundDetail?: string;
      boundMs: number;
      soakMs: number;
      /** First child start → last child close. */
      windowMs: number;
      /** Last child close → first child of the next wave (soak, soak gates, approval) or campaign end. */
      gapMs: number;
      /** The campaign's picking rules and start order replayed on the measured durations with zero overhead (bounds.ts simulateWave). */
      simulatedMs: number;
      /** Same rules, clusters offered in plan order (the campaign's order before startOrder). */
      planOrderMs?: number;
      /** Same rules, every measured duration known in advance (measured.ts WaveFigures.clairvoyantMs). */
      clairvoyantMs?: number;
    }[];
    /** Σ over waves of simulatedMs + soak: what the picking rules allow with zero overhead. */
    policyMs: number;
    /** Σ over waves of clairvoyantMs + soak; absent in results written before it. */
    clairvoyantMs?: number;
    clusterDurationMs: Stats;
    /** Per cluster of each wave: measured duration, plan estimate, start, cap labels (bench/lib/measured.ts); absent in results written before it. */
    measured?: MeasuredCampaign;
  };
  history: {
    campaignRuns: number;
    campaignEvents: number;
    campaignEventsPerCluster: number;
    clusterRuns: number;
    clusterRunEvents: Stats;
    clusterRunEventsUpgraded: Stats;
    /** Upgraded runs by control-plane hops ("1", "2", "3"; "0": node groups and add-ons only). */
    clusterRunEventsByHops: Record<string, Stats>;
    /** Largest workflow input of a campaign run (the fleet, plus the carried state after continue-as-new). */
    largestCampaignInputBytes: number;
    maxEventsInAnyRun: number;
    campaignBreakdown: Record<string, number>;
    clusterBreakdownPerRun: Record<string, number>;
  };
  actions: {
    total: ActionCounts;
    perCluster: number;
    campaign: ActionCounts;
    clusters: ActionCounts;
    /**
     * Heartbeats per cluster, counted by the server (`total.heartbeats` is that count; `campaign` and
     * `clusters` keep the histories' estimate). The waits park between looks and heartbeat only
     * when their progress changed, so this no longer grows with the time scale; the gates still
     * heartbeat while they sample, for their (compressed) windows.
     */
    heartbeatsPerCluster: number;
  };
  worker: {
    cpuSecondsTotal: number;
    cpuSecondsDuringCampaign: number;
    /** VmHWM: the kernel's peak, including bundling the workflows at start. */
    peakRssBytes: number;
    /** Highest VmRSS sampled (every second) while the campaign ran. */
    peakRssDuringCampaignBytes: number;
    /** [seconds since the campaign started, VmRSS MiB], one point per 15 s. */
    rssTimelineMiB: [number, number][];
    rssSamples: number;
  };
  server: { cpuSecondsDuringCampaign: number; peakRssBytes: number };
  approvals: {
    sent: number;
    /** Promoting approval's update returned → first child of the next wave started (campaign history). */
    latencyMs: Stats;
    perWave: { wave: string; latencyMs: number; sentToStartMs: number; detectMs: number }[];
  };
  /** Where a sliding window loses time: campaign history event times. */
  reaction: {
    /**
     * Child run closed → the campaign's history records it (clusterFinished signal or child completion).
     * Negative when the child's finished signal, its last act, lands before its own completion event.
     */
    closeToLearnedMs: Stats;
    /** Campaign learned of a close → next child start initiated (starts after each wave's first fill). */
    learnedToNextStartMs: Stats;
    /** StartChildWorkflowExecutionInitiated → ChildWorkflowExecutionStarted. */
    initiatedToStartedMs: Stats;
  };
  invariants: { duplicateSteps: number; finalStateViolations: string[]; promotionViolations: string[] };
  mutations: number;
}

/** Runs one scenario; `dir` gets the logs. */
export async function runScenario(
  def: ScenarioDefinition,
  dir: string,
  log: (line: string) => void,
  workerEntry: WorkerEntry = 'source',
): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));
  const name = `bench-${def.name}`;
  const fleet = generateFleet({ count: def.clusters, seed: def.seed });
  const campaign = benchCampaign({ ...def.campaign, name, timeScale: def.timeScale });
  const { campaign: validated, fleet: members, plan } = validateStartInput({ campaign, fleet });
  const planned = plan.waves.reduce((n, w) => n + w.clusters.length, 0);
  log(
    `${def.name}: ${def.clusters} clusters, ${planned} planned in waves ${plan.waves.map((w) => w.clusters.length).join('/')}; plan bound ${plan.estimate.human}`,
  );

  const workerEnv = {
    LOG_LEVEL: 'info',
    ...def.workerEnv,
  };
  const stack = await startStack({
    fleet,
    timeScale: def.timeScale,
    seed: def.seed,
    dir,
    scrapeInterval: def.scrapeInterval ?? '1s',
    workerEnv,
    workerEntry,
    ...(def.dynamicConfig ? { dynamicConfig: def.dynamicConfig } : {}),
    // Heartbeats leave no history event: they are read from the server's own request counters.
    serverMetrics: true,
    log,
  });
  const serverSampler = new ProcessSampler(stack.server.pid);
  const metricsUrl = stack.server.metricsUrl as string;
  try {
    const requestsBefore = await scrapeFrontendRequests(metricsUrl, stack.server.namespace);
    const t0 = Date.now();
    const started = await stack.client.startCampaign({ campaign: validated, fleet, startedBy: 'npm run bench' });
    log(`${def.name}: campaign ${started.workflowId} started`);
    let lastProgress = 0;
    const progress = setInterval(() => {
      if (Date.now() - lastProgress < 15_000) return;
      lastProgress = Date.now();
      void campaignProgress(stack.client, name)
        .then((c) => {
          const rss = (stack.worker.sampler.sample().rssBytes / 2 ** 20).toFixed(0);
          log(
            `${def.name}: ${c.state} wave ${c.wave ?? '-'}: ${c.done}/${c.total ?? '?'} done, ${c.failed} failed; worker RSS ${rss} MiB; ${((Date.now() - t0) / 1000).toFixed(0)} s`,
          );
        })
        .catch(() => undefined);
    }, 5_000);
    const approvers = validated.spec.approvers.users.slice(0, validated.spec.approvers.minApprovals);
    const timeoutMs = def.timeoutMs ?? 2 * 3_600_000;
    let timer: NodeJS.Timeout | undefined;
    const drive = await Promise.race([
      driveCampaign(stack.client, { name, approvers, log }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`campaign ${name} still running after ${timeoutMs / 60_000} min; see ${dir}/worker.log`)),
          timeoutMs,
        );
      }),
    ]).finally(() => {
      clearInterval(progress);
      clearTimeout(timer);
    });
    const t1 = drive.endedMs;
    const requests = requestDelta(requestsBefore, await scrapeFrontendRequests(metricsUrl, stack.server.namespace));
    stack.worker.sampler.sample();
    serverSampler.sample();
    log(`${def.name}: ${drive.result.state} in ${((t1 - t0) / 1000).toFixed(1)} s; reading histories`);

    // A status of thousands of clusters is a big query result: figures do not depend on it.
    const status = await stack.client.getStatus(name, { liveSteps: false }).catch((err: unknown) => {
      log(
        `${def.name}: status query failed (${err instanceof Error ? err.message : String(err)}); final-state checks skipped`,
      );
      return undefined;
    });
    const histories = await fetchCampaignHistories(stack.client.client, campaignWorkflowId(name), started.runId);
    const timelineFile = process.env.FLEETWAVE_BENCH_TIMELINE;
    if (timelineFile) writeFileSync(timelineFile, campaignTimelineText(histories.campaignRuns, t0));
    const mutations = stack.sim.mutations();
    const simState = stack.sim.state();
    const target = validated.spec.target.kubernetesVersion as string;

    const result = analyse({
      def,
      plan,
      members: new Map(members.map((m) => [m.name, m])),
      histories,
      approvals: drive.approvals,
      queries: drive.queries + 1,
      heartbeats: sumOperations(requests, HEARTBEAT_OPERATIONS),
    });
    const workerCpuTotal = stack.worker.sampler.sample().cpuSeconds;
    return {
      scenario: def.name,
      startedAt,
      machine: { cpus: os.cpus().length, loadAverageAtStart, node: process.version },
      setup: {
        clusters: def.clusters,
        seed: def.seed,
        timeScale: def.timeScale,
        planned,
        waves: plan.waves.map((w) => ({
          name: w.name,
          clusters: w.clusters.length,
          maxParallel: w.maxParallel,
          soak: w.soak,
          approval: w.approval,
        })),
        maxInFlight: validated.spec.pacing.maxInFlight,
        ...(plan.campaign.rateLimit ? { rateLimit: plan.campaign.rateLimit } : {}),
        caps: plan.campaign.caps,
        temporal: `dev server (in memory)${def.dynamicConfig ? ` with ${JSON.stringify(def.dynamicConfig)}` : ', default limits'}`,
        workerEnv,
        worker: workerEntry,
      },
      outcome: {
        state: drive.result.state,
        upgraded: drive.result.upgraded.length,
        rolledBack: drive.result.rolledBack.length,
        failed: drive.result.failed.length,
        blocked: drive.result.blocked?.length ?? 0,
        skipped: drive.result.skipped.length,
        alreadyAtTarget: status?.clusters.filter((c) => c.state === 'already-at-target').length ?? NaN,
        wallClockMs: t1 - t0,
      },
      ...result,
      worker: {
        cpuSecondsTotal: round(workerCpuTotal, 1),
        cpuSecondsDuringCampaign: round(stack.worker.sampler.cpuBetween(t0, t1 + 1_000), 1),
        peakRssBytes: stack.worker.sampler.peakBytes,
        peakRssDuringCampaignBytes: stack.worker.sampler.samples
          .filter((x) => x.at >= t0 && x.at <= t1)
          .reduce((m, x) => Math.max(m, x.rssBytes), 0),
        rssSamples: stack.worker.sampler.samples.length,
        rssTimelineMiB: stack.worker.sampler.samples
          .filter(
            (x, i, all) =>
              i === 0 || Math.floor((x.at - t0) / 15_000) !== Math.floor(((all[i - 1]?.at ?? 0) - t0) / 15_000),
          )
          .map((x) => [Math.round((x.at - t0) / 1000), Math.round(x.rssBytes / 2 ** 20)]),
      },
      server: {
        cpuSecondsDuringCampaign: round(serverSampler.cpuBetween(t0, t1 + 1_000), 1),
        peakRssBytes: serverSampler.peakBytes,
      },
      invariants: {
        duplicateSteps: duplicateSteps(mutations).size,
        finalStateViolations: [
          ...(status ? checkFinalStates(status, simState, target) : ['status query failed: not checked']),
          ...checkExactlyOnce(mutations),
        ].slice(0, 50),
        promotionViolations: status ? checkPromotions(status) : ['status query failed: not checked'],
      },
      mutations: mutations.length,
    };
  } finally {
    serverSampler.stop();
    await stack.stop();
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundStats(s: Stats, digits = 1): Stats {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, digits)])) as Stats;
}

/** Figures from the histories: makespan and its bound, events, actions, approval latency. */
function analyse(input: {
  def: ScenarioDefinition;
  plan: PlannedCampaign;
  members: Map<string, { labels: Record<string, string> }>;
  histories: Awaited<ReturnType<typeof fetchCampaignHistories>>;
  approvals: Awaited<ReturnType<typeof driveCampaign>>['approvals'];
  queries: number;
  /** Heartbeats the server counted during the campaign. */
  heartbeats: number;
}): Pick<ScenarioResult, 'makespan' | 'history' | 'actions' | 'approvals' | 'reaction'> {
  const { def, plan, histories, approvals } = input;
  const { campaignRuns, clusterRuns, childStartedMs } = histories;
  const planned = plan.waves.reduce((n, w) => n + w.clusters.length, 0);
  const firstRun = campaignRuns[0] as RunHistory;
  const lastRun = campaignRuns.at(-1) as RunHistory;
  const makespanMs = (lastRun.closeMs ?? Date.now()) - firstRun.startMs;

  // Per cluster: the sum of its runs' durations (one run each unless retried).
  const durationByCluster = new Map<string, number>();
  const runsByCluster = new Map<string, RunHistory[]>();
  for (const run of clusterRuns) {
    const cluster = run.workflowId.replace(/^cluster-upgrade\//, '');
    const d = (run.closeMs ?? Date.now()) - run.startMs;
    durationByCluster.set(cluster, (durationByCluster.get(cluster) ?? 0) + d);
    runsByCluster.set(cluster, [...(runsByCluster.get(cluster) ?? []), run]);
  }
  const rate = def.campaign.rateLimit;
  const constraints: BoundConstraints = {
    maxInFlight: def.campaign.maxInFlight,
    ...(rate ? { rateLimit: { starts: rate.starts, perMs: rate.perRealMs / def.timeScale } } : {}),
    caps: def.campaign.caps ?? [],
  };
  const firstStart = (cluster: string): number => {
    const run = runsByCluster.get(cluster)?.[0];
    return run ? (childStartedMs.get(run.runId) ?? run.startMs) - firstRun.startMs : NaN;
  };
  const measured = toMeasuredCampaign(
    constraints,
    plan.waves.map((w) => ({
      name: w.name,
      maxParallel: w.maxParallel,
      soakMs: durationToMs(w.soak),
      clusters: w.clusters
        .filter((c) => durationByCluster.has(c.name))
        .map((c) => ({
          name: c.name,
          durationMs: durationByCluster.get(c.name) as number,
          estimateMs: c.estimateMs,
          startMs: firstStart(c.name),
          labels: input.members.get(c.name)?.labels ?? {},
        })),
    })),
  );
  const figures = analyseMeasured(measured);

  // Wave windows and the gaps between them, from child start/close times.
  const waveSpans = plan.waves.map((w) => {
    const runs = w.clusters.flatMap((c) => runsByCluster.get(c.name) ?? []);
    const starts = runs.map((r) => childStartedMs.get(r.runId) ?? r.startMs);
    const ends = runs.map((r) => r.closeMs ?? Date.now());
    return {
      first: starts.length ? Math.min(...starts) : undefined,
      last: ends.length ? Math.max(...ends) : undefined,
    };
  });
  const waves = plan.waves.map((w, i) => {
    const span = waveSpans[i] as { first?: number; last?: number };
    const nextFirst = waveSpans.slice(i + 1).find((s) => s.first !== undefined)?.first ?? lastRun.closeMs ?? Date.now();
    const f = figures.waves[i];
    return {
      name: w.name,
      clusters: f?.clusters ?? 0,
      boundBy: f?.boundBy ?? 'empty',
      ...(f?.boundMethod ? { boundMethod: f.boundMethod } : {}),
      ...(f?.boundDetail ? { boundDetail: f.boundDetail } : {}),
      boundMs: Math.round(f?.boundMs ?? 0),
      soakMs: f?.soakMs ?? 0,
      windowMs: span.first !== undefined && span.last !== undefined ? span.last - span.first : 0,
      gapMs: span.last !== undefined ? nextFirst - span.last : 0,
      simulatedMs: Math.round(f?.simulatedMs ?? 0),
      planOrderMs: Math.round(f?.planOrderMs ?? 0),
      clairvoyantMs: Math.round(f?.clairvoyantMs ?? 0),
    };
  });
  const firstChild = waveSpans.find((s) => s.first !== undefined)?.first ?? firstRun.startMs;

  // History events.
  const campaignEvents = campaignRuns.reduce((n, r) => n + r.events.length, 0);
  const upgradedRuns = clusterRuns.filter((r) => /"outcome":"upgraded"/.test(resultText(r)));
  const allRuns = [...campaignRuns, ...clusterRuns];
  const hopsOf = new Map(plan.waves.flatMap((w) => w.clusters.map((c) => [c.name, c.path.length] as const)));
  const byHops = new Map<number, number[]>();
  for (const run of upgradedRuns) {
    const hops = hopsOf.get(run.workflowId.replace(/^cluster-upgrade\//, '')) ?? -1;
    byHops.set(hops, [...(byHops.get(hops) ?? []), run.events.length]);
  }
  const clusterBreakdown = eventBreakdown(clusterRuns);

  // Actions.
  let campaignActions = emptyActions();
  campaignRuns.forEach((run, i) => {
    campaignActions = addActions(campaignActions, countActions(run, { clientStart: i === 0 }));
  });
  campaignActions = withQueries(campaignActions, input.queries);
  let clusterActions = emptyActions();
  for (const run of clusterRuns) clusterActions = addActions(clusterActions, countActions(run));
  const estimated = addActions(campaignActions, clusterActions);
  // The histories' estimate of heartbeats gives way to what the server counted.
  const total = {
    ...estimated,
    heartbeats: input.heartbeats,
    total: estimated.total - estimated.heartbeats + input.heartbeats,
  };

  // Approval latency: promoting approval returned → first child start after it.
  const timeline = campaignTimeline(campaignRuns);
  const childStarts = [...childStartedMs.values()].sort((a, b) => a - b);
  const perWave = approvals
    .filter((a) => a.promoted)
    .map((a) => {
      const next = childStarts.find((t) => t >= a.sentMs);
      const firstSent = Math.min(...approvals.filter((x) => x.wave === a.wave).map((x) => x.sentMs));
      const awaiting = timeline.awaitingApprovalAt.filter((t) => t <= firstSent).at(-1);
      return {
        wave: a.wave,
        latencyMs: next !== undefined ? next - a.returnedMs : NaN,
        sentToStartMs: next !== undefined ? next - a.sentMs : NaN,
        detectMs: awaiting !== undefined ? firstSent - awaiting : NaN,
      };
    });

  // Reaction of the sliding window.
  const closeToLearned: number[] = [];
  for (const run of clusterRuns) {
    const learned = timeline.learnedClose.get(run.workflowId.replace(/^cluster-upgrade\//, ''));
    if (learned !== undefined && run.closeMs !== undefined) closeToLearned.push(learned - run.closeMs);
  }
  const initiatedToStarted = [...timeline.started].flatMap(([c, at]) => {
    const i = timeline.initiated.get(c);
    return i === undefined ? [] : [at - i];
  });
  const refill = refillDelays(
    timeline,
    plan.waves.map((w) => ({
      clusters: w.clusters.map((c) => c.name),
      fill: Math.min(w.maxParallel, def.campaign.maxInFlight),
    })),
  );

  return {
    makespan: {
      ms: makespanMs,
      measuredBoundMs: Math.round(figures.boundMs),
      ratio: round(makespanMs / figures.boundMs, 3),
      policyMs: sumWithSoaks(waves, (w) => w.simulatedMs),
      clairvoyantMs: sumWithSoaks(waves, (w) => w.clairvoyantMs),
      planEstimateMs: plan.estimate.totalMs,
      planRatio: round(makespanMs / plan.estimate.totalMs, 2),
      startupMs: firstChild - firstRun.startMs,
      waves,
      clusterDurationMs: roundStats(summarize([...durationByCluster.values()]), 0),
      measured,
    },
    history: {
      campaignRuns: campaignRuns.length,
      campaignEvents,
      campaignEventsPerCluster: round(campaignEvents / Math.max(1, planned), 2),
      clusterRuns: clusterRuns.length,
      clusterRunEvents: roundStats(summarize(clusterRuns.map((r) => r.events.length))),
      clusterRunEventsUpgraded: roundStats(summarize(upgradedRuns.map((r) => r.events.length))),
      clusterRunEventsByHops: Object.fromEntries(
        [...byHops].sort(([a], [b]) => a - b).map(([hops, counts]) => [String(hops), roundStats(summarize(counts))]),
      ),
      largestCampaignInputBytes: campaignRuns.reduce(
        (m, r) =>
          Math.max(
            m,
            (r.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []).reduce(
              (n, p) => n + (p.data?.length ?? 0),
              0,
            ),
          ),
        0,
      ),
      maxEventsInAnyRun: allRuns.reduce((m, r) => Math.max(m, r.events.length), 0),
      campaignBreakdown: eventBreakdown(campaignRuns),
      clusterBreakdownPerRun: Object.fromEntries(
        Object.entries(clusterBreakdown).map(([k, v]) => [k, round(v / Math.max(1, clusterRuns.length))]),
      ),
    },
    actions: {
      total,
      perCluster: round(total.total / Math.max(1, planned), 1),
      campaign: campaignActions,
      clusters: clusterActions,
      heartbeatsPerCluster: round(input.heartbeats / Math.max(1, planned), 1),
    },
    reaction: {
      closeToLearnedMs: roundStats(summarize(closeToLearned), 0),
      learnedToNextStartMs: roundStats(summarize(refill), 0),
      initiatedToStartedMs: roundStats(summarize(initiatedToStarted), 0),
    },
    approvals: {
      sent: approvals.length,
      latencyMs: roundStats(summarize(perWave.map((w) => w.latencyMs).filter(Number.isFinite)), 0),
      perWave,
    },
  };
}

/** The run's result payload as text (JSON), for cheap outcome checks. */
function resultText(run: RunHistory): string {
  const done = run.events.at(-1)?.workflowExecutionCompletedEventAttributes;
  const data = done?.result?.payloads?.[0]?.data;
  return data ? Buffer.from(data).toString('utf8') : '';
}
