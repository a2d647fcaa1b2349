/**
 * Health-gate assessment in Argo Rollouts terms. Pure: safe in workflows and activities.
 *
 * Decision inputs of {@link assessMeasurements} (as in argo-rollouts analysis/analysis.go
 * `assessMetricStatus`), checked in this order:
 * 1. failures      — total failed measurements; more than `failureLimit`        → Failed
 * 2. inconclusive  — total "no data" / NaN measurements; more than `inconclusiveLimit` → Inconclusive
 * 3. consecutiveErrors — query errors in a row (Prometheus down, bad response); more than
 *                    `consecutiveErrorLimit`                                      → Error
 * 4. consecutiveSuccesses — passes in a row; at least `consecutiveSuccesses`     → Successful
 * 5. otherwise                                                                    → Running
 *
 * Only a pass counts towards success. "No data", NaN and errors are never a pass: each breaks
 * the streak of successes, so a gate cannot go green while Prometheus is silent.
 *
 * It also holds what both workflows need to run gates as activities: a gate's worst-case duration
 * ({@link gateWorstCaseMs}, with {@link GATE_TIMEOUT_MARGIN_MS} on top) and the result of a gate
 * that could not be evaluated ({@link gateErrorResult}).
 */
import { parseDuration } from './duration';
import type { GatePhase, HealthGateSpec } from './spec';

/** Comparison operators a gate condition may use. */
export type ComparisonOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** A parsed gate condition: the value passes when `value op threshold`. */
export interface Condition {
  op: ComparisonOp;
  threshold: number;
}

/** What one measurement said. `error` means the query itself failed; `inconclusive` means no usable value. */
export type MeasurementKind = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface Measurement {
  kind: MeasurementKind;
}

/** Argo Rollouts' analysis phases; `Running` means: measure again. */
export type GateAssessmentOutcome = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

export interface GateLimits {
  /** Passes in a row that make the gate Successful (>= 1). */
  consecutiveSuccesses: number;
  /** Failed measurements tolerated; one more fails the gate. */
  failureLimit: number;
  /** Inconclusive measurements tolerated; one more makes the gate Inconclusive. */
  inconclusiveLimit: number;
  /** Errors in a row tolerated; one more makes the gate Error. */
  consecutiveErrorLimit: number;
}

/** Running counters of a gate; plain data so an activity can heartbeat it and resume. */
export interface GateTally {
  measurements: number;
  successes: number;
  failures: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
  consecutiveSuccesses: number;
}

export interface GateAssessment extends GateTally {
  outcome: GateAssessmentOutcome;
  /** Why, for status and logs: "3 failed measurements, more than failureLimit 2". */
  message: string;
}

const CONDITION_RE = /^\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/;

/** Parses "< 0.02" or ">= 0.99"; undefined for anything else (the spec schema rejects those). */
export function parseCondition(text: string): Condition | undefined {
  const match = CONDITION_RE.exec(text);
  if (!match) return undefined;
  const threshold = Number(match[2]);
  if (!Number.isFinite(threshold)) return undefined;
  return { op: match[1] as ComparisonOp, threshold };
}

/** The condition back in spec syntax: "< 0.02". */
export function formatCondition(cond: Condition): string {
  return `${cond.op} ${cond.threshold}`;
}

/**
 * Reads a Prometheus sample value. Prometheus writes non-finite samples as "NaN", "+Inf" and
 * "-Inf". NaN and absent or unparseable values have no meaning and return undefined; the
 * infinities are real answers (a ratio over zero requests, an unbounded latency) and compare
 * like numbers.
 */
export function parseSampleValue(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : value;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

/**
 * Evaluates one value against a condition: 'pass' or 'fail' for a number (±Inf included),
 * 'inconclusive' for "no data": undefined, empty, NaN or not a number.
 */
export function evaluateCondition(
  cond: Condition,
  value: string | number | null | undefined,
): Exclude<MeasurementKind, 'error'> {
  const n = parseSampleValue(value);
  if (n === undefined) return 'inconclusive';
  const t = cond.threshold;
  let ok: boolean;
  switch (cond.op) {
    case '<':
      ok = n < t;
      break;
    case '<=':
      ok = n <= t;
      break;
    case '>':
      ok = n > t;
      break;
    case '>=':
      ok = n >= t;
      break;
    case '==':
      ok = n === t;
      break;
    case '!=':
      ok = n !== t;
      break;
  }
  return ok ? 'pass' : 'fail';
}

/** A tally with nothing measured yet. */
export function emptyTally(): GateTally {
  return {
    measurements: 0,
    successes: 0,
    failures: 0,
    inconclusive: 0,
    errors: 0,
    consecutiveErrors: 0,
    consecutiveSuccesses: 0,
  };
}

/** Adds one measurement to a tally (returns a new tally). */
export function addMeasurement(tally: GateTally, kind: MeasurementKind): GateTally {
  const next = { ...tally, measurements: tally.measurements + 1 };
  switch (kind) {
    case 'pass':
      next.successes++;
      next.consecutiveSuccesses++;
      next.consecutiveErrors = 0;
      break;
    case 'fail':
      next.failures++;
      next.consecutiveSuccesses = 0;
      next.consecutiveErrors = 0;
      break;
    case 'inconclusive':
      next.inconclusive++;
      next.consecutiveSuccesses = 0;
      next.consecutiveErrors = 0;
      break;
    case 'error':
      next.errors++;
      next.consecutiveErrors++;
      next.consecutiveSuccesses = 0;
      break;
  }
  return next;
}

/** Decides a tally's outcome; see the module header for the order of the checks. */
export function assessTally(tally: GateTally, limits: GateLimits): GateAssessment {
  const required = Math.max(1, limits.consecutiveSuccesses);
  if (tally.failures > limits.failureLimit) {
    return {
      ...tally,
      outcome: 'Failed',
      message: `${tally.failures} failed measurement(s), more than failureLimit ${limits.failureLimit}`,
    };
  }
  if (tally.inconclusive > limits.inconclusiveLimit) {
    return {
      ...tally,
      outcome: 'Inconclusive',
      message: `${tally.inconclusive} measurement(s) without data, more than inconclusiveLimit ${limits.inconclusiveLimit}`,
    };
  }
  if (tally.consecutiveErrors > limits.consecutiveErrorLimit) {
    return {
      ...tally,
      outcome: 'Error',
      message: `${tally.consecutiveErrors} query error(s) in a row, more than consecutiveErrorLimit ${limits.consecutiveErrorLimit}`,
    };
  }
  if (tally.consecutiveSuccesses >= required) {
    return {
      ...tally,
      outcome: 'Successful',
      message: `${tally.consecutiveSuccesses} passing measurement(s) in a row`,
    };
  }
  return {
    ...tally,
    outcome: 'Running',
    message: `${tally.consecutiveSuccesses} of ${required} passing measurement(s) in a row so far`,
  };
}

/**
 * Assesses a series of measurements, oldest first. The outcome is that of the first point at
 * which the series reached a terminal phase, so measurements taken after the gate was decided
 * (a racing poll) cannot undo the decision.
 */
export function assessMeasurements(measurements: readonly Measurement[], limits: GateLimits): GateAssessment {
  let tally = emptyTally();
  let assessment = assessTally(tally, limits);
  for (const m of measurements) {
    tally = addMeasurement(tally, m.kind);
    assessment = assessTally(tally, limits);
    if (assessment.outcome !== 'Running') return assessment;
  }
  return assessment;
}

/** Escapes text for a double-quoted PromQL string, so it can never end the string and inject matchers. */
function promqlString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes the RE2 metacharacters, so a name matches only itself inside a regex matcher. */
function regexLiteral(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** What a wave-scope gate puts into its query (spec `scope: wave`). */
export interface WaveQueryContext {
  wave: string;
  clusters: readonly string[];
}

/**
 * Puts a cluster name into a PromQL query: every `{{cluster}}` (spaces inside the braces
 * allowed) is replaced by the name, escaped for a double-quoted PromQL string so a name can
 * never end the string and inject matchers. A wave-scope gate also gets `{{wave}}` and
 * `{{clusters}}`: the names as a regex alternation (`a|b\.c`, each name regex-escaped, then
 * string-escaped) for a `cluster=~"{{clusters}}"` matcher, which Prometheus anchors at both ends.
 */
export function renderQuery(query: string, cluster: string, wave?: WaveQueryContext): string {
  let out = query.replace(/\{\{\s*cluster\s*\}\}/g, () => promqlString(cluster));
  if (wave) {
    const alternation = promqlString(wave.clusters.map(regexLiteral).join('|'));
    out = out
      .replace(/\{\{\s*clusters\s*\}\}/g, () => alternation)
      .replace(/\{\{\s*wave\s*\}\}/g, () => promqlString(wave.wave));
  }
  return out;
}

/** Slack on top of a gate's own worst case before Temporal times out the activity that runs it. */
export const GATE_TIMEOUT_MARGIN_MS = 2 * 60_000;

/**
 * How long one gate may run at worst: its initial delay, then measuring until its timeout or
 * until `requiredSuccesses` passes in a row (default: the gate's consecutiveSuccesses) at one
 * per interval, whichever is longer. Without the margin.
 */
export function gateWorstCaseMs(
  gate: Pick<HealthGateSpec, 'interval' | 'initialDelay' | 'timeout' | 'consecutiveSuccesses'>,
  requiredSuccesses?: number,
): number {
  const intervalMs = parseDuration(gate.interval) ?? 30_000;
  const measuringMs = (requiredSuccesses ?? gate.consecutiveSuccesses) * intervalMs;
  return (parseDuration(gate.initialDelay) ?? 0) + Math.max(parseDuration(gate.timeout) ?? 600_000, measuringMs);
}

/** A gate result with nothing measured and one error: never a pass. */
export interface GateErrorResult {
  gate: string;
  phase: GatePhase;
  outcome: 'Error';
  measurements: 0;
  successes: 0;
  failures: 0;
  inconclusive: 0;
  errors: 1;
  message: string;
}

/** The result of a gate whose evaluation could not run or threw: an Error, which blocks like a failure. */
export function gateErrorResult(gate: string, phase: GatePhase, message: string): GateErrorResult {
  return {
    gate,
    phase,
    outcome: 'Error',
    measurements: 0,
    successes: 0,
    failures: 0,
    inconclusive: 0,
    errors: 1,
    message,
  };
}
