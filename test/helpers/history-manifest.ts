/**
 * Where recorded workflow histories are kept, and the manifest that describes each directory of
 * them. Plain Node (no Vitest, no Temporal), so scripts/release-fixtures.ts can use it too.
 *
 * - `test/fixtures/histories/` is the set recorded by the current code; tests re-record it after a
 *   deliberate change with `FLEETWAVE_RECORD_HISTORIES=1 npx vitest run <test files>`.
 * - `test/fixtures/releases/<version>/` is the set frozen at each release (`npm run release:fixtures
 *   -- <version>`), kept while runs started by that release may still be open (docs/versioning.md).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The histories recorded by the current code. */
export const HISTORIES_DIR = path.join(REPO_ROOT, 'test/fixtures/histories');

/** The histories of each kept release, one directory per version. */
export const RELEASES_DIR = path.join(REPO_ROOT, 'test/fixtures/releases');

/** The manifest's file name in every history directory. */
export const MANIFEST_FILE = 'manifest.json';

/** One recorded history in a manifest. */
export interface HistoryManifestEntry {
  /** File name inside the manifest's directory. */
  file: string;
  /** Workflow type of the recorded execution (from its first event). */
  workflowType: string;
  /** Number of events in the history. */
  events: number;
  /** The test that recorded it (`describe > it`): the path through the workflow it covers. */
  covers: string;
  /** The test file that records it, relative to the repository root. */
  recordedBy: string;
}

/** The manifest of one history directory. */
export interface HistoryManifest {
  /** The release these histories were recorded by; absent for the current set. */
  release?: string;
  /** The git commit the release was frozen from. */
  commit?: string;
  histories: HistoryManifestEntry[];
}

/** Reads `dir`'s manifest; an empty one when the directory has none yet. */
export async function readManifest(dir: string): Promise<HistoryManifest> {
  try {
    return JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as HistoryManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { histories: [] };
    throw error;
  }
}

/** Writes `dir`'s manifest, Prettier-formatted (so `prettier --check .` accepts it as written). */
export async function writeManifest(dir: string, manifest: HistoryManifest): Promise<void> {
  const target = path.join(dir, MANIFEST_FILE);
  await writeFile(target, await formatJson(JSON.stringify(manifest, null, 2), target));
}

/** `text` (JSON) formatted as Prettier would format the file `filepath`. */
export async function formatJson(text: string, filepath: string): Promise<string> {
  return format(text, { ...(await resolveConfig(filepath)), filepath });
}

/** The history JSON files of a directory (everything but the manifest), sorted. */
export async function historyFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== MANIFEST_FILE).sort();
}

/** The kept releases, oldest first. */
export async function keptReleases(): Promise<string[]> {
  const entries = await readdir(RELEASES_DIR, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
