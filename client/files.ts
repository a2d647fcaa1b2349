/**
 * Reading the files the CLI is given (campaign, fleet, temporal.toml, TLS certificates) so that
 * none can hang it or make it buffer without bound: only regular files are read, and their
 * size is checked before a byte is. A FIFO would block `open` until a writer came; a device such
 * as /dev/zero never ends; a directory or socket is no document.
 *
 * The file is opened non-blocking and checked again on the open descriptor, so a path swapped
 * for a FIFO between the two checks still cannot block.
 */
import { closeSync, constants, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** Why a path cannot be read as a document, or undefined when it can. */
export function unreadableReason(stats: Stats, maxBytes: number): string | undefined {
  if (stats.isDirectory()) return 'is a directory, not a file';
  if (stats.isFIFO()) return 'is a named pipe (FIFO), not a regular file; reading it could block forever';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'is a device, not a regular file';
  if (stats.isSocket()) return 'is a socket, not a regular file';
  if (!stats.isFile()) return 'is not a regular file';
  if (stats.size > maxBytes) return `is larger than ${maxBytes} bytes (${stats.size})`;
  return undefined;
}

/** The message of a failed stat or open: `no such file`, `permission denied`, or the system's words. */
export function describeFileError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'no such file (a parent is not a directory)';
  if (code === 'ELOOP') return 'too many symbolic links';
  return `cannot read (${(err as Error).message})`;
}

/** Thrown by the readers here: `why` completes a sentence whose subject is the file. */
export class UnreadableFileError extends Error {
  constructor(
    readonly file: string,
    readonly why: string,
  ) {
    super(`${file}: ${why}`);
    this.name = 'UnreadableFileError';
  }
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Reads a regular file of at most `maxBytes` as UTF-8; throws {@link UnreadableFileError} otherwise. */
export async function readRegularFile(file: string, maxBytes: number): Promise<string> {
  const why = (err: unknown) => new UnreadableFileError(file, describeFileError(err));
  const before = await stat(file).catch((err: unknown) => {
    throw why(err);
  });
  const refused = unreadableReason(before, maxBytes);
  if (refused) throw new UnreadableFileError(file, refused);
  const handle = await open(file, OPEN_FLAGS).catch((err: unknown) => {
    throw why(err);
  });
  try {
    const opened = await handle.stat();
    const changed = unreadableReason(opened, maxBytes);
    if (changed) throw new UnreadableFileError(file, changed);
    // One byte more than allowed tells a file that grew since the stat from one that did not.
    const buffer = Buffer.alloc(Math.min(opened.size, maxBytes) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw new UnreadableFileError(file, `is larger than ${maxBytes} bytes`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Checks, without reading it, that `file` could be read by {@link readRegularFile}: the reason
 * it could not, or undefined. `missing` says whether a missing file is acceptable.
 */
export function checkRegularFileSync(file: string, maxBytes: number, missing: 'ok' | 'refuse'): string | undefined {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && missing === 'ok') return undefined;
    return describeFileError(err);
  }
  const refused = unreadableReason(stats, maxBytes);
  if (refused) return refused;
  // An unreadable file fails the same way later; say so now, against the right name.
  try {
    const fd = openSync(file, OPEN_FLAGS);
    try {
      const opened = fstatSync(fd);
      return unreadableReason(opened, maxBytes);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return describeFileError(err);
  }
}
