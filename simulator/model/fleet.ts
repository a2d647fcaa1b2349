/**
 * The simulated fleet: clusters, node groups, add-ons and their updates, with EKS's rules.
 *
 * Time is simulated and advanced lazily: an update is planned completely when it is accepted
 * (its phase boundaries and its outcome, drawn from the cluster's seeded PRNG), and every read
 * first settles the cluster up to "now", finalising the updates whose end has passed. There are
 * no timers, so 5,000 idle clusters cost nothing between requests, and one seed replays the
 * same durations and outcomes for the same sequence of calls.
 *
 * The per-resource rules live in rules-*.ts and reach the lifecycle through {@link UpdateHost}.
 * Everything here is protocol-free; eks-api.ts, k8s-api.ts and metrics.ts render it.
 */
import type { ClusterFaults, ClusterInventory } from '../../domain/fleet';
import { compareAddonVersions } from '../../domain/versions';
import { AddonCatalogue, DURATIONS, PLATFORM_VERSIONS } from '../catalogue';
import { uuidFrom } from '../random';
import { invalidRequest, inUse, notFound } from './errors';
import { advanceNodePools } from './automode';
import { buildCluster } from './build';
import { Ec2State } from './ec2';
import { startAddonUpdate, type AddonUpdateRequest } from './rules-addon';
import { startClusterVersionUpdate, type ClusterVersionRequest } from './rules-control-plane';
import {
  applyConfig,
  startNodegroupConfigUpdate,
  startNodegroupVersionUpdate,
  type NodegroupConfigRequest,
  type NodegroupVersionRequest,
} from './rules-nodegroup';
import { apiErrorFraction, crashLoopingPodCount } from './signals';
import type {
  SimCluster,
  SimNodegroup,
  SimAddon,
  SimUpdate,
  UpdateHost,
  CallerScope,
  Mutation,
  FleetOptions,
} from './types';

/** The fleet's mutable state and the EKS rules that change it. */
export class SimFleet implements UpdateHost {
  readonly clusters: SimCluster[] = [];
  readonly byName = new Map<string, SimCluster>();
  readonly mutations: Mutation[] = [];
  /** The add-on table plus the versions this fleet installs. */
  readonly addonCatalogue = new AddonCatalogue();
  /** Launch templates and custom AMIs (the EC2 API's state). */
  readonly ec2 = new Ec2State();
  private seq = 0;

  constructor(
    inventory: readonly ClusterInventory[],
    private readonly opts: FleetOptions,
  ) {
    const now = opts.clock.now();
    for (const inv of inventory) this.ec2.addAccount(inv.region, inv.account);
    for (const inv of inventory) {
      const c = buildCluster(inv, opts.seed, now, this.ec2);
      for (const a of c.addons) this.addonCatalogue.learn(a.name, a.version, c.version);
      this.clusters.push(c);
      this.byName.set(c.name, c);
    }
  }

  blockingPdb(c: SimCluster): { namespace: string; name: string } | undefined {
    if (this.opts.blockingPdb) return this.opts.blockingPdb(c);
    return c.pdbs.find((p) => p.allowedDisruptions === 0);
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
      // Nodes follow the control plane from the moment it changes, not from the next read.
      advanceNodePools(c, nextAt, (x) => this.blockingPdb(x));
      this.finish(c, next, nextAt);
    }
    this.integrate(c, now);
    advanceNodePools(c, now, (x) => this.blockingPdb(x));
  }

  settleAll(now = this.now()): void {
    for (const c of this.clusters) this.settle(c, now);
  }

  /**
   * Advances the cluster's counters to `t` at the rates in force since the last event. Rates
   * change only at events (an update starting or ending, a fault injected), and every event
   * settles first, so the counters do not depend on how often anyone scrapes.
   */
  integrate(c: SimCluster, t: number): void {
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
          if (effect.imageId !== undefined) ng.imageId = effect.imageId;
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

  /** The update a request token already started, if any: EKS answers a repeated token with it. */
  replay(c: SimCluster, key: string): SimUpdate | undefined {
    return c.tokens.get(key);
  }

  /** Records a planned update as in progress, under its token, and logs the mutation. */
  begin(
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
      wallTime: new Date().toISOString(),
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

  /** A duration stretched by the cluster's slowFactor fault. */
  slow(c: SimCluster, ms: number): number {
    return Math.round(ms * (c.faults.slowFactor ?? 1));
  }

  /** ResourceInUseException while the control plane is being updated. */
  requireQuiet(c: SimCluster): void {
    const cp = c.active.find((u) => u.effect.kind === 'control-plane');
    if (cp) {
      throw inUse(`Cluster ${c.name} is currently being updated (update ${cp.id}); try again when it is ACTIVE.`, {
        clusterName: c.name,
      });
    }
  }

  /** UpdateClusterVersion (rules-control-plane.ts). */
  updateClusterVersion(c: SimCluster, req: ClusterVersionRequest): SimUpdate {
    return startClusterVersionUpdate(this, c, req);
  }

  /** UpdateNodegroupVersion (rules-nodegroup.ts). */
  updateNodegroupVersion(c: SimCluster, ng: SimNodegroup, req: NodegroupVersionRequest): SimUpdate {
    return startNodegroupVersionUpdate(this, c, ng, req);
  }

  /** UpdateNodegroupConfig (rules-nodegroup.ts). */
  updateNodegroupConfig(c: SimCluster, ng: SimNodegroup, req: NodegroupConfigRequest): SimUpdate {
    return startNodegroupConfigUpdate(this, c, ng, req);
  }

  /** UpdateAddon (rules-addon.ts). */
  updateAddon(c: SimCluster, a: SimAddon, req: AddonUpdateRequest): SimUpdate {
    return startAddonUpdate(this, c, a, req);
  }

  /**
   * CancelUpdate, as the API reference (docs.aws.amazon.com/eks/latest/APIReference/API_CancelUpdate.html)
   * and "Rollback EKS Auto Mode clusters" (docs.aws.amazon.com/eks/latest/userguide/rollback-automode.html) document it: best effort, "supported for VersionRollback
   * update types on EKS Auto Mode clusters when nodes are rolling back"; once the control plane
   * rollback has begun the cancellation fails (the update answers `cancellation.status: Failed`).
   * Any other update, or a rollback of a cluster without Auto Mode → InvalidRequestException.
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
    if (!c.autoMode) {
      throw invalidRequest(
        `Update ${updateId} cannot be cancelled: CancelUpdate supports VersionRollback updates of EKS Auto Mode clusters only, while their nodes roll back.`,
        { clusterName: c.name },
      );
    }
    const now = this.now();
    c.tokens.set(key, u);
    if (u.cancellableUntil !== undefined && now < u.cancellableUntil) {
      this.integrate(c, now);
      u.status = 'Cancelled';
      u.finishedAt = now;
      u.cancellation = {
        status: 'Successful',
        reason:
          'Cancelled by request while the Auto Mode nodes were rolling back; the control plane stays at its version.',
      };
      c.active.splice(c.active.indexOf(u), 1);
      c.status = 'ACTIVE';
      this.mutations.push({
        seq: ++this.seq,
        time: new Date(now).toISOString(),
        wallTime: new Date().toISOString(),
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

  /**
   * The status DescribeCluster shows: an Auto Mode cluster stays ACTIVE while its nodes roll back
   * and turns UPDATING when the control plane rollback begins.
   */
  clusterStatus(c: SimCluster, now = this.now()): SimCluster['status'] {
    const nodeRollback = c.active.find((u) => u.cancellableUntil !== undefined && now < u.cancellableUntil);
    return nodeRollback ? 'ACTIVE' : c.status;
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
