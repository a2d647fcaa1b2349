/**
 * Unit-level tests of the activities' pure parts: idempotency tokens, error classification,
 * Prometheus answer classification, the gate loop over a scripted Prometheus, the EKS token
 * format and the in-memory KubeConfig. Integration against the simulator lives in
 * eks-activities / kubernetes-activities / gate-activities tests.
 */
import {
  InvalidParameterException,
  ResourceInUseException,
  ResourceNotFoundException,
  ServerException,
  EKSServiceException,
  type DescribeAddonVersionsCommand,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createDefaultDeps, kubeConfigFor } from '../../activities/aws';
import { clientRequestToken } from '../../activities/eks/start';
import { compatibleAddonVersions } from '../../activities/eks/read';
import { compareAddonVersions } from '../../domain/versions';
import { createEksToken, EKS_TOKEN_PREFIX } from '../../activities/eks-token';
import { classifyError, toActivityFailure } from '../../activities/failures';
import { createActivityParts } from '../../activities/index';
import { classifyQueryResult } from '../../activities/prometheus';
import { runActivity } from './activity-harness';
import { FailureTypes, type EvaluateHealthGateInput } from '../../activities/types';
import { parseCondition } from '../../domain/gates';
import { healthGateSchema } from '../../domain/spec';

const cluster = { name: 'prod-use1-a', region: 'us-east-1' };

describe('AWS clients', () => {
  it('are made once per service, region and role, EKS on its own endpoint when one is set', async () => {
    const deps = createDefaultDeps({
      endpoint: 'http://127.0.0.1:4001',
      eksEndpoint: 'http://127.0.0.1:4002',
      credentials: { accessKeyId: 'AKIDUNIT', secretAccessKey: 'unit' },
    });
    const east = { region: 'us-east-1' };
    const role = { region: 'us-east-1', roleArn: 'arn:aws:iam::111122223333:role/fleetwave' };
    expect(deps.eks(east)).toBe(deps.eks({ region: 'us-east-1' }));
    expect(deps.eks(east)).not.toBe(deps.eks({ region: 'eu-west-1' }));
    expect(deps.eks(east)).not.toBe(deps.eks(role));
    expect(deps.ssm?.(east)).toBe(deps.ssm?.(east));
    expect(await deps.eks(east).config.region()).toBe('us-east-1');
    expect(await deps.eks({ region: 'eu-west-1' }).config.region()).toBe('eu-west-1');
    const port = async (c: { config: { endpoint?: unknown } }) =>
      ((await (c.config.endpoint as () => Promise<{ port?: number }>)()) ?? {}).port;
    expect(await port(deps.eks(east))).toBe(4002);
    const sts = deps.sts?.(east);
    expect(sts).toBeDefined();
    if (sts) expect(await port(sts)).toBe(4001);
  });
});

describe('clientRequestToken', () => {
  const id = { campaign: 'c1', cluster, attempt: 1 };
  it('is deterministic and UUID-shaped', () => {
    const a = clientRequestToken(id, 'controlplane', '1.31');
    expect(a).toBe(clientRequestToken({ ...id, cluster: { ...cluster } }, 'controlplane', '1.31'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('differs per step, target and attempt', () => {
    const base = clientRequestToken(id, 'controlplane', '1.31');
    expect(clientRequestToken(id, 'controlplane', '1.30')).not.toBe(base);
    expect(clientRequestToken(id, 'addon:vpc-cni', '1.31')).not.toBe(base);
    expect(clientRequestToken({ ...id, attempt: 2 }, 'controlplane', '1.31')).not.toBe(base);
    expect(clientRequestToken({ ...id, campaign: 'c2' }, 'controlplane', '1.31')).not.toBe(base);
  });
});

describe('compareAddonVersions', () => {
  it('orders eksbuild versions numerically', () => {
    const sorted = ['v1.18.10-eksbuild.1', 'v1.18.2-eksbuild.3', 'v1.19.0-eksbuild.1', 'v1.18.2-eksbuild.12'].sort(
      compareAddonVersions,
    );
    expect(sorted).toEqual(['v1.18.2-eksbuild.3', 'v1.18.2-eksbuild.12', 'v1.18.10-eksbuild.1', 'v1.19.0-eksbuild.1']);
  });
});

describe('compatibleAddonVersions', () => {
  it('asks EKS once per client, minor and add-on while the answer is recent', async () => {
    const asked: string[] = [];
    const client = {
      send: async (command: DescribeAddonVersionsCommand) => {
        const { kubernetesVersion, addonName } = command.input;
        asked.push(`${kubernetesVersion} ${addonName}`);
        const compatibilities = [{ clusterVersion: kubernetesVersion, defaultVersion: true }];
        return { addons: [{ addonName, addonVersions: [{ addonVersion: 'v1.0.0-eksbuild.1', compatibilities }] }] };
      },
    } as unknown as EKSClient;
    const once = await compatibleAddonVersions(client, '1.31', 'coredns');
    expect(await compatibleAddonVersions(client, '1.31', 'coredns')).toEqual(once);
    expect(once).toEqual([{ version: 'v1.0.0-eksbuild.1', isDefault: true }]);
    await compatibleAddonVersions(client, '1.32', 'coredns');
    await compatibleAddonVersions(client, '1.31', 'vpc-cni');
    expect(asked).toEqual(['1.31 coredns', '1.32 coredns', '1.31 vpc-cni']);
  });
});

describe('error classification', () => {
  const meta = { $metadata: {} };
  it('maps EKS client errors to non-retryable contract types', () => {
    const invalid = toActivityFailure(
      new InvalidParameterException({ message: 'bad version', ...meta }),
      'UpdateClusterVersion x',
    );
    expect(invalid.type).toBe(FailureTypes.InvalidRequest);
    expect(invalid.nonRetryable).toBe(true);
    expect(invalid.message).toContain('InvalidParameterException');
    const missing = toActivityFailure(
      new ResourceNotFoundException({ message: 'no such cluster', ...meta }),
      'DescribeCluster x',
    );
    expect(missing.type).toBe(FailureTypes.NotFound);
    expect(missing.nonRetryable).toBe(true);
  });
  it('keeps throttling, 5xx, in-use and network errors retryable', () => {
    const throttled = new EKSServiceException({
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 429 },
    });
    expect(classifyError(throttled)).toBe('throttling');
    expect(toActivityFailure(throttled, 'x').nonRetryable).toBe(false);
    const server = new ServerException({ message: 'boom', $metadata: { httpStatusCode: 500 } });
    expect(toActivityFailure(server, 'x').nonRetryable).toBe(false);
    const inUse = new ResourceInUseException({ message: 'busy', ...meta });
    expect(toActivityFailure(inUse, 'x').nonRetryable).toBe(false);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const failure = toActivityFailure(refused, 'x');
    expect(failure.type).toBe('NetworkError');
    expect(failure.nonRetryable).toBe(false);
  });
  it('passes ApplicationFailures through', () => {
    const f = ApplicationFailure.nonRetryable('no', 'VersionSkew');
    expect(toActivityFailure(f, 'x')).toBe(f);
  });
});

describe('classifyQueryResult', () => {
  const lt = parseCondition('< 0.01')!;
  const vector = (...values: string[]) => ({
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })),
    },
  });
  it('passes and fails by the condition', () => {
    expect(classifyQueryResult(vector('0.001'), lt)).toMatchObject({ kind: 'pass', value: '0.001' });
    expect(classifyQueryResult(vector('0.5'), lt)).toMatchObject({ kind: 'fail', value: '0.5' });
    expect(classifyQueryResult(vector('+Inf'), lt).kind).toBe('fail');
  });
  it('needs every series to pass', () => {
    expect(classifyQueryResult(vector('0.001', '0.2'), lt)).toMatchObject({ kind: 'fail', value: '0.2' });
  });
  it('never passes without data', () => {
    expect(classifyQueryResult(vector(), lt).kind).toBe('inconclusive');
    expect(classifyQueryResult(vector('NaN'), lt).kind).toBe('inconclusive');
    expect(classifyQueryResult(vector('0.001', 'NaN'), lt).kind).toBe('inconclusive');
  });
  it('reads scalars and rejects other result types', () => {
    expect(classifyQueryResult({ status: 'success', data: { resultType: 'scalar', result: [1, '0'] } }, lt).kind).toBe(
      'pass',
    );
    expect(classifyQueryResult({ status: 'success', data: { resultType: 'matrix', result: [] } }, lt).kind).toBe(
      'error',
    );
    expect(classifyQueryResult({ status: 'error', errorType: 'bad_data', error: 'parse error' }, lt).kind).toBe(
      'error',
    );
  });
});

describe('evaluateHealthGate over a scripted Prometheus', () => {
  const gate = healthGateSchema.parse({
    name: 'error-ratio',
    query: 'sum(rate(errors{cluster="{{cluster}}"}[1m]))',
    condition: '< 0.01',
    interval: '20ms',
    consecutiveSuccesses: 2,
    failureLimit: 0,
    inconclusiveLimit: 1,
    consecutiveErrorLimit: 1,
    timeout: '2s',
  });
  const input: EvaluateHealthGateInput = { cluster, gate, phase: 'postStep' };
  const answer = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const scripted = (answers: (() => Response)[]) => {
    const queries: string[] = [];
    let i = 0;
    const fetchFn = (async (_url: string | URL | Request, init?: RequestInit) => {
      queries.push(new URLSearchParams(String(init?.body)).get('query') ?? '');
      const next = answers[Math.min(i++, answers.length - 1)];
      return next!();
    }) as typeof fetch;
    return { fetchFn, queries };
  };
  const value = (v: string) => () =>
    answer({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, v] }] } });
  const activities = (fetchFn: typeof fetch, prometheusUrl?: string) =>
    createActivityParts({
      eks: () => {
        throw new Error('unused');
      },
      kube: async () => {
        throw new Error('unused');
      },
      ...(prometheusUrl ? { prometheusUrl } : {}),
      fetch: fetchFn,
    });
  const run = (fetchFn: typeof fetch, prometheusUrl: string | undefined = 'http://prom.test') =>
    runActivity(activities(fetchFn, prometheusUrl).evaluateHealthGate, input);

  it('succeeds after the required passes in a row, with the cluster substituted', async () => {
    const ok = scripted([value('0.001'), value('0.002')]);
    expect(await run(ok.fetchFn)).toMatchObject({
      outcome: 'Successful',
      measurements: 2,
      successes: 2,
      lastValue: '0.002',
    });
    expect(ok.queries[0]).toBe('sum(rate(errors{cluster="prod-use1-a"}[1m]))');
  });
  it('fails at the first failing measurement with failureLimit 0', async () => {
    const { fetchFn, queries } = scripted([value('0.5'), value('0.001'), value('0.002')]);
    expect(await run(fetchFn)).toMatchObject({ outcome: 'Failed', failures: 1, lastValue: '0.5' });
    expect(queries).toHaveLength(1);
  });
  it('is Inconclusive on no data and Error on HTTP errors, never Successful', async () => {
    const empty = scripted([() => answer({ status: 'success', data: { resultType: 'vector', result: [] } })]);
    expect(await run(empty.fetchFn)).toMatchObject({ outcome: 'Inconclusive', inconclusive: 2 });
    const down = scripted([() => answer({ status: 'error', errorType: 'unavailable', error: 'down' }, 503)]);
    const r = await run(down.fetchFn);
    expect(r).toMatchObject({ outcome: 'Error', errors: 2 });
    expect(r.message).toContain('503');
  });
  it('is an Error without a Prometheus URL', async () => {
    const r = await runActivity(activities(scripted([value('0')]).fetchFn).evaluateHealthGate, input);
    expect(r.outcome).toBe('Error');
    expect(r.measurements).toBe(0);
  });
  it('times out as Inconclusive when it cannot decide', async () => {
    const slowGate = { ...gate, consecutiveSuccesses: 1000, timeout: '150ms', interval: '40ms' };
    const r = await runActivity(activities(scripted([value('0')]).fetchFn, 'http://p').evaluateHealthGate, {
      ...input,
      gate: slowGate,
    });
    expect(r.outcome).toBe('Inconclusive');
    expect(r.message).toContain('no decision within 150ms');
  });
  it('after a step (postStep, bake) measures no sooner than one interval; soak and baseline at once', async () => {
    const slow = { ...gate, interval: '1s', consecutiveSuccesses: 1 };
    const firstQueryAfter = async (phase: EvaluateHealthGateInput['phase']) => {
      const started = Date.now();
      let first: number | undefined;
      const fetchFn = (async () => {
        first ??= Date.now() - started;
        return value('0.001')();
      }) as typeof fetch;
      const r = await runActivity(activities(fetchFn, 'http://p').evaluateHealthGate, { ...input, gate: slow, phase });
      expect(r.outcome).toBe('Successful');
      return first ?? Infinity;
    };
    expect(await firstQueryAfter('postStep')).toBeGreaterThanOrEqual(990);
    expect(await firstQueryAfter('bake')).toBeGreaterThanOrEqual(990);
    expect(await firstQueryAfter('soak')).toBeLessThan(900);
    expect(await firstQueryAfter('baseline')).toBeLessThan(900);
  });
  it('continues the tally from heartbeat details after a retry', async () => {
    const env = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: {
        gate: gate.name,
        phase: 'postStep',
        cluster: cluster.name,
        startedAtMs: Date.now(),
        tally: {
          measurements: 5,
          successes: 5,
          failures: 0,
          inconclusive: 0,
          errors: 0,
          consecutiveErrors: 0,
          consecutiveSuccesses: 1,
        },
      },
    });
    const { fetchFn } = scripted([value('0.001')]);
    const r = await runActivity(activities(fetchFn, 'http://p').evaluateHealthGate, input, env);
    expect(r).toMatchObject({ outcome: 'Successful', measurements: 6 });
  });
});

describe('evaluateHealthGates: a batch of cluster × gate pairs in one activity', () => {
  const gate = healthGateSchema.parse({
    name: 'error-ratio',
    query: 'ratio{cluster="{{cluster}}"}',
    condition: '< 0.01',
    interval: '20ms',
    consecutiveSuccesses: 2,
    failureLimit: 0,
    timeout: '2s',
  });
  const latency = healthGateSchema.parse({
    name: 'latency',
    query: 'p99{cluster="{{cluster}}"}',
    condition: '< 1',
    interval: '20ms',
    consecutiveSuccesses: 1,
    timeout: '2s',
  });
  /** Prometheus answers by query: `ratio{cluster="bad"}` is 0.5, everything else 0.001. */
  const prometheus = () => {
    const queries: string[] = [];
    const fetchFn = (async (_url: string | URL | Request, init?: RequestInit) => {
      const query = new URLSearchParams(String(init?.body)).get('query') ?? '';
      queries.push(query);
      const v = query === 'ratio{cluster="bad"}' ? '0.5' : '0.001';
      return new Response(
        JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, v] }] } }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    }) as typeof fetch;
    return { fetchFn, queries };
  };
  const activities = (fetchFn: typeof fetch) =>
    createActivityParts({
      eks: () => {
        throw new Error('unused');
      },
      kube: async () => {
        throw new Error('unused');
      },
      prometheusUrl: 'http://prom.test',
      fetch: fetchFn,
    });
  const ref = (name: string) => ({ name, region: 'eu-west-1' });
  const items = ['good-1', 'bad', 'good-2'].flatMap((name) => [
    { cluster: ref(name), gate },
    { cluster: ref(name), gate: latency },
  ]);

  it('evaluates every pair (a failure does not stop the others) and answers in input order', async () => {
    const { fetchFn, queries } = prometheus();
    const { results } = await runActivity(activities(fetchFn).evaluateHealthGates, {
      phase: 'soak',
      items,
      concurrency: 2,
    });
    expect(results.map((r) => `${r.gate}:${r.outcome}`)).toEqual([
      'error-ratio:Successful',
      'latency:Successful',
      'error-ratio:Failed',
      'latency:Successful',
      'error-ratio:Successful',
      'latency:Successful',
    ]);
    expect(results[2]?.message).toContain('on bad');
    expect(results.every((r) => r.phase === 'soak')).toBe(true);
    // 2 passes for each error-ratio pair but the failing one (1), 1 for each latency pair.
    expect(queries).toHaveLength(2 + 1 + 2 + 3);
  });

  it('does not evaluate again what an earlier attempt decided (heartbeat details)', async () => {
    const decided = {
      gate: 'error-ratio',
      phase: 'soak',
      outcome: 'Successful',
      measurements: 2,
      successes: 2,
      failures: 0,
      inconclusive: 0,
      errors: 0,
      message: 'decided by attempt 1',
    };
    const env = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: {
        phase: 'soak',
        slots: items.map((item, i) => ({
          key: `${item.cluster.name}/${item.gate.name}`,
          ...(i < 4 ? { result: { ...decided, gate: item.gate.name } } : {}),
        })),
      },
    });
    const { fetchFn, queries } = prometheus();
    const { results } = await runActivity(
      activities(fetchFn).evaluateHealthGates,
      { phase: 'soak', items, concurrency: 4 },
      env,
    );
    expect(results.slice(0, 4).map((r) => r.message)).toEqual(Array(4).fill('decided by attempt 1'));
    expect(results.slice(4).map((r) => r.outcome)).toEqual(['Successful', 'Successful']);
    expect(queries.every((q) => q.includes('good-2'))).toBe(true);
    expect(queries).toHaveLength(3);
  });
});

describe('EKS token', () => {
  it('has the aws-iam-authenticator shape', async () => {
    const { token } = await createEksToken({
      clusterName: 'prod-use1-a',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session/token+=' },
      signingDate: new Date('2024-05-01T10:00:00Z'),
    });
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
    const encoded = token.slice(EKS_TOKEN_PREFIX.length);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    const url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const q = url.searchParams;
    expect(q.get('Action')).toBe('GetCallerIdentity');
    expect(q.get('Version')).toBe('2011-06-15');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20240501/eu-west-1/sts/aws4_request');
    expect(q.get('X-Amz-Date')).toBe('20240501T100000Z');
    expect(Number(q.get('X-Amz-Expires'))).toBeLessThanOrEqual(900);
    expect(q.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['host', 'x-k8s-aws-id']));
    expect(q.get('X-Amz-Security-Token')).toBe('session/token+=');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const allowed = new Set([
      'Action',
      'Version',
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-Security-Token',
      'X-Amz-Signature',
      'X-Amz-SignedHeaders',
    ]);
    for (const key of q.keys()) expect(allowed.has(key)).toBe(true);
  });
});

describe('kubeConfigFor', () => {
  it('verifies TLS for HTTPS endpoints and keeps the token in memory only', () => {
    const https = kubeConfigFor(
      cluster,
      { endpoint: 'https://ABC.gr7.us-east-1.eks.amazonaws.com', certificateAuthority: 'Y2E=' },
      'k8s-aws-v1.x',
    );
    expect(https.getCurrentCluster()).toMatchObject({ skipTLSVerify: false, caData: 'Y2E=' });
    expect(https.getCurrentUser()?.token).toBe('k8s-aws-v1.x');
    // A plain-HTTP endpoint would carry the token in clear text: refused unless a test asks for it.
    expect(() => kubeConfigFor(cluster, { endpoint: 'http://127.0.0.1:1' }, 't')).toThrow(
      expect.objectContaining({ type: 'KubernetesInsecureEndpoint', nonRetryable: true }),
    );
    const http = kubeConfigFor(cluster, { endpoint: 'http://127.0.0.1:1' }, 't', { allowPlainHttp: true });
    expect(http.getCurrentCluster()?.skipTLSVerify).toBe(true);
  });
});
