/**
 * The simulator's certificate authority and the serving certificate of its Kubernetes endpoints,
 * made with node:crypto alone. node:crypto signs but does not build X.509 certificates, and no
 * certificate library is a dependency, so the few DER structures a certificate needs are written
 * here (RFC 5280 §4.1). ECDSA P-256 keys: generating and signing take well under a millisecond.
 *
 * One CA per simulator run, as EKS has one per cluster: DescribeCluster returns it in
 * `certificateAuthority.data` (base64 of the PEM), and every cluster's endpoint presents a
 * certificate it signed for the simulator's host names and addresses.
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER TLV. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...items: Buffer[]) => der(0x30, ...items);
const set = (...items: Buffer[]) => der(0x31, ...items);
const octets = (b: Buffer) => der(0x04, b);
const bits = (b: Buffer, unused = 0) => der(0x03, Buffer.from([unused]), b);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0x00]));
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);

function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

/** A positive INTEGER from big-endian bytes (a leading zero keeps the sign bit clear). */
function integer(b: Buffer): Buffer {
  return der(0x02, (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** UTCTime (years before 2050, RFC 5280 §4.1.2.5.1). */
function time(d: Date): Buffer {
  const iso = d.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (cn: string, o: string) => seq(set(seq(oid('2.5.4.10'), utf8(o))), set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** Key identifier: SHA-1 of the subject public key info (a stable 20 bytes, RFC 5280 §4.2.1.2). */
function keyId(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

interface CertificateSpec {
  subject: Buffer;
  issuer: Buffer;
  publicKey: KeyObject;
  signingKey: KeyObject;
  issuerKeyId: Buffer;
  extensions: Buffer[];
  notBefore: Date;
  notAfter: Date;
}

function certificate(spec: CertificateSpec): string {
  const spki = spec.publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_WITH_SHA256,
    spec.issuer,
    seq(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    spki,
    explicit(
      3,
      seq(
        ...spec.extensions,
        extension('2.5.29.14', false, octets(keyId(spki))),
        extension('2.5.29.35', false, seq(der(0x80, spec.issuerKeyId))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  const body = seq(tbs, ECDSA_WITH_SHA256, bits(signature));
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The CA and serving certificate of one simulator run. */
export interface SimulatorTls {
  /** PEM of the CA certificate. */
  caPem: string;
  /** `certificateAuthority.data` as EKS returns it: base64 of the CA's PEM. */
  caData: string;
  /** PEM of the serving certificate and its private key. */
  cert: string;
  key: string;
}

/**
 * A fresh CA and a serving certificate for `hosts` (names and IP addresses; 127.0.0.1, ::1 and
 * localhost are always included), valid from an hour ago for a year of wall-clock time: TLS
 * clients check validity against the wall clock, not the simulated one.
 */
export function createSimulatorTls(hosts: readonly string[]): SimulatorTls {
  const now = Date.now();
  const notBefore = new Date(now - 3600_000);
  const notAfter = new Date(now + 365 * 86_400_000);
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caSpki = ca.publicKey.export({ type: 'spki', format: 'der' });
  const caName = name('kubernetes', 'fleetwave simulator');
  const caPem = certificate({
    subject: caName,
    issuer: caName,
    publicKey: ca.publicKey,
    signingKey: ca.privateKey,
    issuerKeyId: keyId(caSpki),
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.15', true, bits(Buffer.from([0x86]), 1)), // digitalSignature, keyCertSign, cRLSign
      extension('2.5.29.19', true, seq(bool(true))), // CA:TRUE
    ],
  });

  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const all = [
    ...new Set(['localhost', '127.0.0.1', '::1', ...hosts.filter((h) => h && h !== '0.0.0.0' && h !== '::')]),
  ];
  const altNames = all.map((h) => {
    const family = isIP(h);
    if (family === 4) return der(0x87, Buffer.from(h.split('.').map(Number)));
    if (family === 6) return der(0x87, ipv6Bytes(h));
    return der(0x82, Buffer.from(h, 'ascii'));
  });
  const cert = certificate({
    subject: name('kube-apiserver', 'fleetwave simulator'),
    issuer: caName,
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    issuerKeyId: keyId(caSpki),
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // digitalSignature
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
      extension('2.5.29.19', true, seq()), // CA:FALSE
      extension('2.5.29.17', false, seq(...altNames)),
    ],
  });
  // Fail here, not in a client, if the encoding is wrong.
  if (!new X509Certificate(cert).verify(createPublicKey(caPem))) throw new Error('serving certificate does not verify');
  return {
    caPem,
    caData: Buffer.from(caPem).toString('base64'),
    cert,
    key: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

function ipv6Bytes(text: string): Buffer {
  const [head = '', tail = ''] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head);
  const t = text.includes('::') ? parse(tail) : [];
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}
