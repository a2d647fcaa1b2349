/**
 * The campaign's timeline from its history: when it learned that each child closed, when it
 * initiated and saw each child start, and when it began to await approval. Used to explain
 * where a campaign's makespan exceeds its lower bound.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { eventMs, type RunHistory } from './histories';

export interface CampaignTimeline {
  /** Cluster → when the campaign first recorded its end (clusterFinished signal, or child completion). */
  learnedClose: Map<string, number>;
  /** Cluster → when the campaign initiated its child start (the last one, for a retried cluster). */
  initiated: Map<string, number>;
  /** Cluster → when ChildWorkflowExecutionStarted was recorded. */
  started: Map<string, number>;
  /** Times the campaign upserted AwaitingApproval=true. */
  awaitingApprovalAt: number[];
}

function decode(payload: temporal.api.common.v1.IPayload | null | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined;
  }
}

const clusterOf = (workflowId: string | null | undefined) => (workflowId ?? '').replace(/^cluster-upgrade\//, '');

export function campaignTimeline(runs: readonly RunHistory[]): CampaignTimeline {
  const t: CampaignTimeline = {
    learnedClose: new Map(),
    initiated: new Map(),
    started: new Map(),
    awaitingApprovalAt: [],
  };
  const learn = (cluster: string, at: number) => {
    if (cluster && !t.learnedClose.has(cluster)) t.learnedClose.set(cluster, at);
  };
  for (const run of runs) {
    for (const e of run.events) {
      const at = eventMs(e);
      const signaled = e.workflowExecutionSignaledEventAttributes;
      if (signaled?.signalName === 'clusterFinished') {
        const input = decode(signaled.input?.payloads?.[0]) as { cluster?: string } | undefined;
        if (input?.cluster) learn(input.cluster, at);
      }
      const completed =
        e.childWorkflowExecutionCompletedEventAttributes ??
        e.childWorkflowExecutionFailedEventAttributes ??
        e.childWorkflowExecutionTerminatedEventAttributes ??
        e.childWorkflowExecutionTimedOutEventAttributes;
      if (completed) learn(clusterOf(completed.workflowExecution?.workflowId), at);
      const initiated = e.startChildWorkflowExecutionInitiatedEventAttributes;
      if (initiated) {
        const cluster = clusterOf(initiated.workflowId);
        t.initiated.set(cluster, at);
        t.learnedClose.delete(cluster);
      }
      const started = e.childWorkflowExecutionStartedEventAttributes;
      if (started) t.started.set(clusterOf(started.workflowExecution?.workflowId), at);
      const upsert = e.upsertWorkflowSearchAttributesEventAttributes;
      const awaiting = upsert?.searchAttributes?.indexedFields?.AwaitingApproval;
      if (awaiting && decode(awaiting) === true) t.awaitingApprovalAt.push(at);
    }
  }
  return t;
}

/**
 * For each child start initiated after its wave's first `fill` starts: how long after the
 * campaign last learned of a close (in any wave) it came. A window that refills at once shows
 * small values; a rate limit, a cap or a slow campaign shows large ones.
 */
export function refillDelays(
  t: CampaignTimeline,
  waves: readonly { clusters: readonly string[]; fill: number }[],
): number[] {
  const learned = [...t.learnedClose.values()].sort((a, b) => a - b);
  const out: number[] = [];
  for (const wave of waves) {
    const starts = wave.clusters
      .map((c) => t.initiated.get(c))
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    for (const s of starts.slice(wave.fill)) {
      let last: number | undefined;
      for (const l of learned) {
        if (l > s) break;
        last = l;
      }
      if (last !== undefined) out.push(s - last);
    }
  }
  return out;
}
