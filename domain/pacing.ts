/**
 * Pacing decisions: the start rate limit (token bucket), per-label caps, and the sliding-window
 * scheduler the campaign workflow calls whenever a slot frees or a timer fires. Pure: safe in
 * workflows; every function takes the time as `nowMs` and returns new state instead of
 * mutating, so the workflow can carry the state across continue-as-new as plain JSON.
 */
import { durationToMs } from './duration';
import { resolveCountOrPercent } from './freezes';
import type { FleetMember } from './fleet';
import type { CampaignSpec } from './spec';
import type { ClusterNote } from './waves';

/** At most `starts` cluster upgrades started per `perMs`. */
export interface RateLimit {
  starts: number;
  perMs: number;
}

/**
 * A token bucket of capacity `starts` refilling continuously at `starts` per `perMs`, kept as
 * GCRA's theoretical arrival time: one number instead of a fractional token count, so no
 * rounding drift accumulates over a long campaign.
 */
export interface TokenBucket {
  starts: number;
  perMs: number;
  /** GCRA theoretical arrival time of the next start, ms since the epoch. */
  tatMs: number;
}

export interface TakeResult {
  ok: boolean;
  /** The bucket after the attempt (unchanged when refused). */
  bucket: TokenBucket;
  /** Earliest time the next take succeeds: after a refusal, when to retry; after a success, when another would. */
  retryAtMs: number;
}

/** A per-label-value cap: at most `max` in flight per value of `labelKey`. */
export interface LabelCap {
  labelKey: string;
  max: number;
}

export type CapCheck = { ok: true } | { ok: false; blockedBy: string };

/** What a maintenance-window check says about one cluster now (see windows.ts checkWindow). */
export interface WindowCheck {
  open: boolean;
  /** When it is worth looking again (the next opening that could admit the cluster). */
  nextOpenMs?: number;
  /** Why it is closed, for status: "window closes before the estimated 1h20m upgrade would end". */
  reason?: string;
}

export interface PickInput {
  /** Clusters of the current wave not started yet, in wave order. */
  pending: readonly FleetMember[];
  /** Every cluster of this campaign upgrading now (all waves: a retried cluster counts too). */
  inFlight: readonly FleetMember[];
  /** How many of `inFlight` belong to the current wave (for maxParallel). Default: inFlight.length. */
  inFlightInWave?: number;
  /** The wave's maxParallel. */
  maxParallel: number;
  /** spec.pacing.maxInFlight. */
  maxInFlight: number;
  caps: readonly LabelCap[];
  /** The campaign's rate-limit bucket; undefined when there is no rate limit. */
  bucket: TokenBucket | undefined;
  nowMs: number;
  /** Maintenance-window check per cluster. Default: always open. */
  windowCheck?: (member: FleetMember) => WindowCheck;
}

/** Why a pending cluster did not start; `slots` is an ordinary queue position, the others are worth showing. */
export type WaitKind = 'slots' | 'window' | 'cap' | 'rate-limit';

/**
 * A cluster that did not start. Reasons are stable for display: `maxParallel 3/3 reached`,
 * `maxInFlight 10/10 reached`, the window check's reason (default `maintenance window closed
 * until <ISO>`), `cap region=us-east-1 (3/3)`, `rate limit: next start at <ISO>`.
 */
export interface WaitingCluster extends ClusterNote {
  kind: WaitKind;
}

export interface PickResult {
  /** Cluster names to start now, in wave order. */
  start: string[];
  /** The bucket after the starts (pass it to the next call). */
  bucket: TokenBucket | undefined;
  /**
   * Earliest time a timer should wake the workflow because something may change without any
   * cluster finishing: a token refills or a window opens. Undefined when only a finishing
   * cluster (a freed slot or cap) can unblock the rest.
   */
  wakeAtMs?: number;
  /** Every pending cluster not started, with why, in wave order. */
  waiting: WaitingCluster[];
}

/** spec.pacing.caps with percentages resolved against the campaign's `selected` clusters (rounded down, at least 1). */
export function resolveCaps(caps: readonly { labelKey: string; max: number | string }[], selected: number): LabelCap[] {
  return caps.map((c) => ({ labelKey: c.labelKey, max: resolveCountOrPercent(c.max, selected) }));
}

/** Reads spec.pacing.rateLimit into milliseconds; undefined when the spec has no rate limit. */
export function rateLimitOf(pacing: Pick<CampaignSpec['pacing'], 'rateLimit'>): RateLimit | undefined {
  const rl = pacing.rateLimit;
  return rl ? { starts: rl.starts, perMs: durationToMs(rl.per) } : undefined;
}

/** A full bucket: `starts` upgrades may start at once at `nowMs`. */
export function createBucket(limit: RateLimit, nowMs: number): TokenBucket {
  return { starts: Math.max(1, limit.starts), perMs: limit.perMs, tatMs: nowMs };
}

function emissionMs(bucket: TokenBucket): number {
  return bucket.perMs / bucket.starts;
}

function toleranceMs(bucket: TokenBucket): number {
  return bucket.perMs - emissionMs(bucket);
}

/** Takes one token if there is one. */
export function tryTake(bucket: TokenBucket, nowMs: number): TakeResult {
  const tat = Math.max(bucket.tatMs, nowMs);
  const tau = toleranceMs(bucket);
  if (tat - tau <= nowMs) {
    const next = { ...bucket, tatMs: tat + emissionMs(bucket) };
    // Rounded up: at that integer millisecond the same comparison is guaranteed to pass.
    return { ok: true, bucket: next, retryAtMs: Math.max(nowMs, Math.ceil(next.tatMs - tau)) };
  }
  return { ok: false, bucket, retryAtMs: Math.ceil(tat - tau) };
}

/** Tokens available at `nowMs` (whole starts that would succeed back to back). */
export function tokensAvailable(bucket: TokenBucket, nowMs: number): number {
  const tat = Math.max(bucket.tatMs, nowMs);
  const k = Math.floor((nowMs + toleranceMs(bucket) - tat) / emissionMs(bucket)) + 1;
  return Math.max(0, Math.min(bucket.starts, k));
}

/**
 * Whether starting `candidate` keeps every cap: for each cap whose label the candidate carries,
 * fewer than `max` in-flight clusters may share its value. A candidate without the label is
 * not limited by that cap.
 */
export function capsAllow(
  inFlight: readonly FleetMember[],
  candidate: FleetMember,
  caps: readonly LabelCap[],
): CapCheck {
  for (const cap of caps) {
    const value = candidate.labels[cap.labelKey];
    if (value === undefined) continue;
    const used = inFlight.reduce((n, m) => (m.labels[cap.labelKey] === value ? n + 1 : n), 0);
    if (used >= cap.max) return { ok: false, blockedBy: `${cap.labelKey}=${value} (${used}/${cap.max})` };
  }
  return { ok: true };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Which pending clusters to start now. Checks, per cluster in wave order: free slots
 * (wave maxParallel, campaign maxInFlight), its maintenance window, the label caps, then the
 * rate limit, so a token is spent only on a cluster that can really start. A cluster blocked
 * by its window or a cap does not hold up later ones (a sliding window, not batches); once the
 * rate limit refuses, every later cluster waits for the same token.
 */
export function pickNextClusters(input: PickInput): PickResult {
  const { nowMs, caps } = input;
  const start: string[] = [];
  const waiting: WaitingCluster[] = [];
  const running: FleetMember[] = [...input.inFlight];
  let inWave = input.inFlightInWave ?? input.inFlight.length;
  let bucket = input.bucket;
  let wakeAtMs: number | undefined;
  let rateLimitedUntil: number | undefined;
  const wakeAt = (ms: number | undefined): void => {
    if (ms !== undefined && ms > nowMs && (wakeAtMs === undefined || ms < wakeAtMs)) wakeAtMs = ms;
  };

  for (const member of input.pending) {
    if (inWave >= input.maxParallel) {
      waiting.push({
        cluster: member.name,
        kind: 'slots',
        reason: `maxParallel ${inWave}/${input.maxParallel} reached`,
      });
      continue;
    }
    if (running.length >= input.maxInFlight) {
      waiting.push({
        cluster: member.name,
        kind: 'slots',
        reason: `maxInFlight ${running.length}/${input.maxInFlight} reached`,
      });
      continue;
    }
    const window = input.windowCheck ? input.windowCheck(member) : { open: true };
    if (!window.open) {
      const until = window.nextOpenMs !== undefined ? ` until ${isoTime(window.nextOpenMs)}` : '';
      waiting.push({
        cluster: member.name,
        kind: 'window',
        reason: window.reason ?? `maintenance window closed${until}`,
      });
      wakeAt(window.nextOpenMs);
      continue;
    }
    const cap = capsAllow(running, member, caps);
    if (!cap.ok) {
      waiting.push({ cluster: member.name, kind: 'cap', reason: `cap ${cap.blockedBy}` });
      continue;
    }
    if (bucket) {
      if (rateLimitedUntil === undefined) {
        const take = tryTake(bucket, nowMs);
        if (take.ok) bucket = take.bucket;
        else rateLimitedUntil = take.retryAtMs;
      }
      if (rateLimitedUntil !== undefined) {
        waiting.push({
          cluster: member.name,
          kind: 'rate-limit',
          reason: `rate limit: next start at ${isoTime(rateLimitedUntil)}`,
        });
        wakeAt(rateLimitedUntil);
        continue;
      }
    }
    start.push(member.name);
    running.push(member);
    inWave++;
  }

  return { start, bucket, ...(wakeAtMs !== undefined ? { wakeAtMs } : {}), waiting };
}

/**
 * The order in which a wave's pending clusters are offered to {@link pickNextClusters}:
 * 1. bottleneck first: the clusters of the most loaded cap value (the estimated work of its
 *    pending clusters ÷ cap.max) come first, so the value that bounds the wave's length is kept
 *    busy from the start instead of being reached last;
 * 2. then the longest estimate first (LPT), so the wave does not end on a long cluster started
 *    late;
 * 3. then wave order.
 * Recomputed at every pick from what is still pending. Without caps it is longest first.
 */
export function startOrder<T extends FleetMember>(
  pending: readonly T[],
  estimateMs: (member: T) => number,
  caps: readonly LabelCap[],
): T[] {
  const estimate = new Map(pending.map((m) => [m.name, Math.max(0, estimateMs(m))]));
  const load = new Map<string, number>();
  const keysOf = (m: T): { key: string; max: number }[] =>
    caps.flatMap((cap) => {
      const value = m.labels[cap.labelKey];
      return value === undefined ? [] : [{ key: `${cap.labelKey}=${value}`, max: Math.max(1, cap.max) }];
    });
  for (const m of pending) {
    for (const k of keysOf(m)) load.set(k.key, (load.get(k.key) ?? 0) + (estimate.get(m.name) ?? 0) / k.max);
  }
  return pending
    .map((m, index) => ({
      m,
      index,
      score: keysOf(m).reduce((s, k) => Math.max(s, load.get(k.key) ?? 0), 0),
      est: estimate.get(m.name) ?? 0,
    }))
    .sort((a, b) => b.score - a.score || b.est - a.est || a.index - b.index)
    .map((x) => x.m);
}
