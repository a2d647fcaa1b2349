/**
 * Durations in campaign specs are strings such as "90s", "30m", "1h30m", "7d".
 * They are parsed once at the edge into milliseconds; everything downstream uses numbers.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(?:(\d+)(ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;

/** Parses "1h30m" into milliseconds; returns undefined for anything else. "0s" is 0. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_RE.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(PART_RE)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Formats milliseconds compactly for humans: 5400000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unbounded';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  const d = Math.floor(rest / 86400);
  rest -= d * 86400;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

/**
 * Reads a duration the spec schema already validated. Throws on anything else: reaching that
 * means an unvalidated spec got past the edge, which is a bug to surface, not to guess around.
 */
export function durationToMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`invalid duration "${text}"`);
  return ms;
}

/**
 * Formats an estimate for humans at the precision it deserves: whole minutes from one hour up
 * (rounded down, so a lower bound stays one), otherwise as formatDuration does: 5_010_000 → "1h23m".
 */
export function formatEstimate(ms: number): string {
  if (!Number.isFinite(ms) || ms < 3_600_000) return formatDuration(ms);
  return formatDuration(Math.floor(ms / 60_000) * 60_000);
}
