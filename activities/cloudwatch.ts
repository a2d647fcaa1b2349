/**
 * The cloudwatch gate provider: one GetMetricData call (@aws-sdk/client-cloudwatch) per
 * measurement, in the cluster's account (its role, as every EKS call) and region (or the gate's).
 *
 * A measurement asks for the last `lookback` at the gate's `period` and takes the newest data
 * point: one metric (MetricStat), or a metric-math `expression` over `metrics` (their queries
 * with ReturnData false, as the CloudWatch API reference describes for math). Classified as:
 * - a number → pass or fail by the condition;
 * - no data point in the lookback, or NaN → inconclusive ("no data" is never a pass);
 * - an SDK error (access denied, throttled past the SDK's retries, a timeout, a bad request) or a
 *   result whose StatusCode is neither Complete nor PartialData → error.
 *
 * Times are the clusters' clock (`clusterClock`): the window must end at the moment the metrics
 * describe, which for an accelerated simulator is not the worker's wall clock.
 */
import { CancelledFailure } from '@temporalio/common';
import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { evaluateCondition } from '../domain/gates';
import { durationMs, CLUSTER_PLACEHOLDER } from '../domain/spec';
import type { ResolvedDeps } from './deps';
import type { GateMeasurement, GateProvider, MeasureRequest } from './gate-provider';
import { gateCondition } from './prometheus';

const MAX_ERROR_TEXT = 200;
/** Query Id of the value the gate compares (the metric itself, or the expression). */
const RESULT_ID = 'gate';

type Dimensions = Record<string, string> | undefined;

function dimensionsFor(dimensions: Dimensions, cluster: string): { Name: string; Value: string }[] {
  return Object.entries(dimensions ?? {}).map(([Name, value]) => ({
    Name,
    Value: value.replace(CLUSTER_PLACEHOLDER, () => cluster),
  }));
}

/** The MetricDataQueries of a cloudwatch gate for one cluster; the compared value has Id "gate". */
export function metricDataQueries(
  cw: NonNullable<NonNullable<MeasureRequest['gate']['provider']>['cloudwatch']>,
  cluster: string,
): MetricDataQuery[] {
  const period = Math.round(durationMs(cw.period ?? '1m') / 1000);
  if (cw.expression === undefined) {
    return [
      {
        Id: RESULT_ID,
        MetricStat: {
          Metric: {
            Namespace: cw.namespace,
            MetricName: cw.metricName,
            Dimensions: dimensionsFor(cw.dimensions, cluster),
          },
          Period: period,
          Stat: cw.stat ?? 'Average',
        },
        ReturnData: true,
      },
    ];
  }
  return [
    ...Object.entries(cw.metrics ?? {}).map(([id, m]): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: m.namespace, MetricName: m.metricName, Dimensions: dimensionsFor(m.dimensions, cluster) },
        Period: period,
        Stat: m.stat ?? 'Average',
      },
      ReturnData: false,
    })),
    { Id: RESULT_ID, Expression: cw.expression, Period: period, ReturnData: true },
  ];
}

export function createCloudWatchProvider(deps: ResolvedDeps): GateProvider {
  async function measure({ rt, cluster, gate, timeoutMs, stop }: MeasureRequest): Promise<GateMeasurement> {
    const cw = gate.provider?.cloudwatch;
    if (!cw || !deps.cloudWatch) return { kind: 'error', note: 'no CloudWatch client configured' };
    const cond = gateCondition(gate);
    const client: CloudWatchClient = deps.cloudWatch({
      region: cw.region ?? cluster.region,
      ...(cluster.roleArn ? { roleArn: cluster.roleArn } : {}),
    });
    const end = (deps.clusterClock ?? deps.now)().getTime();
    const signals = [AbortSignal.timeout(timeoutMs), ...(rt.signal ? [rt.signal] : []), ...(stop ? [stop] : [])];
    let results;
    try {
      const answer = await client.send(
        new GetMetricDataCommand({
          MetricDataQueries: metricDataQueries(cw, cluster.name),
          StartTime: new Date(end - durationMs(cw.lookback ?? '5m')),
          EndTime: new Date(end),
          ScanBy: 'TimestampDescending',
        }),
        { abortSignal: AbortSignal.any(signals) },
      );
      results = answer.MetricDataResults ?? [];
    } catch (err) {
      if (rt.signal?.aborted) throw new CancelledFailure('health gate cancelled');
      if (stop?.aborted) return { kind: 'error', note: 'stopped' };
      const e = err as Error & { $metadata?: { httpStatusCode?: number } };
      const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : e.message;
      return {
        kind: 'error',
        note: `CloudWatch GetMetricData: ${e.name}${e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}: ${why.slice(0, MAX_ERROR_TEXT)}`,
      };
    }
    const result = results.find((r) => r.Id === RESULT_ID);
    if (!result) return { kind: 'error', note: 'CloudWatch answered without the gate query' };
    if (result.StatusCode !== 'Complete' && result.StatusCode !== 'PartialData') {
      const messages = (result.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
      return {
        kind: 'error',
        note: `CloudWatch StatusCode ${result.StatusCode ?? 'none'}${messages ? `: ${messages}` : ''}`,
      };
    }
    // Newest first (ScanBy TimestampDescending); pick by timestamp all the same, order is the server's word only.
    const points = (result.Values ?? []).map((v, i) => ({ v, t: result.Timestamps?.[i]?.getTime() ?? 0 }));
    if (points.length === 0)
      return { kind: 'inconclusive', note: `no data (no data point in the last ${cw.lookback ?? '5m'})` };
    const newest = points.reduce((a, b) => (b.t > a.t ? b : a));
    const value = String(newest.v);
    const kind = evaluateCondition(cond, newest.v);
    return { kind, value, ...(kind === 'inconclusive' ? { note: `no usable value (${value})` } : {}) };
  }
  return {
    measure,
    unavailable: () =>
      deps.cloudWatch ? undefined : 'no CloudWatch client configured; a gate without data is never a pass',
  };
}
