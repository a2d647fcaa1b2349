/**
 * Campaigns outlive releases: every history recorded by a kept release (test/fixtures/releases/<version>/)
 * and by the current code (test/fixtures/histories/) replays against the current workflow code.
 * A failure means an upgrade of the worker would break runs that release left open: guard the
 * change with `patched()` (docs/versioning.md). Needs no Temporal server (Worker.runReplayHistories),
 * so CI runs it on its own before the full suite: `FLEETWAVE_TEST_TEMPORAL=off npx vitest run
 * test/workflows/release-replay.test.ts`.
 *
 * It also keeps the manifests honest (every history listed, with its workflow type) and scans
 * every kept history for secrets, as test/security/history-scan.test.ts does for live ones.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { getWorkflowBundle } from '../helpers/bundle';
import { describeFindings, scanForSecrets } from '../security/secret-scan';
import { historyFiles, readManifest } from '../helpers/history-manifest';
import { historySets, loadHistory } from './history-fixtures';

const sets = await historySets();

describe('replay of the histories of kept releases', () => {
  it('keeps at least one release besides the current set', () => {
    expect(sets.map((s) => s.label)).toContain('current');
    expect(sets.length).toBeGreaterThanOrEqual(2);
  });

  for (const set of sets) {
    describe(`${set.label} (${path.relative(process.cwd(), set.dir)})`, () => {
      it('lists every history in its manifest, with the workflow type the history starts', async () => {
        const [files, manifest] = await Promise.all([historyFiles(set.dir), readManifest(set.dir)]);
        expect(manifest.histories.map((h) => h.file).sort()).toEqual(files);
        for (const entry of manifest.histories) {
          const history = await loadHistory(path.join(set.dir, entry.file));
          const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
          expect(started?.workflowType?.name, entry.file).toBe(entry.workflowType);
          expect(entry.covers, entry.file).not.toBe('');
        }
        if (set.label !== 'current') expect(manifest.release).toBe(set.label);
      });

      it('holds nothing secret', async () => {
        const findings: string[] = [];
        for (const file of await historyFiles(set.dir)) {
          const text = await readFile(path.join(set.dir, file), 'utf8');
          // Payloads are base64 in proto JSON; the scanner decodes base64 itself.
          const found = scanForSecrets(text);
          if (found.length > 0) findings.push(describeFindings(found, file));
        }
        expect(findings).toEqual([]);
      });

      it(
        'replays every history against the current workflow code without nondeterminism',
        { timeout: 120_000 },
        async () => {
          const files = await historyFiles(set.dir);
          expect(files.length).toBeGreaterThan(0);
          const histories = await Promise.all(
            files.map(async (file) => ({
              workflowId: `replay/${set.label}/${file.replace(/\.json$/, '')}`,
              history: await loadHistory(path.join(set.dir, file)),
            })),
          );
          const started = Date.now();
          const failures: string[] = [];
          let replayed = 0;
          for await (const result of Worker.runReplayHistories(
            { workflowBundle: await getWorkflowBundle(), replayName: `release-replay-${set.label}` },
            histories,
          )) {
            replayed++;
            if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
          }
          console.log(`replayed ${replayed} histories of ${set.label} in ${Date.now() - started} ms`);
          expect(failures).toEqual([]);
          expect(replayed).toBe(files.length);
        },
      );
    });
  }
});
