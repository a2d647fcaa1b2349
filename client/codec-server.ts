/**
 * A remote codec server for the Temporal Web UI and CLI: it decodes (and encodes) payloads with
 * fleetwave's payload codec (client/payload-codec.ts), so the large payloads the codec gzips (the
 * fleet in a big campaign's input, a big status answer) read as JSON in the Web UI instead of
 * `binary/fleetwave-gzip`.
 *
 * The protocol is Temporal's: `POST <endpoint>/decode` and `POST <endpoint>/encode` with
 * `{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}` (protobuf JSON),
 * answered in the same form. The Web UI calls it from the browser, so the UI's origin must be
 * allowed (CORS); `temporal server start-dev --ui-codec-endpoint <url>` or the UI's
 * TEMPORAL_CODEC_ENDPOINT points the UI at it.
 *
 * It only decompresses: nothing secret passes through it that the Web UI could not already read.
 * Still, it is a network service, so it defends itself:
 * - a browser request from an origin not allowed is refused (403), not just left without CORS
 *   headers: CORS only stops the page from reading the answer, and a `text/plain` POST needs no
 *   preflight, so the request would otherwise be served;
 * - `*` allows any origin without credentials (browsers refuse a wildcard with credentials, and a
 *   server that echoes any origin with credentials would hand them to every site);
 * - an optional bearer token ({@link CodecServerOptions.authToken}) is required of every request
 *   but CORS preflights (browsers send no Authorization header on those);
 * - a request may inflate to at most {@link CodecServerOptions.maxDecodedBytes} in total and carry
 *   at most {@link CodecServerOptions.maxPayloads} payloads (413 past either), so a small gzip
 *   bomb costs its budget, not the process's memory.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { DecodeBudgetExceeded, LargePayloadCodec, decodeWithinBudget, type DecodeBudget } from './payload-codec';

export interface CodecServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8888; 0 picks a free port. */
  port?: number;
  /** Origins allowed to call it from a browser (the Web UI's), e.g. http://127.0.0.1:8233; `*` allows any. */
  corsOrigins?: Iterable<string>;
  /** Default: fleetwave's {@link LargePayloadCodec}, decoded within the request's budget. */
  codec?: PayloadCodec;
  /** When set, every request but a CORS preflight must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  /** Total bytes the payloads of one request may decode to. Default {@link DEFAULT_MAX_DECODED_BYTES}. */
  maxDecodedBytes?: number;
  /** Payloads in one request. Default {@link DEFAULT_MAX_PAYLOADS}. */
  maxPayloads?: number;
}

/** Default total of decoded bytes per request: a 5,000-cluster campaign's input decodes to a few MiB. */
export const DEFAULT_MAX_DECODED_BYTES = 32 * 2 ** 20;
/** Default payloads per request: the Web UI decodes one event's payloads at a time. */
export const DEFAULT_MAX_PAYLOADS = 1000;

export interface CodecServer {
  /** `http://host:port`: the endpoint to give the Web UI. */
  url: string;
  port: number;
  /** Allowed browser origins; add one after start (the UI's port may be known only later). */
  corsOrigins: Set<string>;
  stop(): Promise<void>;
}

/** Largest request body accepted: Temporal's own payload limit is 2 MiB, base64 adds a third. */
const MAX_BODY_BYTES = 16 * 2 ** 20;

/** A request the server refuses, with its HTTP status. */
class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export async function startCodecServer(opts: CodecServerOptions = {}): Promise<CodecServer> {
  const codec = opts.codec ?? new LargePayloadCodec();
  const corsOrigins = new Set(opts.corsOrigins ?? []);
  const budget: DecodeBudget = {
    maxBytes: opts.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES,
    maxPayloads: opts.maxPayloads ?? DEFAULT_MAX_PAYLOADS,
  };
  const tokenDigest = opts.authToken === undefined ? undefined : sha256(opts.authToken);
  const decode = async (payloads: Payload[]): Promise<Payload[]> => {
    if (!opts.codec) return decodeWithinBudget(payloads, budget);
    const out = await opts.codec.decode(payloads);
    const bytes = out.reduce((sum, p) => sum + (p.data?.length ?? 0), 0);
    if (bytes > budget.maxBytes) throw new BadRequest(413, `decoded data over ${budget.maxBytes} bytes in one request`);
    return out;
  };
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: message }));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    res.setHeader('vary', 'origin');
    if (origin !== undefined) {
      if (corsOrigins.has(origin)) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-allow-credentials', 'true');
      } else if (corsOrigins.has('*')) {
        res.setHeader('access-control-allow-origin', '*');
      } else {
        throw new BadRequest(
          403,
          `origin ${origin} is not allowed: start the codec server with --cors-origin ${origin}`,
        );
      }
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    const operation = path.endsWith('/decode') ? 'decode' : path.endsWith('/encode') ? 'encode' : undefined;
    if (!operation) throw new BadRequest(404, `no such endpoint ${path}: use POST /decode or POST /encode`);
    if (req.method !== 'POST') throw new BadRequest(405, `${req.method ?? 'GET'} ${path}: use POST`);
    if (tokenDigest && !bearerMatches(req.headers.authorization, tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new BadRequest(401, 'missing or wrong bearer token');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) throw new BadRequest(413, `request body over ${MAX_BODY_BYTES} bytes`);
    const payloads = parsePayloads(await readBody(req));
    if (payloads.length > budget.maxPayloads) {
      throw new BadRequest(413, `${payloads.length} payloads: at most ${budget.maxPayloads} per request`);
    }
    let out: Payload[];
    try {
      out = operation === 'decode' ? await decode(payloads) : await codec.encode(payloads);
    } catch (err) {
      if (err instanceof DecodeBudgetExceeded) throw new BadRequest(413, err.message);
      throw err;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ payloads: out.map(toJson) }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    corsOrigins,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Whether `Authorization: Bearer <token>` carries the token, compared in constant time. */
function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(sha256(match[1]), tokenDigest);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request's payloads; a 400 names what is wrong (`payloads[2].data: not base64`). */
function parsePayloads(body: string): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadRequest(400, 'request body: not JSON');
  }
  const list = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new BadRequest(400, 'payloads: expected an array');
  return list.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw new BadRequest(400, `payloads[${i}]: expected an object`);
    const p = item as JsonPayload;
    const metadata: Record<string, Uint8Array> = {};
    for (const [key, value] of Object.entries(p.metadata ?? {})) {
      metadata[key] = fromBase64(value, `payloads[${i}].metadata.${key}`);
    }
    return { metadata, data: p.data === undefined ? new Uint8Array() : fromBase64(p.data, `payloads[${i}].data`) };
  });
}

function fromBase64(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
    throw new BadRequest(400, `${field}: expected base64`);
  }
  return Buffer.from(value, 'base64');
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}
