/**
 * The fleet-wide change calendar (freezes) and the fleet-wide start pace. Pure: safe in
 * workflows. Nothing here reads the clock: callers pass `nowMs` (workflow time in the fleet
 * control workflow, the operator's clock in the CLI).
 *
 * Semantics:
 * - A freeze is either an absolute range [from, until) or a weekly recurring window (days,
 *   start, end, timezone: the same rules as maintenance windows in windows.ts, including the
 *   DST rules and the midnight crossing).
 * - Inside a freeze no cluster upgrade starts, in any campaign. Upgrades already running
 *   finish the step they are in and hold at their next safe point (the campaign pauses them as an
 *   operator pause does) until the freeze ends: an EKS update already accepted cannot be stopped
 *   and is safer finished than left, so nothing is cut short. Rollbacks are never held.
 * - Overlapping or touching freezes chain: "until" is the end of the whole frozen period, so
 *   a campaign does not wake up at the end of one freeze only to meet the next.
 */
import { durationToMs, formatDuration } from './duration';
import { windowOccurrences, type Interval, type WindowTiming } from './windows';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
type Weekday = (typeof WEEKDAYS)[number];
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

/** What an operator asks for (`fleetwave freeze add`). */
export interface FreezeInput {
  reason: string;
  /** Absolute range: ISO start (inclusive)... */
  from?: string;
  /** ...and ISO end (exclusive). */
  until?: string;
  /** Or a weekly recurring window. */
  weekly?: WindowTiming;
  /** Who added it, for the audit trail (the CLI sends the OS user). */
  addedBy?: string;
}

/** A freeze as the calendar holds it. */
export interface Freeze extends FreezeInput {
  /** `f1`, `f2`, ...: given by the calendar, never reused. */
  id: string;
  /** ISO time it was added (the calendar's workflow time). */
  addedAt: string;
}

export interface FreezeCheck {
  frozen: boolean;
  /** The freeze in force now (the first in calendar order). */
  freeze?: Freeze;
  /** End of the whole frozen period containing now (chained freezes merged). */
  untilMs?: number;
  /** For status: `frozen: <reason> until <ISO>`. */
  reason?: string;
}

/** Problems with a freeze request, each a full sentence; empty when it is valid. */
export function validateFreeze(input: FreezeInput, nowMs: number): string[] {
  const errors: string[] = [];
  if (typeof input.reason !== 'string' || input.reason.trim() === '') errors.push('a freeze needs a reason');
  const absolute = input.from !== undefined || input.until !== undefined;
  if (absolute && input.weekly) errors.push('give either a date range (from/until) or a weekly window, not both');
  if (!absolute && !input.weekly) errors.push('give a date range (from/until) or a weekly window');
  if (absolute) {
    const from = input.from === undefined ? nowMs : Date.parse(input.from);
    const until = input.until === undefined ? Number.NaN : Date.parse(input.until);
    if (input.from !== undefined && Number.isNaN(from)) errors.push(`from "${input.from}" is not an ISO date-time`);
    if (input.until === undefined) errors.push('a date range needs an end (until)');
    else if (Number.isNaN(until)) errors.push(`until "${input.until}" is not an ISO date-time`);
    else if (until <= nowMs) errors.push('until is in the past: the freeze would never apply');
    else if (!Number.isNaN(from) && until <= from) errors.push('until must be later than from');
  }
  if (input.weekly) {
    const w = input.weekly;
    if (!Array.isArray(w.days) || w.days.length === 0) errors.push('a weekly freeze needs at least one day');
    else {
      const bad = w.days.filter((d) => !WEEKDAYS.includes(d as Weekday));
      if (bad.length > 0) errors.push(`unknown day(s) ${bad.join(', ')}: use ${WEEKDAYS.join(', ')}`);
    }
    if (!CLOCK.test(w.start)) errors.push(`start "${w.start}" must be a time such as "22:00"`);
    if (!CLOCK.test(w.end)) errors.push(`end "${w.end}" must be a time such as "06:00"`);
    if (w.start === w.end) errors.push('end must differ from start');
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: w.timezone });
    } catch {
      errors.push(`timezone "${w.timezone}" must be an IANA timezone such as "Europe/Berlin"`);
    }
  }
  return errors;
}

/** The intervals of one freeze near `nowMs` (an absolute range is one interval). */
function intervalsOf(freeze: FreezeInput, nowMs: number): Interval[] {
  if (freeze.weekly) return windowOccurrences(freeze.weekly, nowMs);
  const startMs = freeze.from === undefined ? Number.NEGATIVE_INFINITY : Date.parse(freeze.from);
  const endMs = freeze.until === undefined ? Number.NaN : Date.parse(freeze.until);
  return Number.isNaN(startMs) || Number.isNaN(endMs) ? [] : [{ startMs, endMs }];
}

/** Whether the calendar freezes starts at `nowMs`, which freeze, and until when. */
export function checkFreezes(freezes: readonly Freeze[], nowMs: number): FreezeCheck {
  const inForce = freezes.find((f) => intervalsOf(f, nowMs).some((iv) => iv.startMs <= nowMs && nowMs < iv.endMs));
  if (!inForce) return { frozen: false };
  // Follow the chain of overlapping or touching intervals from now to the end of the frozen period.
  const all = freezes.flatMap((f) => intervalsOf(f, nowMs));
  let untilMs = nowMs;
  for (let grew = true; grew;) {
    grew = false;
    for (const iv of all) {
      if (iv.startMs <= untilMs && iv.endMs > untilMs) {
        untilMs = iv.endMs;
        grew = true;
      }
    }
  }
  return {
    frozen: true,
    freeze: inForce,
    untilMs,
    reason: `frozen: ${inForce.reason} until ${new Date(untilMs).toISOString()}`,
  };
}

/**
 * When the next freeze after `nowMs` begins (the earliest start of an absolute range or of a
 * weekly occurrence within the window horizon), or undefined when none is due. A campaign with
 * upgrades in flight wakes then to hold them without waiting for a signal.
 */
export function nextFreezeStart(freezes: readonly Freeze[], nowMs: number): number | undefined {
  let next: number | undefined;
  for (const f of freezes) {
    for (const iv of intervalsOf(f, nowMs)) {
      if (iv.startMs > nowMs && iv.endMs > iv.startMs && (next === undefined || iv.startMs < next)) next = iv.startMs;
    }
  }
  return next;
}

/** Absolute freezes that ended before `nowMs` can never apply again: the calendar drops them. */
export function pruneFreezes(freezes: readonly Freeze[], nowMs: number): Freeze[] {
  return freezes.filter((f) => f.weekly !== undefined || f.until === undefined || Date.parse(f.until) > nowMs);
}

/** One line per freeze for `fleetwave freeze list`. */
export function describeFreeze(freeze: FreezeInput): string {
  if (freeze.weekly) {
    const w = freeze.weekly;
    return `weekly ${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`;
  }
  return `${freeze.from ?? 'now'} → ${freeze.until ?? '?'}`;
}

// ---------------------------------------------------------------------------------------
// Fleet-wide pace

/** The fleet-wide start pace: at most `starts` per `per`, at most `burst` at once. */
export interface FleetPace {
  starts: number;
  /** A duration string, e.g. "1h". */
  per: string;
  /** Bucket capacity: starts allowed back to back after a quiet spell. Default: `starts`. */
  burst?: number;
}

/**
 * Parses `10/h`, `3/10m`, `1/30s` into a pace. Units: s, m, h, d, or a duration string after
 * the slash. Throws with a sentence on anything else.
 */
export function parseRate(text: string): { starts: number; per: string } {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*([a-z]+)\s*$/.exec(text);
  if (!m) throw new Error(`rate "${text}" must look like 10/h or 3/10m`);
  const starts = Number(m[1]);
  const per = `${m[2] || '1'}${m[3]}`;
  if (!Number.isInteger(starts) || starts < 1) throw new Error(`rate "${text}": starts must be a whole number >= 1`);
  let ms: number;
  try {
    ms = durationToMs(per);
  } catch {
    throw new Error(`rate "${text}": "${per}" is not a duration (use s, m, h or d)`);
  }
  if (!(ms > 0)) throw new Error(`rate "${text}": the period must be longer than 0`);
  return { starts, per };
}

/** `10 starts per 1h, burst 3`. */
export function describePace(pace: FleetPace): string {
  return `${pace.starts} start(s) per ${formatDuration(durationToMs(pace.per))}, burst ${pace.burst ?? pace.starts}`;
}

// ---------------------------------------------------------------------------------------
// Counts or percentages

/**
 * Resolves a spec limit given as a count or a percentage ("25%") against `total` clusters.
 * Rule: a percentage of the wave's (or selection's) cluster count, rounded down, but at least
 * 1, so a small wave still makes progress (25% of 3 clusters is 1, not 0). A count is used as is.
 */
export function resolveCountOrPercent(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const percent = Number.parseFloat(value);
  if (!value.endsWith('%') || Number.isNaN(percent)) throw new Error(`"${value}" is neither a count nor a percentage`);
  return Math.max(1, Math.floor((percent * Math.max(0, total)) / 100));
}
