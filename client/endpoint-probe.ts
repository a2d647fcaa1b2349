/**
 * What answers at a Temporal address when the gRPC connection failed: nothing (refused or
 * silent), or a server that speaks something else. A Temporal frontend speaks gRPC over HTTP/2;
 * the probe sends the HTTP/2 client preface and looks at the first bytes of the answer, so a
 * Web UI, a metrics endpoint or any other HTTP/1 server is told apart from a frontend that is
 * merely slow.
 */
import net from 'node:net';
import tls from 'node:tls';

/** The HTTP/2 client connection preface and an empty SETTINGS frame. */
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** What the probe saw: `refused` (nothing listens), `silent` (no answer in time), `closed` (hung up without a word), or what answered. */
export type EndpointKind = 'refused' | 'silent' | 'closed' | 'http1' | 'tls' | 'http2' | 'other';

/** Connects to host:port, sends the HTTP/2 preface and classifies the first answer within `timeoutMs`. */
export function probeEndpoint(host: string, port: number, timeoutMs: number): Promise<EndpointKind> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    let settled = false;
    const done = (kind: EndpointKind) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(kind);
    };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    socket.on('connect', () => socket.write(H2_PREFACE));
    socket.on('data', (chunk: Buffer) => {
      if (chunk.subarray(0, 5).toString('latin1') === 'HTTP/') done('http1');
      // A TLS record (alert 0x15 or handshake 0x16) answers a plain-text preface sent to a TLS port.
      else if (chunk[0] === 0x15 || chunk[0] === 0x16) done('tls');
      // An HTTP/2 frame header: 3 bytes of length, then the type; a server starts with SETTINGS (4).
      else if (chunk.length >= 4 && chunk[3] === 4) done('http2');
      else done('other');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'silent'));
    socket.on('end', () => done('closed'));
  });
}

/**
 * Whether host:port speaks TLS: a TLS handshake gets a TLS answer, an alert included (a server
 * may refuse the handshake, which still proves it speaks TLS). Certificates are not checked:
 * nothing is sent after the handshake.
 */
export function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: host.replace(/^\[|\]$/g, ''), port, rejectUnauthorized: false });
    let settled = false;
    const done = (yes: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('secureConnect', () => done(true));
    socket.on('error', (err: NodeJS.ErrnoException) => done(/alert|ERR_SSL/i.test(`${err.code} ${err.message}`)));
  });
}
