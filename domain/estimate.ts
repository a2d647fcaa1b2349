/**
 * A lower bound on how long a campaign takes. Pure: safe in workflows (the campaign workflow
 * uses estimateClusterMs for the maintenance-window fit check).
 *
 * Decision inputs: spec.estimates (controlPlaneHop, addon, nodeBatch), spec.bake,
 * spec.nodegroups.maxParallel, spec.target (skipAddons, skipNodegroups, kubernetesVersion),
 * spec.pacing (maxInFlight, rateLimit, caps), spec.waves[] (maxParallel, soak), and per
 * cluster its control-plane path, add-ons and node groups (nodes, maxUnavailable).
 *
 * It is a bound, not a forecast: every step takes its assumed time, gates pass at once,
 * approvals arrive instantly, windows are always open. Anything real only adds time.
 */
import { durationToMs, formatDuration } from './duration';
import type { FleetMember } from './fleet';
import { resolveCountOrPercent } from './freezes';
import { resolveCaps } from './pacing';
import type { CampaignSpec } from './spec';
import { compareMinor } from './versions';
import type { WaveAssignment } from './waves';

/** The spec fields one cluster's estimate reads. */
export type ClusterEstimateSpec = Pick<CampaignSpec, 'estimates' | 'nodegroups' | 'bake'> & {
  target: Pick<CampaignSpec['target'], 'kubernetesVersion' | 'skipAddons' | 'skipNodegroups'>;
};

/** The spec fields the campaign estimate reads. */
export type CampaignEstimateSpec = ClusterEstimateSpec & Pick<CampaignSpec, 'pacing' | 'waves'>;

/** Which bound decided a wave's duration (before soak). */
export type WaveBound = 'empty' | 'longest-cluster' | 'parallelism' | 'rate-limit' | 'label-cap';

export interface WaveEstimate {
  name: string;
  clusters: number;
  /** Upgrade time plus soak. */
  ms: number;
  soakMs: number;
  boundBy: WaveBound;
}

export interface CampaignEstimate {
  /** Cluster name → lower bound of its own upgrade. */
  clusterMs: Record<string, number>;
  waves: WaveEstimate[];
  totalMs: number;
  /** Human sentences stating what the numbers assume. */
  assumptions: string[];
}

/**
 * Lower bound of one cluster's upgrade: hops × controlPlaneHop + addon (the add-ons are updated
 * together, activities/steps.ts) + node groups + bake. Node groups replace ceil(nodes / maxUnavailable) batches of nodeBatch each;
 * up to spec.nodegroups.maxParallel groups run at once, so their part is at least
 * max(longest group, all groups / maxParallel).
 *
 * A minor upgrade counts only node groups below the target (those that surely get replaced);
 * a patch-only campaign counts every node group.
 */
export function estimateClusterMs(member: FleetMember, path: readonly string[], spec: ClusterEstimateSpec): number {
  const hopMs = durationToMs(spec.estimates.controlPlaneHop);
  const addonMs = durationToMs(spec.estimates.addon);
  const batchMs = durationToMs(spec.estimates.nodeBatch);
  const target = spec.target.kubernetesVersion;

  let total = path.length * hopMs;
  if (!spec.target.skipAddons && member.addons.length > 0) total += addonMs;
  if (!spec.target.skipNodegroups) {
    const groupMs = member.nodegroups
      .filter((ng) => target === undefined || compareMinor(ng.version, target) < 0)
      .map((ng) => Math.ceil(ng.nodes / Math.max(1, ng.maxUnavailable)) * batchMs);
    const longest = groupMs.reduce((a, b) => Math.max(a, b), 0);
    const sum = groupMs.reduce((a, b) => a + b, 0);
    total += Math.max(longest, sum / Math.max(1, spec.nodegroups.maxParallel));
  }
  total += durationToMs(spec.bake);
  return Math.ceil(total);
}

/**
 * Lower bound of each wave and of the campaign. A wave's clusters take at least
 * max(longest cluster, sum / min(wave.maxParallel, maxInFlight)); with a rate limit of
 * `starts` per `per` and a full bucket at wave start, its last cluster starts no earlier
 * than max(0, n − starts) × per / starts and then takes at least the shortest cluster time;
 * a per-label cap of `max` makes the clusters sharing one label value take at least their
 * sum / max. The largest bound wins, then the soak is added; waves run back to back.
 */
export function estimateCampaign(
  spec: CampaignEstimateSpec,
  assignment: Pick<WaveAssignment, 'waves' | 'paths'>,
  members: readonly FleetMember[],
): CampaignEstimate {
  const byName = new Map(members.map((m) => [m.name, m]));
  const clusterMs: Record<string, number> = {};
  const waves: WaveEstimate[] = [];
  let totalMs = 0;
  const selected = assignment.waves.reduce((n, w) => n + w.clusters.length, 0);

  for (const wave of assignment.waves) {
    const waveSpec = spec.waves[wave.index];
    const soakMs = waveSpec ? durationToMs(waveSpec.soak) : 0;
    const waveMembers = wave.clusters.map((name) => byName.get(name)).filter((m): m is FleetMember => !!m);
    const times = waveMembers.map((m) => {
      const ms = estimateClusterMs(m, assignment.paths[m.name] ?? [], spec);
      clusterMs[m.name] = ms;
      return ms;
    });
    if (times.length === 0) {
      waves.push({ name: wave.name, clusters: 0, ms: 0, soakMs, boundBy: 'empty' });
      continue;
    }

    // reduce, not Math.max(...times): a spread of 100,000 arguments can overflow the stack.
    const longest = times.reduce((a, b) => Math.max(a, b), 0);
    const shortest = times.reduce((a, b) => Math.min(a, b), Infinity);
    const bounds: [WaveBound, number][] = [['longest-cluster', longest]];
    const parallel = Math.max(
      1,
      Math.min(resolveCountOrPercent(waveSpec?.maxParallel ?? 1, times.length), spec.pacing.maxInFlight),
    );
    const sum = times.reduce((a, b) => a + b, 0);
    bounds.push(['parallelism', sum / parallel]);
    const rate = spec.pacing.rateLimit;
    if (rate) {
      const perMs = durationToMs(rate.per);
      const lastStart = (Math.max(0, times.length - rate.starts) * perMs) / rate.starts;
      bounds.push(['rate-limit', lastStart + shortest]);
    }
    for (const cap of resolveCaps(spec.pacing.caps, selected)) {
      const perValue = new Map<string, number>();
      waveMembers.forEach((m, i) => {
        const value = m.labels[cap.labelKey];
        if (value !== undefined) perValue.set(value, (perValue.get(value) ?? 0) + (times[i] ?? 0));
      });
      for (const valueSum of perValue.values()) bounds.push(['label-cap', valueSum / cap.max]);
    }
    // Ties go to the earlier, simpler explanation.
    let [boundBy, upgradeMs] = bounds[0] as [WaveBound, number];
    for (const [name, ms] of bounds) {
      if (ms > upgradeMs) [boundBy, upgradeMs] = [name, ms];
    }
    const ms = Math.ceil(upgradeMs) + soakMs;
    waves.push({ name: wave.name, clusters: times.length, ms, soakMs, boundBy });
    totalMs += ms;
  }

  return { clusterMs, waves, totalMs, assumptions: estimateAssumptions(spec) };
}

function estimateAssumptions(spec: CampaignEstimateSpec): string[] {
  const out = [
    `control-plane hop ${spec.estimates.controlPlaneHop}, add-on ${spec.estimates.addon}, node batch ${spec.estimates.nodeBatch} (spec.estimates)`,
    `bake ${spec.bake} per cluster; up to ${spec.nodegroups.maxParallel} node group(s) of a cluster at once`,
    `at most ${spec.pacing.maxInFlight} clusters in flight; each wave's maxParallel applies`,
  ];
  const rate = spec.pacing.rateLimit;
  if (rate) {
    out.push(
      `rate limit ${rate.starts} start(s) per ${formatDuration(durationToMs(rate.per))}, bucket full when each wave starts`,
    );
  }
  if (spec.pacing.caps.length > 0) {
    out.push(`caps: ${spec.pacing.caps.map((c) => `${c.max} per ${c.labelKey}`).join(', ')}`);
  }
  out.push('gates pass on their first measurements; approvals arrive at once; maintenance windows are not waited for');
  out.push('a lower bound: anything real only adds time');
  return out;
}
