/**
 * Recording workflow histories as fixtures (FLEETWAVE_RECORD_HISTORIES=1) and loading them for
 * replay. Where they live and what their manifests hold: test/helpers/history-manifest.ts.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from '../helpers/bundle';
import {
  formatJson,
  HISTORIES_DIR,
  keptReleases,
  readManifest,
  RELEASES_DIR,
  writeManifest,
  type HistoryManifest,
} from '../helpers/history-manifest';
import { historyFromJson, historyToJson } from './history-json';

/** Whether this run records histories (FLEETWAVE_RECORD_HISTORIES=1). */
export function isRecordingHistories(): boolean {
  return process.env.FLEETWAVE_RECORD_HISTORIES === '1';
}

interface RecordedEvent {
  workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string | null } | null } | null;
}

/**
 * Saves `source`'s history as `test/fixtures/histories/<name>.json`, with its entry in that
 * directory's manifest, when FLEETWAVE_RECORD_HISTORIES=1; a no-op otherwise (nothing is even
 * fetched). The entry's `covers` is the running test's name.
 */
export async function recordHistoryFixture(source: { fetchHistory(): Promise<unknown> }, name: string): Promise<void> {
  if (!isRecordingHistories()) return;
  const history = (await source.fetchHistory()) as { events?: RecordedEvent[] | null };
  const events = history.events ?? [];
  const workflowType = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  if (!workflowType) throw new Error(`history ${name}: the first event is not WorkflowExecutionStarted`);
  await mkdir(HISTORIES_DIR, { recursive: true });
  const file = `${name}.json`;
  const target = path.join(HISTORIES_DIR, file);
  await writeFile(target, await formatJson(historyToJson(history), target));
  const { currentTestName, testPath } = expect.getState();
  const entry = {
    file,
    workflowType,
    events: events.length,
    covers: currentTestName ?? name,
    recordedBy: path
      .relative(REPO_ROOT, testPath ?? '')
      .split(path.sep)
      .join('/'),
  };
  await updateManifest((manifest) => ({
    ...manifest,
    histories: [...manifest.histories.filter((h) => h.file !== file), entry].sort((a, b) =>
      a.file.localeCompare(b.file),
    ),
  }));
}

/** Read-modify-write of the current set's manifest under a lock directory: test files record in parallel forks. */
async function updateManifest(change: (manifest: HistoryManifest) => HistoryManifest): Promise<void> {
  const lock = path.join(HISTORIES_DIR, '.manifest.lock');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    await writeManifest(HISTORIES_DIR, change(await readManifest(HISTORIES_DIR)));
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** A history directory to replay: the current set or one kept release. */
export interface HistorySet {
  /** 'current' or the release version. */
  label: string;
  dir: string;
}

/** The current set, then every kept release, oldest first. */
export async function historySets(): Promise<HistorySet[]> {
  return [
    { label: 'current', dir: HISTORIES_DIR },
    ...(await keptReleases()).map((version) => ({ label: version, dir: path.join(RELEASES_DIR, version) })),
  ];
}

/** A fixture file back to a History the replay worker accepts. */
export async function loadHistory(file: string): Promise<ReturnType<typeof historyFromJson>> {
  return historyFromJson(JSON.parse(await readFile(file, 'utf8')));
}
