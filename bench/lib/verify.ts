/**
 * Every invariant of bench/lib/invariants.ts over one or more finished campaigns on a stack:
 * reads their status, histories (all runs, all children) and the simulator's state and
 * mutations, and returns the violations per check (all empty = fine) with the material, so a
 * test can assert on the violations and look further.
 */
import type { Mutation, SimState } from '../../simulator/index';
import { campaignWorkflowId, type CampaignStatus } from '../../workflows/definitions';
import { fetchCampaignHistories, type CampaignHistories, type RunHistory } from './histories';
import { checkExactlyOnce, checkFinalStates, checkGatedClusters, checkNoOverlap, checkPromotions } from './invariants';
import type { Stack } from './stack';

/** A campaign to verify: its name, first run ID and target minor. */
export interface CampaignRef {
  name: string;
  runId: string;
  targetVersion: string;
}

/** What {@link Verification.violations} is when every check passed: assert `toEqual(NO_VIOLATIONS)`. */
export const NO_VIOLATIONS: Verification['violations'] = {
  finalStates: [],
  exactlyOnce: [],
  noOverlap: [],
  promotions: [],
  gatedClusters: [],
};

export interface Verification {
  /** Check name → violations. */
  violations: {
    finalStates: string[];
    exactlyOnce: string[];
    noOverlap: string[];
    promotions: string[];
    gatedClusters: string[];
  };
  statuses: Map<string, CampaignStatus>;
  histories: Map<string, CampaignHistories>;
  /** Every cluster-upgrade run of every campaign. */
  clusterRuns: RunHistory[];
  mutations: Mutation[];
  sim: SimState;
  /** Cluster → campaigns whose runs touched it (`campaign/<name>`). */
  campaignsByCluster: Map<string, string[]>;
}

/** Reads everything and runs every check. `atLeast`: see checkFinalStates (overlapping campaigns). */
export async function verifyCampaigns(
  stack: Pick<Stack, 'client' | 'sim'>,
  campaigns: readonly CampaignRef[],
  opts: { atLeast?: boolean } = {},
): Promise<Verification> {
  const statuses = new Map<string, CampaignStatus>();
  const histories = new Map<string, CampaignHistories>();
  for (const c of campaigns) {
    statuses.set(c.name, await stack.client.getStatus(c.name, { liveSteps: false }));
    histories.set(c.name, await fetchCampaignHistories(stack.client.client, campaignWorkflowId(c.name), c.runId));
  }
  const clusterRuns = [...histories.values()].flatMap((h) => h.clusterRuns);
  const mutations = stack.sim.mutations();
  const sim = stack.sim.state();
  const overlap = checkNoOverlap(clusterRuns, mutations);
  const finalStates: string[] = [];
  const promotions: string[] = [];
  const gatedClusters: string[] = [];
  for (const c of campaigns) {
    const status = statuses.get(c.name) as CampaignStatus;
    const own = (histories.get(c.name) as CampaignHistories).clusterRuns;
    finalStates.push(...checkFinalStates(status, sim, c.targetVersion, opts).map((v) => `${c.name}: ${v}`));
    promotions.push(...checkPromotions(status).map((v) => `${c.name}: ${v}`));
    gatedClusters.push(...checkGatedClusters(status, own).map((v) => `${c.name}: ${v}`));
  }
  return {
    violations: {
      finalStates: [...new Set(finalStates)],
      exactlyOnce: checkExactlyOnce(mutations),
      noOverlap: overlap.violations,
      promotions,
      gatedClusters,
    },
    statuses,
    histories,
    clusterRuns,
    mutations,
    sim,
    campaignsByCluster: overlap.campaignsByCluster,
  };
}

/** One line per cluster state, e.g. "upgraded 17, rolled-back 2, blocked 1", for test logs. */
export function describeOutcome(status: CampaignStatus): string {
  const counts = new Map<string, number>();
  for (const c of status.clusters) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${state} ${n}`).join(', ');
}

/** "name: state (reason)" for every cluster that did not end upgraded, for test logs. */
export function describeNotUpgraded(status: CampaignStatus): string[] {
  return status.clusters
    .filter((c) => c.state !== 'upgraded')
    .map((c) => `${c.name}: ${c.state}${c.reason ? ` (${c.reason})` : ''}`);
}
