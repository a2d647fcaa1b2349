/**
 * OpenSSH signatures and keys, parsed without I/O: the SSHSIG format that `ssh-keygen -Y sign`
 * writes (PROTOCOL.sshsig), SSH public key blobs and `authorized_keys`-style lines, OpenSSH
 * `allowed_signers` files (ssh-keygen(1), ALLOWED SIGNERS) and `SHA256:` fingerprints.
 *
 * Only `ssh-ed25519` and `ecdsa-sha2-nistp256` keys are accepted: the two the fleet approval
 * policy supports. Hashing and signature checks are not here (they need SHA-2 and the curves,
 * which the worker takes from node:crypto): callers hand in digests, and get back the exact bytes
 * to hash or verify. Every parse error says which part of the input is wrong.
 *
 * Pure: Uint8Array, DataView and TextEncoder only.
 */

/** The key types the fleet approval policy accepts. */
export const SUPPORTED_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256'] as const;
export type SupportedKeyType = (typeof SUPPORTED_KEY_TYPES)[number];

/** The hash algorithms PROTOCOL.sshsig allows for the message. */
export type SshsigHashAlgorithm = 'sha256' | 'sha512';

/** A parse error of a signature, key or allowed_signers line; the message names what is wrong. */
export class SshFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshFormatError';
  }
}

/** An SSH public key of a supported type. */
export interface SshPublicKey {
  type: SupportedKeyType;
  /** The whole wire-format key blob: what fingerprints hash and allowed_signers lines are compared by. */
  blob: Uint8Array;
  /** ssh-ed25519: the 32-byte key; ecdsa-sha2-nistp256: the 65-byte uncompressed point (0x04 ‖ x ‖ y). */
  point: Uint8Array;
}

/** A parsed SSHSIG signature (PROTOCOL.sshsig, version 1). */
export interface Sshsig {
  publicKey: SshPublicKey;
  namespace: string;
  reserved: Uint8Array;
  hashAlgorithm: SshsigHashAlgorithm;
  /** The signature's own algorithm name; equals the key type for the supported keys. */
  signatureType: string;
  /**
   * ssh-ed25519: the 64-byte signature. ecdsa-sha2-nistp256: r ‖ s, 32 bytes each (IEEE P1363),
   * converted from the SSH mpints.
   */
  signature: Uint8Array;
}

const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';
const MAGIC = new TextEncoder().encode('SSHSIG');
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const P256_POINT_BYTES = 65;
const P256_SCALAR_BYTES = 32;

// ---------------------------------------------------------------------------------------
// base64 (atob/btoa are not available in every runtime that imports domain/)

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decodes standard base64 (padding optional); undefined when `text` is not base64. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const body = text.replace(/=+$/, '');
  if (text.length - body.length > 2 || body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const c of body) {
    const v = B64_INDEX.get(c);
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Encodes standard base64; `pad: false` leaves out the trailing `=` (as fingerprints do). */
export function encodeBase64(bytes: Uint8Array, pad = true): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a = 0, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    const chars = [B64[(n >> 18) & 63], B64[(n >> 12) & 63], B64[(n >> 6) & 63], B64[n & 63]];
    const kept = Math.min(4, bytes.length - i + 1);
    out += chars.slice(0, kept).join('') + (pad ? '='.repeat(4 - kept) : '');
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// SSH wire format (RFC 4251 §5)

/** Reads uint32 / string fields of an SSH wire-format blob; errors name `what` and the field. */
class SshReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  raw(length: number, field: string): Uint8Array {
    if (this.offset + length > this.bytes.length) {
      throw new SshFormatError(`${this.what} is truncated: ${field} needs ${length} bytes, ${this.remaining} left`);
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  uint32(field: string): number {
    const at = this.offset;
    this.raw(4, field);
    return this.view.getUint32(at);
  }

  string(field: string): Uint8Array {
    return this.raw(this.uint32(`${field} length`), field);
  }

  text(field: string): string {
    const bytes = this.string(field);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new SshFormatError(`${this.what}: ${field} is not UTF-8 text`);
    }
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  end(): void {
    if (this.remaining !== 0) throw new SshFormatError(`${this.what} has ${this.remaining} unexpected trailing bytes`);
  }
}

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// ---------------------------------------------------------------------------------------
// Public keys

/** Parses an SSH public key blob of a supported type; other types are refused by name. */
export function parsePublicKeyBlob(blob: Uint8Array): SshPublicKey {
  const reader = new SshReader(blob, 'public key');
  const type = reader.text('key type');
  if (type === 'ssh-ed25519') {
    const point = reader.string('ed25519 key');
    if (point.length !== ED25519_KEY_BYTES) {
      throw new SshFormatError(`ssh-ed25519 key: expected ${ED25519_KEY_BYTES} bytes, got ${point.length}`);
    }
    reader.end();
    return { type, blob, point };
  }
  if (type === 'ecdsa-sha2-nistp256') {
    const curve = reader.text('curve name');
    if (curve !== 'nistp256') throw new SshFormatError(`ecdsa-sha2-nistp256 key names curve "${curve}"`);
    const point = reader.string('ecdsa point');
    if (point.length !== P256_POINT_BYTES || point[0] !== 0x04) {
      throw new SshFormatError('ecdsa-sha2-nistp256 key: expected an uncompressed point of 65 bytes');
    }
    reader.end();
    return { type, blob, point };
  }
  throw new SshFormatError(unsupportedKeyType(type));
}

function unsupportedKeyType(type: string): string {
  return `key type "${type}" is not supported (use ${SUPPORTED_KEY_TYPES.join(' or ')})`;
}

/**
 * Parses a public key line as in `id_ed25519.pub` or `authorized_keys` without options:
 * `TYPE BASE64 [COMMENT]`. The type word must match the type inside the blob.
 */
export function parsePublicKeyLine(line: string): SshPublicKey & { comment?: string } {
  const match = /^\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/.exec(line);
  if (!match) throw new SshFormatError('public key: expected "TYPE BASE64 [COMMENT]"');
  const [, type, base64, comment] = match as unknown as [string, string, string, string | undefined];
  if (!(SUPPORTED_KEY_TYPES as readonly string[]).includes(type)) throw new SshFormatError(unsupportedKeyType(type));
  const blob = decodeBase64(base64);
  if (!blob) throw new SshFormatError(`public key: the ${type} key is not valid base64`);
  const key = parsePublicKeyBlob(blob);
  if (key.type !== type) throw new SshFormatError(`public key: the line says ${type} but the key is ${key.type}`);
  return comment ? { ...key, comment } : key;
}

/** `SHA256:<base64 without padding>` of a key, as `ssh-keygen -l` prints it, from the SHA-256 digest of its blob. */
export function formatFingerprint(blobSha256: Uint8Array): string {
  return `SHA256:${encodeBase64(blobSha256, false)}`;
}

// ---------------------------------------------------------------------------------------
// SSHSIG

/** Parses an armored SSHSIG (`-----BEGIN SSH SIGNATURE-----` …) as `ssh-keygen -Y sign` writes it. */
export function parseArmoredSignature(armored: string): Sshsig {
  const text = armored.trim();
  if (!text.startsWith(ARMOR_BEGIN)) throw new SshFormatError(`signature: expected it to begin with ${ARMOR_BEGIN}`);
  if (!text.endsWith(ARMOR_END)) throw new SshFormatError(`signature: expected it to end with ${ARMOR_END}`);
  const body = text.slice(ARMOR_BEGIN.length, text.length - ARMOR_END.length).replace(/\s+/g, '');
  const blob = decodeBase64(body);
  if (!blob || body.length === 0) throw new SshFormatError('signature: the armored body is not valid base64');
  return parseSignatureBlob(blob);
}

/** Parses the binary SSHSIG blob inside the armor. */
export function parseSignatureBlob(blob: Uint8Array): Sshsig {
  const reader = new SshReader(blob, 'signature');
  if (!bytesEqual(reader.raw(MAGIC.length, 'magic'), MAGIC)) {
    throw new SshFormatError('signature: not an SSHSIG signature (no "SSHSIG" magic)');
  }
  const version = reader.uint32('version');
  if (version !== 1) throw new SshFormatError(`signature: SSHSIG version ${version} is not supported (only 1)`);
  const publicKey = parsePublicKeyBlob(reader.string('public key'));
  const namespace = reader.text('namespace');
  const reserved = reader.string('reserved');
  const hashAlgorithm = reader.text('hash algorithm');
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512') {
    throw new SshFormatError(`signature: hash algorithm "${hashAlgorithm}" is not sha256 or sha512`);
  }
  const sigReader = new SshReader(reader.string('signature'), 'signature blob');
  reader.end();
  const signatureType = sigReader.text('signature type');
  if (signatureType !== publicKey.type) {
    throw new SshFormatError(`signature: a ${signatureType} signature made with a ${publicKey.type} key`);
  }
  const sigBytes = sigReader.string('signature bytes');
  sigReader.end();
  return {
    publicKey,
    namespace,
    reserved,
    hashAlgorithm,
    signatureType,
    signature: publicKey.type === 'ssh-ed25519' ? ed25519Signature(sigBytes) : ecdsaSignatureP1363(sigBytes),
  };
}

function ed25519Signature(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== ED25519_SIGNATURE_BYTES) {
    throw new SshFormatError(
      `signature: an ed25519 signature has ${ED25519_SIGNATURE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

/** SSH's `mpint r, mpint s` as the 64-byte r ‖ s that IEEE P1363 (and node:crypto's `ieee-p1363`) expects. */
function ecdsaSignatureP1363(bytes: Uint8Array): Uint8Array {
  const reader = new SshReader(bytes, 'ecdsa signature');
  const out = new Uint8Array(2 * P256_SCALAR_BYTES);
  for (const [i, field] of (['r', 's'] as const).entries()) {
    const mpint = reader.string(field);
    if (mpint.length > 0 && (mpint[0] as number) & 0x80)
      throw new SshFormatError(`ecdsa signature: ${field} is negative`);
    let start = 0;
    while (start < mpint.length && mpint[start] === 0) start++;
    const magnitude = mpint.subarray(start);
    if (magnitude.length > P256_SCALAR_BYTES) throw new SshFormatError(`ecdsa signature: ${field} is too long`);
    out.set(magnitude, (i + 1) * P256_SCALAR_BYTES - magnitude.length);
  }
  reader.end();
  return out;
}

/**
 * The exact bytes an SSHSIG signature signs (PROTOCOL.sshsig): the magic, the namespace, the
 * reserved field, the hash algorithm's name and the message's digest under that algorithm.
 */
export function signedDataBlob(
  sig: Pick<Sshsig, 'namespace' | 'reserved' | 'hashAlgorithm'>,
  messageDigest: Uint8Array,
) {
  const encoder = new TextEncoder();
  return concat([
    MAGIC,
    sshString(encoder.encode(sig.namespace)),
    sshString(sig.reserved),
    sshString(encoder.encode(sig.hashAlgorithm)),
    sshString(messageDigest),
  ]);
}

// ---------------------------------------------------------------------------------------
// Patterns (ssh_config(5) PATTERNS)

/** Whether `name` matches one pattern: `*` any run of characters, `?` exactly one. */
export function matchPattern(name: string, pattern: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(name);
}

/**
 * Whether `name` matches a comma-separated pattern list, as OpenSSH's match_pattern_list: at
 * least one positive pattern matches and no negated one (`!pattern`) does.
 */
export function matchPatternList(name: string, list: string): boolean {
  let matched = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (!matchPattern(name, pattern)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

// ---------------------------------------------------------------------------------------
// allowed_signers (ssh-keygen(1), ALLOWED SIGNERS)

/** A `valid-after` / `valid-before` time: the fields as written; without `Z` OpenSSH reads them as local time. */
export interface SignerTime {
  text: string;
  year: number;
  /** 1–12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  utc: boolean;
}

/** One usable line of an allowed_signers file. */
export interface AllowedSigner {
  /** 1-based line number. */
  line: number;
  /** The principals pattern list (`alice@example.com,bob*`). */
  principals: string;
  key: SshPublicKey;
  /** `namespaces="…"`: the namespaces pattern list the key may sign in. Absent: any. */
  namespaces?: string;
  validAfter?: SignerTime;
  validBefore?: SignerTime;
}

/** The result of reading an allowed_signers file. */
export interface AllowedSignersFile {
  signers: AllowedSigner[];
  /** Well-formed lines that are not used, and why (certificate authorities, other key types). */
  ignored: { line: number; reason: string }[];
  /** Malformed lines (ssh-keygen refuses these too). */
  errors: { line: number; message: string }[];
}

/**
 * Parses an OpenSSH allowed_signers file: `principals [options] keytype base64 [comment]` per
 * line, `#` comments and blank lines skipped. Options: `namespaces="…"`, `valid-after="…"`,
 * `valid-before="…"`; `cert-authority` lines are ignored with a reason (certificates are not
 * accepted), as are keys of unsupported types.
 */
export function parseAllowedSigners(text: string): AllowedSignersFile {
  const result: AllowedSignersFile = { signers: [], ignored: [], errors: [] };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      const parsed = parseAllowedSignerLine(trimmed, line);
      if ('ignored' in parsed) result.ignored.push({ line, reason: parsed.ignored });
      else result.signers.push(parsed);
    } catch (err) {
      if (!(err instanceof SshFormatError)) throw err;
      result.errors.push({ line, message: err.message });
    }
  });
  return result;
}

/** Splits off the first field: up to unquoted whitespace (quotes kept out of a fully quoted field). */
function takeField(text: string): [field: string, rest: string] {
  let i = 0;
  let quoted = false;
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(c)) break;
  }
  if (quoted) throw new SshFormatError('unterminated quote');
  return [text.slice(0, i), text.slice(i).trimStart()];
}

function parseAllowedSignerLine(text: string, line: number): AllowedSigner | { ignored: string } {
  let [principals, rest] = takeField(text);
  if (/^".*"$/.test(principals)) principals = principals.slice(1, -1);
  if (principals === '' || rest === '') throw new SshFormatError('expected "principals [options] keytype base64"');

  let options = '';
  // As ssh-keygen: what follows the principals is the key when it reads as one, else options.
  if (!/^(ssh-|ecdsa-|sk-)\S*\s/.test(rest)) [options, rest] = takeField(rest);
  const signer = parseOptions(options, line, principals);
  if ('ignored' in signer) return signer;

  const [type = ''] = rest.split(/\s/, 1);
  if (!type) throw new SshFormatError('missing key');
  if (!(SUPPORTED_KEY_TYPES as readonly string[]).includes(type)) return { ignored: unsupportedKeyType(type) };
  return { ...signer, key: parsePublicKeyLine(rest) };
}

function parseOptions(
  options: string,
  line: number,
  principals: string,
): Omit<AllowedSigner, 'key'> | { ignored: string } {
  const signer: Omit<AllowedSigner, 'key'> = { line, principals };
  if (options === '') return signer;
  for (const option of splitOptions(options)) {
    const eq = option.indexOf('=');
    const name = (eq < 0 ? option : option.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    if (name === 'cert-authority' && value === undefined) {
      return { ignored: 'cert-authority lines are not used: the fleet policy accepts plain keys, not certificates' };
    }
    if (name !== 'namespaces' && name !== 'valid-after' && name !== 'valid-before') {
      throw new SshFormatError(`unknown option "${option}"`);
    }
    if (value === undefined || !/^".*"$/.test(value))
      throw new SshFormatError(`${name}: the value must be in double quotes`);
    const inner = value.slice(1, -1);
    if (name === 'namespaces') signer.namespaces = inner;
    else if (name === 'valid-after') signer.validAfter = parseSignerTime(inner, name);
    else signer.validBefore = parseSignerTime(inner, name);
  }
  return signer;
}

function splitOptions(options: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of options) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

/** `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally followed by `Z` (UTC), as ssh-keygen reads them. */
export function parseSignerTime(text: string, option = 'time'): SignerTime {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/i.exec(text);
  if (!match) throw new SshFormatError(`${option}: "${text}" is not YYYYMMDD[HHMM[SS]][Z]`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const time = {
    text,
    year: year as number,
    month: month as number,
    day: day as number,
    hour: hour as number,
    minute: minute as number,
    second: second as number,
    utc: match[7] !== '',
  };
  if (time.month < 1 || time.month > 12 || time.day < 1 || time.day > 31 || time.hour > 23 || time.minute > 59) {
    throw new SshFormatError(`${option}: "${text}" is not a valid date and time`);
  }
  if (time.second > 59) throw new SshFormatError(`${option}: "${text}" is not a valid date and time`);
  return time;
}
