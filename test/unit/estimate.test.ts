import { describe, expect, it } from 'vitest';
import { estimateCampaign, estimateClusterMs } from '../../domain/estimate';
import { assignWaves } from '../../domain/waves';
import { campaign, member } from './fixtures';

const MIN = 60_000;

const twoGroups = (name: string, version = '1.29') =>
  member(name, {
    version,
    nodegroups: [
      { name: 'a', nodes: 6, maxUnavailable: 2 },
      { name: 'b', nodes: 3, maxUnavailable: 1 },
    ],
  });

describe('estimateClusterMs', () => {
  const base = campaign({ waves: [{ name: 'all' }] }).spec;

  it('adds hops, add-ons, node batches and bake', () => {
    // 2 hops × 20m + 2m for the 3 add-ons updated together + (3 + 3 batches) × 5m one group at a time + bake 5m
    expect(estimateClusterMs(twoGroups('x'), ['1.30', '1.31'], base)).toBe((40 + 2 + 30 + 5) * MIN);
    const noAddons = { ...twoGroups('n'), addons: [] };
    expect(estimateClusterMs(noAddons, ['1.30', '1.31'], base)).toBe((40 + 30 + 5) * MIN);
  });

  it('runs node groups in parallel up to nodegroups.maxParallel: max(longest, total / parallel)', () => {
    const spec = { ...base, nodegroups: { ...base.nodegroups, maxParallel: 2 } };
    expect(estimateClusterMs(twoGroups('x'), ['1.30', '1.31'], spec)).toBe((40 + 2 + 15 + 5) * MIN);
    const uneven = member('y', { nodegroups: [{ nodes: 10 }, { nodes: 1 }, { nodes: 1 }] });
    // longest 50m beats (50 + 5 + 5) / 2 = 30m
    expect(estimateClusterMs(uneven, [], { ...spec, target: { ...spec.target, kubernetesVersion: undefined } })).toBe(
      (2 + 50 + 5) * MIN,
    );
  });

  it('counts only node groups below the target, and honours skipAddons / skipNodegroups', () => {
    const atTarget = member('z', { version: '1.31', nodegroups: [{ version: '1.31' }, { version: '1.30', nodes: 2 }] });
    expect(estimateClusterMs(atTarget, [], base)).toBe((2 + 10 + 5) * MIN);
    const skipAll = { ...base, target: { ...base.target, skipAddons: true, skipNodegroups: true } };
    expect(estimateClusterMs(twoGroups('x'), ['1.30'], skipAll)).toBe((20 + 5) * MIN);
  });
});

describe('estimateCampaign', () => {
  const fleet = ['c1', 'c2', 'c3', 'c4'].map((n) => twoGroups(n)); // 77m each
  const each = 77 * MIN;

  function estimate(spec: Parameters<typeof campaign>[0]) {
    const c = campaign(spec);
    return estimateCampaign(c.spec, assignWaves(c.spec, fleet), fleet);
  }

  it('is the longest cluster when parallelism suffices', () => {
    const e = estimate({ waves: [{ name: 'all', maxParallel: 4, soak: '10m' }] });
    expect(e.waves[0]).toMatchObject({
      clusters: 4,
      boundBy: 'longest-cluster',
      ms: each + 10 * MIN,
      soakMs: 10 * MIN,
    });
    expect(e.totalMs).toBe(each + 10 * MIN);
    expect(Object.keys(e.clusterMs)).toHaveLength(4);
  });

  it('is sum / min(maxParallel, maxInFlight) when slots are scarce', () => {
    expect(estimate({ waves: [{ name: 'all', maxParallel: 2 }] }).waves[0]).toMatchObject({
      boundBy: 'parallelism',
      ms: 2 * each,
    });
    const capped = estimate({ waves: [{ name: 'all', maxParallel: 4 }], pacing: { maxInFlight: 1 } });
    expect(capped.waves[0]).toMatchObject({ boundBy: 'parallelism', ms: 4 * each });
  });

  it('applies the rate limit after the initial burst', () => {
    // 1 start per 60m: the 4th cluster starts at 180m at the earliest.
    const e = estimate({ waves: [{ name: 'all', maxParallel: 4 }], pacing: { rateLimit: { starts: 1, per: '60m' } } });
    expect(e.waves[0]).toMatchObject({ boundBy: 'rate-limit', ms: 180 * MIN + each });
    // A burst of 4 covers the whole wave.
    const burst = estimate({
      waves: [{ name: 'all', maxParallel: 4 }],
      pacing: { rateLimit: { starts: 4, per: '60m' } },
    });
    expect(burst.waves[0]?.boundBy).toBe('longest-cluster');
    expect(burst.assumptions.join('\n')).toMatch(/rate limit 4 start\(s\) per 1h/);
  });

  it('applies per-label caps', () => {
    const e = estimate({
      waves: [{ name: 'all', maxParallel: 4 }],
      pacing: { caps: [{ labelKey: 'region', max: 1 }] },
    });
    expect(e.waves[0]).toMatchObject({ boundBy: 'label-cap', ms: 4 * each });
  });

  it('sums waves and gives empty waves no time', () => {
    const e = estimate({
      waves: [
        { name: 'one', count: 1, soak: '5m' },
        { name: 'none', selector: { matchLabels: { env: 'qa' } }, soak: '1h' },
        { name: 'rest', maxParallel: 3 },
      ],
    });
    expect(e.waves.map((w) => [w.name, w.ms, w.boundBy])).toEqual([
      ['one', each + 5 * MIN, 'longest-cluster'],
      ['none', 0, 'empty'],
      ['rest', each, 'longest-cluster'],
    ]);
    expect(e.totalMs).toBe(2 * each + 5 * MIN);
  });
});
