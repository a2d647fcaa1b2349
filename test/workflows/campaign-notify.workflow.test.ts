/**
 * spec.notify end to end on the test Temporal server: the real `deliverNotification` activity posts
 * to a local HTTP receiver on 127.0.0.1. The Slack-shaped and CloudEvents messages arrive for a wave
 * waiting for approval, a rolled-back cluster and the end; a receiver that answers 500 for ever
 * neither holds the campaign nor fails it, and shows in status as a failing sink.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyActivities } from '../../activities/notify';
import { temporalUiUrl } from '../../client/library';
import { approveWaveUpdate, statusQuery, WorkflowTypes } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  makeCampaign,
  recordHistory,
  resultWithin,
  startCampaign,
  uniqueTag,
  waitForStatus,
  withWorker,
} from './campaign-harness';

interface Received {
  path: string;
  contentType: string;
  body: Record<string, unknown>;
}

/** A webhook receiver: /slack and /events answer 200, /dead answers 500 for ever. */
async function startReceiver(): Promise<{ server: Server; base: string; received: Received[]; dead: number[] }> {
  const received: Received[] = [];
  const dead: number[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/dead') {
        dead.push(1);
        res.writeHead(500).end('no');
        return;
      }
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}`, received, dead };
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('campaign notifications', () => {
  let temporal: TestTemporal;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver?.server.close(resolve));
  });

  const notifyActivities = () =>
    createNotifyActivities({
      env: {
        SLACK_WEBHOOK: `${receiver.base}/slack`,
        EVENTS_WEBHOOK: `${receiver.base}/events`,
        DEAD_WEBHOOK: `${receiver.base}/dead`,
      },
      uiUrl: (workflowId, namespace) =>
        temporalUiUrl(undefined, namespace, workflowId, { FLEETWAVE_TEMPORAL_UI: 'http://ui.example' }),
    });

  it('sends Slack and CloudEvents messages for approval needed, a rolled-back cluster and the end', async () => {
    const tag = uniqueTag();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => `nt-${tag}-${n}`) as [string, string, string];
    const fake = createFakeActivities({
      clusters: [
        fakeCluster(a, { behaviour: { failUpdate: { 'nodegroup:ng-a': {} } } }),
        fakeCluster(b),
        fakeCluster(c),
      ],
    });
    const name = `nt-${tag}`;
    const campaign = makeCampaign(name, {
      waves: [
        { name: 'first', count: 2, maxParallel: 1, failureBudget: 1, approval: 'required' },
        { name: 'rest', maxParallel: 1 },
      ],
      notify: [
        { name: 'ops-slack', kind: 'slack', urlFromEnv: 'SLACK_WEBHOOK' },
        { name: 'siem', kind: 'cloudevents', urlFromEnv: 'EVENTS_WEBHOOK' },
      ],
    });
    const taskQueue = temporal.taskQueue('notify');
    const ours = (r: Received) => JSON.stringify(r.body).includes(name);
    const { result, status, events } = await withWorker(
      temporal,
      taskQueue,
      { ...fake.activities, ...notifyActivities() },
      async () => {
        const handle = await startCampaign(
          temporal,
          taskQueue,
          campaign,
          [a, b, c].map((n) => fake.member(n)),
        );
        await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 60_000, 'awaiting approval');
        await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'alice' }] });
        const result = await resultWithin(handle);
        // Delivery is detached from the campaign: the end's messages may arrive after its result.
        await until('the end on both sinks', () =>
          receiver.received.filter((r) => ours(r) && /campaign-ended|Campaign ended/.test(JSON.stringify(r.body)))
            .length >= 2
            ? true
            : undefined,
        );
        const events = (await handle.fetchHistory()).events ?? [];
        await recordHistory(handle, 'notify');
        return { result, status: await handle.query(statusQuery), events };
      },
    );
    expect(result.state).toBe('completed-with-failures');
    expect(result.rolledBack).toEqual([a]);
    expect(status.notifySinks).toBeUndefined();

    const cloudEvents = receiver.received.filter((r) => r.path === '/events' && ours(r));
    const types = cloudEvents.map((r) => r.body.type);
    for (const type of ['approval-needed', 'cluster-rolled-back', 'campaign-ended', 'wave-promoted']) {
      expect(types).toContain(`io.fleetwave.${type}`);
    }
    for (const r of cloudEvents) {
      expect(r.contentType).toMatch(/^application\/cloudevents\+json/);
      expect(r.body).toMatchObject({ specversion: '1.0', source: `fleetwave/campaign/${name}` });
      expect(typeof r.body.id).toBe('string');
    }
    expect(new Set(cloudEvents.map((r) => r.body.id)).size).toBe(cloudEvents.length);
    const rolledBack = cloudEvents.find((r) => r.body.type === 'io.fleetwave.cluster-rolled-back');
    expect(rolledBack?.body).toMatchObject({
      subject: a,
      data: { campaign: name, wave: 'first', cluster: a, uiUrl: expect.stringContaining('http://ui.example/') },
    });

    const slack = receiver.received.filter((r) => r.path === '/slack' && ours(r));
    expect(slack.map((r) => r.body.text)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Wave waiting for approval: nt-.* \(wave first\)/),
        expect.stringMatching(/^Cluster rolled back: nt-.*\(wave first, cluster nt-.*-a\)/),
        expect.stringMatching(/^Campaign ended: nt-/),
      ]),
    );
    for (const r of slack) {
      expect(r.contentType).toBe('application/json');
      const blocks = r.body.blocks as { type: string; elements?: { url?: string }[] }[];
      expect(blocks[0]?.type).toBe('header');
      const button = blocks.find((x) => x.type === 'actions')?.elements?.[0];
      expect(button?.url).toBe(
        `http://ui.example/namespaces/default/workflows/${encodeURIComponent(`campaign/${name}`)}`,
      );
    }
    // What the notifications cost the campaign's history: three events per notification.
    const notifyStarts = events.filter(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === WorkflowTypes.notify,
    );
    console.log(`notifications: ${notifyStarts.length} notify workflows, campaign history ${events.length} events`);
    expect(notifyStarts.length).toBe(cloudEvents.length);
    // No URL in the campaign's history.
    expect(JSON.stringify(events)).not.toContain('127.0.0.1');
  });

  it('a sink that answers 500 for ever neither holds nor fails the campaign, and shows in status', async () => {
    const tag = uniqueTag();
    const [a, b] = ['a', 'b'].map((n) => `nd-${tag}-${n}`) as [string, string];
    const fake = createFakeActivities({ clusters: [fakeCluster(a), fakeCluster(b)] });
    const name = `nd-${tag}`;
    const campaign = makeCampaign(name, {
      waves: [
        { name: 'first', count: 1, approval: 'required' },
        { name: 'rest', maxParallel: 1 },
      ],
      notify: [{ name: 'dead-hook', kind: 'cloudevents', urlFromEnv: 'DEAD_WEBHOOK' }],
    });
    const taskQueue = temporal.taskQueue('notify-dead');
    const { result, failing, endNotification } = await withWorker(
      temporal,
      taskQueue,
      { ...fake.activities, ...notifyActivities() },
      async () => {
        const handle = await startCampaign(
          temporal,
          taskQueue,
          campaign,
          [a, b].map((n) => fake.member(n)),
        );
        // The wave waits for approval while its notification is still being retried.
        const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 60_000, 'awaiting');
        expect(waiting.notifySinks).toBeUndefined();
        const failing = await waitForStatus(handle, (s) => (s.notifySinks?.length ?? 0) > 0, 90_000, 'failing sink');
        await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'alice' }] });
        const result = await resultWithin(handle);
        // The end's notification is still retrying when the campaign has already ended.
        const events = (await handle.fetchHistory()).events ?? [];
        const notifyIds = events
          .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
          .filter((x) => x?.workflowType?.name === WorkflowTypes.notify)
          .map((x) => x?.workflowId ?? '');
        const endHandle = temporal.client.workflow.getHandle(notifyIds.at(-1) ?? '');
        const endNotification = (await endHandle.describe()).status.name;
        // Nothing keeps retrying against the dead receiver after the test.
        for (const id of notifyIds)
          await temporal.client.workflow
            .getHandle(id)
            .terminate('test over')
            .catch(() => {});
        return { result, failing, endNotification };
      },
    );
    expect(result.state).toBe('completed');
    expect(failing.notifySinks).toEqual([
      expect.objectContaining({
        sink: 'dead-hook',
        failures: 1,
        lastEvent: 'approval-needed',
        lastError: expect.stringContaining('HTTP 500'),
      }),
    ]);
    expect(endNotification).toBe('RUNNING');
    expect(receiver.dead.length).toBeGreaterThanOrEqual(5);
  });
});
