/**
 * watchHealthGates: one activity watches a batch of cluster × gate pairs for a whole period (a
 * wave's soak, the watch after promotion) and returns at the first failure or at the end (at its
 * last look, when every pair is decided and none is due again before the end). It is also the
 * approval re-check: a watch whose end has already passed takes one look.
 *
 * It waits the way every fleetwave wait does (docs/architecture.md, "Waiting"; activities/waiting.ts):
 * an attempt measures the pairs that are due, once each, and parks until the next pair is due with
 * a retryable `FleetwaveStillWaiting` failure. The tallies travel to the next attempt in the
 * heartbeat. So a two-hour soak at a 60 s interval is one activity in the workflow's history
 * (three events) and 120 attempts on the server, not 120 activities.
 *
 * Decision rule per pair, with the gate's own limits (domain/gates.ts, as Argo Rollouts assesses
 * a metric): every measurement of the period counts, so a cluster that passed its first checks
 * and degrades later fails when its failures pass `failureLimit` (no data and query errors the
 * same with their limits). At the end of the period a pair passes only with at least
 * `consecutiveSuccesses` (or `requiredSuccesses`) passes in a row: the last looks must be green.
 * A pair short of them at the end (its looks were delayed by a dead worker, or the period is
 * shorter than its interval) is looked at until it has them or fails, for at most the gate's
 * `timeout` past the end; only then is it Inconclusive.
 * Every pair decided not Successful in a look is returned together; the others are not.
 */
import { CancelledFailure } from '@temporalio/common';
import {
  addMeasurement,
  assessTally,
  emptyTally,
  gateErrorResult,
  type GateLimits,
  type GateTally,
} from '../domain/gates';
import type { BaselineComparison } from '../domain/baseline';
import { durationMs, type GatePhase, type HealthGateSpec } from '../domain/spec';
import type { ActivityRuntime } from './context';
import type { GateMeasurement } from './prometheus';
import type { ClusterRef, GateContext, GateResult } from './types';
import { LookLater, keepProgress, stillWaiting } from './waiting';

export interface WatchHealthGatesInput {
  phase: GatePhase;
  items: { cluster: ClusterRef; gate: HealthGateSpec; context?: GateContext }[];
  /** Watch until this time (epoch ms). A time already past: one look at every pair (the approval re-check). */
  untilMs: number;
  /** Passes in a row each pair needs at the end; default: the gate's consecutiveSuccesses. */
  requiredSuccesses?: number;
  /** Pairs measured at once within a look. Default 20. */
  concurrency?: number;
}

export interface WatchHealthGatesResult {
  /** False when the watch returned early, at a failure. */
  ended: boolean;
  /** Pairs decided not Successful, by their index in the input. */
  failures: { index: number; result: GateResult }[];
  /** At the end, every pair's result (Successful ones included), in input order; empty on an early return. */
  results: GateResult[];
  /** Looks taken, all attempts together. */
  looks: number;
}

/** Heartbeat details: one tally per pair and when it is next due. */
export interface WatchProgress {
  keys: string[];
  startedAtMs: number;
  looks: number;
  pairs: {
    tally: GateTally;
    nextAtMs: number;
    lastValue?: string;
    lastNote?: string;
    comparison?: BaselineComparison;
  }[];
}

/** What the watch needs from its host: one measurement of one pair, and a clock. */
export interface WatchParts {
  measureOnce: (
    rt: ActivityRuntime,
    cluster: ClusterRef,
    gate: HealthGateSpec,
    phase: GatePhase,
    context?: GateContext,
  ) => Promise<GateMeasurement>;
  now: () => number;
  /** Park between looks (inside a worker); false: sleep in the attempt (tests, the CLI). */
  park: (rt: ActivityRuntime) => boolean;
}

const DEFAULT_CONCURRENCY = 20;
/** Longest sleep between heartbeats when the watch does not park. */
const HEARTBEAT_EVERY_MS = 10_000;
/**
 * Within a look, the tallies are heartbeated at most this often. Each heartbeat call converts the
 * whole progress (every pair of the batch) to a payload and crosses into the Temporal core, which
 * sends at most one per 0.8 × the heartbeat timeout anyway: one call per measurement made a look
 * of n pairs cost n² pair conversions. The look's last tallies still reach the server before the
 * attempt ends (parked: keepProgress; sleeping: the heartbeat before each sleep).
 */
const LOOK_HEARTBEAT_EVERY_MS = 1_000;

function keyOf(item: WatchHealthGatesInput['items'][number]): string {
  return `${item.cluster.name}/${item.gate.name}`;
}

function limitsOf(gate: HealthGateSpec, requiredSuccesses: number | undefined): GateLimits {
  return {
    consecutiveSuccesses: requiredSuccesses ?? gate.consecutiveSuccesses ?? 1,
    failureLimit: gate.failureLimit ?? 0,
    inconclusiveLimit: gate.inconclusiveLimit ?? 3,
    consecutiveErrorLimit: gate.consecutiveErrorLimit ?? 4,
  };
}

function isWatchProgress(value: unknown, keys: string[]): value is WatchProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<WatchProgress>;
  return (
    Array.isArray(v.keys) &&
    v.keys.length === keys.length &&
    v.keys.every((k, i) => k === keys[i]) &&
    Array.isArray(v.pairs) &&
    typeof v.startedAtMs === 'number'
  );
}

/** The watch loop over `parts`; see the module header. */
export function createWatchActivity(parts: WatchParts, runtime: () => ActivityRuntime) {
  async function watchHealthGates(input: WatchHealthGatesInput): Promise<WatchHealthGatesResult> {
    const rt = runtime();
    const keys = input.items.map(keyOf);
    const resumed = isWatchProgress(rt.heartbeatDetails, keys) ? rt.heartbeatDetails : undefined;
    const start = parts.now();
    // A re-check (an end already past) looks at once; a watch honours each gate's initialDelay.
    const oneLook = input.untilMs <= start;
    const progress: WatchProgress = resumed
      ? structuredClone(resumed)
      : {
          keys,
          startedAtMs: start,
          looks: 0,
          pairs: input.items.map((item) => ({
            tally: emptyTally(),
            nextAtMs: oneLook ? start : start + durationMs(item.gate.initialDelay ?? '0s'),
          })),
        };
    const resultOf = (i: number, outcome: GateResult['outcome'], message: string): GateResult => {
      const item = input.items[i] as WatchHealthGatesInput['items'][number];
      const pair = progress.pairs[i] as WatchProgress['pairs'][number];
      const t = pair.tally;
      return {
        gate: item.gate.name,
        phase: input.phase,
        outcome,
        measurements: t.measurements,
        successes: t.successes,
        failures: t.failures,
        inconclusive: t.inconclusive,
        errors: t.errors,
        ...(pair.lastValue !== undefined ? { lastValue: pair.lastValue } : {}),
        ...(pair.comparison ? { comparison: pair.comparison } : {}),
        message: `gate ${item.gate.name} (${input.phase}) on ${item.cluster.name}: ${outcome}: ${message}${
          pair.lastNote ? ` (last: ${pair.lastNote})` : ''
        }`,
      };
    };

    // Once the period is over, a pair not yet decided (too few passes in a row: a look delayed by a
    // dead worker, a soak shorter than the gate's interval) keeps being looked at until it is, or
    // until the gate's own timeout after the end: the last looks decide, and they must happen.
    const limits = input.items.map((item) => limitsOf(item.gate, input.requiredSuccesses));
    const undecidedAfterEnd = (i: number, now: number): boolean => {
      const item = input.items[i] as WatchHealthGatesInput['items'][number];
      const pair = progress.pairs[i] as WatchProgress['pairs'][number];
      const grace = durationMs(item.gate.timeout ?? '10m');
      return assessTally(pair.tally, limits[i] as GateLimits).outcome === 'Running' && now < input.untilMs + grace;
    };
    for (;;) {
      const now = parts.now();
      const open = (i: number) => now <= input.untilMs || undecidedAfterEnd(i, now);
      const due = progress.pairs.flatMap((p, i) => (oneLook || (p.nextAtMs <= now && open(i)) ? [i] : []));
      const failures: WatchHealthGatesResult['failures'] = [];
      if (due.length > 0) {
        progress.looks++;
        let next = 0;
        let beatAt = -Infinity;
        const lane = async (): Promise<void> => {
          for (let k = next++; k < due.length; k = next++) {
            const i = due[k] as number;
            const item = input.items[i] as WatchHealthGatesInput['items'][number];
            const pair = progress.pairs[i] as WatchProgress['pairs'][number];
            let m: GateMeasurement;
            try {
              m = await parts.measureOnce(rt, item.cluster, item.gate, input.phase, item.context);
            } catch (err) {
              if (err instanceof CancelledFailure) throw err;
              // A gate that cannot be evaluated at all (a condition that does not parse) is an Error, never a pass.
              failures.push({
                index: i,
                result: gateErrorResult(
                  item.gate.name,
                  input.phase,
                  `gate ${item.gate.name} (${input.phase}) on ${item.cluster.name}: evaluation failed: ${
                    err instanceof Error ? err.message : String(err)
                  }`,
                ),
              });
              continue;
            }
            pair.tally = addMeasurement(pair.tally, m.kind);
            if (m.value !== undefined) pair.lastValue = m.value;
            if (m.note !== undefined) pair.lastNote = m.note;
            else delete pair.lastNote;
            if (m.comparison) pair.comparison = m.comparison;
            // The next look is one interval after this look began, not after this measurement
            // returned: the pairs of a look stay due together. Measured from each return, a look
            // of many pairs (queued behind the Prometheus query limit) spread them over its length
            // and every later look took only the few due at once, one parked attempt each.
            pair.nextAtMs = now + durationMs(item.gate.interval ?? '30s');
            // Alive and with the tally so far: a worker killed mid-look is noticed at the heartbeat
            // timeout, and the next attempt keeps what this one measured.
            if (Date.now() - beatAt >= LOOK_HEARTBEAT_EVERY_MS) {
              beatAt = Date.now();
              rt.heartbeat(structuredClone(progress));
            }
            const assessment = assessTally(pair.tally, limits[i] as GateLimits);
            if (assessment.outcome !== 'Running' && assessment.outcome !== 'Successful') {
              failures.push({ index: i, result: resultOf(i, assessment.outcome, assessment.message) });
            }
          }
        };
        const lanes = Math.max(1, Math.min(input.concurrency ?? DEFAULT_CONCURRENCY, due.length));
        await Promise.all(Array.from({ length: lanes }, lane));
      }
      if (failures.length > 0) {
        failures.sort((a, b) => a.index - b.index);
        rt.log.info('Gate watch: failure', { phase: input.phase, failures: failures.length, looks: progress.looks });
        return { ended: false, failures, results: [], looks: progress.looks };
      }
      const after = parts.now();
      if (oneLook) return finish();
      // The looks still to take: a pair due again within the period, or one not yet decided once the
      // period is over. Nothing else is waited for: when every pair is decided and none is due again
      // before the end, no look can change the result, so the watch returns now instead of parking
      // (or sleeping) until the end only to say so. The caller keeps the period's time itself (the
      // soak's timer); at a 1 s interval the parked attempt at the end cost a server round trip on
      // every soak of the bench (bench/README.md, "the overhead at 500").
      const ended = after >= input.untilMs;
      const endOrNow = Math.max(after, input.untilMs);
      const waiting = progress.pairs.flatMap((p, i) =>
        (!ended && p.nextAtMs <= input.untilMs) || undecidedAfterEnd(i, endOrNow) ? [p.nextAtMs] : [],
      );
      if (waiting.length === 0) return finish();
      const delay = Math.max(0, Math.min(...waiting) - after);
      if (parts.park(rt)) {
        // The tallies changed with every look: the next attempt needs them.
        keepProgress(rt, progress, resumed);
        throw stillWaiting(new LookLater(delay, `watching ${keys.length} gate(s) of ${input.phase}`));
      }
      // Not parking: sleep in this attempt, heartbeating so a short heartbeat timeout holds.
      for (let left = delay; left > 0; left -= HEARTBEAT_EVERY_MS) {
        rt.heartbeat(structuredClone(progress));
        await rt.sleep(Math.min(left, HEARTBEAT_EVERY_MS));
      }
    }

    function finish(): WatchHealthGatesResult {
      const results: GateResult[] = [];
      const failures: WatchHealthGatesResult['failures'] = [];
      for (const [i, item] of input.items.entries()) {
        const pair = progress.pairs[i] as WatchProgress['pairs'][number];
        const assessment = assessTally(pair.tally, limitsOf(item.gate, input.requiredSuccesses));
        // Still Running at the end: the last looks were not green enough; no data is never a pass.
        const result =
          assessment.outcome === 'Running'
            ? resultOf(i, 'Inconclusive', `by the end of the watch: ${assessment.message}`)
            : resultOf(i, assessment.outcome, assessment.message);
        results.push(result);
        if (result.outcome !== 'Successful') failures.push({ index: i, result });
      }
      rt.log.info('Gate watch ended', { phase: input.phase, pairs: results.length, failures: failures.length });
      return { ended: true, failures, results, looks: progress.looks };
    }
  }
  return { watchHealthGates };
}
