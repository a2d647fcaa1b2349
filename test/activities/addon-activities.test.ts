/**
 * Add-on activities against the fleet simulator: updateAddons (every add-on of a cluster started
 * together in one activity, retry-safe by its heartbeat and by idempotent starts; a failure ends
 * the step only once no add-on update is in flight) and the rollbacks EKS cannot do (an add-on
 * version the control plane's minor does not support; a control plane under an add-on that needs
 * the newer minor), which are `kept`, not failed.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FailureTypes,
  type AddonUpdateFailureDetails,
  type ClusterRef,
  type UpdateAddonsInput,
  type UpdateHandle,
} from '../../activities/types';
import type { AddonsProgress } from '../../activities/steps';
import { defaultAddonVersion } from '../../simulator/index';
import { activityEnvironment, recordHeartbeats, retryEnvironment, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;

const VPC_CNI_130 = defaultAddonVersion('vpc-cni', '1.30') ?? '';
const KUBE_PROXY_130 = defaultAddonVersion('kube-proxy', '1.30') ?? '';
const COREDNS_128 = 'v1.10.1-eksbuild.13';
const COREDNS_130 = defaultAddonVersion('coredns', '1.30') ?? '';
const KUBE_PROXY_132 = defaultAddonVersion('kube-proxy', '1.32') ?? '';

beforeAll(async () => {
  const at130 = {
    version: '1.30',
    addons: [
      { name: 'vpc-cni', version: 'v1.18.3-eksbuild.3' },
      { name: 'kube-proxy', version: 'v1.30.6-eksbuild.3' },
    ],
  };
  h = await startSimHarness([
    // Add-on updates 50 times slower (seconds, not milliseconds): an attempt can be interrupted mid-way.
    clusterEntry('ad-resume', { ...at130, faults: { slowFactor: 50 } }),
    clusterEntry('ad-race', { ...at130, faults: { slowFactor: 10 } }),
    clusterEntry('ad-fail', {
      ...at130,
      addons: [
        { name: 'vpc-cni', version: VPC_CNI_130 },
        { name: 'kube-proxy', version: 'v1.30.6-eksbuild.3' },
      ],
      faults: { addonUpdateFails: true },
    }),
    clusterEntry('ad-fail-both', { ...at130, faults: { addonUpdateFails: true } }),
    // coredns v1.10.1 runs on 1.28 and 1.29 only.
    clusterEntry('ad-keep', {
      addons: [
        { name: 'vpc-cni', version: 'v1.18.3-eksbuild.3' },
        { name: 'coredns', version: COREDNS_128 },
        { name: 'kube-proxy', version: 'v1.29.13-eksbuild.3' },
      ],
    }),
    // kube-proxy v1.30.9 runs on 1.30 and 1.31, v1.32.3 on 1.32 and 1.33: neither way round after a hop to 1.32.
    clusterEntry('ad-stuck', {
      version: '1.31',
      addons: [
        { name: 'vpc-cni', version: defaultAddonVersion('vpc-cni', '1.31') ?? '' },
        { name: 'kube-proxy', version: KUBE_PROXY_130 },
      ],
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const A = () => h.activities;
const step = (cluster: ClusterRef, attempt = 1) => ({ campaign: 'addons', cluster, attempt });
const addonsTo130 = (cluster: ClusterRef): UpdateAddonsInput => ({
  ...step(cluster),
  addons: [
    { name: 'vpc-cni', version: VPC_CNI_130 },
    { name: 'kube-proxy', version: KUBE_PROXY_130 },
  ],
});

async function versions(cluster: ClusterRef): Promise<Record<string, string>> {
  const state = await runActivity(A().describeCluster, { cluster });
  return Object.fromEntries(state.addons.map((a) => [a.name, a.version]));
}

async function awaitDone(handle: UpdateHandle) {
  return runActivity(A().awaitUpdate, { handle, timeoutMs: 60_000 });
}

const addonMutations = async (cluster: string) =>
  (await h.mutations(cluster)).filter((m) => m.operation === 'UpdateAddon').map((m) => [m.addon, m.target]);

describe('updateAddons', () => {
  it('starts every add-on at once and resumes from its heartbeat, starting nothing twice', async () => {
    const cluster = h.ref('ad-resume');
    const input = addonsTo130(cluster);
    const first = activityEnvironment();
    const beats = recordHeartbeats(first) as AddonsProgress[];
    const attempt1 = runActivity(A().updateAddons, input, first);
    // Interrupted while waiting for both updates: they run at the same time, not one after the other.
    const bothPolled = (b: AddonsProgress) => b.slots.every((s) => s.updateId && (s.polls ?? 0) >= 1);
    while (!beats.some(bothPolled)) await new Promise((r) => setTimeout(r, 20));
    first.cancel();
    await expect(attempt1).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats.at(-1) as AddonsProgress;
    expect(last.slots.map((s) => [s.name, Boolean(s.updateId), s.result])).toEqual([
      ['vpc-cni', true, undefined],
      ['kube-proxy', true, undefined],
    ]);

    h.sim.advance(3_600_000);
    const second = retryEnvironment(last);
    const beats2 = recordHeartbeats(second) as AddonsProgress[];
    const { results } = await runActivity(A().updateAddons, input, second);
    expect(results).toEqual([
      { addon: 'vpc-cni', updateId: last.slots[0]?.updateId, alreadyAtTarget: false, adopted: false },
      { addon: 'kube-proxy', updateId: last.slots[1]?.updateId, alreadyAtTarget: false, adopted: false },
    ]);
    // The retry went straight to polling the updates it had started, counting on from their polls.
    const end = beats2.at(-1) as AddonsProgress;
    for (const [i, slot] of last.slots.entries()) {
      expect(end.slots[i]?.updateId).toBe(slot.updateId);
      expect(end.slots[i]?.polls).toBe((slot.polls ?? 0) + 1);
    }
    expect(await addonMutations('ad-resume')).toEqual([
      ['vpc-cni', VPC_CNI_130],
      ['kube-proxy', KUBE_PROXY_130],
    ]);
    expect(await versions(cluster)).toEqual({ 'vpc-cni': VPC_CNI_130, 'kube-proxy': KUBE_PROXY_130 });

    // Called again without heartbeat details (a retry whose heartbeat was lost): nothing to do, nothing sent.
    const again = await runActivity(A().updateAddons, input);
    expect(again.results.map((r) => [r.addon, r.alreadyAtTarget])).toEqual([
      ['vpc-cni', true],
      ['kube-proxy', true],
    ]);
    expect(await addonMutations('ad-resume')).toHaveLength(2);
  });

  it('two calls at once, as a retry racing the first attempt would, leave one mutation per add-on', async () => {
    const cluster = h.ref('ad-race');
    const input = addonsTo130(cluster);
    const [a, b] = await Promise.all([runActivity(A().updateAddons, input), runActivity(A().updateAddons, input)]);
    expect(a.results.map((r) => r.addon)).toEqual(['vpc-cni', 'kube-proxy']);
    expect(b.results.map((r) => r.addon)).toEqual(['vpc-cni', 'kube-proxy']);
    const mutations = (await h.mutations('ad-race')).filter((m) => m.operation === 'UpdateAddon');
    expect(mutations.map((m) => [m.addon, m.target])).toEqual([
      ['vpc-cni', VPC_CNI_130],
      ['kube-proxy', KUBE_PROXY_130],
    ]);
    // Where both calls report an update, it is the same one.
    for (const [i, m] of mutations.entries()) {
      for (const r of [a.results[i], b.results[i]]) if (r?.updateId) expect(r.updateId).toBe(m.updateId);
    }
    expect(await versions(cluster)).toEqual({ 'vpc-cni': VPC_CNI_130, 'kube-proxy': KUBE_PROXY_130 });
  });

  it('a failed add-on update is a non-retryable EksUpdateFailed naming the add-on and those done before it', async () => {
    const cluster = h.ref('ad-fail');
    const err = await runActivity(A().updateAddons, addonsTo130(cluster)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure).toMatchObject({ type: FailureTypes.UpdateFailed, nonRetryable: true });
    expect(failure.message).toContain('ad-fail/kube-proxy');
    const details = failure.details?.[0] as AddonUpdateFailureDetails;
    // vpc-cni was at the version already: done, nothing started.
    expect(details).toMatchObject({
      addon: 'kube-proxy',
      updated: ['vpc-cni'],
      reached: ['kube-proxy'],
      status: 'Failed',
    });
    expect(details.otherFailures).toBeUndefined();
    expect(details.updateId).toBeTruthy();
    expect(details.errors?.[0]?.errorCode).toBe('ConfigurationConflict');
    expect(await addonMutations('ad-fail')).toEqual([['kube-proxy', KUBE_PROXY_130]]);
  });

  it('fails only once every add-on update in flight has ended, naming the first failed and the others', async () => {
    const cluster = h.ref('ad-fail-both');
    const err = await runActivity(A().updateAddons, addonsTo130(cluster)).then(
      () => undefined,
      (e: unknown) => e,
    );
    const failure = err as ApplicationFailure;
    expect(failure).toMatchObject({ type: FailureTypes.UpdateFailed, nonRetryable: true });
    const details = failure.details?.[0] as AddonUpdateFailureDetails;
    expect(details).toMatchObject({ addon: 'vpc-cni', updated: [], reached: ['vpc-cni', 'kube-proxy'] });
    expect(details.otherFailures?.map((f) => f.addon)).toEqual(['kube-proxy']);
    expect(details.otherFailures?.[0]?.message).toContain('ad-fail-both/kube-proxy');
    // Both updates had ended (failed) when the step failed: none is left running for the rollback to meet.
    const state = await runActivity(A().describeCluster, { cluster });
    expect(state.addons.map((a) => a.status)).toEqual(['UPDATE_FAILED', 'UPDATE_FAILED']);
    expect(await addonMutations('ad-fail-both')).toEqual([
      ['vpc-cni', VPC_CNI_130],
      ['kube-proxy', KUBE_PROXY_130],
    ]);
  });
});

describe('rollbacks EKS cannot do are kept, not failed', () => {
  it('keeps an add-on whose previous version the current control plane does not support, until the control plane is back', async () => {
    const cluster = h.ref('ad-keep');
    await awaitDone(await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.30' }));
    await runActivity(A().updateAddons, { ...step(cluster), addons: [{ name: 'coredns', version: COREDNS_130 }] });
    const before = (await h.mutations('ad-keep')).length;

    const back = { ...step(cluster), addon: 'coredns', previousVersion: COREDNS_128 };
    const kept = await runActivity(A().rollbackAddon, back);
    expect(kept).toMatchObject({
      alreadyAtTarget: false,
      adopted: false,
      kept: {
        version: COREDNS_130,
        reason: `coredns stays at ${COREDNS_130}: ${COREDNS_128} is not supported on control plane 1.30`,
      },
    });
    expect(kept.updateId).toBeUndefined();
    expect(await h.mutations('ad-keep')).toHaveLength(before);

    // coredns v1.11.3 runs on 1.29 too, so the control plane may go back; then coredns can follow.
    const cp = await runActivity(A().rollbackControlPlane, { ...step(cluster), toVersion: '1.29' });
    expect(cp.kept).toBeUndefined();
    await awaitDone(cp);
    const again = await runActivity(A().rollbackAddon, back);
    expect(again.kept).toBeUndefined();
    await awaitDone(again);
    expect((await versions(cluster)).coredns).toBe(COREDNS_128);
    expect((await h.mutations('ad-keep')).slice(before).map((m) => [m.operation, m.target])).toEqual([
      ['UpdateClusterVersion', '1.29'],
      ['UpdateAddon', COREDNS_128],
    ]);
  });

  it('keeps the control plane while an installed add-on needs the newer minor', async () => {
    const cluster = h.ref('ad-stuck');
    await awaitDone(await runActivity(A().startControlPlaneUpgrade, { ...step(cluster), toVersion: '1.32' }));
    await runActivity(A().updateAddons, {
      ...step(cluster),
      addons: [{ name: 'kube-proxy', version: KUBE_PROXY_132 }],
    });
    const before = (await h.mutations('ad-stuck')).length;

    const addon = await runActivity(A().rollbackAddon, {
      ...step(cluster),
      addon: 'kube-proxy',
      previousVersion: KUBE_PROXY_130,
    });
    expect(addon.kept?.reason).toBe(
      `kube-proxy stays at ${KUBE_PROXY_132}: ${KUBE_PROXY_130} is not supported on control plane 1.32`,
    );
    const cp = await runActivity(A().rollbackControlPlane, { ...step(cluster), toVersion: '1.31' });
    expect(cp.kept).toEqual({
      version: '1.32',
      reason: `control plane stays at 1.32: add-on kube-proxy ${KUBE_PROXY_132} is not supported on Kubernetes 1.31`,
    });
    expect(await h.mutations('ad-stuck')).toHaveLength(before);
    expect((await runActivity(A().describeCluster, { cluster })).version).toBe('1.32');
  });
});
