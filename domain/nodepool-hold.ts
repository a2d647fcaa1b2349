/**
 * Holding a NodePool's Drifted nodes while the control plane bakes, and letting them go. Pure:
 * activities/automode.ts reads and patches the NodePools; the workflow decides when.
 *
 * A hold is one extra disruption budget, `{nodes: "0", reasons: [Drifted]}`, which Karpenter
 * honours as the most restrictive budget for drift (karpenter.sh/docs/concepts/disruption/,
 * "NodePool Disruption Budgets"), plus an annotation recording who holds it and the budgets to
 * restore. The budget carries a schedule and a duration so that a hold nobody releases still ends:
 * a budget with a schedule is active only for `duration` after each firing of its UTC cron
 * schedule. Standard cron has no year, so the schedule fires on the same minute of the same day
 * every year: the annotation stays until a release removes it, and `fleetwave release-holds`
 * finds it.
 */

/** The annotation that marks a held NodePool. */
export const HOLD_ANNOTATION = 'fleetwave.io/drift-hold';

/** How long a hold outlives the time it was placed for, should nobody release it. */
export const HOLD_MARGIN_MS = 30 * 60_000;

/** One `spec.disruption.budgets` entry of a NodePool. */
export interface NodePoolBudget {
  nodes: string;
  reasons?: string[];
  schedule?: string;
  duration?: string;
}

/** What the hold annotation records. */
export interface HoldRecord {
  workflowId: string;
  runId: string;
  /** When the hold was placed and until when its budget is active (ISO-8601, UTC). */
  since: string;
  until: string;
  /** The budgets to restore on release (absent: the pool had none, Karpenter's default applied). */
  budgets?: NodePoolBudget[];
}

/** The built-in Auto Mode NodePools: EKS owns them and restores any change, so they are never held. */
export const BUILT_IN_NODE_POOLS: readonly string[] = ['general-purpose', 'system'];

/** Karpenter's duration format: hours and minutes. */
export function budgetDuration(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? (m > 0 ? `${h}h${m}m` : `${h}h`) : `${m}m`;
}

/**
 * The hold budget placed at `nowMs` for `forMs` (plus {@link HOLD_MARGIN_MS}): a schedule firing at
 * that UTC minute, active for the whole hold.
 */
export function holdBudget(nowMs: number, forMs: number): NodePoolBudget {
  const d = new Date(nowMs);
  const schedule = `${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
  return { nodes: '0', reasons: ['Drifted'], schedule, duration: budgetDuration(forMs + HOLD_MARGIN_MS) };
}

/** The hold record of a pool's annotation, or undefined when it has none (or one that does not parse). */
export function parseHold(annotations: Record<string, string> | undefined): HoldRecord | undefined {
  const text = annotations?.[HOLD_ANNOTATION];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<HoldRecord>;
    if (typeof v.workflowId !== 'string' || typeof v.runId !== 'string') return undefined;
    return v as HoldRecord;
  } catch {
    return undefined;
  }
}

/** NodeClaims on the target minor out of all of them: "12/20 on 1.31". */
export interface NodeClaimCount {
  onTarget: number;
  total: number;
  target: string;
}

export function describeNodeClaimCount(c: NodeClaimCount): string {
  return `${c.onTarget}/${c.total} on ${c.target}`;
}
