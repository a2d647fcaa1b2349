/**
 * Maintenance windows. Pure: safe in workflows.
 *
 * Wall-clock times in a window's IANA timezone are converted with Intl.DateTimeFormat, which
 * the Temporal workflow sandbox provides and which is deterministic for an explicit epoch
 * time. Nothing here reads the clock: callers pass `nowMs` (workflow time).
 *
 * Semantics:
 * - A window opens on each of its `days` at `start` local time and closes at `end`; an `end`
 *   earlier than `start` closes the next day. The window belongs to the day it opens, so a
 *   Fri 22:00–02:00 window is open early Saturday but does not open on Saturday night.
 * - A cluster may start when any of its windows is open (windows are a union); no window
 *   means always open. Only starts are gated: an upgrade running when a window closes goes on.
 * - DST: a start or end that falls into the spring-forward gap moves forward by the gap
 *   (02:30 → 03:30); one that occurs twice in the autumn takes the first occurrence.
 * - Search horizon: occurrences that open from yesterday up to 8 days ahead (local dates),
 *   enough to see every weekday once.
 */
import { formatDuration } from './duration';
import type { FleetMember } from './fleet';
import type { WindowCheck } from './pacing';
import { matchesSelector } from './selector';
import type { MaintenanceWindow } from './spec';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const HORIZON_DAYS = 8;
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** The window fields that matter for timing (the spec's MaintenanceWindow after defaults). */
export type WindowTiming = Pick<MaintenanceWindow, 'days' | 'start' | 'end' | 'timezone'>;

/** A half-open interval [startMs, endMs) in epoch milliseconds. */
export interface Interval {
  startMs: number;
  endMs: number;
}

export interface WindowState {
  /** Some window is open now. */
  open: boolean;
  /** Open, and it stays open for at least `requiredMs` from now. */
  fits: boolean;
  /** When the open period containing now ends (overlapping and touching windows merged). */
  closesAtMs?: number;
  /** The next opening after now (after the current open period, when open). */
  nextOpenMs?: number;
  /** Earliest time >= now at which a cluster could start and finish inside a window; undefined if none within the horizon. */
  nextFitMs?: number;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

// Building a DateTimeFormat costs far more than using one; a module-level cache is safe in a
// workflow because it only ever holds deterministic, immutable formatters.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallClock(ms: number, timeZone: string): WallClock {
  const out: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timeZone).formatToParts(ms)) {
    if (part.type in out) out[part.type as keyof WallClock] = Number(part.value);
  }
  // Some ICU versions still print midnight as 24 despite h23.
  if (out.hour === 24) out.hour = 0;
  return out;
}

/** The zone's offset from UTC at an instant, in ms (UTC+2 → 7200000). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  const w = wallClock(whole, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local date and time.
 * Non-existent times (spring-forward gap) move forward by the gap; ambiguous ones (autumn)
 * resolve to the earlier instant — the JavaScript Temporal API's "compatible" choice.
 */
export function zonedTimeToUtc(
  local: { year: number; month: number; day: number; hour: number; minute: number },
  timeZone: string,
): number {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  // Offsets well before and after the wanted instant; DST transitions are months apart.
  const before = zoneOffsetMs(asUtc - 36 * HOUR_MS, timeZone);
  const after = zoneOffsetMs(asUtc + 36 * HOUR_MS, timeZone);
  const candidates = [asUtc - before, asUtc - after].sort((a, b) => a - b);
  for (const t of candidates) {
    if (t + zoneOffsetMs(t, timeZone) === asUtc) return t;
  }
  return asUtc - before;
}

function parseClock(hhmm: string): { hour: number; minute: number } {
  const [h = '0', m = '0'] = hhmm.split(':');
  return { hour: Number(h), minute: Number(m) };
}

/**
 * Memo of windowOccurrences. The occurrences depend only on the window and on the local date
 * of `nowMs` in its zone, which cannot change inside a 15-minute UTC slot (every zone offset
 * in use is a multiple of 15 minutes). Without it, a campaign checking 5,000 clusters would
 * spend seconds in Intl per scheduling decision. A memo of a pure function is deterministic,
 * so it is safe in a workflow.
 */
const OCCURRENCE_SLOT_MS = 15 * 60_000;
const MAX_MEMO_ENTRIES = 2_000;
const occurrenceMemo = new Map<string, readonly Interval[]>();

/**
 * Occurrences of one window that open on local dates from the day before `nowMs` up to
 * HORIZON_DAYS after it, in time order.
 */
export function windowOccurrences(window: WindowTiming, nowMs: number): Interval[] {
  const slot = Math.floor(nowMs / OCCURRENCE_SLOT_MS);
  const key = `${slot}|${window.timezone}|${window.start}|${window.end}|${window.days.join(',')}`;
  let occurrences = occurrenceMemo.get(key);
  if (!occurrences) {
    if (occurrenceMemo.size >= MAX_MEMO_ENTRIES) occurrenceMemo.clear();
    occurrences = computeOccurrences(window, slot * OCCURRENCE_SLOT_MS);
    occurrenceMemo.set(key, occurrences);
  }
  return occurrences.map((o) => ({ ...o }));
}

function computeOccurrences(window: WindowTiming, nowMs: number): Interval[] {
  const tz = window.timezone;
  const today = wallClock(nowMs, tz);
  const start = parseClock(window.start);
  const end = parseClock(window.end);
  const crossesMidnight = window.end < window.start;
  const out: Interval[] = [];
  for (let k = -1; k <= HORIZON_DAYS; k++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + k));
    const weekday = WEEKDAYS[date.getUTCDay()];
    if (!weekday || !window.days.includes(weekday)) continue;
    const ymd = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
    const next = new Date(Date.UTC(ymd.year, ymd.month - 1, ymd.day + 1));
    const endYmd = crossesMidnight
      ? { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() }
      : ymd;
    const startMs = zonedTimeToUtc({ ...ymd, ...start }, tz);
    const endMs = zonedTimeToUtc({ ...endYmd, ...end }, tz);
    // A window squeezed to nothing by a DST gap simply does not open that day.
    if (endMs > startMs) out.push({ startMs, endMs });
  }
  return out;
}

/** Merges intervals that overlap or touch; sorted by start. */
function mergeIntervals(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  const merged: Interval[] = [];
  for (const iv of sorted) {
    const last = merged[merged.length - 1];
    if (last && iv.startMs <= last.endMs) last.endMs = Math.max(last.endMs, iv.endMs);
    else merged.push({ ...iv });
  }
  return merged;
}

/** The windows that apply to a cluster (their selector matches its labels; no selector: all clusters). */
export function windowsFor<W extends Pick<MaintenanceWindow, 'selector'>>(
  member: Pick<FleetMember, 'labels'>,
  windows: readonly W[],
): W[] {
  return windows.filter((w) => matchesSelector(member.labels, w.selector));
}

/**
 * Whether a cluster with these windows may start now, and whether an upgrade needing
 * `requiredMs` fits before the open period ends. No windows: always open and always fits.
 * `closesAtMs` is at most the horizon away when windows chain without a gap for over a week.
 */
export function windowState(windows: readonly WindowTiming[], nowMs: number, requiredMs: number): WindowState {
  if (windows.length === 0) return { open: true, fits: true };
  const periods = mergeIntervals(windows.flatMap((w) => windowOccurrences(w, nowMs))).filter((p) => p.endMs > nowMs);
  const current = periods.find((p) => p.startMs <= nowMs);
  const later = periods.filter((p) => p.startMs > nowMs);
  const fits = current !== undefined && current.endMs - nowMs >= requiredMs;
  const nextFit = fits ? nowMs : later.find((p) => p.endMs - p.startMs >= requiredMs)?.startMs;
  const state: WindowState = { open: current !== undefined, fits };
  if (current) state.closesAtMs = current.endMs;
  if (later[0]) state.nextOpenMs = later[0].startMs;
  if (nextFit !== undefined) state.nextFitMs = nextFit;
  return state;
}

/**
 * The maintenance-window answer for pickNextClusters: open only when a window is open and the
 * estimated upgrade fits in it; otherwise when to look again and why. Without any opening in
 * the horizon it asks to look again in a day (the horizon moves with time).
 */
export function checkWindow(windows: readonly WindowTiming[], nowMs: number, requiredMs: number): WindowCheck {
  const state = windowState(windows, nowMs, requiredMs);
  if (state.open && state.fits) return { open: true };
  const nextOpenMs = state.nextFitMs ?? state.nextOpenMs ?? nowMs + DAY_MS;
  const when = new Date(nextOpenMs).toISOString();
  if (state.open) {
    return {
      open: false,
      nextOpenMs,
      reason: `maintenance window closes at ${new Date(state.closesAtMs ?? nowMs).toISOString()}, before the estimated ${formatDuration(requiredMs)} upgrade would end; next fit ${when}`,
    };
  }
  return {
    open: false,
    nextOpenMs,
    reason:
      state.nextFitMs !== undefined
        ? `maintenance window closed until ${when}`
        : `no maintenance window in the next ${HORIZON_DAYS} days is long enough for the estimated ${formatDuration(requiredMs)} upgrade`,
  };
}

/**
 * Length of one window occurrence from its clock times (ignoring DST), for plan warnings:
 * 22:00–02:00 → 4h.
 */
export function nominalWindowMs(window: Pick<MaintenanceWindow, 'start' | 'end'>): number {
  const s = parseClock(window.start);
  const e = parseClock(window.end);
  const minutes = e.hour * 60 + e.minute - (s.hour * 60 + s.minute);
  return (minutes <= 0 ? minutes + 24 * 60 : minutes) * 60_000;
}
