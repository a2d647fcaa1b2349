/**
 * The simulated fleet: clusters, node groups, add-ons and their updates, with EKS's rules.
 *
 * Time is simulated and advanced lazily: an update is planned completely when it is accepted
 * (its phase boundaries and its outcome, drawn from the cluster's seeded PRNG), and every read
 * first settles the cluster up to "now", finalising the updates whose end has passed. There are
 * no timers, so 5,000 idle clusters cost nothing between requests, and one seed replays the
 * same durations and outcomes for the same sequence of calls.
 *
 * Everything here is protocol-free; eks-api.ts, k8s-api.ts and metrics.ts render it.
 */
import type { ClusterFaults, ClusterInventory } from '../domain/fleet';
import { compareAddonVersions } from '../domain/versions';
import {
  AddonCatalogue,
  DURATIONS,
  OLDER_MINORS,
  PLATFORM_VERSIONS,
  SIM_MINORS,
  amiReleasesOf,
  compareMinor,
  compareReleases,
  deprecatedApiRemovedIn,
  isMinorString,
  isRunnableMinor,
  isSimMinor,
  oldestRelease,
  releaseMinor,
  shiftMinor,
} from './catalogue';
import { createRng, hash32, hexOf, unit, uuidFrom, uuidOf, type Rng } from './random';

/** An EKS API error: the HTTP layer renders it with `x-amzn-errortype`. */
export class EksError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}

const invalidParameter = (message: string, extra?: Record<string, string>) =>
  new EksError('InvalidParameterException', 400, message, extra);
const invalidRequest = (message: string, extra?: Record<string, string>) =>
  new EksError('InvalidRequestException', 400, message, extra);
const inUse = (message: string, extra?: Record<string, string>) =>
  new EksError('ResourceInUseException', 409, message, extra);
const notFound = (message: string, extra?: Record<string, string>) =>
  new EksError('ResourceNotFoundException', 404, message, extra);

export type UpdateStatus = 'InProgress' | 'Failed' | 'Cancelled' | 'Successful';
export type UpdateType = 'VersionUpdate' | 'VersionRollback' | 'ConfigUpdate' | 'AddonUpdate';

export interface UpdateError {
  errorCode: string;
  errorMessage: string;
  resourceIds: string[];
}

/** What an update changes when it succeeds. */
export type UpdateEffect =
  | { kind: 'control-plane'; from: string; to: string; rollback: boolean }
  | { kind: 'nodegroup-version'; version: string; releaseVersion: string; launchTemplateVersion: string }
  | {
      kind: 'nodegroup-config';
      maxUnavailable?: number;
      maxUnavailablePercentage?: number;
      updateStrategy?: string;
      minSize?: number;
      maxSize?: number;
      desiredSize?: number;
      addLabels?: Record<string, string>;
      removeLabels?: string[];
      addTaints?: Taint[];
      removeTaints?: Taint[];
    }
  | { kind: 'addon'; from: string; to: string };

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface SimUpdate {
  id: string;
  cluster: string;
  nodegroup?: string;
  addon?: string;
  type: UpdateType;
  params: { type: string; value: string }[];
  status: UpdateStatus;
  /** Simulated epoch milliseconds. */
  createdAt: number;
  /** When it succeeds, unless `failAt` comes first. */
  endsAt: number;
  failAt?: number;
  failure?: UpdateError;
  errors: UpdateError[];
  cancellation?: { status: 'InProgress' | 'Failed' | 'Successful'; reason: string };
  /** Until when CancelUpdate can still stop it (control-plane rollbacks only). */
  cancellableUntil?: number;
  effect: UpdateEffect;
  /**
   * Node group version updates: phase boundaries [setupEnd, launchEnd₀, end₀, launchEnd₁, end₁, ...].
   * In batch k the surge nodes launch until launchEndₖ (NotReady), then the old nodes of the
   * batch are cordoned and drained until endₖ, when they are terminated.
   */
  phases?: Float64Array;
  batchSize?: number;
  /** The node group's node count when the update started. */
  nodeCount?: number;
  finishedAt?: number;
}

export interface LaunchTemplateContent {
  version: string;
  releaseVersion: string;
}

export interface SimNodegroup {
  name: string;
  index: number;
  version: string;
  releaseVersion: string;
  desiredSize: number;
  minSize: number;
  maxSize: number;
  maxUnavailable?: number;
  maxUnavailablePercentage?: number;
  updateStrategy: string;
  launchTemplate: { name: string; id: string; version: string };
  /** What each launch-template version carries: the rollback path restores it. */
  launchTemplateHistory: Map<string, LaunchTemplateContent>;
  nextLaunchTemplateVersion: number;
  /** Whether the fleet file declared the launch template (else the simulator made one up). */
  declaredLaunchTemplate: boolean;
  /** The release the node group had at start: crash-loop faults compare against it. */
  originalRelease: string;
  /** Increments each time the nodes are replaced; part of node names. */
  generation: number;
  /** When the nodes of the current generation were created. */
  nodesSince: number;
  labels: Record<string, string>;
  taints: Taint[];
  status: 'ACTIVE' | 'UPDATING';
  createdAt: number;
  modifiedAt: number;
  active?: SimUpdate;
  uid: string;
}

export interface SimAddon {
  name: string;
  version: string;
  status: 'ACTIVE' | 'UPDATING' | 'UPDATE_FAILED';
  createdAt: number;
  modifiedAt: number;
  /** Set when the last successful update went to an older version; clears the degrade fault. */
  rolledBack: boolean;
  active?: SimUpdate;
  uid: string;
}

export interface SimPdb {
  name: string;
  namespace: string;
  allowedDisruptions: number;
}

export interface SimCluster {
  name: string;
  region: string;
  account: string;
  roleArn?: string;
  labels: Record<string, string>;
  arn: string;
  version: string;
  platformVersion: string;
  status: 'ACTIVE' | 'UPDATING';
  createdAt: number;
  nodegroups: SimNodegroup[];
  nodegroupByName: Map<string, SimNodegroup>;
  addons: SimAddon[];
  addonByName: Map<string, SimAddon>;
  pdbs: SimPdb[];
  faults: ClusterFaults;
  /** Every update, oldest first. */
  updates: SimUpdate[];
  /** Updates in progress. */
  active: SimUpdate[];
  tokens: Map<string, SimUpdate>;
  /** The last successful control-plane version change: the rollback window starts there. */
  lastVersionChange?: { from: string; to: string; type: UpdateType; at: number };
  /** Durations and update IDs. */
  rng: Rng;
  /** Throttling and 5xx draws, separate so that faults do not shift durations. */
  faultRng: Rng;
  /** Workload signals of a healthy cluster (deterministic per seed and name). */
  baseErrorRatio: number;
  baseLatencyP99: number;
  degradedErrorRatio: number;
  /** Simulated API-server background traffic, requests per simulated second. */
  apiRate: number;
  counters: { requests: number; errors: number; restarts: number; at: number };
  /** Pre-rendered `cluster="…",region="…"` for the exposition. */
  metricLabels: string;
}

/** One accepted mutating call, as `GET /sim/mutations` lists it. */
export interface Mutation {
  seq: number;
  time: string;
  operation: string;
  cluster: string;
  nodegroup?: string;
  addon?: string;
  /** Control-plane version, AMI release, `lt:<version>`, add-on version, or a config summary. */
  target: string;
  clientRequestToken: string;
  updateId: string;
  updateType: UpdateType;
}

/** Simulated wall clock in epoch milliseconds. */
export interface SimClock {
  now(): number;
}

/** The caller as the SigV4 scope and access key reveal it. */
export interface CallerScope {
  region: string;
  /** Set for credentials that AssumeRole issued: only that account's clusters are visible. */
  account?: string;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Application Deployments with one pod per node (the pods a crash-loop fault breaks). */
export const APP_WORKLOADS: readonly string[] = ['web', 'api', 'worker'];
const APP_PODS_PER_NODE = APP_WORKLOADS.length;

export interface FleetOptions {
  seed: number;
  clock: SimClock;
}

/** The fleet's mutable state and the EKS rules that change it. */
export class SimFleet {
  readonly clusters: SimCluster[] = [];
  readonly byName = new Map<string, SimCluster>();
  readonly mutations: Mutation[] = [];
  /** The add-on table plus the versions this fleet installs. */
  readonly addonCatalogue = new AddonCatalogue();
  private seq = 0;

  constructor(
    inventory: readonly ClusterInventory[],
    private readonly opts: FleetOptions,
  ) {
    const now = opts.clock.now();
    for (const inv of inventory) {
      const c = buildCluster(inv, opts.seed, now);
      for (const a of c.addons) this.addonCatalogue.learn(a.name, a.version, c.version);
      this.clusters.push(c);
      this.byName.set(c.name, c);
    }
  }

  /** Simulated now, in whole milliseconds (durations are whole milliseconds too, so they survive ISO rendering). */
  now(): number {
    return Math.floor(this.opts.clock.now());
  }

  /** A cluster visible to the caller, or ResourceNotFoundException as EKS answers for another region. */
  cluster(name: string, scope: CallerScope): SimCluster {
    const c = this.byName.get(name);
    if (!c || c.region !== scope.region || (scope.account !== undefined && c.account !== scope.account)) {
      throw notFound(`No cluster found for name: ${name}.`, { clusterName: name });
    }
    this.settle(c);
    return c;
  }

  /** Clusters visible to the caller, in fleet order. */
  visible(scope: CallerScope): SimCluster[] {
    return this.clusters.filter(
      (c) => c.region === scope.region && (scope.account === undefined || c.account === scope.account),
    );
  }

  nodegroup(c: SimCluster, name: string): SimNodegroup {
    const ng = c.nodegroupByName.get(name);
    if (!ng) throw notFound(`No node group found for name: ${name}.`, { clusterName: c.name, nodegroupName: name });
    return ng;
  }

  addon(c: SimCluster, name: string): SimAddon {
    const a = c.addonByName.get(name);
    if (!a) throw notFound(`No addon: ${name} found in cluster: ${c.name}`, { clusterName: c.name, addonName: name });
    return a;
  }

  /** Finalises every update of the cluster whose outcome time has passed, in time order. */
  settle(c: SimCluster, now = this.now()): void {
    while (c.active.length > 0) {
      let next: SimUpdate | undefined;
      let nextAt = Infinity;
      for (const u of c.active) {
        const at = u.failAt ?? u.endsAt;
        if (at < nextAt) {
          nextAt = at;
          next = u;
        }
      }
      if (!next || nextAt > now) break;
      this.integrate(c, nextAt);
      this.finish(c, next, nextAt);
    }
    this.integrate(c, now);
  }

  settleAll(now = this.now()): void {
    for (const c of this.clusters) this.settle(c, now);
  }

  /**
   * Advances the cluster's counters to `t` at the rates in force since the last event. Rates
   * change only at events (an update starting or ending, a fault injected), and every event
   * settles first, so the counters do not depend on how often anyone scrapes.
   */
  private integrate(c: SimCluster, t: number): void {
    const dt = t - c.counters.at;
    if (dt <= 0) return;
    const requests = (c.apiRate * dt) / 1000;
    c.counters.requests += requests;
    c.counters.errors += requests * apiErrorFraction(c);
    if (c.faults.crashLoopAfterUpgrade) {
      c.counters.restarts += (crashLoopingPodCount(c) * dt) / DURATIONS.crashLoopPeriodMs;
    }
    c.counters.at = t;
  }

  private finish(c: SimCluster, u: SimUpdate, at: number): void {
    c.active.splice(c.active.indexOf(u), 1);
    u.finishedAt = at;
    const failed = u.failAt !== undefined && u.failAt <= u.endsAt;
    if (failed && u.failure) {
      u.status = 'Failed';
      u.errors = [u.failure];
    } else {
      u.status = 'Successful';
    }
    const effect = u.effect;
    switch (effect.kind) {
      case 'control-plane': {
        c.status = 'ACTIVE';
        if (u.status === 'Successful') {
          c.version = effect.to;
          c.platformVersion = PLATFORM_VERSIONS[effect.to] ?? 'eks.1';
          c.lastVersionChange = { from: effect.from, to: effect.to, type: u.type, at };
        }
        break;
      }
      case 'nodegroup-version': {
        const ng = c.nodegroupByName.get(u.nodegroup ?? '');
        if (!ng) break;
        ng.status = 'ACTIVE';
        ng.active = undefined;
        ng.modifiedAt = at;
        if (u.status === 'Successful') {
          ng.version = effect.version;
          ng.releaseVersion = effect.releaseVersion;
          ng.launchTemplate.version = effect.launchTemplateVersion;
          if (ng.desiredSize > 0) {
            ng.generation++;
            ng.nodesSince = at;
          }
        }
        break;
      }
      case 'nodegroup-config': {
        const ng = c.nodegroupByName.get(u.nodegroup ?? '');
        if (!ng) break;
        ng.status = 'ACTIVE';
        ng.active = undefined;
        ng.modifiedAt = at;
        if (u.status === 'Successful') applyConfig(ng, effect);
        break;
      }
      case 'addon': {
        const a = c.addonByName.get(u.addon ?? '');
        if (!a) break;
        a.active = undefined;
        a.modifiedAt = at;
        if (u.status === 'Successful') {
          const direction = compareAddonVersions(effect.to, effect.from);
          a.version = effect.to;
          if (direction < 0) a.rolledBack = true;
          else if (direction > 0) a.rolledBack = false;
          a.status = 'ACTIVE';
        } else {
          a.status = 'UPDATE_FAILED';
        }
        break;
      }
    }
  }

  private replay(c: SimCluster, key: string): SimUpdate | undefined {
    return c.tokens.get(key);
  }

  private begin(
    c: SimCluster,
    tokenKey: string,
    token: string,
    operation: string,
    target: string,
    u: Omit<SimUpdate, 'id' | 'cluster' | 'status' | 'errors'>,
  ): SimUpdate {
    // The caller planned the update from its own "now": keep that as createdAt so that the
    // planned durations are exactly endsAt - createdAt.
    const now = u.createdAt;
    const update: SimUpdate = {
      ...u,
      id: uuidFrom(c.rng),
      cluster: c.name,
      status: 'InProgress',
      errors: [],
    };
    c.updates.push(update);
    c.active.push(update);
    c.tokens.set(tokenKey, update);
    this.mutations.push({
      seq: ++this.seq,
      time: new Date(now).toISOString(),
      operation,
      cluster: c.name,
      ...(update.nodegroup ? { nodegroup: update.nodegroup } : {}),
      ...(update.addon ? { addon: update.addon } : {}),
      target,
      clientRequestToken: token,
      updateId: update.id,
      updateType: update.type,
    });
    return update;
  }

  private slow(c: SimCluster, ms: number): number {
    return Math.round(ms * (c.faults.slowFactor ?? 1));
  }

  private requireQuiet(c: SimCluster): void {
    const cp = c.active.find((u) => u.effect.kind === 'control-plane');
    if (cp) {
      throw inUse(`Cluster ${c.name} is currently being updated (update ${cp.id}); try again when it is ACTIVE.`, {
        clusterName: c.name,
      });
    }
  }

  /** UpdateClusterVersion: one minor up, or back to the previous minor within the rollback window. */
  updateClusterVersion(
    c: SimCluster,
    req: { version?: string; clientRequestToken: string; force?: boolean },
  ): SimUpdate {
    const key = `UpdateClusterVersion||${req.clientRequestToken}`;
    const replayed = this.replay(c, key);
    if (replayed) return replayed;
    const to = req.version;
    if (!to || !isMinorString(to)) {
      throw invalidParameter(`version must be a Kubernetes minor version such as "1.31", not "${to ?? ''}"`, {
        clusterName: c.name,
      });
    }
    const inProgress = c.active[0];
    if (inProgress) {
      throw inUse(`Cluster ${c.name} has an update in progress (${inProgress.type} ${inProgress.id}).`, {
        clusterName: c.name,
      });
    }
    const from = c.version;
    const distance = compareMinor(to, from);
    const rollback = distance === -1;
    if (distance === 0 || distance > 1 || distance < -1 || !isSimMinor(to)) {
      throw invalidParameter(`Unsupported Kubernetes minor version update from ${from} to ${to}`, {
        clusterName: c.name,
      });
    }
    const now = this.now();
    if (rollback) {
      const last = c.lastVersionChange;
      const inWindow =
        last !== undefined &&
        last.type === 'VersionUpdate' &&
        last.from === to &&
        last.to === from &&
        now - last.at <= DURATIONS.rollbackWindowMs;
      if (!inWindow) {
        throw invalidParameter(
          `Unsupported Kubernetes minor version update from ${from} to ${to}: a control plane can be rolled back only to the minor it was upgraded from, within 7 days of that upgrade`,
          { clusterName: c.name },
        );
      }
      const newer = c.nodegroups.find((ng) => compareMinor(ng.version, to) > 0);
      if (newer) {
        throw invalidParameter(
          `Nodegroup ${newer.name} runs Kubernetes ${newer.version}, newer than ${to}; roll the node group back before the control plane`,
          { clusterName: c.name, nodegroupName: newer.name },
        );
      }
    } else {
      const behind = c.nodegroups.find((ng) => compareMinor(to, ng.version) > 3);
      if (behind) {
        throw invalidRequest(
          `Nodegroup ${behind.name} runs Kubernetes ${behind.version}: kubelets may be at most 3 minor versions older than the control plane; update the node group before upgrading to ${to}`,
          { clusterName: c.name, nodegroupName: behind.name },
        );
      }
      if (!req.force) {
        const blocking = insightsFor(c, now, this.addonCatalogue).filter(
          (i) => i.kubernetesVersion === to && i.category === 'UPGRADE_READINESS' && i.status === 'ERROR',
        );
        if (blocking.length > 0) {
          throw invalidRequest(
            `Upgrade insights report ${blocking.length} issue(s) for Kubernetes ${to} (${blocking.map((i) => i.name).join('; ')}); resolve them or pass force to override`,
            { clusterName: c.name },
          );
        }
      }
    }
    const duration = this.slow(
      c,
      rollback
        ? c.rng.between(DURATIONS.rollbackMinMs, DURATIONS.rollbackMaxMs)
        : c.rng.between(DURATIONS.controlPlaneMinMs, DURATIONS.controlPlaneMaxMs),
    );
    let failAt: number | undefined;
    let failure: UpdateError | undefined;
    if (!rollback && c.faults.controlPlaneUpdateFails) {
      // One-shot, as the fault says "the next control-plane update fails": a retry succeeds.
      delete c.faults.controlPlaneUpdateFails;
      failAt = now + Math.round(duration * 0.6);
      failure = {
        errorCode: 'InsufficientFreeAddresses',
        errorMessage:
          'One or more of the subnets associated with your cluster does not have enough available IP addresses for Amazon EKS to perform cluster management operations (simulated fault controlPlaneUpdateFails).',
        resourceIds: [`subnet-0${hexOf(16, c.name, 'subnet', 0)}`],
      };
    }
    this.integrate(c, now);
    c.status = 'UPDATING';
    return this.begin(c, key, req.clientRequestToken, 'UpdateClusterVersion', to, {
      createdAt: now,
      type: rollback ? 'VersionRollback' : 'VersionUpdate',
      params: [
        { type: 'Version', value: to },
        { type: 'PlatformVersion', value: PLATFORM_VERSIONS[to] ?? 'eks.1' },
      ],
      endsAt: now + duration,
      ...(failAt !== undefined ? { failAt, failure } : {}),
      ...(rollback ? { cancellableUntil: now + Math.round(duration * DURATIONS.rollbackCancellableShare) } : {}),
      effect: { kind: 'control-plane', from, to, rollback },
    });
  }

  /**
   * UpdateNodegroupVersion: forward to a version/release (a new launch-template version is
   * created for it), or to an existing launch-template version (the rollback path).
   */
  updateNodegroupVersion(
    c: SimCluster,
    ng: SimNodegroup,
    req: {
      version?: string;
      releaseVersion?: string;
      launchTemplate?: { name?: string; id?: string; version?: string };
      force?: boolean;
      clientRequestToken: string;
    },
  ): SimUpdate {
    const key = `UpdateNodegroupVersion|${ng.name}|${req.clientRequestToken}`;
    const replayed = this.replay(c, key);
    if (replayed) return replayed;
    const extra = { clusterName: c.name, nodegroupName: ng.name };
    this.requireQuiet(c);
    if (ng.active) throw inUse(`Nodegroup ${ng.name} is currently being updated (update ${ng.active.id}).`, extra);

    const lt = req.launchTemplate;
    if (lt && ((lt.name && lt.name !== ng.launchTemplate.name) || (lt.id && lt.id !== ng.launchTemplate.id))) {
      throw invalidParameter(
        `You must specify the same launch template ID or name that was used to create the node group (${ng.launchTemplate.name}, ${ng.launchTemplate.id}).`,
        extra,
      );
    }
    let ltVersion = lt?.version;
    if (ltVersion === '$Latest') ltVersion = String(ng.nextLaunchTemplateVersion - 1);
    if (ltVersion === '$Default') ltVersion = ng.launchTemplate.version;

    let version: string;
    let releaseVersion: string;
    let targetLt: string;
    let forward: boolean;
    let target: string;
    if (ltVersion !== undefined && ltVersion !== ng.launchTemplate.version) {
      const content = ng.launchTemplateHistory.get(ltVersion);
      if (!content) {
        throw invalidParameter(`Launch template ${ng.launchTemplate.name} has no version ${ltVersion}.`, extra);
      }
      if (req.version !== undefined && req.version !== content.version) {
        throw invalidParameter(
          `Launch template version ${ltVersion} carries Kubernetes ${content.version}, not the requested ${req.version}.`,
          extra,
        );
      }
      if (req.releaseVersion !== undefined && req.releaseVersion !== content.releaseVersion) {
        throw invalidParameter(
          `Launch template version ${ltVersion} carries release ${content.releaseVersion}, not the requested ${req.releaseVersion}.`,
          extra,
        );
      }
      if (compareMinor(content.version, c.version) > 0) {
        throw invalidParameter(
          `Launch template version ${ltVersion} carries Kubernetes ${content.version}, newer than the cluster (${c.version}).`,
          extra,
        );
      }
      version = content.version;
      releaseVersion = content.releaseVersion;
      targetLt = ltVersion;
      forward = compareReleases(releaseVersion, ng.releaseVersion) > 0;
      target = `lt:${ltVersion}`;
    } else {
      if (req.version !== undefined && !isMinorString(req.version)) {
        throw invalidParameter(
          `version must be a Kubernetes minor version such as "1.31", not "${req.version}"`,
          extra,
        );
      }
      const releaseMinorVersion = req.releaseVersion ? releaseMinor(req.releaseVersion) : undefined;
      if (req.releaseVersion !== undefined && !releaseMinorVersion) {
        throw invalidParameter(
          `releaseVersion "${req.releaseVersion}" is not an EKS optimized AMI release version`,
          extra,
        );
      }
      version = req.version ?? releaseMinorVersion ?? c.version;
      if (releaseMinorVersion && releaseMinorVersion !== version) {
        throw invalidParameter(
          `Requested release version ${req.releaseVersion} is not valid for kubernetes version ${version}.`,
          extra,
        );
      }
      if (compareMinor(version, c.version) > 0) {
        throw invalidParameter(
          `Requested Nodegroup version ${version} is newer than the cluster's Kubernetes version ${c.version}; node groups can never be newer than the control plane.`,
          extra,
        );
      }
      if (compareMinor(version, ng.version) < 0) {
        throw invalidParameter(
          `Requested Nodegroup version ${version} is older than its current version ${ng.version}; EKS cannot downgrade a node group (point it back at a previous launch template version instead).`,
          extra,
        );
      }
      const releases = amiReleasesOf(version);
      if (releases.length === 0) throw invalidParameter(`Kubernetes version ${version} is not supported.`, extra);
      releaseVersion = req.releaseVersion ?? releases[releases.length - 1] ?? '';
      if (!releases.includes(releaseVersion)) {
        throw invalidParameter(
          `Requested release version ${releaseVersion} is not valid for kubernetes version ${version}.`,
          extra,
        );
      }
      const order = compareReleases(releaseVersion, ng.releaseVersion);
      if (order < 0) {
        throw invalidParameter(
          `Requested release version ${releaseVersion} is older than the node group's current release ${ng.releaseVersion}; EKS cannot go back to an older AMI release (point the node group back at a previous launch template version instead).`,
          extra,
        );
      }
      if (order === 0) {
        throw invalidParameter(`Nodegroup ${ng.name} is already at release version ${releaseVersion}.`, extra);
      }
      // EKS writes the new AMI into a new launch-template version; keeping what each version
      // carries is what makes "point the node group back at the previous version" a rollback.
      targetLt = String(ng.nextLaunchTemplateVersion++);
      ng.launchTemplateHistory.set(targetLt, { version, releaseVersion });
      forward = true;
      target = releaseVersion;
    }

    const now = this.now();
    const n = ng.desiredSize;
    const batchSize = batchSizeOf(ng);
    const batches = n === 0 ? 0 : Math.ceil(n / batchSize);
    const fault = forward ? c.faults.nodegroupUpdateFails : undefined;
    const pdbBlocks = !req.force && n > 0 && c.pdbs.some((p) => p.allowedDisruptions === 0);
    const setupEnd = now + this.slow(c, c.rng.between(DURATIONS.nodegroupSetupMinMs, DURATIONS.nodegroupSetupMaxMs));
    let failAt: number | undefined;
    let failure: UpdateError | undefined;
    let phases: number[];
    if (batches === 0) {
      phases = [setupEnd];
    } else if (fault === 'NodeCreationFailure') {
      failAt = setupEnd + this.slow(c, DURATIONS.nodeJoinTimeoutMs);
      phases = [setupEnd, failAt];
      failure = {
        errorCode: 'NodeCreationFailure',
        errorMessage: 'Instances failed to join the kubernetes cluster (simulated fault nodegroupUpdateFails).',
        resourceIds: surgeInstanceIds(c, ng, Math.min(batchSize, n)),
      };
    } else {
      const launchEnd = setupEnd + this.slow(c, c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs));
      if (fault === 'PodEvictionFailure' || pdbBlocks) {
        failAt = launchEnd + DURATIONS.drainTimeoutMs;
        phases = [setupEnd, launchEnd, failAt];
        const blocking = c.pdbs.find((p) => p.allowedDisruptions === 0);
        failure = {
          errorCode: 'PodEvictionFailure',
          errorMessage:
            `Reached max retries while trying to evict pods from nodes in node group ${ng.name}` +
            (blocking && pdbBlocks
              ? ` (PodDisruptionBudget ${blocking.namespace}/${blocking.name} allows no disruption)`
              : '') +
            (fault === 'PodEvictionFailure' ? ' (simulated fault nodegroupUpdateFails)' : ''),
          resourceIds: oldNodeNames(c, ng, Math.min(batchSize, n)),
        };
      } else {
        phases = [setupEnd];
        let t = setupEnd;
        for (let b = 0; b < batches; b++) {
          if (b > 0) t += this.slow(c, c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs));
          else t = launchEnd;
          phases.push(t);
          t += this.slow(c, c.rng.between(DURATIONS.batchDrainMinMs, DURATIONS.batchDrainMaxMs));
          phases.push(t);
        }
      }
    }
    const endsAt = failAt !== undefined ? failAt + 1 : (phases[phases.length - 1] ?? setupEnd);
    this.integrate(c, now);
    ng.status = 'UPDATING';
    ng.modifiedAt = now;
    const update = this.begin(c, key, req.clientRequestToken, 'UpdateNodegroupVersion', target, {
      createdAt: now,
      nodegroup: ng.name,
      type: 'VersionUpdate',
      params: [
        { type: 'Version', value: version },
        { type: 'ReleaseVersion', value: releaseVersion },
        { type: 'LaunchTemplateName', value: ng.launchTemplate.name },
        { type: 'LaunchTemplateVersion', value: targetLt },
      ],
      endsAt,
      ...(failAt !== undefined ? { failAt, failure } : {}),
      phases: Float64Array.from(phases),
      batchSize,
      nodeCount: n,
      effect: { kind: 'nodegroup-version', version, releaseVersion, launchTemplateVersion: targetLt },
    });
    ng.active = update;
    return update;
  }

  /** UpdateNodegroupConfig: update strategy, maxUnavailable, scaling, labels and taints. */
  updateNodegroupConfig(
    c: SimCluster,
    ng: SimNodegroup,
    req: {
      updateConfig?: { maxUnavailable?: number; maxUnavailablePercentage?: number; updateStrategy?: string };
      scalingConfig?: { minSize?: number; maxSize?: number; desiredSize?: number };
      labels?: { addOrUpdateLabels?: Record<string, string>; removeLabels?: string[] };
      taints?: { addOrUpdateTaints?: Taint[]; removeTaints?: Taint[] };
      clientRequestToken: string;
    },
  ): SimUpdate {
    const key = `UpdateNodegroupConfig|${ng.name}|${req.clientRequestToken}`;
    const replayed = this.replay(c, key);
    if (replayed) return replayed;
    const extra = { clusterName: c.name, nodegroupName: ng.name };
    this.requireQuiet(c);
    if (ng.active) throw inUse(`Nodegroup ${ng.name} is currently being updated (update ${ng.active.id}).`, extra);

    const effect: Extract<UpdateEffect, { kind: 'nodegroup-config' }> = { kind: 'nodegroup-config' };
    const params: { type: string; value: string }[] = [];
    const intIn = (name: string, v: unknown, min: number, max: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw invalidParameter(`${name} must be an integer between ${min} and ${max}`, extra);
      }
      return v;
    };
    const uc = req.updateConfig;
    if (uc) {
      if (uc.maxUnavailable !== undefined && uc.maxUnavailablePercentage !== undefined) {
        throw invalidParameter('Specify either maxUnavailable or maxUnavailablePercentage, not both', extra);
      }
      if (uc.maxUnavailable !== undefined) {
        effect.maxUnavailable = intIn('maxUnavailable', uc.maxUnavailable, 1, 100);
        params.push({ type: 'MaxUnavailable', value: String(effect.maxUnavailable) });
      }
      if (uc.maxUnavailablePercentage !== undefined) {
        effect.maxUnavailablePercentage = intIn('maxUnavailablePercentage', uc.maxUnavailablePercentage, 1, 100);
        params.push({ type: 'MaxUnavailablePercentage', value: String(effect.maxUnavailablePercentage) });
      }
      if (uc.updateStrategy !== undefined) {
        if (uc.updateStrategy !== 'DEFAULT' && uc.updateStrategy !== 'MINIMAL') {
          throw invalidParameter(
            `updateStrategy must be DEFAULT or MINIMAL, not "${String(uc.updateStrategy)}"`,
            extra,
          );
        }
        effect.updateStrategy = uc.updateStrategy;
        params.push({ type: 'UpdateStrategy', value: uc.updateStrategy });
      }
    }
    const sc = req.scalingConfig;
    if (sc) {
      const minSize = sc.minSize !== undefined ? intIn('minSize', sc.minSize, 0, 1000) : ng.minSize;
      const maxSize = sc.maxSize !== undefined ? intIn('maxSize', sc.maxSize, 1, 1000) : ng.maxSize;
      const desiredSize = sc.desiredSize !== undefined ? intIn('desiredSize', sc.desiredSize, 0, 1000) : ng.desiredSize;
      if (minSize > maxSize || desiredSize < minSize || desiredSize > maxSize) {
        throw invalidParameter(
          `scalingConfig must satisfy minSize <= desiredSize <= maxSize (got ${minSize}, ${desiredSize}, ${maxSize})`,
          extra,
        );
      }
      if (sc.minSize !== undefined) {
        effect.minSize = minSize;
        params.push({ type: 'MinSize', value: String(minSize) });
      }
      if (sc.maxSize !== undefined) {
        effect.maxSize = maxSize;
        params.push({ type: 'MaxSize', value: String(maxSize) });
      }
      if (sc.desiredSize !== undefined) {
        effect.desiredSize = desiredSize;
        params.push({ type: 'DesiredSize', value: String(desiredSize) });
      }
    }
    if (req.labels?.addOrUpdateLabels && Object.keys(req.labels.addOrUpdateLabels).length > 0) {
      effect.addLabels = req.labels.addOrUpdateLabels;
      params.push({ type: 'LabelsToAdd', value: JSON.stringify(req.labels.addOrUpdateLabels) });
    }
    if (req.labels?.removeLabels && req.labels.removeLabels.length > 0) {
      effect.removeLabels = req.labels.removeLabels;
      params.push({ type: 'LabelsToRemove', value: JSON.stringify(req.labels.removeLabels) });
    }
    if (req.taints?.addOrUpdateTaints && req.taints.addOrUpdateTaints.length > 0) {
      effect.addTaints = req.taints.addOrUpdateTaints;
      params.push({ type: 'TaintsToAdd', value: JSON.stringify(req.taints.addOrUpdateTaints) });
    }
    if (req.taints?.removeTaints && req.taints.removeTaints.length > 0) {
      effect.removeTaints = req.taints.removeTaints;
      params.push({ type: 'TaintsToRemove', value: JSON.stringify(req.taints.removeTaints) });
    }
    if (params.length === 0) throw invalidParameter('The update request contains no changes.', extra);

    const now = this.now();
    let duration = c.rng.between(DURATIONS.configMinMs, DURATIONS.configMaxMs);
    if (effect.desiredSize !== undefined && effect.desiredSize > ng.desiredSize) {
      duration += c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs);
    }
    this.integrate(c, now);
    ng.status = 'UPDATING';
    ng.modifiedAt = now;
    const update = this.begin(
      c,
      key,
      req.clientRequestToken,
      'UpdateNodegroupConfig',
      params.map((p) => `${p.type}=${p.value}`).join(','),
      {
        createdAt: now,
        nodegroup: ng.name,
        type: 'ConfigUpdate',
        params,
        endsAt: now + this.slow(c, duration),
        effect,
      },
    );
    ng.active = update;
    return update;
  }

  /** UpdateAddon: to a catalogued version compatible with the cluster's minor. */
  updateAddon(
    c: SimCluster,
    a: SimAddon,
    req: { addonVersion?: string; resolveConflicts?: string; configurationValues?: string; clientRequestToken: string },
  ): SimUpdate {
    const key = `UpdateAddon|${a.name}|${req.clientRequestToken}`;
    const replayed = this.replay(c, key);
    if (replayed) return replayed;
    const extra = { clusterName: c.name, addonName: a.name };
    this.requireQuiet(c);
    if (a.active) throw inUse(`Addon ${a.name} is currently being updated (update ${a.active.id}).`, extra);
    if (req.resolveConflicts !== undefined && !['NONE', 'OVERWRITE', 'PRESERVE'].includes(req.resolveConflicts)) {
      throw invalidParameter(
        `resolveConflicts must be NONE, OVERWRITE or PRESERVE, not "${req.resolveConflicts}"`,
        extra,
      );
    }
    const to = req.addonVersion ?? a.version;
    if (req.addonVersion !== undefined) {
      if (!this.addonCatalogue.versionEntry(a.name, to)) {
        throw invalidParameter(`Addon version specified is not supported: ${a.name} ${to}`, extra);
      }
      if (!this.addonCatalogue.compatible(a.name, to, c.version)) {
        throw invalidParameter(
          `Addon version ${to} of ${a.name} is not compatible with Kubernetes ${c.version} (see DescribeAddonVersions).`,
          extra,
        );
      }
    }
    const now = this.now();
    const duration = this.slow(c, c.rng.between(DURATIONS.addonMinMs, DURATIONS.addonMaxMs));
    const forward = compareAddonVersions(to, a.version) > 0;
    let failAt: number | undefined;
    let failure: UpdateError | undefined;
    if (forward && c.faults.addonUpdateFails) {
      failAt = now + Math.round(duration * 0.7);
      failure = {
        errorCode: 'ConfigurationConflict',
        errorMessage: `Conflicts found when trying to apply ${a.name} ${to}. Will not continue due to resolve conflicts mode (simulated fault addonUpdateFails).`,
        resourceIds: [`kube-system/${a.name}`],
      };
    }
    const params = [{ type: 'AddonVersion', value: to }];
    if (req.resolveConflicts) params.push({ type: 'ResolveConflicts', value: req.resolveConflicts });
    if (req.configurationValues !== undefined)
      params.push({ type: 'ConfigurationValues', value: req.configurationValues });
    this.integrate(c, now);
    a.status = 'UPDATING';
    a.modifiedAt = now;
    const update = this.begin(c, key, req.clientRequestToken, 'UpdateAddon', to, {
      createdAt: now,
      addon: a.name,
      type: 'AddonUpdate',
      params,
      endsAt: now + duration,
      ...(failAt !== undefined ? { failAt, failure } : {}),
      effect: { kind: 'addon', from: a.version, to },
    });
    a.active = update;
    return update;
  }

  /**
   * CancelUpdate, as EKS documents it: best effort, only for VersionRollback updates, and only
   * before the rollback of the control plane itself has begun.
   */
  cancelUpdate(c: SimCluster, updateId: string, clientRequestToken: string): SimUpdate {
    const u = c.updates.find((x) => x.id === updateId && !x.nodegroup && !x.addon);
    if (!u) throw notFound(`No update found for ID: ${updateId}`, { clusterName: c.name });
    const key = `CancelUpdate|${updateId}|${clientRequestToken}`;
    if (c.tokens.has(key)) return u;
    if (u.status !== 'InProgress') {
      throw invalidRequest(
        `Update ${updateId} is ${u.status}, not InProgress; only an update in progress can be cancelled.`,
        {
          clusterName: c.name,
        },
      );
    }
    if (u.type !== 'VersionRollback') {
      throw invalidRequest(`Update ${updateId} is a ${u.type}: only VersionRollback updates can be cancelled.`, {
        clusterName: c.name,
      });
    }
    const now = this.now();
    c.tokens.set(key, u);
    if (u.cancellableUntil !== undefined && now < u.cancellableUntil) {
      this.integrate(c, now);
      u.status = 'Cancelled';
      u.finishedAt = now;
      u.cancellation = {
        status: 'Successful',
        reason: 'Cancelled by request before the control plane rollback began.',
      };
      c.active.splice(c.active.indexOf(u), 1);
      c.status = 'ACTIVE';
      this.mutations.push({
        seq: ++this.seq,
        time: new Date(now).toISOString(),
        operation: 'CancelUpdate',
        cluster: c.name,
        target: 'Cancelled',
        clientRequestToken,
        updateId: u.id,
        updateType: u.type,
      });
    } else {
      u.cancellation = { status: 'Failed', reason: 'The control plane rollback has already begun.' };
    }
    return u;
  }

  /** An update by ID within its scope: EKS finds node-group and add-on updates only with their name. */
  findUpdate(c: SimCluster, id: string, scope: { nodegroupName?: string; addonName?: string }): SimUpdate {
    const u = c.updates.find(
      (x) =>
        x.id === id &&
        (x.nodegroup ?? '') === (scope.nodegroupName ?? '') &&
        (x.addon ?? '') === (scope.addonName ?? ''),
    );
    if (!u) throw notFound(`No update found for ID: ${id}`, { clusterName: c.name });
    return u;
  }

  /** Update IDs of a scope, newest first. */
  listUpdates(c: SimCluster, scope: { nodegroupName?: string; addonName?: string }): string[] {
    if (scope.nodegroupName) this.nodegroup(c, scope.nodegroupName);
    if (scope.addonName) this.addon(c, scope.addonName);
    const out: string[] = [];
    for (let i = c.updates.length - 1; i >= 0; i--) {
      const u = c.updates[i] as SimUpdate;
      if ((u.nodegroup ?? '') === (scope.nodegroupName ?? '') && (u.addon ?? '') === (scope.addonName ?? ''))
        out.push(u.id);
    }
    return out;
  }

  /** Merges faults into a cluster's (a `null` value clears a field); counters settle first. */
  injectFaults(c: SimCluster, faults: Record<string, unknown>): void {
    this.settle(c);
    const next: Record<string, unknown> = { ...c.faults };
    for (const [k, v] of Object.entries(faults)) {
      if (v === null || v === undefined) delete next[k];
      else next[k] = v;
    }
    c.faults = next as ClusterFaults;
  }
}

function applyConfig(ng: SimNodegroup, e: Extract<UpdateEffect, { kind: 'nodegroup-config' }>): void {
  if (e.maxUnavailable !== undefined) {
    ng.maxUnavailable = e.maxUnavailable;
    ng.maxUnavailablePercentage = undefined;
  }
  if (e.maxUnavailablePercentage !== undefined) {
    ng.maxUnavailablePercentage = e.maxUnavailablePercentage;
    ng.maxUnavailable = undefined;
  }
  if (e.updateStrategy !== undefined) ng.updateStrategy = e.updateStrategy;
  if (e.minSize !== undefined) ng.minSize = e.minSize;
  if (e.maxSize !== undefined) ng.maxSize = e.maxSize;
  if (e.desiredSize !== undefined) ng.desiredSize = e.desiredSize;
  if (e.addLabels) Object.assign(ng.labels, e.addLabels);
  for (const k of e.removeLabels ?? []) delete ng.labels[k];
  for (const t of e.addTaints ?? []) {
    ng.taints = ng.taints.filter((x) => !(x.key === t.key && x.effect === t.effect));
    ng.taints.push(t);
  }
  for (const t of e.removeTaints ?? [])
    ng.taints = ng.taints.filter((x) => !(x.key === t.key && x.effect === t.effect));
}

/** Nodes replaced per batch: maxUnavailable, or the percentage of the node count, at least 1. */
export function batchSizeOf(ng: SimNodegroup): number {
  if (ng.maxUnavailablePercentage !== undefined) {
    return Math.max(1, Math.floor((ng.desiredSize * ng.maxUnavailablePercentage) / 100));
  }
  return Math.max(1, ng.maxUnavailable ?? 1);
}

function buildCluster(inv: ClusterInventory, seed: number, now: number): SimCluster {
  const name = inv.name;
  const runnable = `${OLDER_MINORS[0]}–${SIM_MINORS[SIM_MINORS.length - 1]}`;
  if (!isRunnableMinor(inv.version)) {
    throw new Error(`cluster ${name}: version ${inv.version} is outside the simulator's catalogue (${runnable})`);
  }
  const rng = createRng(hash32(seed, 'cluster', name));
  // Clusters were created some weeks before the simulation starts.
  const createdAt = now - Math.floor(unit(seed, name, 'created') * 200 + 30) * 86_400_000;
  const nodegroups = inv.nodegroups.map((ngInv, index): SimNodegroup => {
    const version = ngInv.version ?? inv.version;
    if (!isRunnableMinor(version)) {
      throw new Error(
        `cluster ${name}, node group ${ngInv.name}: version ${version} is outside the simulator's catalogue (${runnable})`,
      );
    }
    const releaseVersion = ngInv.releaseVersion ?? oldestRelease(version) ?? '';
    if (releaseMinor(releaseVersion) !== version) {
      throw new Error(
        `cluster ${name}, node group ${ngInv.name}: releaseVersion ${releaseVersion} is not a release of Kubernetes ${version}`,
      );
    }
    const declared = ngInv.launchTemplate !== undefined;
    const ltName = ngInv.launchTemplate?.name ?? `${name}-${ngInv.name}`;
    const ltVersion = ngInv.launchTemplate?.version ?? '1';
    const numeric = Number.parseInt(ltVersion, 10);
    const history = new Map<string, { version: string; releaseVersion: string }>([
      [ltVersion, { version, releaseVersion }],
    ]);
    const ngCreated = createdAt + Math.floor(unit(seed, name, ngInv.name, 'created') * 10) * 86_400_000;
    return {
      name: ngInv.name,
      index,
      version,
      releaseVersion,
      desiredSize: ngInv.nodes,
      minSize: Math.min(ngInv.nodes, 1),
      maxSize: Math.max(ngInv.nodes * 2, 1),
      maxUnavailable: ngInv.maxUnavailable,
      updateStrategy: 'DEFAULT',
      launchTemplate: { name: ltName, id: `lt-0${hexOf(16, seed, name, ngInv.name, 'lt')}`, version: ltVersion },
      launchTemplateHistory: history,
      nextLaunchTemplateVersion: Number.isFinite(numeric) ? numeric + 1 : 2,
      declaredLaunchTemplate: declared,
      originalRelease: releaseVersion,
      generation: 0,
      nodesSince: now - Math.floor(unit(seed, name, ngInv.name, 'nodes') * 20 + 1) * 86_400_000,
      labels: {},
      taints: [],
      status: 'ACTIVE',
      createdAt: ngCreated,
      modifiedAt: ngCreated,
      uid: uuidOf(seed, name, ngInv.name),
    };
  });
  const addons = inv.addons.map((a): SimAddon => ({
    name: a.name,
    version: a.version,
    status: 'ACTIVE',
    createdAt,
    modifiedAt: createdAt,
    rolledBack: false,
    uid: uuidOf(seed, name, a.name),
  }));
  const baseErrorRatio = 0.001 + 0.003 * unit(seed, name, 'error-ratio');
  const c: SimCluster = {
    name,
    region: inv.region,
    account: inv.account,
    ...(inv.roleArn ? { roleArn: inv.roleArn } : {}),
    labels: { ...inv.labels },
    arn: `arn:aws:eks:${inv.region}:${inv.account}:cluster/${name}`,
    version: inv.version,
    platformVersion: PLATFORM_VERSIONS[inv.version] ?? 'eks.1',
    status: 'ACTIVE',
    createdAt,
    nodegroups,
    nodegroupByName: new Map(nodegroups.map((ng) => [ng.name, ng])),
    addons,
    addonByName: new Map(addons.map((a) => [a.name, a])),
    pdbs: inv.pdbs.map((p) => ({ name: p.name, namespace: p.namespace, allowedDisruptions: p.allowedDisruptions })),
    faults: { ...(inv.faults ?? {}) },
    updates: [],
    active: [],
    tokens: new Map(),
    rng,
    faultRng: createRng(hash32(seed, 'faults', name)),
    baseErrorRatio,
    baseLatencyP99: 0.12 + 0.18 * unit(seed, name, 'latency'),
    degradedErrorRatio: 0.05 + 0.03 * unit(seed, name, 'degraded'),
    apiRate: 20 + 40 * unit(seed, name, 'api-rate'),
    counters: {
      requests: Math.floor(unit(seed, name, 'requests') * 1e6),
      errors: Math.floor(unit(seed, name, 'errors') * 100),
      restarts: Math.floor(unit(seed, name, 'restarts') * 20),
      at: now,
    },
    metricLabels: `cluster="${escapeLabel(name)}",region="${escapeLabel(inv.region)}"`,
  };
  return c;
}

/** Fraction of simulated API-server requests that answer 5xx: a trickle, more while the control plane is replaced. */
export function apiErrorFraction(c: SimCluster): number {
  const cpUpdating = c.status === 'UPDATING' ? 0.003 : 0;
  return 0.0002 + cpUpdating + (c.faults.serverErrorRate ?? 0);
}

/** Whether the node group's nodes run a newer AMI than the one it started with (crash-loop fault). */
export function isUpgradedRelease(ng: SimNodegroup, release: string): boolean {
  return compareReleases(release, ng.originalRelease) > 0;
}

/** Application pods crash-looping now (approximated from the node groups' settled releases). */
export function crashLoopingPodCount(c: SimCluster): number {
  if (!c.faults.crashLoopAfterUpgrade) return 0;
  let n = 0;
  for (const ng of c.nodegroups) if (isUpgradedRelease(ng, ng.releaseVersion)) n += ng.desiredSize * APP_PODS_PER_NODE;
  return n;
}

/**
 * The degrade-after-upgrade fault: the workload suffers once every node runs at least
 * `degradeAtVersion`, and recovers when a node group is rolled back below it or an add-on is
 * rolled back to an older version.
 */
export function isDegraded(c: SimCluster): boolean {
  const at = c.faults.degradeAtVersion;
  if (!at) return false;
  let nodes = 0;
  for (const ng of c.nodegroups) {
    if (ng.desiredSize === 0) continue;
    if (compareMinor(ng.version, at) < 0) return false;
    nodes += ng.desiredSize;
  }
  if (nodes === 0) return false;
  return !c.addons.some((a) => a.rolledBack);
}

/** The workload signals /metrics exposes for a cluster. */
export function workloadSignals(c: SimCluster): { errorRatio: number; latencyP99: number } {
  const degraded = isDegraded(c);
  const crash = crashLoopingPodCount(c) > 0 ? 0.02 : 0;
  return {
    errorRatio: (degraded ? c.degradedErrorRatio : c.baseErrorRatio) + crash,
    latencyP99: c.baseLatencyP99 * (degraded ? 4 : 1) * (crash > 0 ? 1.5 : 1),
  };
}

export interface InsightModel {
  id: string;
  name: string;
  category: 'UPGRADE_READINESS';
  kubernetesVersion: string;
  status: 'PASSING' | 'WARNING' | 'ERROR';
  reason: string;
  description: string;
  recommendation: string;
  lastRefreshTime: number;
  lastTransitionTime: number;
  deprecationDetails?: {
    usage: string;
    replacedWith: string;
    stopServingVersion: string;
    startServingReplacementVersion: string;
    clientStats: { userAgent: string; numberOfRequestsLast30Days: number; lastRequestTime: number }[];
  }[];
  addonCompatibilityDetails?: { name: string; compatibleVersions: string[] }[];
  resources?: { insightStatus: { status: string; reason: string }; kubernetesResourceUri?: string; arn?: string }[];
}

/**
 * Upgrade insights for the next minor, computed from the cluster as it is now (EKS refreshes
 * them daily; here they are always current): deprecated APIs (ERROR under the insightsError
 * fault), kubelet version skew (ERROR when a node group would fall more than 3 minors behind),
 * add-on compatibility (WARNING when an installed add-on does not run on the next minor) and
 * cluster health (PASSING).
 */
export function insightsFor(c: SimCluster, now: number, catalogue: AddonCatalogue): InsightModel[] {
  const next = shiftMinor(c.version, 1);
  if (!isSimMinor(next)) return [];
  const base = { category: 'UPGRADE_READINESS' as const, kubernetesVersion: next, lastRefreshTime: now };
  const out: InsightModel[] = [];

  const api = deprecatedApiRemovedIn(next);
  const apiError = c.faults.insightsError === true;
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'deprecated-apis', next),
    name: `Deprecated APIs removed in Kubernetes v${next}`,
    status: apiError ? 'ERROR' : 'PASSING',
    reason: apiError
      ? `Deprecated API usage detected within last 30 days and your cluster is on Kubernetes v${c.version}.`
      : 'No deprecated API usage detected within the last 30 days.',
    description: `Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes v${next}. Upgrading your cluster before migrating to the updated APIs supported by v${next} could cause application impact.`,
    recommendation: `Update manifests and API clients to use newer Kubernetes APIs if applicable before upgrading to Kubernetes v${next}.`,
    lastTransitionTime: apiError ? now : c.createdAt,
    deprecationDetails: [
      {
        usage: api.usage,
        replacedWith: api.replacedWith,
        stopServingVersion: next,
        startServingReplacementVersion: api.startServingReplacementVersion,
        clientStats: apiError
          ? [
              {
                userAgent: 'helm/v3.14.4',
                numberOfRequestsLast30Days: 1200 + Math.floor(unit(c.name, next) * 5000),
                lastRequestTime: now - 3600_000,
              },
            ]
          : [],
      },
    ],
    ...(apiError
      ? {
          resources: [
            {
              insightStatus: { status: 'ERROR', reason: `${api.usage} is removed in v${next}` },
              kubernetesResourceUri: `${api.usage}/example`,
            },
          ],
        }
      : {}),
  });

  const behind = c.nodegroups.filter((ng) => compareMinor(next, ng.version) > 3);
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'kubelet-skew', next),
    name: 'Kubelet version skew',
    status: behind.length > 0 ? 'ERROR' : 'PASSING',
    reason:
      behind.length > 0
        ? `Node groups ${behind.map((ng) => `${ng.name} (${ng.version})`).join(', ')} would be more than 3 minor versions behind v${next}.`
        : 'Node kubelet versions match the cluster control plane version or are within the allowed skew.',
    description:
      'Checks for worker nodes whose kubelet version would fall outside the supported skew after the upgrade.',
    recommendation:
      'Upgrade your worker nodes to a version within the supported skew of the target control-plane version.',
    lastTransitionTime: c.createdAt,
    ...(behind.length > 0
      ? {
          resources: behind.map((ng) => ({
            insightStatus: { status: 'ERROR', reason: `kubelet ${ng.version}` },
            arn: `arn:aws:eks:${c.region}:${c.account}:nodegroup/${c.name}/${ng.name}/${ng.uid}`,
          })),
        }
      : {}),
  });

  const incompatible = c.addons.filter(
    (a) => catalogue.entry(a.name) !== undefined && !catalogue.compatible(a.name, a.version, next),
  );
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'addon-compatibility', next),
    name: 'Amazon EKS add-on version compatibility',
    status: incompatible.length > 0 ? 'WARNING' : 'PASSING',
    reason:
      incompatible.length > 0
        ? `Add-on versions not compatible with v${next}: ${incompatible.map((a) => `${a.name} ${a.version}`).join(', ')}.`
        : `All installed Amazon EKS add-ons are compatible with Kubernetes v${next}.`,
    description: `Checks version of installed EKS add-ons to ensure they are compatible with Kubernetes v${next}.`,
    recommendation: 'Upgrade the add-ons to a version compatible with the next Kubernetes version.',
    lastTransitionTime: c.createdAt,
    addonCompatibilityDetails: incompatible.map((a) => ({
      name: a.name,
      compatibleVersions: (catalogue.entry(a.name)?.versions ?? [])
        .filter((v) => v.compatible.includes(next))
        .map((v) => v.version),
    })),
  });

  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'cluster-health', next),
    name: 'Cluster health issues',
    status: 'PASSING',
    reason: 'No cluster health issues detected.',
    description: 'Checks for any cluster health issues that prevent a successful upgrade.',
    recommendation: 'Resolve cluster health issues before upgrading.',
    lastTransitionTime: c.createdAt,
  });
  return out;
}

/** Instance IDs of the surge nodes of the first batch (for NodeCreationFailure resourceIds). */
function surgeInstanceIds(c: SimCluster, ng: SimNodegroup, count: number): string[] {
  const ids: string[] = [];
  for (let k = 0; k < count; k++) ids.push(instanceId(c.name, ng.name, ng.generation + 1, k));
  return ids;
}

/** Names of the old nodes of the first batch (for PodEvictionFailure resourceIds). */
function oldNodeNames(c: SimCluster, ng: SimNodegroup, count: number): string[] {
  const names: string[] = [];
  for (let k = 0; k < count; k++) names.push(nodeName(c, ng, ng.generation, k));
  return names;
}

/** EC2 instance ID of a node. */
export function instanceId(cluster: string, nodegroup: string, generation: number, index: number): string {
  return `i-0${hexOf(16, cluster, nodegroup, generation, index)}`;
}

/**
 * A node's name, `ip-10-A-X-Y.<region>.compute.internal`. The address is unique within the
 * cluster for 16 node groups of up to 2,048 nodes: the node group picks a /20, the parity of
 * the generation one half of it, so old and new nodes of a rolling update never collide.
 * (Host part from 1, so no address ends in .0.)
 */
export function nodeName(c: SimCluster, ng: SimNodegroup, generation: number, index: number): string {
  const second = hash32(c.name) % 256;
  const counter = ((ng.index % 16) * 4096 + (generation % 2) * 2048 + (index % 2047) + 1) % 65536;
  const region = c.region === 'us-east-1' ? 'ec2' : `${c.region}.compute`;
  return `ip-10-${second}-${counter >> 8}-${counter & 255}.${region}.internal`;
}
