/**
 * The health-gate loop every provider shares, and the prometheus provider: PromQL over the
 * Prometheus HTTP API (`/api/v1/query`). (checkClusterHealth in health.ts runs the same gate loop
 * for every gate of a phase at once; gate-provider.ts says what a provider must do.)
 *
 * One activity runs a whole gate: wait `initialDelay` (after a step, postStep and bake, at least
 * one `interval`, so no sample from before the change decides), then measure every `interval` with
 * the gate's provider until domain/gates decides (Successful, Failed, Inconclusive, Error) or the
 * gate's `timeout` passes (Inconclusive). A Prometheus measurement is classified here:
 * - a number → pass or fail by the condition (every series of a vector must pass);
 * - an empty result, NaN or no value → inconclusive ("no data" is never a pass);
 * - an HTTP error, a Prometheus error body, a network failure or a timeout → error.
 * The tally is heartbeated after each measurement, so a retried attempt continues it.
 */
import { CancelledFailure } from '@temporalio/common';
import { compareWithBaseline, median, type BaselineComparison } from '../domain/baseline';
import { durationMs, gateProviderOf, type GatePhase, type HealthGateSpec } from '../domain/spec';
import {
  addMeasurement,
  assessTally,
  emptyTally,
  evaluateCondition,
  parseCondition,
  parseSampleValue,
  renderQuery,
  type Condition,
  type GateLimits,
  type GateTally,
} from '../domain/gates';
import { activityRuntime, type ActivityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import { nonRetryable } from './failures';
import { ConcurrencyLimit } from './limit';
import {
  callContextOf,
  providerFor,
  type GateMeasurement,
  type GateProvider,
  type GateProviders,
  type MeasureRequest,
} from './gate-provider';
import type { EvaluateHealthGateInput, GateContext, GateResult } from './types';

export type { GateMeasurement } from './gate-provider';

/** Longest sleep between heartbeats while waiting for the next measurement. */
const HEARTBEAT_EVERY_MS = 10_000;
const MAX_QUERY_TIMEOUT_MS = 30_000;
const MAX_ERROR_TEXT = 200;

/** Heartbeat details of evaluateHealthGate. */
export interface GateProgress {
  gate: string;
  phase: string;
  cluster: string;
  tally: GateTally;
  startedAtMs: number;
  lastValue?: string;
  lastNote?: string;
  comparison?: BaselineComparison;
}

interface PromResponse {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

/** Classifies one Prometheus query answer (already parsed JSON). */
export function classifyQueryResult(body: PromResponse, cond: Condition): GateMeasurement {
  if (body.status !== 'success') {
    return {
      kind: 'error',
      note: `Prometheus error ${body.errorType ?? ''}: ${(body.error ?? 'no status').slice(0, MAX_ERROR_TEXT)}`,
    };
  }
  const type = body.data?.resultType;
  const result = body.data?.result;
  if (type === 'scalar') {
    const value = Array.isArray(result) ? result[1] : undefined;
    const v = typeof value === 'string' ? value : undefined;
    const kind = evaluateCondition(cond, v);
    return {
      kind,
      ...(v !== undefined ? { value: v } : {}),
      ...(kind === 'inconclusive' ? { note: `no usable value (${v ?? 'none'})` } : {}),
    };
  }
  if (type === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return { kind: 'inconclusive', note: 'no data (empty result)' };
    const values = result.map((sample) => {
      const pair = (sample as { value?: unknown }).value;
      const v = Array.isArray(pair) ? pair[1] : undefined;
      return typeof v === 'string' ? v : undefined;
    });
    const kinds = values.map((v) => evaluateCondition(cond, v));
    const first = values[0];
    const base = first !== undefined ? { value: first } : {};
    if (kinds.includes('inconclusive')) {
      return { kind: 'inconclusive', ...base, note: `no usable value (${values.map((v) => v ?? 'none').join(', ')})` };
    }
    if (kinds.every((k) => k === 'pass')) return { kind: 'pass', ...base };
    const failing = values.filter((_, i) => kinds[i] === 'fail');
    return {
      kind: 'fail',
      ...base,
      ...(values.length > 1 ? { value: failing[0], note: `${failing.length} of ${values.length} series fail` } : {}),
    };
  }
  return { kind: 'error', note: `query returned ${type ?? 'nothing'}; a gate needs an instant vector or a scalar` };
}

/**
 * The samples of a range query answer (already parsed JSON): a matrix of exactly one series; NaN
 * samples carry no value and are left out. Several series are refused: a comparison needs one
 * metric per cluster (aggregate it, as in `max(...)`).
 */
export function classifyRangeResult(body: PromResponse): { values: number[] } | { note: string } {
  const result = matrixOf(body);
  if ('note' in result) return result;
  if (result.length === 0) return { values: [] };
  if (result.length > 1) {
    return { note: `range query returned ${result.length} series; a baseline comparison needs one (aggregate it)` };
  }
  return { values: sampleValues((result[0] as { values?: unknown }).values) };
}

/** The series of a range query answer, or why there are none to read (an error, not a matrix). */
function matrixOf(body: PromResponse): unknown[] | { note: string } {
  if (body.status !== 'success') {
    return {
      note: `Prometheus error ${body.errorType ?? ''}: ${(body.error ?? 'no status').slice(0, MAX_ERROR_TEXT)}`,
    };
  }
  const result = body.data?.result;
  if (body.data?.resultType !== 'matrix' || !Array.isArray(result)) {
    return { note: `range query returned ${body.data?.resultType ?? 'nothing'}, not a matrix` };
  }
  return result;
}

/** The numbers of one series' `[time, "value"]` pairs; NaN and malformed samples carry no value. */
function sampleValues(pairs: unknown): number[] {
  const values: number[] = [];
  for (const pair of Array.isArray(pairs) ? pairs : []) {
    const v = parseSampleValue(Array.isArray(pair) ? (pair[1] as string | undefined) : undefined);
    if (v !== undefined) values.push(v);
  }
  return values;
}

/**
 * One value per cluster from a range query answer: the median of each series whose `cluster`
 * label names one of `clusters`; clusters without a series have no value (no data is not zero).
 */
export function clusterMedians(
  body: PromResponse,
  clusters: readonly string[],
): { values: number[] } | { note: string } {
  const result = matrixOf(body);
  if ('note' in result) return result;
  const wanted = new Set(clusters);
  const values: number[] = [];
  for (const series of result as { metric?: Record<string, string>; values?: unknown }[]) {
    const name = series.metric?.cluster;
    if (name === undefined) {
      return { note: 'a cohort comparison needs one series per cluster with a cluster label (max by (cluster) (...))' };
    }
    if (!wanted.has(name)) continue;
    wanted.delete(name);
    const m = median(sampleValues(series.values));
    if (m !== undefined) values.push(m);
  }
  return { values };
}

function isProgress(value: unknown, input: EvaluateHealthGateInput): value is GateProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<GateProgress>;
  return (
    v.gate === input.gate.name &&
    v.phase === input.phase &&
    v.cluster === input.cluster.name &&
    typeof v.startedAtMs === 'number' &&
    typeof v.tally === 'object'
  );
}

/** How a gate run reports and stops, when it runs inside a larger activity (checkClusterHealth). */
export interface GateRunOptions {
  /** Progress of an earlier attempt to continue from (already checked to belong to this gate). */
  resumed?: GateProgress;
  /** Called with the tally after each measurement and while waiting; the caller heartbeats. */
  report: (progress: GateProgress) => void;
  /** Aborted when the gate's answer no longer matters (another gate failed): the run stops without a result. */
  stop?: AbortSignal;
}

/** True when `value` is the heartbeat of this gate, phase and cluster. */
export function isGateProgress(value: unknown, input: EvaluateHealthGateInput): value is GateProgress {
  return isProgress(value, input);
}

/** A gate's condition, parsed; a gate with a condition that does not parse cannot be evaluated at all. */
export function gateCondition(gate: HealthGateSpec): Condition {
  const cond = parseCondition(gate.condition ?? '');
  if (!cond)
    throw nonRetryable(
      'InvalidHealthGate',
      `gate ${gate.name}: condition "${gate.condition ?? ''}" is not a comparison such as "< 0.01"`,
    );
  return cond;
}

/**
 * The prometheus provider: the gate's PromQL `query` for the cluster (or its wave, `scope: wave`),
 * classified by {@link classifyQueryResult}; with `compare`, also the baseline or cohort comparison
 * (domain/baseline.ts) over range queries.
 */
export function createPrometheusProvider(deps: ResolvedDeps): GateProvider {
  // One per worker: every gate activity's queries share it.
  const inFlight = new ConcurrencyLimit(deps.prometheusMaxConcurrent);

  /**
   * POSTs a form to a Prometheus API path; the parsed body, or a measurement that says why there
   * is none. Waits for one of the worker's {@link ResolvedDeps.prometheusMaxConcurrent} slots
   * first: the query's timeout counts from when it is sent, not from when it was queued.
   */
  async function post(
    rt: ActivityRuntime,
    path: string,
    form: Record<string, string>,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<{ body: PromResponse } | { failed: GateMeasurement }> {
    const abort = [...(rt.signal ? [rt.signal] : []), ...(stop ? [stop] : [])];
    let release: () => void;
    try {
      release = await inFlight.acquire(abort.length > 0 ? AbortSignal.any(abort) : undefined);
    } catch {
      if (rt.signal?.aborted) throw new CancelledFailure('health gate cancelled');
      return { failed: { kind: 'error', note: 'stopped' } };
    }
    try {
      return await postNow(rt, path, form, timeoutMs, stop);
    } finally {
      release();
    }
  }

  async function postNow(
    rt: ActivityRuntime,
    path: string,
    form: Record<string, string>,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<{ body: PromResponse } | { failed: GateMeasurement }> {
    const base = (deps.prometheusUrl ?? '').replace(/\/+$/, '');
    const signals = [AbortSignal.timeout(timeoutMs), ...(rt.signal ? [rt.signal] : []), ...(stop ? [stop] : [])];
    let res: Response;
    try {
      res = await deps.fetch(`${base}${path}`, {
        method: 'POST',
        // A gate's answer is a few hundred bytes: gzip would cost both sides more than it saves.
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'accept-encoding': 'identity',
        },
        body: new URLSearchParams({ ...form, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` }).toString(),
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      if (rt.signal?.aborted) throw new CancelledFailure('health gate cancelled');
      if (stop?.aborted) return { failed: { kind: 'error', note: 'stopped' } };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (err as Error).message);
      return { failed: { kind: 'error', note: `Prometheus unreachable: ${why}` } };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (rt.signal?.aborted) throw new CancelledFailure('health gate cancelled');
      if (stop?.aborted) return { failed: { kind: 'error', note: 'stopped' } };
      return { failed: { kind: 'error', note: `reading Prometheus answer: ${(err as Error).message}` } };
    }
    let body: PromResponse | undefined;
    try {
      body = JSON.parse(text) as PromResponse;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const detail = body?.error ?? text.slice(0, MAX_ERROR_TEXT);
      return { failed: { kind: 'error', note: `Prometheus HTTP ${res.status}: ${detail}` } };
    }
    if (!body)
      return { failed: { kind: 'error', note: `Prometheus answered non-JSON: ${text.slice(0, MAX_ERROR_TEXT)}` } };
    return { body };
  }

  async function measureInstant(
    rt: ActivityRuntime,
    query: string,
    cond: Condition,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<GateMeasurement> {
    const answer = await post(rt, '/api/v1/query', { query }, timeoutMs, stop);
    return 'failed' in answer ? answer.failed : classifyQueryResult(answer.body, cond);
  }

  /** One window of a baseline comparison: the samples of `query` from `startMs` to `endMs`, one per `stepMs`. */
  async function rangeSamples(
    rt: ActivityRuntime,
    query: string,
    startMs: number,
    endMs: number,
    stepMs: number,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<{ values: number[] } | { failed: GateMeasurement }> {
    const form = { query, start: String(startMs / 1000), end: String(endMs / 1000), step: `${stepMs / 1000}` };
    const answer = await post(rt, '/api/v1/query_range', form, timeoutMs, stop);
    if ('failed' in answer) return answer;
    const range = classifyRangeResult(answer.body);
    return 'note' in range ? { failed: { kind: 'error', note: range.note } } : range;
  }

  /**
   * A measurement of a gate with `compare.baseline`: the condition first (an absolute limit still
   * holds), then, after the change, the same query over the window before the cluster's upgrade
   * against the window up to now, decided by domain/baseline.ts. In the baseline phase, or without
   * the cluster's start time, only the condition applies.
   */
  async function measureWithBaseline(
    rt: ActivityRuntime,
    query: string,
    gate: HealthGateSpec,
    cond: Condition,
    phase: GatePhase,
    context: GateContext | undefined,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<GateMeasurement> {
    const instant = await measureInstant(rt, query, cond, timeoutMs, stop);
    if (gate.compare?.cohort && instant.kind === 'pass') {
      return measureAgainstCohort(rt, gate, instant, context, timeoutMs, stop);
    }
    const spec = gate.compare?.baseline;
    if (!spec || phase === 'baseline' || instant.kind !== 'pass') return instant;
    const changedAtMs = context?.changedAtMs;
    if (changedAtMs === undefined) {
      return {
        ...instant,
        kind: 'inconclusive',
        note: "baseline comparison: the cluster's upgrade start is not known",
      };
    }
    const windowMs = durationMs(spec.window ?? '1h');
    const stepMs = durationMs(spec.step ?? '1m');
    const now = deps.now().getTime();
    const currentFrom = Math.max(now - windowMs, context?.changeEndedAtMs ?? changedAtMs);
    const before = await rangeSamples(rt, query, changedAtMs - windowMs, changedAtMs, stepMs, timeoutMs, stop);
    if ('failed' in before) return before.failed;
    const after = await rangeSamples(rt, query, currentFrom, now, stepMs, timeoutMs, stop);
    if ('failed' in after) return after.failed;
    const comparison = compareWithBaseline(before.values, after.values, {
      direction: spec.direction ?? 'increase',
      minEffect: spec.minEffect ?? 0.2,
      effect: spec.effect ?? 'relative',
      alpha: spec.alpha ?? 0.05,
    });
    return {
      kind: comparison.verdict,
      ...(instant.value !== undefined ? { value: instant.value } : {}),
      note: `baseline ${comparison.reason}`,
      comparison,
    };
  }

  /**
   * The cohort comparison of a wave gate: the query over the wave's clusters and over the control
   * cohort's, each a range over the cohort window; one value per cluster (the median of its
   * series, told apart by the `cluster` label), compared by domain/baseline.ts with the cohort as
   * the baseline. A refused cohort is inconclusive, never a pass.
   */
  async function measureAgainstCohort(
    rt: ActivityRuntime,
    gate: HealthGateSpec,
    instant: GateMeasurement,
    context: GateContext | undefined,
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<GateMeasurement> {
    const spec = gate.compare?.cohort;
    if (!spec) return instant;
    const base = instant.value !== undefined ? { value: instant.value } : {};
    if (context?.cohortRefused) return { ...base, kind: 'inconclusive', note: context.cohortRefused };
    const wave = context?.clusters ?? [];
    const cohort = context?.cohort ?? [];
    if (context?.wave === undefined || cohort.length === 0) {
      return { ...base, kind: 'inconclusive', note: 'cohort refused: no control clusters were named' };
    }
    const windowMs = durationMs(spec.window ?? '1h');
    const stepMs = durationMs(spec.step ?? '1m');
    const now = deps.now().getTime();
    const valuesOf = async (clusters: string[]): Promise<{ values: number[] } | { failed: GateMeasurement }> => {
      const query = renderQuery(gate.query ?? '', context.wave ?? '', { wave: context.wave ?? '', clusters });
      const form = { query, start: String((now - windowMs) / 1000), end: String(now / 1000), step: `${stepMs / 1000}` };
      const answer = await post(rt, '/api/v1/query_range', form, timeoutMs, stop);
      if ('failed' in answer) return answer;
      const perCluster = clusterMedians(answer.body, clusters);
      return 'note' in perCluster ? { failed: { kind: 'error', note: perCluster.note } } : perCluster;
    };
    const control = await valuesOf(cohort);
    if ('failed' in control) return control.failed;
    const upgraded = await valuesOf(wave);
    if ('failed' in upgraded) return upgraded.failed;
    const comparison = compareWithBaseline(control.values, upgraded.values, {
      direction: spec.direction ?? 'increase',
      minEffect: spec.minEffect ?? 0.2,
      effect: spec.effect ?? 'relative',
      alpha: spec.alpha ?? 0.05,
    });
    return {
      ...base,
      kind: comparison.verdict,
      note: `cohort of ${cohort.length} control cluster(s): ${comparison.reason.replace('baseline', 'cohort')}`,
      comparison,
    };
  }

  async function measure({
    rt,
    cluster,
    gate,
    phase,
    timeoutMs,
    stop,
    gateContext,
  }: MeasureRequest): Promise<GateMeasurement> {
    const cond = gateCondition(gate);
    if (!deps.prometheusUrl) return { kind: 'error', note: 'no Prometheus URL configured' };
    const query = renderGateQuery(gate, cluster.name, gateContext);
    return measureWithBaseline(rt, query, gate, cond, phase, gateContext, timeoutMs, stop);
  }
  return {
    measure,
    unavailable: () =>
      deps.prometheusUrl ? undefined : 'no Prometheus URL configured; a gate without data is never a pass',
  };
}

/**
 * The gate activities and the gate loop that checkClusterHealth (health.ts) and watchHealthGates
 * (watch.ts) share, over every provider: prometheus (this file) and `others`.
 */
export function createPrometheusActivities(deps: ResolvedDeps, others: Omit<GateProviders, 'prometheus'>) {
  const providers: GateProviders = { prometheus: createPrometheusProvider(deps), ...others };

  /**
   * Sleeps `ms`, reporting at least every HEARTBEAT_EVERY_MS so heartbeat timeouts can stay short.
   * Returns false when `stop` was aborted first.
   */
  async function sleepReporting(
    rt: ActivityRuntime,
    ms: number,
    progress: GateProgress,
    opts: GateRunOptions,
  ): Promise<boolean> {
    let left = ms;
    while (left > 0) {
      const step = Math.min(left, HEARTBEAT_EVERY_MS);
      if (!(await sleepUnlessStopped(rt, step, opts.stop))) return false;
      left -= step;
      opts.report({ ...progress });
    }
    return true;
  }

  /**
   * One gate from its initial delay to a decision (or its timeout: Inconclusive). Returns undefined
   * when `opts.stop` ends it first. Throws InvalidHealthGate for a condition it cannot parse, and a
   * CancelledFailure when the activity is cancelled.
   */
  async function runGate(
    rt: ActivityRuntime,
    input: EvaluateHealthGateInput,
    opts: GateRunOptions,
  ): Promise<GateResult | undefined> {
    const gate = input.gate;
    // A webhook answers pass or fail itself; every other provider compares a value with the condition.
    if (gateProviderOf(gate) !== 'webhook') gateCondition(gate);
    const provider = providerFor(providers, gate);
    const limits: GateLimits = {
      consecutiveSuccesses: input.requiredSuccesses ?? gate.consecutiveSuccesses ?? 1,
      failureLimit: gate.failureLimit ?? 0,
      inconclusiveLimit: gate.inconclusiveLimit ?? 3,
      consecutiveErrorLimit: gate.consecutiveErrorLimit ?? 4,
    };
    const intervalMs = durationMs(gate.interval ?? '30s');
    // After a change (postStep, bake) the first sample must postdate it: a measurement taken at once
    // can read a scrape from before the step ended and pass a cluster that has just gone bad.
    const afterChange = input.phase === 'postStep' || input.phase === 'bake';
    const initialDelayMs = Math.max(durationMs(gate.initialDelay ?? '0s'), afterChange ? intervalMs : 0);
    const timeoutMs = durationMs(gate.timeout ?? '10m');
    const queryTimeoutMs = Math.max(1_000, deps.gateQueryTimeoutMs ?? Math.min(intervalMs, MAX_QUERY_TIMEOUT_MS));

    const result = (
      tally: GateTally,
      outcome: GateResult['outcome'],
      message: string,
      lastValue?: string,
      comparison?: BaselineComparison,
    ): GateResult => ({
      gate: gate.name,
      phase: input.phase,
      outcome,
      measurements: tally.measurements,
      successes: tally.successes,
      failures: tally.failures,
      inconclusive: tally.inconclusive,
      errors: tally.errors,
      ...(lastValue !== undefined ? { lastValue } : {}),
      ...(comparison ? { comparison } : {}),
      message,
    });

    const unavailable = provider.unavailable?.(gate);
    if (unavailable) return result(emptyTally(), 'Error', `gate ${gate.name}: ${unavailable}`);

    const resumed = opts.resumed;
    const progress: GateProgress = resumed
      ? { ...resumed, tally: { ...emptyTally(), ...resumed.tally } }
      : {
          gate: gate.name,
          phase: input.phase,
          cluster: input.cluster.name,
          tally: emptyTally(),
          startedAtMs: deps.now().getTime(),
        };
    const deadline = progress.startedAtMs + timeoutMs;

    if (!resumed && initialDelayMs > 0 && !(await sleepReporting(rt, initialDelayMs, progress, opts))) return undefined;

    for (;;) {
      const m = await provider.measure({
        rt,
        cluster: input.cluster,
        gate,
        phase: input.phase,
        timeoutMs: queryTimeoutMs,
        ...(opts.stop ? { stop: opts.stop } : {}),
        context: callContextOf(rt.workflowId),
        ...(input.context ? { gateContext: input.context } : {}),
      });
      if (opts.stop?.aborted) return undefined;
      progress.tally = addMeasurement(progress.tally, m.kind);
      if (m.value !== undefined) progress.lastValue = m.value;
      if (m.comparison) progress.comparison = m.comparison;
      if (m.note !== undefined) progress.lastNote = m.note;
      else delete progress.lastNote;
      opts.report({ ...progress });
      const assessment = assessTally(progress.tally, limits);
      rt.log.debug('Gate measurement', {
        cluster: input.cluster.name,
        gate: gate.name,
        phase: input.phase,
        kind: m.kind,
        value: m.value,
        note: m.note,
        outcome: assessment.outcome,
      });
      if (assessment.outcome !== 'Running') {
        const message = `gate ${gate.name} (${input.phase}) on ${input.cluster.name}: ${assessment.outcome}: ${assessment.message}${
          m.note ? ` (last: ${m.note})` : ''
        }`;
        rt.log.info('Gate decided', {
          cluster: input.cluster.name,
          gate: gate.name,
          phase: input.phase,
          outcome: assessment.outcome,
        });
        return result(progress.tally, assessment.outcome, message, progress.lastValue, progress.comparison);
      }
      const now = deps.now().getTime();
      if (now + intervalMs > deadline) {
        const message = `gate ${gate.name} (${input.phase}) on ${input.cluster.name}: no decision within ${gate.timeout ?? '10m'}: ${
          assessment.message
        }${progress.lastNote ? ` (last: ${progress.lastNote})` : ''}`;
        rt.log.warn('Gate timed out', { cluster: input.cluster.name, gate: gate.name, phase: input.phase });
        return result(progress.tally, 'Inconclusive', message, progress.lastValue, progress.comparison);
      }
      if (!(await sleepReporting(rt, intervalMs, progress, opts))) return undefined;
    }
  }

  /**
   * One measurement of one gate on one cluster with the gate's provider (watchHealthGates,
   * activities/watch.ts, keeps the tally). A provider that cannot run (no Prometheus URL) is a
   * query error: no data is never a pass.
   */
  async function measureGate(
    rt: ActivityRuntime,
    cluster: EvaluateHealthGateInput['cluster'],
    gate: EvaluateHealthGateInput['gate'],
    phase: GatePhase,
    context?: GateContext,
  ): Promise<GateMeasurement> {
    if (gateProviderOf(gate) !== 'webhook') gateCondition(gate);
    const provider = providerFor(providers, gate);
    const unavailable = provider.unavailable?.(gate);
    if (unavailable) return { kind: 'error', note: unavailable };
    const intervalMs = durationMs(gate.interval ?? '30s');
    const queryTimeoutMs = Math.max(1_000, deps.gateQueryTimeoutMs ?? Math.min(intervalMs, MAX_QUERY_TIMEOUT_MS));
    return provider.measure({
      rt,
      cluster,
      gate,
      phase,
      timeoutMs: queryTimeoutMs,
      context: callContextOf(rt.workflowId),
      ...(context ? { gateContext: context } : {}),
    });
  }

  async function evaluateHealthGate(input: EvaluateHealthGateInput): Promise<GateResult> {
    const rt = activityRuntime(deps.logger);
    const resumed = isProgress(rt.heartbeatDetails, input) ? rt.heartbeatDetails : undefined;
    const result = await runGate(rt, input, {
      ...(resumed ? { resumed } : {}),
      report: (progress) => rt.heartbeat(progress),
    });
    // Without a stop signal the loop always ends with a result.
    return result as GateResult;
  }

  return { evaluateHealthGate, runGate, measureGate };
}

/** The gate's query for a cluster, or for a wave with its clusters (`scope: wave`). */
function renderGateQuery(gate: HealthGateSpec, cluster: string, context: GateContext | undefined): string {
  if (gate.scope === 'wave' && context?.wave !== undefined) {
    return renderQuery(gate.query ?? '', cluster, { wave: context.wave, clusters: context.clusters ?? [] });
  }
  return renderQuery(gate.query ?? '', cluster);
}

/** Sleeps `ms` (cancellable with the activity); resolves false at once when `stop` aborts first. */
async function sleepUnlessStopped(rt: ActivityRuntime, ms: number, stop?: AbortSignal): Promise<boolean> {
  if (!stop) {
    await rt.sleep(ms);
    return true;
  }
  if (stop.aborted) return false;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    stop.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([rt.sleep(ms).then(() => true), stopped]);
  } finally {
    if (onAbort) stop.removeEventListener('abort', onAbort);
  }
}
