import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/bundle';
import { historyFromJson } from '../workflows/history-json';
import { explainNondeterminism, isNondeterminism, outlineHistory } from '../workflows/history-outline';

const fixture = async (name: string) =>
  historyFromJson(JSON.parse(await readFile(path.join(REPO_ROOT, 'test/fixtures/histories', name), 'utf8')));

describe('history outline (evidence for a nondeterminism error)', () => {
  it('names, per workflow task, the patches, local activities and commands it recorded', async () => {
    const history = await fixture('campaign-budget-pause.json');
    const lines = outlineHistory(history.events as never);
    expect(lines[0]).toBe('start: workflow_execution_started');
    // The first task records the signed-actions patch, then both local activities' markers.
    expect(lines[1]).toMatch(
      /^#4 task completed: patch signed-actions, .*local describeApprovalPolicy, local resolveTargetVersions/,
    );
    expect(lines.some((l) => / signal resume/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/workflow_execution_completed$/);
  });

  it('saves the history and rethrows with the outline, for nondeterminism errors only', async () => {
    const history = await fixture('campaign-budget-pause.json');
    const err = new Error('[TMPRL1100] Nondeterminism error: Non-deprecated patch marker encountered for change x');
    expect(isNondeterminism(err)).toBe(true);
    expect(isNondeterminism(new Error('Workflow not found'))).toBe(false);
    const explained = await explainNondeterminism(err, 'campaign/bx-1', () => Promise.resolve(history));
    expect(explained.message).toMatch(/^\[TMPRL1100\]/);
    const saved = /history saved to (\S+)\)/.exec(explained.message)?.[1];
    expect(saved).toBeDefined();
    const again = historyFromJson(JSON.parse(await readFile(saved as string, 'utf8')));
    expect(again.events?.length).toBe(history.events?.length);
    expect(explained.message).toContain('patch signed-actions');
    const unfetched = await explainNondeterminism(err, 'campaign/bx-2', () => Promise.reject(new Error('gone')));
    expect(unfetched.message).toMatch(/could not be fetched: Error: gone/);
  });
});
