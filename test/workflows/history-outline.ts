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
import type { temporal } from '@temporalio/proto';
import { eventKind } from '../../bench/lib/histories';
import { historyToJson } from './history-json';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The event's kind as `temporal workflow show` spells its type, without the prefix: `workflow_task_completed`. */
function typeName(e: HistoryEvent): string {
  return eventKind(e)
    .replace(/(?<=[a-z])(?=[A-Z])/g, '_')
    .toLowerCase();
}

/** A marker's patch id or local activity type, read from its first details payload. */
function markerLabel(e: HistoryEvent): string {
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

function label(e: HistoryEvent): string {
  const type = typeName(e);
  if (type === 'marker_recorded') return markerLabel(e);
  if (type === 'activity_task_scheduled')
    return `activity ${e.activityTaskScheduledEventAttributes?.activityType?.name}`;
  if (type === 'workflow_execution_signaled') return `signal ${e.workflowExecutionSignaledEventAttributes?.signalName}`;
  if (type === 'start_child_workflow_execution_initiated')
    return `start ${e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId}`;
  if (type === 'timer_started') return `timer ${e.timerStartedEventAttributes?.timerId}`;
  return type;
}

/**
 * One line per workflow task: `#<id of its completed event> task completed: ` and the events from
 * there to the next task's end (the commands it recorded, then what woke the next one); the first
 * line, `start: `, holds the events before the first task ended. The tasks' scheduled and started
 * events are left out.
 */
export function outlineHistory(events: readonly HistoryEvent[]): string[] {
  const lines: string[] = [];
  let current: string[] = [];
  let head = 'start';
  const quiet = new Set(['workflow_task_scheduled', 'workflow_task_started']);
  const ends = new Set(['workflow_task_completed', 'workflow_task_failed', 'workflow_task_timed_out']);
  for (const e of events) {
    const type = typeName(e);
    if (ends.has(type)) {
      lines.push(`${head}: ${current.join(', ')}`);
      head = `#${String(e.eventId)} ${type.replace('workflow_task_', 'task ')}`;
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
  let where: string;
  let outline: string[] = [];
  try {
    const history = (await fetchHistory()) as { events?: HistoryEvent[] | null };
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
