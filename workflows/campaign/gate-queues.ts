/**
 * Where the campaign's health-gate batches run (watchHealthGates). A gate is read by the worker
 * that runs its activity, from that worker's Prometheus, CloudWatch endpoint or webhook receiver,
 * so a gate of a cluster whose network keeps those private must run on that network's task queue,
 * as the cluster's own activities do (`FleetMember.taskQueue`).
 *
 * - A cluster gate runs on its cluster's queue; clusters without one on the campaign's.
 * - A wave gate (scope: wave) measures the wave as a whole, once: on the queue its clusters share,
 *   and on the campaign's queue when they are on several (or none). Its query then spans networks,
 *   so it needs a Prometheus that sees them all, which is the campaign worker's to reach.
 *
 * Pairs are grouped by queue in the order their queues first appear, and each group is cut into
 * batches of `size`. Without any queue this is one group in the original order: the batches (and
 * so the commands) are exactly those of a campaign started before gates followed the queues.
 */

/** One batch of gate pairs and the queue it runs on (absent: the campaign's). */
export interface GateBatch<T> {
  pairs: T[];
  taskQueue?: string;
}

/** The queue every one of `queues` names, or undefined when they differ or name none. */
export function sharedQueue(queues: readonly (string | undefined)[]): string | undefined {
  const first = queues[0];
  return first !== undefined && queues.every((q) => q === first) ? first : undefined;
}

/** `pairs` grouped by `queueOf`, each group in batches of `size` (see the file header). */
export function batchesByQueue<T>(
  pairs: readonly T[],
  queueOf: (pair: T) => string | undefined,
  size: number,
): GateBatch<T>[] {
  const groups = new Map<string | undefined, T[]>();
  for (const pair of pairs) {
    const queue = queueOf(pair);
    const group = groups.get(queue);
    if (group) group.push(pair);
    else groups.set(queue, [pair]);
  }
  const batches: GateBatch<T>[] = [];
  for (const [taskQueue, group] of groups) {
    for (let i = 0; i < group.length; i += size) {
      batches.push({ pairs: group.slice(i, i + size), ...(taskQueue !== undefined ? { taskQueue } : {}) });
    }
  }
  return batches;
}
