/**
 * A cluster upgrade terminated in the middle of its control-plane bake on an EKS Auto Mode
 * cluster ran no cleanup of its own: the campaign sees the child terminated and releases the
 * NodePool holds that workflow placed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterUpgradeWorkflowId, statusQuery } from '../../workflows/definitions';
import type { ReleaseNodePoolHoldsInput } from '../../activities/types';
import { createFakeActivities, fakeCluster, heartbeatUntil } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
} from './campaign-harness';

describe('campaign workflow: Auto Mode holds', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('releases the NodePool holds of a cluster upgrade terminated mid-bake', async () => {
    const tag = uniqueTag();
    const name = `am-${tag}`;
    let bakeStarted = false;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const fake = createFakeActivities({
      clusters: [fakeCluster(name, { behaviour: { autoMode: { nodePools: ['web'] } } })],
      beforeCall: (call) => {
        if (call.label !== 'checkClusterHealth:bake') return undefined;
        bakeStarted = true;
        return heartbeatUntil(held);
      },
    });
    const campaign = makeCampaign(`am-${tag}`, {
      healthGates: [
        {
          name: 'errors',
          query: 'sum(rate(errors[5m]))',
          condition: '< 1',
          phases: ['bake'],
        },
      ] as never,
      // The terminated cluster counts as failed: a budget of 1 lets the campaign end.
      waves: [{ name: 'all', maxParallel: 1, failureBudget: 1, approval: 'auto' }] as never,
      rollback: { onGateFailure: true, onUpdateFailure: true, controlPlane: true, controlPlaneBake: '30m' },
    });
    const taskQueue = temporal.taskQueue('campaign-automode');
    const { result, status } = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(temporal, taskQueue, campaign, [fake.member(name)]);
      const deadline = Date.now() + 30_000;
      while (!bakeStarted) {
        if (Date.now() > deadline) throw new Error('the control-plane bake did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      await temporal.client.workflow.getHandle(clusterUpgradeWorkflowId(name)).terminate('operator gave up');
      release();
      await waitForStatus(handle, (s) => s.clusters.some((c) => c.state === 'failed'), 30_000, 'the cluster failed');
      const result = await resultWithin(handle);
      await recordHistory(handle, 'release-holds-of-terminated');
      return { result, status: await handle.query(statusQuery) };
    });
    const holds = fake.calls.filter((c) => c.cluster === name && c.name === 'holdNodePools');
    const releases = fake.calls.filter((c) => c.cluster === name && c.name === 'releaseNodePoolHolds');
    expect(holds).toHaveLength(1);
    // The terminated workflow released nothing itself; the campaign did, for that workflow's holds.
    expect(releases).toHaveLength(1);
    expect((releases[0]?.input as ReleaseNodePoolHoldsInput).workflowId).toBe(clusterUpgradeWorkflowId(name));
    expect(result.failed).toEqual([name]);
    expect(status.clusters[0]?.reason).toContain('NodePool holds released: web');
  });
});
