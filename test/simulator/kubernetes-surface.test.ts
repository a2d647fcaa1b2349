/**
 * The parts of a simulated cluster's Kubernetes API that kubectl relies on, checked at the wire:
 * anonymous health endpoints, discovery, Tables, Status objects on errors, cordon patches,
 * evictions under PodDisruptionBudgets, and watch streams (through @kubernetes/client-node's Watch).
 */
import { DescribeClusterCommand, DescribeUpdateCommand, UpdateNodegroupVersionCommand } from '@aws-sdk/client-eks';
import { Watch, type V1Node } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index';
import { eksClient, eksToken, kubeConfig, rawKubernetes, testFleet, waitFor, type RawAnswer } from './helpers';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

async function cluster(s: Simulator, name: string, region = 'us-east-1') {
  const { cluster: described } = await eksClient(s, region).send(new DescribeClusterCommand({ name }));
  const endpoint = described?.endpoint as string;
  const token = await eksToken(name, region);
  const call = (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown; anonymous?: boolean } = {},
  ): Promise<RawAnswer> =>
    rawKubernetes(`${endpoint}${path}`, s.caPem, {
      method: init.method ?? 'GET',
      headers: { ...(init.anonymous ? {} : { authorization: `Bearer ${token}` }), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  return { endpoint, token, ca: described?.certificateAuthority?.data as string, call };
}

describe('simulated Kubernetes API surface', () => {
  it('serves /healthz, /livez, /readyz without a token, and /version without one only before 1.32', async () => {
    const fleet = testFleet().map((c) => (c.name === 'beta' ? { ...c, version: '1.32', addons: [] } : c));
    sim = await startSimulator({ fleet, port: 0, timeScale: 60 });
    const alpha = await cluster(sim, 'alpha');
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const answer = await alpha.call(path, { anonymous: true });
      expect([answer.status, answer.text]).toEqual([200, 'ok']);
    }
    expect((await alpha.call('/version', { anonymous: true })).status).toBe(200);
    expect((await alpha.call('/api/v1/nodes', { anonymous: true })).status).toBe(401);

    const beta = await cluster(sim, 'beta', 'eu-west-1');
    const anonymous = await beta.call('/version', { anonymous: true });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json()).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect(await beta.call('/version')).toMatchObject({ status: 200 });
    expect((await beta.call('/healthz', { anonymous: true })).status).toBe(200);
  });

  it('answers discovery for every group it serves, and a Status object for every error', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { call, endpoint } = await cluster(sim, 'alpha');
    expect((await call('/api')).json()).toMatchObject({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: new URL(endpoint).host }],
    });
    const groups = (await call('/apis')).json() as {
      groups: { name: string; preferredVersion: { groupVersion: string } }[];
    };
    const served = groups.groups.map((g) => g.preferredVersion.groupVersion);
    expect(served).toEqual([
      'apps/v1',
      'coordination.k8s.io/v1',
      'authentication.k8s.io/v1',
      'policy/v1',
      'metrics.k8s.io/v1beta1',
    ]);
    for (const gv of ['v1', ...served]) {
      const list = (await call(gv === 'v1' ? '/api/v1' : `/apis/${gv}`)).json() as {
        kind: string;
        groupVersion: string;
        resources: { name: string; kind: string; verbs: string[]; group?: string }[];
      };
      expect(list).toMatchObject({ kind: 'APIResourceList', groupVersion: gv });
      expect(list.resources.length).toBeGreaterThan(0);
    }
    const core = (await call('/api/v1')).json() as { resources: { name: string; group?: string; kind: string }[] };
    // kubectl drain looks for this subresource before it evicts.
    expect(core.resources).toContainEqual(
      expect.objectContaining({ name: 'pods/eviction', group: 'policy', version: 'v1', kind: 'Eviction' }),
    );

    const errors: [RawAnswer, number, string][] = [
      [await call('/api/v1/nodes/nope'), 404, 'NotFound'],
      [await call('/apis/example.com/v1/widgets'), 404, 'NotFound'],
      [await call('/api/v1/nodes', { method: 'POST', body: {} }), 405, 'MethodNotAllowed'],
      [await call('/api/v1/watchless?watch=1'), 405, 'MethodNotAllowed'],
      [await call('/api/v1/pods?labelSelector=a%20in%20(', {}), 400, 'BadRequest'],
    ];
    const node = ((await call('/api/v1/nodes')).json() as { items: V1Node[] }).items[0]?.metadata?.name as string;
    errors.push([
      await call(`/api/v1/nodes/${node}`, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: {} }),
      415,
      'UnsupportedMediaType',
    ]);
    errors.push([
      await call(`/api/v1/nodes/${node}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: { metadata: { labels: { a: 'b' } } },
      }),
      422,
      'Invalid',
    ]);
    // The body of a GET of a missing object, as the API conventions show it ("Response Status Kind").
    expect((await call('/api/v1/namespaces/fleetwave/secrets/hooks')).json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'secrets "hooks" not found',
      reason: 'NotFound',
      details: { name: 'hooks', kind: 'secrets' },
      code: 404,
    });
    for (const [answer, code, reason] of errors) {
      expect(answer.headers['content-type']).toContain('application/json');
      expect(answer.json()).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
    }
  });

  it('serves seeded Secrets with base64 data, and refuses seeds the API server would refuse', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { call } = await cluster(sim, 'alpha');
    const seed = async (body: Record<string, unknown>) => {
      const answer = await fetch(`${sim?.url}/sim/secrets`, {
        method: 'POST',
        body: JSON.stringify({ cluster: 'alpha', namespace: 'fleetwave', name: 'hooks', ...body }),
      });
      return { status: answer.status, body: (await answer.json()) as { error?: string; keys?: string[] } };
    };
    expect(await seed({ data: { a: Buffer.from('x').toString('base64') }, stringData: { a: 'y', b: 'z' } })).toEqual({
      status: 200,
      body: { cluster: 'alpha', namespace: 'fleetwave', name: 'hooks', keys: ['a', 'b'] },
    });
    const secret = (await call('/api/v1/namespaces/fleetwave/secrets/hooks')).json() as Record<string, unknown>;
    // stringData is write-only and wins over data for the same key.
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', data: { a: 'eQ==', b: 'eg==' } });
    expect(secret).not.toHaveProperty('stringData');
    const list = (await call('/api/v1/secrets')).json() as { kind: string; items: { metadata: { name: string } }[] };
    expect([list.kind, list.items.map((i) => i.metadata.name)]).toEqual(['SecretList', ['hooks']]);
    expect((await seed({ name: 'Hooks' })).body.error).toMatch(/^name: must be a DNS subdomain/);
    expect((await seed({ data: { 'a/b': 'eQ==' } })).body.error).toMatch(/^data\[a\/b\]: a key must consist of/);
    expect((await seed({ data: { a: 'not base64!' } })).body.error).toBe('data[a]: must be base64');
    expect((await seed({ cluster: 'nope' })).status).toBe(404);
  });

  it('answers meta.k8s.io/v1 Tables when asked, with the printer columns and each row’s metadata', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { call } = await cluster(sim, 'alpha');
    const table = (await call('/api/v1/nodes', { headers: { accept: TABLE } })).json() as {
      kind: string;
      columnDefinitions: { name: string; priority?: number }[];
      rows: { cells: unknown[]; object: { kind: string; metadata: { name: string } } }[];
    };
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.filter((c) => !c.priority).map((c) => c.name)).toEqual([
      'Name',
      'Status',
      'Roles',
      'Age',
      'Version',
    ]);
    expect(table.rows).toHaveLength(5);
    expect(table.rows[0]?.object).toMatchObject({ kind: 'PartialObjectMetadata' });
    expect(table.rows[0]?.cells[0]).toBe(table.rows[0]?.object.metadata.name);
    // Plain JSON stays the default.
    expect(((await call('/api/v1/nodes')).json() as { kind: string }).kind).toBe('NodeList');
    const pods = (await call('/api/v1/pods', { headers: { accept: TABLE } })).json() as {
      columnDefinitions: { name: string }[];
    };
    expect(pods.columnDefinitions.slice(0, 5).map((c) => c.name)).toEqual([
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
    ]);
  });

  it('evicts a pod when its PodDisruptionBudget allows it, then answers 429 TooManyRequests', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { call } = await cluster(sim, 'alpha');
    const pods = (
      (await call('/api/v1/namespaces/payments/pods')).json() as { items: { metadata: { name: string } }[] }
    ).items;
    expect(pods).toHaveLength(2);
    const evict = (name: string, dryRun = false) =>
      call(`/api/v1/namespaces/payments/pods/${name}/eviction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace: 'payments' },
          ...(dryRun ? { deleteOptions: { dryRun: ['All'] } } : {}),
        },
      });
    const [first, second] = pods.map((p) => p.metadata.name) as [string, string];
    expect((await evict(first, true)).status).toBe(201);
    expect((await call(`/api/v1/namespaces/payments/pods/${first}`)).status).toBe(200);
    const evicted = await evict(first);
    expect(evicted.status).toBe(201);
    expect(evicted.json()).toMatchObject({ kind: 'Status', status: 'Success' });
    expect((await call(`/api/v1/namespaces/payments/pods/${first}`)).status).toBe(404);
    const pdb = (await call('/apis/policy/v1/namespaces/payments/poddisruptionbudgets/api')).json() as {
      status: Record<string, number>;
    };
    expect(pdb.status).toMatchObject({ currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 2 });

    const refused = await evict(second);
    expect(refused.status).toBe(429);
    expect(refused.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      reason: 'TooManyRequests',
      details: {
        causes: [
          { reason: 'DisruptionBudget', message: 'The disruption budget api needs 1 healthy pods and has 1 currently' },
        ],
      },
      code: 429,
    });
    // A pod no budget covers is deleted directly.
    const web = (
      (await call('/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).json() as {
        items: { metadata: { name: string } }[];
      }
    ).items[0]?.metadata.name as string;
    expect((await call(`/api/v1/namespaces/default/pods/${web}`, { method: 'DELETE' })).json()).toMatchObject({
      kind: 'Pod',
      metadata: { name: web },
    });
    expect((await call(`/api/v1/namespaces/default/pods/${web}`)).status).toBe(404);
  });

  it('a node-group update meets the budgets as the Eviction API answers them: one eviction left none, so the drain fails', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { call } = await cluster(sim, 'alpha');
    const eks = eksClient(sim);
    const pod = ((await call('/api/v1/namespaces/payments/pods')).json() as { items: { metadata: { name: string } }[] })
      .items[0]?.metadata.name as string;
    // The fleet file's budget allows one disruption: a client's eviction spends it.
    const evicted = await call(`/api/v1/namespaces/payments/pods/${pod}/eviction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'payments' } },
    });
    expect(evicted.status).toBe(201);
    const ng = { clusterName: 'alpha', nodegroupName: 'general' };
    const started = await eks.send(new UpdateNodegroupVersionCommand(ng));
    sim.advance(60 * 60_000);
    const { update } = await eks.send(
      new DescribeUpdateCommand({ name: 'alpha', nodegroupName: 'general', updateId: started.update?.id as string }),
    );
    expect(update?.status).toBe('Failed');
    expect(update?.errors?.[0]?.errorCode).toBe('PodEvictionFailure');
    expect(update?.errors?.[0]?.errorMessage).toContain('payments/api');
  });

  it('streams node watch events: ADDED for each node, MODIFIED on cordon, through client-node Watch', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 60 });
    const { endpoint, token, ca, call } = await cluster(sim, 'alpha');
    const events: { type: string; name: string; unschedulable: boolean }[] = [];
    const watch = new Watch(kubeConfig(endpoint, token, ca));
    const controller = await watch.watch(
      '/api/v1/nodes',
      { allowWatchBookmarks: true },
      (type: string, node: V1Node) =>
        events.push({ type, name: node.metadata?.name ?? '', unschedulable: node.spec?.unschedulable === true }),
      () => undefined,
    );
    try {
      await waitFor('ADDED for every node', () => (events.length >= 5 ? true : undefined));
      expect(events.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'ADDED', 'ADDED', 'ADDED']);
      const name = events[0]?.name as string;
      const patched = await call(`/api/v1/nodes/${name}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/strategic-merge-patch+json' },
        body: { spec: { unschedulable: true } },
      });
      expect(patched.json()).toMatchObject({ spec: { unschedulable: true } });
      const modified = await waitFor('MODIFIED', () => events.find((e) => e.type === 'MODIFIED'));
      expect(modified).toEqual({ type: 'MODIFIED', name, unschedulable: true });
    } finally {
      controller.abort();
    }
  });
});
