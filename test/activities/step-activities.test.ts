/**
 * The composite steps against the fleet simulator (real AWS SDK and Kubernetes client):
 * upgradeControlPlane (every hop, checks between hops) and updateNodegroups (every node group, up
 * to maxParallel at once). What they must keep from the one-update-per-activity steps: one EKS
 * mutation per resource across retries, resuming from the heartbeat, failure details that say what
 * was changed; and what they add: a cancellation the workflow asked for finishes the update in
 * flight and returns `stopped` instead of failing, while a worker shutdown ends the attempt.
 */
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlaneProgress, NodegroupsProgress } from '../../activities/steps';
import {
  FailureTypes,
  type ClusterRef,
  type StepFailureDetails,
  type UpdateNodegroupsInput,
  type UpgradeControlPlaneInput,
} from '../../activities/types';
import { latestRelease } from '../../simulator/index';
import { activityEnvironment, recordHeartbeats, retryEnvironment, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
/** The simulator's request log. */
const requests: string[] = [];

const twoNodegroups = [
  { name: 'ng-a', nodes: 3, maxUnavailable: 1 },
  { name: 'ng-b', nodes: 3, maxUnavailable: 1 },
];

beforeAll(async () => {
  h = await startSimHarness(
    [
      clusterEntry('st-hops'),
      // Updates 10 times slower (seconds, not a fraction of one): an attempt can be interrupted mid-way.
      clusterEntry('st-resume', { faults: { slowFactor: 10 } }),
      clusterEntry('st-stop', { faults: { slowFactor: 10 } }),
      clusterEntry('st-ng', { nodegroups: twoNodegroups }),
      clusterEntry('st-ng-stop', { nodegroups: twoNodegroups, faults: { slowFactor: 10 } }),
      clusterEntry('st-ng-fail', {
        nodegroups: twoNodegroups.map((ng) => ({ ...ng, version: '1.29' })),
        version: '1.30',
        faults: { nodegroupUpdateFails: 'NodeCreationFailure' },
      }),
      clusterEntry('st-ng-minor', {
        nodegroups: twoNodegroups.map((ng) => ({ ...ng, version: '1.29' })),
        version: '1.30',
      }),
    ],
    { log: (line) => requests.push(line) },
  );
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const A = () => h.activities;
const identity = (cluster: ClusterRef) => ({ campaign: 'steps', cluster, attempt: 1 });

const kubernetesChecks: UpgradeControlPlaneInput['checksBetweenHops'] = {
  phase: 'postStep',
  gates: [],
  checks: { nodesReady: true, kubeletVersionsMatch: false, noNewCrashLoops: true },
  runKubernetesChecks: true,
};

const hops = (cluster: ClusterRef, checks = true): UpgradeControlPlaneInput => ({
  ...identity(cluster),
  hops: ['1.30', '1.31'],
  ...(checks ? { checksBetweenHops: kubernetesChecks } : {}),
  timeoutMs: 120_000,
});

/** Patch both node groups to the newest AMI release of their minor (no version change). */
const patchNodegroups = (cluster: ClusterRef, minor: string, maxParallel: number): UpdateNodegroupsInput => ({
  ...identity(cluster),
  nodegroups: ['ng-a', 'ng-b'].map((nodegroup) => ({ nodegroup, releaseVersion: latestRelease(minor) })),
  force: false,
  maxParallel,
  timeoutMs: 120_000,
});

const mutations = async (cluster: string, operation: string) =>
  (await h.mutations(cluster)).filter((m) => m.operation === operation).map((m) => m.nodegroup ?? m.target);

const until = async (what: () => boolean): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('upgradeControlPlane', () => {
  it('takes every hop in turn, with the Kubernetes checks between them, one mutation each', async () => {
    const cluster = h.ref('st-hops');
    const result = await runActivity(A().upgradeControlPlane, hops(cluster));
    expect(result.hops.map((x) => [x.target, x.alreadyAtTarget, x.adopted])).toEqual([
      ['1.30', false, false],
      ['1.31', false, false],
    ]);
    expect(result.unhealthy).toBeUndefined();
    expect(result.stopped).toBeUndefined();
    expect(await mutations('st-hops', 'UpdateClusterVersion')).toEqual(['1.30', '1.31']);
    expect((await runActivity(A().describeCluster, { cluster })).version).toBe('1.31');
    // Again (a retry whose heartbeat was lost): both hops found at target, nothing sent.
    const again = await runActivity(A().upgradeControlPlane, hops(cluster));
    expect(again.hops.map((x) => x.alreadyAtTarget)).toEqual([true, true]);
    expect(await mutations('st-hops', 'UpdateClusterVersion')).toHaveLength(2);
  });

  it('after a worker shutdown mid-hop, the retry resumes from its heartbeat and starts nothing twice', async () => {
    const cluster = h.ref('st-resume');
    const input = hops(cluster, false);
    const first = activityEnvironment();
    const beats = recordHeartbeats(first) as ControlPlaneProgress[];
    const attempt1 = runActivity(A().upgradeControlPlane, input, first);
    await until(() => beats.some((b) => b.index === 1 && b.updateId !== undefined && (b.polls ?? 0) >= 1));
    first.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    await expect(attempt1).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats.at(-1) as ControlPlaneProgress;
    expect(last).toMatchObject({ index: 1, stage: 'update', results: [{ target: '1.30' }] });

    const second = retryEnvironment(last);
    const beats2 = recordHeartbeats(second) as ControlPlaneProgress[];
    const result = await runActivity(A().upgradeControlPlane, input, second);
    expect(result.hops.map((x) => x.target)).toEqual(['1.30', '1.31']);
    expect(result.hops[1]?.updateId).toBe(last.updateId);
    // Straight back to polling the update it had started, counting on from its polls.
    expect(beats2[0]).toMatchObject({ index: 1, updateId: last.updateId, polls: (last.polls ?? 0) + 1 });
    expect(await mutations('st-resume', 'UpdateClusterVersion')).toEqual(['1.30', '1.31']);
  });

  it('a cancellation the workflow asked for finishes the hop in flight and returns stopped, its checks not run', async () => {
    const cluster = h.ref('st-stop');
    const env = activityEnvironment();
    const beats = recordHeartbeats(env) as ControlPlaneProgress[];
    const run = runActivity(A().upgradeControlPlane, hops(cluster), env);
    await until(() => beats.some((b) => b.index === 0 && b.updateId !== undefined && (b.polls ?? 0) >= 1));
    env.cancel();
    const result = await run;
    expect(result).toMatchObject({ stopped: true, uncheckedHop: '1.30', gates: [] });
    expect(result.hops.map((x) => x.target)).toEqual(['1.30']);
    expect(await mutations('st-stop', 'UpdateClusterVersion')).toEqual(['1.30']);
    expect((await runActivity(A().describeCluster, { cluster })).version).toBe('1.30');
  });
});

describe('updateNodegroups', () => {
  it('updates every node group, two at once, one mutation each', async () => {
    const cluster = h.ref('st-ng');
    const result = await runActivity(A().updateNodegroups, patchNodegroups(cluster, '1.29', 2));
    expect(result.stopped).toBeUndefined();
    expect(result.results.map((x) => x.target).sort()).toEqual(['ng-a', 'ng-b']);
    expect(result.results.every((x) => x.updateId && !x.alreadyAtTarget)).toBe(true);
    expect((await mutations('st-ng', 'UpdateNodegroupVersion')).sort()).toEqual(['ng-a', 'ng-b']);
    const state = await runActivity(A().describeCluster, { cluster });
    expect(state.nodegroups.map((ng) => ng.releaseVersion)).toEqual([latestRelease('1.29'), latestRelease('1.29')]);
  });

  it('reads the control plane version once for the node groups it starts together', async () => {
    const cluster = h.ref('st-ng-minor');
    const from = requests.length;
    const result = await runActivity(A().updateNodegroups, {
      ...identity(cluster),
      nodegroups: ['ng-a', 'ng-b'].map((nodegroup) => ({ nodegroup, version: '1.30' })),
      force: false,
      maxParallel: 2,
      timeoutMs: 120_000,
    });
    expect(result.results.map((x) => x.target).sort()).toEqual(['ng-a', 'ng-b']);
    expect((await mutations('st-ng-minor', 'UpdateNodegroupVersion')).sort()).toEqual(['ng-a', 'ng-b']);
    const describes = requests.slice(from).filter((l) => /^GET \/clusters\/st-ng-minor /.test(l));
    expect(describes).toHaveLength(1);
  });

  it('a cancellation the workflow asked for awaits the node group in flight and starts no other', async () => {
    const cluster = h.ref('st-ng-stop');
    const env = activityEnvironment();
    const beats = recordHeartbeats(env) as NodegroupsProgress[];
    const run = runActivity(A().updateNodegroups, patchNodegroups(cluster, '1.29', 1), env);
    await until(() => beats.some((b) => b.slots[0]?.updateId !== undefined && (b.slots[0]?.polls ?? 0) >= 1));
    env.cancel();
    const result = await run;
    expect(result.stopped).toBe(true);
    expect(result.results.map((x) => x.target)).toEqual(['ng-a']);
    expect(await mutations('st-ng-stop', 'UpdateNodegroupVersion')).toEqual(['ng-a']);
  });

  it('a failed node group is a non-retryable EksUpdateFailed naming it and every node group the step changed', async () => {
    const cluster = h.ref('st-ng-fail');
    const err = await runActivity(A().updateNodegroups, {
      ...identity(cluster),
      nodegroups: ['ng-a', 'ng-b'].map((nodegroup) => ({ nodegroup, version: '1.30' })),
      force: false,
      maxParallel: 1,
      timeoutMs: 120_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: FailureTypes.UpdateFailed, nonRetryable: true });
    const details = (err as ApplicationFailure).details?.[0] as StepFailureDetails;
    // One at a time: ng-a failed, so ng-b never started.
    expect(details).toMatchObject({ failed: 'ng-a', reached: ['ng-a'], done: [], status: 'Failed' });
    expect(details.updateId).toBeTruthy();
    expect(await mutations('st-ng-fail', 'UpdateNodegroupVersion')).toEqual(['ng-a']);
  });
});
