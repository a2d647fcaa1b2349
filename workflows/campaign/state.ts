/**
 * The campaign's state machine as a plain class: every decision that needs no Temporal API
 * (which transitions are allowed, what the status says, how approvals are validated, what
 * is carried across continue-as-new) lives here, so the workflow function only wires
 * handlers, timers, activities and children around it.
 *
 * Deterministic: time comes in as arguments (the workflow clock), nothing here reads a
 * clock, draws randomness or touches I/O.
 */
import type { Reversible } from '../cluster-upgrade/rollback';
import type { GateResult, PinnedVersions } from '../../activities/types';
import type { FleetMember } from '../../domain/fleet';
import { durationToMs } from '../../domain/duration';
import type { TokenBucket } from '../../domain/pacing';
import { nodegroupReversibility } from '../../domain/node-models';
import { effectiveApproval } from '../../domain/plan';
import { compareMinor, parseMinor, toMinor } from '../../domain/versions';
import type { PolicySummary, SignedActionKind } from '../../domain/signed-actions';
import type { Campaign, WaveSpec } from '../../domain/spec';
import type {
  Approval,
  ApproveInput,
  AuditEntry,
  CampaignResult,
  CampaignState,
  CampaignStatus,
  ClusterActionInput,
  ClusterFinished,
  ClusterGateResult,
  ClusterState,
  ClusterStatus,
  NotifySinkFailure,
  NotifySinkStatus,
  OperatorInput,
  RollbackWaveInput,
  RollbackWaveResult,
  WaveRollbackPlan,
  WaveState,
  WaveStatus,
} from '../definitions';
import { TERMINAL_CLUSTER_STATES } from '../definitions';
import { approvalsInForce, decidePromotion, type Promotion } from './promotion';

/** Audit entries kept in state (older ones are dropped and counted). */
export const AUDIT_KEPT = 200;
/** spec.notify lists at most 10 sinks; a stray signal naming others adds nothing beyond this. */
const MAX_NOTIFY_SINKS = 10;
/** Gate results kept per wave (last per cluster/gate; successful ones are evicted first). */
export const GATES_KEPT_PER_WAVE = 200;
/** Upper bound on children in flight at once, whatever the spec says (Temporal's pending-child limit is 2,000). */
export const MAX_CHILDREN_IN_FLIGHT = 500;
/** Signed claims remembered as used until they expire (a claim counts once); beyond this, new ones are refused. */
export const USED_CLAIMS_KEPT = 200;

/** Where the campaign's main loop is. */
export type CampaignPhase = 'planning' | 'window' | 'soak' | 'approval' | 'done';

/** Why the campaign is paused; decides what resume means. */
export type PauseKind = 'operator' | 'budget' | 'soak-gate';

/** A fleet-wide lease this cluster holds or waits for, keyed `labelKey=labelValue`. */
export type LeaseState = 'requested' | 'granted';

/** One cluster as the campaign tracks it (carried across continue-as-new: keep it small). */
export interface ClusterRecord {
  name: string;
  /** Index of the wave the plan put it in. */
  wave: number;
  /** Index of the wave whose window runs it: its own wave, or a later one after a retry. */
  window: number;
  state: ClusterState;
  /** Attempt number of the current or next try (1-based; retry-cluster increments it). */
  attempt: number;
  /** How many times a child was started for it. */
  starts: number;
  /** Estimated upgrade duration (maintenance-window fit check). */
  estimateMs: number;
  /** Control-plane hops the plan expects (for the point-of-no-return warning). */
  hops: number;
  step?: string;
  reason?: string;
  waitingFor?: string;
  startedAt?: string;
  endedAt?: string;
  /** Run ID of the child while upgrading, so pause/abort signals reach exactly that run. */
  runId?: string;
  /** True once the child was told to pause (so resume goes only where pause went). */
  childPaused?: boolean;
  /** True once the child was told to abort. */
  childAborted?: boolean;
  /** Fleet-wide leases (`key=value` → state) held or awaited for this cluster's start. */
  leases?: Record<string, LeaseState>;
  /** Leases to give back (the cluster finished, was skipped, or the campaign aborts). */
  releasePending?: string[];
  /** True while the cluster holds a slot in its window without having started (waiting for a lease or a token). */
  reserved?: boolean;
  /**
   * What its upgraded child changed and a rollback restores (the child's result `undo`): kept while
   * its wave soaks with soak-phase gates and while it is watched after promotion, or for the whole
   * campaign when spec.rollback.afterPromotion is set; dropped otherwise (keeps the carried state small).
   */
  undo?: Reversible[];
  /**
   * A soak gate failed on the upgraded cluster, or its promoted wave is rolled back
   * (`afterPromotion`): its rollback-only child is to start, or runs; `controlPlane` is the hop the
   * child also undoes by EKS VersionRollback (spec.rollback.afterPromotion.controlPlane).
   */
  rollback?: {
    state: 'requested' | 'running';
    reason: string;
    afterPromotion?: boolean;
    controlPlane?: { from: string; to: string };
  };
}

/** One wave as the campaign tracks it. */
export interface WaveRecord {
  name: string;
  index: number;
  state: WaveState;
  /** Clusters the plan put in the wave. */
  size: number;
  failureBudget: number;
  /** Failures a human accepted by resuming after the budget was exceeded. */
  acknowledgedFailures: number;
  approvals: Approval[];
  soakEndsAt?: number;
  /** Soak gate evaluations done so far (index into the deterministic cluster × gate list). */
  soakCursor?: number;
  soakFailure?: string;
  /** After promotion: its clusters are watched by the soak-phase gates until then (spec.watchAfterPromotion). */
  watchUntil?: number;
  /** A gate failed during the watch after promotion: what, and the rollback proposed. */
  watchFailure?: string;
  /** The watch after promotion could not read a gate (no data, errors) and watches again. */
  watchWarning?: string;
  gates: ClusterGateResult[];
  gatesDropped: number;
  started?: boolean;
}

/** Everything that crosses continue-as-new, as plain JSON. */
export interface CarriedState {
  version: 1;
  phase: CampaignPhase;
  currentWave: number;
  clusters: ClusterRecord[];
  waves: WaveRecord[];
  pinned?: PinnedVersions;
  skippedAtPlan: { cluster: string; reason: string }[];
  audit: AuditEntry[];
  auditDropped: number;
  runs: number;
  paused: boolean;
  pauseKind?: PauseKind;
  pausedReason?: string;
  aborting: boolean;
  abortedReason?: string;
  failedReason?: string;
  /** Token bucket of the rate limit (domain/pacing), once the waves began under a rate limit. */
  bucket?: TokenBucket;
  /** Why the fleet control refused the last starts (`frozen: <reason> until <ISO>`, or the fleet-wide rate limit). */
  fleetHold?: string;
  /** The fleet control did not run at the last ask: start rounds skip it until fleetControlChanged. */
  fleetControlAbsent?: boolean;
  /**
   * The freeze in force at the last ask (patch freeze-hold-in-flight): nothing starts, and the
   * upgrades in flight are held until it ends (`untilMs`) or fleetControlChanged says it was lifted.
   */
  freeze?: HeldByFreeze;
  /** When the next freeze begins, as the last answer said: a campaign with upgrades in flight asks again then. */
  nextFreezeAtMs?: number;
  /** fleetControlChanged arrived since the last ask: a campaign with upgrades in flight asks again. */
  fleetControlAskDue?: boolean;
  /**
   * This campaign follows freezes with its upgrades in flight (patch freeze-hold-in-flight, decided
   * at a fleetControlChanged signal or at an answer that names a freeze): only then does it ask the
   * fleet control with nothing to start.
   */
  freezeHold?: boolean;
  /** In-flight upgrades told to hold for the freeze: their resume is audited once, with this count. */
  freezeHeldChildren?: number;
  /** Last values written to the search attributes (so unchanged ones are not re-upserted). */
  publishedAttributes?: Record<string, string | number | boolean>;
  publishedCountsAt?: number;
  /** The worker's fleet approval policy, as its last answer described it (absent before signed actions). */
  approvalPolicy?: PolicySummary;
  /** Signed claims already used (domain/signed-actions claimUseKey), kept until they expire. */
  usedClaims?: { key: string; expiresAt: number }[];
  /** Audit entries (counted over the campaign's life, dropped ones included) already looked at for notifications. */
  notifiedThrough?: number;
  /** spec.notify sinks that failed after their retries. */
  notifySinks?: NotifySinkStatus[];
}

/** How an approval or operator action was proven: what the audit trail and status show. */
export interface ActionProof {
  /** True when the fleet policy verified a signature; false for a name-only action it allows. */
  signed: boolean;
  /** `SHA256:…` fingerprint of the key that signed; on a refusal, of the key the signature names. */
  fingerprint?: string;
}

/** What the plan (domain) hands the state machine on the first run. */
export interface InitialSetup {
  waves: {
    spec: WaveSpec;
    members: { member: FleetMember; estimateMs: number; hops: number }[];
    failureBudget: number;
  }[];
  skippedAtPlan: { cluster: string; reason: string }[];
}

const TERMINAL: ReadonlySet<ClusterState> = new Set<ClusterState>(TERMINAL_CLUSTER_STATES);
/** States a wave's failure budget counts. Blocked clusters were never touched: they do not count. */
const COUNTS_AGAINST_BUDGET: ReadonlySet<ClusterState> = new Set<ClusterState>(['failed', 'rolled-back']);
const SKIPPABLE: ReadonlySet<ClusterState> = new Set<ClusterState>([
  'pending',
  'waiting',
  'failed',
  'rolled-back',
  'blocked',
]);
const RETRYABLE: ReadonlySet<ClusterState> = new Set<ClusterState>(['failed', 'rolled-back', 'blocked', 'skipped']);

/** True when a cluster needs nothing more from its window. */
export function isTerminal(state: ClusterState): boolean {
  return TERMINAL.has(state);
}

/** A zero count per cluster state. */
export function emptyCounts(): Record<ClusterState, number> {
  return {
    pending: 0,
    waiting: 0,
    upgrading: 0,
    upgraded: 0,
    'already-at-target': 0,
    'rolled-back': 0,
    failed: 0,
    blocked: 0,
    skipped: 0,
  };
}

/** A deeply read-only view of plain JSON data: what callers of {@link CampaignMachine} get to read. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A cluster record as callers of the machine see it. */
export type ClusterView = DeepReadonly<ClusterRecord>;
/** A wave record as callers of the machine see it. */
export type WaveView = DeepReadonly<WaveRecord>;

/** A freeze as the fleet control named it (TakeStartsResult.frozen). */
export interface HeldByFreeze {
  id: string;
  reason: string;
  untilMs: number;
  /** `frozen: <reason> until <ISO>`. */
  text: string;
}

/** A signal the state asks the workflow to send (to a fleet-lease holder or to a cluster's child). */
export type PendingSignal =
  | { kind: 'release-lease'; cluster: string; leaseId: string }
  | { kind: 'abort-child' | 'pause-child' | 'resume-child'; cluster: string; runId: string };

/** Why a picked cluster waits (domain/pacing's `waiting` entries). */
export interface QueuedWait {
  kind: string;
  reason: string;
}

/**
 * The campaign's state and its transitions. The state is private: handlers and the workflow's
 * main loop change it only through the named transitions below and read it through read-only
 * views. Transitions that may let the main loop make progress bump {@link changes}, which the
 * main loop's single `condition()` watches.
 */
export class CampaignMachine {
  #changes = 0;
  readonly #s: CarriedState;
  readonly #clusters: Map<string, ClusterRecord>;
  readonly #members: Map<string, FleetMember>;

  private constructor(
    readonly campaign: Campaign,
    s: CarriedState,
    fleet: readonly FleetMember[],
  ) {
    this.#s = s;
    this.#clusters = new Map(s.clusters.map((c) => [c.name, c]));
    this.#members = new Map(fleet.filter((m) => this.#clusters.has(m.name)).map((m) => [m.name, m]));
  }

  /** A fresh campaign from its plan (first run). */
  static fromPlan(
    campaign: Campaign,
    fleet: readonly FleetMember[],
    plan: InitialSetup,
    now: number,
    startedBy?: string,
  ): CampaignMachine {
    const clusters: ClusterRecord[] = [];
    const waves: WaveRecord[] = plan.waves.map((w, index) => {
      for (const { member, estimateMs, hops } of w.members) {
        clusters.push({
          name: member.name,
          wave: index,
          window: index,
          state: 'pending',
          attempt: 1,
          starts: 0,
          estimateMs,
          hops,
        });
      }
      return {
        name: w.spec.name,
        index,
        state: 'pending',
        size: w.members.length,
        failureBudget: w.failureBudget,
        acknowledgedFailures: 0,
        approvals: [],
        gates: [],
        gatesDropped: 0,
      };
    });
    const machine = new CampaignMachine(
      campaign,
      {
        version: 1,
        phase: 'planning',
        currentWave: 0,
        clusters,
        waves,
        skippedAtPlan: plan.skippedAtPlan,
        audit: [],
        auditDropped: 0,
        runs: 1,
        paused: false,
        aborting: false,
      },
      fleet,
    );
    machine.#record(now, {
      kind: 'started',
      by: startedBy,
      detail: `${clusters.length} clusters in ${waves.length} waves; ${plan.skippedAtPlan.length} already at target`,
    });
    return machine;
  }

  /** The state a previous run carried across continue-as-new (copied: the input stays the caller's). */
  static restore(campaign: Campaign, fleet: readonly FleetMember[], carried: CarriedState): CampaignMachine {
    if (carried.version !== 1) throw new Error(`unknown carried campaign state version ${String(carried.version)}`);
    const copy = JSON.parse(JSON.stringify(carried)) as CarriedState;
    return new CampaignMachine(campaign, { ...copy, runs: copy.runs + 1 }, fleet);
  }

  // -------------------------------------------------------------------------------------
  // Reading

  /** Counts the transitions that may let the main loop make progress. */
  get changes(): number {
    return this.#changes;
  }

  /** The whole state, read-only (live: it reflects later transitions). */
  get view(): DeepReadonly<CarriedState> {
    return this.#s;
  }

  get name(): string {
    return this.campaign.metadata.name;
  }

  get spec(): Campaign['spec'] {
    return this.campaign.spec;
  }

  get phase(): CampaignPhase {
    return this.#s.phase;
  }

  get currentWave(): WaveView | undefined {
    return this.#s.waves[this.#s.currentWave];
  }

  get paused(): boolean {
    return this.#s.paused;
  }

  get aborting(): boolean {
    return this.#s.aborting;
  }

  /** The members of the campaign's fleet that the plan placed (what continue-as-new carries). */
  fleet(): FleetMember[] {
    return [...this.#members.values()];
  }

  /** A tracked cluster, or undefined. */
  cluster(name: string): ClusterView | undefined {
    return this.#clusters.get(name);
  }

  /** The spec of wave `index`. */
  waveSpec(index: number): WaveSpec {
    const spec = this.spec.waves[index];
    if (!spec) throw new Error(`no wave ${index}`);
    return spec;
  }

  /** The fleet member of a tracked cluster. */
  member(name: string): FleetMember {
    const member = this.#members.get(name);
    if (!member) throw new Error(`cluster ${name} is not in the campaign's fleet`);
    return member;
  }

  /** Clusters whose window is wave `index`, in plan order. */
  windowClusters(index: number): ClusterView[] {
    return this.#s.clusters.filter((c) => c.window === index);
  }

  /** Clusters with a child running now. */
  inFlight(): ClusterView[] {
    return this.#s.clusters.filter((c) => c.state === 'upgrading');
  }

  /** Clusters holding a slot: upgrading, or reserved while they wait for a lease or a token. */
  occupying(): ClusterView[] {
    return this.#s.clusters.filter((c) => c.state === 'upgrading' || c.reserved);
  }

  // -------------------------------------------------------------------------------------
  // Audit trail

  /** Appends to the audit trail, dropping the oldest entries beyond {@link AUDIT_KEPT}. */
  #record(now: number, entry: Omit<AuditEntry, 'at'>): void {
    const clean: AuditEntry = { at: iso(now), kind: entry.kind };
    if (entry.by !== undefined) clean.by = entry.by;
    if (entry.wave !== undefined) clean.wave = entry.wave;
    if (entry.cluster !== undefined) clean.cluster = entry.cluster;
    if (entry.detail !== undefined) clean.detail = entry.detail;
    if (entry.signed !== undefined) clean.signed = entry.signed;
    if (entry.fingerprint !== undefined) clean.fingerprint = entry.fingerprint;
    this.#s.audit.push(clean);
    const excess = this.#s.audit.length - AUDIT_KEPT;
    if (excess > 0) {
      this.#s.audit.splice(0, excess);
      this.#s.auditDropped += excess;
    }
  }

  /**
   * The audit entries recorded since the last call, each with its sequence number over the
   * campaign's life (stable across continue-as-new): the moments notifications are made of
   * (domain/notify.ts). Entries the bound dropped before a call are not returned.
   */
  takeNotifications(): { seq: number; entry: AuditEntry }[] {
    const s = this.#s;
    const total = s.auditDropped + s.audit.length;
    const from = Math.max(s.notifiedThrough ?? 0, s.auditDropped);
    const out = s.audit.slice(from - s.auditDropped).map((entry, i) => ({ seq: from + i, entry }));
    s.notifiedThrough = total;
    return out;
  }

  /** A notification sink failed after its retries: counted and shown in status. */
  recordSinkFailure(failure: NotifySinkFailure, now: number): void {
    if (!failure || typeof failure.sink !== 'string') return;
    const sinks = (this.#s.notifySinks ??= []);
    let sink = sinks.find((x) => x.sink === failure.sink);
    if (!sink) {
      if (sinks.length >= MAX_NOTIFY_SINKS) return;
      sink = { sink: bounded(failure.sink, 63), failures: 0, lastEvent: '', lastError: '', lastAt: '' };
      sinks.push(sink);
    }
    sink.failures += 1;
    sink.lastEvent = bounded(String(failure.event), 64);
    sink.lastError = bounded(String(failure.error), 500);
    sink.lastAt = iso(now);
  }

  // -------------------------------------------------------------------------------------
  // Planning

  /** Keeps the versions pinned for the whole campaign (retries reuse them). */
  pinVersions(pinned: PinnedVersions): void {
    this.#s.pinned = pinned;
  }

  /** Opens the first wave's window (or finishes a campaign with nothing to upgrade), with the rate limit's bucket. */
  beginWaves(bucket: TokenBucket | undefined): void {
    if (bucket) this.#s.bucket = bucket;
    this.#s.currentWave = 0;
    this.#setPhase(this.#s.waves.length > 0 && this.#s.clusters.length > 0 ? 'window' : 'done');
  }

  /** Marks the campaign failed (e.g. its versions could not be resolved). */
  fail(reason: string, now: number): void {
    this.#s.failedReason = reason;
    this.#record(now, { kind: 'completed', detail: `failed: ${reason}` });
    this.#changes++;
  }

  /** Ends the main loop: the campaign failed, aborted, or has nothing left to do. */
  finish(): void {
    this.#setPhase('done');
  }

  #setPhase(phase: CampaignPhase): void {
    this.#s.phase = phase;
    this.#changes++;
  }

  // -------------------------------------------------------------------------------------
  // Window

  /** Starts the current wave's window (once; a later run or a re-opened window does not restart it). */
  startWave(now: number): void {
    const wave = this.#s.waves[this.#s.currentWave];
    if (!wave || wave.started) return;
    wave.started = true;
    wave.state = 'running';
    this.#record(now, {
      kind: 'wave-started',
      wave: wave.name,
      detail: `${this.windowClusters(wave.index).length} clusters`,
    });
  }

  /** The current window has nothing left to run: soak it, or complete an empty wave and move on. */
  endWindow(now: number): void {
    const wave = this.#s.waves[this.#s.currentWave];
    if (!wave) return;
    if (this.windowClusters(wave.index).length === 0) {
      wave.state = 'completed';
      this.#record(now, { kind: 'wave-completed', wave: wave.name, detail: 'no clusters: skipped' });
      this.#advance();
      return;
    }
    this.#setPhase('soak');
  }

  /** Moves to the next wave, or finishes after the last. */
  #advance(): void {
    if (this.#s.currentWave >= this.#s.waves.length - 1) {
      this.#setPhase('done');
      return;
    }
    this.#s.currentWave += 1;
    this.#setPhase('window');
  }

  /**
   * Applies window `index`'s failure budget policy once its failures exceed the budget: abort the
   * campaign, or pause it (once) with the wave marked paused-budget-exceeded.
   */
  applyBudgetPolicy(index: number, now: number): 'within-budget' | 'paused' | 'aborted' {
    const wave = this.#s.waves[index];
    if (!wave || this.#s.aborting || !this.budgetExceeded(index)) return 'within-budget';
    if (this.#s.paused && this.#s.pauseKind === 'budget') return 'paused';
    const failures = this.windowFailures(index);
    const reason = `wave "${wave.name}" failure budget exceeded: ${failures} failed or rolled back, budget ${wave.failureBudget}`;
    if (this.waveSpec(index).onBudgetExceeded === 'abort') {
      this.abort({ by: 'failure budget', reason }, now);
      return 'aborted';
    }
    wave.state = 'paused-budget-exceeded';
    this.pause('budget', `${reason}; in-flight clusters finish, resume to go on`, now, 'failure budget');
    return 'paused';
  }

  /**
   * What the fleet control said about the last starts asked for: why none or fewer started, or
   * nothing (cleared). Entering and leaving a freeze are decisions the audit trail keeps (once
   * each, not at every refused start round).
   */
  setFleetHold(reason: string | undefined, now: number): void {
    const wasFrozen = this.#s.fleetHold?.startsWith('frozen') ?? false;
    const frozen = reason?.startsWith('frozen') ?? false;
    if (reason === undefined) delete this.#s.fleetHold;
    else this.#s.fleetHold = reason;
    if (frozen && !wasFrozen) this.#record(now, { kind: 'freeze-held', by: 'fleet control', detail: reason });
    if (wasFrozen && !frozen) {
      this.#record(now, { kind: 'freeze-lifted', by: 'fleet control', detail: 'starts granted again' });
    }
  }

  /**
   * The fleet control lifted a freeze or changed the pace, or one was set up (`freeze add`): the
   * window looks again, and a campaign with upgrades in flight asks even with nothing to start.
   */
  onFleetControlChanged(freezeHold: boolean): void {
    delete this.#s.fleetControlAbsent;
    if (freezeHold) {
      this.#s.freezeHold = true;
      this.#s.fleetControlAskDue = true;
    }
    this.#changes++;
  }

  /** An ask went out: its answer covers whatever fleetControlChanged announced before it. */
  markFleetControlAsked(): void {
    delete this.#s.fleetControlAskDue;
  }

  /** The freeze the campaign honours now (set only by runs with patch freeze-hold-in-flight). */
  get freeze(): HeldByFreeze | undefined {
    return this.#s.freeze;
  }

  /**
   * Records what the fleet control said about freezes: the one in force (its in-flight upgrades
   * are then held by {@link takePendingSignals}) or none, and when the next one begins.
   */
  setFreeze(frozen: HeldByFreeze | undefined, nextFreezeAtMs: number | undefined): void {
    this.#s.freezeHold = true;
    if (frozen) this.#s.freeze = { id: frozen.id, reason: frozen.reason, untilMs: frozen.untilMs, text: frozen.text };
    else delete this.#s.freeze;
    if (nextFreezeAtMs !== undefined && !frozen) this.#s.nextFreezeAtMs = nextFreezeAtMs;
    else delete this.#s.nextFreezeAtMs;
  }

  /**
   * Upgrades a freeze would hold: in flight, not rolling back. A rollback (of this wave after a
   * failure, or of a promoted wave) runs to its end inside a freeze: leaving a cluster half rolled
   * back is the riskier state.
   */
  #holdable(c: ClusterRecord): boolean {
    return c.state === 'upgrading' && c.runId !== undefined && !c.rollback;
  }

  /**
   * Whether a campaign with nothing to start should ask the fleet control now: with upgrades in
   * flight that a freeze would hold, when something may have changed (a fleetControlChanged since
   * the last ask, or the start of the next freeze); while a freeze holds the campaign, when it ends
   * or fleetControlChanged says it may have been lifted. Never while no fleet control runs.
   */
  freezeCheckDue(now: number): boolean {
    const s = this.#s;
    if (!s.freezeHold || s.fleetControlAbsent) return false;
    // A freeze recorded is looked at once more when it ends or changes, in flight or not, so the
    // campaign never shows a freeze that is over.
    if (s.freeze) return s.fleetControlAskDue === true || now >= s.freeze.untilMs;
    if (!s.clusters.some((c) => this.#holdable(c))) return false;
    if (s.fleetControlAskDue) return true;
    return s.nextFreezeAtMs !== undefined && now >= s.nextFreezeAtMs;
  }

  /** Children told to hold that are no longer to be held (after a resume, or the end of a freeze). */
  resumesPending(): boolean {
    const s = this.#s;
    if (s.aborting || (s.paused && s.pauseKind === 'operator')) return false;
    return s.clusters.some(
      (c) => c.childPaused === true && c.state === 'upgrading' && c.runId !== undefined && !c.rollback?.afterPromotion,
    );
  }

  /**
   * When the main loop should look at the fleet control again on its own, if later than `now`:
   * the end of the freeze in force, or the start of the next one while upgrades are in flight.
   */
  freezeWakeAt(now: number): number | undefined {
    const s = this.#s;
    const at = s.freeze ? s.freeze.untilMs : s.clusters.some((c) => this.#holdable(c)) ? s.nextFreezeAtMs : undefined;
    return at !== undefined && at > now ? at : undefined;
  }

  /** No fleet control runs: start rounds do not ask it until {@link onFleetControlChanged}. */
  markFleetControlAbsent(): void {
    this.#s.fleetControlAbsent = true;
  }

  /** Whether start rounds skip the fleet control (it did not run at the last ask). */
  get fleetControlAbsent(): boolean {
    return this.#s.fleetControlAbsent === true;
  }

  /** A cluster whose leases are granted still waits: the fleet control refused its start for now. */
  holdReserved(cluster: string, reason: string): void {
    const c = this.#cluster(cluster);
    c.waitingFor = reason;
  }

  /** Keeps the rate limit's bucket after a pick took tokens from it. */
  updateRateLimit(bucket: TokenBucket | undefined): void {
    this.#s.bucket = bucket;
  }

  /** A picked-over cluster waits: for a free slot (an ordinary queue position), or for what `wait` names. */
  markQueued(cluster: string, wait: QueuedWait): void {
    const c = this.#cluster(cluster);
    c.state = wait.kind === 'slots' ? 'pending' : 'waiting';
    c.waitingFor = wait.kind === 'slots' ? undefined : wait.reason;
  }

  /** A picked cluster holds its slot while it waits for its fleet-wide leases. */
  reserveForLeases(cluster: string, leaseIds: readonly string[]): void {
    const c = this.#cluster(cluster);
    c.reserved = true;
    c.state = 'waiting';
    c.leases = Object.fromEntries(leaseIds.map((id) => [id, 'requested' as const]));
    c.waitingFor = `fleet-wide lease ${leaseIds.join(', ')}`;
  }

  /** A lease request failed: the cluster goes back to the queue and withdraws the leases it asked for. */
  leaseRequestFailed(cluster: string, leaseId: string, error: string): void {
    const c = this.#cluster(cluster);
    if (!c.reserved) return;
    this.#giveBackLeases(c);
    c.state = 'waiting';
    c.waitingFor = `lease request for ${leaseId} failed: ${error}`;
  }

  /** A lease holder granted `key` to `cluster`. A grant nobody waits for any more is returned at once. */
  onLeaseGranted(cluster: string, key: string): void {
    const c = this.#clusters.get(cluster);
    if (c?.leases && c.leases[key] === 'requested') {
      c.leases[key] = 'granted';
    } else if (c) {
      c.releasePending = [...(c.releasePending ?? []), key];
    }
    this.#changes++;
  }

  /** Moves a cluster's leases to the release list (the main loop signals the lease holders). */
  #giveBackLeases(c: ClusterRecord): void {
    if (c.leases) {
      const keys = Object.keys(c.leases);
      if (keys.length > 0) c.releasePending = [...(c.releasePending ?? []), ...keys];
    }
    c.leases = undefined;
    c.reserved = undefined;
    this.#changes++;
  }

  // -------------------------------------------------------------------------------------
  // Children

  /** The workflow is about to start the cluster's child (in window `waveName`); returns the attempt it runs. */
  markClusterStarted(cluster: string, waveName: string, now: number): number {
    const c = this.#cluster(cluster);
    c.state = 'upgrading';
    c.reserved = undefined;
    c.waitingFor = undefined;
    c.starts += 1;
    c.startedAt = iso(now);
    c.endedAt = undefined;
    c.reason = undefined;
    c.step = 'starting';
    this.#record(now, { kind: 'cluster-started', cluster: c.name, wave: waveName, detail: `attempt ${c.attempt}` });
    return c.attempt;
  }

  /** The child of `attempt` started as run `runId` (kept so pause/abort signals reach exactly that run). */
  childRunStarted(cluster: string, attempt: number, runId: string): void {
    const c = this.#cluster(cluster);
    if (c.state === 'upgrading' && c.attempt === attempt) c.runId = runId;
  }

  /**
   * The child of `attempt` could not be started: `blocked` when another workflow upgrades the
   * cluster (nothing was done to it), else failed. It never started, so it is not counted as an attempt.
   */
  markStartFailed(
    cluster: string,
    attempt: number,
    outcome: 'blocked' | 'failed',
    reason: string,
    waveName: string,
    now: number,
  ): void {
    const c = this.#cluster(cluster);
    if (c.state !== 'upgrading' || c.attempt !== attempt) return;
    c.state = outcome;
    c.reason = reason;
    c.rollback = undefined;
    c.undo = undefined;
    c.starts -= 1;
    c.step = undefined;
    c.endedAt = iso(now);
    this.#giveBackLeases(c);
    this.#record(now, { kind: 'cluster-finished', cluster: c.name, wave: waveName, detail: `${c.state}: ${c.reason}` });
  }

  /**
   * A child finished (its signal, or its handle's result in the run that started it; whichever
   * comes first wins, the other is ignored). Returns true when the report was applied.
   */
  onFinished(f: ClusterFinished, now: number): boolean {
    const c = f && this.#clusters.get(f.cluster);
    if (!c || c.state !== 'upgrading' || f.attempt !== c.attempt || !f.result) return false;
    const { result } = f;
    switch (result.outcome) {
      case 'upgraded':
      case 'already-at-target':
      case 'rolled-back':
      case 'failed':
      case 'blocked':
        c.state = result.outcome;
        break;
      case 'aborted':
        // The child stopped at a safe point on our abort: it did not finish, so it is not upgraded.
        c.state = 'failed';
        break;
      default:
        c.state = 'failed';
    }
    c.reason = result.outcome === 'aborted' ? `aborted${result.reason ? `: ${result.reason}` : ''}` : result.reason;
    const last = result.steps?.[result.steps.length - 1];
    if (last) c.step = last.step;
    c.endedAt = iso(now);
    c.runId = undefined;
    c.childPaused = undefined;
    c.childAborted = undefined;
    c.rollback = undefined;
    // Only a soak that watches can need it (a rollback after the fact): otherwise carry nothing.
    c.undo =
      c.state === 'upgraded' &&
      result.undo &&
      result.undo.length > 0 &&
      (this.#hasSoakGates() || this.#undoesPromoted())
        ? result.undo
        : undefined;
    this.#giveBackLeases(c);
    const wave = this.#s.waves[c.window];
    if (wave) for (const gate of result.gates ?? []) this.#keepGate(wave, { ...gate, cluster: c.name });
    this.#record(now, {
      kind: 'cluster-finished',
      cluster: c.name,
      wave: wave?.name,
      detail: `${c.state}${c.reason ? `: ${c.reason}` : ''}`,
    });
    this.#changes++;
    return true;
  }

  /**
   * The lease releases and child pause/resume/abort signals the state asks for, in cluster
   * order; each is marked sent, so it is handed out once. Children are held (paused) while the
   * operator paused the campaign or a freeze is in force; a freeze holds no rollback. Holding and
   * resuming for a freeze is audited once per change, with the count.
   */
  takePendingSignals(now: number): PendingSignal[] {
    const out: PendingSignal[] = [];
    const operatorHold = this.#s.paused && this.#s.pauseKind === 'operator';
    const freeze = this.#s.freeze;
    let heldForFreeze = 0;
    let resumed = 0;
    for (const c of this.#s.clusters) {
      if (c.releasePending) {
        for (const leaseId of c.releasePending) out.push({ kind: 'release-lease', cluster: c.name, leaseId });
        c.releasePending = undefined;
      }
      if (c.state !== 'upgrading' || !c.runId) continue;
      // A promoted wave's rollback runs to its end whatever the campaign does: nothing to tell it.
      if (c.rollback?.afterPromotion) continue;
      if (this.#s.aborting) {
        if (!c.childAborted) {
          c.childAborted = true;
          out.push({ kind: 'abort-child', cluster: c.name, runId: c.runId });
        }
        continue;
      }
      const hold = operatorHold || (freeze !== undefined && !c.rollback);
      if (hold && !c.childPaused) {
        c.childPaused = true;
        if (!operatorHold) heldForFreeze++;
        out.push({ kind: 'pause-child', cluster: c.name, runId: c.runId });
      } else if (!hold && c.childPaused) {
        c.childPaused = false;
        resumed++;
        out.push({ kind: 'resume-child', cluster: c.name, runId: c.runId });
      }
    }
    if (heldForFreeze > 0 && freeze) {
      this.#s.freezeHeldChildren = (this.#s.freezeHeldChildren ?? 0) + heldForFreeze;
      this.#record(now, {
        kind: 'freeze-hold-children',
        by: 'fleet control',
        detail: `${heldForFreeze} in-flight upgrade(s) hold at their next safe point (freeze ${freeze.id}): ${freeze.text}`,
      });
    }
    if (resumed > 0 && this.#s.freezeHeldChildren) {
      delete this.#s.freezeHeldChildren;
      this.#record(now, {
        kind: 'freeze-hold-children',
        by: 'fleet control',
        detail: `${resumed} held upgrade(s) resumed`,
      });
    } else if (!freeze && !operatorHold) {
      // Those held ended meanwhile (a pause that came after a child's last safe point lets it end).
      delete this.#s.freezeHeldChildren;
    }
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Soak

  /** Promoted waves still watched at `now` (spec.watchAfterPromotion), by index. */
  watchedWaves(now: number): number[] {
    return this.#s.waves.filter((w) => w.watchUntil !== undefined && w.watchUntil > now).map((w) => w.index);
  }

  /** The watch after promotion of wave `index` ended without a failure. */
  endWatch(index: number): void {
    const wave = this.#wave(index);
    wave.watchUntil = undefined;
    // After a failure the record stays: it is what the proposed rollback undoes.
    if (!this.#undoesPromoted() && wave.watchFailure === undefined) this.#dropUndo(index);
    this.#changes++;
  }

  /** spec.rollback.afterPromotion is set: what a promoted wave's clusters changed is kept to the end. */
  #undoesPromoted(): boolean {
    return this.spec.rollback.afterPromotion !== undefined;
  }

  #dropUndo(index: number): void {
    for (const c of this.#s.clusters) if (c.window === index && !c.rollback) c.undo = undefined;
  }

  /**
   * A gate failed on a promoted wave during its watch: the campaign pauses (the next waves' upgrades
   * hold, as at an operator's pause) and the audit trail records the rollback it proposes, which
   * the operator starts with `fleetwave rollback --wave`. With spec.rollback.afterPromotion.mode
   * `auto` (an explicit opt-in) a Failed gate also starts it at once, by the same rules.
   */
  promotedWaveDegraded(index: number, cluster: string, result: GateResult, now: number): void {
    const wave = this.#wave(index);
    if (wave.watchUntil === undefined) return;
    this.#keepGate(wave, clusterGate(cluster, result));
    wave.watchUntil = undefined;
    const auto = result.outcome === 'Failed' && this.spec.rollback.afterPromotion?.mode === 'auto';
    const proposal =
      result.outcome !== 'Failed'
        ? 'the gate could not be read: check the metrics before resuming'
        : auto
          ? 'rolling the wave back (spec.rollback.afterPromotion.mode auto)'
          : `proposed: roll the wave back with \`fleetwave rollback ${this.name} --wave ${wave.name}\``;
    wave.watchFailure = `gate ${result.gate} on ${cluster} ${result.outcome} after promotion: ${result.message}; ${proposal}`;
    this.#record(now, { kind: 'soak-failed', wave: wave.name, cluster, detail: wave.watchFailure });
    this.pause('operator', `promoted wave "${wave.name}" degraded: ${wave.watchFailure}`, now, 'after-promotion watch');
    if (auto && !this.waveRollbackRefusal({ wave: wave.name, by: 'fleetwave' })) {
      this.requestWaveRollback(
        { wave: wave.name, by: 'fleetwave', reason: `gate ${result.gate} on ${cluster} failed after promotion` },
        now,
      );
    }
  }

  // -------------------------------------------------------------------------------------
  // Undoing a promoted wave (`fleetwave rollback NAME --wave W [--cluster C]`)

  /** Why a wave rollback must be refused, or undefined. Same rules for Update and Signal. */
  waveRollbackRefusal(input: RollbackWaveInput): string | undefined {
    if (!input || typeof input.wave !== 'string' || typeof input.by !== 'string' || !input.by.trim())
      return 'a rollback needs a wave and who asks (by)';
    if (this.#s.phase === 'done') return `campaign "${this.name}" has finished`;
    if (this.#s.aborting) return `campaign "${this.name}" is aborting`;
    const wave = this.#s.waves.find((w) => w.name === input.wave);
    if (!wave) return `campaign "${this.name}" has no wave "${input.wave}"`;
    if (wave.state !== 'promoted' && wave.state !== 'completed') {
      return `wave "${wave.name}" is ${wave.state}, not promoted: a failing gate during its soak already rolls its clusters back (spec.rollback.onGateFailure)`;
    }
    const candidates = this.#waveRollbackCandidates(wave.index, input.cluster);
    if (typeof candidates === 'string') return candidates;
    if (candidates.length === 0) return `wave "${wave.name}" has no upgraded cluster left to roll back`;
    return undefined;
  }

  /** The upgraded clusters of window `index` (or the one named) a wave rollback would take. */
  #waveRollbackCandidates(index: number, cluster: string | undefined): ClusterRecord[] | string {
    const inWave = this.#s.clusters.filter((c) => c.window === index);
    if (cluster === undefined) return inWave.filter((c) => c.state === 'upgraded' && !c.rollback);
    const c = inWave.find((x) => x.name === cluster);
    if (!c) return `cluster "${cluster}" did not run in wave "${this.#wave(index).name}"`;
    if (c.rollback) return `cluster "${cluster}" is already rolling back`;
    if (c.state !== 'upgraded') return `cluster "${cluster}" is ${c.state}; only upgraded clusters can be rolled back`;
    return [c];
  }

  /**
   * Requests the rollback-only runs of a promoted wave's upgraded clusters (or of one), after
   * {@link waveRollbackRefusal} said yes. Each undoes what its upgrade recorded (node groups and
   * add-ons, as the rollback rules allow) and, where spec.rollback.afterPromotion.controlPlane
   * opts in, the last control-plane hop by VersionRollback, which EKS itself refuses outside its
   * window or while rollback-readiness insights fail. A cluster with nothing to undo is reported,
   * not started. The workflow starts the requested runs at once (campaign.ts).
   */
  requestWaveRollback(input: RollbackWaveInput, now: number, proof?: ActionProof): RollbackWaveResult {
    const wave = this.#s.waves.find((w) => w.name === input.wave) as WaveRecord;
    const candidates = this.#waveRollbackCandidates(wave.index, input.cluster) as ClusterRecord[];
    const withControlPlane = this.spec.rollback.afterPromotion?.controlPlane === true;
    const reason = `rolled back with wave "${wave.name}" by ${input.by}${input.reason ? `: ${input.reason}` : ''}`;
    const clusters: WaveRollbackPlan[] = [];
    for (const c of candidates) {
      const hop = withControlPlane ? this.#lastHop(c) : undefined;
      const goesBack: string[] = [];
      const stays: string[] = [];
      // The answer promises only what EKS can do: a node group whose AMI EKS picks cannot go back
      // (domain/node-models.ts), so it is said to stay, as the rollback-only run will keep it.
      for (const e of [...(c.undo ?? [])].reverse()) {
        const rule =
          e.kind === 'nodegroup'
            ? nodegroupReversibility({
                amiType: e.plan.previous.amiType,
                launchTemplate: e.plan.previous.launchTemplate,
              })
            : undefined;
        if (e.kind === 'nodegroup' && rule && !rule.reversible)
          stays.push(`node group ${e.plan.previous.name} stays at ${e.plan.minor}: ${rule.why}`);
        else goesBack.push(e.step);
      }
      if (hop) goesBack.push(`control-plane ${hop.to} → ${hop.from} (VersionRollback, if EKS allows it now)`);
      else if (this.#lastHop(c))
        stays.push(`control plane stays at ${this.#lastHop(c)?.to}: spec.rollback.afterPromotion.controlPlane is off`);
      if (!c.undo || c.undo.length === 0)
        stays.push(
          'no node-group or add-on change of its upgrade is recorded to undo (EKS picks the AMI, or the record was dropped)',
        );
      // Started as before the answer named what stays: the run reports what EKS kept.
      const started = (c.undo?.length ?? 0) > 0 || hop !== undefined;
      if (started) {
        // The control plane's fate is said up front; the run adds what else stays.
        const why = stays.find((x) => x.startsWith('control plane'));
        c.rollback = {
          state: 'requested',
          reason: why ? `${reason}; ${why}` : reason,
          afterPromotion: true,
          ...(hop ? { controlPlane: hop } : {}),
        };
      }
      clusters.push({ cluster: c.name, started, goesBack, stays });
    }
    this.#record(now, {
      kind: 'rollback-requested',
      by: input.by,
      wave: wave.name,
      ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
      detail: bounded(
        clusters
          .map((p) => `${p.cluster}: ${p.started ? `undo ${p.goesBack.join(', ')}` : 'nothing to undo'}`)
          .join('; ') + (input.reason ? `; ${input.reason}` : ''),
        1000,
      ),
      ...proof,
    });
    this.#changes++;
    return { wave: wave.name, clusters };
  }

  /** The cluster's last control-plane hop of this campaign, when it moved a minor. */
  #lastHop(c: ClusterRecord): { from: string; to: string } | undefined {
    const target = this.spec.target.kubernetesVersion;
    const from = toMinor(this.member(c.name).version);
    const to = target ? toMinor(target) : undefined;
    if (!to || !from || compareMinor(to, from) <= 0) return undefined;
    const parsed = parseMinor(to) as { major: number; minor: number };
    return { from: `${parsed.major}.${parsed.minor - 1}`, to };
  }

  /** Clusters of promoted waves whose rollback-only run is to start. */
  promotedRollbacksRequested(): ClusterView[] {
    return this.#s.clusters.filter((c) => c.rollback?.state === 'requested' && c.rollback.afterPromotion);
  }

  /** True while a promoted wave's rollback is requested or runs: the campaign does not end before. */
  promotedRollbacksPending(): boolean {
    return this.#s.clusters.some((c) => c.rollback?.afterPromotion);
  }

  /**
   * The watch after promotion could not read a gate (no data, query errors): that proves nothing
   * about the promoted clusters, so the campaign goes on and status says what the watch missed
   * (recorded once in the audit trail per run of unreadable looks, so an outage does not flood it).
   */
  promotedWaveUnread(index: number, cluster: string, result: GateResult, now: number): void {
    const wave = this.#wave(index);
    if (wave.watchUntil === undefined) return;
    const first = wave.watchWarning === undefined;
    wave.watchWarning = `gate ${result.gate} on ${cluster} ${result.outcome} after promotion: ${result.message}; watching again`;
    if (first) this.#record(now, { kind: 'watch-unread', wave: wave.name, cluster, detail: wave.watchWarning });
    this.#changes++;
  }

  /**
   * True when one more approval would promote the current wave now: the approval that must find the
   * wave's gates green first (the approval re-check).
   */
  approvalWouldPromote(now: number): boolean {
    const wave = this.#s.waves[this.#s.currentWave];
    if (!wave) return false;
    const p = this.promotion(wave.index, now);
    if (!p.approvalRequired || this.#s.paused) return false;
    return approvalsInForce(wave.approvals, this.#approvalLifetimeMs(), now).length + 1 >= this.approvalsNeeded();
  }

  /** Starts the current wave's soak (once): its end time, a fresh gate cursor and verdict. */
  beginSoak(soakMs: number, now: number): void {
    const wave = this.#currentWave();
    if (wave.state === 'soaking') return;
    wave.state = 'soaking';
    wave.soakEndsAt = now + soakMs;
    wave.soakCursor = 0;
    wave.soakFailure = undefined;
  }

  /** Claims the next at most `max` of `total` soak evaluations of the current wave; returns their range. */
  claimSoakEvaluations(total: number, max: number): { from: number; to: number } {
    const wave = this.#currentWave();
    const from = wave.soakCursor ?? 0;
    const to = Math.min(total, from + max);
    wave.soakCursor = to;
    return { from, to };
  }

  /** Keeps a soak gate result; the first one that is not Successful is the wave's soak failure. */
  recordSoakResult(waveIndex: number, cluster: string, gateName: string, result: GateResult): void {
    const wave = this.#wave(waveIndex);
    this.#keepGate(wave, clusterGate(cluster, result));
    if (result.outcome !== 'Successful' && !wave.soakFailure) {
      // No data, Inconclusive and Error block promotion just like Failed: never promote on doubt.
      wave.soakFailure = `gate ${gateName} on ${cluster} ${result.outcome}: ${result.message}`;
    }
  }

  /**
   * A watched soak gate (workflows/campaign.ts, patch soak-watch) decided a pair not Successful.
   * Failed: the metric says the upgraded cluster is bad, so it goes through the wave's policy: a
   * rollback-only child undoes its node groups and add-ons where spec.rollback.onGateFailure
   * allows and there is something to undo, else the cluster is failed; either way it counts
   * against the failure budget. Inconclusive or Error (no data, query errors) say nothing about
   * the cluster: the wave's soak fails and the campaign pauses before approval, as before.
   */
  soakGateFailed(waveIndex: number, cluster: string, result: GateResult, now: number): void {
    const wave = this.#wave(waveIndex);
    this.#keepGate(wave, clusterGate(cluster, result));
    const c = this.#clusters.get(cluster);
    if (result.outcome !== 'Failed' || !c) {
      wave.soakFailure ??= `gate ${result.gate} on ${cluster} ${result.outcome}: ${result.message}`;
      return;
    }
    if (c.state !== 'upgraded' || c.rollback) return;
    const why = `soak gate ${result.gate} failed after the upgrade: ${result.message}`;
    this.#record(now, { kind: 'soak-failed', wave: wave.name, cluster, detail: why });
    if (this.spec.rollback.onGateFailure && c.undo && c.undo.length > 0) {
      c.rollback = { state: 'requested', reason: why };
    } else {
      c.state = 'failed';
      c.reason = this.spec.rollback.onGateFailure
        ? `${why}; nothing the campaign can roll back after the upgrade (the control plane goes back only by EKS VersionRollback, \`fleetwave rollback\`)`
        : `${why}; automatic rollback is off (spec.rollback.onGateFailure)`;
      c.undo = undefined;
      c.endedAt = iso(now);
    }
    this.#changes++;
  }

  /** Upgraded clusters of window `index` whose rollback-only child is to start. */
  rollbacksRequested(index: number): ClusterView[] {
    return this.#s.clusters.filter((c) => c.window === index && c.rollback?.state === 'requested');
  }

  /** True while a rollback of window `index` is requested or running: the soak does not end before. */
  rollbacksPending(index: number): boolean {
    return this.#s.clusters.some((c) => c.window === index && c.rollback !== undefined);
  }

  /**
   * The workflow is about to start the cluster's rollback-only child; returns the attempt it runs
   * (the upgrade's: the rollback's idempotency tokens name their own steps) and what it undoes.
   */
  markRollbackStarted(
    cluster: string,
    waveName: string,
    now: number,
  ): { attempt: number; reason: string; undo: Reversible[]; controlPlane?: { from: string; to: string } } {
    const c = this.#cluster(cluster);
    const rollback = c.rollback ?? { state: 'requested', reason: 'soak gate failed' };
    c.rollback = { ...rollback, state: 'running' };
    c.state = 'upgrading';
    c.starts += 1;
    c.step = rollback.afterPromotion ? 'rollback after promotion' : 'rollback after soak';
    c.endedAt = undefined;
    this.#record(now, {
      kind: 'cluster-started',
      cluster: c.name,
      wave: waveName,
      detail: `attempt ${c.attempt}: ${rollback.afterPromotion ? 'rollback of a promoted wave' : 'rollback after a failed soak gate'}`,
    });
    return {
      attempt: c.attempt,
      reason: rollback.reason,
      undo: [...(c.undo ?? [])],
      ...(rollback.controlPlane ? { controlPlane: rollback.controlPlane } : {}),
    };
  }

  /** True when the campaign has soak-phase gates. */
  #hasSoakGates(): boolean {
    return this.spec.healthGates.some((g) => g.phases.includes('soak'));
  }

  /** The soak evaluations stopped (all done, or stopped for continue-as-new or abort): wake the main loop. */
  soakEvaluationsSettled(): void {
    this.#changes++;
  }

  /** A retry during the last wave's soak re-opens its window; the soak starts over after it. */
  reopenWindow(): void {
    const wave = this.#currentWave();
    wave.state = 'running';
    wave.soakEndsAt = undefined;
    wave.soakCursor = undefined;
    this.#setPhase('window');
  }

  /** The soak is over: a failed soak gate pauses the campaign before the approval step. */
  endSoak(now: number): void {
    const wave = this.#currentWave();
    if (wave.soakFailure) {
      this.#record(now, { kind: 'soak-failed', wave: wave.name, detail: wave.soakFailure });
      this.pause(
        'soak-gate',
        `wave "${wave.name}" soak failed: ${wave.soakFailure}; resume to go on to approval`,
        now,
        'soak gates',
      );
    }
    this.#setPhase('approval');
  }

  /** Keeps the last result per cluster/gate, evicting successful results first beyond {@link GATES_KEPT_PER_WAVE}. */
  #keepGate(wave: WaveRecord, result: ClusterGateResult): void {
    const i = wave.gates.findIndex((g) => g.cluster === result.cluster && g.gate === result.gate);
    if (i >= 0) wave.gates.splice(i, 1);
    wave.gates.push(trimGate(result));
    while (wave.gates.length > GATES_KEPT_PER_WAVE) {
      const ok = wave.gates.findIndex((g) => g.outcome === 'Successful');
      wave.gates.splice(ok >= 0 ? ok : 0, 1);
      wave.gatesDropped++;
    }
    this.#changes++;
  }

  // -------------------------------------------------------------------------------------
  // Approval and promotion

  /**
   * The promotion rule (promotion.ts) applied to wave `index`. With `now` (workflow time), only
   * the approvals still in force count; without it, every approval the wave has.
   */
  promotion(index: number = this.#s.currentWave, now?: number): Promotion {
    const wave = this.#s.waves[index];
    return decidePromotion({
      lastWave: index >= this.#s.waves.length - 1,
      approval: effectiveApproval(this.spec, index),
      approvals: approvalsInForce(wave?.approvals ?? [], this.#approvalLifetimeMs(), now).length,
      approvalsNeeded: this.approvalsNeeded(),
      paused: this.#s.paused,
      soakFailed: wave?.soakFailure !== undefined,
    });
  }

  /** spec.approvers.expiresAfter in ms, or undefined when approvals do not expire. */
  #approvalLifetimeMs(): number | undefined {
    const after = this.spec.approvers.expiresAfter;
    return after === undefined ? undefined : durationToMs(after);
  }

  /**
   * Drops the current wave's approvals that expired by `now` (spec.approvers.expiresAfter), each
   * with an `approval-expired` audit entry, so status lists only approvals that count and the
   * approver may approve again. Returns when the next one expires (workflow ms), if any does.
   */
  expireApprovals(now: number): number | undefined {
    const lifetime = this.#approvalLifetimeMs();
    const wave = this.#s.waves[this.#s.currentWave];
    if (lifetime === undefined || !wave || wave.approvals.length === 0) return undefined;
    const kept = approvalsInForce(wave.approvals, lifetime, now);
    if (kept.length < wave.approvals.length) {
      for (const a of wave.approvals) {
        if (kept.includes(a)) continue;
        this.#record(now, {
          kind: 'approval-expired',
          by: a.approver,
          wave: wave.name,
          detail: `approval of ${a.at} expired after ${this.spec.approvers.expiresAfter}`,
        });
      }
      wave.approvals = kept;
      this.#changes++;
    }
    return kept.length > 0 ? Math.min(...kept.map((a) => Date.parse(a.at) + lifetime)) : undefined;
  }

  /** The last wave needs no approval: it completes, and so does the campaign. */
  completeLastWave(now: number): void {
    const wave = this.#currentWave();
    wave.state = 'completed';
    this.#record(now, { kind: 'wave-completed', wave: wave.name, detail: 'last wave' });
    this.#setPhase('done');
  }

  /** The current wave waits for its approvals (once). */
  awaitApproval(now: number): void {
    const wave = this.#currentWave();
    if (wave.state === 'awaiting-approval') return;
    wave.state = 'awaiting-approval';
    this.#record(now, {
      kind: 'wave-completed',
      wave: wave.name,
      detail: `awaiting ${this.approvalsNeeded()} approval(s)`,
    });
    this.#changes++;
  }

  /**
   * Promotes the current wave and opens the next wave's window. With `watchMs` (spec.watchAfterPromotion),
   * its clusters stay watched until then, and what a rollback would undo is kept as long.
   */
  promote(now: number, watchMs = 0): void {
    const wave = this.#currentWave();
    wave.state = 'promoted';
    if (watchMs > 0) wave.watchUntil = now + watchMs;
    // Kept while the wave is watched (a failure proposes undoing it) or when the spec undoes promoted waves.
    if (watchMs <= 0 && !this.#undoesPromoted()) this.#dropUndo(wave.index);
    const next = this.#s.waves[wave.index + 1];
    this.#record(now, {
      kind: 'promoted',
      wave: wave.name,
      detail: `${this.promotion(wave.index).approvalRequired ? `approved by ${wave.approvals.map((a) => a.approver).join(', ')}` : 'automatic'}; next: ${next?.name ?? 'none'}`,
    });
    this.#advance();
  }

  /**
   * Why an approval must be refused, or undefined when it is acceptable. Same rules for Update and
   * Signal. `groups` are the fleet policy's groups of the verified approver: with
   * spec.approvers.groups, a member of one of them may approve besides the listed users.
   */
  approvalRefusal(input: ApproveInput, groups: readonly string[] = []): string | undefined {
    if (!input || typeof input.wave !== 'string' || typeof input.approver !== 'string' || !input.approver.trim()) {
      return 'an approval needs a wave and an approver';
    }
    const wave = this.currentWave;
    if (this.#s.phase !== 'approval' || !wave || wave.state !== 'awaiting-approval') {
      const state = this.campaignState();
      return `campaign "${this.name}" is not awaiting approval (state: ${state}${wave ? `, wave "${wave.name}"` : ''})`;
    }
    if (input.wave !== wave.name) {
      return `wave "${input.wave}" is not awaiting approval; wave "${wave.name}" is`;
    }
    const users = this.spec.approvers.users;
    const allowedGroups = this.spec.approvers.groups ?? [];
    const listed = users.includes(input.approver) || groups.some((g) => allowedGroups.includes(g));
    if ((users.length > 0 || allowedGroups.length > 0) && !listed) {
      const who =
        allowedGroups.length > 0
          ? `${users.join(', ') || 'no users'}; groups: ${allowedGroups.join(', ')}`
          : users.join(', ');
      return `"${input.approver}" is not an approver of campaign "${this.name}" (approvers: ${who})`;
    }
    if (wave.approvals.some((a) => a.approver === input.approver)) {
      return `"${input.approver}" already approved wave "${wave.name}"`;
    }
    return undefined;
  }

  /** Distinct approvals a wave that requires approval needs. */
  approvalsNeeded(): number {
    return this.spec.approvers.minApprovals;
  }

  /** Records an accepted approval; call only after {@link approvalRefusal} said yes. */
  applyApproval(
    input: ApproveInput,
    via: Approval['via'],
    now: number,
    proof?: ActionProof,
  ): { approvals: number; needed: number; promoted: boolean } {
    const wave = this.#currentWave();
    const approval: Approval = { wave: wave.name, approver: input.approver, at: iso(now), via };
    if (input.comment) approval.comment = input.comment.slice(0, 1000);
    if (proof) {
      approval.signed = proof.signed;
      if (proof.fingerprint) approval.fingerprint = proof.fingerprint;
    }
    const lifetime = this.#approvalLifetimeMs();
    if (lifetime !== undefined) approval.expiresAt = iso(now + lifetime);
    wave.approvals.push(approval);
    const needed = this.approvalsNeeded();
    this.#record(now, {
      kind: 'approval',
      by: input.approver,
      wave: wave.name,
      detail: `${wave.approvals.length}/${needed} via ${via}${approval.comment ? `: ${approval.comment}` : ''}`,
      ...proof,
    });
    this.#changes++;
    const approvals = approvalsInForce(wave.approvals, lifetime, now).length;
    return { approvals, needed, promoted: this.promotion(wave.index, now).approved };
  }

  /**
   * Records a refused approval: every refusal of a Signal, and, for campaigns with signed actions,
   * every refusal of an Update that passed its validator (the caller also gets the reason). The
   * strings recorded are bounded, whatever the request carried.
   */
  recordRefusedApproval(input: ApproveInput, reason: string, now: number, proof?: ActionProof): void {
    this.#record(now, {
      kind: 'approval-refused',
      by: typeof input?.approver === 'string' ? bounded(input.approver, 128) : undefined,
      wave: typeof input?.wave === 'string' ? bounded(input.wave, 253) : undefined,
      detail: bounded(reason, 1000),
      ...proof,
    });
    this.#changes++;
  }

  /** Records a refused operator action (pause, resume, abort, skip, retry), with why. */
  recordRefusedAction(
    action: SignedActionKind,
    input: Partial<ClusterActionInput> | undefined,
    reason: string,
    now: number,
    proof?: ActionProof,
  ): void {
    this.#record(now, {
      kind: 'action-refused',
      by: typeof input?.by === 'string' ? bounded(input.by, 128) : undefined,
      wave: this.currentWave?.name,
      cluster: typeof input?.cluster === 'string' ? bounded(input.cluster, 253) : undefined,
      detail: bounded(`${action} refused: ${reason}`, 1000),
      ...proof,
    });
    this.#changes++;
  }

  /** The worker's fleet approval policy as its latest answer described it. */
  noteApprovalPolicy(policy: PolicySummary): void {
    this.#s.approvalPolicy = { mode: policy.mode, signedActions: [...policy.signedActions] };
  }

  /** True when the signed claim identified by `key` was already used. */
  claimUsed(key: string): boolean {
    return (this.#s.usedClaims ?? []).some((c) => c.key === key);
  }

  /**
   * Why a signed claim cannot be remembered as used now, or undefined. Claims are kept until they
   * expire; at most {@link USED_CLAIMS_KEPT} at once, beyond which new signed actions are refused
   * (only holders of policy keys can fill the list).
   */
  claimRefusal(key: string, now: number): string | undefined {
    if (this.claimUsed(key)) return 'this signed claim was already used; sign a new one';
    const live = (this.#s.usedClaims ?? []).filter((c) => c.expiresAt > now);
    if (live.length >= USED_CLAIMS_KEPT) {
      return `${USED_CLAIMS_KEPT} signed claims are still valid; sign claims with a shorter expiry or wait until ${iso(Math.min(...live.map((c) => c.expiresAt)))}`;
    }
    return undefined;
  }

  /** Remembers a signed claim as used until it expires (and forgets the expired ones). */
  markClaimUsed(key: string, expiresAt: number, now: number): void {
    const live = (this.#s.usedClaims ?? []).filter((c) => c.expiresAt > now);
    live.push({ key, expiresAt });
    this.#s.usedClaims = live;
  }

  // -------------------------------------------------------------------------------------
  // Pause, resume, abort

  /** Pauses the campaign: no new cluster starts; in-flight children are told to hold after their step (operator pause only). */
  pause(kind: PauseKind, reason: string, now: number, by?: string, proof?: ActionProof): void {
    const s = this.#s;
    if (s.aborting || s.phase === 'done') return;
    if (s.paused) {
      // Already paused: keep every reason in view (one resume answers them all). An operator
      // pause on top of an automatic one makes children hold too.
      if (kind === 'operator') s.pauseKind = 'operator';
      if (s.pausedReason?.includes(reason)) {
        this.#changes++;
        return;
      }
      s.pausedReason = s.pausedReason ? `${s.pausedReason}; ${reason}` : reason;
    } else {
      s.paused = true;
      s.pauseKind = kind;
      s.pausedReason = reason;
    }
    this.#record(now, {
      kind: kind === 'budget' ? 'budget-exceeded' : 'paused',
      by,
      wave: this.currentWave?.name,
      detail: reason,
      ...proof,
    });
    this.#changes++;
  }

  /**
   * Resumes. A resume while the failure budget is exceeded acknowledges the failures so far:
   * the wave pauses again only when a further cluster fails. After a failed soak gate the
   * human's resume is the decision to go on to the approval step.
   */
  resume(input: OperatorInput, now: number, proof?: ActionProof): void {
    const s = this.#s;
    if (!s.paused) return;
    const wave = s.waves[s.currentWave];
    if (wave && this.budgetExceeded(wave.index)) wave.acknowledgedFailures = this.windowFailures(wave.index);
    if (wave?.state === 'paused-budget-exceeded') wave.state = 'running';
    if (wave) wave.soakFailure = undefined;
    s.paused = false;
    s.pauseKind = undefined;
    s.pausedReason = undefined;
    this.#record(now, { kind: 'resumed', by: input?.by, wave: wave?.name, detail: input?.reason, ...proof });
    this.#changes++;
  }

  /**
   * Why an operator's pause, resume or abort would change nothing, or undefined. Campaigns with
   * signed actions record such a request as refused; older runs ignore it silently.
   */
  operatorRefusal(action: 'pause' | 'resume' | 'abort'): string | undefined {
    const s = this.#s;
    if (s.phase === 'done') return `campaign "${this.name}" has finished`;
    if (s.aborting) return `campaign "${this.name}" is aborting`;
    if (action === 'resume' && !s.paused) return `campaign "${this.name}" is not paused`;
    return undefined;
  }

  /** Aborts: no new clusters; in-flight children are told to stop at their next safe point. */
  abort(input: OperatorInput, now: number, proof?: ActionProof): void {
    const s = this.#s;
    if (s.aborting || s.phase === 'done') return;
    s.aborting = true;
    s.abortedReason = input?.reason ?? (input?.by ? `aborted by ${input.by}` : 'aborted');
    this.#record(now, {
      kind: 'aborted',
      by: input?.by,
      wave: this.currentWave?.name,
      detail: s.abortedReason,
      ...proof,
    });
    for (const c of s.clusters) {
      if (c.reserved || c.leases) this.#giveBackLeases(c);
      if (c.state === 'waiting') {
        c.state = 'pending';
        c.waitingFor = undefined;
      }
    }
    this.#changes++;
  }

  /** The abort reached the main loop: the current wave is marked aborted (once). */
  markWaveAborted(): void {
    const wave = this.#s.waves[this.#s.currentWave];
    if (!wave || wave.state === 'aborted') return;
    wave.state = 'aborted';
    this.#changes++;
  }

  // -------------------------------------------------------------------------------------
  // Skip and retry

  /** Why skip-cluster must be refused, or undefined. */
  skipRefusal(input: ClusterActionInput): string | undefined {
    const c = this.#clusterFor(input);
    if (typeof c === 'string') return c;
    if (c.state === 'upgrading')
      return `cluster "${c.name}" is upgrading now; only pending, waiting, failed, rolled-back or blocked clusters can be skipped`;
    if (!SKIPPABLE.has(c.state))
      return `cluster "${c.name}" is ${c.state}; only pending, waiting, failed, rolled-back or blocked clusters can be skipped`;
    return undefined;
  }

  /**
   * Marks a cluster skipped; a skipped failure does not count against its wave's budget. Call
   * only after {@link skipRefusal} said yes.
   */
  applySkip(input: ClusterActionInput, now: number, proof?: ActionProof): ClusterStatus {
    const c = this.#cluster(input.cluster);
    const was = c.state;
    this.#giveBackLeases(c);
    c.state = 'skipped';
    c.waitingFor = undefined;
    c.reason = input.reason ? `skipped by ${input.by}: ${input.reason}` : `skipped by ${input.by}`;
    if (!c.endedAt) c.endedAt = iso(now);
    this.#record(now, {
      kind: 'skipped',
      by: input.by,
      cluster: c.name,
      wave: this.#waveName(c.wave),
      detail: `was ${was}${input.reason ? `: ${input.reason}` : ''}`,
      ...proof,
    });
    this.#changes++;
    return this.clusterStatus(c);
  }

  /** Why retry-cluster must be refused, or undefined. */
  retryRefusal(input: ClusterActionInput): string | undefined {
    const c = this.#clusterFor(input);
    if (typeof c === 'string') return c;
    if (!RETRYABLE.has(c.state))
      return `cluster "${c.name}" is ${c.state}; only failed, rolled-back, blocked or skipped clusters can be retried`;
    if (!this.#s.pinned) return `campaign "${this.name}" has not resolved its versions yet`;
    return undefined;
  }

  /**
   * Puts a cluster back to pending with attempt + 1 and the campaign's pinned versions. It
   * runs in its own wave's window if that window is still open, else in the current wave's
   * window, else (the current wave is soaking or awaiting approval) in the next wave's; a retry
   * during the last wave's soak re-opens that wave's window after the soak. Call only after
   * {@link retryRefusal} said yes.
   */
  applyRetry(input: ClusterActionInput, now: number, proof?: ActionProof): ClusterStatus {
    const c = this.#cluster(input.cluster);
    const was = c.state;
    c.state = 'pending';
    c.attempt += 1;
    c.reason = undefined;
    c.step = undefined;
    c.waitingFor = undefined;
    c.startedAt = undefined;
    c.endedAt = undefined;
    c.window = this.#retryWindow(c);
    this.#record(now, {
      kind: 'retried',
      by: input.by,
      cluster: c.name,
      wave: this.#waveName(c.window),
      detail: `was ${was}; attempt ${c.attempt}${input.reason ? `: ${input.reason}` : ''}`,
      ...proof,
    });
    this.#changes++;
    return this.clusterStatus(c);
  }

  #retryWindow(c: ClusterRecord): number {
    const current = this.#s.currentWave;
    if (c.wave > current) return c.wave;
    if (c.wave === current && this.#s.phase === 'window') return c.wave;
    if (this.#s.phase === 'window' || this.#s.phase === 'planning') return current;
    const last = this.#s.waves.length - 1;
    return Math.min(current + 1, last);
  }

  #clusterFor(input: ClusterActionInput): ClusterRecord | string {
    if (!input || typeof input.cluster !== 'string' || typeof input.by !== 'string' || !input.by.trim()) {
      return 'a cluster action needs a cluster and who asks (by)';
    }
    if (this.#s.phase === 'done') return `campaign "${this.name}" has finished`;
    if (this.#s.aborting) return `campaign "${this.name}" is aborting`;
    const c = this.#clusters.get(input.cluster);
    if (!c) {
      const atPlan = this.#s.skippedAtPlan.find((s) => s.cluster === input.cluster);
      if (atPlan) return `cluster "${input.cluster}" was skipped at plan time: ${atPlan.reason}`;
      return `cluster "${input.cluster}" is not part of campaign "${this.name}"`;
    }
    return c;
  }

  #cluster(name: string): ClusterRecord {
    const c = this.#clusters.get(name);
    if (!c) throw new Error(`cluster ${name} is not part of campaign ${this.name}`);
    return c;
  }

  #wave(index: number): WaveRecord {
    const wave = this.#s.waves[index];
    if (!wave) throw new Error(`no wave ${index}`);
    return wave;
  }

  #currentWave(): WaveRecord {
    return this.#wave(this.#s.currentWave);
  }

  // -------------------------------------------------------------------------------------
  // Waves

  /** Failed or rolled-back clusters of window `index` (what its failure budget counts). */
  windowFailures(index: number): number {
    let n = 0;
    for (const c of this.#s.clusters) if (c.window === index && COUNTS_AGAINST_BUDGET.has(c.state)) n++;
    return n;
  }

  /** True when window `index` has failures beyond its budget and beyond what a human acknowledged. */
  budgetExceeded(index: number): boolean {
    const wave = this.#s.waves[index];
    if (!wave) return false;
    return this.windowFailures(index) > Math.max(wave.failureBudget, wave.acknowledgedFailures);
  }

  /** True when every cluster of window `index` is done with (nothing pending, waiting or upgrading). */
  windowDone(index: number): boolean {
    return this.#s.clusters.every((c) => c.window !== index || isTerminal(c.state));
  }

  #waveName(index: number): string | undefined {
    return this.#s.waves[index]?.name;
  }

  // -------------------------------------------------------------------------------------
  // Status and result

  /** The campaign state users see. */
  campaignState(): CampaignState {
    if (this.#s.phase === 'done') return this.result().state;
    if (this.#s.paused) return 'paused';
    if (this.#s.freeze && this.#s.phase === 'window') return 'frozen';
    switch (this.#s.phase) {
      case 'planning':
        return 'planning';
      case 'soak':
        return 'soaking';
      case 'approval':
        return this.currentWave?.state === 'awaiting-approval' ? 'awaiting-approval' : 'running';
      default:
        return 'running';
    }
  }

  /** Counts of clusters per state, over the whole campaign. */
  totals(): { done: number; failed: number; total: number } {
    let done = 0;
    let failed = 0;
    for (const c of this.#s.clusters) {
      if (c.state === 'upgraded' || c.state === 'already-at-target') done++;
      else if (c.state === 'failed' || c.state === 'rolled-back' || c.state === 'blocked') failed++;
    }
    return { done, failed, total: this.#s.clusters.length };
  }

  /** Counts per cluster state of the clusters the plan put in wave `index`. */
  waveCounts(index: number): Record<ClusterState, number> {
    const counts = emptyCounts();
    for (const c of this.#s.clusters) if (c.wave === index) counts[c.state]++;
    return counts;
  }

  /** A cluster as the status query shows it. */
  clusterStatus(c: ClusterView): ClusterStatus {
    const status: ClusterStatus = {
      name: c.name,
      wave: this.#waveName(c.wave) ?? '',
      state: c.state,
      attempts: c.starts,
    };
    if (c.step) status.step = c.step;
    if (c.reason) status.reason = c.reason;
    if (c.startedAt) status.startedAt = c.startedAt;
    if (c.endedAt) status.endedAt = c.endedAt;
    if (c.waitingFor) status.waitingFor = c.waitingFor;
    if (c.window !== c.wave) status.runsInWave = this.#waveName(c.window);
    if (c.childPaused && c.state === 'upgrading') {
      const freeze = this.#s.freeze;
      const operator = this.#s.paused && this.#s.pauseKind === 'operator';
      status.held = !operator && freeze ? `held by freeze ${freeze.id}: ${freeze.text}` : 'held by pause';
    }
    return status;
  }

  /** The statusQuery answer. */
  status(): CampaignStatus {
    const waves: WaveStatus[] = this.#s.waves.map((w) => {
      const status: WaveStatus = {
        name: w.name,
        index: w.index,
        state: w.state,
        total: w.size,
        counts: this.waveCounts(w.index),
        failureBudget: w.failureBudget,
        approvalsNeeded: this.promotion(w.index).approvalRequired ? this.approvalsNeeded() : 0,
        approvals: w.approvals,
        gates: w.gates,
      };
      if (w.soakEndsAt !== undefined) status.soakEndsAt = iso(w.soakEndsAt);
      if (w.watchUntil !== undefined) status.watchedUntil = iso(w.watchUntil);
      if (w.watchFailure !== undefined) status.watchFailure = w.watchFailure;
      if (w.watchWarning !== undefined) status.watchWarning = w.watchWarning;
      if (w.gatesDropped) status.gatesDropped = w.gatesDropped;
      if (w.acknowledgedFailures) status.acknowledgedFailures = w.acknowledgedFailures;
      return status;
    });
    const status: CampaignStatus = {
      name: this.name,
      state: this.campaignState(),
      waves,
      clusters: this.#s.clusters.map((c) => this.clusterStatus(c)),
      skippedAtPlan: this.#s.skippedAtPlan,
      audit: this.#s.audit,
      runs: this.#s.runs,
    };
    if (this.#s.approvalPolicy) status.approvalPolicy = this.#s.approvalPolicy;
    if (this.spec.target.kubernetesVersion) status.targetVersion = this.spec.target.kubernetesVersion;
    if (this.currentWave) status.currentWave = this.currentWave.name;
    if (this.#s.pausedReason) status.pausedReason = this.#s.pausedReason;
    if (this.#s.fleetHold) status.fleetHold = this.#s.fleetHold;
    if (this.#s.abortedReason) status.abortedReason = this.#s.abortedReason;
    if (this.#s.pinned) status.pinned = this.#s.pinned;
    if (this.#s.auditDropped) status.auditDropped = this.#s.auditDropped;
    if (this.#s.notifySinks?.length) status.notifySinks = this.#s.notifySinks;
    return status;
  }

  /** The workflow's result (also what `campaignState()` says once done). */
  result(): CampaignResult {
    const pick = (...states: ClusterState[]) =>
      this.#s.clusters.filter((c) => states.includes(c.state)).map((c) => c.name);
    const upgraded = pick('upgraded', 'already-at-target');
    const rolledBack = pick('rolled-back');
    const failed = pick('failed');
    const blocked = pick('blocked');
    const skipped = pick('skipped');
    let state: CampaignResult['state'];
    let reason: string | undefined;
    if (this.#s.failedReason) {
      state = 'failed';
      reason = this.#s.failedReason;
    } else if (this.#s.aborting) {
      state = 'aborted';
      reason = this.#s.abortedReason;
    } else if (rolledBack.length + failed.length + blocked.length > 0) {
      state = 'completed-with-failures';
    } else {
      state = 'completed';
    }
    const result: CampaignResult = { name: this.name, state, upgraded, rolledBack, failed, skipped, blocked };
    if (reason) result.reason = reason;
    return result;
  }

  /** The main loop ended: records the outcome in the audit trail and returns the workflow's result. */
  complete(now: number): CampaignResult {
    const result = this.result();
    this.#record(now, {
      kind: 'completed',
      detail: `${result.state}: ${result.upgraded.length} upgraded, ${result.rolledBack.length} rolled back, ${result.failed.length} failed, ${result.blocked?.length ?? 0} blocked, ${result.skipped.length} skipped`,
    });
    return result;
  }

  // -------------------------------------------------------------------------------------
  // Visibility and continue-as-new

  /** Keeps the search-attribute values just upserted (and when the counters went out, if they did). */
  recordPublished(attributes: Record<string, string | number | boolean>, countsAt?: number): void {
    this.#s.publishedAttributes = attributes;
    if (countsAt !== undefined) this.#s.publishedCountsAt = countsAt;
  }

  /** The run hands over to a new one: records it in the audit trail. */
  handOver(now: number, historyLength: number): void {
    this.#record(now, {
      kind: 'continued-as-new',
      detail: `run ${this.#s.runs} ended at ${historyLength} events; ${this.inFlight().length} cluster upgrade(s) in flight`,
    });
  }

  /** A plain-JSON copy of the state for the next run. */
  toCarried(): CarriedState {
    return JSON.parse(JSON.stringify(this.#s)) as CarriedState;
  }
}

/** ISO time of a workflow-clock instant. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `text`, shortened to `max` characters with an ellipsis (for what the audit trail keeps of a refused request). */
function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function trimGate(g: ClusterGateResult): ClusterGateResult {
  const trimmed = g.message && g.message.length > 300 ? { ...g, message: `${g.message.slice(0, 300)}…` } : g;
  // A comparison's reason repeats its numbers, which the message already tells: the state carries the numbers only.
  if (trimmed.comparison?.reason) return { ...trimmed, comparison: { ...trimmed.comparison, reason: '' } };
  return trimmed;
}

/** A GateResult of a soak evaluation, tagged with its cluster. */
export function clusterGate(cluster: string, result: GateResult): ClusterGateResult {
  return { ...result, cluster };
}
