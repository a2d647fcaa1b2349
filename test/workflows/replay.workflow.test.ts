/**
 * Determinism guard: replays the recorded campaign histories in test/fixtures/histories/
 * against the current workflow code. A failure means a change to workflows/campaign.ts (or
 * what it calls) would break campaigns already running: guard it with `patched()`, or, for a
 * deliberate incompatible change before any release, re-record the histories with
 * `FLEETWAVE_RECORD_HISTORIES=1 npx vitest run test/workflows/campaign` and review the diff.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { getWorkflowBundle } from '../helpers/bundle';
import { HISTORIES_DIR, historyFromJson } from './campaign-harness';

describe('campaign workflow: replay of recorded histories', () => {
  it('replays every recorded history without nondeterminism', { timeout: 120_000 }, async () => {
    const files = (await readdir(HISTORIES_DIR)).filter((f) => f.startsWith('campaign-') && f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThanOrEqual(8);
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: `replay/${file.replace(/\.json$/, '')}`,
        history: historyFromJson(JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8'))),
      })),
    );
    const started = Date.now();
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await getWorkflowBundle(), replayName: 'campaign-replay' },
      histories,
    )) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    console.log(`replayed ${replayed} campaign histories in ${Date.now() - started} ms: ${files.join(', ')}`);
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
