/**
 * Freezes the recorded workflow histories of a release: `npm run release:fixtures -- <version>`.
 *
 * 1. Re-records the current set (test/fixtures/histories/): deletes it, then runs every test file
 *    its manifest names with FLEETWAVE_RECORD_HISTORIES=1, so the set is exactly what this code
 *    records. Needs the Temporal dev server the tests start (or FLEETWAVE_TEST_TEMPORAL_ADDRESS).
 *    `--no-record` skips this and freezes the set as it is committed.
 * 2. Copies the histories and the manifest into test/fixtures/releases/<version>/, the manifest
 *    stamped with the version and the git commit.
 *
 * The version must be package.json's (bump it first); an existing release directory is refused.
 * Review and commit the result; docs/versioning.md has the whole release procedure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  HISTORIES_DIR,
  historyFiles,
  readManifest,
  RELEASES_DIR,
  writeManifest,
} from '../test/helpers/history-manifest';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const record = !args.includes('--no-record');
  const version = args.find((a) => !a.startsWith('--'));
  if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
    fail('usage: npm run release:fixtures -- <version> [--no-record]   (version as in package.json, e.g. 0.2.0)');
  }
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== version) fail(`package.json has version ${pkg.version}, not ${version}: bump it first`);
  const target = path.join(RELEASES_DIR, version);
  if (await exists(target)) fail(`${path.relative(REPO_ROOT, target)} exists already: a release is frozen once`);

  if (record) await rerecord();

  const manifest = await readManifest(HISTORIES_DIR);
  const files = await historyFiles(HISTORIES_DIR);
  const listed = manifest.histories.map((h) => h.file).sort();
  if (JSON.stringify(listed) !== JSON.stringify(files)) {
    fail(`the manifest of ${path.relative(REPO_ROOT, HISTORIES_DIR)} does not list exactly its history files`);
  }
  await mkdir(target, { recursive: true });
  for (const file of files) await copyFile(path.join(HISTORIES_DIR, file), path.join(target, file));
  await writeManifest(target, { release: version, commit: gitCommit(), histories: manifest.histories });
  console.log(`froze ${files.length} histories into ${path.relative(REPO_ROOT, target)}`);
}

/** Deletes the current set and lets the tests that record it write it again. */
async function rerecord(): Promise<void> {
  const manifest = await readManifest(HISTORIES_DIR);
  const testFiles = [...new Set(manifest.histories.map((h) => h.recordedBy))].sort();
  if (testFiles.length === 0)
    fail(`no recording test files in ${path.relative(REPO_ROOT, HISTORIES_DIR)}/manifest.json`);
  await rm(HISTORIES_DIR, { recursive: true, force: true });
  await mkdir(HISTORIES_DIR, { recursive: true });
  console.log(`re-recording histories: vitest run ${testFiles.join(' ')}`);
  const run = spawnSync('npx', ['--no-install', 'vitest', 'run', ...testFiles], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, FLEETWAVE_RECORD_HISTORIES: '1' },
  });
  if (run.status !== 0) fail('recording failed (git checkout test/fixtures/histories restores the previous set)');
}

function gitCommit(): string {
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function fail(message: string): never {
  console.error(`release:fixtures: ${message}`);
  process.exit(1);
}

await main();
