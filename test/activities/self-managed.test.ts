/**
 * Self-managed node groups against the simulator, through the real Auto Scaling, EC2 and
 * Kubernetes clients: a refresh that fleetwave drains node by node reaches the pinned AMI, and a
 * PodDisruptionBudget that allows no disruption fails the step with the budget named while no
 * instance is terminated undrained (asserted from the simulator's record of each termination).
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import { amiImageIdOf, releasesOf } from '../../simulator/ami-catalogue';
import { findCluster } from '../../simulator/index';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

const AMI_131 = amiImageIdOf(
  'AL2023_x86_64_STANDARD',
  '1.31',
  releasesOf('AL2023_x86_64_STANDARD', '1.31')[0] ?? '',
  'us-east-1',
);

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function cluster(pdbs: { name: string; namespace: string; allowedDisruptions: number }[]) {
  return clusterEntry('legacy', {
    version: '1.31',
    nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1 }],
    selfManagedGroups: [{ name: 'workers', version: '1.30', nodes: 3 }],
    pdbs,
  });
}

const START = { minHealthyPercentage: 90, checkpoints: [50, 100], hookTimeoutS: 7200, workflowId: 'wf-1' };

describe('self-managed node groups (instance refresh with fleetwave drains)', () => {
  it('finds the group by its cluster tag, refreshes it to the pinned AMI and drains every node first', async () => {
    h = await startSimHarness([cluster([])]);
    const a = h.activities;
    const ref = h.ref('legacy');
    const groups = await a.readSelfManagedGroups({ cluster: ref });
    expect(groups.map((g) => [g.name, g.launchTemplate.version, g.instances])).toEqual([['workers', '1', 3]]);

    const handle = await a.startSelfManagedRefresh({ cluster: ref, group: 'workers', imageId: AMI_131, ...START });
    expect(handle).toMatchObject({ group: 'workers', fromVersion: '1', toVersion: '2' });
    // A retried attempt finds the version and adopts the running refresh: nothing twice.
    const again = await a.startSelfManagedRefresh({ cluster: ref, group: 'workers', imageId: AMI_131, ...START });
    expect(again).toEqual(handle);

    const {
      groups: [result],
    } = await a.awaitSelfManagedRefreshes({
      cluster: ref,
      handles: [handle],
      drainTimeoutMs: 5_000,
      timeoutMs: 120_000,
    });
    expect(result).toMatchObject({ group: 'workers', status: 'Successful', toVersion: '2' });
    expect(result?.replaced).toHaveLength(3);

    const asg = findCluster(h.sim.state('legacy'), 'legacy')?.autoScalingGroups?.[0];
    expect(asg?.launchTemplateVersion).toBe('2');
    expect(asg?.refreshes).toHaveLength(1);
    expect(asg?.instances.filter((i) => i.state === 'InService').map((i) => i.imageId)).toEqual([
      AMI_131,
      AMI_131,
      AMI_131,
    ]);
    expect(asg?.terminations).toHaveLength(3);
    for (const t of asg?.terminations ?? []) {
      expect(t).toMatchObject({ via: 'lifecycle-action', cordoned: true, podsLeft: 0 });
    }
    const after = await a.readSelfManagedGroups({ cluster: ref });
    expect(after[0]).toMatchObject({ imageId: AMI_131, launchTemplate: { version: '2' } });
    // Already on the image: nothing is started.
    const done = await a.startSelfManagedRefresh({ cluster: ref, group: 'workers', imageId: AMI_131, ...START });
    expect(done.refreshId).toBeUndefined();
  });

  it('startSelfManagedRefreshes finds each group, tells its family from its AMI, and starts it on the pinned release', async () => {
    h = await startSimHarness([cluster([])]);
    const a = h.activities;
    const ref = h.ref('legacy');
    const release = releasesOf('AL2023_x86_64_STANDARD', '1.31')[0] ?? '';
    const handles = await a.startSelfManagedRefreshes({
      cluster: ref,
      targetVersion: '1.31',
      pinned: {
        nodegroupRelease: {},
        amis: { 'us-east-1': { AL2023_x86_64_STANDARD: { '1.31': release } } },
        addons: {},
        resolvedAt: new Date(0).toISOString(),
      },
      ...START,
    });
    expect(handles).toEqual([
      expect.objectContaining({ group: 'workers', imageId: AMI_131, fromVersion: '1', toVersion: '2' }),
    ]);
    const { groups } = await a.awaitSelfManagedRefreshes({
      cluster: ref,
      handles,
      drainTimeoutMs: 5_000,
      timeoutMs: 120_000,
    });
    expect(groups[0]?.replaced).toHaveLength(3);
  });

  it('a PodDisruptionBudget allowing no disruption fails the step, names the budget, terminates nothing undrained', async () => {
    h = await startSimHarness([cluster([{ name: 'payments-api', namespace: 'payments', allowedDisruptions: 0 }])]);
    const a = h.activities;
    const ref = h.ref('legacy');
    const handle = await a.startSelfManagedRefresh({ cluster: ref, group: 'workers', imageId: AMI_131, ...START });
    const err = await a
      .awaitSelfManagedRefreshes({ cluster: ref, handles: [handle], drainTimeoutMs: 1_500, timeoutMs: 120_000 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('SelfManagedDrainBlocked');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('payments/payments-api');
    expect(failure.message).toContain('workers');

    const asg = findCluster(h.sim.state('legacy'), 'legacy')?.autoScalingGroups?.[0];
    expect(asg?.terminations).toEqual([]);
    expect(asg?.instances.filter((i) => i.state === 'Terminating:Wait')).toHaveLength(1);
    expect(asg?.instances.filter((i) => i.launchTemplateVersion === 2)).toHaveLength(0);
    expect(asg?.refreshes[0]?.status).toMatch(/^Cancell/);
  });

  it('rolls back while the refresh runs, and refreshes forward once it has ended', async () => {
    h = await startSimHarness([cluster([])]);
    const a = h.activities;
    const ref = h.ref('legacy');
    const handle = await a.startSelfManagedRefresh({ cluster: ref, group: 'workers', imageId: AMI_131, ...START });
    const back = await a.rollbackSelfManagedGroup({ cluster: ref, handle, minHealthyPercentage: 90 });
    expect(back).toMatchObject({ group: 'workers', how: 'rollback', refreshId: handle.refreshId });
    expect(findCluster(h.sim.state('legacy'), 'legacy')?.autoScalingGroups?.[0]?.refreshes[0]?.status).toBe(
      'RollbackInProgress',
    );

    h.sim.advance(6 * 3600_000);
    const next = await a.startSelfManagedRefresh({
      cluster: ref,
      group: 'workers',
      imageId: AMI_131,
      ...START,
      checkpoints: [],
    });
    await a.awaitSelfManagedRefreshes({ cluster: ref, handles: [next], drainTimeoutMs: 5_000, timeoutMs: 120_000 });
    const forward = await a.rollbackSelfManagedGroup({ cluster: ref, handle: next, minHealthyPercentage: 90 });
    expect(forward.how).toBe('forward');
    const refreshes = findCluster(h.sim.state('legacy'), 'legacy')?.autoScalingGroups?.[0]?.refreshes ?? [];
    expect(refreshes.map((r) => r.status)).toEqual(['RollbackSuccessful', 'Successful', 'InProgress']);
  });
});
