/**
 * Finds a Temporal CLI (`temporal`, which embeds the dev server and Web UI) or builds one.
 *
 * Machines running fleetwave's tests often have no internet but do have Go and the Go
 * module proxy, so the last resort is `go install` of a pinned CLI release into a cache
 * outside the repo. The build takes minutes on 2 cores, so it runs only when the binary is
 * missing and a lock keeps concurrent callers (parallel test runs, CI steps) from building
 * twice.
 */
import { spawn, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The CLI release we build or download. v1.5.1 bundles Temporal Server 1.29.1 and UI 2.42.1. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';
const DOWNLOAD_HOST = 'temporal.download';
const PROGRESS_INTERVAL_MS = 15_000;
const LOCK_WAIT_LIMIT_MS = 30 * 60_000;

/** Options for {@link findOrBuildTemporalCli}. */
export interface FindTemporalCliOptions {
  /** Receives progress lines (route decisions, download and build progress). Default: stderr. */
  log?: (line: string) => void;
  /** Environment to read `TEMPORAL_CLI`, `PATH`, `XDG_CACHE_HOME`, `HOME` from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Skip the download and build routes: only look for an existing binary. Default: false. */
  noBuild?: boolean;
}

/** Directory holding the cached CLI binary, e.g. `~/.cache/fleetwave/temporal-v1.5.1`. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'fleetwave', `temporal-${TEMPORAL_CLI_VERSION}`);
}

/**
 * Returns the path of a usable `temporal` binary, trying in order: `$TEMPORAL_CLI`, `temporal`
 * on PATH, the cached build, a download from temporal.download, and `go install`.
 * An explicit `$TEMPORAL_CLI` that is not executable is an error, not a reason to fall through.
 * Throws one Error naming every route tried and why each failed.
 */
export async function findOrBuildTemporalCli(opts: FindTemporalCliOptions = {}): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  const explicit = env.TEMPORAL_CLI;
  if (explicit) {
    const problem = executableProblem(explicit);
    if (problem) {
      throw new Error(
        `TEMPORAL_CLI=${explicit} is not usable: ${problem}. Unset TEMPORAL_CLI or point it at a binary.`,
      );
    }
    return explicit;
  }
  tried.push('$TEMPORAL_CLI: not set');

  const onPath = findOnPath('temporal', env);
  if (onPath) return onPath;
  tried.push('PATH: no executable `temporal`');

  const cacheDir = temporalCliCacheDir(env);
  const cached = path.join(cacheDir, 'temporal');
  if (isReadyCachedBinary(cacheDir)) return cached;
  tried.push(`cache: ${cached} missing`);

  if (opts.noBuild) {
    throw new Error(`No Temporal CLI found (builds disabled). Tried:\n  - ${tried.join('\n  - ')}`);
  }

  fs.mkdirSync(cacheDir, { recursive: true });
  const lock = await acquireBuildLock(cacheDir, log);
  try {
    // Another caller may have produced the binary while we waited for the lock.
    if (!executableProblem(cached)) return cached;

    try {
      await downloadCli(cacheDir, log);
      return cached;
    } catch (err) {
      tried.push(`download: ${errorMessage(err)}`);
      log(`temporal-cli: download route failed (${errorMessage(err)})`);
    }

    try {
      await goInstallCli(cacheDir, env, log);
      return cached;
    } catch (err) {
      tried.push(`go install ${GO_PACKAGE}@${TEMPORAL_CLI_VERSION}: ${errorMessage(err)}`);
    }
  } finally {
    lock.release();
  }

  throw new Error(
    `Could not find or build the Temporal CLI. Tried:\n  - ${tried.join('\n  - ')}\n` +
      'Fix the build (Go and its module proxy: `go env GOPROXY GOSUMDB`), install Go (https://go.dev/dl), ' +
      'or set TEMPORAL_CLI to a `temporal` binary.',
  );
}

function executableProblem(file: string): string | undefined {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return 'not a regular file';
    fs.accessSync(file, fs.constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'not executable';
    return errorMessage(err);
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (!executableProblem(candidate)) return candidate;
  }
  return undefined;
}

/** The binary is only trusted when no build into the same directory is still under way. */
function isReadyCachedBinary(cacheDir: string): boolean {
  const bin = path.join(cacheDir, 'temporal');
  if (executableProblem(bin)) return false;
  if (findForeignGoBuild() !== undefined) return false;
  return !fs.existsSync(path.join(cacheDir, 'build.lock')) || lockIsStale(path.join(cacheDir, 'build.lock'));
}

interface BuildLock {
  release(): void;
}

/**
 * A lock file created with O_EXCL holds our pid. A lock whose pid is gone is stale and taken
 * over. A `go install` of the CLI started by hand (no lock file) counts as a holder too.
 */
async function acquireBuildLock(cacheDir: string, log: (line: string) => void): Promise<BuildLock> {
  const lockPath = path.join(cacheDir, 'build.lock');
  const started = Date.now();
  let lastNotice = 0;
  for (;;) {
    const foreign = findForeignGoBuild();
    if (!foreign) {
      try {
        fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' });
        return {
          release: () => {
            fs.rmSync(lockPath, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (lockIsStale(lockPath)) {
          log(`temporal-cli: removing stale lock ${lockPath}`);
          fs.rmSync(lockPath, { force: true });
          continue;
        }
      }
    }
    const waited = Date.now() - started;
    if (waited > LOCK_WAIT_LIMIT_MS) {
      throw new Error(`timed out after ${Math.round(waited / 1000)}s waiting for another Temporal CLI build`);
    }
    if (Date.now() - lastNotice >= PROGRESS_INTERVAL_MS) {
      lastNotice = Date.now();
      const holder = foreign ? `go process ${foreign}` : `lock ${lockPath}`;
      log(`temporal-cli: waiting for another build to finish (${holder}), ${Math.round(waited / 1000)}s`);
    }
    await sleep(2_000);
  }
}

function lockIsStale(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
  } catch {
    return false; // vanished or unreadable: let the caller retry
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Pid of a running `go install …/cli/cmd/temporal@<our version>` (Linux /proc only), if any. */
function findForeignGoBuild(): number | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (
        argv.includes('install') &&
        argv.includes(`${GO_PACKAGE}@${TEMPORAL_CLI_VERSION}`) &&
        /(^|\/)go$/.test(argv[0] ?? '')
      ) {
        return Number(entry);
      }
    } catch {
      // process exited while we looked
    }
  }
  return undefined;
}

function platformAndArch(): { platform: string; arch: string } {
  const platform = process.platform === 'darwin' ? 'darwin' : process.platform === 'linux' ? 'linux' : undefined;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : undefined;
  if (!platform || !arch) throw new Error(`no prebuilt CLI for ${process.platform}/${process.arch}`);
  return { platform, arch };
}

/**
 * Downloads the release archive the same way the SDK's ephemeral server does (an info
 * endpoint on temporal.download that names the archive and the file inside it). A quick
 * reachability probe keeps offline machines from waiting on long timeouts.
 */
async function downloadCli(cacheDir: string, log: (line: string) => void): Promise<void> {
  const { platform, arch } = platformAndArch();
  try {
    await withTimeout(lookup(DOWNLOAD_HOST), 3_000, 'DNS lookup timed out');
    await fetch(`https://${DOWNLOAD_HOST}/`, { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
  } catch (err) {
    throw new Error(`unreachable (${errorMessage(err)})`);
  }
  const query = new URLSearchParams({ platform, arch, format: 'tar.gz' });
  const infoUrl = `https://${DOWNLOAD_HOST}/cli/${TEMPORAL_CLI_VERSION}?${query}`;
  log(`temporal-cli: downloading ${infoUrl}`);
  const infoResponse = await fetch(infoUrl, { signal: AbortSignal.timeout(30_000) });
  if (!infoResponse.ok) throw new Error(`${infoUrl}: HTTP ${infoResponse.status}`);
  const info = (await infoResponse.json()) as { archive_url?: string; file_to_extract?: string };
  if (!info.archive_url || !info.file_to_extract) throw new Error(`${infoUrl}: unexpected answer`);

  const workDir = fs.mkdtempSync(path.join(cacheDir, '.download-'));
  try {
    const archive = path.join(workDir, 'cli.tar.gz');
    const response = await fetch(info.archive_url, { signal: AbortSignal.timeout(10 * 60_000) });
    if (!response.ok) throw new Error(`${info.archive_url}: HTTP ${response.status}`);
    fs.writeFileSync(archive, Buffer.from(await response.arrayBuffer()));
    const tar = spawnSync('tar', ['-xzf', archive, '-C', workDir, info.file_to_extract], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr || tar.error?.message}`);
    const extracted = path.join(workDir, info.file_to_extract);
    fs.chmodSync(extracted, 0o755);
    fs.renameSync(extracted, path.join(cacheDir, 'temporal'));
    log(`temporal-cli: downloaded to ${path.join(cacheDir, 'temporal')}`);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function findGo(env: NodeJS.ProcessEnv): string | undefined {
  return (
    findOnPath('go', env) ??
    ['/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/opt/homebrew/bin/go'].find((p) => !executableProblem(p))
  );
}

/**
 * Builds into a private GOBIN inside the cache and renames the binary into place, so a
 * half-written binary is never visible to other callers.
 */
async function goInstallCli(cacheDir: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  const go = findGo(env);
  if (!go) throw new Error('`go` not found on PATH or in /usr/local/go/bin');
  const gobin = fs.mkdtempSync(path.join(cacheDir, '.gobin-'));
  const started = Date.now();
  log(`temporal-cli: building ${GO_PACKAGE}@${TEMPORAL_CLI_VERSION} with ${go} (takes minutes on a cold cache)`);
  try {
    const child = spawn(go, ['install', `${GO_PACKAGE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: gobin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onOutput = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (line.startsWith('go: downloading')) log(`temporal-cli: ${line}`);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const ticker = setInterval(() => {
      log(`temporal-cli: . still building (${Math.round((Date.now() - started) / 1000)}s)`);
    }, PROGRESS_INTERVAL_MS);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    }).finally(() => clearInterval(ticker));
    if (exitCode !== 0) {
      throw new Error(`exited with code ${exitCode}:\n${tail.join('\n')}`);
    }
    fs.renameSync(path.join(gobin, 'temporal'), path.join(cacheDir, 'temporal'));
    log(`temporal-cli: built ${path.join(cacheDir, 'temporal')} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
