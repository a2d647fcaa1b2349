/**
 * NodePool disruption budgets as Karpenter documents them (karpenter.sh/docs/concepts/disruption/,
 * "NodePool Disruption Budgets"): `nodes` is a count or a percentage of the pool's nodes, rounded
 * up; a budget without `reasons` applies to every reason; `schedule` is a cron expression in UTC
 * (five fields or a macro such as `@daily`) and `duration` how long the budget stays active after
 * each firing (`h` and `m` units only); a budget without a schedule is always active. The most
 * restrictive active budget wins, and with budgets defined but none active, disruption is not
 * limited. The API's default when no budget is given is `nodes: 10%`.
 */

/** One entry of a NodePool's `spec.disruption.budgets`. */
export interface DisruptionBudget {
  nodes: string;
  reasons?: string[];
  schedule?: string;
  duration?: string;
}

const MINUTE = 60_000;

/** Karpenter's duration pattern (NodePool CRD): hours and minutes, e.g. "1h", "30m", "10h5m". */
export function parseBudgetDuration(text: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:0s)?$/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
  return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * MINUTE;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A compiled cron schedule: the allowed values of each field. */
export interface CronSchedule {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domStar: boolean;
  dowStar: boolean;
}

function field(text: string, min: number, max: number, names?: string[]): Set<number> | undefined {
  const out = new Set<number>();
  const value = (v: string): number | undefined => {
    const i = names?.indexOf(v.toLowerCase()) ?? -1;
    if (i >= 0) return i + (names === MONTHS ? 1 : 0);
    return /^\d+$/.test(v) ? Number(v) : undefined;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!range || !Number.isInteger(step) || step < 1) return undefined;
    let lo: number | undefined;
    let hi: number | undefined;
    if (range === '*' || range === '?') {
      lo = min;
      hi = max;
    } else {
      const [a, b] = range.split('-');
      lo = value(a ?? '');
      hi = b === undefined ? (stepText === undefined ? lo : max) : value(b);
    }
    if (lo === undefined || hi === undefined || lo < min || hi > max || lo > hi) return undefined;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  // Day of week 7 is Sunday too, as in standard cron.
  if (max === 7 && out.has(7)) out.add(0);
  return out;
}

/** Parses a standard five-field cron expression (or a macro); undefined when it is not one. */
export function parseCron(text: string): CronSchedule | undefined {
  const expanded = MACROS[text.trim()] ?? text.trim();
  const f = expanded.split(/\s+/);
  if (f.length !== 5) return undefined;
  const minute = field(f[0] as string, 0, 59);
  const hour = field(f[1] as string, 0, 23);
  const dom = field(f[2] as string, 1, 31);
  const month = field(f[3] as string, 1, 12, MONTHS);
  const dow = field(f[4] as string, 0, 7, DAYS);
  if (!minute || !hour || !dom || !month || !dow) return undefined;
  return {
    minute,
    hour,
    dom,
    month,
    dow,
    domStar: f[2] === '*' || f[2] === '?',
    dowStar: f[4] === '*' || f[4] === '?',
  };
}

/** Whether the schedule fires at the UTC minute that contains `t`. */
export function cronMatches(s: CronSchedule, t: number): boolean {
  const d = new Date(t);
  if (!s.minute.has(d.getUTCMinutes()) || !s.hour.has(d.getUTCHours()) || !s.month.has(d.getUTCMonth() + 1)) {
    return false;
  }
  const domOk = s.dom.has(d.getUTCDate());
  const dowOk = s.dow.has(d.getUTCDay());
  // Standard cron: when both day fields are restricted, either may match.
  if (s.domStar || s.dowStar) return domOk && dowOk;
  return domOk || dowOk;
}

/** Whether a scheduled budget is active at `t`: it fired at some minute f with f <= t < f + duration. */
export function scheduleActive(schedule: string, duration: string, t: number): boolean {
  const s = parseCron(schedule);
  const ms = parseBudgetDuration(duration);
  if (!s || ms === undefined) return false;
  const start = Math.floor(t / MINUTE) * MINUTE;
  for (let f = start; f > t - ms; f -= MINUTE) if (cronMatches(s, f)) return true;
  return false;
}

/** The budget's node count for a pool of `total` nodes: a percentage rounds up. */
export function budgetNodes(nodes: string, total: number): number {
  const pct = /^(\d+)%$/.exec(nodes);
  if (pct) return Math.ceil((total * Number(pct[1])) / 100);
  return Number.parseInt(nodes, 10);
}

/**
 * How many nodes of a pool may be disrupting for `reason` at `t`: the smallest active budget that
 * applies to the reason, or the whole pool when none is active.
 */
export function allowedDisruptions(
  budgets: readonly DisruptionBudget[],
  reason: string,
  total: number,
  t: number,
): number {
  let allowed = total;
  for (const b of budgets) {
    if (b.reasons && b.reasons.length > 0 && !b.reasons.includes(reason)) continue;
    if (b.schedule !== undefined && !scheduleActive(b.schedule, b.duration ?? '', t)) continue;
    allowed = Math.min(allowed, budgetNodes(b.nodes, total));
  }
  return Math.max(0, allowed);
}

/** A validation message for a budget list (the NodePool CRD's rules), or undefined when valid. */
export function invalidBudgets(budgets: unknown): string | undefined {
  if (!Array.isArray(budgets)) return 'spec.disruption.budgets: must be a list';
  if (budgets.length > 50) return 'spec.disruption.budgets: at most 50 budgets';
  for (const [i, b] of budgets.entries()) {
    const path = `spec.disruption.budgets[${i}]`;
    if (typeof b !== 'object' || b === null) return `${path}: must be an object`;
    const budget = b as Record<string, unknown>;
    if (typeof budget.nodes !== 'string' || !/^((100|[0-9]{1,2})%|[0-9]+)$/.test(budget.nodes)) {
      return `${path}.nodes: must be a count or a percentage such as "10%"`;
    }
    if ((budget.schedule === undefined) !== (budget.duration === undefined)) {
      return `${path}: 'schedule' must be set with 'duration'`;
    }
    if (budget.schedule !== undefined && (typeof budget.schedule !== 'string' || !parseCron(budget.schedule))) {
      return `${path}.schedule: must be a cron expression`;
    }
    if (
      budget.duration !== undefined &&
      (typeof budget.duration !== 'string' || parseBudgetDuration(budget.duration) === undefined)
    ) {
      return `${path}.duration: must be a duration in hours and minutes such as "1h30m"`;
    }
    if (budget.reasons !== undefined) {
      const ok =
        Array.isArray(budget.reasons) &&
        budget.reasons.every((r) => r === 'Underutilized' || r === 'Empty' || r === 'Drifted');
      if (!ok) return `${path}.reasons: each must be one of Underutilized, Empty, Drifted`;
    }
  }
  return undefined;
}
