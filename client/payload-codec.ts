/**
 * Large payloads, gzipped. A campaign carries its whole fleet in its workflow input (and in the
 * state it continues as new with), and its status query answers with every cluster: at a few
 * thousand clusters these pass Temporal's 2 MiB payload limit (and the 4 MiB gRPC message
 * limit) as plain JSON, while gzip shrinks them about twentyfold. Payloads under
 * {@link COMPRESS_ABOVE_BYTES} stay as they are, so everything the Web UI shows of a normal
 * campaign (summaries, details, results, small inputs) stays readable without a codec server.
 *
 * Client and worker must both use {@link fleetwaveDataConverter}: a compressed payload is opaque
 * to a process without it. Decoding passes anything not compressed by this codec through, so
 * a worker with the codec reads what older clients wrote.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

/** The `encoding` metadata of a compressed payload; its data is a gzipped Payload message. */
export const GZIP_ENCODING = 'binary/fleetwave-gzip';
/** Payloads of this size or more are compressed. */
export const COMPRESS_ABOVE_BYTES = 256 * 1024;
/** A decompressed payload larger than this is refused (Temporal's own ceiling is far below). */
const MAX_DECOMPRESSED_BYTES = 256 * 2 ** 20;

const PayloadMessage = proto.temporal.api.common.v1.Payload;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class LargePayloadCodec implements PayloadCodec {
  constructor(private readonly thresholdBytes = COMPRESS_ABOVE_BYTES) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if ((payload.data?.length ?? 0) < this.thresholdBytes) return payload;
      const inner = PayloadMessage.encode(payload).finish();
      return { metadata: { encoding: utf8.encode(GZIP_ENCODING) }, data: gzipSync(inner) };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || fromUtf8.decode(encoding) !== GZIP_ENCODING) return payload;
      const inner = gunzipSync(payload.data ?? new Uint8Array(), { maxOutputLength: MAX_DECOMPRESSED_BYTES });
      return PayloadMessage.decode(inner);
    });
  }
}

/** A decode that would inflate past its budget (bytes or payload count). */
export class DecodeBudgetExceeded extends Error {}

/** How much one decode call may produce. */
export interface DecodeBudget {
  /** Total bytes of the decoded payloads' data. */
  maxBytes: number;
  /** Payloads in one call. */
  maxPayloads: number;
}

/**
 * Decodes like {@link LargePayloadCodec.decode}, but never holds more than `budget.maxBytes` of
 * decoded data: each gzipped payload may inflate only into what is left of the budget, so a
 * small request built to inflate without end (a "zip bomb") stops at the budget, not at memory.
 */
export function decodeWithinBudget(payloads: Payload[], budget: DecodeBudget): Payload[] {
  if (payloads.length > budget.maxPayloads) {
    throw new DecodeBudgetExceeded(`${payloads.length} payloads: at most ${budget.maxPayloads} per request`);
  }
  let left = budget.maxBytes;
  return payloads.map((payload, i) => {
    const encoding = payload.metadata?.encoding;
    let out = payload;
    if (encoding && fromUtf8.decode(encoding) === GZIP_ENCODING) {
      let inner: Buffer;
      try {
        inner = gunzipSync(payload.data ?? new Uint8Array(), { maxOutputLength: Math.max(1, left) });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new DecodeBudgetExceeded(`payloads[${i}]: decoded data over ${budget.maxBytes} bytes in one request`);
        }
        throw err;
      }
      // The budget counts the inflated message, which holds the payload's data and metadata.
      left -= inner.length;
      out = PayloadMessage.decode(inner);
    } else {
      left -= payload.data?.length ?? 0;
    }
    if (left < 0) {
      throw new DecodeBudgetExceeded(`payloads[${i}]: decoded data over ${budget.maxBytes} bytes in one request`);
    }
    return out;
  });
}

/** The data converter of every fleetwave client and worker. */
export const fleetwaveDataConverter: DataConverter = { payloadCodecs: [new LargePayloadCodec()] };
