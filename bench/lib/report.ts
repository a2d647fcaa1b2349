/**
 * Benchmark figures for humans: the targets with PASS/FAIL next to each figure, per scenario on
 * the console and as one markdown table over every result in bench/results/ (summary.md).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioResult } from './scenario';

/** The targets of issue 7, as checks over a result (undefined: does not apply to this scenario). */
export interface TargetCheck {
  label: string;
  pass: boolean | undefined;
  figure: string;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export const TARGETS = {
  /** makespan / lower bound at 500 clusters. */
  ratioAt500: 1.05,
  clusterRunEvents: 60,
  campaignEventsPerCluster: 10,
  /** Temporal's history-size warning. */
  eventsPerRun: 10_240,
  workerRssBytes: GiB,
};

function s(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** How a slot bound was proven, in words (bench/lib/bounds.ts SlotBoundMethod). */
const METHODS: Record<string, string> = {
  longest: 'longest cluster',
  average: 'Σd / m',
  pigeonhole: 'pigeonhole',
  packing: 'packing proof',
};

/** What binds a wave's bound: `label-cap, account=…: 18 clusters, 5 at once; packing proof`. */
export function boundLabel(w: ScenarioResult['makespan']['waves'][number]): string {
  const method = w.boundMethod ? `; ${METHODS[w.boundMethod] ?? w.boundMethod}` : '';
  return `${w.boundBy}${w.boundDetail ? `, ${w.boundDetail}` : ''}${method}`;
}

/** Every target check of one result. */
export function targetChecks(r: ScenarioResult): TargetCheck[] {
  const finished = r.outcome.state === 'completed' || r.outcome.state === 'completed-with-failures';
  return [
    {
      label: `makespan / lower bound ≤ ${TARGETS.ratioAt500} (500 clusters)`,
      pass: r.setup.clusters === 500 ? r.makespan.ratio <= TARGETS.ratioAt500 : undefined,
      figure: `${r.makespan.ratio.toFixed(3)} (${s(r.makespan.ms)} / ${s(r.makespan.measuredBoundMs)})`,
    },
    {
      label: `≤ ${TARGETS.clusterRunEvents} events per cluster-upgrade run`,
      pass: r.history.clusterRunEvents.max <= TARGETS.clusterRunEvents,
      figure: `mean ${r.history.clusterRunEvents.mean}, p95 ${r.history.clusterRunEvents.p95}, max ${r.history.clusterRunEvents.max}`,
    },
    {
      label: `≤ ${TARGETS.campaignEventsPerCluster} campaign events per cluster`,
      pass: r.history.campaignEventsPerCluster <= TARGETS.campaignEventsPerCluster,
      figure: `${r.history.campaignEventsPerCluster} (${r.history.campaignEvents} events in ${r.history.campaignRuns} run(s))`,
    },
    {
      label: `no run over ${TARGETS.eventsPerRun.toLocaleString('en-US')} events`,
      pass: r.history.maxEventsInAnyRun < TARGETS.eventsPerRun,
      figure: `max ${r.history.maxEventsInAnyRun}`,
    },
    {
      label: '5,000 clusters complete, worker RSS < 1 GiB',
      pass: r.setup.clusters === 5000 ? finished && r.worker.peakRssBytes < TARGETS.workerRssBytes : undefined,
      figure: `${r.outcome.state}, peak RSS ${(r.worker.peakRssBytes / MiB).toFixed(0)} MiB`,
    },
  ];
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? '—' : pass ? 'PASS' : 'FAIL';
}

/** How the run's worker was loaded (results before `setup.worker` existed ran it from source). */
function workerCode(r: ScenarioResult): string {
  return r.setup.worker === 'built' ? 'built (dist/, as the image runs it)' : 'from source (tsx)';
}

/** Console lines for one scenario. */
export function consoleReport(r: ScenarioResult): string {
  const lines = [
    '',
    `== scenario ${r.scenario}: ${r.setup.clusters} clusters (${r.setup.planned} to upgrade), time-scale ×${r.setup.timeScale}`,
    `   outcome         ${r.outcome.state}: ${r.outcome.upgraded} upgraded, ${r.outcome.rolledBack} rolled back, ${r.outcome.failed} failed, ${r.outcome.blocked} blocked (wall clock ${s(r.outcome.wallClockMs)})`,
    `   makespan        ${s(r.makespan.ms)}; lower bound from measured durations ${s(r.makespan.measuredBoundMs)} (ratio ${r.makespan.ratio}); picking rules at zero overhead ${s(r.makespan.policyMs)}; plan estimate ${s(r.makespan.planEstimateMs)} (ratio ${r.makespan.planRatio})`,
  ];
  for (const w of r.makespan.waves) {
    lines.push(
      `     wave ${w.name.padEnd(8)} ${String(w.clusters).padStart(5)} clusters: window ${s(w.windowMs)} vs bound ${s(w.boundMs)} (${boundLabel(w)}), picking rules at zero overhead ${s(w.simulatedMs)} (knowing the durations ${s(w.clairvoyantMs ?? NaN)}, in plan order ${s(w.planOrderMs ?? NaN)}); then ${s(w.gapMs)} until the next wave (soak ${s(w.soakMs)})`,
    );
  }
  lines.push(
    `   cluster runs    duration mean ${s(r.makespan.clusterDurationMs.mean)}, p95 ${s(r.makespan.clusterDurationMs.p95)}; events mean ${r.history.clusterRunEvents.mean}, p95 ${r.history.clusterRunEvents.p95}, max ${r.history.clusterRunEvents.max}`,
    `   by hops         ${Object.entries(r.history.clusterRunEventsByHops ?? {})
      .map(([hops, st]) => `${hops} hop(s): ${st.n} runs, mean ${st.mean}, max ${st.max}`)
      .join('; ')}`,
    `   campaign        ${r.history.campaignEvents} events in ${r.history.campaignRuns} run(s): ${r.history.campaignEventsPerCluster} per cluster; largest run input ${(r.history.largestCampaignInputBytes / 2 ** 20).toFixed(2)} MiB`,
    `   actions         ${r.actions.perCluster} per cluster (${r.actions.total.total} total; heartbeats measured by the server ${r.actions.total.heartbeats}, ${r.actions.heartbeatsPerCluster} per cluster)`,
    `   worker          ${workerCode(r)}: ${r.worker.cpuSecondsDuringCampaign} CPU s during the campaign (${r.worker.cpuSecondsTotal} incl. start-up), peak RSS ${(r.worker.peakRssBytes / MiB).toFixed(0)} MiB (VmHWM, incl. bundling at start), ${(r.worker.peakRssDuringCampaignBytes / MiB).toFixed(0)} MiB during the campaign`,
    `   temporal server ${r.server.cpuSecondsDuringCampaign} CPU s, peak RSS ${(r.server.peakRssBytes / MiB).toFixed(0)} MiB`,
    `   window refill   child closed → campaign knows: p50 ${r.reaction.closeToLearnedMs.p50} ms, p95 ${r.reaction.closeToLearnedMs.p95} ms; knows → next start initiated: p50 ${r.reaction.learnedToNextStartMs.p50} ms, p95 ${r.reaction.learnedToNextStartMs.p95} ms; initiated → child started: p50 ${r.reaction.initiatedToStartedMs.p50} ms, p95 ${r.reaction.initiatedToStartedMs.p95} ms`,
    `   approvals       ${r.approvals.sent} sent; promoting approval returned → next wave's first child started: ${r.approvals.perWave.map((w) => `${w.wave} ${w.latencyMs} ms`).join(', ') || 'none'}`,
    `                   (awaiting approval → bench sent the first approval: ${r.approvals.perWave.map((w) => `${w.detectMs} ms`).join(', ') || 'none'}; first approval sent → next wave started: ${r.approvals.perWave.map((w) => `${w.sentToStartMs} ms`).join(', ') || 'none'})`,
    `   invariants      ${r.invariants.duplicateSteps} duplicated steps in ${r.mutations} mutations; ${r.invariants.finalStateViolations.length} final-state and ${r.invariants.promotionViolations.length} promotion violations`,
    '   targets',
  );
  for (const t of targetChecks(r)) lines.push(`     ${verdict(t.pass).padEnd(4)}  ${t.label}: ${t.figure}`);
  return lines.join('\n');
}

/** The combined markdown table (scenarios as columns). */
export function markdownSummary(results: ScenarioResult[], command: string): string {
  const sorted = [...results].sort((a, b) => a.setup.clusters - b.setup.clusters);
  const head = `| | ${sorted.map((r) => `${r.setup.clusters.toLocaleString('en-US')} clusters`).join(' | ')} |`;
  const sep = `|---|${sorted.map(() => '---').join('|')}|`;
  const row = (label: string, f: (r: ScenarioResult) => string) => `| ${label} | ${sorted.map(f).join(' | ')} |`;
  const check = (i: number) => (r: ScenarioResult) => {
    const t = targetChecks(r)[i] as TargetCheck;
    return t.pass === undefined ? t.figure : `${t.figure} **${verdict(t.pass)}**`;
  };
  const lines = [
    '# fleetwave benchmark',
    '',
    `Generated by \`${command}\` (bench/run.ts; JSON per scenario next to this file). Each scenario runs the`,
    'real stack on one machine: a dedicated Temporal dev server (in memory), the fleet simulator, Prometheus,',
    'and `fleetwave worker` as a child process. Targets (issue 7) are marked PASS/FAIL; "—" means the target',
    'applies to another scenario. Figures only: nothing here is asserted.',
    '',
    head,
    sep,
    row('clusters upgraded (planned)', (r) => `${r.outcome.upgraded} of ${r.setup.planned}`),
    row(
      'outcome',
      (r) =>
        `${r.outcome.state} (${r.outcome.rolledBack} rolled back, ${r.outcome.failed} failed, ${r.outcome.blocked} blocked)`,
    ),
    row('time scale', (r) => `×${r.setup.timeScale}`),
    row('waves (clusters)', (r) => r.setup.waves.map((w) => `${w.name} ${w.clusters}`).join(', ')),
    row(
      'pacing',
      (r) => `maxInFlight ${r.setup.maxInFlight}, ${r.setup.rateLimit ?? 'no rate limit'}, ${r.setup.caps.join(', ')}`,
    ),
    row('makespan', (r) => s(r.makespan.ms)),
    row('lower bound (measured durations)', (r) => s(r.makespan.measuredBoundMs)),
    row('makespan / lower bound', check(0)),
    row(
      'picking rules replayed at zero overhead',
      (r) =>
        `${s(r.makespan.policyMs)} (ratio to bound ${(r.makespan.policyMs / r.makespan.measuredBoundMs).toFixed(3)})`,
    ),
    row('same rules knowing every duration in advance, zero overhead', (r) =>
      r.makespan.clairvoyantMs === undefined
        ? '—'
        : `${s(r.makespan.clairvoyantMs)} (ratio to bound ${(r.makespan.clairvoyantMs / r.makespan.measuredBoundMs).toFixed(3)})`,
    ),
    row('lower bound (plan, estimate.ts)', (r) => `${s(r.makespan.planEstimateMs)} (ratio ${r.makespan.planRatio})`),
    row(
      'cluster-upgrade duration mean / p95',
      (r) => `${s(r.makespan.clusterDurationMs.mean)} / ${s(r.makespan.clusterDurationMs.p95)}`,
    ),
    row('events per cluster-upgrade run', check(1)),
    row('campaign events per cluster', check(2)),
    row('events per upgraded run by control-plane hops (mean / max)', (r) =>
      Object.entries(r.history.clusterRunEventsByHops ?? {})
        .map(([hops, st]) => `${hops}: ${st.mean} / ${st.max} (${st.n})`)
        .join(', '),
    ),
    row('campaign runs (continue-as-new)', (r) => String(r.history.campaignRuns)),
    row(
      'largest campaign run input',
      (r) => `${(r.history.largestCampaignInputBytes / 2 ** 20).toFixed(2)} MiB (Temporal's limit: 2 MiB)`,
    ),
    row('max events in one run', check(3)),
    row('actions per cluster (heartbeats measured; looks counted as attempts)', (r) => `${r.actions.perCluster}`),
    row('heartbeats per cluster (server)', (r) => `${r.actions.heartbeatsPerCluster}`),
    row('worker code', workerCode),
    row(
      'worker CPU during the campaign',
      (r) =>
        `${r.worker.cpuSecondsDuringCampaign} s (${(r.worker.cpuSecondsDuringCampaign / Math.max(1, r.setup.planned)).toFixed(2)} s per cluster)`,
    ),
    row(
      'worker peak RSS (VmHWM)',
      (r) =>
        `${(r.worker.peakRssBytes / MiB).toFixed(0)} MiB (${(r.worker.peakRssDuringCampaignBytes / MiB).toFixed(0)} MiB max sampled during the campaign)`,
    ),
    row('5,000 complete, RSS < 1 GiB', check(4)),
    row(
      'Temporal server CPU / peak RSS',
      (r) => `${r.server.cpuSecondsDuringCampaign} s / ${(r.server.peakRssBytes / MiB).toFixed(0)} MiB`,
    ),
    row("approval returned → next wave's first child started", (r) =>
      r.approvals.perWave.length ? r.approvals.perWave.map((w) => `${w.latencyMs} ms`).join(', ') : 'none',
    ),
    row(
      'child closed → campaign knows → next start (p50 / p95)',
      (r) =>
        `${r.reaction.closeToLearnedMs.p50} / ${r.reaction.closeToLearnedMs.p95} ms → ${r.reaction.learnedToNextStartMs.p50} / ${r.reaction.learnedToNextStartMs.p95} ms`,
    ),
    row('duplicated cluster steps', (r) => `${r.invariants.duplicateSteps} of ${r.mutations} mutations`),
    row('wall clock of the run', (r) => s(r.outcome.wallClockMs)),
    row(
      'machine',
      (r) => `${r.machine.cpus} cores, load ${r.machine.loadAverageAtStart[0]} at start, ${r.startedAt.slice(0, 16)}Z`,
    ),
  ];
  lines.push('', '## Where the time goes', '');
  lines.push(
    'Per wave: the lower bound from the measured cluster durations (what binds it: the constraint, the group of',
    "clusters it holds for, and how it was proven; see bench/README.md), the campaign's own picking",
    'rules and start order (domain/pacing.ts) replayed on those durations with zero overhead, the same rules with the',
    'clusters in plan order, the real window (first child started → last child closed), and the time from the',
    "last child's close to the next wave's first child (soak, soak gates, approval) against the soak itself.",
  );
  for (const r of sorted) {
    const policyLoss = r.makespan.policyMs - r.makespan.measuredBoundMs;
    const overhead = r.makespan.ms - r.makespan.policyMs;
    lines.push(
      '',
      `### ${r.setup.clusters.toLocaleString('en-US')} clusters: makespan ${s(r.makespan.ms)}, bound ${s(r.makespan.measuredBoundMs)}; picking rules lose ${s(policyLoss)}, overhead ${s(overhead)} (start-up ${s(r.makespan.startupMs)})`,
      '',
      ...(r.makespan.measured
        ? []
        : [
            'Written before the per-cluster rows were kept: its bound is the earlier one (longest cluster, Σd / m,',
            'rate limit, per cap value Σd / cap.max), without the pigeonhole and packing arguments, and cannot be recomputed.',
            '',
          ]),
      '| wave | clusters | bound (by) | picking rules, 0 overhead | same, durations known | same in plan order | real window | gap / soak |',
      '|---|---|---|---|---|---|---|---|',
      ...r.makespan.waves.map(
        (w) =>
          `| ${w.name} | ${w.clusters} | ${s(w.boundMs)} (${boundLabel(w)}) | ${s(w.simulatedMs)} | ${s(w.clairvoyantMs ?? NaN)} | ${s(w.planOrderMs ?? NaN)} | ${s(w.windowMs)} | ${s(w.gapMs)} / ${s(w.soakMs)} |`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** How summary.md says it was made. */
export const SUMMARY_COMMAND = 'npm run bench (50, 500) and npm run bench -- --scenario 5000';

/** Every bench/results/<clusters>.json in `dir`. */
export function readResults(dir: string): { file: string; result: ScenarioResult }[] {
  return readdirSync(dir)
    .filter((f) => /^\d+\.json$/.test(f))
    .map((f) => ({
      file: path.join(dir, f),
      result: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ScenarioResult,
    }));
}

/** Regenerates `dir`/summary.md from every result there. */
export function writeSummary(dir: string): void {
  const all = readResults(dir).map((r) => r.result);
  writeFileSync(path.join(dir, 'summary.md'), markdownSummary(all, SUMMARY_COMMAND));
}
