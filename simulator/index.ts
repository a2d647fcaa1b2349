/**
 * The fleet simulator, in process: simulated EKS clusters behind the real wire protocols
 * (EKS REST-JSON, Kubernetes API, Prometheus exposition, SSM and STS), with faults and a
 * compressed clock. Tests start one per test on port 0:
 *
 * ```ts
 * const sim = await startSimulator({ fleet, port: 0, timeScale: 1200, seed: 7 });
 * const eks = new EKSClient({ endpoint: sim.url, region: 'us-east-1', credentials });
 * ...
 * await sim.stop();
 * ```
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fleetSchema, type ClusterFaults, type ClusterInventory, type Fleet } from '../domain/fleet';
import { API_VERSION } from '../domain/spec';
import { SimSts } from './aws-misc';
import { SimOrganization, type OrganizationOptions } from './organizations';
import { clusterPdbs } from './k8s-state';
import { SimFleet, type Mutation, type SimClock, type SimCluster } from './model';
import { KubernetesEndpoints } from './k8s-endpoints';
import {
  applyFaults,
  fleetState,
  handleKubernetesRequest,
  handleRequest,
  type ClusterState,
  type ServerContext,
  type SimState,
} from './server';
import { createSimulatorTls } from './tls';

export { generateFleet, type GenerateOptions } from './generate';
export type { OrgAccount, OrganizationOptions } from './organizations';
export type { ClusterState, Mutation, SimState };
export {
  ADDONS,
  AMI_RELEASES,
  DURATIONS,
  SIM_MINORS,
  defaultAddonVersion,
  latestRelease,
  oldestRelease,
} from './catalogue';
export { METRIC_NAMES } from './metrics';
export {
  KARPENTER_COMPATIBILITY_SOURCE,
  KARPENTER_MIN_VERSION_FOR_MINOR,
  aliasParameters,
  karpenterSupportsMinor,
} from './model/karpenter';

export interface SimulatorOptions {
  /** The fleet: a parsed fleet file, or inventory entries (validated here either way). */
  fleet: Fleet | ClusterInventory[];
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Simulated seconds per wall-clock second. Default 1 (real EKS durations). */
  timeScale?: number;
  /** Seeds every duration, ID and per-cluster signal. Default 1. */
  seed?: number;
  /**
   * Base URL of the simulator when clients reach it by another address than `http://<host>:<port>`
   * (a container network): its host is the host of every cluster's Kubernetes endpoint, and is
   * in their certificate. Default: `url`.
   */
  advertiseUrl?: string;
  /** Simulated time at start. Default: the wall clock at start. */
  startTime?: Date;
  /** Called with one line per request (the CLI's --verbose). */
  log?: (line: string) => void;
  /**
   * The AWS organization Organizations ListAccounts lists: always the management account (the base
   * credentials') and every account of the fleet, plus these members; and accounts whose roles STS
   * refuses to let anyone assume. Default: no extra members, every role assumable.
   */
  organization?: OrganizationOptions;
}

export interface Simulator {
  /** Base URL, `http://127.0.0.1:PORT`: the endpoint for EKS, SSM and STS clients. */
  readonly url: string;
  readonly port: number;
  readonly timeScale: number;
  readonly seed: number;
  readonly clusterCount: number;
  /** Stops the server and closes open connections. */
  stop(): Promise<void>;
  /** Back to the fleet as started: versions, faults, updates, mutations and clock. */
  reset(): void;
  /**
   * Merges faults into a cluster's (`"*"` for every cluster); a `null` value clears a field.
   * Throws on an unknown cluster or an invalid fault.
   */
  injectFaults(cluster: string, faults: ClusterFaults | Record<string, unknown>): void;
  /** Every cluster's versions and statuses, settled to now (or one cluster). */
  state(cluster?: string): SimState;
  /** Every accepted mutating call, oldest first. */
  mutations(): Mutation[];
  /** Current simulated time. */
  now(): Date;
  /** Moves simulated time forward (rollback windows, long rollouts) without waiting. */
  advance(ms: number): void;
  /** The cluster's Kubernetes API endpoint, as DescribeCluster returns it (its port opens on first use). */
  kubernetesEndpoint(cluster: string): Promise<string>;
  /** `certificateAuthority.data` as DescribeCluster returns it: base64 of the CA's PEM. */
  readonly certificateAuthority: string;
  /** PEM of the CA that signed every cluster endpoint's certificate. */
  readonly caPem: string;
}

/** Simulated time = start + elapsed monotonic time × timeScale + manual advances. */
class ScaledClock implements SimClock {
  private readonly t0 = performance.now();
  private offset = 0;
  constructor(
    private readonly start: number,
    private readonly scale: number,
  ) {}
  now(): number {
    return this.start + (performance.now() - this.t0) * this.scale + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

function validateFleet(input: Fleet | ClusterInventory[]): ClusterInventory[] {
  const doc = Array.isArray(input) ? { apiVersion: API_VERSION, kind: 'Fleet', clusters: input } : input;
  const parsed = fleetSchema.safeParse(doc);
  if (!parsed.success) {
    const first = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw new Error(`invalid fleet for the simulator: ${first}`);
  }
  return parsed.data.clusters;
}

/** Starts a simulator and resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const inventory = validateFleet(opts.fleet);
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new Error(`timeScale must be a positive number, not ${timeScale}`);
  const seed = opts.seed ?? 1;
  const host = opts.host ?? '127.0.0.1';
  let clock = new ScaledClock(opts.startTime?.getTime() ?? Date.now(), timeScale);
  // A drain during a node-group update meets the budgets as the cluster's Eviction API answers them.
  const blockingPdb = (c: SimCluster) => clusterPdbs(c).find((p) => p.currentHealthy > 0 && p.disruptionsAllowed <= 0);
  const build = () => new SimFleet(inventory, { seed, clock, blockingPdb });
  let fleet = build();
  let url = '';
  const organization = new SimOrganization(
    inventory.map((c) => c.account),
    opts.organization,
  );
  const sts = new SimSts((account) => organization.deniesAssumeRole(account));
  const advertiseHost = opts.advertiseUrl ? new URL(opts.advertiseUrl).hostname.replace(/^\[|\]$/g, '') : host;
  const tls = createSimulatorTls([host, advertiseHost]);
  // The per-cluster ports listen where the main port does; the advertised host names them.
  const endpoints = new KubernetesEndpoints(
    host,
    advertiseHost === '0.0.0.0' || advertiseHost === '::' ? '127.0.0.1' : advertiseHost,
    tls,
    (cluster, req, res) => void handleKubernetesRequest(ctx, cluster, req, res),
  );

  const ctx: ServerContext = {
    fleet: () => fleet,
    sts,
    organization,
    endpoints,
    timeScale,
    seed,
    reset: () => {
      clock = new ScaledClock(opts.startTime?.getTime() ?? Date.now(), timeScale);
      fleet = build();
    },
    advance: (ms) => clock.advance(ms),
    ...(opts.log ? { log: opts.log } : {}),
  };

  const server: Server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    void handleRequest(ctx, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    timeScale,
    seed,
    clusterCount: inventory.length,
    stop: async () => {
      await Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        endpoints.close(),
      ]);
    },
    reset: () => ctx.reset(),
    injectFaults: (cluster, faults) => {
      const result = applyFaults(fleet, cluster, faults);
      if (typeof result === 'string') throw new Error(result);
    },
    state: (cluster) => {
      const state = fleetState(ctx, cluster);
      if (!state) throw new Error(`no cluster named "${cluster}"`);
      return state;
    },
    mutations: () => fleet.mutations.map((m) => ({ ...m })),
    now: () => new Date(fleet.now()),
    advance: (ms) => clock.advance(ms),
    kubernetesEndpoint: (cluster) => {
      if (!fleet.byName.has(cluster)) return Promise.reject(new Error(`no cluster named "${cluster}"`));
      return endpoints.open(cluster);
    },
    certificateAuthority: tls.caData,
    caPem: tls.caPem,
  };
}

/** A cluster's state, for callers that hold a {@link Simulator}. */
export function findCluster(state: SimState, name: string): ClusterState | undefined {
  return state.clusters.find((c) => c.name === name);
}
