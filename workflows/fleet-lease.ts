/**
 * The fleet lease workflow: a counting semaphore for one label value (`account=123456789012`),
 * shared by every campaign that declares the same `spec.pacing.sharedCaps` entry.
 *
 * Protocol (message definitions in ./definitions):
 * 1. A requester (a campaign) runs the `requestLease` activity, which signals-with-start
 *    `fleet-lease/<key>=<value>` with `requestLeaseSignal({ requesterWorkflowId, holder, max })`.
 * 2. The lease grants FIFO, while fewer than the head request's `max` slots are held, by signalling
 *    the requester `leaseGrantedSignal({ leaseId: 'key=value', holder })`.
 * 3. The requester signals `releaseLeaseSignal({ requesterWorkflowId, holder })` when the holder is
 *    done, or to withdraw a request still waiting.
 *
 * Requesters that go away without releasing:
 * - one that is closed when its turn comes: the grant signal fails, the slot goes to the next;
 * - one that closes while holding (terminated, failed, timed out, or replaced by a new workflow
 *   with the same ID): every `livenessCheckIntervalMs` while slots are held, the
 *   `findClosedRequesters` activity describes the holders' requesters and their slots are freed.
 * An operator can free a slot at any time with `temporal workflow signal --name releaseLease`.
 *
 * The workflow ends after `idleTimeoutMs` with no holder and nobody waiting (a later request starts
 * a new one), and continues as new, carrying holders and queue, when the server suggests it.
 *
 * Fleet control: the lease `fleet=*` (ID `fleet-control/<taskQueue>`) also holds the fleet-wide change
 * calendar and start pace (domain/freezes.ts), so every worker and campaign sees one calendar:
 * - Updates `addFreeze`, `removeFreeze`, `setFleetPace` (from `fleetwave freeze|pace`, with
 *   update-with-start) change it; the Query `fleetControl` reads it;
 * - campaigns ask with the Update `takeStarts` before starting clusters (the `takeFleetStarts`
 *   activity); inside a freeze nothing is granted, otherwise at most what the bucket holds. A
 *   campaign with upgrades in flight also asks with `want: 0` to learn whether a freeze is in force
 *   (it then holds them); the answer names when the next freeze begins (`nextFreezeAtMs`);
 * - a refused campaign is signalled `fleetControlChanged` when a freeze is removed or the pace
 *   changes, so lifting a freeze resumes starts at once; otherwise it asks again at the time given;
 * - it does not end while it holds a freeze or a pace, and carries them across continue-as-new.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LeaseActivities } from '../activities/leases';
import { durationToMs } from '../domain/duration';
import {
  checkFreezes,
  nextFreezeStart,
  pruneFreezes,
  validateFreeze,
  type Freeze,
  type FleetPace,
} from '../domain/freezes';
import { tokensAvailable, tryTake, type TokenBucket } from '../domain/pacing';
import {
  FLEET_CONTROL_LABEL,
  addFreezeUpdate,
  fleetControlChangedSignal,
  fleetControlQuery,
  removeFreezeUpdate,
  setFleetPaceUpdate,
  takeStartsUpdate,
  type FleetControlState,
  type FleetControlView,
  type TakeStartsInput,
  type TakeStartsResult,
  fleetLeaseId,
  fleetLeaseStatusQuery,
  leaseGrantedSignal,
  releaseLeaseSignal,
  requestLeaseSignal,
  type FleetLeaseInput,
  type FleetLeaseStatus,
  type LeaseHolder,
  type LeaseRelease,
  type LeaseRequest,
} from './definitions';

const { findClosedRequesters } = proxyActivities<LeaseActivities>({
  startToCloseTimeout: '1m',
  // A failed check is simply tried again at the next interval.
  retry: { maximumAttempts: 3 },
});

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Refused requesters remembered for the fleetControlChanged signal. */
const MAX_WAITERS = 1_000;
const DEFAULT_LIVENESS_CHECK_INTERVAL_MS = 5 * 60_000;

/**
 * Holds the slots of one shared cap. Returns its final status once idle. Signals are idempotent:
 * a repeated request (e.g. from a retried activity) or release changes nothing, and a repeated
 * request is not granted twice. A request from a new workflow with the same ID (another
 * `requesterFirstRunId`) replaces the stale entry of the old one.
 */
export async function fleetLeaseWorkflow(input: FleetLeaseInput): Promise<FleetLeaseStatus> {
  const lease = new FleetLease(input);
  setHandler(requestLeaseSignal, (request) => lease.request(request));
  setHandler(releaseLeaseSignal, (release) => lease.release(release));
  setHandler(fleetLeaseStatusQuery, () => lease.status());
  const control =
    input.labelKey === FLEET_CONTROL_LABEL.labelKey && input.labelValue === FLEET_CONTROL_LABEL.labelValue
      ? new FleetControl(input.continued?.control)
      : undefined;
  if (control) control.register();

  const idleMs = input.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const livenessMs = input.livenessCheckIntervalMs ?? DEFAULT_LIVENESS_CHECK_INTERVAL_MS;
  for (;;) {
    await lease.grantWaiting();
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      const carried = lease.carry();
      return continueAsNew<typeof fleetLeaseWorkflow>({
        ...input,
        continued: control ? { ...carried, control: control.carry() } : carried,
      });
    }
    if (lease.idle()) {
      if (control?.keeps()) {
        // The calendar outlives idleness: wait, without timers, for a request, an emptied calendar or the suggestion.
        await condition(() => !lease.idle() || !control.keeps() || workflowInfo().continueAsNewSuggested);
        continue;
      }
      const woken = await condition(() => !lease.idle() || (control?.keeps() ?? false), idleMs);
      if (!woken) {
        await condition(allHandlersFinished);
        return lease.status();
      }
      continue;
    }
    if (lease.canGrant()) continue;
    // Waking on the suggestion too: a busy lease with a full queue may see nothing else for hours.
    const wake = (): boolean => lease.canGrant() || lease.idle() || workflowInfo().continueAsNewSuggested;
    // A liveness interval of 0 turns the check off: slots are then held until released.
    const changed = livenessMs > 0 ? await condition(wake, livenessMs) : await condition(wake).then(() => true);
    if (!changed && lease.holderCount() > 0) await lease.dropClosedRequesters();
  }
}

class FleetLease {
  private readonly leaseId: string;
  private holders: LeaseHolder[];
  private queue: LeaseRequest[];
  private granted: number;
  private readonly runs: number;

  constructor(input: FleetLeaseInput) {
    this.leaseId = fleetLeaseId(input.labelKey, input.labelValue);
    this.holders = [...(input.continued?.holders ?? [])];
    this.queue = [...(input.continued?.queue ?? [])];
    this.granted = input.continued?.granted ?? 0;
    this.runs = (input.continued?.runs ?? 0) + 1;
  }

  request(request: LeaseRequest): void {
    const same = (r: LeaseRequest): boolean =>
      r.requesterWorkflowId === request.requesterWorkflowId && r.holder === request.holder;
    // The same workflow ID on another continue-as-new chain means the old chain has closed: its entry is stale.
    const stale = (r: LeaseRequest): boolean =>
      same(r) &&
      request.requesterFirstRunId !== undefined &&
      r.requesterFirstRunId !== undefined &&
      r.requesterFirstRunId !== request.requesterFirstRunId;
    this.holders = this.holders.filter((r) => !stale(r));
    this.queue = this.queue.filter((r) => !stale(r));
    if (this.holders.some(same) || this.queue.some(same)) return;
    this.queue.push({ ...request, max: Math.max(1, Math.floor(request.max)) });
  }

  release(release: LeaseRelease): void {
    const other = (r: LeaseRequest): boolean =>
      r.requesterWorkflowId !== release.requesterWorkflowId || r.holder !== release.holder;
    this.holders = this.holders.filter(other);
    this.queue = this.queue.filter(other);
  }

  idle(): boolean {
    return this.holders.length === 0 && this.queue.length === 0;
  }

  holderCount(): number {
    return this.holders.length;
  }

  /** Strict FIFO: a head that must wait (its `max` is reached) keeps everyone behind it waiting too. */
  canGrant(): boolean {
    const head = this.queue[0];
    return head !== undefined && this.holders.length < head.max;
  }

  /** Grants every slot it can, signalling the requesters in parallel; a requester that is gone loses its slot. */
  async grantWaiting(): Promise<void> {
    const grants: LeaseHolder[] = [];
    for (let head = this.queue[0]; head && this.holders.length < head.max; head = this.queue[0]) {
      this.queue.shift();
      const holder: LeaseHolder = { ...head, grantedAt: new Date().toISOString() };
      this.holders.push(holder);
      this.granted++;
      grants.push(holder);
    }
    await Promise.all(
      grants.map(async (holder) => {
        try {
          await getExternalWorkflowHandle(holder.requesterWorkflowId).signal(leaseGrantedSignal, {
            leaseId: this.leaseId,
            holder: holder.holder,
          });
        } catch (err) {
          log.warn('lease requester is gone; its slot goes to the next in line', {
            leaseId: this.leaseId,
            requester: holder.requesterWorkflowId,
            holder: holder.holder,
            error: err instanceof Error ? err.message : String(err),
          });
          this.release(holder);
        }
      }),
    );
  }

  /** Frees the slots (and withdraws the requests) of requesters that closed without releasing. */
  async dropClosedRequesters(): Promise<void> {
    const requesters = new Map<string, { workflowId: string; firstRunId?: string }>();
    for (const h of this.holders) {
      requesters.set(`${h.requesterWorkflowId} ${h.requesterFirstRunId ?? ''}`, {
        workflowId: h.requesterWorkflowId,
        ...(h.requesterFirstRunId ? { firstRunId: h.requesterFirstRunId } : {}),
      });
    }
    let closed: { workflowId: string; firstRunId?: string }[];
    try {
      closed = await findClosedRequesters({ requesters: [...requesters.values()] });
    } catch (err) {
      log.warn('lease liveness check failed; trying again later', {
        leaseId: this.leaseId,
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    const gone = (r: LeaseRequest): boolean =>
      closed.some(
        (c) => c.workflowId === r.requesterWorkflowId && (c.firstRunId ?? '') === (r.requesterFirstRunId ?? ''),
      );
    const dropped = this.holders.filter(gone);
    if (dropped.length > 0) {
      log.warn('freeing lease slots of requesters that closed without releasing', {
        leaseId: this.leaseId,
        holders: dropped.map((h) => `${h.requesterWorkflowId}/${h.holder}`),
      });
    }
    this.holders = this.holders.filter((h) => !gone(h));
    this.queue = this.queue.filter((r) => !gone(r));
  }

  carry(): NonNullable<FleetLeaseInput['continued']> {
    return { holders: this.holders, queue: this.queue, runs: this.runs, granted: this.granted };
  }

  status(): FleetLeaseStatus {
    return { leaseId: this.leaseId, holders: this.holders, queue: this.queue, granted: this.granted, runs: this.runs };
  }
}

/** The fleet-wide change calendar and start pace (only in the `fleet=*` lease). */
class FleetControl {
  private state: FleetControlState;

  constructor(carried: FleetControlState | undefined) {
    this.state = carried
      ? { ...carried, freezes: [...carried.freezes], waiters: [...carried.waiters] }
      : { freezes: [], nextFreeze: 1, waiters: [], started: 0 };
  }

  register(): void {
    setHandler(addFreezeUpdate, (input) => this.addFreeze(input), {
      validator: (input) => {
        const errors = validateFreeze(input, Date.now());
        if (errors.length > 0) throw new Error(errors.join('; '));
      },
    });
    setHandler(removeFreezeUpdate, ({ id }) => this.removeFreeze(id), {
      validator: ({ id }) => {
        if (!this.state.freezes.some((f) => f.id === id)) {
          const known = this.state.freezes.map((f) => f.id).join(', ') || 'none';
          throw new Error(`no freeze ${id} (freezes: ${known})`);
        }
      },
    });
    setHandler(setFleetPaceUpdate, (pace) => this.setPace(pace), {
      validator: (pace) => {
        if (pace === null) return;
        if (!Number.isInteger(pace.starts) || pace.starts < 1) throw new Error('starts must be a whole number >= 1');
        if (!(durationToMs(pace.per) > 0)) throw new Error(`per "${pace.per}" must be a duration longer than 0`);
        if (pace.burst !== undefined && (!Number.isInteger(pace.burst) || pace.burst < 1)) {
          throw new Error('burst must be a whole number >= 1');
        }
      },
    });
    setHandler(takeStartsUpdate, (input) => this.takeStarts(input));
    setHandler(fleetControlQuery, () => this.view());
  }

  /** Holds something worth keeping the workflow alive for. */
  keeps(): boolean {
    return this.state.freezes.length > 0 || this.state.pace !== undefined;
  }

  carry(): FleetControlState {
    return this.state;
  }

  private addFreeze(input: Parameters<typeof validateFreeze>[0]): Freeze {
    const now = Date.now();
    const freeze: Freeze = { ...input, id: `f${this.state.nextFreeze}`, addedAt: new Date(now).toISOString() };
    this.state.nextFreeze++;
    this.state.freezes = [...pruneFreezes(this.state.freezes, now), freeze];
    log.info('freeze added', { id: freeze.id, reason: freeze.reason });
    return freeze;
  }

  private async removeFreeze(id: string): Promise<Freeze> {
    const freeze = this.state.freezes.find((f) => f.id === id) as Freeze;
    this.state.freezes = this.state.freezes.filter((f) => f.id !== id);
    log.info('freeze removed', { id, reason: freeze.reason });
    await this.notifyWaiters();
    return freeze;
  }

  private async setPace(pace: FleetPace | null): Promise<FleetControlView> {
    if (pace === null) {
      delete this.state.pace;
      delete this.state.tatMs;
    } else {
      this.state.pace = pace;
      // A new pace starts with a full bucket: the old one's debt was measured at another rate.
      delete this.state.tatMs;
    }
    await this.notifyWaiters();
    return this.view();
  }

  /** Wakes every refused requester; one that is gone is simply dropped. */
  private async notifyWaiters(): Promise<void> {
    const waiters = this.state.waiters;
    this.state.waiters = [];
    await Promise.all(
      waiters.map((id) =>
        getExternalWorkflowHandle(id)
          .signal(fleetControlChangedSignal)
          .catch(() => undefined),
      ),
    );
  }

  private bucket(now: number): TokenBucket | undefined {
    const pace = this.state.pace;
    if (!pace) return undefined;
    const perMs = durationToMs(pace.per);
    // Capacity `burst` refilling at `starts` per `per`: the bucket's own period scales with the burst.
    const burst = Math.max(1, pace.burst ?? pace.starts);
    return { starts: burst, perMs: (perMs * burst) / pace.starts, tatMs: this.state.tatMs ?? now };
  }

  private takeStarts(input: TakeStartsInput): TakeStartsResult {
    const now = Date.now();
    this.state.freezes = pruneFreezes(this.state.freezes, now);
    const check = checkFreezes(this.state.freezes, now);
    const refuse = (): void => {
      if (this.state.waiters.includes(input.requesterWorkflowId)) return;
      // Bounded: the oldest refused requester (most likely ended) is forgotten first; a campaign
      // not told still asks again at the time it was given.
      this.state.waiters = [...this.state.waiters, input.requesterWorkflowId].slice(-MAX_WAITERS);
    };
    if (check.frozen && check.freeze && check.untilMs !== undefined) {
      refuse();
      const text = check.reason ?? `frozen: ${check.freeze.reason}`;
      return {
        granted: 0,
        frozen: { id: check.freeze.id, reason: check.freeze.reason, untilMs: check.untilMs, text },
        retryAtMs: check.untilMs,
        reason: text,
      };
    }
    let bucket = this.bucket(now);
    let granted = 0;
    let retryAtMs: number | undefined;
    while (granted < input.want) {
      if (!bucket) {
        granted = input.want;
        break;
      }
      const take = tryTake(bucket, now);
      if (!take.ok) {
        retryAtMs = take.retryAtMs;
        break;
      }
      bucket = take.bucket;
      granted++;
    }
    if (bucket) this.state.tatMs = bucket.tatMs;
    this.state.started += granted;
    if (granted < input.want) refuse();
    else this.state.waiters = this.state.waiters.filter((w) => w !== input.requesterWorkflowId);
    const nextFreezeAtMs = nextFreezeStart(this.state.freezes, now);
    return {
      granted,
      ...(nextFreezeAtMs !== undefined ? { nextFreezeAtMs } : {}),
      ...(retryAtMs !== undefined
        ? { retryAtMs, reason: `fleet-wide rate limit: next start at ${new Date(retryAtMs).toISOString()}` }
        : {}),
    };
  }

  view(): FleetControlView {
    const now = Date.now();
    const check = checkFreezes(this.state.freezes, now);
    const bucket = this.bucket(now);
    return {
      freezes: this.state.freezes,
      ...(this.state.pace ? { pace: this.state.pace } : {}),
      ...(check.frozen && check.freeze && check.untilMs !== undefined
        ? {
            frozen: {
              id: check.freeze.id,
              reason: check.freeze.reason,
              untilMs: check.untilMs,
              text: check.reason ?? '',
            },
          }
        : {}),
      ...(bucket ? { tokens: tokensAvailable(bucket, now) } : {}),
      started: this.state.started,
      nowMs: now,
    };
  }
}
