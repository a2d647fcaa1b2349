/**
 * The campaign's setup on its first run: which clusters go into which wave, each one's
 * estimated duration and control-plane path, each wave's failure budget, and what to ask
 * `resolveTargetVersions` for. Thin glue over domain/ (the wave assignment, estimate and
 * budget rule that `fleetwave plan` builds on), so the workflow and the CLI agree on the plan;
 * the plan's display text (descriptions, warnings) is the CLI's and is not computed here.
 */
import type { ResolveTargetVersionsInput } from '../../activities/types';
import type { FleetMember } from '../../domain/fleet';
import { DEFAULT_AMI_TYPE, type AmiType } from '../../domain/node-models';
import { estimateCampaign } from '../../domain/estimate';
import { failureBudgetCount } from '../../domain/plan';
import type { Campaign } from '../../domain/spec';
import { compareMinor } from '../../domain/versions';
import { assignWaves } from '../../domain/waves';
import type { InitialSetup } from './state';

/** Regions, amiTypes and minors in a stable order, so the request reads the same for the same fleet. */
function sortedNeeds(
  needs: NonNullable<ResolveTargetVersionsInput['amis']>,
): NonNullable<ResolveTargetVersionsInput['amis']> {
  const out: NonNullable<ResolveTargetVersionsInput['amis']> = {};
  for (const region of Object.keys(needs).sort()) {
    const perType: Partial<Record<AmiType, string[]>> = {};
    const types = needs[region] ?? {};
    for (const amiType of (Object.keys(types) as AmiType[]).sort()) {
      perType[amiType] = [...(types[amiType] ?? [])].sort(compareMinor);
    }
    out[region] = perType;
  }
  return out;
}

/** The machine's initial setup plus what the workflow needs besides it. */
export interface CampaignSetup extends InitialSetup {
  /** Control-plane hops per placed cluster (empty for a patch-only campaign). */
  paths: Record<string, string[]>;
  /** Placed members, in wave order: what continue-as-new carries as `fleet`. */
  placed: FleetMember[];
}

/**
 * Sets the campaign up over the fleet it was started with, with the same wave assignment,
 * estimate and failure-budget rule as domain/plan's buildPlan (what `fleetwave plan` prints).
 * Selected clusters that will not be upgraded (already at target, refused by the version rules,
 * in no wave) become `skippedAtPlan`.
 */
export function setUpCampaign(campaign: Campaign, fleet: readonly FleetMember[]): CampaignSetup {
  const spec = campaign.spec;
  const assignment = assignWaves(spec, fleet);
  const estimate = estimateCampaign(spec, assignment, fleet);
  const byName = new Map(fleet.map((m) => [m.name, m]));
  const placed: FleetMember[] = [];
  const paths: Record<string, string[]> = {};
  const waves: InitialSetup['waves'] = assignment.waves.map((w) => {
    const waveSpec = spec.waves[w.index];
    if (!waveSpec) throw new Error(`wave ${w.index} has no spec`);
    const members = w.clusters.map((name) => {
      const member = byName.get(name);
      if (!member) throw new Error(`planned cluster ${name} is not in the fleet`);
      const path = assignment.paths[name] ?? [];
      placed.push(member);
      paths[name] = path;
      return { member, estimateMs: estimate.clusterMs[name] ?? 0, hops: path.length };
    });
    return { spec: waveSpec, members, failureBudget: failureBudgetCount(waveSpec.failureBudget, members.length) };
  });
  const skippedAtPlan = [
    ...assignment.skipped,
    ...assignment.refused.map((r) => ({ cluster: r.cluster, reason: `refused: ${r.reason}` })),
    ...assignment.unplaced.map((cluster) => ({ cluster, reason: 'selected but in no wave' })),
  ];
  return { waves, skippedAtPlan, paths, placed };
}

/**
 * What to pin, asked once per campaign: the minors of every hop for an upgrade (plus the
 * current minors when the campaign only patches) and every add-on installed somewhere in the
 * selection, in the region of the first planned cluster; and for the node groups, per region the
 * amiTypes in use there and the minors they will run.
 */
export function pinRequest(
  campaign: Campaign,
  placed: readonly FleetMember[],
  paths: Readonly<Record<string, string[]>>,
): ResolveTargetVersionsInput | undefined {
  const first = placed[0];
  if (!first) return undefined;
  const target = campaign.spec.target.kubernetesVersion;
  const minors = new Set<string>();
  const addons = new Set<string>();
  const amis: NonNullable<ResolveTargetVersionsInput['amis']> = {};
  for (const m of placed) {
    const perType = (amis[m.region] ??= {});
    for (const ng of m.nodegroups) {
      // Node groups end at the target minor (after the last hop), or stay on their own in a patch-only campaign.
      const minor = target ?? ng.version;
      const amiType = ng.amiType ?? DEFAULT_AMI_TYPE;
      const needed = (perType[amiType] ??= []);
      if (!needed.includes(minor)) needed.push(minor);
    }
    // Self-managed groups move to the target minor in the node step (activities/self-managed.ts).
    for (const amiType of target ? (m.nodeModels?.selfManagedAmiTypes ?? []) : []) {
      const needed = (perType[amiType] ??= []);
      if (!needed.includes(target as string)) needed.push(target as string);
    }
    if (target) {
      for (const hop of paths[m.name] ?? []) minors.add(hop);
      // Node groups lagging a control plane already at target still need the target's release.
      minors.add(target);
    } else {
      minors.add(m.version);
      for (const ng of m.nodegroups) minors.add(ng.version);
    }
    for (const a of m.addons) addons.add(a);
  }
  return {
    target: campaign.spec.target,
    region: first.region,
    minors: [...minors].sort(compareMinor),
    addonNames: [...addons].sort(),
    amis: sortedNeeds(amis),
  };
}
