/**
 * The benchmark scenarios: 50, 500 and 5,000 generated clusters upgraded to Kubernetes 1.32.
 *
 * Each campaign is written at real EKS pace and compressed by the simulator's time scale
 * (bench/lib/campaign.ts): a canary of a few clusters, then percent waves, then the rest; every
 * wave but the last needs two approvals; a start rate limit per ten (real) minutes; caps per
 * region and per account. Node group drains are not forced, so clusters with a PodDisruptionBudget
 * that allows no disruption are blocked at preflight (untouched; not counted against the budgets).
 */
import type { ScenarioDefinition } from './lib/scenario';

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** How a scenario paces its campaign: the canary, the percent waves after it, the rest, the limits. */
interface Pacing {
  clusters: number;
  /** Clusters in the canary, all upgraded at once, and how many of them may fail. */
  canary: { count: number; failureBudget: number };
  /** The waves between the canary and the rest, each `percent` of the fleet. */
  waves: { name: string; percent: number; maxParallel: number }[];
  /** Clusters in flight over the whole campaign; also the last wave's parallelism. */
  maxInFlight: number;
  /** Starts allowed per ten real minutes. */
  startsPerTenMinutes: number;
  /** Most clusters in flight per region and per account. */
  caps: { region: number; account: number };
  /** The worker's FLEETWAVE_MAX_CONCURRENT_ACTIVITIES. */
  workerActivities: number;
  /** Real soak of the canary and of every later wave (default 1 h and 30 min). */
  soakRealMs?: { canary: number; waves: number };
}

/**
 * A scenario from its pacing: every wave but the last needs approval; `extra` adds to the
 * definition (scrape interval) and `campaign` to its campaign (watch after promotion).
 */
function paced(
  name: string,
  pacing: Pacing,
  extra: Partial<Omit<ScenarioDefinition, 'campaign'>> = {},
  campaign: Partial<ScenarioDefinition['campaign']> = {},
): ScenarioDefinition {
  const soak = pacing.soakRealMs ?? { canary: HOUR, waves: 30 * MINUTE };
  const { count, failureBudget } = pacing.canary;
  return {
    name,
    clusters: pacing.clusters,
    seed: 7,
    timeScale: 1200,
    ...extra,
    campaign: {
      targetVersion: '1.32',
      waves: [
        { name: 'canary', count, maxParallel: count, soakRealMs: soak.canary, approval: 'required', failureBudget },
        ...pacing.waves.map((w) => ({ ...w, soakRealMs: soak.waves, approval: 'required' as const })),
        { name: 'rest', maxParallel: pacing.maxInFlight, soakRealMs: soak.waves, approval: 'auto' },
      ],
      maxInFlight: pacing.maxInFlight,
      rateLimit: { starts: pacing.startsPerTenMinutes, perRealMs: 10 * MINUTE },
      caps: [
        { labelKey: 'region', max: pacing.caps.region },
        { labelKey: 'account', max: pacing.caps.account },
      ],
      ...campaign,
    },
    workerEnv: { FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: String(pacing.workerActivities) },
  };
}

/** The 500 scenario's pacing, also that of 500-soak. */
const PACING_500: Pacing = {
  clusters: 500,
  canary: { count: 5, failureBudget: 1 },
  waves: [
    { name: 'early', percent: 10, maxParallel: 20 },
    { name: 'broad', percent: 40, maxParallel: 40 },
  ],
  maxInFlight: 40,
  startsPerTenMinutes: 20,
  caps: { region: 10, account: 5 },
  workerActivities: 400,
};

export const SCENARIOS: Record<string, ScenarioDefinition> = {
  '50': paced('50', {
    clusters: 50,
    canary: { count: 2, failureBudget: 1 },
    waves: [{ name: 'early', percent: 25, maxParallel: 5 }],
    maxInFlight: 10,
    startsPerTenMinutes: 5,
    caps: { region: 4, account: 3 },
    workerActivities: 200,
  }),
  '500': paced('500', PACING_500),
  // Truly needed: the campaign's workflow input carries the whole fleet, 2.2 MB for 5,000 generated
  // clusters, over Temporal's 2 MiB payload limit ("Blob data size exceeds limit" at start; the
  // continue-as-new input, fleet plus carried state, is larger still). Temporal Cloud's limit is
  // fixed, so this is a fleetwave bug, reported; the bench raises the dev server's limit to get past it.
  '5000': paced(
    '5000',
    {
      clusters: 5000,
      canary: { count: 10, failureBudget: 2 },
      waves: [
        { name: 'early', percent: 5, maxParallel: 50 },
        { name: 'broad', percent: 30, maxParallel: 150 },
      ],
      maxInFlight: 150,
      startsPerTenMinutes: 100,
      caps: { region: 30, account: 10 },
      workerActivities: 1000,
    },
    { scrapeInterval: '2s' },
  ),
  /**
   * The 500 scenario with watching soaks: every wave soaks 2 h and promoted waves stay watched 24 h
   * (simulated), both gates on every cluster looked at every interval throughout. The looks are
   * attempts of one watch activity per batch of 100 pairs, not events, so the campaign's events per
   * cluster must not grow with the soak. (The interval stays one real second, 20 simulated minutes:
   * a 60 s simulated interval would be 50 ms of real time, 20,000 queries a second at 500 clusters;
   * it changes the looks, not the events.)
   */
  '500-soak': paced(
    '500-soak',
    { ...PACING_500, soakRealMs: { canary: 2 * HOUR, waves: 2 * HOUR } },
    {},
    { watchAfterPromotionRealMs: 24 * HOUR },
  ),
};
