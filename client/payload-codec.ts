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

/** The data converter of every fleetwave client and worker. */
export const fleetwaveDataConverter: DataConverter = { payloadCodecs: [new LargePayloadCodec()] };
