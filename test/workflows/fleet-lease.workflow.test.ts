/**
 * The fleet lease workflow on the shared Temporal dev server, driven by small requester workflows
 * (test/fixtures/upgrade-test-workflows.ts) that use the real `requestLease` activity.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLeaseActivities } from '../../activities/leases';
import {
  fleetLeaseStatusQuery,
  fleetLeaseWorkflowId,
  releaseLeaseSignal,
  requestLeaseSignal,
  type FleetLeaseStatus,
} from '../../workflows/definitions';
import type {
  fleetLeaseWorkflow,
  leaseRequesterWorkflow,
  LeaseRequesterInput,
} from '../fixtures/upgrade-test-workflows';
import { finishSignal, leaseRequesterStateQuery } from '../fixtures/upgrade-test-workflows';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import { getTestTemporal, startDedicatedTestTemporal, type TestTemporal } from '../helpers/temporal';
import { isRecordingHistories, recordHistoryFixture } from './history-fixtures';

const WORKFLOWS = path.join(REPO_ROOT, 'test/fixtures/upgrade-test-workflows.ts');

let temporal: TestTemporal;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [temporal, bundle] = await Promise.all([getTestTemporal(), getWorkflowBundle(WORKFLOWS)]);
});

/** Runs `fn` with a worker that hosts the lease, the requesters and the lease activities. */
async function withWorker<T>(fn: (taskQueue: string) => Promise<T>, on: TestTemporal = temporal): Promise<T> {
  const taskQueue = on.taskQueue('fleet-lease');
  const worker = await Worker.create({
    connection: on.nativeConnection,
    namespace: on.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: createLeaseActivities({ client: on.client, taskQueue }),
  });
  return worker.runUntil(() => fn(taskQueue));
}

function startRequester(
  taskQueue: string,
  input: LeaseRequesterInput,
  on: TestTemporal = temporal,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof leaseRequesterWorkflow>> {
  return on.client.workflow.start<typeof leaseRequesterWorkflow>('leaseRequesterWorkflow', {
    workflowId: `lease-requester-${input.holder}-${randomUUID().slice(0, 8)}`,
    taskQueue,
    args: [input],
  });
}

async function waitFor(what: string, test: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const isGranted = async (h: WorkflowHandle): Promise<boolean> =>
  (await h.query(leaseRequesterStateQuery)).granted.length > 0;

/**
 * With FLEETWAVE_RECORD_HISTORIES=1: waits for the lease to exit (it does when idle) and saves its
 * history as test/fixtures/histories/fleet-lease-<name>.json.
 */
async function recordLeaseHistory(labelKey: string, labelValue: string, name: string): Promise<void> {
  if (!isRecordingHistories()) return;
  const lease = temporal.client.workflow.getHandle(fleetLeaseWorkflowId(labelKey, labelValue));
  await lease.result();
  await recordHistoryFixture(lease, `fleet-lease-${name}`);
}

const leaseStatus = (labelKey: string, labelValue: string, on: TestTemporal = temporal): Promise<FleetLeaseStatus> =>
  on.client.workflow.getHandle(fleetLeaseWorkflowId(labelKey, labelValue)).query(fleetLeaseStatusQuery);

describe('fleetLeaseWorkflow', () => {
  it('with max 1, a second requester waits until the first releases; the lease exits when idle', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    await withWorker(async (taskQueue) => {
      const common = { labelKey: 'account', labelValue: account, max: 1, idleTimeoutMs: 1_000 };
      const first = await startRequester(taskQueue, { ...common, holder: 'cluster-a' });
      await waitFor('first grant', () => isGranted(first));
      const second = await startRequester(taskQueue, { ...common, holder: 'cluster-b' });
      await waitFor('second request queued', async () => (await leaseStatus('account', account)).queue.length === 1);

      // Nothing frees the slot: the second keeps waiting.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await isGranted(second)).toBe(false);
      const held = await leaseStatus('account', account);
      expect(held.leaseId).toBe(`account=${account}`);
      expect(held.holders.map((h) => h.holder)).toEqual(['cluster-a']);
      expect(held.queue.map((q) => q.holder)).toEqual(['cluster-b']);

      await first.signal(finishSignal);
      const firstRun = await first.result();
      await waitFor('second grant', () => isGranted(second));
      const { grantedAt } = await second.query(leaseRequesterStateQuery);
      expect(grantedAt).toBeGreaterThanOrEqual(firstRun.releasedAt);
      expect((await second.query(leaseRequesterStateQuery)).granted).toEqual([
        { leaseId: `account=${account}`, holder: 'cluster-b' },
      ]);

      await second.signal(finishSignal);
      await second.result();
      const lease = temporal.client.workflow.getHandle<typeof fleetLeaseWorkflow>(
        fleetLeaseWorkflowId('account', account),
      );
      const final = await lease.result();
      expect(final).toMatchObject({ holders: [], queue: [], granted: 2, runs: 1 });
      await recordLeaseHistory('account', account, 'wait-release-idle-exit');
    });
  });

  it('grants up to max at once, FIFO, and ignores repeated requests', async () => {
    const region = `region-${randomUUID().slice(0, 8)}`;
    await withWorker(async (taskQueue) => {
      const common = { labelKey: 'region', labelValue: region, max: 2, idleTimeoutMs: 1_000 };
      const a = await startRequester(taskQueue, { ...common, holder: 'a' });
      await waitFor('a granted', () => isGranted(a));
      const b = await startRequester(taskQueue, { ...common, holder: 'b' });
      await waitFor('b granted', () => isGranted(b));
      const c = await startRequester(taskQueue, { ...common, holder: 'c' });
      await waitFor('c queued', async () => (await leaseStatus('region', region)).queue.length === 1);

      // A retried requestLease activity signals again: nothing changes.
      const lease = temporal.client.workflow.getHandle(fleetLeaseWorkflowId('region', region));
      await lease.signal(requestLeaseSignal, { requesterWorkflowId: a.workflowId, holder: 'a', max: 2 });
      await lease.signal(requestLeaseSignal, { requesterWorkflowId: c.workflowId, holder: 'c', max: 2 });
      const status = await leaseStatus('region', region);
      expect(status.holders.map((h) => h.holder)).toEqual(['a', 'b']);
      expect(status.queue.map((q) => q.holder)).toEqual(['c']);

      await b.signal(finishSignal);
      await waitFor('c granted', () => isGranted(c));
      for (const h of [a, c]) await h.signal(finishSignal);
      await Promise.all([a.result(), b.result(), c.result()]);
      // Releasing twice is harmless.
      await lease.signal(releaseLeaseSignal, { requesterWorkflowId: b.workflowId, holder: 'b' }).catch(() => undefined);
      await recordLeaseHistory('region', region, 'fifo-repeated-requests');
    });
  });

  it('frees the slot of a requester that closed without releasing (liveness check)', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    await withWorker(async (taskQueue) => {
      const common = {
        labelKey: 'account',
        labelValue: account,
        max: 1,
        idleTimeoutMs: 1_000,
        livenessCheckIntervalMs: 1_000,
      };
      const crashed = await startRequester(taskQueue, { ...common, holder: 'crashed' });
      await waitFor('grant', () => isGranted(crashed));
      const waiting = await startRequester(taskQueue, { ...common, holder: 'waiting' });
      await waitFor('queued', async () => (await leaseStatus('account', account)).queue.length === 1);

      await crashed.terminate('simulated campaign crash');
      await waitFor('grant after the liveness check', () => isGranted(waiting));
      expect((await leaseStatus('account', account)).holders.map((h) => h.holder)).toEqual(['waiting']);
      await waiting.signal(finishSignal);
      await waiting.result();
      await recordLeaseHistory('account', account, 'liveness-check');
    });
  });

  it('gives the slot to the next in line when the requester is gone at grant time', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    await withWorker(async (taskQueue) => {
      const common = { labelKey: 'account', labelValue: account, max: 1, idleTimeoutMs: 1_000 };
      const holder = await startRequester(taskQueue, { ...common, holder: 'holder' });
      await waitFor('grant', () => isGranted(holder));
      const gone = await startRequester(taskQueue, { ...common, holder: 'gone' });
      const next = await startRequester(taskQueue, { ...common, holder: 'next' });
      await waitFor('two queued', async () => (await leaseStatus('account', account)).queue.length === 2);
      await gone.terminate('gave up waiting');

      await holder.signal(finishSignal);
      await waitFor('next granted', () => isGranted(next));
      const status = await leaseStatus('account', account);
      expect(status.holders.map((h) => h.holder)).toEqual(['next']);
      await next.signal(finishSignal);
      await next.result();
    });
  });

  it('replaces the slot of a requester whose workflow ID now runs as another chain', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    await withWorker(async (taskQueue) => {
      const common = { labelKey: 'account', labelValue: account, max: 1, idleTimeoutMs: 1_000 };
      const requester = await startRequester(taskQueue, { ...common, holder: 'cluster-a' });
      await waitFor('grant', () => isGranted(requester));
      const before = await leaseStatus('account', account);
      expect(before.holders[0]?.requesterFirstRunId).toBe(requester.firstExecutionRunId);

      // As a campaign restarted under the same ID would ask: same requester and holder, another chain.
      const lease = temporal.client.workflow.getHandle(fleetLeaseWorkflowId('account', account));
      await lease.signal(requestLeaseSignal, {
        requesterWorkflowId: requester.workflowId,
        requesterFirstRunId: 'a-later-chain',
        holder: 'cluster-a',
        max: 1,
      });
      await waitFor('the new chain holds the slot', async () => {
        const s = await leaseStatus('account', account);
        return s.holders[0]?.requesterFirstRunId === 'a-later-chain';
      });
      const after = await leaseStatus('account', account);
      expect(after.holders).toHaveLength(1);
      expect(after.queue).toEqual([]);
      expect(after.granted).toBe(2);
      await requester.signal(finishSignal);
      await requester.result();
    });
  });

  it('continues as new when the server suggests it, carrying holders and queue', async () => {
    // A server of its own: the suggestion comes after 20 events instead of 4,096.
    const dedicated = await startDedicatedTestTemporal({
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 20 },
    });
    try {
      const account = `acct-${randomUUID().slice(0, 8)}`;
      await withWorker(async (taskQueue) => {
        const common = { labelKey: 'account', labelValue: account, max: 1, idleTimeoutMs: 1_000 };
        const requesters: WorkflowHandle<typeof leaseRequesterWorkflow>[] = [];
        for (const holder of ['h1', 'h2', 'h3', 'h4', 'h5']) {
          requesters.push(await startRequester(taskQueue, { ...common, holder }, dedicated));
          await waitFor(`${holder} known to the lease`, async () => {
            const s = await leaseStatus('account', account, dedicated).catch(() => undefined);
            return Boolean(s && [...s.holders, ...s.queue].some((r) => r.holder === holder));
          });
        }
        await waitFor('a continue-as-new', async () => (await leaseStatus('account', account, dedicated)).runs > 1);
        const carried = await leaseStatus('account', account, dedicated);
        expect(carried.holders.map((h) => h.holder)).toEqual(['h1']);
        expect(carried.queue.map((q) => q.holder)).toEqual(['h2', 'h3', 'h4', 'h5']);

        // The new run goes on granting in order as slots come back.
        for (const [i, requester] of requesters.entries()) {
          await waitFor(
            `h${i + 1} granted`,
            async () => (await requester.query(leaseRequesterStateQuery)).granted.length > 0,
          );
          await requester.signal(finishSignal);
          await requester.result();
        }
        const final = await dedicated.client.workflow
          .getHandle<typeof fleetLeaseWorkflow>(fleetLeaseWorkflowId('account', account))
          .result();
        expect(final.granted).toBe(5);
        expect(final.runs).toBeGreaterThan(1);
      }, dedicated);
    } finally {
      await dedicated.teardown();
    }
  });
});
