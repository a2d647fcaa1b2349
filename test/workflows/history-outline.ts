/**
 * Evidence for a nondeterminism error met outside the replay tests. A query on a closed (or
 * evicted) campaign replays its whole history; when that replay fails (TMPRL1100) only under the
 * load of a full CI run, the history is the one thing that explains it. `explainNondeterminism`
 * saves it (proto JSON, replayable by test/workflows/replay.workflow.test.ts once copied into the
 * fixtures) and rethrows with an outline: one line per workflow task, naming the commands it
 * recorded and the events that woke it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { historyToJson } from './history-json';

interface OutlineEvent {
  eventId?: unknown;
  eventType?: unknown;
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null } | undefined> | null;
  } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  workflowExecutionSignaledEventAttributes?: { signalName?: string | null } | null;
  workflowExecutionUpdateAcceptedEventAttributes?: {
    acceptedRequest?: { input?: { name?: string | null } | null } | null;
  } | null;
  startChildWorkflowExecutionInitiatedEventAttributes?: { workflowId?: string | null } | null;
  timerStartedEventAttributes?: { timerId?: string | null } | null;
}

/** The event type without its prefix, in the words of `temporal workflow show`. */
function typeName(e: OutlineEvent): string {
  const raw = e.eventType;
  // A fetched history holds the enum's number; its proto JSON, the name.
  const name = typeof raw === 'number' ? (temporal.api.enums.v1.EventType[raw] ?? String(raw)) : String(raw ?? '?');
  return name.replace(/^EVENT_TYPE_/, '');
}

/** A marker's patch id or local activity type, read from its first details payload. */
function markerLabel(e: OutlineEvent): string {
  const attrs = e.markerRecordedEventAttributes;
  const details = attrs?.details ?? {};
  for (const key of ['patch-data', 'data']) {
    const data = details[key]?.payloads?.[0]?.data;
    if (!data) continue;
    try {
      const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { id?: string; activity_type?: string };
      if (parsed.id) return `patch ${parsed.id}`;
      if (parsed.activity_type) return `local ${parsed.activity_type}`;
    } catch {
      // Not JSON: named by the marker alone.
    }
  }
  return `marker ${attrs?.markerName ?? '?'}`;
}

function label(e: OutlineEvent): string {
  const type = typeName(e);
  if (type === 'MARKER_RECORDED') return markerLabel(e);
  if (type === 'ACTIVITY_TASK_SCHEDULED')
    return `activity ${e.activityTaskScheduledEventAttributes?.activityType?.name}`;
  if (type === 'WORKFLOW_EXECUTION_SIGNALED') return `signal ${e.workflowExecutionSignaledEventAttributes?.signalName}`;
  if (type === 'START_CHILD_WORKFLOW_EXECUTION_INITIATED')
    return `start ${e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId}`;
  if (type === 'TIMER_STARTED') return `timer ${e.timerStartedEventAttributes?.timerId}`;
  return type.toLowerCase();
}

/**
 * One line per workflow task: `#id completed: what it recorded | then: what happened before the
 * next task started`. Scheduled/started events of workflow tasks are left out.
 */
export function outlineHistory(events: readonly OutlineEvent[]): string[] {
  const lines: string[] = [];
  let current: string[] = [];
  let head = 'start';
  const quiet = new Set(['WORKFLOW_TASK_SCHEDULED', 'WORKFLOW_TASK_STARTED']);
  for (const e of events) {
    const type = typeName(e);
    if (type === 'WORKFLOW_TASK_COMPLETED' || type === 'WORKFLOW_TASK_FAILED' || type === 'WORKFLOW_TASK_TIMED_OUT') {
      lines.push(`${head}: ${current.join(', ')}`);
      head = `#${String(e.eventId)} ${type.replace('WORKFLOW_TASK_', 'task ').toLowerCase()}`;
      current = [];
    } else if (!quiet.has(type)) {
      current.push(label(e));
    }
  }
  lines.push(`${head}: ${current.join(', ')}`);
  return lines;
}

/** True for the SDK's nondeterminism failures (a replay that met other commands than the history holds). */
export function isNondeterminism(err: unknown): boolean {
  return err instanceof Error && /TMPRL1100|[Nn]ondeterminism/.test(err.message);
}

/**
 * Saves the history of the run that failed to replay and returns an Error naming the file, with
 * the outline of its workflow tasks and the original message.
 */
export async function explainNondeterminism(
  err: Error,
  workflowId: string,
  fetchHistory: () => Promise<unknown>,
): Promise<Error> {
  let where = 'the history could not be fetched';
  let outline: string[] = [];
  try {
    const history = (await fetchHistory()) as { events?: OutlineEvent[] | null };
    const dir = path.join(os.tmpdir(), 'fleetwave-nondeterminism');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    await writeFile(file, historyToJson(history));
    where = `history saved to ${file}`;
    outline = outlineHistory(history.events ?? []);
  } catch (fetchErr) {
    where = `the history could not be fetched: ${String(fetchErr)}`;
  }
  const explained = new Error(
    [`${err.message}`, `replaying ${workflowId} (${where}); its workflow tasks:`, ...outline].join('\n'),
  );
  explained.name = err.name;
  return explained;
}
