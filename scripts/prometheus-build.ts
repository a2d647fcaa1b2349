/**
 * Finds a Prometheus server binary or builds one, the way scripts/temporal-cli.ts provides the
 * Temporal CLI: a machine with Node.js and Go but without Debian's `prometheus` (or internet
 * beyond the Go module proxy) still gets a real Prometheus for the demo's PromQL gates.
 *
 * The build is `go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0` (Prometheus
 * 3.16.0: its Go module is versioned v0.3xx.y) with the `remove_all_sd` tag, which leaves out
 * every service-discovery plugin (cloud SDKs, Kubernetes client): fleetwave only needs static
 * scrape targets, and the plugins are most of the download and the compile. The web UI's assets
 * are not embedded (no `builtinassets` tag); the HTTP API the gates query does not need them.
 * The binary lands in ~/.cache/fleetwave/prometheus-v3.16.0/ and is renamed into place only when
 * complete; a lock file keeps two callers from building at once.
 *
 *   npx tsx scripts/prometheus-build.ts      # prints the path, building it if missing
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Prometheus release we build, and its Go module version (v3.x.y is module v0.30x.y / v0.3xx.y). */
export const PROMETHEUS_VERSION = '3.16.0';
const GO_MODULE_VERSION = 'v0.316.0';
const GO_PACKAGE = 'github.com/prometheus/prometheus/cmd/prometheus';
const PROGRESS_INTERVAL_MS = 15_000;
const LOCK_WAIT_LIMIT_MS = 30 * 60_000;

type Env = Record<string, string | undefined>;

/** Where the built binary is cached, e.g. `~/.cache/fleetwave/prometheus-v3.16.0/prometheus`. */
export function cachedPrometheusPath(env: Env = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'fleetwave', `prometheus-v${PROMETHEUS_VERSION}`, 'prometheus');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * An installed Prometheus, without building: `$PROMETHEUS_BIN`, then `prometheus` on PATH and
 * /usr/bin/prometheus, then the cached build. FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM=1 skips PATH and
 * /usr/bin (tests of the no-Prometheus path use it instead of uninstalling the package).
 */
export function findPrometheus(env: Env = process.env): string | undefined {
  if (env.PROMETHEUS_BIN) return isExecutable(env.PROMETHEUS_BIN) ? env.PROMETHEUS_BIN : undefined;
  if (env.FLEETWAVE_PROMETHEUS_IGNORE_SYSTEM !== '1') {
    const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin'];
    const system = dirs.map((dir) => path.join(dir, 'prometheus')).find(isExecutable);
    if (system) return system;
  }
  const cached = cachedPrometheusPath(env);
  return isExecutable(cached) ? cached : undefined;
}

function findGo(env: Env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/local/go/bin', '/usr/lib/go/bin'];
  return dirs.map((dir) => path.join(dir, 'go')).find(isExecutable);
}

/**
 * Returns a Prometheus binary, building it with Go into the cache when none is installed.
 * Progress (module downloads, a line every 15 s while compiling) goes to `log`.
 */
export async function findOrBuildPrometheus(opts: { env?: Env; log?: (line: string) => void } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = findPrometheus(env);
  if (found) return found;
  if (env.PROMETHEUS_BIN) throw new Error(`PROMETHEUS_BIN=${env.PROMETHEUS_BIN} is not an executable file`);
  const go = findGo(env);
  if (!go) {
    throw new Error(
      'no Prometheus binary and no Go to build one: install Prometheus (Debian: apt-get install prometheus), ' +
        'set PROMETHEUS_BIN, or install Go (https://go.dev/dl)',
    );
  }
  const target = cachedPrometheusPath(env);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const release = await acquireLock(path.join(dir, 'build.lock'), log);
  try {
    // Another caller may have built it while we waited for the lock.
    if (isExecutable(target)) return target;
    await goInstall(go, target, env, log);
    return target;
  } finally {
    release();
  }
}

async function goInstall(go: string, target: string, env: Env, log: (line: string) => void): Promise<void> {
  const gobin = fs.mkdtempSync(path.join(path.dirname(target), '.gobin-'));
  const started = Date.now();
  const ldflags = `-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}`;
  const args = ['install', '-tags=remove_all_sd', '-ldflags', ldflags, `${GO_PACKAGE}@${GO_MODULE_VERSION}`];
  log(`prometheus: building ${GO_PACKAGE}@${GO_MODULE_VERSION} (Prometheus ${PROMETHEUS_VERSION}) with ${go}`);
  try {
    const tail: string[] = [];
    let downloads = 0;
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, args, { env: { ...env, GOBIN: gobin }, stdio: ['ignore', 'pipe', 'pipe'] });
      const onOutput = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (line.startsWith('go: downloading')) downloads++;
        }
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      const ticker = setInterval(() => {
        const secs = Math.round((Date.now() - started) / 1000);
        log(`prometheus: . still building (${secs}s, ${downloads} modules downloaded)`);
      }, PROGRESS_INTERVAL_MS);
      child.on('error', (err) => {
        clearInterval(ticker);
        reject(err);
      });
      child.on('close', (status) => {
        clearInterval(ticker);
        resolve(status);
      });
    });
    if (code !== 0) throw new Error(`go ${args.join(' ')} exited with code ${code}:\n${tail.join('\n')}`);
    fs.renameSync(path.join(gobin, 'prometheus'), target);
    log(`prometheus: built ${target} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

/** An O_EXCL lock file holding our pid; a lock whose pid is gone is stale and taken over. */
async function acquireLock(lockPath: string, log: (line: string) => void): Promise<() => void> {
  const started = Date.now();
  let lastNotice = 0;
  for (;;) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (lockIsStale(lockPath)) {
      fs.rmSync(lockPath, { force: true });
      continue;
    }
    const waited = Date.now() - started;
    if (waited > LOCK_WAIT_LIMIT_MS) throw new Error(`timed out waiting for another Prometheus build (${lockPath})`);
    if (Date.now() - lastNotice >= PROGRESS_INTERVAL_MS) {
      lastNotice = Date.now();
      log(`prometheus: waiting for another build to finish (${lockPath}), ${Math.round(waited / 1000)}s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

function lockIsStale(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    process.stdout.write(`${await findOrBuildPrometheus()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
