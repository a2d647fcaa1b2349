/**
 * `fleetwave doctor`: checks every cluster from the worker that will serve it. Each check is one
 * activity (activities/access.ts) scheduled on the cluster's task queue, so a private endpoint is
 * tried from inside its network, with that worker's credentials. A queue no worker polls is a
 * finding too: the check waits `scheduleToStartTimeout` for one and names the queue.
 *
 * A short-lived workflow of its own (never part of a campaign's history), so the client needs only
 * Temporal: no AWS or network access of its own.
 */
import { ActivityFailure, TimeoutFailure } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';
import type { AccessActivities } from '../activities/access';
import type { ClusterAccessReport } from '../domain/access';
import type { ClusterAccessCheckInput } from './definitions';

/** Checks at once: bounded, so a fleet of thousands does not flood the queues. */
const CONCURRENCY = 20;

const { checkClusterAccess } = proxyActivities<AccessActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 2, initialInterval: '2 seconds' },
});

/** Runs the check of every cluster on its queue; one report per cluster, in input order. */
export async function clusterAccessCheckWorkflow(input: ClusterAccessCheckInput): Promise<ClusterAccessReport[]> {
  const reports: ClusterAccessReport[] = new Array<ClusterAccessReport>(input.clusters.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.clusters.length) {
      const i = next++;
      const item = input.clusters[i]!;
      reports[i] = await checkOne(item, input.scheduleToStartTimeout ?? '1 minute');
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, input.clusters.length) }, lane));
  return reports;
}

async function checkOne(
  { cluster, taskQueue }: ClusterAccessCheckInput['clusters'][number],
  scheduleToStartTimeout: string,
): Promise<ClusterAccessReport> {
  try {
    return await checkClusterAccess.executeWithOptions(
      { scheduleToStartTimeout, summary: `doctor ${cluster.name}`, ...(taskQueue ? { taskQueue } : {}) },
      [{ cluster }],
    );
  } catch (err) {
    const unserved =
      err instanceof ActivityFailure &&
      err.cause instanceof TimeoutFailure &&
      err.cause.timeoutType === 'SCHEDULE_TO_START';
    const why = unserved
      ? `no worker took the check from task queue ${taskQueue ?? '(the campaign queue)'} within ${scheduleToStartTimeout}: start \`fleetwave worker\` with FLEETWAVE_TASK_QUEUE=${taskQueue ?? 'fleetwave'} in the cluster's network`
      : `the check failed: ${err instanceof ActivityFailure && err.cause ? err.cause.message : String(err)}`;
    return {
      cluster: cluster.name,
      ...(taskQueue ? { taskQueue } : {}),
      reachable: false,
      policies: [],
      denied: [],
      missing: [why],
    };
  }
}
