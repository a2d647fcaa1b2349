/**
 * The activities wired as in production (createDefaultDeps: real EKS, SSM, STS and Kubernetes
 * clients) but pointed at an in-process fleet simulator, with static fake credentials so the
 * default credential chain never probes instance metadata.
 */
import type { ClusterInventory } from '../../domain/fleet';
import {
  createActivityParts,
  createDefaultDeps,
  type ActivityDeps,
  type DefaultDepsConfig,
} from '../../activities/index';
import type { ActivityParts, ClusterRef, FleetwaveActivities } from '../../activities/types';
import { startSimulator, type Mutation, type Simulator } from '../../simulator/index';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDFLEETWAVETEST', secretAccessKey: 'fleetwave-test-secret' };
export const ACCOUNT = '111122223333';

export interface SimHarness {
  sim: Simulator;
  activities: FleetwaveActivities & ActivityParts;
  /** The clients the activities use (for a command that builds its own activities). */
  deps: ActivityDeps;
  ref(name: string): ClusterRef;
  /** Mutations the simulator accepted, read over HTTP from GET /sim/mutations. */
  mutations(cluster?: string): Promise<Mutation[]>;
  stop(): Promise<void>;
}

/** A cluster entry for an inline fleet; `overrides` replaces fields. */
export function clusterEntry(
  name: string,
  overrides: Partial<ClusterInventory> & Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    region: 'us-east-1',
    account: ACCOUNT,
    labels: { env: 'test' },
    version: '1.29',
    nodegroups: [{ name: 'general', nodes: 3, maxUnavailable: 1 }],
    addons: [
      { name: 'vpc-cni', version: 'v1.18.3-eksbuild.3' },
      { name: 'kube-proxy', version: 'v1.29.13-eksbuild.3' },
    ],
    ...overrides,
  };
}

export async function startSimHarness(
  clusters: Record<string, unknown>[],
  opts: {
    timeScale?: number;
    seed?: number;
    deps?: Partial<DefaultDepsConfig>;
    /** One line per request the simulator answers (its --verbose log). */
    log?: (line: string) => void;
  } = {},
): Promise<SimHarness> {
  const sim = await startSimulator({
    fleet: clusters as unknown as ClusterInventory[],
    port: 0,
    timeScale: opts.timeScale ?? 1200,
    seed: opts.seed ?? 7,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const deps = createDefaultDeps({
    endpoint: sim.url,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    polling: { initialMs: 100, maxMs: 400 },
    // Most tests here drive one attempt to its end (the in-attempt loop); test/activities/parked-waits.test.ts parks.
    waits: { timeScale: opts.timeScale ?? 1200, park: false },
    ...opts.deps,
  });
  const regionOf = new Map(clusters.map((c) => [String(c.name), String(c.region ?? 'us-east-1')]));
  return {
    sim,
    activities: createActivityParts(deps),
    deps,
    ref: (name) => ({ name, region: regionOf.get(name) ?? 'us-east-1', account: ACCOUNT }),
    async mutations(cluster) {
      const res = await fetch(`${sim.url}/sim/mutations${cluster ? `?cluster=${encodeURIComponent(cluster)}` : ''}`);
      return ((await res.json()) as { mutations: Mutation[] }).mutations;
    },
    stop: () => sim.stop(),
  };
}
