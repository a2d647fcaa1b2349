/**
 * The codec server the Temporal Web UI calls to read payloads the payload codec gzipped: the
 * real HTTP protocol (protobuf JSON, base64 bytes), CORS for the UI's origin, errors that name the
 * field, and the `fleetwave codec-server` command as users run it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GZIP_ENCODING, LargePayloadCodec } from '../../client/payload-codec';
import { startCodecServer, type CodecServer } from '../../client/codec-server';
import { startDevServer } from '../../scripts/dev-server';
import { runCli, startCli } from '../helpers/cli';

const UI = 'http://127.0.0.1:8233';
const b64 = (text: string | Uint8Array) => Buffer.from(text).toString('base64');
const text = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

/** A JSON payload as the SDK writes one: 300 KiB, over the codec's threshold. */
const bigJson = JSON.stringify({
  fleet: Array.from({ length: 9000 }, (_, i) => ({ name: `cluster-${i}`, v: '1.30' })),
});

async function post(server: CodecServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    res,
    json: (await res.json()) as { payloads?: { metadata: Record<string, string>; data: string }[]; error?: string },
  };
}

let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({ port: 0, corsOrigins: [UI] });
});

afterAll(async () => {
  await server?.stop();
});

describe('codec server', () => {
  it('decodes what the payload codec gzipped back to the JSON payload, and passes others through', async () => {
    expect(bigJson.length).toBeGreaterThan(256 * 1024);
    const [compressed] = await new LargePayloadCodec().encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(bigJson) },
    ]);
    expect(Buffer.from(compressed?.metadata?.encoding ?? []).toString()).toBe(GZIP_ENCODING);
    const small = { metadata: { encoding: b64('json/plain') }, data: b64('{"ok":true}') };
    const { res, json } = await post(server, '/decode', {
      payloads: [
        { metadata: { encoding: b64(compressed?.metadata?.encoding ?? '') }, data: b64(compressed?.data ?? '') },
        small,
      ],
    });
    expect(res.status).toBe(200);
    expect(text(json.payloads?.[0]?.metadata.encoding)).toBe('json/plain');
    expect(text(json.payloads?.[0]?.data)).toBe(bigJson);
    expect(json.payloads?.[1]).toEqual(small);
  });

  it('encodes a large payload the way a worker would', async () => {
    const { res, json } = await post(server, '/encode', {
      payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64(bigJson) }],
    });
    expect(res.status).toBe(200);
    expect(text(json.payloads?.[0]?.metadata.encoding)).toBe(GZIP_ENCODING);
    const [decoded] = await new LargePayloadCodec().decode([
      {
        metadata: { encoding: Buffer.from(GZIP_ENCODING) },
        data: Buffer.from(json.payloads?.[0]?.data ?? '', 'base64'),
      },
    ]);
    expect(Buffer.from(decoded?.data ?? []).toString('utf8')).toBe(bigJson);
  });

  it('answers the Web UI origin (preflight and request) and no other', async () => {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: UI, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const allowed = await post(server, '/decode', { payloads: [] }, { origin: UI });
    expect(allowed.res.headers.get('access-control-allow-origin')).toBe(UI);
    const other = await post(server, '/decode', { payloads: [] }, { origin: 'http://evil.example' });
    expect(other.res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a browser request from an origin it does not allow, preflight or simple POST (403)', async () => {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    // A text/plain POST needs no preflight: without the refusal it would be decoded and answered.
    const simple = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
      body: JSON.stringify({ payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64('{"secret":1}') }] }),
    });
    expect(simple.status).toBe(403);
    const body = (await simple.json()) as { error?: string; payloads?: unknown };
    expect(body.payloads).toBeUndefined();
    expect(body.error).toContain('origin http://evil.example is not allowed');
    // Requests without an Origin header (the CLI, curl) are not browser requests: served.
    const cli = await post(server, '/decode', { payloads: [] });
    expect(cli.res.status).toBe(200);
  });

  it('answers a wildcard origin with * and never with credentials', async () => {
    const wild = await startCodecServer({ port: 0, corsOrigins: ['*'] });
    try {
      const { res } = await post(wild, '/decode', { payloads: [] }, { origin: 'http://any.example' });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await wild.stop();
    }
  });

  it('answers 413 to a small request that would inflate without bound, with memory flat', async () => {
    // 28 payloads of 10 MiB of zeros each, gzipped as the codec does: about 280 KB that inflate to 280 MiB.
    const inner = proto.temporal.api.common.v1.Payload.encode({
      metadata: { encoding: Buffer.from('json/plain') },
      data: Buffer.alloc(10 * 2 ** 20),
    }).finish();
    const bomb = { metadata: { encoding: b64(GZIP_ENCODING) }, data: b64(gzipSync(inner, { level: 9 })) };
    const body = JSON.stringify({ payloads: Array.from({ length: 28 }, () => bomb) });
    expect(body.length).toBeLessThan(400_000);
    global.gc?.();
    const before = process.memoryUsage().rss;
    const { res, json } = await post(server, '/decode', body);
    const grown = process.memoryUsage().rss - before;
    expect(res.status).toBe(413);
    expect(json.error).toMatch(/decoded data over \d+ bytes in one request/);
    expect(json.payloads).toBeUndefined();
    // The default budget is 32 MiB; answering the whole 280 MiB grew the process by over a GiB.
    expect(grown).toBeLessThan(128 * 2 ** 20);
  });

  it('answers 413 past the payload count', async () => {
    const small = { metadata: { encoding: b64('json/plain') }, data: b64('1') };
    const { res, json } = await post(server, '/decode', { payloads: Array.from({ length: 1001 }, () => small) });
    expect(res.status).toBe(413);
    expect(json.error).toBe('1001 payloads: at most 1000 per request');
  });

  it('requires the bearer token when it has one, except of CORS preflights', async () => {
    const guarded = await startCodecServer({ port: 0, corsOrigins: [UI], authToken: 's3cret-token' });
    try {
      const none = await post(guarded, '/decode', { payloads: [] });
      expect(none.res.status).toBe(401);
      expect(none.res.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await post(guarded, '/decode', { payloads: [] }, { authorization: 'Bearer s3cret-tokem' });
      expect(wrong.res.status).toBe(401);
      const right = await post(guarded, '/decode', { payloads: [] }, { authorization: 'Bearer s3cret-token' });
      expect(right.res.status).toBe(200);
      expect(right.json).toEqual({ payloads: [] });
      const preflight = await fetch(`${guarded.url}/decode`, {
        method: 'OPTIONS',
        headers: { origin: UI, 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
    } finally {
      await guarded.stop();
    }
  });

  it('refuses bad requests with the field named', async () => {
    const notJson = await post(server, '/decode', 'nope');
    expect(notJson.res.status).toBe(400);
    expect(notJson.json.error).toBe('request body: not JSON');
    const noList = await post(server, '/decode', { payload: [] });
    expect(noList.json.error).toBe('payloads: expected an array');
    const badData = await post(server, '/decode', { payloads: [{ metadata: {}, data: 'not base64!' }] });
    expect(badData.res.status).toBe(400);
    expect(badData.json.error).toBe('payloads[0].data: expected base64');
    const wrongPath = await post(server, '/transcode', { payloads: [] });
    expect(wrongPath.res.status).toBe(404);
    const get = await fetch(`${server.url}/decode`);
    expect(get.status).toBe(405);
  });
});

describe('fleetwave codec-server', () => {
  it('serves until SIGTERM and exits 0', async () => {
    const cli = startCli(['codec-server', '--port', '0', '--json'], { timeoutMs: 30_000 });
    const deadline = Date.now() + 20_000;
    while (!cli.stdout().includes('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const { url } = JSON.parse(cli.stdout()) as { url: string };
    const res = await fetch(`${url}/decode`, { method: 'POST', body: JSON.stringify({ payloads: [] }) });
    expect(await res.json()).toEqual({ payloads: [] });
    cli.child.kill('SIGTERM');
    const run = await cli.done;
    expect(run.code).toBe(0);
  });

  it('exits 2 naming a bad option, before listening', async () => {
    const port = await runCli(['codec-server', '--port', 'http']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port: must be a port number');
    const origin = await runCli(['codec-server', '--cors-origin', 'localhost:8233']);
    expect(origin.code).toBe(2);
    expect(origin.stderr).toContain('--cors-origin: "localhost:8233" is not an origin');
    const missing = await runCli(['codec-server', '--auth-token-file', '/nonexistent/token']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--auth-token-file: /nonexistent/token: no such file');
    const dir = await runCli(['codec-server', '--auth-token-file', os.tmpdir()]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain(`--auth-token-file: ${os.tmpdir()}: is a directory, not a file`);
    const budget = await runCli(['codec-server', '--max-decoded-mib', '0']);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain('--max-decoded-mib: must be a whole number from 1 to 1024');
  });

  it('serves with a token from --auth-token-file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-codec-'));
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'file-token-123\n');
    const cli = startCli(['codec-server', '--port', '0', '--json', '--auth-token-file', file], { timeoutMs: 30_000 });
    try {
      const deadline = Date.now() + 20_000;
      while (!cli.stdout().includes('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const { url, auth } = JSON.parse(cli.stdout()) as { url: string; auth: string };
      expect(auth).toBe('bearer');
      const body = JSON.stringify({ payloads: [] });
      expect((await fetch(`${url}/decode`, { method: 'POST', body })).status).toBe(401);
      const ok = await fetch(`${url}/decode`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer file-token-123' },
      });
      expect(ok.status).toBe(200);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(process.env.FLEETWAVE_TEST_TEMPORAL === 'off')('the Web UI of the dev server', () => {
  it('is told the codec endpoint (what `npm run demo` passes)', { timeout: 120_000 }, async () => {
    const dev = await startDevServer({ uiCodecEndpoint: server.url });
    try {
      const res = await fetch(`${dev.uiUrl}/api/v1/settings`);
      const settings = (await res.json()) as { Codec?: { Endpoint?: string } };
      expect(settings.Codec?.Endpoint).toBe(server.url);
    } finally {
      await dev.stop();
    }
  });
});
