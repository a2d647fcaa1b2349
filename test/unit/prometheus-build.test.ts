/**
 * How the demo and tests find Prometheus (scripts/prometheus-build.ts), without building: the
 * explicit PROMETHEUS_BIN, an installed one (skipped with FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM=1, the
 * switch that tests the no-Prometheus path on a machine that has Debian's package), the cache.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedPrometheusPath, findPrometheus } from '../../scripts/prometheus-build';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetwave-prom-find-'));
  dirs.push(dir);
  return dir;
}
function executable(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '#!/bin/sh\n');
  chmodSync(file, 0o755);
  return file;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('findPrometheus', () => {
  it('takes PROMETHEUS_BIN first, and only when it is executable', () => {
    const bin = executable(path.join(tempDir(), 'prom'));
    expect(findPrometheus({ PROMETHEUS_BIN: bin, PATH: '' })).toBe(bin);
    expect(findPrometheus({ PROMETHEUS_BIN: `${bin}-missing`, PATH: '' })).toBeUndefined();
  });

  it('finds prometheus on PATH, and skips it (and /usr/bin) with FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM=1', () => {
    const dir = tempDir();
    const onPath = executable(path.join(dir, 'bin', 'prometheus'));
    const cache = path.join(dir, 'cache');
    expect(findPrometheus({ PATH: path.join(dir, 'bin'), XDG_CACHE_HOME: cache })).toBe(onPath);
    expect(
      findPrometheus({ PATH: path.join(dir, 'bin'), XDG_CACHE_HOME: cache, FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM: '1' }),
    ).toBeUndefined();
  });

  it('falls back to the cached build', () => {
    const env = { PATH: '', XDG_CACHE_HOME: tempDir(), FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM: '1' };
    expect(cachedPrometheusPath(env)).toBe(
      path.join(env.XDG_CACHE_HOME, 'fleetwave', 'prometheus-v3.16.0', 'prometheus'),
    );
    const cached = executable(cachedPrometheusPath(env));
    expect(findPrometheus(env)).toBe(cached);
  });
});
