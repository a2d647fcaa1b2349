/**
 * Undoing a promoted wave (issue 19 item 5): a wave that degrades inside
 * spec.watchAfterPromotion pauses the campaign with `fleetwave rollback` proposed; the rollback,
 * by Update or by Signal, starts rollback-only runs of the wave's upgraded clusters that put their
 * add-ons and node groups back, and the control plane only where
 * spec.rollback.afterPromotion.controlPlane opts in. With mode `auto` the campaign starts the
 * same rollback itself.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { abortSignal, rollbackWaveSignal, rollbackWaveUpdate, type CampaignStatus } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  SOAK_GATE,
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
} from './campaign-harness';

type AfterPromotion = { mode?: 'propose' | 'auto'; controlPlane?: boolean };

/**
 * Two waves of one cluster each: `canary` (a) is promoted and watched while `rest` (b) holds in
 * preflight; then a's gate fails. `act` runs once the campaign paused (or, with `auto`, once a
 * is rolled back) and returns what the test asserts on.
 */
async function degradeAfterPromotion<T>(
  temporal: TestTemporal,
  prefix: string,
  afterPromotion: AfterPromotion | undefined,
  nodeless: boolean,
  act: (ctx: { handle: Awaited<ReturnType<typeof startCampaign>>; a: string; paused: CampaignStatus }) => Promise<T>,
): Promise<{ out: T; a: string; fake: ReturnType<typeof createFakeActivities> }> {
  const tag = uniqueTag();
  const [a, b] = ['a', 'b'].map((n) => `${prefix}-${tag}-${n}`) as [string, string];
  let releaseRest!: () => void;
  const restMayGo = new Promise<void>((resolve) => (releaseRest = resolve));
  const fake = createFakeActivities({
    clusters: [
      nodeless
        ? // No node group: no kubelet newer than 1.30 holds the control plane's VersionRollback
          // back (EKS's kubelet-skew rollback-readiness check; a node group whose AMI EKS picks
          // cannot go back).
          fakeCluster(a, { nodegroups: [] })
        : fakeCluster(a),
      fakeCluster(b),
    ],
    beforeCall: (call) => (call.cluster === b && call.name === 'preflightCluster' ? restMayGo : undefined),
  });
  const campaign = makeCampaign(`${prefix}-${tag}`, {
    waves: [
      { name: 'canary', count: 1, soak: '1s', approval: 'auto' },
      { name: 'rest', soak: '0s' },
    ],
    healthGates: [SOAK_GATE],
    watchAfterPromotion: '10m',
    ...(afterPromotion ? { rollback: { afterPromotion } } : {}),
  });
  const taskQueue = temporal.taskQueue('campaign');
  const out = await withWorker(temporal, taskQueue, fake.activities, async () => {
    const handle = await startCampaign(
      temporal,
      taskQueue,
      campaign,
      [a, b].map((n) => fake.member(n)),
    );
    await waitForStatus(handle, (s) => s.waves[0]?.state === 'promoted', 60_000, 'promotion');
    fake.cluster(a).behaviour.failGates = [{ phase: 'soak', message: 'p99 latency 3 s' }];
    const paused = await waitForStatus(handle, (s) => s.state === 'paused', 60_000, 'watch pause');
    const out = await act({ handle, a, paused });
    releaseRest();
    await recordHistory(handle, `wave-rollback-${prefix}`);
    await handle.signal(abortSignal, { by: 'test', reason: 'done' });
    await resultWithin(handle);
    return out;
  });
  return { out, a, fake };
}

const rolledBack = (a: string) => (s: CampaignStatus) => s.clusters.find((c) => c.name === a)?.state === 'rolled-back';

describe('campaign workflow: undoing a promoted wave', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('rolls the wave back by Update, control plane included where the spec opts in', { timeout: 180_000 }, async () => {
    const { out, a, fake } = await degradeAfterPromotion(
      temporal,
      'wru',
      { controlPlane: true },
      true,
      async ({ handle, a, paused }) => {
        expect(paused.pausedReason).toMatch(/proposed: roll the wave back with `fleetwave rollback .* --wave canary`/);
        expect(paused.pausedReason).not.toMatch(/not available/);
        // A wave that is not promoted is refused, with why, and audited.
        const refused = await handle.executeUpdate(rollbackWaveUpdate, { args: [{ wave: 'rest', by: 'alice' }] }).then(
          () => 'accepted',
          (err: unknown) => (err instanceof WorkflowUpdateFailedError ? err.cause?.message : String(err)),
        );
        const plan = await handle.executeUpdate(rollbackWaveUpdate, {
          args: [{ wave: 'canary', by: 'alice', reason: 'p99 regressed' }],
        });
        const status = await waitForStatus(handle, rolledBack(a), 60_000, 'rolled back');
        return { refused, plan, status };
      },
    );
    expect(out.refused).toMatch(/wave "rest" is (running|pending), not promoted/);
    expect(out.plan.wave).toBe('canary');
    expect(out.plan.clusters).toHaveLength(1);
    const [planned] = out.plan.clusters;
    expect(planned?.cluster).toBe(a);
    expect(planned?.started).toBe(true);
    expect(planned?.goesBack.some((s) => s.startsWith('addon '))).toBe(true);
    expect(planned?.goesBack.at(-1)).toMatch(/^control-plane 1\.31 → 1\.30/);
    expect(planned?.stays).toEqual([]);
    // Node groups and add-ons first, then the control plane, one minor back.
    const trace = fake.eksTrace(a).filter((l) => l.startsWith('rollback'));
    expect(trace.at(-1)).toBe('rollbackControlPlane:1.30');
    expect(trace.some((l) => l.startsWith('rollbackAddon:'))).toBe(true);
    expect(fake.cluster(a).version).toBe('1.30');
    const cluster = out.status.clusters.find((c) => c.name === a);
    expect(cluster?.reason).toMatch(/rolled back with wave "canary" by alice: p99 regressed/);
    expect(cluster?.reason).not.toMatch(/control plane stays/);
    const audit = out.status.audit;
    expect(audit.find((e) => e.kind === 'rollback-requested')).toMatchObject({ by: 'alice', wave: 'canary' });
    expect(audit.find((e) => e.kind === 'action-refused')?.detail).toMatch(/^rollback refused: wave "rest"/);
    // Still paused: the operator decides when the next waves go on.
    expect(out.status.state).toBe('paused');
  });

  it('rolls the wave back by Signal; the control plane stays without the opt-in', { timeout: 180_000 }, async () => {
    const { out, a, fake } = await degradeAfterPromotion(temporal, 'wrs', undefined, false, async ({ handle, a }) => {
      await handle.signal(rollbackWaveSignal, { wave: 'canary', by: 'bob', cluster: a });
      return waitForStatus(handle, rolledBack(a), 60_000, 'rolled back');
    });
    const cluster = out.clusters.find((c) => c.name === a);
    expect(cluster?.reason).toMatch(/rolled back with wave "canary" by bob; control plane stays at 1\.31/);
    expect(fake.eksTrace(a).some((l) => l.startsWith('rollbackAddon:'))).toBe(true);
    expect(fake.eksTrace(a)).not.toContain('rollbackControlPlane:1.30');
    expect(fake.cluster(a).version).toBe('1.31');
    expect(out.audit.find((e) => e.kind === 'rollback-requested')?.detail).toMatch(new RegExp(`${a}: undo .*addon `));
  });

  it('with afterPromotion auto, starts the rollback itself and stays paused', { timeout: 180_000 }, async () => {
    const { out, a, fake } = await degradeAfterPromotion(
      temporal,
      'wra',
      { mode: 'auto' },
      false,
      async ({ handle, a }) => waitForStatus(handle, rolledBack(a), 60_000, 'rolled back'),
    );
    expect(out.state).toBe('paused');
    expect(out.waves[0]?.watchFailure).toMatch(/rolling the wave back \(spec.rollback.afterPromotion.mode auto\)/);
    expect(out.audit.find((e) => e.kind === 'rollback-requested')?.by).toBe('fleetwave');
    expect(fake.eksTrace(a)).not.toContain('rollbackControlPlane:1.30');
    expect(out.clusters.find((c) => c.name === a)?.reason).toMatch(/control plane stays at 1\.31/);
  });
});
