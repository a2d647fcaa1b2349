import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrBuildTemporalCli, temporalCliCacheDir } from '../../scripts/temporal-cli';

describe('findOrBuildTemporalCli', () => {
  let dir: string;
  let fakeCli: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-cli-'));
    fakeCli = path.join(dir, 'temporal');
    fs.writeFileSync(fakeCli, '#!/bin/sh\necho fake\n', { mode: 0o755 });
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'temporal'), '#!/bin/sh\n', { mode: 0o755 });
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prefers $TEMPORAL_CLI over PATH and the cache', async () => {
    const env = { TEMPORAL_CLI: fakeCli, PATH: path.join(dir, 'bin'), HOME: dir };
    await expect(findOrBuildTemporalCli({ env, log: () => undefined })).resolves.toBe(fakeCli);
  });

  it('names a bogus $TEMPORAL_CLI instead of falling through to a build', async () => {
    const bogus = path.join(dir, 'no-such-temporal');
    const env = { TEMPORAL_CLI: bogus, PATH: '', HOME: dir };
    await expect(findOrBuildTemporalCli({ env, log: () => undefined })).rejects.toThrow(
      `TEMPORAL_CLI=${bogus} is not usable: no such file`,
    );
  });

  it('rejects a $TEMPORAL_CLI that is not executable', async () => {
    const notExecutable = path.join(dir, 'plain-file');
    fs.writeFileSync(notExecutable, 'x', { mode: 0o644 });
    const env = { TEMPORAL_CLI: notExecutable, PATH: '', HOME: dir };
    // root may execute-check as allowed only when some x bit is set; 0644 has none.
    await expect(findOrBuildTemporalCli({ env, log: () => undefined })).rejects.toThrow(notExecutable);
  });

  it('finds `temporal` on PATH when $TEMPORAL_CLI is unset', async () => {
    const env = { PATH: path.join(dir, 'bin'), HOME: dir };
    await expect(findOrBuildTemporalCli({ env, log: () => undefined })).resolves.toBe(
      path.join(dir, 'bin', 'temporal'),
    );
  });

  it('lists every route it tried when building is disabled', async () => {
    const env = { PATH: '', XDG_CACHE_HOME: path.join(dir, 'cache'), HOME: dir };
    const error = await findOrBuildTemporalCli({ env, noBuild: true, log: () => undefined }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('$TEMPORAL_CLI: not set');
    expect(message).toContain('PATH: no executable `temporal`');
    expect(message).toContain(path.join(temporalCliCacheDir(env), 'temporal'));
  });

  it('uses the cached build under XDG_CACHE_HOME', async () => {
    const env = { PATH: '', XDG_CACHE_HOME: path.join(dir, 'xdg'), HOME: dir };
    const cacheDir = temporalCliCacheDir(env);
    expect(cacheDir).toBe(path.join(dir, 'xdg', 'fleetwave', 'temporal-v1.5.1'));
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(path.join(cacheDir, 'temporal'), '#!/bin/sh\n', { mode: 0o755 });
    await expect(findOrBuildTemporalCli({ env, noBuild: true, log: () => undefined })).resolves.toBe(
      path.join(cacheDir, 'temporal'),
    );
  });
});
