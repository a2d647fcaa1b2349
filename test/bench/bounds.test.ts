/**
 * The benchmark's lower bound (bench/lib/bounds.ts) against brute force: every bound must stay at
 * or below the optimum of small instances enumerated here, and the packing proof must find it.
 */
import { describe, expect, it } from 'vitest';
import {
  classicSlotBound,
  fitsOnMachines,
  martelloTothL2,
  rateLimitBound,
  simulateWave,
  slotBound,
  waveBound,
  type BoundConstraints,
  type MeasuredWave,
} from '../../bench/lib/bounds';
import { compactJson, fromMeasuredCampaign, toMeasuredCampaign } from '../../bench/lib/measured';
import type { FleetMember } from '../../domain/fleet';
import { createBucket, pickNextClusters, startOrder, type TokenBucket } from '../../domain/pacing';

/** Deterministic PRNG (LCG) for the random instances. */
function prng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.floor((s / 2147483648) * n);
  };
}

/** Optimal makespan of `jobs` on `m` identical machines, by enumerating every assignment. */
function bruteForceMakespan(jobs: readonly number[], m: number): number {
  let best = Infinity;
  const loads = new Array<number>(m).fill(0);
  const visit = (i: number): void => {
    if (i === jobs.length) {
      best = Math.min(best, Math.max(...loads));
      return;
    }
    for (let b = 0; b < m; b++) {
      loads[b] = (loads[b] as number) + (jobs[i] as number);
      visit(i + 1);
      loads[b] = (loads[b] as number) - (jobs[i] as number);
    }
  };
  visit(0);
  return best;
}

/** Fewest bins of `capacity` holding `sizes`, by enumeration. */
function bruteForceBins(sizes: readonly number[], capacity: number): number {
  for (let bins = 1; bins <= sizes.length; bins++) {
    if (bruteForceMakespan(sizes, bins) <= capacity) return bins;
  }
  return sizes.length;
}

function randomJobs(rand: (n: number) => number, n: number, max: number): number[] {
  return Array.from({ length: n }, () => 1 + rand(max));
}

const desc = (xs: readonly number[]) => [...xs].sort((a, b) => b - a);

describe('classicSlotBound: longest, Σ/m and the pigeonhole sums', () => {
  it('finds the pigeonhole bound where Σ/m and the longest job are loose', () => {
    // 4 × 6 on 3 machines: one machine runs two, so 12 (Σ/m is 8).
    expect(classicSlotBound([6, 6, 6, 6], 3)).toEqual({ ms: 12, method: 'pigeonhole' });
    // 5 × 5 on 2 machines: k = 2, one machine runs three of them, 15 (Σ/m 12.5, k = 1 gives 10).
    expect(classicSlotBound([5, 5, 5, 5, 5], 2)).toEqual({ ms: 15, method: 'pigeonhole' });
    // Without the pigeonhole sums: the bound as first computed.
    expect(classicSlotBound([6, 6, 6, 6], 3, { pigeonhole: false })).toEqual({ ms: 8, method: 'average' });
    expect(classicSlotBound([30, 1, 1], 2)).toEqual({ ms: 30, method: 'longest' });
  });

  it('never exceeds the optimum (random instances, brute force)', () => {
    const rand = prng(1);
    for (let t = 0; t < 300; t++) {
      const m = 1 + rand(4);
      const jobs = randomJobs(rand, 1 + rand(8), 30);
      expect(classicSlotBound(jobs, m).ms).toBeLessThanOrEqual(bruteForceMakespan(jobs, m) + 1e-9);
    }
  });
});

describe('martelloTothL2: bins needed', () => {
  it('counts items over half the capacity one per bin, and what cannot go with them', () => {
    expect(martelloTothL2([6, 6, 6], 10)).toBe(3); // Σ / capacity says 2
    // 7s take a bin each (a 4 does not fit with a 7); the three 4s need two more.
    expect(martelloTothL2([7, 7, 7, 4, 4, 4], 10)).toBe(5);
    expect(bruteForceBins([7, 7, 7, 4, 4, 4], 10)).toBe(5);
  });

  it('never exceeds the fewest bins (random instances, brute force)', () => {
    const rand = prng(2);
    for (let t = 0; t < 300; t++) {
      const capacity = 10 + rand(20);
      const sizes = randomJobs(rand, 1 + rand(7), capacity);
      expect(martelloTothL2(sizes, capacity)).toBeLessThanOrEqual(bruteForceBins(sizes, capacity));
    }
  });
});

describe('fitsOnMachines: can the jobs be split into m sets of total ≤ capacity', () => {
  it('answers exactly what enumeration says (random instances, every capacity near the optimum)', () => {
    const rand = prng(3);
    for (let t = 0; t < 200; t++) {
      const m = 2 + rand(2);
      const jobs = desc(randomJobs(rand, 2 + rand(7), 25));
      const opt = bruteForceMakespan(jobs, m);
      for (let capacity = opt - 4; capacity <= opt + 1; capacity++) {
        expect(fitsOnMachines(jobs, m, capacity, { work: 1e9 })).toBe(capacity >= opt);
      }
    }
  });

  it('answers undefined, not false, when the search runs out', () => {
    // 10 jobs on 3 machines just below the optimum (38): the quick checks cannot tell, the search
    // takes a few hundred machine looks to prove it.
    const jobs = [13, 12, 12, 11, 11, 11, 11, 9, 9, 9];
    expect(bruteForceMakespan(jobs, 3)).toBe(38);
    expect(fitsOnMachines(jobs, 3, 37, { work: 1e9 })).toBe(false);
    expect(fitsOnMachines(jobs, 3, 37, { work: 30 })).toBeUndefined();
    expect(fitsOnMachines(jobs, 3, 38, { work: 1e9 })).toBe(true);
  });
});

describe('slotBound: P||Cmax lower bound for "at most m at once"', () => {
  it('is the optimum on small instances, and never above it with any budget', () => {
    const rand = prng(4);
    for (let t = 0; t < 200; t++) {
      const m = 2 + rand(3);
      const jobs = randomJobs(rand, 3 + rand(6), 40);
      const opt = bruteForceMakespan(jobs, m);
      const full = slotBound(jobs, m);
      expect(full.ms).toBe(opt);
      expect(full.exact).toBe(true);
      const starved = slotBound(jobs, m, { workPerTry: 10, workPerGroup: 30 });
      expect(starved.ms).toBeLessThanOrEqual(opt);
      expect(starved.ms).toBeGreaterThanOrEqual(classicSlotBound(jobs, m).ms - 1e-9);
    }
  });

  it('proves what Σ/m and the pigeonhole sums cannot (method packing)', () => {
    // 9 jobs on 5 machines: Σ/m = 19, pigeonhole 20 (10 + 10), best split 21 (11 + 10 | 10 + 11 | …).
    const jobs = [12, 11, 11, 11, 10, 10, 10, 10, 10];
    expect(classicSlotBound(jobs, 5).ms).toBe(20);
    expect(bruteForceMakespan(jobs, 5)).toBe(21);
    expect(slotBound(jobs, 5)).toEqual({ ms: 21, method: 'packing', exact: true });
    // `average` and `classic` stop before the search.
    expect(slotBound(jobs, 5, { slots: 'average' }).ms).toBeCloseTo(95 / 5);
    expect(slotBound(jobs, 5, { slots: 'classic' }).ms).toBe(20);
  });

  it('rounds durations down before searching, so fractional durations cannot overshoot', () => {
    // Optimum 22.8 (11.9 + 10.9); the search on whole ms proves 21, the pigeonhole sum 21.8 wins.
    const jobs = [12.9, 11.9, 11.9, 11.9, 10.9, 10.9, 10.9, 10.9, 10.9];
    expect(bruteForceMakespan(jobs, 5)).toBeCloseTo(22.8);
    expect(slotBound(jobs, 5).ms).toBeCloseTo(21.8);
    const rand = prng(7);
    for (let t = 0; t < 100; t++) {
      const fractional = randomJobs(rand, 3 + rand(6), 40).map((x) => x - rand(100) / 100);
      expect(slotBound(fractional, 3).ms).toBeLessThanOrEqual(bruteForceMakespan(fractional, 3) + 1e-9);
    }
  });

  it('does not search below floorMs (nothing to gain there)', () => {
    const jobs = [12, 11, 11, 11, 10, 10, 10, 10, 10];
    // The longest-first schedule (22) is at the floor: no search, classic bound.
    expect(slotBound(jobs, 5, { floorMs: 22 })).toEqual({ ms: 20, method: 'pigeonhole', exact: false });
    expect(slotBound(jobs, 5, { floorMs: 20.5 }).ms).toBe(21);
  });
});

describe('rateLimitBound', () => {
  it('pairs the longest clusters with the earliest starts', () => {
    // 2 starts per 100 ms: starts at 0, 0, 50, 100; longest first: 0 + 40, 0 + 30, 50 + 20, 100 + 10.
    expect(rateLimitBound([10, 20, 30, 40], { starts: 2, perMs: 100 })).toBe(110);
  });
});

const labelled = (name: string, durationMs: number, labels: Record<string, string>) => ({ name, durationMs, labels });

describe('waveBound', () => {
  const constraints: BoundConstraints = {
    maxInFlight: 10,
    caps: [
      { labelKey: 'account', max: 2 },
      { labelKey: 'region', max: 10 },
    ],
  };

  it('names the binding cap value and how it was proven', () => {
    // account=a: three 10s, two at once, so 20 (Σ/cap said 15); the wave has room otherwise.
    const wave: MeasuredWave = {
      name: 'w',
      maxParallel: 10,
      soakMs: 5,
      clusters: [
        labelled('a1', 10, { account: 'a', region: 'r' }),
        labelled('a2', 10, { account: 'a', region: 'r' }),
        labelled('a3', 10, { account: 'a', region: 'r' }),
        labelled('b1', 12, { account: 'b', region: 'r' }),
      ],
    };
    const b = waveBound(wave, constraints);
    expect(b).toMatchObject({
      upgradeMs: 20,
      boundBy: 'label-cap',
      method: 'pigeonhole',
      detail: 'account=a: 3 clusters, 2 at once',
    });
    const before = waveBound(wave, constraints, { slots: 'average' });
    expect(before).toMatchObject({ upgradeMs: 15, boundBy: 'label-cap', method: 'average' });
    // The replay reaches it: the bound is the optimum here.
    expect(simulateWave(wave, constraints, { order: 'campaign' })).toBe(20);
  });

  it('never exceeds the makespan of any schedule the campaign could run (random waves, random orders)', () => {
    const rand = prng(5);
    for (let t = 0; t < 60; t++) {
      const c: BoundConstraints = {
        maxInFlight: 2 + rand(4),
        ...(rand(2) ? { rateLimit: { starts: 1 + rand(3), perMs: 5 + rand(20) } } : {}),
        caps: [
          { labelKey: 'account', max: 1 + rand(2) },
          { labelKey: 'region', max: 1 + rand(3) },
        ],
      };
      const clusters = Array.from({ length: 3 + rand(8) }, (_, i) =>
        labelled(`c${i}`, 1 + rand(40), { account: `a${rand(3)}`, region: `r${rand(2)}` }),
      );
      const wave: MeasuredWave = { name: 'w', maxParallel: 1 + rand(5), soakMs: 0, clusters };
      const bound = waveBound(wave, c).upgradeMs;
      for (let k = 0; k < 20; k++) {
        const shuffled = [...clusters].sort(() => rand(3) - 1);
        expect(bound).toBeLessThanOrEqual(simulateWave({ ...wave, clusters: shuffled }, c) + 1e-9);
      }
    }
  });
});

describe('simulateWave: the campaign order', () => {
  /** The campaign's loop, plainly: startOrder over every pending cluster, then pickNextClusters. */
  function reference(wave: MeasuredWave, c: BoundConstraints, estimate: (name: string) => number): number {
    const member = (x: MeasuredWave['clusters'][number]): FleetMember => ({
      name: x.name,
      region: x.labels.region ?? '',
      account: x.labels.account ?? '',
      labels: x.labels,
      version: '',
      oldestNodeVersion: '',
      nodegroups: [],
      addons: [],
      blockingPdbs: [],
    });
    let pending = wave.clusters.map(member);
    const running = new Map<FleetMember, number>();
    let bucket: TokenBucket | undefined = c.rateLimit ? createBucket(c.rateLimit, 0) : undefined;
    const duration = new Map(wave.clusters.map((x) => [x.name, x.durationMs]));
    let now = 0;
    let end = 0;
    while (pending.length > 0 || running.size > 0) {
      const pick = pickNextClusters({
        pending: startOrder(pending, (m) => estimate(m.name), c.caps),
        inFlight: [...running.keys()],
        maxParallel: wave.maxParallel,
        maxInFlight: c.maxInFlight,
        caps: c.caps,
        bucket,
        nowMs: now,
      });
      bucket = pick.bucket;
      for (const m of pending.filter((p) => pick.start.includes(p.name))) {
        running.set(m, now + (duration.get(m.name) ?? 0));
        end = Math.max(end, now + (duration.get(m.name) ?? 0));
      }
      pending = pending.filter((p) => !pick.start.includes(p.name));
      now = Math.min(pick.wakeAtMs ?? Infinity, ...running.values());
      if (!Number.isFinite(now)) break;
      for (const [m, at] of running) if (at <= now) running.delete(m);
    }
    return end;
  }

  it('replays exactly what startOrder over all pending clusters then pickNextClusters give', () => {
    const rand = prng(6);
    for (let t = 0; t < 80; t++) {
      const c: BoundConstraints = {
        maxInFlight: 2 + rand(5),
        ...(rand(2) ? { rateLimit: { starts: 1 + rand(3), perMs: 5 + rand(20) } } : {}),
        caps: [
          { labelKey: 'account', max: 1 + rand(2) },
          { labelKey: 'region', max: 1 + rand(3) },
        ],
      };
      const clusters = Array.from({ length: 4 + rand(12) }, (_, i) =>
        labelled(`c${i}`, 1 + rand(40), { account: `a${rand(4)}`, region: `r${rand(3)}` }),
      );
      const estimates = new Map(clusters.map((x) => [x.name, 1 + rand(10)]));
      const estimate = (n: string) => estimates.get(n) ?? 0;
      const wave: MeasuredWave = { name: 'w', maxParallel: 1 + rand(6), soakMs: 0, clusters };
      expect(simulateWave(wave, c, { order: 'campaign', priorityMs: estimate })).toBe(reference(wave, c, estimate));
    }
  });
});

describe('measured rows', () => {
  it('round-trip through the compact rows, and stay on one line each', () => {
    const constraints: BoundConstraints = { maxInFlight: 3, caps: [{ labelKey: 'team', max: 1 }] };
    const m = toMeasuredCampaign(constraints, [
      {
        name: 'w',
        maxParallel: 2,
        soakMs: 7,
        clusters: [
          { name: 'x', durationMs: 10.4, estimateMs: 3, startMs: 1, labels: { region: 'r', account: 'a', team: 't' } },
          { name: 'y', durationMs: 5, estimateMs: 2, startMs: 12, labels: { region: 'r', account: 'a' } },
        ],
      },
    ]);
    expect(m.columns).toEqual(['name', 'durationMs', 'estimateMs', 'startMs', 'region', 'account', 'team']);
    const back = fromMeasuredCampaign(JSON.parse(compactJson(m)) as typeof m);
    expect(back.waves).toEqual([
      {
        name: 'w',
        maxParallel: 2,
        soakMs: 7,
        clusters: [
          { name: 'x', durationMs: 10, labels: { region: 'r', account: 'a', team: 't' } },
          { name: 'y', durationMs: 5, labels: { region: 'r', account: 'a' } },
        ],
      },
    ]);
    expect(back.estimateMs.get('y')).toBe(2);
    expect(compactJson(m)).toContain('["x", 10, 3, 1, "r", "a", "t"]');
  });
});
