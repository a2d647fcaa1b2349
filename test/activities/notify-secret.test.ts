/**
 * The deliverNotification activity reading its webhook URL from a Kubernetes Secret the way a
 * worker does (activities/notify.ts readSecretFromOwnCluster): @kubernetes/client-node with the
 * worker's kubeconfig (KUBECONFIG), here pointed at a simulated cluster's API over TLS with an EKS
 * token. Failures name the sink, the Secret and the key, never a URL: they land in histories.
 */
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyActivities } from '../../activities/notify';
import { clusterInventorySchema } from '../../domain/fleet';
import type { Notification } from '../../domain/notify';
import type { NotifySink } from '../../domain/spec';
import { startSimulator, type Simulator } from '../../simulator/index';
import { eksClient, eksToken, testFleet } from '../simulator/helpers';

const notification: Notification = {
  id: 'campaign/x/r/1',
  event: 'approval-needed',
  campaign: 'x',
  workflowId: 'campaign/x',
  at: '2026-01-01T00:00:00.000Z',
  reason: 'wave prod waits for approval',
};

let sim: Simulator;
let receiver: Server;
let hook = '';
let dir = '';
const received: { url: string; body: string }[] = [];
const savedKubeconfig = process.env.KUBECONFIG;

/** A kubeconfig for `cluster` as its worker would hold it: the endpoint, its CA and a bearer token. */
async function writeKubeconfig(cluster: string): Promise<string> {
  const { cluster: described } = await eksClient(sim).send(new DescribeClusterCommand({ name: cluster }));
  const file = join(dir, `${cluster}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: ${cluster}`,
      '  cluster:',
      `    server: ${described?.endpoint}`,
      `    certificate-authority-data: ${described?.certificateAuthority?.data}`,
      'users:',
      '- name: worker',
      '  user:',
      `    token: ${await eksToken(cluster)}`,
      'contexts:',
      `- name: ${cluster}`,
      '  context:',
      `    cluster: ${cluster}`,
      '    user: worker',
      `current-context: ${cluster}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function seed(cluster: string, body: Record<string, unknown>): Promise<void> {
  const answer = await fetch(`${sim.url}/sim/secrets`, {
    method: 'POST',
    body: JSON.stringify({ cluster, ...body }),
  });
  expect(answer.status).toBe(200);
}

const activities = createNotifyActivities({ env: {}, uiUrl: (id, ns) => `http://ui/${ns}/${id}` });
const sink = (key: string, name = 'hooks'): NotifySink => ({
  name: 'team',
  kind: 'slack',
  urlFromSecret: { namespace: 'fleetwave', name, key },
});

/** The failure of one delivery; its message must name no URL. */
async function failure(s: NotifySink): Promise<Error & { nonRetryable?: boolean }> {
  const err = await activities.deliverNotification({ sink: s, notification }).then(
    () => undefined,
    (e: unknown) => e as Error & { nonRetryable?: boolean },
  );
  if (!err) throw new Error('the delivery succeeded');
  expect(err.message).not.toMatch(/https?:|127\.0\.0\.1|localhost|T000/);
  return err;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/services/T000/B000/XXXX`;
  // A worker whose access entry has only AmazonEKSViewPolicy (simulator/k8s-access.ts).
  const viewer = clusterInventorySchema.parse({
    name: 'viewer',
    region: 'us-east-1',
    account: '111111111111',
    version: '1.30',
    accessPolicy: 'AmazonEKSViewPolicy',
  });
  sim = await startSimulator({ fleet: [...testFleet(), viewer], port: 0, timeScale: 60 });
  dir = mkdtempSync(join(tmpdir(), 'fleetwave-notify-secret-'));
  for (const cluster of ['alpha', 'viewer']) {
    await seed(cluster, {
      namespace: 'fleetwave',
      name: 'hooks',
      data: { slack: Buffer.from(hook).toString('base64'), empty: '' },
    });
  }
}, 60_000);

afterAll(async () => {
  if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfig;
  await sim?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('deliverNotification with urlFromSecret, read through the worker kubeconfig', () => {
  it('resolves the URL from the Secret and posts the Slack message to it', async () => {
    process.env.KUBECONFIG = await writeKubeconfig('alpha');
    await activities.deliverNotification({ sink: sink('slack'), notification });
    expect(received.at(-1)?.url).toBe('/services/T000/B000/XXXX');
    expect(JSON.stringify(JSON.parse(received.at(-1)?.body ?? '{}'))).toContain('wave prod waits for approval');
  });

  it('a missing or empty key names the Secret and the key', async () => {
    process.env.KUBECONFIG = await writeKubeconfig('alpha');
    expect(await failure(sink('teams'))).toMatchObject({
      message: 'sink team: key teams of Secret fleetwave/hooks is not set',
      nonRetryable: false,
    });
    expect((await failure(sink('empty'))).message).toBe('sink team: key empty of Secret fleetwave/hooks is not set');
  });

  it('a missing Secret is the API server’s 404 NotFound, named with the key', async () => {
    process.env.KUBECONFIG = await writeKubeconfig('alpha');
    expect((await failure(sink('slack', 'gone'))).message).toBe(
      'sink team: key slack of Secret fleetwave/gone not readable (HTTP 404 NotFound)',
    );
  });

  it('a worker whose access entry has only AmazonEKSViewPolicy may not read Secrets: 403 Forbidden', async () => {
    process.env.KUBECONFIG = await writeKubeconfig('viewer');
    expect((await failure(sink('slack'))).message).toBe(
      'sink team: key slack of Secret fleetwave/hooks not readable (HTTP 403 Forbidden)',
    );
  });

  it('an API server that cannot be reached is named by the error code, not its address', async () => {
    const file = join(dir, 'unreachable.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n' +
        'users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n' +
        'current-context: c\n',
    );
    process.env.KUBECONFIG = file;
    expect((await failure(sink('slack'))).message).toMatch(
      /^sink team: key slack of Secret fleetwave\/hooks not readable \([A-Za-z_]+\)$/,
    );
  });
});
