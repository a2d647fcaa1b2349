/**
 * Workflow histories of a campaign and what they cost: events per run, and Temporal Cloud
 * actions counted with the billing rules of /work/shared/reference/temporal-notes.md:
 *
 * | history event                                   | actions |
 * |-------------------------------------------------|---------|
 * | WorkflowExecutionStarted (client start only)    | 1       |
 * | WorkflowExecutionContinuedAsNew (a new run)     | 1       |
 * | StartChildWorkflowExecutionInitiated            | 2       |
 * | ActivityTaskScheduled                           | attempts (ActivityTaskStarted.attempt; 1 if never started) |
 * | MarkerRecorded (local activity)                 | 1       |
 * | TimerStarted                                    | 1       |
 * | WorkflowExecutionSignaled                       | 1       |
 * | WorkflowExecutionUpdateAccepted                 | 1       |
 * | heartbeats (not in history)                     | estimated, see {@link estimateHeartbeats} |
 *
 * A child's own WorkflowExecutionStarted is part of its parent's "child start 2". Signals are
 * counted where they are received, once. Search-attribute upserts and workflow tasks are not
 * billed by these rules and are not counted. Queries do not appear in history: callers add the
 * queries they sent, and the composite steps' own `stopRequested` queries are read from their
 * inputs ({@link stopQueries}).
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Activities that heartbeat while they run (EKS waits, health gates and checks). */
export const HEARTBEATING_ACTIVITIES: ReadonlySet<string> = new Set([
  'awaitUpdate',
  'updateAddons',
  'upgradeControlPlane',
  'updateNodegroups',
  'checkClusterHealth',
  'evaluateHealthGate',
  'evaluateHealthGates',
  'awaitChildrenEnded',
]);
/** SDK defaults (WorkerOptions): throttle = min(0.8 × heartbeatTimeout, 60 s), or 30 s without a timeout. */
const MAX_HEARTBEAT_THROTTLE_MS = 60_000;
const DEFAULT_HEARTBEAT_THROTTLE_MS = 30_000;

/** Actions of one or more runs, by kind. */
export interface ActionCounts {
  workflowStarts: number;
  childStarts: number;
  activities: number;
  localActivities: number;
  timers: number;
  signals: number;
  updates: number;
  queries: number;
  /** Estimated, see {@link estimateHeartbeats}. */
  heartbeats: number;
  total: number;
}

/** One fetched run. */
export interface RunHistory {
  workflowId: string;
  runId: string;
  workflowType: string;
  events: HistoryEvent[];
  startMs: number;
  /** Close time (last event) when closed. */
  closeMs?: number;
  /** `campaign/<name>` that started it, for children. */
  parentWorkflowId?: string;
  /** Run ID of the next run after continue-as-new. */
  continuedAsRunId?: string;
  /** Result status: the last event's type, e.g. "WorkflowExecutionCompleted". */
  closeEvent?: string;
}

/** Every run of a campaign and the children they started. */
export interface CampaignHistories {
  campaignRuns: RunHistory[];
  /** Cluster-upgrade runs, in start order. */
  clusterRuns: RunHistory[];
  /** When each child started (ChildWorkflowExecutionStarted in a campaign run), by child run ID. */
  childStartedMs: Map<string, number>;
}

export function eventMs(e: HistoryEvent): number {
  return tsToMs(e.eventTime);
}

/** The name of the event's type, from the attributes field it carries ("ActivityTaskStarted"). */
export function eventKind(e: HistoryEvent): string {
  for (const key of Object.keys(e)) {
    if (key.endsWith('EventAttributes') && (e as Record<string, unknown>)[key] != null) {
      const name = key.slice(0, -'EventAttributes'.length);
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return 'Unknown';
}

/**
 * The campaign's events as text, one line each: seconds since `t0Ms`, event ID, kind, and what
 * tells the line apart (an activity's type and ID, the event an activity event belongs to, a
 * timer's length, an Update's or Signal's name, a child's workflow ID). What `FLEETWAVE_BENCH_TIMELINE`
 * writes: where a wave's gap goes (its soak, watches, approvals and re-check) is read off it.
 */
export function campaignTimelineText(runs: readonly RunHistory[], t0Ms: number): string {
  const lines: string[] = [];
  for (const run of runs) {
    for (const e of run.events) {
      const parts = [((eventMs(e) - t0Ms) / 1000).toFixed(3), String(e.eventId), eventKind(e)];
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) parts.push(`${scheduled.activityType?.name ?? '?'} id=${scheduled.activityId ?? '?'}`);
      const of =
        e.activityTaskStartedEventAttributes ??
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes;
      if (of?.scheduledEventId != null) parts.push(`of=${String(of.scheduledEventId)}`);
      const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
      if (timeout) parts.push(`timer=${(tsToMs(timeout) / 1000).toFixed(3)}s`);
      const name =
        e.workflowExecutionSignaledEventAttributes?.signalName ??
        e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
      if (name) parts.push(name);
      const child =
        e.childWorkflowExecutionStartedEventAttributes?.workflowExecution ??
        e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution;
      if (child?.workflowId) parts.push(child.workflowId);
      lines.push(parts.join(' '));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Fetches one run's whole history. */
export async function fetchRun(client: Client, workflowId: string, runId: string): Promise<RunHistory> {
  const events = await fetchEvents(client, workflowId, runId);
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  const last = events.at(-1);
  const lastKind = last ? eventKind(last) : undefined;
  const closed =
    lastKind !== undefined &&
    /^WorkflowExecution(Completed|Failed|TimedOut|Canceled|Terminated|ContinuedAsNew)$/.test(lastKind);
  return {
    workflowId,
    runId,
    workflowType: started?.workflowType?.name ?? 'unknown',
    events,
    startMs: first ? eventMs(first) : NaN,
    ...(closed && last ? { closeMs: eventMs(last), closeEvent: lastKind } : {}),
    ...(started?.parentWorkflowExecution?.workflowId
      ? { parentWorkflowId: started.parentWorkflowExecution.workflowId }
      : {}),
    ...(last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId
      ? { continuedAsRunId: last.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId }
      : {}),
  };
}

/** gRPC RESOURCE_EXHAUSTED: a page bigger than the server's 4 MiB message limit. */
function isTooLarge(err: unknown): boolean {
  return /RESOURCE_EXHAUSTED|larger than max/i.test(err instanceof Error ? err.message : String(err));
}

/**
 * Every event of a run, page by page. A page is normally up to 1,000 events; when one is bigger
 * than the server's 4 MiB gRPC message limit (a campaign run starts with the whole fleet in its
 * input: over 2 MB at 5,000 clusters), that page is fetched again with half as many events.
 */
export async function fetchEvents(client: Client, workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  let pageSize = 1_000;
  for (;;) {
    let page: temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse;
    try {
      page = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId, runId },
        maximumPageSize: pageSize,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
    } catch (err) {
      if (!isTooLarge(err) || pageSize <= 1) throw err;
      pageSize = Math.max(1, Math.floor(pageSize / 2));
      continue;
    }
    events.push(...(page.history?.events ?? []));
    if (!page.nextPageToken?.length) break;
    nextPageToken = page.nextPageToken;
  }
  return events;
}

/** Maps with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

/** Fetches a run and every later run of its continue-as-new chain. */
export async function fetchChain(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const run = await fetchRun(client, workflowId, runId);
    runs.push(run);
    runId = run.continuedAsRunId;
  }
  return runs;
}

/** The campaign's runs (from its first run ID) and every child any of them started. */
export async function fetchCampaignHistories(
  client: Client,
  campaignWorkflowId: string,
  firstRunId: string,
  opts: { concurrency?: number } = {},
): Promise<CampaignHistories> {
  const campaignRuns = await fetchChain(client, campaignWorkflowId, firstRunId);
  const children: { workflowId: string; runId: string }[] = [];
  const childStartedMs = new Map<string, number>();
  for (const run of campaignRuns) {
    for (const e of run.events) {
      const a = e.childWorkflowExecutionStartedEventAttributes;
      const execution = a?.workflowExecution;
      if (!execution?.workflowId || !execution.runId) continue;
      children.push({ workflowId: execution.workflowId, runId: execution.runId });
      childStartedMs.set(execution.runId, eventMs(e));
    }
  }
  const clusterRuns = await mapLimit(children, opts.concurrency ?? 8, (c) => fetchRun(client, c.workflowId, c.runId));
  return { campaignRuns, clusterRuns, childStartedMs };
}

export function emptyActions(): ActionCounts {
  return {
    workflowStarts: 0,
    childStarts: 0,
    activities: 0,
    localActivities: 0,
    timers: 0,
    signals: 0,
    updates: 0,
    queries: 0,
    heartbeats: 0,
    total: 0,
  };
}

export function addActions(a: ActionCounts, b: ActionCounts): ActionCounts {
  const out = emptyActions();
  for (const key of Object.keys(out) as (keyof ActionCounts)[]) out[key] = a[key] + b[key];
  return out;
}

function totalOf(a: ActionCounts): number {
  return (
    a.workflowStarts +
    a.childStarts +
    a.activities +
    a.localActivities +
    a.timers +
    a.signals +
    a.updates +
    a.queries +
    a.heartbeats
  );
}

/**
 * Heartbeats that reach the server, estimated (they leave no history event). The SDK sends an
 * activity's first heartbeat at once and then at most one per throttle interval
 * (min(0.8 × heartbeatTimeout, 60 s), or 30 s without a heartbeat timeout), so an attempt of
 * duration d that heartbeats sends about 1 + floor(d / throttle). Only the last attempt's duration
 * is in the history (ActivityTaskStarted → its close event); earlier attempts count 1 each.
 * `speedup` scales durations (the time scale, for a "what would it cost at real EKS speed" figure).
 */
export function estimateHeartbeats(
  scheduled: temporal.api.history.v1.IActivityTaskScheduledEventAttributes,
  attempt: number,
  durationMs: number,
  speedup = 1,
): number {
  if (!HEARTBEATING_ACTIVITIES.has(scheduled.activityType?.name ?? '')) return 0;
  const timeoutMs = scheduled.heartbeatTimeout ? tsToMs(scheduled.heartbeatTimeout) : 0;
  const throttle = timeoutMs > 0 ? Math.min(0.8 * timeoutMs, MAX_HEARTBEAT_THROTTLE_MS) : DEFAULT_HEARTBEAT_THROTTLE_MS;
  return Math.max(0, attempt - 1) + 1 + Math.floor((durationMs * speedup) / throttle);
}

/**
 * The `stopRequested` queries a composite step sends its workflow (activities/steps.ts): one before
 * each control-plane hop after the first, and one before each node group that does not start in
 * the first round of lanes. Read from the activity's input (an upper bound: a step that fails or
 * stops early asks less; a retried attempt may ask again).
 */
export function stopQueries(scheduled: temporal.api.history.v1.IActivityTaskScheduledEventAttributes): number {
  const type = scheduled.activityType?.name;
  if (type !== 'upgradeControlPlane' && type !== 'updateNodegroups') return 0;
  const payload = scheduled.input?.payloads?.[0];
  const encoding = payload?.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString('utf8') : '';
  if (!payload?.data || encoding !== 'json/plain') return 0;
  const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as {
    hops?: unknown[];
    nodegroups?: unknown[];
    maxParallel?: number;
  };
  if (type === 'upgradeControlPlane') return Math.max(0, (input.hops?.length ?? 0) - 1);
  const n = input.nodegroups?.length ?? 0;
  return Math.max(0, n - Math.max(1, Math.min(input.maxParallel ?? 1, n)));
}

/**
 * Actions of one run (see the module comment). `clientStart`: the run was started by a client
 * (the first campaign run), not as a child or by continue-as-new of a run counted elsewhere.
 */
export function countActions(run: RunHistory, opts: { clientStart?: boolean } = {}): ActionCounts {
  const a = emptyActions();
  if (opts.clientStart) a.workflowStarts++;
  const scheduled = new Map<string, temporal.api.history.v1.IActivityTaskScheduledEventAttributes>();
  const started = new Map<string, { attempt: number; ms: number }>();
  for (const e of run.events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, e.activityTaskScheduledEventAttributes);
    else if (e.activityTaskStartedEventAttributes) {
      const s = e.activityTaskStartedEventAttributes;
      started.set(String(s.scheduledEventId), { attempt: s.attempt ?? 1, ms: eventMs(e) });
    } else if (e.workflowExecutionContinuedAsNewEventAttributes) a.workflowStarts++;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) a.childStarts += 2;
    else if (e.markerRecordedEventAttributes) a.localActivities++;
    else if (e.timerStartedEventAttributes) a.timers++;
    else if (e.workflowExecutionSignaledEventAttributes) a.signals++;
    else if (e.workflowExecutionUpdateAcceptedEventAttributes) a.updates++;
  }
  const closedAt = new Map<string, number>();
  for (const e of run.events) {
    const close =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (close?.scheduledEventId != null) closedAt.set(String(close.scheduledEventId), eventMs(e));
  }
  for (const [id, attrs] of scheduled) {
    const s = started.get(id);
    const attempts = s ? Math.max(1, s.attempt) : 1;
    a.activities += attempts;
    a.queries += stopQueries(attrs);
    const end = closedAt.get(id);
    if (s && end !== undefined) a.heartbeats += estimateHeartbeats(attrs, attempts, end - s.ms);
    else if (s) a.heartbeats += estimateHeartbeats(attrs, attempts, 0);
  }
  a.total = totalOf(a);
  return a;
}

/** Adds queries a client sent (they leave no history event). */
export function withQueries(a: ActionCounts, queries: number): ActionCounts {
  const out = { ...a, queries: a.queries + queries };
  out.total = totalOf(out);
  return out;
}

/** Event counts by kind, for the "where do the events go" breakdown. */
export function eventBreakdown(runs: readonly RunHistory[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs) for (const e of run.events) counts[eventKind(e)] = (counts[eventKind(e)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort((x, y) => y[1] - x[1]));
}

/** Count, mean, p50, p95, max of a list of numbers (NaN when empty). */
export function summarize(values: readonly number[]): {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
} {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return {
    n: sorted.length,
    mean: sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : NaN,
    min: sorted[0] ?? NaN,
    p50: q(0.5),
    p95: q(0.95),
    max: sorted.at(-1) ?? NaN,
  };
}
