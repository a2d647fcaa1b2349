/**
 * domain/sshsig.ts: SSHSIG armor and blobs, public keys, allowed_signers lines and patterns,
 * fingerprints. Real inputs come from ssh-keygen; malformed ones are cut from them.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBase64,
  encodeBase64,
  formatFingerprint,
  matchPatternList,
  parseAllowedSigners,
  parseArmoredSignature,
  parsePublicKeyLine,
  parseSignatureBlob,
  parseSignerTime,
  signedDataBlob,
  SshFormatError,
} from '../../domain/sshsig';
import { generateKey, sshSign, tempDir, type TestKey } from '../helpers/ssh-keys';

let dir: string;
let ed: TestKey;
let ec: TestKey;
let edSig: string;
let ecSig: string;

beforeAll(() => {
  dir = tempDir();
  ed = generateKey(dir, 'ed');
  ec = generateKey(dir, 'ec', 'ecdsa');
  edSig = sshSign('hello\n', ed.file);
  ecSig = sshSign('hello\n', ec.file, 'git');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The binary blob inside an armored signature. */
function blobOf(armored: string): Uint8Array {
  const body = armored.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return decodeBase64(body) as Uint8Array;
}

function armor(blob: Uint8Array): string {
  return `-----BEGIN SSH SIGNATURE-----\n${encodeBase64(blob)}\n-----END SSH SIGNATURE-----\n`;
}

function parseError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SshFormatError);
    return (err as Error).message;
  }
  throw new Error('expected an SshFormatError');
}

describe('parseArmoredSignature', () => {
  it('reads what ssh-keygen -Y sign writes (ed25519 and ecdsa)', () => {
    const sig = parseArmoredSignature(edSig);
    expect(sig).toMatchObject({ namespace: 'fleetwave', hashAlgorithm: 'sha512', signatureType: 'ssh-ed25519' });
    expect(sig.publicKey.type).toBe('ssh-ed25519');
    expect(sig.signature).toHaveLength(64);
    expect(formatFingerprint(createHash('sha256').update(sig.publicKey.blob).digest())).toBe(ed.fingerprint);

    const ecdsa = parseArmoredSignature(ecSig);
    expect(ecdsa).toMatchObject({ namespace: 'git', signatureType: 'ecdsa-sha2-nistp256' });
    expect(ecdsa.signature).toHaveLength(64);
    expect(ecdsa.publicKey.point[0]).toBe(4);
  });

  it('refuses malformed armor', () => {
    expect(parseError(() => parseArmoredSignature('hello'))).toMatch(/begin with -----BEGIN SSH SIGNATURE-----/);
    expect(parseError(() => parseArmoredSignature(edSig.replace('-----END SSH SIGNATURE-----', '')))).toMatch(
      /end with -----END SSH SIGNATURE-----/,
    );
    expect(parseError(() => parseArmoredSignature(edSig.replace(/\n[A-Za-z0-9+/]{4}/, '\n!!!!')))).toBe(
      'signature: the armored body is not valid base64',
    );
    expect(parseError(() => parseArmoredSignature('-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----'))).toBe(
      'signature: the armored body is not valid base64',
    );
  });

  it('refuses a truncated blob at every length, naming the field', () => {
    const blob = blobOf(edSig);
    const messages = new Set<string>();
    for (let n = 0; n < blob.length; n++) messages.add(parseError(() => parseSignatureBlob(blob.subarray(0, n))));
    for (const message of messages) expect(message).toMatch(/truncated|magic|namespace is not|bytes, got|expected/);
    expect([...messages].some((m) => /truncated: public key length needs 4 bytes/.test(m))).toBe(true);
  });

  it('refuses trailing data, a wrong magic, another version, another hash, a mismatched signature type', () => {
    const blob = blobOf(edSig);
    expect(parseError(() => parseSignatureBlob(new Uint8Array([...blob, 0])))).toBe(
      'signature has 1 unexpected trailing bytes',
    );
    const magic = blob.slice();
    magic[0] = 0x58;
    expect(parseError(() => parseSignatureBlob(magic))).toBe('signature: not an SSHSIG signature (no "SSHSIG" magic)');
    const version = blob.slice();
    version[9] = 2;
    expect(parseError(() => parseArmoredSignature(armor(version)))).toBe(
      'signature: SSHSIG version 2 is not supported (only 1)',
    );
    const text = new TextDecoder('latin1').decode(blob);
    const hashAt = text.indexOf('sha512');
    const md5 = blob.slice();
    md5.set(new TextEncoder().encode('sha384'), hashAt);
    expect(parseError(() => parseSignatureBlob(md5))).toBe(
      'signature: hash algorithm "sha384" is not sha256 or sha512',
    );
    const sigTypeAt = text.lastIndexOf('ssh-ed25519');
    const mismatched = blob.slice();
    mismatched.set(new TextEncoder().encode('ssh-ed25518'), sigTypeAt);
    expect(parseError(() => parseSignatureBlob(mismatched))).toBe(
      'signature: a ssh-ed25518 signature made with a ssh-ed25519 key',
    );
  });

  it('builds the signed-data blob of PROTOCOL.sshsig', () => {
    const digest = new Uint8Array([1, 2, 3]);
    const data = signedDataBlob({ namespace: 'ns', reserved: new Uint8Array(), hashAlgorithm: 'sha256' }, digest);
    expect([...data]).toEqual([
      ...new TextEncoder().encode('SSHSIG'),
      0, 0, 0, 2, ...new TextEncoder().encode('ns'),
      0, 0, 0, 0,
      0, 0, 0, 6, ...new TextEncoder().encode('sha256'),
      0, 0, 0, 3, 1, 2, 3,
    ]); // prettier-ignore
  });
});

describe('public keys', () => {
  it('parses ed25519 and ecdsa .pub lines, keeping the comment', () => {
    expect(parsePublicKeyLine(ed.line)).toMatchObject({ type: 'ssh-ed25519', comment: 'ed' });
    expect(parsePublicKeyLine(ec.line).point).toHaveLength(65);
  });

  it('refuses other key types, bad base64, a type that does not match the blob, truncated blobs', () => {
    expect(parseError(() => parsePublicKeyLine('ssh-rsa AAAAB3NzaC1yc2E= me'))).toBe(
      'key type "ssh-rsa" is not supported (use ssh-ed25519 or ecdsa-sha2-nistp256)',
    );
    expect(parseError(() => parsePublicKeyLine('ssh-ed25519 !!!'))).toBe(
      'public key: the ssh-ed25519 key is not valid base64',
    );
    const [, edBase64] = ed.line.split(' ');
    expect(parseError(() => parsePublicKeyLine(`ecdsa-sha2-nistp256 ${edBase64}`))).toBe(
      'public key: the line says ecdsa-sha2-nistp256 but the key is ssh-ed25519',
    );
    const blob = decodeBase64(edBase64 as string) as Uint8Array;
    expect(parseError(() => parsePublicKeyLine(`ssh-ed25519 ${encodeBase64(blob.subarray(0, 40))}`))).toBe(
      'public key is truncated: ed25519 key needs 32 bytes, 21 left',
    );
    expect(parseError(() => parsePublicKeyLine('ssh-ed25519'))).toBe('public key: expected "TYPE BASE64 [COMMENT]"');
  });

  it('formats fingerprints as ssh-keygen -l does', () => {
    const key = parsePublicKeyLine(ec.line);
    expect(formatFingerprint(createHash('sha256').update(key.blob).digest())).toBe(ec.fingerprint);
  });
});

describe('base64', () => {
  it('round-trips every length and refuses what is not base64', () => {
    const bytes = new Uint8Array(Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff));
    for (let n = 0; n <= bytes.length; n++) {
      const part = bytes.subarray(0, n);
      expect(encodeBase64(part)).toBe(Buffer.from(part).toString('base64'));
      expect(decodeBase64(encodeBase64(part))).toEqual(part);
    }
    expect(decodeBase64('a')).toBeUndefined();
    expect(decodeBase64('ab=c')).toBeUndefined();
    expect(decodeBase64('ab===')).toBeUndefined();
  });
});

describe('allowed_signers', () => {
  it('reads principals lists, quotes, options and comments as ssh-keygen does', () => {
    const file = parseAllowedSigners(
      [
        '# comment',
        '',
        `alice,bob@example.com ${ed.line}`,
        `"carol,dave" namespaces="fleetwave,git",valid-after="20260101" ${ec.line} trailing comment`,
        `*@example.com,!mallory@example.com VALID-BEFORE="202612312359Z" ${ed.line}`,
      ].join('\n'),
    );
    expect(file.errors).toEqual([]);
    expect(
      file.signers.map((s) => [s.line, s.principals, s.namespaces, s.validAfter?.text, s.validBefore?.text]),
    ).toEqual([
      [3, 'alice,bob@example.com', undefined, undefined, undefined],
      [4, 'carol,dave', 'fleetwave,git', '20260101', undefined],
      [5, '*@example.com,!mallory@example.com', undefined, undefined, '202612312359Z'],
    ]);
    expect(file.signers[2]?.validBefore).toMatchObject({
      year: 2026,
      month: 12,
      day: 31,
      hour: 23,
      minute: 59,
      utc: true,
    });
  });

  it('ignores cert-authority and other key types with a reason; malformed lines are errors with their line', () => {
    const file = parseAllowedSigners(
      [
        `ca cert-authority ${ed.line}`,
        'old ssh-rsa AAAAB3NzaC1yc2E=',
        `x namespaces=fleetwave ${ed.line}`,
        `y valid-before="2026" ${ed.line}`,
        `z "unterminated ${ed.line}`,
        'lonely',
      ].join('\n'),
    );
    expect(file.signers).toEqual([]);
    expect(file.ignored).toEqual([
      { line: 1, reason: 'cert-authority lines are not used: the fleet policy accepts plain keys, not certificates' },
      { line: 2, reason: 'key type "ssh-rsa" is not supported (use ssh-ed25519 or ecdsa-sha2-nistp256)' },
    ]);
    expect(file.errors).toEqual([
      { line: 3, message: 'namespaces: the value must be in double quotes' },
      { line: 4, message: 'valid-before: "2026" is not YYYYMMDD[HHMM[SS]][Z]' },
      { line: 5, message: 'unterminated quote' },
      { line: 6, message: 'expected "principals [options] keytype base64"' },
    ]);
  });

  it('matches principal pattern lists with wildcards and negation', () => {
    expect(matchPatternList('alice', 'alice,bob')).toBe(true);
    expect(matchPatternList('alice@example.com', '*@example.com')).toBe(true);
    expect(matchPatternList('al.ce', 'al?ce')).toBe(true);
    expect(matchPatternList('alice', 'Alice')).toBe(false);
    expect(matchPatternList('mallory@example.com', '*@example.com,!mallory@example.com')).toBe(false);
    expect(matchPatternList('alicex', 'alice')).toBe(false);
    expect(matchPatternList('a.b', 'a?b')).toBe(true);
    expect(matchPatternList('ab', 'a.b')).toBe(false);
  });

  it('parses validity times, refusing impossible ones', () => {
    expect(parseSignerTime('20260401')).toMatchObject({ year: 2026, month: 4, day: 1, hour: 0, utc: false });
    expect(parseSignerTime('20260401123059Z')).toMatchObject({ hour: 12, minute: 30, second: 59, utc: true });
    expect(parseError(() => parseSignerTime('20261301', 'valid-after'))).toBe(
      'valid-after: "20261301" is not a valid date and time',
    );
  });
});
