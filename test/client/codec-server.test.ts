/**
 * The codec server the Temporal Web UI calls to read payloads the payload codec gzipped: the
 * real HTTP protocol (protobuf JSON, base64 bytes), CORS for the UI's origin, errors that name the
 * field, and the `fleetwave codec-server` command as users run it.
 */
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
