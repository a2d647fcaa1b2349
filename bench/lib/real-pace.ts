/**
 * Pure parts of `npm run bench:real-pace` (bench/real-pace.ts): the small fleet it upgrades, and
 * how a run's actions are split between what its history proves and what only the server's
 * request counters can tell (heartbeats, queries).
 */
import type { ClusterInventory, Fleet } from '../../domain/fleet';
import { generateFleet } from '../../simulator/index';
import { countActions, emptyActions, type ActionCounts, type RunHistory } from './histories';

/** The version the generated clusters are picked on; the campaign targets the next minor. */
export const REAL_PACE_FROM = '1.31';
export const REAL_PACE_TARGET = '1.32';

/**
 * `count` generated clusters that each need exactly one control-plane hop, with at most two node
 * groups of at most four nodes replaced two at a time (two batches each, both groups at once), and
 * no PodDisruptionBudget that blocks a drain: about 20–45 minutes per cluster at real EKS pace.
 */
export function realPaceFleet(count: number, seed = 7): Fleet {
  const picked: ClusterInventory[] = [];
  for (let pool = 50; picked.length < count; pool *= 2) {
    if (pool > 100_000) throw new Error(`could not find ${count} clusters on ${REAL_PACE_FROM}`);
    picked.length = 0;
    for (const c of generateFleet({ count: pool, seed }).clusters) {
      if (picked.length >= count) break;
      if (c.version !== REAL_PACE_FROM) continue;
      if (c.nodegroups.some((ng) => ng.version !== REAL_PACE_FROM)) continue;
      if (c.pdbs?.some((p) => p.allowedDisruptions === 0)) continue;
      picked.push({
        ...c,
        nodegroups: c.nodegroups.slice(0, 2).map((ng) => ({ ...ng, nodes: Math.min(ng.nodes, 4), maxUnavailable: 2 })),
      });
    }
  }
  const base = generateFleet({ count: 1, seed });
  return { ...base, clusters: picked };
}

/** A run's actions: what its history proves, and the history-based estimates kept for comparison. */
export interface RunActions {
  /** Billed actions read from history events; `heartbeats` and `queries` are 0 (they are measured). */
  history: ActionCounts;
  /** bench/lib/histories.ts estimateHeartbeats over the run's activities. */
  estimatedHeartbeats: number;
  /** The composite steps' `stopRequested` queries as histories.ts stopQueries bounds them. */
  estimatedQueries: number;
}

/**
 * The run was started by a client (or an activity acting as one), not as a child and not by
 * continue-as-new: its start is an action of its own. A child's start is in its parent's
 * "child start 2"; a continued run's start is its predecessor's ContinuedAsNew event.
 */
export function isClientStart(run: RunHistory): boolean {
  const a = run.events[0]?.workflowExecutionStartedEventAttributes;
  if (!a) return false;
  return !a.parentWorkflowExecution?.workflowId && !a.continuedExecutionRunId;
}

/** {@link countActions} with the estimated heartbeats and queries taken out of the billed figure. */
export function runActions(run: RunHistory): RunActions {
  const counted = countActions(run, { clientStart: isClientStart(run) });
  const history = { ...counted, heartbeats: 0, queries: 0 };
  history.total = counted.total - counted.heartbeats - counted.queries;
  return { history, estimatedHeartbeats: counted.heartbeats, estimatedQueries: counted.queries };
}

/** Sums of {@link runActions} over runs. */
export function sumRunActions(runs: readonly RunActions[]): RunActions {
  const out: RunActions = { history: emptyActions(), estimatedHeartbeats: 0, estimatedQueries: 0 };
  for (const r of runs) {
    for (const key of Object.keys(out.history) as (keyof ActionCounts)[]) out.history[key] += r.history[key];
    out.estimatedHeartbeats += r.estimatedHeartbeats;
    out.estimatedQueries += r.estimatedQueries;
  }
  return out;
}

/** The run's total: actions from history, plus the heartbeats and queries the server counted. */
export interface ActionTotal {
  fromHistory: number;
  heartbeats: number;
  queries: number;
  total: number;
}

/**
 * Total actions of a run: history-counted actions plus the server's heartbeat and query counts,
 * less the queries the harness itself sent (they are no part of fleetwave's cost).
 */
export function actionTotal(
  fromHistory: number,
  measured: { heartbeats: number; queries: number },
  harnessQueries = 0,
): ActionTotal {
  const queries = Math.max(0, measured.queries - harnessQueries);
  return {
    fromHistory,
    heartbeats: measured.heartbeats,
    queries,
    total: fromHistory + measured.heartbeats + queries,
  };
}
