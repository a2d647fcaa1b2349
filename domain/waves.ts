/**
 * Wave assignment: which selected cluster goes into which wave. Pure: safe in workflows.
 *
 * Decision inputs: spec.selector, spec.waves[] (selector, count, percent, in order),
 * spec.target.kubernetesVersion, and each member's labels and versions.
 *
 * Rules:
 * 1. Selected = members matching spec.selector, in stable order (by name, code-unit order, so
 *    the result never depends on a locale).
 * 2. Selected clusters already at target go to `skipped`, those the version rules refuse to
 *    `refused` (see planClusterVersions); neither is placed, so a canary's `count: 2` means two
 *    clusters that will really upgrade.
 * 3. Each wave, in order, takes from the clusters not yet placed: those matching its selector
 *    (all, if it has none), then the first `count`, or ceil(`percent` %) of them, or all of
 *    them if it has neither.
 * 4. Whatever no wave took is `unplaced` and warned about; so are empty waves, and clusters
 *    that an earlier wave's selector took although a later wave's (different) selector also
 *    names them. Two waves with identical selectors are the usual "first N, then the rest"
 *    split and are not reported.
 */
import type { FleetMember } from './fleet';
import { describeSelector, isEmptySelector, matchesSelector } from './selector';
import type { CampaignSpec } from './spec';
import { planClusterVersions } from './versions';

/** The part of the spec wave assignment reads. */
export type WaveAssignmentSpec = Pick<CampaignSpec, 'selector' | 'waves'> & {
  target: Pick<CampaignSpec['target'], 'kubernetesVersion'>;
};

/** One wave's share of the selected clusters. */
export interface AssignedWave {
  name: string;
  /** Position in spec.waves, from 0. */
  index: number;
  /** Cluster names in stable (name) order. */
  clusters: string[];
}

/** A cluster left out of every wave, and why. */
export interface ClusterNote {
  cluster: string;
  reason: string;
}

/** What {@link assignWaves} decides: each selected cluster is in one wave or in one of the lists left out. */
export interface WaveAssignment {
  /** One entry per spec wave, same order, possibly empty. */
  waves: AssignedWave[];
  /** Members spec.selector does not select. */
  unselected: string[];
  /** Selected, nothing to do (already at target). */
  skipped: ClusterNote[];
  /** Selected, but the version rules forbid the upgrade. */
  refused: ClusterNote[];
  /** Selected and upgradable, but no wave took them. */
  unplaced: string[];
  warnings: string[];
  /** Control-plane hops of every placed cluster (empty for a patch-only campaign). */
  paths: Record<string, string[]>;
}

/** Lists at most `max` names, then "and N more", so a warning about 3,000 clusters stays one line. */
export function listNames(names: readonly string[], max = 5): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Code-unit order: identical in every runtime and locale. */
export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** How many of `available` a wave takes: count, ceil(percent), or all. */
function takeCount(wave: WaveAssignmentSpec['waves'][number], available: number): number {
  if (wave.count !== undefined) return Math.min(wave.count, available);
  if (wave.percent !== undefined) {
    // The epsilon keeps 7% of 100 at 7 although 0.07 * 100 is 7.000000000000001 in binary floating point.
    return Math.min(available, Math.ceil((available * wave.percent) / 100 - 1e-9));
  }
  return available;
}

/**
 * Assigns the selected members of a fleet to the spec's waves. Deterministic for a given input.
 * `current`: clusters known to need nothing (a patch-only campaign's plan asked EKS), skipped with
 * the reason given.
 */
export function assignWaves(
  spec: WaveAssignmentSpec,
  members: readonly FleetMember[],
  current?: ReadonlyMap<string, string>,
): WaveAssignment {
  const warnings: string[] = [];
  const seen = new Set<string>();
  const unique: FleetMember[] = [];
  const duplicates: string[] = [];
  for (const m of members) {
    if (seen.has(m.name)) duplicates.push(m.name);
    else {
      seen.add(m.name);
      unique.push(m);
    }
  }
  if (duplicates.length > 0) {
    warnings.push(`the fleet lists ${listNames(duplicates)} more than once; only the first entry counts`);
  }
  const sorted = [...unique].sort(byName);

  const unselected: string[] = [];
  const skipped: ClusterNote[] = [];
  const refused: ClusterNote[] = [];
  const paths: Record<string, string[]> = {};
  let remaining: FleetMember[] = [];
  for (const m of sorted) {
    if (!matchesSelector(m.labels, spec.selector)) {
      unselected.push(m.name);
      continue;
    }
    const versions = planClusterVersions(m, spec.target.kubernetesVersion);
    if (versions.refusal !== undefined) refused.push({ cluster: m.name, reason: versions.refusal });
    else if (versions.skip !== undefined) skipped.push({ cluster: m.name, reason: versions.skip });
    else if (current?.has(m.name)) skipped.push({ cluster: m.name, reason: current.get(m.name) as string });
    else {
      paths[m.name] = versions.path;
      remaining.push(m);
    }
  }

  const waves: AssignedWave[] = [];
  spec.waves.forEach((wave, index) => {
    const candidates = remaining.filter((m) => matchesSelector(m.labels, wave.selector));
    const taken = candidates.slice(0, takeCount(wave, candidates.length));
    const takenNames = new Set(taken.map((m) => m.name));
    remaining = remaining.filter((m) => !takenNames.has(m.name));
    waves.push({ name: wave.name, index, clusters: taken.map((m) => m.name) });
    if (taken.length === 0) warnings.push(`wave "${wave.name}" selects no cluster`);
  });

  warnings.push(...overlapWarnings(spec, sorted, waves));

  const unplaced = remaining.map((m) => m.name);
  if (unplaced.length > 0) {
    warnings.push(
      `${unplaced.length} selected cluster${unplaced.length === 1 ? ' is' : 's are'} in no wave: ${listNames(unplaced)} ` +
        '(add a final wave without selector to take the rest)',
    );
  }
  for (const name of unplaced) delete paths[name];

  return { waves, unselected, skipped, refused, unplaced, warnings, paths };
}

function overlapWarnings(spec: WaveAssignmentSpec, members: readonly FleetMember[], waves: AssignedWave[]): string[] {
  const byClusterName = new Map(members.map((m) => [m.name, m]));
  const warnings: string[] = [];
  spec.waves.forEach((earlier, i) => {
    if (isEmptySelector(earlier.selector)) return;
    const earlierText = describeSelector(earlier.selector);
    for (let j = i + 1; j < spec.waves.length; j++) {
      const later = spec.waves[j];
      if (!later || isEmptySelector(later.selector) || describeSelector(later.selector) === earlierText) continue;
      const both = (waves[i]?.clusters ?? []).filter((name) => {
        const m = byClusterName.get(name);
        return m !== undefined && matchesSelector(m.labels, later.selector);
      });
      if (both.length > 0) {
        warnings.push(
          `${listNames(both)} match${both.length === 1 ? 'es' : ''} the selectors of both wave "${earlier.name}" and ` +
            `later wave "${later.name}"; ${both.length === 1 ? 'it goes' : 'they go'} to "${earlier.name}" only`,
        );
      }
    }
  });
  return warnings;
}
