/**
 * The deliverNotification activity (activities/notify.ts) against a local HTTP receiver: one POST
 * per call with the sink's content type, URLs from the environment or a Secret, and errors that
 * never carry the URL (they land in histories).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyActivities } from '../../activities/notify';
import type { Notification } from '../../domain/notify';

const notification: Notification = {
  id: 'campaign/x/r/1',
  event: 'campaign-ended',
  campaign: 'x',
  workflowId: 'campaign/x',
  at: '2026-01-01T00:00:00.000Z',
  reason: 'completed: 3 upgraded',
};

describe('deliverNotification', () => {
  let server: Server;
  let base = '';
  const seen: { url: string; type: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body });
        res.writeHead(req.url?.startsWith('/fail') ? 503 : 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const activities = (env: Record<string, string>, secret?: string) =>
    createNotifyActivities({
      env,
      uiUrl: (id, ns) => `http://ui/${ns}/${id}`,
      readSecret: async () => secret,
    });

  it('posts a CloudEvent from a URL in the environment', async () => {
    await activities({ HOOK: `${base}/ce?token=s3cret` }).deliverNotification({
      sink: { name: 'siem', kind: 'cloudevents', urlFromEnv: 'HOOK' },
      notification,
    });
    const last = seen.at(-1);
    expect(last?.url).toBe('/ce?token=s3cret');
    expect(last?.type).toBe('application/cloudevents+json; charset=utf-8');
    expect(JSON.parse(last?.body ?? '{}')).toMatchObject({ type: 'io.fleetwave.campaign-ended', id: notification.id });
  });

  it('posts a Slack message from a URL in a Secret', async () => {
    await activities({}, `${base}/slack`).deliverNotification({
      sink: { name: 'ops', kind: 'slack', urlFromSecret: { namespace: 'fleetwave', name: 'hooks', key: 'slack' } },
      notification,
    });
    expect(seen.at(-1)).toMatchObject({ url: '/slack', type: 'application/json' });
  });

  it('fails retryably on an error status, naming the sink and status, never the URL', async () => {
    const failure = await activities({ HOOK: `${base}/fail?token=s3cret` })
      .deliverNotification({ sink: { name: 'siem', kind: 'cloudevents', urlFromEnv: 'HOOK' }, notification })
      .catch((err: unknown) => err as Error & { type?: string; nonRetryable?: boolean });
    expect(failure).toMatchObject({ message: 'sink siem: webhook answered HTTP 503', nonRetryable: false });
  });

  it('names what is missing when the URL is not configured, and refuses non-http URLs', async () => {
    await expect(
      activities({}).deliverNotification({ sink: { name: 's', kind: 'slack', urlFromEnv: 'NOPE' }, notification }),
    ).rejects.toThrow('sink s: environment variable NOPE of the worker is not set');
    await expect(
      activities({ HOOK: 'file:///etc/passwd' }).deliverNotification({
        sink: { name: 's', kind: 'slack', urlFromEnv: 'HOOK' },
        notification,
      }),
    ).rejects.toThrow('sink s: environment variable HOOK of the worker is not an http(s) URL');
  });

  it('does not leak the URL when the webhook cannot be reached', async () => {
    const err = await activities({ HOOK: 'http://127.0.0.1:1/hook?token=s3cret' })
      .deliverNotification({ sink: { name: 's', kind: 'slack', urlFromEnv: 'HOOK' }, notification })
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/^sink s: webhook not reached/);
    expect((err as Error).message).not.toContain('s3cret');
  });
});
