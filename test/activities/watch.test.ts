/**
 * The watch loop of watchHealthGates (activities/watch.ts) on a fake clock, outside a worker (it
 * sleeps between looks instead of parking), and one parked attempt: what it throws and what it
 * leaves for the next attempt.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { ActivityRuntime } from '../../activities/context';
import type { GateMeasurement } from '../../activities/prometheus';
import { STILL_WAITING_FAILURE } from '../../activities/types';
import { LookLater, stillWaiting } from '../../activities/waiting';
import { createWatchActivity, type WatchProgress } from '../../activities/watch';
import type { HealthGateSpec } from '../../domain/spec';

const gate = { name: 'errors', query: 'x', condition: '< 1', interval: '60s', phases: ['soak'] } as HealthGateSpec;
const cluster = (name: string) => ({ name, region: 'us-east-1', account: '111122223333' });

function harness(
  measure: (cluster: string, n: number) => GateMeasurement['kind'],
  park = false,
  details?: unknown,
  startAt = 1_000_000,
  measureMs = 0,
) {
  let now = startAt;
  const counts = new Map<string, number>();
  const beats: unknown[] = [];
  const rt: ActivityRuntime = {
    heartbeatDetails: details,
    attempt: 1,
    heartbeat: (d) => beats.push(d),
    sleep: async (ms) => {
      now += ms;
    },
    signal: undefined,
    cancelRequested: () => false,
    canPark: park,
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  };
  const { watchHealthGates } = createWatchActivity(
    {
      measureOnce: async (_rt, c) => {
        const n = (counts.get(c.name) ?? 0) + 1;
        counts.set(c.name, n);
        now += measureMs;
        return { kind: measure(c.name, n), value: '0' };
      },
      now: () => now,
      park: (r) => r.canPark,
    },
    () => rt,
  );
  return { watchHealthGates, counts, beats, start: now, clock: () => now };
}

describe('watchHealthGates', () => {
  it('measures every pair every interval for the whole period and passes a green batch at its end', async () => {
    const h = harness(() => 'pass');
    const out = await h.watchHealthGates({
      phase: 'soak',
      items: [
        { cluster: cluster('a'), gate },
        { cluster: cluster('b'), gate },
      ],
      untilMs: h.start + 2 * 3_600_000,
    });
    expect(out.ended).toBe(true);
    expect(out.failures).toEqual([]);
    expect(out.results.map((r) => r.outcome)).toEqual(['Successful', 'Successful']);
    // Two hours at 60 s: a look at the start and one per interval.
    expect(h.counts.get('a')).toBe(121);
  });

  it('returns at the first failure of a cluster that degrades after passing looks', async () => {
    const h = harness((c, n) => (c === 'b' && n > 30 ? 'fail' : 'pass'));
    const out = await h.watchHealthGates({
      phase: 'soak',
      items: [
        { cluster: cluster('a'), gate },
        { cluster: cluster('b'), gate },
      ],
      untilMs: h.start + 2 * 3_600_000,
    });
    expect(out.ended).toBe(false);
    expect(out.failures).toHaveLength(1);
    expect(out.failures[0]).toMatchObject({
      index: 1,
      result: { gate: 'errors', outcome: 'Failed', successes: 30, failures: 1 },
    });
  });

  it('at the end, a pair without enough passes in a row is Inconclusive: no data is never a pass', async () => {
    const h = harness((_c, n) => (n === 3 ? 'inconclusive' : n > 3 ? 'inconclusive' : 'pass'));
    const out = await h.watchHealthGates({
      phase: 'soak',
      items: [{ cluster: cluster('a'), gate: { ...gate, inconclusiveLimit: 100 } }],
      untilMs: h.start + 5 * 60_000,
    });
    expect(out.ended).toBe(true);
    expect(out.results[0]).toMatchObject({ outcome: 'Inconclusive' });
    expect(out.results[0]?.message).toMatch(/by the end of the watch/);
  });

  it('at the end, looks again at a pair short of its passes in a row (a look delayed by a dead worker)', async () => {
    // The attempt resumes after the end with one pass of the two required: it must look, not give up.
    const first = harness(() => 'pass', true);
    const input = {
      phase: 'soak' as const,
      items: [{ cluster: cluster('a'), gate: { ...gate, consecutiveSuccesses: 2 } }],
      untilMs: first.start + 30_000,
    };
    await first.watchHealthGates(input).catch(() => undefined);
    const kept = first.beats.at(-1) as WatchProgress;
    const late = harness(() => 'pass', false, kept, first.start + 5 * 60_000);
    const out = await late.watchHealthGates(input);
    expect(out).toMatchObject({ ended: true, failures: [] });
    expect(out.results[0]).toMatchObject({ outcome: 'Successful', successes: 2 });
    expect(late.counts.get('a')).toBe(1);
  });

  it('returns at its last look when every pair is decided and none is due again before the end', async () => {
    // 90 s at a 60 s interval: looks at 0 and 60 s; nothing a look could change is left after the second.
    const input = (start: number) => ({
      phase: 'soak' as const,
      items: [
        { cluster: cluster('a'), gate },
        { cluster: cluster('b'), gate },
      ],
      untilMs: start + 90_000,
    });
    const h = harness(() => 'pass');
    const out = await h.watchHealthGates(input(h.start));
    expect(out).toMatchObject({ ended: true, failures: [], looks: 2 });
    expect(h.clock() - h.start).toBe(60_000);
    // Parked, the attempt of the second look returns instead of parking until the end.
    const first = harness(() => 'pass', true);
    await expect(first.watchHealthGates(input(first.start))).rejects.toMatchObject({ nextRetryDelay: 60_000 });
    const second = harness(() => 'pass', true, first.beats.at(-1), first.start + 60_000);
    const parked = await second.watchHealthGates(input(first.start));
    expect(parked).toMatchObject({ ended: true, failures: [], looks: 2 });
    expect(parked.results.map((r) => r.outcome)).toEqual(['Successful', 'Successful']);
    // One pair still short of its passes in a row is looked at past the end, at its interval, not at the end.
    const short = harness(() => 'pass', true);
    const needsTwo = {
      ...input(short.start),
      items: [{ cluster: cluster('a'), gate: { ...gate, consecutiveSuccesses: 2 } }],
      untilMs: short.start + 30_000,
    };
    await expect(short.watchHealthGates(needsTwo)).rejects.toMatchObject({ nextRetryDelay: 60_000 });
  });

  it('keeps the pairs of a look due together when its measurements take time (one look per interval)', async () => {
    // Ten pairs measured one at a time, a second each: a look spans 10 s of a 60 s interval.
    const h = harness(() => 'pass', false, undefined, 1_000_000, 1_000);
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    const out = await h.watchHealthGates({
      phase: 'soak',
      items: names.map((n) => ({ cluster: cluster(n), gate })),
      untilMs: h.start + 5 * 60_000,
      concurrency: 1,
    });
    expect(out).toMatchObject({ ended: true, failures: [] });
    // Looks at 0, 60, ..., 300 s, every pair in each; measured from each return, every pair had a look of its own.
    expect(out.looks).toBe(6);
    expect(names.map((n) => h.counts.get(n))).toEqual(names.map(() => 6));
  });

  it('takes one look when its end has passed (the approval re-check)', async () => {
    const h = harness(() => 'fail');
    const out = await h.watchHealthGates({
      phase: 'soak',
      items: [{ cluster: cluster('a'), gate }],
      untilMs: 0,
      requiredSuccesses: 1,
    });
    expect(out).toMatchObject({ ended: false, looks: 1, failures: [{ index: 0, result: { outcome: 'Failed' } }] });
    expect(h.counts.get('a')).toBe(1);
  });

  it('parks between looks inside a worker, and the next attempt continues the tallies', async () => {
    const first = harness(() => 'pass', true);
    const input = {
      phase: 'soak' as const,
      items: [{ cluster: cluster('a'), gate }],
      untilMs: first.start + 3_600_000,
    };
    const err = await first.watchHealthGates(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: STILL_WAITING_FAILURE, nextRetryDelay: 60_000 });
    const kept = first.beats.at(-1) as WatchProgress;
    expect(kept.pairs[0]?.tally.successes).toBe(1);
    // The server runs the next attempt at the next look.
    const second = harness(() => 'fail', true, kept, first.start + 60_000);
    const out = await second.watchHealthGates(input);
    expect(out.failures[0]?.result).toMatchObject({ outcome: 'Failed', measurements: 2, successes: 1 });
  });

  it('heartbeats a look of many pairs once, not per measurement, and parks with every tally kept', async () => {
    const h = harness(() => 'pass', true);
    const names = Array.from({ length: 100 }, (_, i) => `c${i}`);
    const input = {
      phase: 'soak' as const,
      items: names.map((n) => ({ cluster: cluster(n), gate })),
      untilMs: h.start + 3_600_000,
    };
    await expect(h.watchHealthGates(input)).rejects.toMatchObject({ type: STILL_WAITING_FAILURE });
    // The look's first measurement, then what the attempt leaves for the next one (the fake measures take no time).
    expect(h.beats).toHaveLength(2);
    const kept = h.beats.at(-1) as WatchProgress;
    expect(kept.pairs.every((p) => p.tally.successes === 1)).toBe(true);
  });

  it('never parks for zero: a look due now is asked for a moment later (zero would end the activity)', () => {
    expect(stillWaiting(new LookLater(0, 'now')).nextRetryDelay).toBe(10);
    expect(stillWaiting(new LookLater(-5, 'late')).nextRetryDelay).toBe(10);
    expect(stillWaiting(new LookLater(2_500, 'later')).nextRetryDelay).toBe(2_500);
  });
});
