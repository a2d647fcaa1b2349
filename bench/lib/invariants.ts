/**
 * What must hold after any campaign, however rough the ride: each check returns the violations
 * it found (empty = fine), so the resilience tests assert on them and the benchmark reports them.
 *
 * - {@link checkFinalStates}: every planned cluster at its target, or in a documented terminal
 *   state with a reason; nothing left mid-update in the simulator.
 * - {@link checkExactlyOnce}: exactly one accepted mutation per cluster step (/sim/mutations grouped
 *   by cluster + operation + node group/add-on + target).
 * - {@link checkNoOverlap}: no cluster was upgraded by two campaigns at once, from the
 *   cluster-upgrade histories (run intervals) and from the mutations (each falls inside one run).
 * - {@link checkPromotions} and {@link checkGatedClusters}: no wave promoted and no cluster counted
 *   upgraded on missing data.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { GateResult } from '../../activities/types';
import { compareMinor } from '../../domain/versions';
import type { Mutation, SimState } from '../../simulator/index';
import type { CampaignStatus, ClusterState } from '../../workflows/definitions';
import { eventMs, type RunHistory } from './histories';

/** Cluster states a campaign may end a cluster in, besides `upgraded`; each needs a reason. */
export const DOCUMENTED_TERMINAL: ReadonlySet<ClusterState> = new Set<ClusterState>([
  'already-at-target',
  'rolled-back',
  'failed',
  'blocked',
  'skipped',
]);

/** Identifies one cluster step: "prod-x|UpdateClusterVersion||1.32", "prod-x|UpdateAddon|coredns|v1.11.4-eksbuild.2". */
export function stepKey(m: Mutation): string {
  return [m.cluster, m.operation, m.nodegroup ?? m.addon ?? '', m.target].join('|');
}

/** Steps with more than one accepted mutation, with their mutations. */
export function duplicateSteps(mutations: readonly Mutation[]): Map<string, Mutation[]> {
  const groups = new Map<string, Mutation[]>();
  for (const m of mutations) {
    const key = stepKey(m);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return new Map([...groups].filter(([, ms]) => ms.length > 1));
}

export function checkExactlyOnce(mutations: readonly Mutation[]): string[] {
  return [...duplicateSteps(mutations)].map(
    ([key, ms]) =>
      `step ${key} accepted ${ms.length} times (seq ${ms.map((m) => m.seq).join(', ')}, tokens ${[
        ...new Set(ms.map((m) => m.clientRequestToken.slice(0, 8))),
      ].join(', ')})`,
  );
}

/**
 * Every cluster of the campaign's status ends `upgraded` (and the simulator agrees: control plane
 * and every node group at the target minor) or in a {@link DOCUMENTED_TERMINAL} state with a reason
 * (already-at-target needs none). No simulated update may still be running. `atLeast`: a later
 * campaign may have taken the cluster further (overlapping campaigns with different targets).
 */
export function checkFinalStates(
  status: CampaignStatus,
  sim: SimState,
  targetVersion: string,
  opts: { atLeast?: boolean } = {},
): string[] {
  const out: string[] = [];
  const reached = (v: string) => (opts.atLeast ? compareMinor(v, targetVersion) >= 0 : v === targetVersion);
  const byName = new Map(sim.clusters.map((c) => [c.name, c]));
  for (const c of status.clusters) {
    const s = byName.get(c.name);
    if (!s) {
      out.push(`${c.name}: not in the simulator`);
      continue;
    }
    if (c.state === 'upgraded') {
      const lagging = s.nodegroups.filter((ng) => !reached(ng.version)).map((ng) => `${ng.name}@${ng.version}`);
      if (!reached(s.version) || lagging.length > 0) {
        out.push(
          `${c.name}: counted upgraded but runs ${s.version}${lagging.length ? `, node groups ${lagging.join(', ')}` : ''}`,
        );
      }
    } else if (!DOCUMENTED_TERMINAL.has(c.state)) {
      out.push(`${c.name}: ended ${c.state}${c.step ? ` at ${c.step}` : ''}`);
    } else if (c.state !== 'already-at-target' && !c.reason) {
      out.push(`${c.name}: ${c.state} without a reason`);
    }
  }
  for (const s of sim.clusters) {
    if (s.activeUpdates.length > 0) {
      out.push(
        `${s.name}: ${s.activeUpdates.length} update(s) still running in the simulator (${s.activeUpdates.map((u) => u.type).join(', ')})`,
      );
    }
  }
  return out;
}

/**
 * Cluster-upgrade runs of one cluster never overlap when different campaigns started them, and
 * every mutation of a cluster lies inside one of its runs (± `toleranceMs`: the simulator stamps
 * the call when it accepts it, Temporal the event when it records it), attributed to that run's
 * campaign. Both are the host's wall clock: the simulator's own clock is scaled and runs on the
 * monotonic clock, which a paused machine stops while the wall clock jumps (a mapping from it put
 * every mutation before a 10 s pause 10 s late, outside the short runs that made them).
 * Returns violations and the per-cluster campaigns.
 */
export function checkNoOverlap(
  clusterRuns: readonly RunHistory[],
  mutations: readonly Mutation[],
  toleranceMs = 250,
): { violations: string[]; campaignsByCluster: Map<string, string[]> } {
  const violations: string[] = [];
  const runsByCluster = new Map<string, RunHistory[]>();
  for (const run of clusterRuns) {
    const cluster = run.workflowId.replace(/^cluster-upgrade\//, '');
    runsByCluster.set(cluster, [...(runsByCluster.get(cluster) ?? []), run]);
  }
  const campaignsByCluster = new Map<string, string[]>();
  for (const [cluster, runs] of runsByCluster) {
    runs.sort((a, b) => a.startMs - b.startMs);
    campaignsByCluster.set(cluster, [...new Set(runs.map((r) => r.parentWorkflowId ?? '?'))]);
    for (let i = 1; i < runs.length; i++) {
      const prev = runs[i - 1] as RunHistory;
      const next = runs[i] as RunHistory;
      const prevEnd = prev.closeMs ?? Infinity;
      if (prevEnd > next.startMs) {
        violations.push(
          `${cluster}: run ${next.runId} (${next.parentWorkflowId}) started at ${iso(next.startMs)} while run ${prev.runId} (${prev.parentWorkflowId}) ran until ${prev.closeMs ? iso(prevEnd) : 'still running'}`,
        );
      }
    }
  }
  for (const m of mutations) {
    const at = Date.parse(m.wallTime);
    const runs = runsByCluster.get(m.cluster) ?? [];
    const inside = runs.filter((r) => at >= r.startMs - toleranceMs && at <= (r.closeMs ?? Infinity) + toleranceMs);
    if (inside.length === 0) {
      violations.push(
        `${m.cluster}: mutation #${m.seq} ${m.operation} ${m.target} at ${iso(at)} outside every cluster-upgrade run`,
      );
    } else if (new Set(inside.map((r) => r.parentWorkflowId)).size > 1) {
      violations.push(
        `${m.cluster}: mutation #${m.seq} at ${iso(at)} inside runs of ${[...new Set(inside.map((r) => r.parentWorkflowId))].join(' and ')}`,
      );
    }
  }
  return { violations, campaignsByCluster };
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

/** Decodes the JSON payloads of an activity's result (the default data converter's encoding). */
function decodeResult(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const first = payloads?.payloads?.[0];
  if (!first) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(first);
  } catch {
    return undefined;
  }
}

function isGateResult(v: unknown): v is GateResult {
  return typeof v === 'object' && v !== null && 'gate' in v && 'phase' in v && 'outcome' in v;
}

/** Gate results anywhere in a value (a GateResult, or a batch result carrying `gates`). */
function collectGateResults(v: unknown, out: GateResult[] = []): GateResult[] {
  if (isGateResult(v)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectGateResults(x, out);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) collectGateResults(x, out);
  return out;
}

/** Every gate result a run's activities returned, with the time the activity completed. */
export function gateResultsOf(run: RunHistory): { at: number; result: GateResult }[] {
  const out: { at: number; result: GateResult }[] = [];
  for (const e of run.events) {
    const done = e.activityTaskCompletedEventAttributes;
    if (!done) continue;
    for (const result of collectGateResults(decodeResult(done.result))) out.push({ at: eventMs(e), result });
  }
  return out;
}

/**
 * No cluster counted upgraded on missing data: every gate result of a run that ended `upgraded`
 * is Successful with at least one passing measurement (a gate that saw no data or errors fails
 * the step, which rolls the cluster back or blocks it).
 */
export function checkGatedClusters(status: CampaignStatus, clusterRuns: readonly RunHistory[]): string[] {
  const out: string[] = [];
  const upgraded = new Set(status.clusters.filter((c) => c.state === 'upgraded').map((c) => c.name));
  for (const run of clusterRuns) {
    const cluster = run.workflowId.replace(/^cluster-upgrade\//, '');
    if (!upgraded.has(cluster) || run.parentWorkflowId !== `campaign/${status.name}`) continue;
    const results = gateResultsOf(run);
    for (const { result } of results) {
      if (result.outcome !== 'Successful') {
        out.push(
          `${cluster}: counted upgraded although gate ${result.gate} (${result.phase}) was ${result.outcome}: ${result.message}`,
        );
      } else if (result.successes < 1) {
        out.push(`${cluster}: gate ${result.gate} (${result.phase}) Successful with no passing measurement`);
      }
    }
  }
  return out;
}

/**
 * No wave promoted on missing data: for every `promoted` entry of the audit, each soak gate the
 * wave kept is Successful, or the audit shows the soak failed (`soak-failed`) and a human resumed
 * after it, before the promotion (the campaign paused instead of promoting on doubt).
 */
export function checkPromotions(status: CampaignStatus): string[] {
  const out: string[] = [];
  for (const wave of status.waves) {
    if (wave.state !== 'promoted') continue;
    const bad = wave.gates.filter((g) => g.phase === 'soak' && g.outcome !== 'Successful');
    if (bad.length === 0) continue;
    const promotedAt = status.audit.findIndex((a) => a.kind === 'promoted' && a.wave === wave.name);
    const failedAt = status.audit.findIndex((a) => a.kind === 'soak-failed' && a.wave === wave.name);
    const resumedAt = status.audit.findIndex((a, i) => a.kind === 'resumed' && i > failedAt && i < promotedAt);
    const gates = bad.map((g) => `${g.gate}@${g.cluster ?? '?'}=${g.outcome}`).join(', ');
    if (promotedAt < 0) {
      out.push(
        `wave ${wave.name} promoted with soak gate(s) ${gates} not Successful; the audit no longer shows how (${status.auditDropped ?? 0} entries dropped)`,
      );
    } else if (failedAt < 0 || failedAt > promotedAt || resumedAt < 0) {
      out.push(
        `wave ${wave.name} promoted although soak gate(s) ${gates} were not Successful and no operator resumed after the soak failure`,
      );
    }
  }
  return out;
}

/** A span of wall-clock time (epoch ms). */
export interface Outage {
  from: number;
  to: number;
}

/**
 * Gate activities that ran wholly inside an outage (their last attempt started after it began and
 * completed before it ended) must not have returned a Successful gate: with Prometheus down there
 * is nothing to pass on. Returns violations and how many gate results fell inside an outage.
 */
export function checkOutageGates(
  runs: readonly RunHistory[],
  outages: readonly Outage[],
): { violations: string[]; insideOutage: number } {
  const violations: string[] = [];
  let insideOutage = 0;
  for (const run of runs) {
    const startedAt = new Map<string, number>();
    for (const e of run.events) {
      const started = e.activityTaskStartedEventAttributes;
      if (started) startedAt.set(String(started.scheduledEventId), eventMs(e));
      const done = e.activityTaskCompletedEventAttributes;
      if (!done) continue;
      const from = startedAt.get(String(done.scheduledEventId));
      const to = eventMs(e);
      if (from === undefined || !outages.some((o) => from >= o.from && to <= o.to)) continue;
      for (const result of collectGateResults(decodeResult(done.result))) {
        insideOutage++;
        if (result.outcome === 'Successful') {
          violations.push(
            `${run.workflowId}: gate ${result.gate} (${result.phase}) Successful while Prometheus was down (${iso(from)} – ${iso(to)})`,
          );
        }
      }
    }
  }
  return { violations, insideOutage };
}
