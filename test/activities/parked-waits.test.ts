/**
 * The wait pattern (activities/waiting.ts) against the fleet simulator: each attempt of a waiting
 * activity looks once and, while EKS is still working, ends with a retryable FleetwaveStillWaiting
 * failure carrying the next look as `nextRetryDelay`. Here the Temporal server's part is played by
 * a loop that does what the server does with such a failure: it waits `nextRetryDelay`, then runs
 * the next attempt with the last heartbeat it received. What must hold: the activity gets to the
 * same end as one long attempt would, with one EKS mutation per resource; an attempt that only
 * looked sends no heartbeat; and an attempt whose heartbeat is lost (its worker died) is found again
 * from EKS without writing anything twice. Real workers run this pattern in test/e2e and
 * test/resilience.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  STILL_WAITING_FAILURE,
  type ClusterRef,
  type UpdateAddonsInput,
  type UpdateNodegroupsInput,
  type UpgradeControlPlaneInput,
} from '../../activities/types';
import { FIRST_LOOK_MS, nodegroupFirstLookMs } from '../../domain/waits';
import { defaultAddonVersion, latestRelease } from '../../simulator/index';
import { activityEnvironment, recordHeartbeats } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

const TIME_SCALE = 1200;
let h: SimHarness;

beforeAll(async () => {
  h = await startSimHarness(
    [
      clusterEntry('pk-hops'),
      clusterEntry('pk-lost'),
      clusterEntry('pk-ng', {
        nodegroups: [
          { name: 'ng-a', nodes: 3, maxUnavailable: 1 },
          { name: 'ng-b', nodes: 3, maxUnavailable: 1 },
          { name: 'ng-c', nodes: 3, maxUnavailable: 1 },
        ],
      }),
      clusterEntry('pk-addons', {
        version: '1.30',
        addons: [
          { name: 'vpc-cni', version: 'v1.18.3-eksbuild.3' },
          { name: 'kube-proxy', version: 'v1.30.6-eksbuild.3' },
        ],
      }),
    ],
    { timeScale: TIME_SCALE, deps: { waits: { timeScale: TIME_SCALE, park: true } } },
  );
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

interface Parked<O> {
  result: O;
  attempts: number;
  /** Attempts that ended still waiting, with the delay they asked for. */
  delays: number[];
  /** Heartbeats the attempts sent (each attempt's last is what the next one reads). */
  heartbeats: number;
  /** Attempts that ended still waiting without a heartbeat (they only looked). */
  lookedOnly: number;
}

/**
 * Runs `fn` attempt after attempt as the Temporal server would for a FleetwaveStillWaiting failure.
 * `loseHeartbeatOf` drops the heartbeat of that attempt, as if its worker died before sending it.
 */
async function runParked<I, O>(
  fn: (input: I) => Promise<O>,
  input: I,
  opts: { loseHeartbeatOf?: number; afterAttempt?: (attempt: number) => Promise<void> } = {},
): Promise<Parked<O>> {
  let details: unknown;
  const out = { attempts: 0, delays: [] as number[], heartbeats: 0, lookedOnly: 0 };
  for (;;) {
    out.attempts++;
    if (out.attempts > 500) throw new Error('no end after 500 attempts');
    const env = activityEnvironment({ attempt: out.attempts, heartbeatDetails: details });
    const beats = recordHeartbeats(env);
    try {
      const result = (await env.run(fn, input)) as O;
      return { result, ...out };
    } catch (err) {
      if (!(err instanceof ApplicationFailure) || err.type !== STILL_WAITING_FAILURE) throw err;
      expect(err.nonRetryable).toBe(false);
      await opts.afterAttempt?.(out.attempts);
      const delay = Number(err.nextRetryDelay);
      expect(delay).toBeGreaterThan(0);
      out.delays.push(delay);
      out.heartbeats += beats.length;
      if (beats.length === 0) out.lookedOnly++;
      else if (opts.loseHeartbeatOf !== out.attempts) details = beats.at(-1);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const A = () => h.activities;
const identity = (cluster: ClusterRef) => ({ campaign: 'parked', cluster, attempt: 1 });
const operations = async (cluster: string, operation: string) =>
  (await h.mutations(cluster)).filter((m) => m.operation === operation).map((m) => m.nodegroup ?? m.addon ?? m.target);

const twoHops = (cluster: ClusterRef): UpgradeControlPlaneInput => ({
  ...identity(cluster),
  hops: ['1.30', '1.31'],
  checksBetweenHops: {
    phase: 'postStep',
    gates: [],
    checks: { nodesReady: true, kubeletVersionsMatch: false, noNewCrashLoops: true },
    runKubernetesChecks: true,
  },
  timeoutMs: 120_000,
});

describe('a parked wait (one look per attempt)', () => {
  it('takes every control-plane hop, one mutation each, looking first when a hop can have ended', async () => {
    const cluster = h.ref('pk-hops');
    const run = await runParked(A().upgradeControlPlane, twoHops(cluster));
    expect(run.result.hops.map((x) => [x.target, x.alreadyAtTarget])).toEqual([
      ['1.30', false],
      ['1.31', false],
    ]);
    expect(await operations('pk-hops', 'UpdateClusterVersion')).toEqual(['1.30', '1.31']);
    // The attempt that starts a hop records it and waits until the first look.
    const firstLook = FIRST_LOOK_MS['control-plane'] / TIME_SCALE;
    // Parks (a delay) no longer than until the first look; how much less depends on the machine's
    // load between the start and the park (milliseconds at this time scale), so no lower bound.
    expect(run.delays[0]).toBeGreaterThan(0);
    expect(run.delays[0]).toBeLessThanOrEqual(firstLook);
    // Progress is written when it changed (a hop started), not at every look.
    expect(run.heartbeats).toBeLessThanOrEqual(2);
    expect(run.lookedOnly).toBe(run.delays.length - run.heartbeats);
    console.log(`two hops: ${run.attempts} attempts, ${run.heartbeats} heartbeats, delays ${run.delays.join(', ')} ms`);
  });

  it('finds its place from EKS when a heartbeat was lost, writing nothing twice', async () => {
    const cluster = h.ref('pk-lost');
    const run = await runParked(A().upgradeControlPlane, twoHops(cluster), { loseHeartbeatOf: 1 });
    expect(run.result.hops.map((x) => x.target)).toEqual(['1.30', '1.31']);
    // The first hop's update was adopted (found running), not started again.
    expect(run.result.hops[0]?.adopted).toBe(true);
    expect(await operations('pk-lost', 'UpdateClusterVersion')).toEqual(['1.30', '1.31']);
  });

  it('updates node groups two at a time, starting the next as soon as a look sees one done', async () => {
    const cluster = h.ref('pk-ng');
    const input: UpdateNodegroupsInput = {
      ...identity(cluster),
      nodegroups: ['ng-a', 'ng-b', 'ng-c'].map((nodegroup) => ({ nodegroup, releaseVersion: latestRelease('1.29') })),
      force: false,
      maxParallel: 2,
      timeoutMs: 120_000,
    };
    // The first attempt starts two node groups and parks; the third starts only once one of them ended.
    const startedByAttempt: number[] = [];
    const run = await runParked(A().updateNodegroups, input, {
      afterAttempt: async () => {
        startedByAttempt.push((await operations('pk-ng', 'UpdateNodegroupVersion')).length);
      },
    });
    expect(startedByAttempt[0]).toBe(2);
    // Three nodes one at a time: three batches, so the first look comes later than the kind's.
    expect(run.delays[0]).toBeGreaterThan(0);
    expect(run.delays[0]).toBeLessThanOrEqual(nodegroupFirstLookMs(3) / TIME_SCALE);
    expect(run.result.results.map((x) => x.target).sort()).toEqual(['ng-a', 'ng-b', 'ng-c']);
    expect(run.result.stopped).toBeUndefined();
    expect((await operations('pk-ng', 'UpdateNodegroupVersion')).sort()).toEqual(['ng-a', 'ng-b', 'ng-c']);
    // Progress is written when an update starts (two, then one), not when a look sees one done.
    expect(run.heartbeats).toBe(2);
  });

  it('updates add-ons together in one wait, one mutation each', async () => {
    const cluster = h.ref('pk-addons');
    const input: UpdateAddonsInput = {
      ...identity(cluster),
      addons: [
        { name: 'vpc-cni', version: defaultAddonVersion('vpc-cni', '1.30') ?? '' },
        { name: 'kube-proxy', version: defaultAddonVersion('kube-proxy', '1.30') ?? '' },
      ],
    };
    const startedByAttempt: number[] = [];
    const run = await runParked(A().updateAddons, input, {
      afterAttempt: async () => {
        startedByAttempt.push((await operations('pk-addons', 'UpdateAddon')).length);
      },
    });
    expect(run.result.results.map((x) => x.addon)).toEqual(['vpc-cni', 'kube-proxy']);
    // Both started by the first attempt, which then waits until the first look.
    expect(startedByAttempt[0]).toBe(2);
    expect(run.delays[0]).toBeGreaterThan(0);
    expect(run.delays[0]).toBeLessThanOrEqual(FIRST_LOOK_MS.addon / TIME_SCALE);
    expect(await operations('pk-addons', 'UpdateAddon')).toHaveLength(2);
    // One heartbeat: the attempt that started both updates.
    expect(run.heartbeats).toBe(1);
    console.log(
      `two add-ons: ${run.attempts} attempts, ${run.heartbeats} heartbeats, delays ${run.delays.join(', ')} ms`,
    );
  });
});
