/**
 * EKS activities against the fleet simulator, through the real AWS SDK clients that
 * createDefaultDeps builds, each activity run in a MockActivityEnvironment (real activity
 * context: heartbeats, heartbeat details of a previous attempt, cancellation).
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwaitUpdateProgress, UpdateFailureDetails } from '../../activities/eks/await-update';
import { FailureTypes, type ClusterRef, type PinnedVersions, type UpdateHandle } from '../../activities/types';
import { toFleetMember, clusterInventorySchema } from '../../domain/fleet';
import { targetSchema } from '../../domain/spec';
import { defaultAddonVersion, latestRelease } from '../../simulator/index';
import { activityEnvironment, recordHeartbeats, retryEnvironment, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;

beforeAll(async () => {
  h = await startSimHarness([
    clusterEntry('alpha'),
    clusterEntry('beta', { faults: { slowFactor: 20 } }),
    clusterEntry('gamma', { faults: { slowFactor: 4 } }),
    clusterEntry('delta', { faults: { nodegroupUpdateFails: 'PodEvictionFailure' } }),
    clusterEntry('epsilon', {
      nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1, launchTemplate: { name: 'eps-lt', version: '3' } }],
    }),
    clusterEntry('zeta', {
      faults: { insightsError: true },
      pdbs: [{ name: 'db', namespace: 'data', allowedDisruptions: 0 }],
      nodegroups: [
        { name: 'general', nodes: 2, maxUnavailable: 1 },
        { name: 'legacy', version: '1.28', nodes: 1, maxUnavailable: 1 },
      ],
    }),
    clusterEntry('eta', {
      region: 'eu-west-1',
      labels: { env: 'prod', team: 'payments' },
      version: '1.30',
      addons: [],
    }),
    clusterEntry('kappa', {
      nodegroups: [
        {
          name: 'custom',
          nodes: 2,
          maxUnavailable: 1,
          amiType: 'CUSTOM',
          launchTemplate: { name: 'kap-lt', version: '5', imageId: 'ami-0123456789abcdef0' },
        },
      ],
    }),
    clusterEntry('lambda', { nodegroups: [] }),
    clusterEntry('theta', { faults: { slowFactor: 50 } }),
    clusterEntry('iota', { faults: { throttleRate: 1 } }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const A = () => h.activities;
const step = (cluster: ClusterRef, attempt = 1) => ({ campaign: 'spring-upgrade', cluster, attempt });

async function awaitDone(handle: UpdateHandle) {
  return runActivity(A().awaitUpdate, { handle, timeoutMs: 60_000 });
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('EKS activities against the simulator', () => {
  it('upgrades one cluster end to end (control plane, add-ons, node groups) through activities alone', async () => {
    const cluster = h.ref('alpha');
    const target = targetSchema.parse({ kubernetesVersion: '1.30' });
    const pinned: PinnedVersions = await runActivity(A().resolveTargetVersions, {
      target,
      region: 'us-east-1',
      minors: ['1.30'],
      addonNames: ['vpc-cni', 'kube-proxy'],
    });
    expect(pinned.kubernetesVersion).toBe('1.30');
    expect(pinned.nodegroupRelease['1.30']).toBe(latestRelease('1.30'));
    expect(pinned.addons['1.30']).toEqual({
      'vpc-cni': defaultAddonVersion('vpc-cni', '1.30'),
      'kube-proxy': defaultAddonVersion('kube-proxy', '1.30'),
    });

    // Preflight takes the Kubernetes baseline in the same call, before anything is touched.
    const preflight = await runActivity(A().preflightCluster, {
      cluster,
      targetVersion: '1.30',
      pinned,
      captureBaseline: true,
    });
    expect(preflight.path).toEqual(['1.30']);
    expect(preflight.blockers).toEqual([]);
    expect(preflight.state.nodegroups.map((n) => n.name)).toEqual(['general']);
    expect(preflight.blockingPdbs).toEqual([]);
    const baseline = preflight.baseline;
    expect(baseline).toEqual(await runActivity(A().captureKubernetesBaseline, { cluster }));

    const cp = await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' });
    expect(cp).toMatchObject({ adopted: false, alreadyAtTarget: false });
    expect(cp.updateId).toBeTruthy();
    expect(await awaitDone(cp)).toMatchObject({ status: 'Successful', updateId: cp.updateId });

    for (const [addon, version] of Object.entries(pinned.addons['1.30'] ?? {})) {
      const handle = await runActivity(A().startAddonUpdate, { ...step(cluster), addon, version });
      expect(handle.addon).toBe(addon);
      await awaitDone(handle);
    }
    const ng = await runActivity(A().startNodegroupUpdate, {
      ...step(cluster),
      nodegroup: 'general',
      version: '1.30',
      releaseVersion: pinned.nodegroupRelease['1.30'],
      force: false,
    });
    expect(ng.nodegroup).toBe('general');
    await awaitDone(ng);

    const health = await runActivity(A().checkKubernetesHealth, {
      cluster,
      checks: { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true },
      expectedKubeletMinor: { general: '1.30' },
      ...(baseline ? { baseline } : {}),
    });
    expect(health).toEqual({ healthy: true, failures: [], nodes: { total: 3, ready: 3 } });

    const state = await runActivity(A().describeCluster, { cluster });
    expect(state).toMatchObject({ version: '1.30', status: 'ACTIVE' });
    expect(state.nodegroups[0]).toMatchObject({
      version: '1.30',
      releaseVersion: latestRelease('1.30'),
      status: 'ACTIVE',
    });
    expect(Object.fromEntries(state.addons.map((a) => [a.name, a.version]))).toEqual(pinned.addons['1.30']);
    expect((await h.mutations('alpha')).map((m) => m.operation)).toEqual([
      'UpdateClusterVersion',
      'UpdateAddon',
      'UpdateAddon',
      'UpdateNodegroupVersion',
    ]);

    // Everything is at target now: a rerun starts nothing.
    const again = await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' });
    expect(again).toMatchObject({ alreadyAtTarget: true });
    expect(again.updateId).toBeUndefined();
    expect(await awaitDone(again)).toEqual({ status: 'Successful', polls: 0 });
    const latestAgain = await runActivity(A().startNodegroupUpdate, {
      ...step(cluster, 2),
      nodegroup: 'general',
      force: false,
    });
    expect(latestAgain).toMatchObject({ alreadyAtTarget: true });
    expect(await h.mutations('alpha')).toHaveLength(4);
  });

  it('each start called twice, as a retry would, leaves one accepted mutation', async () => {
    const cluster = h.ref('beta');
    const cp1 = await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' });
    const cp2 = await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' });
    expect(cp2).toMatchObject({ updateId: cp1.updateId, adopted: true });
    expect(await h.mutations('beta')).toHaveLength(1);
    // Updates of beta are 20 times slower (so they are still running at the second call); skip ahead.
    h.sim.advance(12 * 3_600_000);
    await awaitDone(cp2);

    const addon = { ...step(cluster), addon: 'vpc-cni', version: defaultAddonVersion('vpc-cni', '1.30') ?? '' };
    const a1 = await runActivity(A().startAddonUpdate, addon);
    const a2 = await runActivity(A().startAddonUpdate, addon);
    expect(a2).toMatchObject({ updateId: a1.updateId, adopted: true });
    h.sim.advance(3_600_000);
    await awaitDone(a1);

    // Two attempts racing (a worker crashed after EKS accepted the call, and the retry started
    // before the first one's result was recorded): both write, with the same token.
    const ngInput = {
      ...step(cluster),
      nodegroup: 'general',
      version: '1.30',
      releaseVersion: latestRelease('1.30'),
      force: false,
    };
    const [n1, n2] = await Promise.all([
      runActivity(A().startNodegroupUpdate, ngInput),
      runActivity(A().startNodegroupUpdate, ngInput),
    ]);
    expect(n2.updateId).toBe(n1.updateId);
    const n3 = await runActivity(A().startNodegroupUpdate, ngInput);
    expect(n3).toMatchObject({ updateId: n1.updateId, adopted: true });

    const mutations = await h.mutations('beta');
    expect(mutations.map((m) => [m.operation, m.addon ?? m.nodegroup ?? ''])).toEqual([
      ['UpdateClusterVersion', ''],
      ['UpdateAddon', 'vpc-cni'],
      ['UpdateNodegroupVersion', 'general'],
    ]);
    expect(new Set(mutations.map((m) => m.clientRequestToken)).size).toBe(3);
    h.sim.advance(24 * 3_600_000);
    await awaitDone(n1);
  });

  it('awaitUpdate resumes from its heartbeat after an interrupted attempt, and honours cancellation', async () => {
    const cluster = h.ref('gamma');
    const handle = await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' });

    const first = activityEnvironment();
    const beats = recordHeartbeats(first);
    const attempt1 = runActivity(A().awaitUpdate, { handle, timeoutMs: 60_000 }, first);
    while (beats.length < 2) await new Promise((r) => setTimeout(r, 20));
    first.cancel();
    await expect(attempt1).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats[beats.length - 1] as AwaitUpdateProgress;
    expect(last).toMatchObject({ updateId: handle.updateId, lastStatus: 'InProgress' });
    expect(last.polls).toBeGreaterThanOrEqual(2);

    const second = retryEnvironment(last);
    const beats2 = recordHeartbeats(second);
    const outcome = await runActivity(A().awaitUpdate, { handle, timeoutMs: 60_000 }, second);
    expect(outcome.status).toBe('Successful');
    expect((beats2[0] as AwaitUpdateProgress).polls).toBe(last.polls + 1);
    expect((beats2[0] as AwaitUpdateProgress).startedAtMs).toBe(last.startedAtMs);
    expect(outcome.polls).toBe(last.polls + beats2.length);
  });

  it('awaitUpdate fails with a typed non-retryable error that carries EKS error codes', async () => {
    const cluster = h.ref('delta');
    const before = await runActivity(A().describeCluster, { cluster });
    const handle = await runActivity(A().startNodegroupUpdate, {
      ...step(cluster),
      nodegroup: 'general',
      releaseVersion: latestRelease('1.29'),
      force: false,
    });
    const failure = await failureOf(awaitDone(handle));
    expect(failure.type).toBe(FailureTypes.UpdateFailed);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('PodEvictionFailure');
    const details = failure.details?.[0] as UpdateFailureDetails;
    expect(details).toMatchObject({ updateId: handle.updateId, status: 'Failed' });
    expect(details.errors[0]?.errorCode).toBe('PodEvictionFailure');

    // Nothing changed, so the rollback has nothing to undo.
    const previous = before.nodegroups[0]!;
    const rollback = await runActivity(A().rollbackNodegroup, { ...step(cluster), nodegroup: 'general', previous });
    expect(rollback).toMatchObject({ alreadyAtTarget: true });
  });

  it('keeps a node group whose AMI EKS picks (the rule, no mutation), rolls the add-on back, and keeps the control plane above it', async () => {
    const cluster = h.ref('epsilon');
    const before = await runActivity(A().describeCluster, { cluster });
    const previousNg = before.nodegroups[0]!;
    expect(previousNg.launchTemplate).toMatchObject({ name: 'eps-lt', version: '3' });
    const previousCni = before.addons.find((a) => a.name === 'vpc-cni')!.version;

    await awaitDone(await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' }));
    const cni = defaultAddonVersion('vpc-cni', '1.30')!;
    await awaitDone(await runActivity(A().startAddonUpdate, { ...step(cluster), addon: 'vpc-cni', version: cni }));
    await awaitDone(
      await runActivity(A().startNodegroupUpdate, {
        ...step(cluster),
        nodegroup: 'general',
        version: '1.30',
        force: false,
      }),
    );
    const upgraded = await runActivity(A().describeCluster, { cluster });
    expect(upgraded.nodegroups[0]).toMatchObject({ version: '1.30' });
    const count = (await h.mutations('epsilon')).length;

    // A launch template without a custom AMI: EKS picks the AMI, so the node group stays, retry after retry.
    const ngBack = { ...step(cluster), nodegroup: 'general', previous: previousNg };
    for (let i = 0; i < 2; i++) {
      const kept = await runActivity(A().rollbackNodegroup, ngBack);
      expect(kept.updateId).toBeUndefined();
      expect(kept.alreadyAtTarget).toBe(false);
      expect(kept.kept?.reason).toMatch(
        /^node group general stays at 1\.30 \(.+\): EKS picks its AL2023_x86_64_STANDARD AMI, and EKS cannot roll a node group back to an earlier Kubernetes or AMI version .*\(Amazon EKS API Reference: UpdateNodegroupVersion\)$/,
      );
    }
    const addonBack = { ...step(cluster), addon: 'vpc-cni', previousVersion: previousCni };
    const a1 = await runActivity(A().rollbackAddon, addonBack);
    await runActivity(A().rollbackAddon, addonBack);
    await awaitDone(a1);
    // A kubelet may not be newer than its API server: the control plane stays with the node group.
    const cp = await runActivity(A().rollbackControlPlane, { ...step(cluster), toVersion: '1.29' });
    expect(cp.kept?.reason).toBe(
      'control plane stays at 1.30: node group general 1.30 runs a kubelet newer than Kubernetes 1.29',
    );

    const after = await runActivity(A().describeCluster, { cluster });
    expect(after.version).toBe('1.30');
    expect(after.nodegroups[0]).toMatchObject({ version: '1.30' });
    expect(after.addons.find((a) => a.name === 'vpc-cni')?.version).toBe(previousCni);
    const rollbacks = (await h.mutations('epsilon')).slice(count);
    expect(rollbacks.map((m) => [m.operation, m.updateType, m.target])).toEqual([
      ['UpdateAddon', 'AddonUpdate', previousCni],
    ]);
  });

  it('rolls the control plane back one minor by VersionRollback within 7 days, and not after', async () => {
    const cluster = h.ref('lambda');
    const version = async () => (await runActivity(A().describeCluster, { cluster })).version;
    const up = async (attempt: number) =>
      awaitDone(await runActivity(A().startControlPlaneUpgrade, { ...step(cluster, attempt), toVersion: '1.30' }));
    await up(1);
    expect(await version()).toBe('1.30');
    // No node group holds it (kubelet skew insight PASSING): back to 1.29.
    const back = await runActivity(A().rollbackControlPlane, { ...step(cluster), toVersion: '1.29' });
    expect(back.kept).toBeUndefined();
    await awaitDone(back);
    expect(await version()).toBe('1.29');
    // Upgraded again, then 8 days pass: EKS refuses, and the activity says so without retrying.
    await up(2);
    h.sim.advance(8 * 24 * 3600_000);
    const refused = await failureOf(runActivity(A().rollbackControlPlane, { ...step(cluster, 2), toVersion: '1.29' }));
    expect(refused.type).toBe(FailureTypes.RollbackNotPossible);
    expect(refused.nonRetryable).toBe(true);
    expect(refused.message).toMatch(/EKS refused: .*within 7 days of that upgrade/);
    expect(await version()).toBe('1.30');
    const ops = (await h.mutations('lambda')).map((m) => m.updateType);
    expect(ops).toEqual(['VersionUpdate', 'VersionRollback', 'VersionUpdate']);
  });

  it('rolls a custom-AMI node group back to its previous launch-template version, retry-safe', async () => {
    const cluster = h.ref('kappa');
    const now = await runActivity(A().describeCluster, { cluster });
    expect(now.nodegroups[0]).toMatchObject({ amiType: 'CUSTOM', launchTemplate: { name: 'kap-lt', version: '5' } });
    // As the snapshot of a forward step that moved the template from version 4 to 5 recorded it.
    const previous = { ...now.nodegroups[0]!, launchTemplate: { name: 'kap-lt', version: '4' } };
    const count = (await h.mutations('kappa')).length;

    const ngBack = { ...step(cluster), nodegroup: 'custom', previous };
    const r1 = await runActivity(A().rollbackNodegroup, ngBack);
    const r2 = await runActivity(A().rollbackNodegroup, ngBack);
    expect(r1.kept).toBeUndefined();
    expect(r1.updateId).toBeTruthy();
    expect(r2.updateId).toBe(r1.updateId);
    await awaitDone(r1);

    const after = await runActivity(A().describeCluster, { cluster });
    expect(after.nodegroups[0]).toMatchObject({ amiType: 'CUSTOM', launchTemplate: { name: 'kap-lt', version: '4' } });
    const rollbacks = (await h.mutations('kappa')).slice(count);
    expect(rollbacks.map((m) => [m.operation, m.target])).toEqual([['UpdateNodegroupVersion', 'lt:4']]);
    expect(await runActivity(A().rollbackNodegroup, ngBack)).toMatchObject({ alreadyAtTarget: true });
  });

  it('preflight reports failing insights, version skew, and PDBs allowing no disruption as data', async () => {
    const cluster = h.ref('zeta');
    const pinned = await runActivity(A().resolveTargetVersions, {
      target: targetSchema.parse({ kubernetesVersion: '1.32' }),
      region: 'us-east-1',
      minors: ['1.30', '1.31', '1.32'],
      addonNames: ['vpc-cni', 'kube-proxy'],
    });
    const result = await runActivity(A().preflightCluster, { cluster, targetVersion: '1.32', pinned });
    expect(result.path).toEqual(['1.30', '1.31', '1.32']);
    expect(result.blockers.some((b) => b.startsWith('insight') && b.includes('ERROR'))).toBe(true);
    // 1.28 nodes would be four minors behind a 1.32 control plane.
    expect(result.blockers.some((b) => b.includes('legacy') && b.includes('1.32'))).toBe(true);
    // Whether a PDB blocks depends on the plan (node groups drained? spec.nodegroups.force?): the workflow decides.
    expect(result.blockingPdbs).toEqual(['data/db']);
    expect(result.warnings.some((w) => w.includes('data/db'))).toBe(false);
    expect(result.warnings.some((w) => w.includes('legacy runs 1.28'))).toBe(true);
    const withBaseline = await runActivity(A().preflightCluster, {
      cluster,
      targetVersion: '1.32',
      pinned,
      captureBaseline: true,
    });
    expect(withBaseline.baseline).toMatchObject({ blockingPdbs: ['data/db'], crashLoopingPods: [] });
  });

  it('refuses version skips and downgrades with non-retryable VersionSkew, and unknown clusters with EksResourceNotFound', async () => {
    const skip = await failureOf(
      runActivity(A().startControlPlaneUpgrade, { ...step(h.ref('zeta')), toVersion: '1.31' }),
    );
    expect(skip).toMatchObject({ type: FailureTypes.VersionSkew, nonRetryable: true });
    const newer = await failureOf(
      runActivity(A().startNodegroupUpdate, {
        ...step(h.ref('zeta')),
        nodegroup: 'general',
        version: '1.30',
        force: false,
      }),
    );
    expect(newer).toMatchObject({ type: FailureTypes.VersionSkew, nonRetryable: true });
    const missing = await failureOf(runActivity(A().describeCluster, { cluster: h.ref('no-such-cluster') }));
    expect(missing).toMatchObject({ type: FailureTypes.NotFound, nonRetryable: true });
    expect(await h.mutations('zeta')).toHaveLength(0);
  });

  it('classifies throttling and server errors as retryable, and gives up waiting at its own deadline', async () => {
    const throttled = await failureOf(runActivity(A().describeCluster, { cluster: h.ref('iota') }));
    expect(throttled).toMatchObject({ type: 'ThrottlingException', nonRetryable: false });
    h.sim.injectFaults('iota', { throttleRate: null, serverErrorRate: 1 });
    const broken = await failureOf(runActivity(A().describeCluster, { cluster: h.ref('iota') }));
    expect(broken).toMatchObject({ type: 'ServerException', nonRetryable: false });
    h.sim.injectFaults('iota', { serverErrorRate: null });
    expect(await h.mutations('iota')).toHaveLength(0);

    const handle = await runActivity(A().startControlPlaneUpgrade, { ...step(h.ref('theta')), toVersion: '1.30' });
    const timedOut = await failureOf(runActivity(A().awaitUpdate, { handle, timeoutMs: 300 }));
    expect(timedOut).toMatchObject({ type: FailureTypes.UpdateTimedOut, nonRetryable: true });
    expect(timedOut.details?.[0]).toMatchObject({ updateId: handle.updateId, lastStatus: 'InProgress' });
  });

  it('resolves pinned and latest versions and rejects an incompatible pin', async () => {
    const latest = await runActivity(A().resolveTargetVersions, {
      target: targetSchema.parse({
        kubernetesVersion: '1.31',
        addons: 'latest',
        nodegroupRelease: latestRelease('1.31'),
      }),
      region: 'us-east-1',
      minors: ['1.30', '1.31'],
      addonNames: ['vpc-cni'],
    });
    expect(latest.nodegroupRelease).toEqual({ '1.31': latestRelease('1.31') });
    expect(Object.keys(latest.addons)).toEqual(['1.30', '1.31']);
    const bad = await failureOf(
      runActivity(A().resolveTargetVersions, {
        target: targetSchema.parse({ kubernetesVersion: '1.31', addons: { 'vpc-cni': 'v1.16.4-eksbuild.2' } }),
        region: 'us-east-1',
        minors: ['1.31'],
        addonNames: ['vpc-cni'],
      }),
    );
    expect(bad).toMatchObject({ type: FailureTypes.InvalidRequest, nonRetryable: true });
    expect(bad.message).toContain('vpc-cni');
    expect(bad.message).toContain('1.31');
  });

  it('discovers the fleet per region into the fleet file schema, tags as labels', async () => {
    const members = await runActivity(A().discoverFleet, {
      regions: ['us-east-1', 'eu-west-1'],
      tagFilter: { team: 'payments' },
    });
    const expected = toFleetMember(
      clusterInventorySchema.parse(
        clusterEntry('eta', {
          region: 'eu-west-1',
          labels: { env: 'prod', team: 'payments' },
          version: '1.30',
          addons: [],
        }),
      ),
    );
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({
      name: 'eta',
      region: 'eu-west-1',
      account: expected.account,
      version: '1.30',
      labels: expected.labels,
      addons: [],
      nodegroups: expected.nodegroups,
    });
    const all = await runActivity(A().discoverFleet, { regions: ['us-east-1'] });
    expect(all.map((m) => m.name)).toEqual([
      'alpha',
      'beta',
      'delta',
      'epsilon',
      'gamma',
      'iota',
      'kappa',
      'lambda',
      'theta',
      'zeta',
    ]);
  });
});
