/**
 * `npm run bench:real-pace` counts actions from histories and takes heartbeats and queries from
 * the Temporal server's request counters: the parsing of those counters and the split between
 * what history proves and what is measured.
 */
import { msToTs } from '@temporalio/common/lib/time';
import { describe, expect, it } from 'vitest';
import type { RunHistory } from '../../bench/lib/histories';
import { actionTotal, isClientStart, realPaceFleet, runActions, sumRunActions } from '../../bench/lib/real-pace';
import {
  frontendRequests,
  HEARTBEAT_OPERATIONS,
  parsePrometheusText,
  requestDelta,
  sumOperations,
} from '../../bench/lib/server-metrics';

const METRICS = `# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="frontend"} 40
service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="history"} 40
service_requests{namespace="default",operation="QueryWorkflow",service_name="frontend"} 3
service_requests{namespace="other",operation="QueryWorkflow",service_name="frontend"} 9
service_requests{namespace="_unknown_",operation="GetSystemInfo",service_name="frontend"} 1
service_latency_bucket{namespace="default",operation="QueryWorkflow",le="0.1"} 2
`;

describe('server request counters', () => {
  it('reads the frontend counters of one namespace only', () => {
    const ops = frontendRequests(parsePrometheusText(METRICS), 'default');
    expect(ops).toEqual({ RecordActivityTaskHeartbeat: 40, QueryWorkflow: 3 });
  });

  it('parses escaped label values', () => {
    const [s] = parsePrometheusText('m{a="x\\"y",b="1"} 2.5');
    expect(s).toEqual({ name: 'm', labels: { a: 'x"y', b: '1' }, value: 2.5 });
  });

  it('takes differences, counting operations first seen after the start from zero', () => {
    const d = requestDelta(
      { RecordActivityTaskHeartbeat: 40, QueryWorkflow: 3, DescribeNamespace: 2 },
      { RecordActivityTaskHeartbeat: 95, RecordActivityTaskHeartbeatById: 2, QueryWorkflow: 3, DescribeNamespace: 2 },
    );
    expect(d).toEqual({ RecordActivityTaskHeartbeat: 55, RecordActivityTaskHeartbeatById: 2 });
    expect(sumOperations(d, HEARTBEAT_OPERATIONS)).toBe(57);
  });
});

const ts = (ms: number) => msToTs(ms);
let nextId = 1;
const ev = (ms: number, attrs: Record<string, unknown>) => ({ eventId: nextId++, eventTime: ts(ms), ...attrs });

/** A cluster-upgrade-like run: one heartbeating activity retried once, a timer, a signal. */
function childRun(started: Record<string, unknown> = { parentWorkflowExecution: { workflowId: 'campaign/x' } }) {
  nextId = 1;
  const events = [
    ev(0, {
      workflowExecutionStartedEventAttributes: { workflowType: { name: 'clusterUpgradeWorkflow' }, ...started },
    }),
    ev(1_000, {
      activityTaskScheduledEventAttributes: {
        activityType: { name: 'awaitUpdate' },
        heartbeatTimeout: msToTs(60_000),
      },
    }),
    ev(2_000, { activityTaskStartedEventAttributes: { scheduledEventId: 2, attempt: 2 } }),
    ev(302_000, { activityTaskCompletedEventAttributes: { scheduledEventId: 2 } }),
    ev(303_000, { timerStartedEventAttributes: {} }),
    ev(304_000, { workflowExecutionSignaledEventAttributes: {} }),
    ev(305_000, { workflowExecutionCompletedEventAttributes: {} }),
  ];
  return {
    workflowId: 'cluster-upgrade/a',
    runId: 'r',
    workflowType: 'clusterUpgradeWorkflow',
    events,
    startMs: 0,
  } as unknown as RunHistory;
}

describe('runActions', () => {
  it('counts retries from the attempt and keeps the heartbeat estimate out of the billed figure', () => {
    const a = runActions(childRun());
    expect(a.history.activities).toBe(2);
    expect(a.history.timers).toBe(1);
    expect(a.history.signals).toBe(1);
    expect(a.history.workflowStarts).toBe(0);
    expect(a.history.heartbeats).toBe(0);
    expect(a.history.total).toBe(4);
    // 1 for the failed attempt, 1 at once, then one per 48 s throttle over 300 s.
    expect(a.estimatedHeartbeats).toBe(1 + 1 + 6);
  });

  it('counts a start for runs started by a client, not for children or continued runs', () => {
    expect(isClientStart(childRun({}))).toBe(true);
    expect(runActions(childRun({})).history.workflowStarts).toBe(1);
    expect(isClientStart(childRun())).toBe(false);
    expect(isClientStart(childRun({ continuedExecutionRunId: 'previous' }))).toBe(false);
  });

  it('sums runs', () => {
    const s = sumRunActions([runActions(childRun()), runActions(childRun({}))]);
    expect(s.history.total).toBe(9);
    expect(s.history.activities).toBe(4);
  });
});

describe('actionTotal', () => {
  it('adds measured heartbeats and queries and takes out the harness queries', () => {
    expect(actionTotal(100, { heartbeats: 40, queries: 5 }, 2)).toEqual({
      fromHistory: 100,
      heartbeats: 40,
      queries: 3,
      total: 143,
    });
  });
});

describe('realPaceFleet', () => {
  it('picks clusters one minor behind the target with small node groups and no blocking budget', () => {
    const fleet = realPaceFleet(4);
    expect(fleet.clusters).toHaveLength(4);
    for (const c of fleet.clusters) {
      expect(c.version).toBe('1.31');
      expect(c.nodegroups.length).toBeLessThanOrEqual(2);
      for (const ng of c.nodegroups) expect(ng.nodes).toBeLessThanOrEqual(4);
      expect(c.pdbs?.every((p) => p.allowedDisruptions > 0) ?? true).toBe(true);
    }
  });
});
