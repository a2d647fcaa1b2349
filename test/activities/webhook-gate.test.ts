/**
 * Webhook health gates against a local HTTP server on 127.0.0.1: what the webhook receives, and
 * how each answer counts. Only "pass" may make a gate Successful; "inconclusive" is no data, and
 * a 500, a timeout or a body that is not the expected JSON are errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivityParts } from '../../activities/index';
import type { EvaluateHealthGateInput } from '../../activities/types';
import type { WebhookGateRequest } from '../../activities/webhook';
import { healthGateSchema, type HealthGateSpec } from '../../domain/spec';
import { activityEnvironment, runActivity } from './activity-harness';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
let received: { path: string; contentType: string | undefined; body: WebhookGateRequest }[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(body) as WebhookGateRequest,
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
});

const answer =
  (status: number, body: string): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

const gate = (webhook: Record<string, unknown> = {}): HealthGateSpec =>
  healthGateSchema.parse({
    name: 'team-check',
    provider: { webhook: { url: `${base}/check?gate=team`, timeout: '300ms', retries: 1, ...webhook } },
    interval: '50ms',
    consecutiveSuccesses: 2,
    inconclusiveLimit: 1,
    consecutiveErrorLimit: 1,
    timeout: '10s',
  });

const input = (g: HealthGateSpec = gate()): EvaluateHealthGateInput => ({
  cluster: { name: 'prod-eu-1', region: 'eu-west-1' },
  gate: g,
  phase: 'postStep',
});

const activities = (env: Record<string, string> = {}) =>
  createActivityParts({ eks: () => undefined as never, kube: async () => undefined as never, env });

describe('webhook gates against a local HTTP server', () => {
  it('passes on "pass", after POSTing the cluster, gate and phase as JSON', async () => {
    handler = answer(200, JSON.stringify({ result: 'pass', reason: 'all SLOs green' }));
    const result = await runActivity(activities().evaluateHealthGate, input());
    expect(result).toMatchObject({ gate: 'team-check', phase: 'postStep', outcome: 'Successful', successes: 2 });
    expect(received).toHaveLength(2);
    expect(received[0]).toEqual({
      path: '/check?gate=team',
      contentType: 'application/json',
      body: { cluster: 'prod-eu-1', wave: null, campaign: null, gate: 'team-check', phase: 'postStep' },
    });
  });

  it('fails on "fail", with the reason in the message', async () => {
    handler = answer(200, JSON.stringify({ result: 'fail', reason: 'checkout error budget burnt' }));
    const result = await runActivity(activities().evaluateHealthGate, input());
    expect(result).toMatchObject({ outcome: 'Failed', failures: 1, successes: 0 });
    expect(result.message).toContain('checkout error budget burnt');
  });

  it('is Inconclusive, never a pass, on "inconclusive"', async () => {
    handler = answer(200, JSON.stringify({ result: 'inconclusive', reason: 'no traffic yet' }));
    const result = await runActivity(activities().evaluateHealthGate, input());
    expect(result).toMatchObject({ outcome: 'Inconclusive', inconclusive: 2, successes: 0 });
    expect(result.message).toContain('no traffic yet');
  });

  it('is an Error on a 500, after its retries', async () => {
    handler = answer(500, JSON.stringify({ result: 'pass' }));
    const result = await runActivity(activities().evaluateHealthGate, input());
    expect(result).toMatchObject({ outcome: 'Error', errors: 2, successes: 0 });
    expect(result.message).toContain('webhook HTTP 500');
    // Two measurements, each one call and one retry.
    expect(received).toHaveLength(4);
  });

  it('is an Error when the webhook does not answer within its timeout', async () => {
    handler = () => undefined;
    const result = await runActivity(activities().evaluateHealthGate, input(gate({ retries: 0 })));
    expect(result).toMatchObject({ outcome: 'Error', errors: 2, successes: 0 });
    expect(result.message).toContain('no answer within 300 ms');
    server.closeAllConnections();
  });

  it('is an Error on a body that is not the expected JSON', async () => {
    for (const body of ['<html>ok</html>', JSON.stringify({ result: 'green' }), JSON.stringify({ status: 'pass' })]) {
      handler = answer(200, body);
      const result = await runActivity(activities().evaluateHealthGate, input(gate({ retries: 0 })));
      expect(result).toMatchObject({ outcome: 'Error', successes: 0 });
      expect(result.message).toContain('webhook answered something other than');
    }
  });

  it('reads a URL with a token from the worker environment, and is an Error without it', async () => {
    handler = answer(200, JSON.stringify({ result: 'pass' }));
    const fromEnv = gate({ url: undefined, urlFromEnv: 'TEAM_CHECK_URL' });
    const ok = await runActivity(
      activities({ TEAM_CHECK_URL: `${base}/hook?token=s3cret` }).evaluateHealthGate,
      input(fromEnv),
    );
    expect(ok.outcome).toBe('Successful');
    expect(received[0]?.path).toBe('/hook?token=s3cret');
    expect(JSON.stringify(ok)).not.toContain('s3cret');

    const missing = await runActivity(activities().evaluateHealthGate, input(fromEnv));
    expect(missing).toMatchObject({ outcome: 'Error', successes: 0 });
    expect(missing.message).toContain('TEAM_CHECK_URL');
  });

  it('tells the webhook the campaign when the campaign workflow runs the gate', async () => {
    handler = answer(200, JSON.stringify({ result: 'pass' }));
    const env = activityEnvironment({
      workflowExecution: { workflowId: 'campaign/spring-upgrade', runId: '00000000-0000-0000-0000-000000000001' },
    });
    const result = await runActivity(activities().evaluateHealthGate, { ...input(), phase: 'soak' }, env);
    expect(result.outcome).toBe('Successful');
    expect(received[0]?.body).toEqual({
      cluster: 'prod-eu-1',
      wave: null,
      campaign: 'spring-upgrade',
      gate: 'team-check',
      phase: 'soak',
    });
  });
});
