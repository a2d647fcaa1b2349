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

export const SCENARIOS: Record<string, ScenarioDefinition> = {
  '50': {
    name: '50',
    clusters: 50,
    seed: 7,
    timeScale: 1200,
    campaign: {
      targetVersion: '1.32',
      waves: [
        { name: 'canary', count: 2, maxParallel: 2, soakRealMs: HOUR, approval: 'required', failureBudget: 1 },
        { name: 'early', percent: 25, maxParallel: 5, soakRealMs: 30 * MINUTE, approval: 'required' },
        { name: 'rest', maxParallel: 10, soakRealMs: 30 * MINUTE, approval: 'auto' },
      ],
      maxInFlight: 10,
      rateLimit: { starts: 5, perRealMs: 10 * MINUTE },
      caps: [
        { labelKey: 'region', max: 4 },
        { labelKey: 'account', max: 3 },
      ],
    },
    workerEnv: { FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '200' },
  },
  '500': {
    name: '500',
    clusters: 500,
    seed: 7,
    timeScale: 1200,
    campaign: {
      targetVersion: '1.32',
      waves: [
        { name: 'canary', count: 5, maxParallel: 5, soakRealMs: HOUR, approval: 'required', failureBudget: 1 },
        { name: 'early', percent: 10, maxParallel: 20, soakRealMs: 30 * MINUTE, approval: 'required' },
        { name: 'broad', percent: 40, maxParallel: 40, soakRealMs: 30 * MINUTE, approval: 'required' },
        { name: 'rest', maxParallel: 40, soakRealMs: 30 * MINUTE, approval: 'auto' },
      ],
      maxInFlight: 40,
      rateLimit: { starts: 20, perRealMs: 10 * MINUTE },
      caps: [
        { labelKey: 'region', max: 10 },
        { labelKey: 'account', max: 5 },
      ],
    },
    workerEnv: { FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '400' },
  },
  '5000': {
    name: '5000',
    clusters: 5000,
    seed: 7,
    timeScale: 1200,
    scrapeInterval: '2s',
    campaign: {
      targetVersion: '1.32',
      waves: [
        { name: 'canary', count: 10, maxParallel: 10, soakRealMs: HOUR, approval: 'required', failureBudget: 2 },
        { name: 'early', percent: 5, maxParallel: 50, soakRealMs: 30 * MINUTE, approval: 'required' },
        { name: 'broad', percent: 30, maxParallel: 150, soakRealMs: 30 * MINUTE, approval: 'required' },
        { name: 'rest', maxParallel: 150, soakRealMs: 30 * MINUTE, approval: 'auto' },
      ],
      maxInFlight: 150,
      rateLimit: { starts: 100, perRealMs: 10 * MINUTE },
      caps: [
        { labelKey: 'region', max: 30 },
        { labelKey: 'account', max: 10 },
      ],
    },
    workerEnv: { FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '1000' },
    // Truly needed: the campaign's workflow input carries the whole fleet, 2.2 MB for 5,000 generated
    // clusters, over Temporal's 2 MiB payload limit ("Blob data size exceeds limit" at start; the
    // continue-as-new input, fleet plus carried state, is larger still). Temporal Cloud's limit is
    // fixed, so this is a fleetwave bug, reported; the bench raises the dev server's limit to get past it.
  },
  /**
   * The 500 scenario with watching soaks: every wave soaks 2 h and promoted waves stay watched 24 h
   * (simulated), both gates on every cluster looked at every interval throughout. The looks are
   * attempts of one watch activity per batch of 100 pairs, not events, so the campaign's events per
   * cluster must not grow with the soak. (The interval stays one real second, 20 simulated minutes:
   * a 60 s simulated interval would be 50 ms of real time, 20,000 queries a second at 500 clusters;
   * it changes the looks, not the events.)
   */
  '500-soak': {
    name: '500-soak',
    clusters: 500,
    seed: 7,
    timeScale: 1200,
    campaign: {
      targetVersion: '1.32',
      waves: [
        { name: 'canary', count: 5, maxParallel: 5, soakRealMs: 2 * HOUR, approval: 'required', failureBudget: 1 },
        { name: 'early', percent: 10, maxParallel: 20, soakRealMs: 2 * HOUR, approval: 'required' },
        { name: 'broad', percent: 40, maxParallel: 40, soakRealMs: 2 * HOUR, approval: 'required' },
        { name: 'rest', maxParallel: 40, soakRealMs: 2 * HOUR, approval: 'auto' },
      ],
      maxInFlight: 40,
      rateLimit: { starts: 20, perRealMs: 10 * MINUTE },
      caps: [
        { labelKey: 'region', max: 10 },
        { labelKey: 'account', max: 5 },
      ],
      watchAfterPromotionRealMs: 24 * HOUR,
    },
    workerEnv: { FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '400' },
  },
};
