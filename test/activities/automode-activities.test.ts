/**
 * The Auto Mode activities and `fleetwave release-holds` against the simulator, with the real
 * EKS and Kubernetes clients: a hold keeps a custom NodePool's nodes on the old minor while the
 * built-in pools move, the recovery command restores the budgets, and the wait counts NodeClaims.
 */
import { UpdateClusterVersionCommand } from '@aws-sdk/client-eks';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterAccess, describeClusterRaw } from '../../activities/eks/read';
import { HOLD_ANNOTATION } from '../../domain/nodepool-hold';
import { releaseHoldsCommand } from '../../client/commands/release-holds';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

const MINUTE = 60_000;
let h: SimHarness;

beforeAll(async () => {
  h = await startSimHarness(
    [
      clusterEntry('auto', {
        version: '1.30',
        autoMode: true,
        nodegroups: [],
        addons: [],
        nodePools: [{ name: 'web', nodes: 4, budgetNodes: '50%' }],
      }),
    ],
    { timeScale: 1 },
  );
});

afterAll(async () => {
  await h?.stop();
});

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
async function nodePool(name: string): Promise<any> {
  const ref = h.ref('auto');
  const kc = await h.deps.kube(ref, clusterAccess(await describeClusterRaw(h.deps.eks(ref), 'auto')));
  return kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
    group: 'karpenter.sh',
    version: 'v1',
    plural: 'nodepools',
    name,
  });
}

/** The count awaitAutoModeNodes sees now (a timeout of 0 answers with it at once). */
async function countNow(): Promise<string> {
  try {
    const done = await h.activities.awaitAutoModeNodes({ cluster: h.ref('auto'), targetVersion: '1.31', timeoutMs: 0 });
    return `${done.onTarget}/${done.total}`;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return String((err as ApplicationFailure).message.match(/(\d+\/\d+) on 1\.31/)?.[1]);
  }
}

describe('Auto Mode activities against the simulator', () => {
  it('holds the custom pool through an upgrade, the recovery command releases it, then every NodeClaim follows', async () => {
    const ref = h.ref('auto');
    const hold = { cluster: ref, workflowId: 'cluster-upgrade/auto', runId: 'run-1', forMs: 2 * 3600_000 };
    expect(await h.activities.holdNodePools(hold)).toEqual({ held: ['web'], builtIn: ['general-purpose', 'system'] });
    // A retried attempt finds its own hold and writes nothing.
    await h.activities.holdNodePools(hold);
    const held = await nodePool('web');
    expect(held.spec.disruption.budgets).toHaveLength(2);
    expect(held.spec.disruption.budgets[1]).toMatchObject({ nodes: '0', reasons: ['Drifted'], duration: '2h30m' });
    expect(JSON.parse(held.metadata.annotations[HOLD_ANNOTATION])).toMatchObject({
      workflowId: 'cluster-upgrade/auto',
      budgets: [{ nodes: '50%' }],
    });

    const eks = h.deps.eks(ref);
    const up = await eks.send(new UpdateClusterVersionCommand({ name: 'auto', version: '1.31' }));
    expect(up.update?.status).toBe('InProgress');
    h.sim.advance(60 * MINUTE);
    // The built-in pools (2 + 1 nodes) moved; the 4 nodes of the held pool did not.
    expect(await countNow()).toBe('3/7');

    const out: string[] = [];
    const command = releaseHoldsCommand({ out: (t) => out.push(t), err: () => undefined }, h.deps);
    await command.parseAsync(['--cluster', 'auto', '--region', 'us-east-1'], { from: 'user' });
    expect(out.join('')).toBe('auto: released web\n');
    const released = await nodePool('web');
    expect(released.spec.disruption.budgets).toEqual([{ nodes: '50%' }]);
    expect(released.metadata.annotations[HOLD_ANNOTATION]).toBeUndefined();

    // 50% of 4: two at a time, a few minutes each.
    h.sim.advance(30 * MINUTE);
    expect(await h.activities.awaitAutoModeNodes({ cluster: ref, targetVersion: '1.31', timeoutMs: 0 })).toEqual({
      onTarget: 7,
      total: 7,
      target: '1.31',
    });

    const again: string[] = [];
    await releaseHoldsCommand({ out: (t) => again.push(t), err: () => undefined }, h.deps).parseAsync(
      ['--cluster', 'auto', '--region', 'us-east-1', '--json'],
      { from: 'user' },
    );
    expect(JSON.parse(again.join(''))).toEqual({ cluster: 'auto', released: [] });
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
