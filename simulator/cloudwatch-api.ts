/**
 * Amazon CloudWatch GetMetricData on the simulator's port, in the protocol
 * @aws-sdk/client-cloudwatch 3.x speaks: awsJson1_0 (`POST /`, `x-amz-target:
 * GraniteServiceVersion20100801.GetMetricData`, `x-amzn-query-mode: true`, SigV4 service
 * `monitoring`), timestamps as epoch seconds, errors as `{"__type", "message"}` with the awsQuery
 * code in `x-amzn-query-error` (the service is awsQuery-compatible).
 *
 * It serves the signals /metrics gives Prometheus (model/signals.ts, workloads.ts), per cluster:
 * - namespace `ContainerInsights`, dimension `ClusterName`: `cluster_node_count`,
 *   `cluster_failed_node_count` (as the CloudWatch User Guide's "Amazon EKS and Kubernetes
 *   Container Insights metrics" names them);
 * - namespace `Fleetwave/Sim`, dimension `ClusterName`: `WorkloadErrorRatio`,
 *   `WorkloadLatencyP99` (seconds), `PodsCrashLooping`, `UpgradeInProgress`.
 * The simulator keeps no history: a query answers one data point, the value at the simulator's
 * now, stamped with the start of the newest period of the window that has begun (none when the
 * window ends before the period that starts it). A
 * cluster of another account or region has no metrics here, as in CloudWatch: no data, no error.
 */
import { randomUUID } from 'node:crypto';
import type { AwsResponse } from './aws-misc';
import { crashLoopingPodCount, workloadSignals, type SimCluster, type SimFleet } from './model';
import { nodeCounts } from './workloads';

const JSON_10 = 'application/x-amz-json-1.0';
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';

type Reader = (c: SimCluster, now: number) => number;

/** Namespace → metric name → value of a cluster now. */
const METRICS: Record<string, Record<string, Reader>> = {
  ContainerInsights: {
    cluster_node_count: (c, now) => nodeCounts(c, now).total,
    cluster_failed_node_count: (c, now) => {
      const n = nodeCounts(c, now);
      return n.total - n.ready;
    },
  },
  'Fleetwave/Sim': {
    WorkloadErrorRatio: (c) => workloadSignals(c).errorRatio,
    WorkloadLatencyP99: (c) => workloadSignals(c).latencyP99,
    PodsCrashLooping: (c) => crashLoopingPodCount(c),
    UpgradeInProgress: (c) => (c.active.length > 0 ? 1 : 0),
  },
};

/** A CloudWatch error: the modeled exception name, its awsQuery code, and a message. */
class CloudWatchError extends Error {
  constructor(
    readonly type: string,
    readonly queryCode: string,
    message: string,
  ) {
    super(message);
  }
}

const invalidValue = (message: string) =>
  new CloudWatchError('InvalidParameterValueException', 'InvalidParameterValue', message);
const missing = (message: string) =>
  new CloudWatchError('MissingRequiredParameterException', 'MissingParameter', message);
const combination = (message: string) =>
  new CloudWatchError('InvalidParameterCombinationException', 'InvalidParameterCombination', message);

interface Query {
  Id?: unknown;
  MetricStat?: {
    Metric?: { Namespace?: unknown; MetricName?: unknown; Dimensions?: { Name?: unknown; Value?: unknown }[] };
    Period?: unknown;
    Stat?: unknown;
  };
  Expression?: unknown;
  Period?: unknown;
  ReturnData?: unknown;
  Label?: unknown;
}

/** API reference, MetricDataQuery `Id`: "The first character must be a lowercase letter"; letters, numbers, underscore; 1–255. */
const ID_RE = /^[a-z][a-zA-Z0-9_]{0,254}$/;
/** CloudWatch statistics: the five basic ones and percentiles ("Statistics definitions" in the User Guide). */
const STAT_RE = /^(Average|Sum|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?|p100)$/;

/**
 * API reference, MetricStat `Period`: "1, 5, 10, 20, 30, 60, or any multiple of 60" (valid range:
 * minimum 1). The simulator's metrics count as high-resolution, so the short periods return data.
 */
function validPeriod(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && (p % 60 === 0 ? p > 0 : [1, 5, 10, 20, 30].includes(p));
}

/** Evaluates `+ - * /`, parentheses, numbers and query ids; undefined for anything else. */
function evaluateArithmetic(expr: string, values: Map<string, number | undefined>): number | undefined | 'unsupported' {
  const tokens = expr.match(/\s*([A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+*/()])/gy);
  if (!tokens || tokens.join('').replace(/\s+/g, '') !== expr.replace(/\s+/g, '')) return 'unsupported';
  const t = tokens.map((s) => s.trim());
  let i = 0;
  let unknown = false;
  const primary = (): number | undefined => {
    const tok = t[i++];
    if (tok === undefined) throw new Error('end');
    if (tok === '(') {
      const v = sum();
      if (t[i++] !== ')') throw new Error(')');
      return v;
    }
    if (tok === '-') {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    if (/^\d/.test(tok)) return Number(tok);
    if (/^[A-Za-z_]/.test(tok)) {
      if (!values.has(tok)) unknown = true;
      return values.get(tok);
    }
    throw new Error(tok);
  };
  const product = (): number | undefined => {
    let v = primary();
    while (t[i] === '*' || t[i] === '/') {
      const op = t[i++];
      const r = primary();
      v = v === undefined || r === undefined ? undefined : op === '*' ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (t[i] === '+' || t[i] === '-') {
      const op = t[i++];
      const r = product();
      v = v === undefined || r === undefined ? undefined : op === '+' ? v + r : v - r;
    }
    return v;
  };
  try {
    const v = sum();
    if (i !== t.length || unknown) return 'unsupported';
    return v;
  } catch {
    return 'unsupported';
  }
}

/** One GetMetricData call for the caller's region and account (undefined: base credentials, every account). */
function getMetricData(
  fleet: SimFleet,
  input: Record<string, unknown>,
  scope: { region: string; account?: string },
): unknown {
  const queries = input.MetricDataQueries;
  // API reference, GetMetricData: MetricDataQueries, StartTime and EndTime are required.
  if (!Array.isArray(queries) || queries.length === 0) throw missing('The parameter MetricDataQueries is required.');
  // API reference, GetMetricData `MetricDataQueries`: "as many as 500 MetricDataQuery structures".
  if (queries.length > 500)
    throw invalidValue('The collection MetricDataQueries must not have a size greater than 500.');
  if (typeof input.StartTime !== 'number') throw missing('The parameter StartTime is required.');
  if (typeof input.EndTime !== 'number') throw missing('The parameter EndTime is required.');
  const endMs = input.EndTime * 1000;
  if (input.StartTime >= input.EndTime)
    throw invalidValue('The parameter StartTime must be less than the parameter EndTime.');

  const seen = new Set<string>();
  const parsed = (queries as Query[]).map((q, n) => {
    const where = `MetricDataQueries.member.${n + 1}`;
    if (typeof q.Id !== 'string' || !ID_RE.test(q.Id)) {
      throw invalidValue(
        `The value ${JSON.stringify(q.Id)} for parameter ${where}.Id is invalid: the first character must be a lowercase letter, then letters, numbers and underscores.`,
      );
    }
    // API reference, MetricDataQuery `Id`: "This Id must be unique within a MetricDataQueries array."
    if (seen.has(q.Id)) throw invalidValue(`The value ${q.Id} for parameter ${where}.Id is not unique.`);
    seen.add(q.Id);
    // API reference, MetricDataQuery: "you must specify either Expression or MetricStat but not both".
    if ((q.MetricStat === undefined) === (q.Expression === undefined)) {
      throw combination(`Exactly one of MetricStat and Expression must be given in ${where}.`);
    }
    if (q.MetricStat) {
      const ms = q.MetricStat;
      if (!ms.Metric || typeof ms.Metric.MetricName !== 'string' || typeof ms.Metric.Namespace !== 'string') {
        throw missing(`The parameters ${where}.MetricStat.Metric.Namespace and MetricName are required.`);
      }
      if (!validPeriod(ms.Period)) {
        throw invalidValue(`The parameter ${where}.MetricStat.Period must be 1, 5, 10, 20, 30 or a multiple of 60.`);
      }
      if (typeof ms.Stat !== 'string' || !STAT_RE.test(ms.Stat)) {
        throw invalidValue(`The value ${JSON.stringify(ms.Stat)} for parameter ${where}.MetricStat.Stat is invalid.`);
      }
      // API reference, Metric `Dimensions`: at most 30.
      if ((ms.Metric.Dimensions ?? []).length > 30) {
        throw invalidValue(`The collection ${where}.MetricStat.Metric.Dimensions must not have more than 30 members.`);
      }
    } else if (typeof q.Expression !== 'string' || q.Expression.length === 0 || q.Expression.length > 2048) {
      throw invalidValue(`The parameter ${where}.Expression must be 1 to 2048 characters.`);
    }
    return q as Query & { Id: string };
  });

  const now = fleet.now();
  // Start times under 15 days ago round down to the whole minute (API reference, GetMetricData `StartTime`).
  const startMs = Math.floor((input.StartTime * 1000) / 60_000) * 60_000;
  // The newest period of the window that has begun: EndTime is exclusive (API reference,
  // GetMetricData `EndTime`), and nothing is stamped after the simulator's now.
  const pointOf = (period: number): number | undefined => {
    const at = Math.floor(Math.min(now, endMs - 1) / (period * 1000)) * period * 1000;
    return at >= startMs ? at : undefined;
  };
  const visible = new Map(fleet.visible(scope).map((c) => [c.name, c]));
  const values = new Map<string, number | undefined>();
  const stamps = new Map<string, number | undefined>();
  const statusOf = new Map<string, 'Complete' | 'InternalError'>();
  const messages: { Code: string; Value: string }[] = [];
  for (const q of parsed) {
    if (!q.MetricStat) continue;
    const m = q.MetricStat.Metric as NonNullable<NonNullable<Query['MetricStat']>['Metric']>;
    const dims = m.Dimensions ?? [];
    // A metric is its namespace, name and exact set of dimensions: only {ClusterName} names one here.
    const cluster =
      dims.length === 1 && dims[0]?.Name === 'ClusterName' ? visible.get(String(dims[0].Value)) : undefined;
    const read = METRICS[String(m.Namespace)]?.[String(m.MetricName)];
    const at = pointOf(q.MetricStat.Period as number);
    const stat = String(q.MetricStat.Stat);
    // One sample per period: every statistic of it is the sample itself, its count 1.
    const v = cluster && read && at !== undefined ? (stat === 'SampleCount' ? 1 : read(cluster, now)) : undefined;
    values.set(q.Id, v);
    stamps.set(q.Id, v === undefined ? undefined : at);
    statusOf.set(q.Id, 'Complete');
  }
  for (const q of parsed) {
    if (q.MetricStat) continue;
    const v = evaluateArithmetic(String(q.Expression), values);
    if (v === 'unsupported') {
      statusOf.set(q.Id, 'InternalError');
      messages.push({
        Code: 'InternalError',
        Value: `${q.Id}: the simulator evaluates only + - * / and parentheses over query ids and numbers`,
      });
      values.set(q.Id, undefined);
      continue;
    }
    const period = typeof q.Period === 'number' && validPeriod(q.Period) ? q.Period : 60;
    const at = [...stamps.values()].find((s) => s !== undefined) ?? pointOf(period);
    // A result that is not a finite number (a division by zero) has no data point.
    const ok = v !== undefined && Number.isFinite(v) && at !== undefined;
    values.set(q.Id, ok ? v : undefined);
    stamps.set(q.Id, ok ? at : undefined);
    statusOf.set(q.Id, 'Complete');
  }
  return {
    MetricDataResults: parsed
      .filter((q) => q.ReturnData !== false)
      .map((q) => {
        const v = values.get(q.Id);
        const at = stamps.get(q.Id);
        const has = v !== undefined && at !== undefined;
        return {
          Id: q.Id,
          Label: typeof q.Label === 'string' ? q.Label : q.MetricStat ? String(q.MetricStat.Metric?.MetricName) : q.Id,
          Timestamps: has ? [at / 1000] : [],
          Values: has ? [v] : [],
          StatusCode: statusOf.get(q.Id) ?? 'Complete',
        };
      }),
    Messages: messages,
  };
}

/** Answers an awsJson1_0 CloudWatch call (`x-amz-target: GraniteServiceVersion20100801.<Operation>`). */
export function handleCloudWatch(
  fleet: SimFleet,
  target: string,
  text: string,
  scope: { region: string; account?: string },
): AwsResponse {
  const operation = target.slice(CLOUDWATCH_TARGET_PREFIX.length);
  const headers = { 'content-type': JSON_10, 'x-amzn-requestid': randomUUID() };
  try {
    let input: Record<string, unknown>;
    try {
      input = text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new CloudWatchError(
        'SerializationException',
        'SerializationException',
        'The request body is not valid JSON.',
      );
    }
    if (operation !== 'GetMetricData') {
      throw new CloudWatchError(
        'UnknownOperationException',
        'UnknownOperation',
        `The simulator does not implement CloudWatch ${operation}.`,
      );
    }
    return { status: 200, body: JSON.stringify(getMetricData(fleet, input, scope)), headers };
  } catch (err) {
    if (!(err instanceof CloudWatchError)) throw err;
    return {
      status: 400,
      body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${err.type}`, message: err.message }),
      headers: { ...headers, 'x-amzn-query-error': `${err.queryCode};Sender` },
    };
  }
}
