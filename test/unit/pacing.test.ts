import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import {
  capsAllow,
  createBucket,
  pickNextClusters,
  startOrder,
  tokensAvailable,
  tryTake,
  type PickInput,
} from '../../domain/pacing';
import { member } from './fixtures';

const T0 = Date.UTC(2024, 9, 1, 0, 0, 0);
const MIN = 60_000;

describe('token bucket', () => {
  it('starts full, then refills at starts/per', () => {
    let bucket = createBucket({ starts: 3, perMs: 30 * MIN }, T0);
    expect(tokensAvailable(bucket, T0)).toBe(3);
    for (let i = 0; i < 3; i++) {
      const take = tryTake(bucket, T0);
      expect(take.ok).toBe(true);
      bucket = take.bucket;
    }
    const refused = tryTake(bucket, T0);
    expect(refused).toMatchObject({ ok: false, retryAtMs: T0 + 10 * MIN });
    expect(refused.bucket).toBe(bucket);
    expect(tryTake(bucket, T0 + 10 * MIN - 1).ok).toBe(false);
    expect(tryTake(bucket, T0 + 10 * MIN).ok).toBe(true);
    expect(tokensAvailable(bucket, T0 + 60 * MIN)).toBe(3);
  });

  it('never exceeds its capacity after idling', () => {
    const bucket = createBucket({ starts: 2, perMs: MIN }, T0);
    expect(tokensAvailable(bucket, T0 + 24 * 60 * MIN)).toBe(2);
  });

  it('starts at most starts + elapsed × rate over any run, even with fractional emission intervals', () => {
    let bucket = createBucket({ starts: 7, perMs: 10 * MIN }, T0);
    let started = 0;
    for (let t = T0; t <= T0 + 60 * MIN; t += 1000) {
      const take = tryTake(bucket, t);
      if (take.ok) {
        bucket = take.bucket;
        started++;
      }
    }
    expect(started).toBe(7 + 42);
  });

  it('tells when the next take succeeds, rounded up to a millisecond where it really does', () => {
    let bucket = createBucket({ starts: 3, perMs: 1000 }, T0);
    for (let i = 0; i < 3; i++) bucket = tryTake(bucket, T0).bucket;
    const { retryAtMs } = tryTake(bucket, T0);
    expect(retryAtMs).toBe(T0 + 334);
    expect(tryTake(bucket, retryAtMs).ok).toBe(true);
  });
});

describe('capsAllow', () => {
  const inFlight = [
    member('a', { region: 'us-east-1', account: '111111111111' }),
    member('b', { region: 'us-east-1', account: '222222222222' }),
  ];
  it('blocks at the cap and names it', () => {
    const caps = [{ labelKey: 'region', max: 2 }];
    expect(capsAllow(inFlight, member('c', { region: 'us-east-1' }), caps)).toEqual({
      ok: false,
      blockedBy: 'region=us-east-1 (2/2)',
    });
    expect(capsAllow(inFlight, member('d', { region: 'eu-west-1' }), caps)).toEqual({ ok: true });
  });
  it('does not limit a cluster without the label', () => {
    expect(capsAllow(inFlight, member('e'), [{ labelKey: 'team', max: 1 }])).toEqual({ ok: true });
  });
});

describe('pickNextClusters', () => {
  const use1 = (n: string, labels: Record<string, string> = {}) => member(n, { region: 'us-east-1', labels });
  const euw1 = (n: string) => member(n, { region: 'eu-west-1' });
  const base = (over: Partial<PickInput>): PickInput => ({
    pending: [],
    inFlight: [],
    maxParallel: 10,
    maxInFlight: 10,
    caps: [],
    bucket: undefined,
    nowMs: T0,
    ...over,
  });

  it('fills free slots in wave order', () => {
    const pending = ['a', 'b', 'c', 'd'].map((n) => use1(n));
    const r = pickNextClusters(base({ pending, inFlight: [use1('x')], maxParallel: 3 }));
    expect(r.start).toEqual(['a', 'b']);
    expect(r.waiting).toEqual([
      { cluster: 'c', kind: 'slots', reason: 'maxParallel 3/3 reached' },
      { cluster: 'd', kind: 'slots', reason: 'maxParallel 3/3 reached' },
    ]);
    expect(r.wakeAtMs).toBeUndefined();
  });

  it('respects maxInFlight across the campaign and maxParallel within the wave', () => {
    const pending = ['a', 'b'].map((n) => use1(n));
    const r = pickNextClusters(
      base({ pending, inFlight: [use1('x'), use1('y')], inFlightInWave: 0, maxParallel: 5, maxInFlight: 3 }),
    );
    expect(r.start).toEqual(['a']);
    expect(r.waiting[0]?.reason).toBe('maxInFlight 3/3 reached');
  });

  it('lets later clusters pass one blocked by a cap (sliding window, not head-of-line)', () => {
    const pending = [use1('a'), use1('b'), euw1('c')];
    const r = pickNextClusters(base({ pending, inFlight: [use1('x')], caps: [{ labelKey: 'region', max: 2 }] }));
    expect(r.start).toEqual(['a', 'c']);
    expect(r.waiting).toEqual([{ cluster: 'b', kind: 'cap', reason: 'cap region=us-east-1 (2/2)' }]);
  });

  it('spends tokens only on clusters that start, and wakes when the next token refills', () => {
    const bucket = createBucket({ starts: 2, perMs: 10 * MIN }, T0);
    const closed = new Set(['a']);
    const pending = ['a', 'b', 'c', 'd'].map((n) => use1(n));
    const r = pickNextClusters(
      base({
        pending,
        bucket,
        windowCheck: (m: FleetMember) =>
          closed.has(m.name) ? { open: false, nextOpenMs: T0 + 60 * MIN } : { open: true },
      }),
    );
    expect(r.start).toEqual(['b', 'c']);
    expect(r.waiting.map((w) => [w.cluster, w.kind])).toEqual([
      ['a', 'window'],
      ['d', 'rate-limit'],
    ]);
    expect(r.waiting[0]?.reason).toBe(`maintenance window closed until ${new Date(T0 + 60 * MIN).toISOString()}`);
    expect(r.waiting[1]?.reason).toMatch(/^rate limit: next start at /);
    expect(r.wakeAtMs).toBe(T0 + 5 * MIN);
    expect(r.bucket && tokensAvailable(r.bucket, T0)).toBe(0);

    // Five minutes later one token is back: d starts, a still waits for its window.
    const later = pickNextClusters(
      base({
        pending: [use1('a'), use1('d')],
        inFlight: [use1('b'), use1('c')],
        bucket: r.bucket,
        nowMs: T0 + 5 * MIN,
        windowCheck: (m) => (closed.has(m.name) ? { open: false, nextOpenMs: T0 + 60 * MIN } : { open: true }),
      }),
    );
    expect(later.start).toEqual(['d']);
    expect(later.wakeAtMs).toBe(T0 + 60 * MIN);
  });

  it('uses the window check reason when it gives one', () => {
    const r = pickNextClusters(
      base({ pending: [use1('a')], windowCheck: () => ({ open: false, reason: 'does not fit', nextOpenMs: T0 - 1 }) }),
    );
    expect(r.waiting).toEqual([{ cluster: 'a', kind: 'window', reason: 'does not fit' }]);
    // A wake time in the past is no wake time.
    expect(r.wakeAtMs).toBeUndefined();
  });

  it('is deterministic and does not mutate its inputs', () => {
    const input = base({ pending: [use1('a'), use1('b')], bucket: createBucket({ starts: 1, perMs: MIN }, T0) });
    const snapshot = JSON.stringify(input);
    expect(pickNextClusters(input)).toEqual(pickNextClusters(input));
    expect(JSON.stringify(input)).toBe(snapshot);
  });
});

describe('startOrder: which pending clusters a pick offers first', () => {
  const est: Record<string, number> = { a: 10, b: 30, c: 20, d: 5, e: 40, f: 1 };
  const estimate = (m: FleetMember) => est[m.name] ?? 0;

  it('without caps: longest estimate first, wave order among equals', () => {
    const pending = ['a', 'b', 'c', 'x', 'y'].map((n) => member(n));
    expect(startOrder(pending, estimate, []).map((m) => m.name)).toEqual(['b', 'c', 'a', 'x', 'y']);
  });

  it('with caps: the most loaded cap value first (its pending work ÷ max), longest first within it', () => {
    // account=1: a 10 + b 30 + c 20 = 60 over 1 slot; account=2: d 5 + e 40 = 45 over 1 slot; f has no account label.
    const pending = [
      member('d', { labels: { account: '2' } }),
      member('a', { labels: { account: '1' } }),
      member('e', { labels: { account: '2' } }),
      member('f'),
      member('b', { labels: { account: '1' } }),
      member('c', { labels: { account: '1' } }),
    ];
    const order = startOrder(pending, estimate, [{ labelKey: 'account', max: 1 }]);
    expect(order.map((m) => m.name)).toEqual(['b', 'c', 'a', 'e', 'd', 'f']);
    // A larger cap spreads the same work over more slots: account=1 (60 / 3 = 20) now comes after account=2 (45 / 1).
    const twoCaps = startOrder(
      pending.map((m) => ({ ...m, labels: { ...m.labels, tier: m.labels.account === '1' ? 'x' : 'y' } })),
      estimate,
      [
        { labelKey: 'account', max: 3 },
        { labelKey: 'tier', max: 1 },
      ],
    );
    // tier=x carries account=1's 60 over 1 slot, so account=1 leads again: the most loaded of a cluster's values counts.
    expect(twoCaps.map((m) => m.name)).toEqual(['b', 'c', 'a', 'e', 'd', 'f']);
  });

  it('shortens a cap-bound wave against plan order (replayed with pickNextClusters)', () => {
    // Cap 1 per account, 2 slots: in plan order the three single-cluster accounts take the slots
    // first and the heavy account (3 × 10) runs its clusters one after the other at the end.
    const pending = [
      member('l1', { labels: { account: 'a' } }),
      member('l2', { labels: { account: 'b' } }),
      member('l3', { labels: { account: 'c' } }),
      member('h1', { labels: { account: 'heavy' } }),
      member('h2', { labels: { account: 'heavy' } }),
      member('h3', { labels: { account: 'heavy' } }),
    ];
    const durations: Record<string, number> = { l1: 10, l2: 10, l3: 10, h1: 10, h2: 10, h3: 10 };
    const replay = (order: FleetMember[]) => {
      let now = 0;
      let queue = [...order];
      const running = new Map<string, number>();
      let end = 0;
      while (queue.length > 0 || running.size > 0) {
        const pick = pickNextClusters({
          pending: queue,
          inFlight: queue.length
            ? [...running.keys()].map((n) => pending.find((m) => m.name === n) as FleetMember)
            : [],
          maxParallel: 2,
          maxInFlight: 2,
          caps: [{ labelKey: 'account', max: 1 }],
          bucket: undefined,
          nowMs: now,
        });
        for (const n of pick.start) {
          running.set(n, now + (durations[n] ?? 0));
          end = Math.max(end, now + (durations[n] ?? 0));
        }
        queue = queue.filter((m) => !pick.start.includes(m.name));
        now = Math.min(...running.values());
        for (const [n, at] of running) if (at <= now) running.delete(n);
      }
      return end;
    };
    const byDuration = (m: FleetMember) => durations[m.name] ?? 0;
    expect(replay(pending)).toBe(40);
    // The heavy account's 30 over its one slot is the bound, and startOrder reaches it.
    expect(replay(startOrder(pending, byDuration, [{ labelKey: 'account', max: 1 }]))).toBe(30);
  });
});
