/**
 * The bench counts the `stopRequested` queries the composite steps send their workflow (billed as
 * actions, absent from history) from the steps' inputs.
 */
import { describe, expect, it } from 'vitest';
import { stopQueries } from '../../bench/lib/histories';

const scheduled = (type: string, input: unknown, encoding = 'json/plain') => ({
  activityType: { name: type },
  input: {
    payloads: [
      {
        metadata: { encoding: Buffer.from(encoding) },
        data: Buffer.from(JSON.stringify(input)),
      },
    ],
  },
});

describe('stopQueries', () => {
  it('counts one query per control-plane hop after the first', () => {
    expect(stopQueries(scheduled('upgradeControlPlane', { hops: ['1.30'] }))).toBe(0);
    expect(stopQueries(scheduled('upgradeControlPlane', { hops: ['1.30', '1.31', '1.32'] }))).toBe(2);
  });

  it('counts one query per node group that does not start in the first round of lanes', () => {
    const ngs = (n: number) => Array.from({ length: n }, (_, i) => ({ nodegroup: `ng-${i}` }));
    expect(stopQueries(scheduled('updateNodegroups', { nodegroups: ngs(3), maxParallel: 1 }))).toBe(2);
    expect(stopQueries(scheduled('updateNodegroups', { nodegroups: ngs(3), maxParallel: 2 }))).toBe(1);
    expect(stopQueries(scheduled('updateNodegroups', { nodegroups: ngs(2), maxParallel: 4 }))).toBe(0);
  });

  it('counts nothing for other activities or inputs it cannot read', () => {
    expect(stopQueries(scheduled('updateAddons', { hops: ['1.30', '1.31'] }))).toBe(0);
    expect(stopQueries(scheduled('upgradeControlPlane', { hops: ['1.30', '1.31'] }, 'binary/gzip'))).toBe(0);
  });
});
