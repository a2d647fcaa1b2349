import { describe, expect, it } from 'vitest';
import { checkNoOverlap } from '../../bench/lib/invariants';
import type { RunHistory } from '../../bench/lib/histories';
import type { Mutation } from '../../simulator/index';

const T0 = Date.parse('2026-12-04T09:47:20.000Z');

function run(cluster: string, campaign: string, startS: number, closeS?: number): RunHistory {
  return {
    workflowId: `cluster-upgrade/${cluster}`,
    runId: `${cluster}-${startS}`,
    workflowType: 'clusterUpgradeWorkflow',
    events: [],
    startMs: T0 + startS * 1000,
    ...(closeS !== undefined ? { closeMs: T0 + closeS * 1000 } : {}),
    parentWorkflowId: `campaign/${campaign}`,
  };
}

let seq = 0;
/** A mutation at `wallS` seconds on the host's clock; the scaled simulated time says nothing of it. */
function mutation(cluster: string, wallS: number): Mutation {
  return {
    seq: ++seq,
    time: '2031-01-01T00:00:00.000Z',
    wallTime: new Date(T0 + wallS * 1000).toISOString(),
    operation: 'UpdateClusterVersion',
    cluster,
    target: '1.32',
    clientRequestToken: `t${seq}`,
    updateId: `u${seq}`,
    updateType: 'VersionUpdate',
  };
}

describe('checkNoOverlap (bench/lib/invariants.ts)', () => {
  it('places each mutation by the wall clock the simulator stamped, within the tolerance', () => {
    const runs = [run('a', 'one', 2, 7), run('b', 'one', 10)];
    const inside = checkNoOverlap(runs, [mutation('a', 2.6), mutation('a', 7.2), mutation('b', 60)]);
    expect(inside.violations).toEqual([]);
    expect(inside.campaignsByCluster.get('a')).toEqual(['campaign/one']);
    const outside = checkNoOverlap(runs, [mutation('a', 12.6), mutation('c', 3)]);
    expect(outside.violations).toEqual([
      expect.stringMatching(/^a: mutation #\d+ UpdateClusterVersion 1\.32 at 2026-12-04T09:47:32\.600Z outside every/),
      expect.stringMatching(/^c: mutation #\d+ .* outside every cluster-upgrade run$/),
    ]);
  });

  it('names two campaigns whose runs of one cluster overlap', () => {
    const runs = [run('a', 'one', 0, 10), run('a', 'two', 5, 20)];
    const { violations } = checkNoOverlap(runs, [mutation('a', 6)]);
    expect(violations.some((v) => v.includes('campaign/one') && v.includes('campaign/two'))).toBe(true);
  });
});
