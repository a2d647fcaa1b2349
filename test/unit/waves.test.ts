import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import { matchesSelector } from '../../domain/selector';
import type { LabelSelector } from '../../domain/spec';
import { assignWaves, listNames, type WaveAssignmentSpec } from '../../domain/waves';
import { member, rng } from './fixtures';

type WaveInput = WaveAssignmentSpec['waves'][number];

/** A wave with the schema's defaults, so tests only say what matters. */
function wave(name: string, extra: Partial<WaveInput> = {}): WaveInput {
  return {
    name,
    maxParallel: 1,
    failureBudget: 0,
    onBudgetExceeded: 'pause',
    soak: '0s',
    approval: 'required',
    ...extra,
  };
}

function spec(waves: WaveInput[], selector: LabelSelector = {}, target = '1.31'): WaveAssignmentSpec {
  return { selector, waves, target: { kubernetesVersion: target } };
}

const fleet: FleetMember[] = [
  member('dev-b', { labels: { env: 'dev' }, version: '1.30' }),
  member('dev-a', { labels: { env: 'dev' }, version: '1.29' }),
  member('dev-c', { labels: { env: 'dev' }, version: '1.31' }),
  member('dev-d', { labels: { env: 'dev' }, version: '1.30' }),
  member('stg-a', { labels: { env: 'staging' } }),
  member('prod-1', { labels: { env: 'prod' }, region: 'us-east-1' }),
  member('prod-2', { labels: { env: 'prod' }, region: 'eu-west-1' }),
  member('prod-3', {
    labels: { env: 'prod' },
    region: 'eu-west-1',
    version: '1.29',
    nodegroups: [{ version: '1.27' }],
  }),
  member('sbx', { labels: { env: 'sandbox' } }),
];

describe('assignWaves', () => {
  it('places by selector, then count, in name order; skips and refuses before counting', () => {
    const plan = assignWaves(
      spec(
        [
          wave('canary', { selector: { matchLabels: { env: 'dev' } }, count: 2 }),
          wave('dev', { selector: { matchLabels: { env: 'dev' } } }),
          wave('staging', { selector: { matchLabels: { env: 'staging' } } }),
          wave('prod'),
        ],
        { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['sandbox'] }] },
      ),
      fleet,
    );
    expect(plan.waves.map((w) => [w.name, w.clusters])).toEqual([
      ['canary', ['dev-a', 'dev-b']],
      ['dev', ['dev-d']],
      ['staging', ['stg-a']],
      ['prod', ['prod-1', 'prod-2']],
    ]);
    expect(plan.skipped).toEqual([{ cluster: 'dev-c', reason: 'already at target (1.31)' }]);
    expect(plan.refused.map((r) => r.cluster)).toEqual(['prod-3']);
    expect(plan.unselected).toEqual(['sbx']);
    expect(plan.unplaced).toEqual([]);
    // Identical selectors (first N, then the rest) are not an overlap worth a warning.
    expect(plan.warnings).toEqual([]);
    expect(plan.paths).toMatchObject({ 'dev-a': ['1.30', '1.31'], 'dev-b': ['1.31'] });
  });

  it('takes ceil(percent) of the candidates', () => {
    const many = Array.from({ length: 10 }, (_, i) => member(`c${String(i).padStart(2, '0')}`));
    const plan = assignWaves(spec([wave('a', { percent: 25 }), wave('b', { percent: 50 }), wave('c')]), many);
    expect(plan.waves.map((w) => w.clusters.length)).toEqual([3, 4, 3]);
    // 7% of 100 is 7, not 8, despite floating point.
    const hundred = Array.from({ length: 100 }, (_, i) => member(`m${String(i).padStart(3, '0')}`));
    expect(assignWaves(spec([wave('a', { percent: 7 }), wave('b')]), hundred).waves[0]?.clusters).toHaveLength(7);
  });

  it('warns about empty waves, unplaced clusters and overlapping selectors', () => {
    const plan = assignWaves(
      spec([
        wave('prod', { selector: { matchLabels: { env: 'prod' } } }),
        wave('us-prod', { selector: { matchLabels: { region: 'us-east-1', env: 'prod' } } }),
        wave('nothing', { selector: { matchLabels: { env: 'qa' } } }),
      ]),
      fleet,
    );
    expect(plan.waves.map((w) => w.clusters)).toEqual([['prod-1', 'prod-2'], [], []]);
    expect(plan.unplaced).toEqual(['dev-a', 'dev-b', 'dev-d', 'sbx', 'stg-a']);
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        'wave "nothing" selects no cluster',
        'wave "us-prod" selects no cluster',
        expect.stringMatching(/^prod-1 matches the selectors of both wave "prod" and later wave "us-prod"/),
        expect.stringMatching(/^5 selected clusters are in no wave: dev-a, dev-b, dev-d, sbx, stg-a/),
      ]),
    );
  });

  it('truncates long name lists', () => {
    expect(listNames(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toBe('a, b, c, d, e and 2 more');
  });

  describe('property: random fleets and specs', () => {
    const ENVS = ['dev', 'staging', 'prod', 'sandbox'];
    const REGIONS = ['us-east-1', 'eu-west-1', 'ap-south-1'];
    const VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32'];

    function pick<T>(r: () => number, xs: readonly T[]): T {
      return xs[Math.floor(r() * xs.length)] as T;
    }

    function randomSelector(r: () => number): LabelSelector | undefined {
      const roll = r();
      if (roll < 0.3) return undefined;
      if (roll < 0.6) return { matchLabels: { env: pick(r, ENVS) } };
      if (roll < 0.8)
        return { matchExpressions: [{ key: 'region', operator: 'In', values: [pick(r, REGIONS), pick(r, REGIONS)] }] };
      return { matchExpressions: [{ key: 'env', operator: 'NotIn', values: [pick(r, ENVS)] }] };
    }

    function randomCase(seed: number): { s: WaveAssignmentSpec; members: FleetMember[] } {
      const r = rng(seed);
      const n = Math.floor(r() * 40);
      const members = Array.from({ length: n }, (_, i) => {
        const version = pick(r, VERSIONS);
        const lag = Math.floor(r() * 4);
        const nodeMinor = Math.max(23, Number(version.split('.')[1]) - lag);
        return member(`c-${Math.floor(r() * 1000)}-${i}`, {
          labels: { env: pick(r, ENVS) },
          region: pick(r, REGIONS),
          version,
          nodegroups: [{ version: `1.${nodeMinor}` }],
        });
      });
      const waves = Array.from({ length: 1 + Math.floor(r() * 5) }, (_, i) => {
        const roll = r();
        const extra: Partial<WaveInput> = {};
        const selector = randomSelector(r);
        if (selector) extra.selector = selector;
        if (roll < 0.3) extra.count = 1 + Math.floor(r() * 5);
        else if (roll < 0.6) extra.percent = 1 + Math.floor(r() * 100);
        return wave(`w${i}`, extra);
      });
      const target = pick(r, ['1.30', '1.31', '1.32']);
      return { s: spec(waves, randomSelector(r) ?? {}, target), members };
    }

    it('places every selected cluster exactly once, nothing unselected, deterministically (200 cases)', () => {
      for (let seed = 1; seed <= 200; seed++) {
        const { s, members } = randomCase(seed);
        const plan = assignWaves(s, members);
        const placed = plan.waves.flatMap((w) => w.clusters);
        const accounted = [
          ...placed,
          ...plan.skipped.map((x) => x.cluster),
          ...plan.refused.map((x) => x.cluster),
          ...plan.unplaced,
        ];
        const selected = members.filter((m) => matchesSelector(m.labels, s.selector)).map((m) => m.name);

        expect(new Set(accounted).size, `seed ${seed}: no cluster twice`).toBe(accounted.length);
        expect([...accounted].sort(), `seed ${seed}: every selected cluster accounted for`).toEqual(
          [...selected].sort(),
        );
        expect(
          plan.unselected.filter((n) => accounted.includes(n)),
          `seed ${seed}`,
        ).toEqual([]);
        if (plan.unplaced.length > 0) expect(plan.warnings.some((w) => w.includes('in no wave'))).toBe(true);
        plan.waves.forEach((w, i) => {
          const ws = s.waves[i];
          expect(w.name).toBe(ws?.name);
          if (ws?.count !== undefined) expect(w.clusters.length).toBeLessThanOrEqual(ws.count);
          expect([...w.clusters].sort(), 'stable name order').toEqual(w.clusters);
          for (const name of w.clusters) {
            const m = members.find((x) => x.name === name);
            expect(m && matchesSelector(m.labels, ws?.selector)).toBe(true);
            expect(plan.paths[name]).toBeDefined();
          }
          if (w.clusters.length === 0) expect(plan.warnings).toContain(`wave "${w.name}" selects no cluster`);
        });
        // Determinism, and independence from the input order.
        expect(assignWaves(s, [...members].reverse())).toEqual(plan);
      }
    });
  });
});
