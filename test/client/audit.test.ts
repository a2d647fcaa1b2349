/** The merge of `fleetwave audit` (client/audit.ts): kept entries once, requests the bound dropped from the history. */
import { describe, expect, it } from 'vitest';
import { mergeAudit, type RunAudit } from '../../client/audit';
import { formatAuditTrail } from '../../client/format';
import type { AuditEntry } from '../../workflows/definitions';

const t = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('mergeAudit', () => {
  const paused: AuditEntry = { at: t(11), kind: 'paused', by: 'alice', detail: 'paused by alice' };
  const started: AuditEntry = { at: t(1), kind: 'started', by: 'ci' };

  it('shows an entry kept in several snapshots once, in the run it was taken in, and skips the campaign’s own', () => {
    const runs: RunAudit[] = [
      { runId: 'r1', startedAt: t(0), snapshots: [[started]], requests: [] },
      {
        runId: 'r2',
        startedAt: t(10),
        snapshots: [[started], [started, paused]],
        requests: [{ at: t(11), name: 'pause', by: 'alice' }],
      },
    ];
    expect(mergeAudit(runs)).toEqual([{ ...paused, run: 2, source: 'state' }]);
  });

  it('adds what the histories received when the bound dropped its entry, with the Update’s outcome', () => {
    const runs: RunAudit[] = [
      {
        runId: 'r1',
        startedAt: t(0),
        snapshots: [],
        requests: [
          { at: t(2), name: 'approve', by: 'mallory', wave: 'first' },
          { at: t(3), name: 'skipCluster', by: 'bob', cluster: 'c1', outcome: 'refused', refusal: 'not pending' },
          { at: t(4), name: 'approveWave', by: 'carol', wave: 'first', outcome: 'accepted' },
        ],
      },
      { runId: 'r2', startedAt: t(10), snapshots: [[paused]], requests: [{ at: t(11), name: 'pause', by: 'alice' }] },
    ];
    const records = mergeAudit(runs);
    expect(records.map((r) => [r.run, r.kind, r.by, r.source, r.outcome ?? null])).toEqual([
      [1, 'approval', 'mallory', 'history', 'received'],
      [1, 'action-refused', 'bob', 'history', 'refused'],
      [1, 'approval', 'carol', 'history', 'accepted'],
      [2, 'paused', 'alice', 'state', null],
    ]);
    expect(records[1]?.detail).toBe('skipCluster refused: not pending');
    const text = formatAuditTrail({ name: 'x', runs: 2, records, warnings: [] });
    expect(text).toContain('[history] approve received (verdict not kept)');
  });

  it('does not let an entry of another actor, or one older than the request, account for it', () => {
    const runs: RunAudit[] = [
      {
        runId: 'r1',
        startedAt: t(0),
        snapshots: [[paused]],
        requests: [
          { at: t(11), name: 'pause', by: 'bob' },
          { at: t(20), name: 'pause', by: 'alice' },
        ],
      },
    ];
    expect(mergeAudit(runs).map((r) => [r.by, r.source])).toEqual([
      ['alice', 'state'],
      ['bob', 'history'],
      ['alice', 'history'],
    ]);
  });
});
