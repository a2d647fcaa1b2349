/**
 * Typed fakes of every fleetwave activity over a tiny in-memory fleet, for workflow tests.
 *
 * Each cluster has a control-plane version, node groups and add-ons that the fake EKS updates
 * really change (so a test can read the end state), and a behaviour that injects what a test needs:
 * preflight blockers, failing updates or rollbacks, failing gates, unhealthy Kubernetes checks.
 * Every call is recorded with a timestamp and a short label for order assertions:
 *
 *   preflightCluster · captureKubernetesBaseline · checkKubernetesHealth · describeCluster
 *   evaluateHealthGate:<gate>/<phase> · checkClusterHealth:<phase>
 *   startControlPlaneUpgrade:<to> · startAddonUpdate:<addon>@<version>
 *   updateAddons:<addon>@<version>,<addon>@<version>...
 *   startNodegroupUpdate:<nodegroup>@<version|keep>/<release|keep>
 *   upgradeControlPlane:<to>,<to>... · updateNodegroups:<nodegroup>,<nodegroup>...
 *                                   (composite steps: they also record each start, await and check
 *                                    they make, under the labels above, so EKS traces read the same)
 *   awaitUpdate:<target>            (target: control-plane:<to> · addon:<name> · nodegroup:<name>,
 *                                    rollbacks: rollback-nodegroup:<name> · rollback-addon:<name> · rollback-control-plane:<to>)
 *   rollbackNodegroup:<nodegroup> · rollbackAddon:<addon>@<version> · rollbackControlPlane:<to>
 *
 * Add-on compatibility: `behaviour.unsupportedAddonVersions` lists, per control-plane minor, add-on
 * versions EKS does not run on it. Updating to one is refused; rolling back to one, or rolling the
 * control plane back under one, is `kept` (what the real activities answer after DescribeAddonVersions).
 * Node-group rollback follows domain/node-models.ts as the real activity does: a node group whose
 * AMI EKS picks (no amiType CUSTOM with a launch template) is `kept` at its new version.
 */
import { createApprovalActivities } from '../../activities/approvals';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { activityRuntime, type ActivityRuntime } from '../../activities/context';
import { describeGateFailure } from '../../activities/health';
import { createWatchActivity } from '../../activities/watch';
import type { GateMeasurement } from '../../activities/prometheus';
import { stopRequested, withStepContext } from '../../activities/steps';
import {
  FailureTypes,
  type AddonState,
  type AddonUpdateFailureDetails,
  type AddonUpdateResult,
  type ClusterState,
  type EvaluateHealthGateInput,
  type FailureType,
  type ActivityParts,
  type FleetwaveActivities,
  type GateOutcome,
  type GateResult,
  type KubernetesBaseline,
  type KubernetesHealthInput,
  type KubernetesHealthResult,
  type NodegroupState,
  type PinnedVersions,
  type StartAddonUpdateInput,
  type StepUpdateResult,
  type CheckClusterHealthResult,
  type UpdateNodegroupsInput,
  type UpdateNodegroupsResult,
  type UpgradeControlPlaneInput,
  type UpgradeControlPlaneResult,
  type UpdateHandle,
  type UpdateOutcome,
} from '../../activities/types';
import type { FleetMember } from '../../domain/fleet';
import type { AmiSelectorTerm, NodeClassState } from '../../domain/karpenter';
import { irreversibleNodegroupReason, nodegroupReversibility } from '../../domain/node-models';
import { compareMinor } from '../../domain/versions';
import type { GatePhase } from '../../domain/spec';

/** Which resource an update or rollback touches: `control-plane`, `control-plane:1.31`, `addon:vpc-cni`, `nodegroup:ng-a`. */

/** The fake updateAddons's own heartbeat: the add-on it is on and the results before it. */
interface FakeAddonsProgress {
  index: number;
  updateId?: string;
  polls: number;
  results: AddonUpdateResult[];
}

export type FakeTarget = 'control-plane' | `control-plane:${string}` | `addon:${string}` | `nodegroup:${string}`;

export interface FakeFailure {
  /** `start`: EKS refuses the call, nothing changes. `await` (default): the update runs and ends Failed. */
  at?: 'start' | 'await';
  /** Default: EksUpdateFailed at await, EksInvalidRequest at start (RollbackNotPossible for rollbacks). */
  type?: FailureType;
  message?: string;
  /** Fail this many times, then behave. Default: always. */
  times?: number;
}

export interface FakeGateFailure {
  /** Gate name; default any gate. */
  gate?: string;
  /** Phase; default any phase. */
  phase?: GatePhase;
  /** Default: Failed. */
  outcome?: Exclude<GateOutcome, 'Successful'>;
  message?: string;
  /**
   * watchHealthGates only: the pair passes this many measurements first, then degrades (a cluster
   * that goes bad halfway through its soak). Default 0.
   */
  afterMeasurements?: number;
}

/** A self-installed Karpenter: its version, NodePools and EC2NodeClasses; `nodeClasses` and `budgets` change as a cluster would. */
export interface FakeKarpenter {
  version: string;
  nodePools: string[];
  nodeClasses: NodeClassState[];
  /** Each NodePool's budgets as a label: "user" (the user's own), "held", "drift <budget>". */
  budgets: Record<string, string>;
  /** EC2NodeClass → pin record (the user's terms and the pinned AMIs), while pinned. */
  pins: Record<string, { workflowId: string; original: AmiSelectorTerm[]; pinned?: AmiSelectorTerm[] }>;
  /** The drift step fails with this message (nonRetryable). */
  failDrift?: string;
}

export interface FakeClusterBehaviour {
  /** EKS Auto Mode (DescribeCluster computeConfig.enabled) with these custom NodePools. */
  autoMode?: { nodePools: string[] };
  /**
   * Fargate profiles, each running `pods` pods of one Deployment (`default/Deployment/fargate-<name>`)
   * that started on the cluster's minor: after a hop they are old until restarted. `blockedBy` names a
   * PDB that keeps settleFargatePods (restart) from restarting them: the fake then fails as the real
   * activity does past its PDB timeout.
   */
  fargate?: { profiles: { name: string; pods: number }[]; blockedBy?: string };
  karpenter?: FakeKarpenter;
  /** Preflight blockers (the cluster must not be touched). */
  blockers?: string[];
  warnings?: string[];
  failUpdate?: Partial<Record<FakeTarget, FakeFailure>>;
  failRollback?: Partial<Record<FakeTarget, FakeFailure>>;
  failGates?: FakeGateFailure[];
  /** Failures checkKubernetesHealth reports (in addition to real kubelet mismatches). */
  kubernetesFailures?: string[];
  /** namespace/name of PDBs allowing no disruption (preflight and the Kubernetes baseline report them). */
  blockingPdbs?: string[];
  /** Control-plane minor → add-on versions EKS does not support on it (see the module comment). */
  unsupportedAddonVersions?: Record<string, string[]>;
  /** Extra labels for inventory (discoverFleet / toMember). */
  labels?: Record<string, string>;
  /**
   * Self-managed node groups (Auto Scaling groups) by name; `blockedBy` fails the refresh's wait
   * with SelfManagedDrainBlocked naming that PDB; `refreshEnded` makes rollback go forward.
   */
  selfManaged?: { groups: string[]; blockedBy?: string; refreshEnded?: boolean };
}

export interface FakeClusterInit {
  name: string;
  region?: string;
  account?: string;
  version?: string;
  nodegroups?: NodegroupState[];
  addons?: AddonState[];
  behaviour?: FakeClusterBehaviour;
}

/** The model of one cluster, mutated by the fake updates. */
export interface FakeCluster {
  name: string;
  region: string;
  account: string;
  version: string;
  nodegroups: NodegroupState[];
  addons: AddonState[];
  behaviour: FakeClusterBehaviour;
}

export interface RecordedCall {
  /** Order across all calls of this fake. */
  seq: number;
  /** `Date.now()` when the call arrived. */
  at: number;
  name: keyof (FleetwaveActivities & ActivityParts);
  /** Short label, see the module comment. */
  label: string;
  cluster?: string;
  input: unknown;
}

export interface FakeActivitiesOptions {
  clusters: FakeClusterInit[];
  /** Runs before every call (after it is recorded): block on a promise to hold an activity, or throw to fail it. */
  beforeCall?: (call: RecordedCall) => Promise<void> | void;
}

export interface FakeActivities {
  /** Also a plain record, so it can be spread or merged with other activities for `Worker.create`. */
  activities: FleetwaveActivities & Record<string, unknown>;
  calls: RecordedCall[];
  /** The live model of a cluster (throws for an unknown name). */
  cluster(name: string): FakeCluster;
  /** Labels of a cluster's calls in order, optionally only those whose label matches. */
  trace(cluster: string, match?: RegExp): string[];
  /** The cluster's labels of EKS mutations only: start*, awaitUpdate, updateAddons, rollback*. */
  eksTrace(cluster: string): string[];
  /** The cluster as a campaign input member (labels include region and account). */
  member(name: string): FleetMember;
}

const DEFAULT_ADDONS = ['vpc-cni', 'coredns', 'kube-proxy'];

/** Node group AMI release the fake catalogue pins for a minor: `1.31.0-20250101`. */
export const fakeRelease = (minor: string): string => `${minor}.0-20250101`;

/** Add-on version the fake catalogue pins for a minor: `v1.31.0-eksbuild.1` style, distinct per add-on. */
export const fakeAddonVersion = (addon: string, minor: string): string =>
  `v${minor}.${DEFAULT_ADDONS.indexOf(addon) + 1}-eksbuild.1`;

/** Versions pinned for these minors, as resolveTargetVersions of the fake returns them. */
export function fakePinned(
  minors: string[],
  kubernetesVersion?: string,
  addons: string[] = DEFAULT_ADDONS,
): PinnedVersions {
  return {
    ...(kubernetesVersion ? { kubernetesVersion } : {}),
    nodegroupRelease: Object.fromEntries(minors.map((m) => [m, fakeRelease(m)])),
    addons: Object.fromEntries(
      minors.map((m) => [m, Object.fromEntries(addons.map((a) => [a, fakeAddonVersion(a, m)]))]),
    ),
    resolvedAt: '2025-01-01T00:00:00.000Z',
  };
}

/**
 * A cluster at `version` (default 1.30) with node groups ng-a and ng-b and the add-ons vpc-cni,
 * coredns and kube-proxy, all at what the fake catalogue pins for that version.
 */
export function fakeCluster(name: string, init: Omit<FakeClusterInit, 'name'> = {}): FakeClusterInit {
  const version = init.version ?? '1.30';
  return {
    name,
    version,
    nodegroups: init.nodegroups ?? [
      fakeNodegroup('ng-a', version, { launchTemplate: { name: `${name}-ng-a`, version: '1' } }),
      fakeNodegroup('ng-b', version),
    ],
    addons:
      init.addons ?? DEFAULT_ADDONS.map((a) => ({ name: a, version: fakeAddonVersion(a, version), status: 'ACTIVE' })),
    ...init,
  };
}

export function fakeNodegroup(name: string, version: string, extra: Partial<NodegroupState> = {}): NodegroupState {
  return { name, version, releaseVersion: fakeRelease(version), status: 'ACTIVE', desiredSize: 3, ...extra };
}

/** Next minor: "1.30" → "1.31". */
function nextMinor(minor: string): string {
  const [major = '1', n = '0'] = minor.split('.');
  return `${major}.${Number(n) + 1}`;
}

function minorNumber(minor: string): number {
  return Number(minor.split('.')[1] ?? 0);
}

interface PendingUpdate {
  cluster: string;
  target: string;
  failure?: FakeFailure;
  apply: () => void;
}

/** Fake activities over an in-memory fleet; see the module comment. */
export function createFakeActivities(options: FakeActivitiesOptions): FakeActivities {
  const clusters = new Map<string, FakeCluster>();
  for (const init of options.clusters) {
    const c = fakeCluster(init.name, init);
    clusters.set(c.name, {
      name: c.name,
      region: c.region ?? 'eu-west-1',
      account: c.account ?? '123456789012',
      version: c.version ?? '1.30',
      nodegroups: structuredClone(c.nodegroups ?? []),
      addons: structuredClone(c.addons ?? []),
      behaviour: c.behaviour ?? {},
    });
  }
  const calls: RecordedCall[] = [];
  const updates = new Map<string, PendingUpdate>();
  /** Idempotency: token → handle of the update it started. */
  const tokens = new Map<string, UpdateHandle>();
  const failuresSeen = new Map<FakeFailure, number>();
  let seq = 0;
  let updateSeq = 0;

  const model = (name: string): FakeCluster => {
    const c = clusters.get(name);
    if (!c) throw ApplicationFailure.nonRetryable(`no cluster ${name}`, FailureTypes.NotFound);
    return c;
  };

  /** Measurements per cluster/gate so far (watchHealthGates). */
  const measured = new Map<string, number>();
  const record = async (
    name: keyof (FleetwaveActivities & ActivityParts),
    label: string,
    input: unknown,
    cluster?: string,
  ) => {
    const call: RecordedCall = { seq: ++seq, at: Date.now(), name, label, input, ...(cluster ? { cluster } : {}) };
    calls.push(call);
    await options.beforeCall?.(call);
  };

  /** The failure configured for this target, if it still has failures left. */
  const failureFor = (
    table: Partial<Record<FakeTarget, FakeFailure>> | undefined,
    targets: FakeTarget[],
  ): FakeFailure | undefined => {
    for (const t of targets) {
      const f = table?.[t];
      if (f && (f.times === undefined || (failuresSeen.get(f) ?? 0) < f.times)) return f;
    }
    return undefined;
  };
  const consume = (f: FakeFailure): void => {
    failuresSeen.set(f, (failuresSeen.get(f) ?? 0) + 1);
  };

  const state = (c: FakeCluster): ClusterState => ({
    name: c.name,
    version: c.version,
    status: 'ACTIVE',
    nodegroups: structuredClone(c.nodegroups),
    addons: structuredClone(c.addons),
    ...((c.behaviour.fargate || c.behaviour.selfManaged) && !c.behaviour.autoMode
      ? {
          nodeModels: {
            autoMode: false,
            nodePools: [],
            selfManagedNodes: (c.behaviour.selfManaged?.groups.length ?? 0) * 3,
            fargateProfiles: c.behaviour.fargate?.profiles.map((p) => p.name) ?? [],
          },
        }
      : {}),
    ...(c.behaviour.autoMode
      ? {
          nodeModels: {
            autoMode: true,
            nodePools: c.behaviour.autoMode.nodePools.map((name) => ({ name, autoMode: true, nodes: 2 })),
            selfManagedNodes: 0,
            fargateProfiles: [],
          },
        }
      : c.behaviour.karpenter
        ? {
            nodeModels: {
              autoMode: false,
              nodePools: c.behaviour.karpenter.nodePools.map((name) => ({ name, autoMode: false, nodes: 3 })),
              karpenterVersion: c.behaviour.karpenter.version,
              nodeClasses: structuredClone(c.behaviour.karpenter.nodeClasses),
              selfManagedNodes: 0,
              fargateProfiles: [],
            },
          }
        : {}),
  });

  /** Starts (or adopts, by token) an update; a `start` failure throws before anything changes. */
  const startUpdate = (
    clusterName: string,
    token: string,
    target: string,
    failure: FakeFailure | undefined,
    defaultStartType: FailureType,
    atTarget: boolean,
    apply: () => void,
    where: Pick<UpdateHandle, 'nodegroup' | 'addon'>,
  ): UpdateHandle => {
    const c = model(clusterName);
    const existing = tokens.get(token);
    if (existing) return { ...existing, adopted: true };
    if (failure && (failure.at ?? 'await') === 'start') {
      consume(failure);
      throw ApplicationFailure.create({
        type: failure.type ?? defaultStartType,
        message: failure.message ?? `EKS refused ${target}`,
        nonRetryable: true,
      });
    }
    const cluster = { name: c.name, region: c.region };
    if (atTarget) return { cluster, ...where, adopted: false, alreadyAtTarget: true };
    const updateId = `upd-${++updateSeq}`;
    updates.set(updateId, { cluster: clusterName, target, ...(failure ? { failure } : {}), apply });
    const handle: UpdateHandle = { cluster, ...where, updateId, adopted: false, alreadyAtTarget: false };
    tokens.set(token, handle);
    return handle;
  };

  const tokenOf = (i: { campaign: string; cluster: { name: string }; attempt: number }, what: string) =>
    `${i.campaign}/${i.cluster.name}/${i.attempt}/${what}`;

  const unsupported = (c: FakeCluster, version: string, minor: string): boolean =>
    c.behaviour.unsupportedAddonVersions?.[minor]?.includes(version) ?? false;

  const baselineOf = (c: FakeCluster): KubernetesBaseline => ({
    crashLoopingPods: [],
    blockingPdbs: [...(c.behaviour.blockingPdbs ?? [])],
  });

  /** startAddonUpdate's logic, shared by updateAddons. */
  const startAddon = (input: StartAddonUpdateInput): UpdateHandle => {
    const c = model(input.cluster.name);
    const addon = c.addons.find((a) => a.name === input.addon);
    if (!addon) throw ApplicationFailure.nonRetryable(`no add-on ${input.addon}`, FailureTypes.NotFound);
    if (addon.version !== input.version && unsupported(c, input.version, c.version)) {
      throw ApplicationFailure.nonRetryable(
        `InvalidParameterException: Addon version specified is not supported: ${input.addon} ${input.version}`,
        FailureTypes.InvalidRequest,
      );
    }
    return startUpdate(
      c.name,
      tokenOf(input, `addon:${input.addon}@${input.version}`),
      `addon:${input.addon}`,
      failureFor(c.behaviour.failUpdate, [`addon:${input.addon}`]),
      FailureTypes.InvalidRequest,
      addon.version === input.version,
      () => {
        addon.version = input.version;
      },
      { addon: input.addon },
    );
  };

  /** awaitUpdate's logic, shared by updateAddons: applies the update, or fails it as configured. */
  const finishUpdate = (updateId: string | undefined): UpdateOutcome => {
    const pending = updateId ? updates.get(updateId) : undefined;
    if (!pending) throw ApplicationFailure.nonRetryable(`no update ${updateId}`, FailureTypes.NotFound);
    if (pending.failure) {
      consume(pending.failure);
      throw ApplicationFailure.create({
        type: pending.failure.type ?? FailureTypes.UpdateFailed,
        message: pending.failure.message ?? `update ${updateId} of ${pending.target} Failed`,
        nonRetryable: true,
        details: [{ updateId, status: 'Failed', errors: [{ errorCode: 'Fake', errorMessage: 'injected' }] }],
      });
    }
    pending.apply();
    return { updateId, status: 'Successful', polls: 1 };
  };

  const gateResultOf = (c: FakeCluster, input: EvaluateHealthGateInput): GateResult => {
    const failing = c.behaviour.failGates?.find(
      (f) => (f.gate === undefined || f.gate === input.gate.name) && (f.phase === undefined || f.phase === input.phase),
    );
    const required = input.requiredSuccesses ?? input.gate.consecutiveSuccesses;
    const outcome: GateOutcome = failing?.outcome ?? (failing ? 'Failed' : 'Successful');
    return {
      gate: input.gate.name,
      phase: input.phase,
      outcome,
      measurements: outcome === 'Successful' ? required : 1,
      successes: outcome === 'Successful' ? required : 0,
      failures: outcome === 'Failed' ? 1 : 0,
      inconclusive: outcome === 'Inconclusive' ? 1 : 0,
      errors: outcome === 'Error' ? 1 : 0,
      ...(outcome === 'Successful' ? { lastValue: '0' } : {}),
      message: failing?.message ?? (outcome === 'Successful' ? `${required} passes in a row` : `gate ${outcome}`),
    };
  };

  const kubernetesHealthOf = (c: FakeCluster, input: KubernetesHealthInput): KubernetesHealthResult => {
    const failures = [...(c.behaviour.kubernetesFailures ?? [])];
    if (input.checks.kubeletVersionsMatch && input.expectedKubeletMinor) {
      for (const [name, minor] of Object.entries(input.expectedKubeletMinor)) {
        const ng = c.nodegroups.find((n) => n.name === name);
        if (ng?.version !== minor) failures.push(`node group ${name} runs kubelet ${ng?.version}, expected ${minor}`);
      }
    }
    const nodes = c.nodegroups.reduce((sum, ng) => sum + (ng.desiredSize ?? 0), 0);
    return { healthy: failures.length === 0, failures, nodes: { total: nodes, ready: nodes } };
  };

  const activities = {
    async resolveTargetVersions(input) {
      await record('resolveTargetVersions', `resolveTargetVersions:${input.minors.join(',')}`, input);
      // Stamped when it returns, as the real activity does (the campaign paces its first starts from it).
      return {
        ...fakePinned(
          input.minors,
          input.target.kubernetesVersion,
          input.addonNames.length ? input.addonNames : DEFAULT_ADDONS,
        ),
        resolvedAt: new Date().toISOString(),
      };
    },

    async describeCluster(input) {
      await record('describeCluster', 'describeCluster', input, input.cluster.name);
      return state(model(input.cluster.name));
    },

    async preflightCluster(input) {
      await record('preflightCluster', 'preflightCluster', input, input.cluster.name);
      const c = model(input.cluster.name);
      const blockers = [...(c.behaviour.blockers ?? [])];
      const path: string[] = [];
      if (input.targetVersion) {
        if (minorNumber(input.targetVersion) < minorNumber(c.version)) {
          blockers.push(`control plane ${c.version} is newer than the target ${input.targetVersion}`);
        }
        for (let v = c.version; minorNumber(v) < minorNumber(input.targetVersion);) {
          v = nextMinor(v);
          path.push(v);
        }
      }
      return {
        state: state(c),
        path,
        blockers,
        warnings: [...(c.behaviour.warnings ?? [])],
        blockingPdbs: [...(c.behaviour.blockingPdbs ?? [])],
        ...(input.captureBaseline ? { baseline: baselineOf(c) } : {}),
      };
    },

    async startControlPlaneUpgrade(input) {
      await record(
        'startControlPlaneUpgrade',
        `startControlPlaneUpgrade:${input.toVersion}`,
        input,
        input.cluster.name,
      );
      const c = model(input.cluster.name);
      const failure = failureFor(c.behaviour.failUpdate, [`control-plane:${input.toVersion}`, 'control-plane']);
      if (!failure && minorNumber(input.toVersion) !== minorNumber(c.version) + 1 && input.toVersion !== c.version) {
        throw ApplicationFailure.nonRetryable(
          `cannot go from ${c.version} to ${input.toVersion}`,
          FailureTypes.VersionSkew,
        );
      }
      return startUpdate(
        c.name,
        tokenOf(input, `control-plane:${input.toVersion}`),
        `control-plane:${input.toVersion}`,
        failure,
        FailureTypes.InvalidRequest,
        c.version === input.toVersion,
        () => {
          c.version = input.toVersion;
        },
        {},
      );
    },

    async startAddonUpdate(input) {
      await record('startAddonUpdate', `startAddonUpdate:${input.addon}@${input.version}`, input, input.cluster.name);
      return startAddon(input);
    },

    async updateAddons(input) {
      const label = `updateAddons:${input.addons.map((a) => `${a.name}@${a.version}`).join(',')}`;
      await record('updateAddons', label, input, input.cluster.name);
      const ctx = activityContext();
      const resumed = ctx?.info.heartbeatDetails as FakeAddonsProgress | undefined;
      const results: AddonUpdateResult[] = resumed?.results ? [...resumed.results] : [];
      for (let index = results.length; index < input.addons.length; index++) {
        const addon = input.addons[index] as { name: string; version: string };
        const failed = (err: unknown): unknown => {
          if (!(err instanceof ApplicationFailure) || !err.nonRetryable) return err;
          const details: AddonUpdateFailureDetails = {
            ...((err.details?.[0] as object | undefined) ?? {}),
            addon: addon.name,
            updated: results.map((r) => r.addon),
          };
          return ApplicationFailure.create({
            type: err.type ?? undefined,
            message: err.message,
            nonRetryable: true,
            details: [details],
          });
        };
        try {
          const continuing = resumed?.index === index ? resumed.updateId : undefined;
          const handle: UpdateHandle = continuing
            ? {
                cluster: input.cluster,
                addon: addon.name,
                updateId: continuing,
                adopted: false,
                alreadyAtTarget: false,
              }
            : startAddon({ ...input, addon: addon.name, version: addon.version });
          ctx?.heartbeat({ index, ...(handle.updateId ? { updateId: handle.updateId } : {}), polls: 0, results });
          if (handle.updateId) finishUpdate(handle.updateId);
          results.push({
            addon: addon.name,
            ...(handle.updateId ? { updateId: handle.updateId } : {}),
            alreadyAtTarget: handle.alreadyAtTarget,
            adopted: handle.adopted,
          });
        } catch (err) {
          throw failed(err);
        }
        ctx?.heartbeat({ index: index + 1, polls: 0, results });
      }
      return { results };
    },

    async upgradeControlPlane(input: UpgradeControlPlaneInput): Promise<UpgradeControlPlaneResult> {
      await record('upgradeControlPlane', `upgradeControlPlane:${input.hops.join(',')}`, input, input.cluster.name);
      const ctx = activityContext();
      const hops: StepUpdateResult[] = [];
      const gates: GateResult[] = [];
      for (const [index, to] of input.hops.entries()) {
        if (index > 0 && (await stopRequested(runtimeOf(ctx)))) return { hops, gates, stopped: true };
        const done = hops.map((h) => h.target);
        let handle: UpdateHandle;
        try {
          handle = await (activities as ActivityParts).startControlPlaneUpgrade({ ...input, toVersion: to });
        } catch (err) {
          throw withStepContext(err, to, done, done);
        }
        ctx?.heartbeat({ index });
        try {
          if (handle.updateId) await activities.awaitUpdate({ handle });
        } catch (err) {
          throw withStepContext(err, to, [...done, to], done);
        }
        hops.push(stepResultOf(to, handle));
        const last = index === input.hops.length - 1;
        if (input.checksBetweenHops && (!last || input.checkAfterLastHop)) {
          if (cancelRequested(ctx)) return { hops, gates, stopped: true, uncheckedHop: to };
          const checked: CheckClusterHealthResult = await activities.checkClusterHealth({
            ...input.checksBetweenHops,
            cluster: input.cluster,
          });
          gates.push(...checked.gates);
          if (!checked.healthy) return { hops, gates, unhealthy: { afterHop: to, failures: checked.failures } };
        }
      }
      return { hops, gates };
    },

    async updateNodegroups(input: UpdateNodegroupsInput): Promise<UpdateNodegroupsResult> {
      const label = `updateNodegroups:${input.nodegroups.map((n) => n.nodegroup).join(',')}`;
      await record('updateNodegroups', label, input, input.cluster.name);
      const ctx = activityContext();
      const results: StepUpdateResult[] = [];
      const reached: string[] = [];
      let failure: { nodegroup: string; err: unknown } | undefined;
      const queue = [...input.nodegroups];
      const lanes = Math.max(1, Math.min(input.maxParallel, input.nodegroups.length));
      let picks = 0;
      const lane = async (): Promise<void> => {
        for (let ng = queue.shift(); ng !== undefined; ng = queue.shift()) {
          const firstPick = picks++ < lanes;
          if (failure || (firstPick ? cancelRequested(ctx) : await stopRequested(runtimeOf(ctx)))) return;
          try {
            const handle = await activities.startNodegroupUpdate({
              ...input,
              nodegroup: ng.nodegroup,
              ...(ng.version ? { version: ng.version } : {}),
              ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
            });
            if (handle.updateId) reached.push(ng.nodegroup);
            ctx?.heartbeat({ reached });
            if (handle.updateId) await activities.awaitUpdate({ handle });
            results.push(stepResultOf(ng.nodegroup, handle));
          } catch (err) {
            failure ??= { nodegroup: ng.nodegroup, err };
          }
        }
      };
      await Promise.all(
        Array.from({ length: Math.max(1, Math.min(input.maxParallel, input.nodegroups.length)) }, lane),
      );
      if (failure) {
        throw withStepContext(
          failure.err,
          failure.nodegroup,
          reached,
          results.map((r) => r.target),
        );
      }
      return { results, ...(results.length < input.nodegroups.length ? { stopped: true } : {}) };
    },

    async startNodegroupUpdate(input) {
      const label = `startNodegroupUpdate:${input.nodegroup}@${input.version ?? 'keep'}/${input.releaseVersion ?? 'keep'}`;
      await record('startNodegroupUpdate', label, input, input.cluster.name);
      const c = model(input.cluster.name);
      const ng = c.nodegroups.find((n) => n.name === input.nodegroup);
      if (!ng) throw ApplicationFailure.nonRetryable(`no node group ${input.nodegroup}`, FailureTypes.NotFound);
      const version = input.version ?? ng.version;
      const releaseVersion = input.releaseVersion ?? ng.releaseVersion;
      if (minorNumber(version) > minorNumber(c.version)) {
        throw ApplicationFailure.nonRetryable(
          `node group ${version} newer than control plane ${c.version}`,
          FailureTypes.VersionSkew,
        );
      }
      return startUpdate(
        c.name,
        tokenOf(input, `nodegroup:${input.nodegroup}@${version}/${releaseVersion}`),
        `nodegroup:${input.nodegroup}`,
        failureFor(c.behaviour.failUpdate, [`nodegroup:${input.nodegroup}`]),
        FailureTypes.InvalidRequest,
        ng.version === version && ng.releaseVersion === releaseVersion,
        () => {
          ng.version = version;
          if (releaseVersion) ng.releaseVersion = releaseVersion;
          if (ng.launchTemplate?.version) ng.launchTemplate.version = String(Number(ng.launchTemplate.version) + 1);
        },
        { nodegroup: input.nodegroup },
      );
    },

    async awaitUpdate(input) {
      const pending = input.handle.updateId ? updates.get(input.handle.updateId) : undefined;
      await record(
        'awaitUpdate',
        `awaitUpdate:${pending?.target ?? input.handle.updateId}`,
        input,
        input.handle.cluster.name,
      );
      return finishUpdate(input.handle.updateId);
    },

    async rollbackNodegroup(input) {
      await record('rollbackNodegroup', `rollbackNodegroup:${input.nodegroup}`, input, input.cluster.name);
      const c = model(input.cluster.name);
      const ng = c.nodegroups.find((n) => n.name === input.nodegroup);
      if (!ng) throw ApplicationFailure.nonRetryable(`no node group ${input.nodegroup}`, FailureTypes.NotFound);
      const prev = input.previous;
      const atPrevious =
        ng.version === prev.version &&
        ng.releaseVersion === prev.releaseVersion &&
        ng.launchTemplate?.version === prev.launchTemplate?.version;
      const token = tokenOf(input, `rollback-nodegroup:${input.nodegroup}`);
      // The rule the real activity follows (domain/node-models.ts): only a custom AMI goes back.
      const rule = nodegroupReversibility(ng);
      if (!atPrevious && !rule.reversible && !tokens.has(token)) {
        const at = `${ng.version}${ng.releaseVersion ? ` (${ng.releaseVersion})` : ''}`;
        return {
          cluster: { name: c.name, region: c.region },
          nodegroup: input.nodegroup,
          adopted: false,
          alreadyAtTarget: false,
          kept: { version: at, reason: irreversibleNodegroupReason(input.nodegroup, at, rule) },
        };
      }
      return startUpdate(
        c.name,
        token,
        `rollback-nodegroup:${input.nodegroup}`,
        failureFor(c.behaviour.failRollback, [`nodegroup:${input.nodegroup}`]),
        FailureTypes.RollbackNotPossible,
        atPrevious,
        () => {
          ng.version = prev.version;
          if (prev.releaseVersion) ng.releaseVersion = prev.releaseVersion;
          if (prev.launchTemplate) ng.launchTemplate = structuredClone(prev.launchTemplate);
        },
        { nodegroup: input.nodegroup },
      );
    },

    async rollbackAddon(input) {
      await record('rollbackAddon', `rollbackAddon:${input.addon}@${input.previousVersion}`, input, input.cluster.name);
      const c = model(input.cluster.name);
      const addon = c.addons.find((a) => a.name === input.addon);
      if (!addon) throw ApplicationFailure.nonRetryable(`no add-on ${input.addon}`, FailureTypes.NotFound);
      const token = tokenOf(input, `rollback-addon:${input.addon}`);
      if (addon.version !== input.previousVersion && !tokens.has(token)) {
        if (unsupported(c, input.previousVersion, c.version)) {
          return {
            cluster: { name: c.name, region: c.region },
            addon: input.addon,
            adopted: false,
            alreadyAtTarget: false,
            kept: {
              version: addon.version,
              reason: `${input.addon} stays at ${addon.version}: ${input.previousVersion} is not supported on control plane ${c.version}`,
            },
          };
        }
      }
      return startUpdate(
        c.name,
        token,
        `rollback-addon:${input.addon}`,
        failureFor(c.behaviour.failRollback, [`addon:${input.addon}`]),
        FailureTypes.RollbackNotPossible,
        addon.version === input.previousVersion,
        () => {
          addon.version = input.previousVersion;
        },
        { addon: input.addon },
      );
    },

    async rollbackControlPlane(input) {
      await record('rollbackControlPlane', `rollbackControlPlane:${input.toVersion}`, input, input.cluster.name);
      const c = model(input.cluster.name);
      const token = tokenOf(input, `rollback-control-plane:${input.toVersion}`);
      const newerNodes = c.nodegroups.filter((ng) => compareMinor(ng.version, input.toVersion) > 0);
      if (c.version !== input.toVersion && !tokens.has(token) && newerNodes.length > 0) {
        return {
          cluster: { name: c.name, region: c.region },
          adopted: false,
          alreadyAtTarget: false,
          kept: {
            version: c.version,
            reason: `control plane stays at ${c.version}: node group ${newerNodes.map((ng) => `${ng.name} ${ng.version}`).join(', ')} ${newerNodes.length > 1 ? 'run' : 'runs'} a kubelet newer than Kubernetes ${input.toVersion}`,
          },
        };
      }
      const needsNewer = c.addons.filter((a) => unsupported(c, a.version, input.toVersion));
      if (c.version !== input.toVersion && !tokens.has(token) && needsNewer.length > 0) {
        const names = needsNewer.map((a) => `${a.name} ${a.version}`).join(', ');
        return {
          cluster: { name: c.name, region: c.region },
          adopted: false,
          alreadyAtTarget: false,
          kept: {
            version: c.version,
            reason: `control plane stays at ${c.version}: add-on ${names} ${needsNewer.length > 1 ? 'are' : 'is'} not supported on Kubernetes ${input.toVersion}`,
          },
        };
      }
      return startUpdate(
        c.name,
        token,
        `rollback-control-plane:${input.toVersion}`,
        failureFor(c.behaviour.failRollback, [`control-plane:${input.toVersion}`, 'control-plane']),
        FailureTypes.RollbackNotPossible,
        c.version === input.toVersion,
        () => {
          c.version = input.toVersion;
        },
        {},
      );
    },

    async captureKubernetesBaseline(input) {
      await record('captureKubernetesBaseline', 'captureKubernetesBaseline', input, input.cluster.name);
      return baselineOf(model(input.cluster.name));
    },

    async checkKubernetesHealth(input) {
      await record('checkKubernetesHealth', 'checkKubernetesHealth', input, input.cluster.name);
      return kubernetesHealthOf(model(input.cluster.name), input);
    },

    async evaluateHealthGate(input) {
      const label = `evaluateHealthGate:${input.gate.name}/${input.phase}`;
      await record('evaluateHealthGate', label, input, input.cluster.name);
      return gateResultOf(model(input.cluster.name), input);
    },

    // The real watch loop (activities/watch.ts) over a fake measurement: it parks between looks as on a worker.
    watchHealthGates: createWatchActivity(
      {
        measureOnce: async (_rt, cluster, gate, phase, context): Promise<GateMeasurement> => {
          const key = `${cluster.name}/${gate.name}`;
          const seen = (measured.get(key) ?? 0) + 1;
          measured.set(key, seen);
          await record(
            'watchHealthGates',
            `watchHealthGates:${gate.name}/${phase}`,
            { cluster, gate, ...(context ? { context } : {}) },
            cluster.name,
          );
          // A wave gate sees its clusters together: it fails when one of them fails this gate.
          const members = context?.wave !== undefined ? (context.clusters ?? []) : [cluster.name];
          const failing = members
            .flatMap((name) => model(name).behaviour.failGates ?? [])
            .find(
              (f) =>
                (f.gate === undefined || f.gate === gate.name) &&
                (f.phase === undefined || f.phase === phase) &&
                seen > (f.afterMeasurements ?? 0),
            );
          if (!failing) return { kind: 'pass', value: '0' };
          const outcome = failing.outcome ?? 'Failed';
          const kind = outcome === 'Failed' ? 'fail' : outcome === 'Inconclusive' ? 'inconclusive' : 'error';
          return { kind, value: '1', note: failing.message ?? `gate ${outcome}` };
        },
        now: () => Date.now(),
        park: (rt) => rt.canPark,
      },
      () => activityRuntime(),
    ).watchHealthGates,

    async evaluateHealthGates(input) {
      // One recorded call per pair, labelled like evaluateHealthGate, so tests count pairs either way.
      const results = await Promise.all(
        input.items.map(async (item) => {
          const one = { cluster: item.cluster, gate: item.gate, phase: input.phase };
          await record(
            'evaluateHealthGates',
            `evaluateHealthGate:${item.gate.name}/${input.phase}`,
            one,
            item.cluster.name,
          );
          return gateResultOf(model(item.cluster.name), one);
        }),
      );
      return { results };
    },

    async checkClusterHealth(input) {
      await record('checkClusterHealth', `checkClusterHealth:${input.phase}`, input, input.cluster.name);
      const c = model(input.cluster.name);
      const gates = input.gates.map((gate) => {
        const required = input.requiredSuccessesByGate?.[gate.name] ?? input.requiredSuccesses;
        return gateResultOf(c, {
          cluster: input.cluster,
          gate,
          phase: input.phase,
          ...(required !== undefined ? { requiredSuccesses: required } : {}),
        });
      });
      const failures = gates.filter((g) => g.outcome !== 'Successful').map((g) => describeGateFailure(g, c.name));
      const kubernetes = failures.length === 0 && input.runKubernetesChecks ? kubernetesHealthOf(c, input) : undefined;
      if (kubernetes && !kubernetes.healthy) failures.push(`kubernetes checks: ${kubernetes.failures.join('; ')}`);
      return { healthy: failures.length === 0, gates, ...(kubernetes ? { kubernetes } : {}), failures };
    },

    ...createApprovalActivities(),

    async awaitAutoModeNodes(input) {
      await record('awaitAutoModeNodes', `awaitAutoModeNodes:${input.targetVersion}`, input, input.cluster.name);
      const total = (model(input.cluster.name).behaviour.autoMode?.nodePools.length ?? 0) * 2 + 3;
      return { onTarget: total, total, target: input.targetVersion };
    },

    async settleFargatePods(input) {
      await record(
        'settleFargatePods',
        `settleFargatePods:${input.mode}:${input.targetVersion}`,
        input,
        input.cluster.name,
      );
      const fargate = model(input.cluster.name).behaviour.fargate ?? { profiles: [] };
      const total = fargate.profiles.reduce((n, p) => n + p.pods, 0);
      const owners = fargate.profiles.map((p) => ({
        owner: `default/Deployment/fargate-${p.name}`,
        profile: p.name,
        pods: p.pods,
        oldest: input.targetVersion === '1.31' ? '1.30' : '1.29',
      }));
      if (input.mode === 'report') return { total, old: owners, restarted: [] };
      if (fargate.blockedBy) {
        throw ApplicationFailure.create({
          type: 'FargatePdbBlocked',
          nonRetryable: true,
          message: `PodDisruptionBudget ${fargate.blockedBy} allowed no disruption of ${owners[0]?.owner ?? '?'} (Fargate profile ${owners[0]?.profile ?? '?'}) for 30 min`,
        });
      }
      return { total, old: [], restarted: owners.map((o) => o.owner) };
    },

    async holdNodePools(input) {
      await record('holdNodePools', 'holdNodePools', input, input.cluster.name);
      const pools = model(input.cluster.name).behaviour.autoMode?.nodePools ?? [];
      return { held: [...pools], builtIn: ['general-purpose', 'system'] };
    },

    async releaseNodePoolHolds(input) {
      await record('releaseNodePoolHolds', 'releaseNodePoolHolds', input, input.cluster.name);
      return { released: [...(model(input.cluster.name).behaviour.autoMode?.nodePools ?? [])] };
    },

    async readSelfManagedGroups(input) {
      await record('readSelfManagedGroups', 'readSelfManagedGroups', input, input.cluster.name);
      return [];
    },

    async startSelfManagedRefresh(input) {
      await record('startSelfManagedRefresh', `startSelfManagedRefresh:${input.group}`, input, input.cluster.name);
      return {
        group: input.group,
        refreshId: `refresh-${input.group}`,
        fromVersion: '1',
        toVersion: '2',
        imageId: input.imageId,
      };
    },

    async startSelfManagedRefreshes(input) {
      await record(
        'startSelfManagedRefreshes',
        `startSelfManagedRefreshes:${input.targetVersion}`,
        input,
        input.cluster.name,
      );
      return (model(input.cluster.name).behaviour.selfManaged?.groups ?? []).map((group) => ({
        group,
        refreshId: `refresh-${group}`,
        fromVersion: '1',
        toVersion: '2',
        imageId: `ami-${input.targetVersion.replace('.', '')}`,
      }));
    },

    async awaitSelfManagedRefreshes(input) {
      const handles = input.handles.map((h) => h.group).join(',');
      await record('awaitSelfManagedRefreshes', `awaitSelfManagedRefreshes:${handles}`, input, input.cluster.name);
      const blockedBy = model(input.cluster.name).behaviour.selfManaged?.blockedBy;
      const first = input.handles[0];
      if (blockedBy && first && !first.rollback) {
        throw ApplicationFailure.create({
          type: 'SelfManagedDrainBlocked',
          nonRetryable: true,
          message: `${first.group}: draining ip-10-0-0-1 (i-0abc) is blocked by PodDisruptionBudget ${blockedBy} for more than 15 min`,
          details: [{ group: first.group, instance: 'i-0abc', pdb: blockedBy, replaced: [] }],
        });
      }
      return {
        groups: input.handles.map((h) => ({
          group: h.group,
          ...(h.refreshId ? { refreshId: h.refreshId } : {}),
          status: h.rollback ? 'RollbackSuccessful' : 'Successful',
          replaced: ['i-01', 'i-02', 'i-03'],
          toVersion: h.toVersion,
        })),
      };
    },

    async rollbackSelfManagedGroup(input) {
      await record(
        'rollbackSelfManagedGroup',
        `rollbackSelfManagedGroup:${input.handle.group}`,
        input,
        input.cluster.name,
      );
      const ended = model(input.cluster.name).behaviour.selfManaged?.refreshEnded === true;
      return {
        group: input.handle.group,
        how: ended ? 'forward' : 'rollback',
        refreshId: `rollback-${input.handle.group}`,
      };
    },

    async holdKarpenterNodes(input) {
      await record('holdKarpenterNodes', 'holdKarpenterNodes', input, input.cluster.name);
      const k = model(input.cluster.name).behaviour.karpenter;
      if (!k) return { pinned: [], unresolved: [], held: [], sinceMs: Date.now() };
      for (const nc of k.nodeClasses) {
        const pinned = [...new Set(nc.amis)].sort().map((id) => ({ id }));
        k.pins[nc.name] ??= { workflowId: input.workflowId, original: nc.terms, pinned };
        nc.terms = pinned;
      }
      for (const pool of k.nodePools) k.budgets[pool] = 'held';
      return {
        pinned: k.nodeClasses.map((nc) => ({ nodeClass: nc.name, amis: nc.amis })),
        unresolved: [],
        held: [...k.nodePools],
        sinceMs: Date.now(),
      };
    },

    async driftKarpenterNodes(input) {
      await record('driftKarpenterNodes', 'driftKarpenterNodes', input, input.cluster.name);
      const k = model(input.cluster.name).behaviour.karpenter;
      if (!k) throw ApplicationFailure.nonRetryable('no Karpenter', FailureTypes.NotFound);
      for (const plan of input.nodeClasses) {
        const nc = k.nodeClasses.find((n) => n.name === plan.name);
        if (!nc) continue;
        k.pins[nc.name] ??= { workflowId: input.workflowId, original: nc.terms };
        nc.terms = structuredClone(plan.to);
      }
      for (const pool of k.nodePools) k.budgets[pool] = `drift ${input.budget}`;
      if (k.failDrift)
        throw ApplicationFailure.create({ type: 'KarpenterDriftBlocked', message: k.failDrift, nonRetryable: true });
      const total = k.nodePools.length * 3;
      return { onTarget: total, drifted: 0, replaced: total, total, goneWithoutDrift: [], launchedDuringHold: 0 };
    },

    async releaseKarpenterHolds(input) {
      await record('releaseKarpenterHolds', `releaseKarpenterHolds:${input.terms}`, input, input.cluster.name);
      const k = model(input.cluster.name).behaviour.karpenter;
      if (!k) return { nodeClasses: [], released: [] };
      const nodeClasses: { nodeClass: string; terms: AmiSelectorTerm[] }[] = [];
      for (const nc of k.nodeClasses) {
        const pin = k.pins[nc.name];
        if (!pin || (input.workflowId !== undefined && pin.workflowId !== input.workflowId)) continue;
        if (input.terms === 'original') nc.terms = pin.original;
        else if (input.terms === 'pinned') nc.terms = pin.pinned ?? pin.original;
        delete k.pins[nc.name];
        nodeClasses.push({ nodeClass: nc.name, terms: nc.terms });
      }
      const released = k.nodePools.filter((p) => k.budgets[p] !== 'user');
      for (const pool of k.nodePools) k.budgets[pool] = 'user';
      return { nodeClasses, released };
    },

    async discoverFleet(input) {
      await record('discoverFleet', 'discoverFleet', input);
      return [...clusters.values()].filter((c) => input.regions.includes(c.region)).map((c) => toMember(c));
    },
  } satisfies FleetwaveActivities & ActivityParts;

  const toMember = (c: FakeCluster): FleetMember => {
    const nodegroups = c.nodegroups.map((ng) => ({
      name: ng.name,
      version: ng.version,
      nodes: ng.desiredSize ?? 3,
      maxUnavailable: 1,
    }));
    const oldest = nodegroups.reduce((o, ng) => (minorNumber(ng.version) < minorNumber(o) ? ng.version : o), c.version);
    return {
      name: c.name,
      region: c.region,
      account: c.account,
      labels: { region: c.region, account: c.account, ...(c.behaviour.labels ?? {}) },
      version: c.version,
      oldestNodeVersion: oldest,
      nodegroups,
      addons: c.addons.map((a) => a.name),
      blockingPdbs: [...(c.behaviour.blockingPdbs ?? [])],
    };
  };

  const trace = (cluster: string, match?: RegExp): string[] =>
    calls.filter((c) => c.cluster === cluster && (!match || match.test(c.label))).map((c) => c.label);

  return {
    activities,
    calls,
    cluster: (name) => model(name),
    trace,
    eksTrace: (cluster) => trace(cluster, /^(start|awaitUpdate|updateAddons|rollback)/),
    member: (name) => toMember(model(name)),
  };
}

/** The activity runtime the real composite steps use, for their stop question. */
function runtimeOf(ctx: Context | undefined): ActivityRuntime {
  return ctx ? activityRuntime() : { ...activityRuntime(), cancelRequested: () => false };
}

/** Whether the workflow asked to cancel the running activity (pause, abort). */
function cancelRequested(ctx: Context | undefined): boolean {
  return ctx !== undefined && ctx.cancellationSignal.aborted && ctx.cancellationDetails?.cancelRequested !== false;
}

function stepResultOf(target: string, handle: UpdateHandle): StepUpdateResult {
  return {
    target,
    ...(handle.updateId ? { updateId: handle.updateId } : {}),
    alreadyAtTarget: handle.alreadyAtTarget,
    adopted: handle.adopted,
  };
}

/** Composite update activities: a cancellation their workflow asked for does not interrupt the EKS update in flight. */
const SHIELDED_ACTIVITIES = new Set(['upgradeControlPlane', 'updateNodegroups']);

/** The activity context, or undefined when a fake runs outside an activity (a plain call in a test). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Heartbeats while waiting, so a held activity still learns of its cancellation. For `beforeCall`
 * hooks that block: `beforeCall: (call) => call.name === 'awaitUpdate' ? heartbeatUntil(released) : undefined`.
 */
export async function heartbeatUntil(done: Promise<unknown>, everyMs = 500): Promise<void> {
  const ctx = Context.current();
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  // Inside a composite update activity (upgradeControlPlane, updateNodegroups) the hold stands for
  // an EKS update: like the real activity, a cancellation the workflow asked for does not end it.
  const shielded = SHIELDED_ACTIVITIES.has(ctx.info.activityType);
  while (!finished) {
    ctx.heartbeat();
    const pause = new Promise<void>((resolve) => setTimeout(resolve, everyMs));
    try {
      await Promise.race([done, pause, ...(shielded && cancelRequested(ctx) ? [] : [ctx.cancelled])]);
    } catch (err) {
      if (!(shielded && cancelRequested(ctx))) throw err;
    }
  }
}
