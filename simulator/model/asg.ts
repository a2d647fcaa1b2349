/**
 * Self-managed node groups as EC2 Auto Scaling groups: instances launched from a numbered
 * launch-template version, termination lifecycle hooks, and instance refreshes (start, cancel,
 * rollback). autoscaling-api.ts serves them; workloads.ts shows each live instance as a node.
 *
 * Time is advanced lazily, like the rest of the model: {@link advanceAsg} applies every transition
 * due by `now`, each at its own time, so the state is the same however often it is looked at.
 *
 * Behaviour and sources (also in simulator/README.md, fidelity table):
 * - A refresh replaces instances by EC2 health only: a new instance counts once it is InService and
 *   its warmup has passed; Kubernetes readiness plays no part, nothing is drained and no
 *   PodDisruptionBudget is read (autoscaling/ec2/userguide/asg-instance-refresh.html; EKS
 *   userguide/update-workers.html leaves draining to the operator or a termination handler).
 * - Batches keep MinHealthyPercentage of the desired capacity in service (default 90), terminating
 *   before launching as with the default MaxHealthyPercentage 100; checkpoints pause for
 *   CheckpointDelay (default 3600 s) once that share of instances is new, never replacing more than
 *   the next checkpoint needs (userguide/asg-adding-checkpoints-instance-refresh.html,
 *   APIReference/API_RefreshPreferences.html).
 * - With an EC2_INSTANCE_TERMINATING hook an instance waits in Terminating:Wait until
 *   CompleteLifecycleAction or the heartbeat timeout; either result terminates it (for a
 *   termination hook CONTINUE and ABANDON both proceed); RecordLifecycleActionHeartbeat restarts the
 *   timeout, capped at 48 hours or 100 heartbeat timeouts, whichever is smaller
 *   (userguide/lifecycle-hooks.html, completing-lifecycle-hooks.html, API_PutLifecycleHook.html).
 * - The desired configuration becomes the group's only when the refresh succeeds; instances that
 *   replace others after a cancel use the group's configuration (API_StartInstanceRefresh.html).
 * - Rollback only while the refresh is Pending, InProgress, Cancelling or Baking, only when it was
 *   started with a desired configuration, not when the group names `$Latest`/`$Default`, and not when
 *   the previous launch-template version's image is an SSM parameter
 *   (userguide/instance-refresh-rollback.html, API_RollbackInstanceRefresh.html).
 */
import { hexOf, uuidOf } from '../random';
import type { SimCluster, SimLaunchTemplate } from './types';

/** Seconds an instance stays Pending before InService (EC2 boot). */
export const ASG_PENDING_MS = 60_000;
/** From launch until the node registers (NotReady) and until it is Ready. */
export const ASG_NODE_JOIN_MS = 75_000;
export const ASG_NODE_READY_MS = 120_000;
/** Terminating (Terminating:Proceed) until Terminated. */
export const ASG_TERMINATE_MS = 30_000;

export type AsgLifecycleState = 'Pending' | 'InService' | 'Terminating:Wait' | 'Terminating' | 'Terminated';

export interface AsgInstance {
  id: string;
  /** Launch order within the group: the node name's address. */
  seq: number;
  ltVersion: number;
  imageId: string;
  launchedAt: number;
  state: AsgLifecycleState;
  /** Terminating:Wait: when the hook times out; the hooks still to complete, by name. */
  waitDeadline?: number;
  waitLimit?: number;
  pendingHooks?: Set<string>;
  actionToken?: string;
  terminatingAt?: number;
  terminatedAt?: number;
}

export interface AsgLifecycleHook {
  name: string;
  transition: 'autoscaling:EC2_INSTANCE_TERMINATING' | 'autoscaling:EC2_INSTANCE_LAUNCHING';
  heartbeatTimeout: number;
  defaultResult: 'CONTINUE' | 'ABANDON';
  metadata?: string;
}

export type RefreshStatus =
  | 'Pending'
  | 'InProgress'
  | 'Successful'
  | 'Failed'
  | 'Cancelling'
  | 'Cancelled'
  | 'RollbackInProgress'
  | 'RollbackFailed'
  | 'RollbackSuccessful'
  | 'Baking';

export interface AsgRefresh {
  id: string;
  status: RefreshStatus;
  statusReason?: string;
  startedAt: number;
  endedAt?: number;
  minHealthy: number;
  checkpoints: number[];
  checkpointDelayS: number;
  warmupS: number;
  skipMatching: boolean;
  autoRollback: boolean;
  /** The desired configuration as asked (`Version` may be `$Latest`) and resolved. */
  desired?: { templateId: string; templateName: string; version: string; number: number };
  /** The group's configuration when the refresh started: what a rollback goes back to. */
  previous: { version: string; number: number };
  /** Instances to bring to the target (fixed at start), and those done. */
  toUpdate: number;
  replaced: number;
  /** Instance ids this refresh has replaced (SkipMatching false replaces each once). */
  touched: Set<string>;
  /** The batch in flight: instances leaving, and when the next step may happen. */
  leaving: string[];
  launched: string[];
  nextAt: number;
  checkpointIndex: number;
  rollback?: { startedAt: number; toUpdate: number; replaced: number; reason: string };
}

/** What the simulator records of each termination (for tests: was the node drained first). */
export interface AsgTermination {
  at: number;
  instanceId: string;
  node: string;
  /** Why: the refresh, a completed lifecycle action, or the hook's timeout. */
  via: 'lifecycle-action' | 'heartbeat-timeout' | 'no-hook';
  cordoned: boolean;
  /** Pods other than DaemonSet pods still on the node when its instance stopped. */
  podsLeft: number;
}

export interface SimAsg {
  name: string;
  arn: string;
  cluster: string;
  region: string;
  account: string;
  /** Index among the cluster's node slots (node addresses). */
  slot: number;
  amiType: string;
  createdAt: number;
  desired: number;
  min: number;
  max: number;
  healthCheckGracePeriod: number;
  template: SimLaunchTemplate;
  /** The group's launch-template version as set on it: a number, `$Latest` or `$Default`. */
  version: string;
  tags: Record<string, string>;
  instances: AsgInstance[];
  nextSeq: number;
  hooks: Map<string, AsgLifecycleHook>;
  refreshes: AsgRefresh[];
  terminations: AsgTermination[];
}

/** Asks the Kubernetes side about an instance's node as it stops (set by k8s-state.ts). */
let nodeProbe:
  | ((
      c: SimCluster,
      asg: SimAsg,
      instance: AsgInstance,
      at: number,
    ) => { node: string; cordoned: boolean; podsLeft: number })
  | undefined;
/** Groups being advanced: listing nodes from the probe must not advance them again. */
const advancing = new WeakSet<SimAsg>();

export function setAsgNodeProbe(probe: typeof nodeProbe): void {
  nodeProbe = probe;
}

export const ACTIVE_REFRESH: readonly RefreshStatus[] = [
  'Pending',
  'InProgress',
  'Cancelling',
  'RollbackInProgress',
  'Baking',
];

/** The launch-template version number a group version string names now. */
export function resolveVersion(t: SimLaunchTemplate, version: string): number {
  if (version === '$Latest') return t.latestVersion;
  if (version === '$Default') return t.defaultVersion;
  return Number(version);
}

export function imageOfVersion(t: SimLaunchTemplate, n: number): string {
  return t.versions.get(n)?.imageId ?? '';
}

/** Instances that count against capacity (not on their way out). */
function live(asg: SimAsg): AsgInstance[] {
  return asg.instances.filter((i) => i.state === 'Pending' || i.state === 'InService');
}

export function launchInstance(asg: SimAsg, ltVersion: number, at: number): AsgInstance {
  const seq = asg.nextSeq++;
  const instance: AsgInstance = {
    id: `i-0${hexOf(16, asg.cluster, 'asg', asg.name, seq)}`,
    seq,
    ltVersion,
    imageId: imageOfVersion(asg.template, ltVersion),
    launchedAt: at,
    state: 'Pending',
  };
  asg.instances.push(instance);
  return instance;
}

/** Starts terminating an instance: into Terminating:Wait when a termination hook exists. */
function beginTermination(c: SimCluster, asg: SimAsg, i: AsgInstance, at: number): void {
  const hooks = [...asg.hooks.values()].filter((h) => h.transition === 'autoscaling:EC2_INSTANCE_TERMINATING');
  if (hooks.length === 0) {
    proceed(c, asg, i, at, 'no-hook');
    return;
  }
  i.state = 'Terminating:Wait';
  i.pendingHooks = new Set(hooks.map((h) => h.name));
  const timeout = Math.min(...hooks.map((h) => h.heartbeatTimeout)) * 1000;
  i.waitDeadline = at + timeout;
  i.waitLimit = at + Math.min(48 * 3600_000, 100 * timeout);
  i.actionToken = uuidOf(asg.arn, i.id, 'terminate', at);
}

function proceed(c: SimCluster, asg: SimAsg, i: AsgInstance, at: number, via: AsgTermination['via']): void {
  const probe = nodeProbe?.(c, asg, i, at);
  i.state = 'Terminating';
  i.terminatingAt = at;
  delete i.pendingHooks;
  delete i.waitDeadline;
  asg.terminations.push({
    at,
    instanceId: i.id,
    node: probe?.node ?? '',
    via,
    cordoned: probe?.cordoned ?? false,
    podsLeft: probe?.podsLeft ?? 0,
  });
}

/** CompleteLifecycleAction for one hook; the instance proceeds once every hook is complete. */
export function completeAction(c: SimCluster, asg: SimAsg, i: AsgInstance, hook: string, at: number): void {
  i.pendingHooks?.delete(hook);
  if (!i.pendingHooks || i.pendingHooks.size === 0) proceed(c, asg, i, at, 'lifecycle-action');
}

export function heartbeat(asg: SimAsg, i: AsgInstance, at: number): void {
  const hooks = [...(i.pendingHooks ?? [])].map((h) => asg.hooks.get(h)?.heartbeatTimeout ?? 3600);
  const timeout = Math.min(...hooks) * 1000;
  i.waitDeadline = Math.min(at + timeout, i.waitLimit ?? Number.POSITIVE_INFINITY);
}

function activeRefresh(asg: SimAsg): AsgRefresh | undefined {
  return asg.refreshes.find((r) => ACTIVE_REFRESH.includes(r.status));
}

/** The launch-template version a refresh (or the group) brings instances to. */
function targetOf(asg: SimAsg, r: AsgRefresh | undefined): number {
  if (r?.status === 'RollbackInProgress') return r.previous.number;
  if (r?.desired && (r.status === 'InProgress' || r.status === 'Pending')) return r.desired.number;
  return resolveVersion(asg.template, asg.version);
}

/** Applies every transition due by `now`, each at its own time. */
export function advanceAsg(c: SimCluster, asg: SimAsg, now: number): void {
  if (advancing.has(asg)) return;
  advancing.add(asg);
  try {
    for (let guard = 0; guard < 10_000; guard++) {
      const at = nextEvent(asg);
      if (at === undefined || at > now) return;
      applyAt(c, asg, at);
    }
  } finally {
    advancing.delete(asg);
  }
}

function nextEvent(asg: SimAsg): number | undefined {
  let t: number | undefined;
  const consider = (v: number | undefined) => {
    if (v !== undefined && (t === undefined || v < t)) t = v;
  };
  for (const i of asg.instances) {
    if (i.state === 'Pending') consider(i.launchedAt + ASG_PENDING_MS);
    else if (i.state === 'Terminating:Wait') consider(i.waitDeadline);
    else if (i.state === 'Terminating') consider((i.terminatingAt ?? 0) + ASG_TERMINATE_MS);
  }
  const r = activeRefresh(asg);
  if (r) consider(r.nextAt);
  return t;
}

function applyAt(c: SimCluster, asg: SimAsg, at: number): void {
  for (const i of asg.instances) {
    if (i.state === 'Pending' && i.launchedAt + ASG_PENDING_MS <= at) i.state = 'InService';
    else if (i.state === 'Terminating:Wait' && (i.waitDeadline ?? 0) <= at) proceed(c, asg, i, at, 'heartbeat-timeout');
    else if (i.state === 'Terminating' && (i.terminatingAt ?? 0) + ASG_TERMINATE_MS <= at) {
      i.state = 'Terminated';
      i.terminatedAt = at;
    }
  }
  asg.instances = asg.instances.filter((i) => i.state !== 'Terminated' || (i.terminatedAt ?? 0) > at - 3600_000);
  const r = activeRefresh(asg);
  if (r && r.nextAt <= at) stepRefresh(c, asg, r, at);
}

const NEVER = Number.POSITIVE_INFINITY;

/** One step of a refresh at `at`: finish the batch in flight, pause at a checkpoint, or start a batch. */
function stepRefresh(c: SimCluster, asg: SimAsg, r: AsgRefresh, at: number): void {
  const byId = new Map(asg.instances.map((i) => [i.id, i]));
  // Leaving instances: once gone, launch their replacements (terminate before launch).
  if (r.leaving.length > 0) {
    const stillLeaving = r.leaving.filter((id) => {
      const i = byId.get(id);
      return i !== undefined && i.state !== 'Terminated';
    });
    if (stillLeaving.length > 0) {
      r.nextAt = Math.min(...stillLeaving.map((id) => eventOf(byId.get(id))));
      return;
    }
    const room = asg.desired - live(asg).length;
    for (let k = 0; k < Math.min(room, r.leaving.length); k++) {
      r.launched.push(launchInstance(asg, targetOf(asg, r), at).id);
    }
    r.leaving = [];
    if (r.status === 'Cancelling') {
      finish(r, 'Cancelled', at, 'Instance refresh was cancelled.');
      return;
    }
  }
  if (r.status === 'Cancelling') {
    finish(r, 'Cancelled', at, 'Instance refresh was cancelled.');
    return;
  }
  // Launched instances count once InService and warmed up (EC2 health only).
  if (r.launched.length > 0) {
    const warm = r.launched.map((id) => byId.get(id)).filter((i): i is AsgInstance => i !== undefined);
    const ready = (i: AsgInstance) => i.state === 'InService' && i.launchedAt + ASG_PENDING_MS + r.warmupS * 1000 <= at;
    if (!warm.every(ready)) {
      r.nextAt = Math.max(at + 1, ...warm.map((i) => i.launchedAt + ASG_PENDING_MS + r.warmupS * 1000));
      return;
    }
    if (r.status === 'RollbackInProgress' && r.rollback) r.rollback.replaced += r.launched.length;
    else r.replaced += r.launched.length;
    r.launched = [];
    if (r.status === 'InProgress') {
      const pct = r.toUpdate === 0 ? 100 : Math.floor((r.replaced * 100) / r.toUpdate);
      let reached = false;
      while (r.checkpointIndex < r.checkpoints.length && pct >= (r.checkpoints[r.checkpointIndex] as number)) {
        r.checkpointIndex++;
        reached = true;
      }
      const last = r.checkpoints[r.checkpoints.length - 1] ?? 100;
      if (reached && pct < 100 && pct < last) {
        r.statusReason = `Waiting for checkpoint delay (checkpoint ${r.checkpoints[r.checkpointIndex - 1]}% reached).`;
        r.nextAt = at + r.checkpointDelayS * 1000;
        return;
      }
    }
  }
  delete r.statusReason;
  const target = targetOf(asg, r);
  const candidates = asg.instances.filter(
    (i) =>
      i.state === 'InService' &&
      !r.touched.has(i.id) &&
      (r.status === 'RollbackInProgress' || r.skipMatching ? i.ltVersion !== target : true),
  );
  const pct = r.toUpdate === 0 ? 100 : (r.replaced * 100) / r.toUpdate;
  const last = r.checkpoints[r.checkpoints.length - 1] ?? 100;
  if (candidates.length === 0 || (r.status === 'InProgress' && pct >= last)) {
    if (r.status === 'RollbackInProgress') finish(r, 'RollbackSuccessful', at, 'Rollback completed successfully.');
    else {
      finish(r, 'Successful', at);
      if (r.desired) asg.version = r.desired.version;
    }
    return;
  }
  const keep = Math.ceil((asg.desired * r.minHealthy) / 100);
  let batch = Math.max(1, asg.desired - keep);
  if (r.status === 'InProgress') {
    const next = r.checkpoints[r.checkpointIndex] ?? 100;
    const needed = Math.ceil((next * r.toUpdate) / 100) - r.replaced;
    batch = Math.max(1, Math.min(batch, needed));
  }
  for (const i of candidates.slice(0, batch)) {
    r.touched.add(i.id);
    r.leaving.push(i.id);
    beginTermination(c, asg, i, at);
  }
  r.nextAt = Math.min(...r.leaving.map((id) => eventOf(byId.get(id))));
}

/** When an instance next changes by itself (a waiting one: its hook's timeout). */
function eventOf(i: AsgInstance | undefined): number {
  if (!i) return NEVER;
  if (i.state === 'Terminating:Wait') return i.waitDeadline ?? NEVER;
  if (i.state === 'Terminating') return (i.terminatingAt ?? 0) + ASG_TERMINATE_MS;
  return NEVER;
}

function finish(r: AsgRefresh, status: RefreshStatus, at: number, reason?: string): void {
  r.status = status;
  r.endedAt = at;
  if (reason) r.statusReason = reason;
  else delete r.statusReason;
}

/** Wakes the refresh after a client changed an instance (a completed lifecycle action). */
export function nudgeRefresh(asg: SimAsg, at: number): void {
  const r = activeRefresh(asg);
  if (!r) return;
  const byId = new Map(asg.instances.map((i) => [i.id, i]));
  if (r.leaving.length > 0) r.nextAt = Math.min(r.nextAt, ...r.leaving.map((id) => eventOf(byId.get(id))));
  else r.nextAt = Math.min(r.nextAt, at);
}

export { activeRefresh };
