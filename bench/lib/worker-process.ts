/**
 * The fleetwave worker as users run it: `node bin/fleetwave.mjs worker` (from the TypeScript
 * sources through tsx in a checkout), or the compiled dist/ as the image runs it (`entry: 'built'`),
 * a child process configured by its environment. Benchmarks sample its CPU and memory from /proc; the
 * resilience tests kill it with SIGKILL and start it again with the same environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessSampler } from './proc';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Options for {@link startWorkerProcess}. */
export interface WorkerProcessOptions {
  /** Added to this process's environment (TEMPORAL_ADDRESS, FLEETWAVE_*, AWS_*). */
  env: Record<string, string>;
  /** Where its JSON logs go (appended across restarts). */
  logFile: string;
  /** How long to wait for "worker ready". Default 120 s (bundling the workflows takes a while on 2 busy cores). */
  readyTimeoutMs?: number;
  /** Sample /proc every this often. Default 1 s. */
  sampleIntervalMs?: number;
  /**
   * `source`: bin/fleetwave.mjs, which runs the TypeScript sources through tsx in a checkout.
   * `built`: the compiled dist/ (`npm run build` first), as the image and an installed package run
   * it. Default: `source`.
   */
  entry?: WorkerEntry;
}

/** How the worker's code is loaded: see {@link WorkerProcessOptions.entry}. */
export type WorkerEntry = 'source' | 'built';

/** The script the worker process starts with. */
export function workerScript(entry: WorkerEntry = 'source'): string {
  return entry === 'built' ? path.join(root, 'bench/lib/built-worker.mjs') : path.join(root, 'bin/fleetwave.mjs');
}

/** One worker process at a time; `restart()` replaces it with a fresh one. */
export interface WorkerProcess {
  /** PID of the current process. */
  readonly pid: number;
  /** How many processes were started so far (1 + restarts). */
  readonly starts: number;
  /** /proc samples of the current process. */
  readonly sampler: ProcessSampler;
  /** Samplers of every process started, oldest first. */
  readonly samplers: ProcessSampler[];
  /** SIGKILL, no grace; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Starts a new process with the same environment (the old one must be gone); resolves when it is ready. */
  restart(): Promise<void>;
  /** SIGTERM (the worker drains), SIGKILL after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  sampler: ProcessSampler;
}

/** Starts the worker and resolves once it logged "worker ready". */
export async function startWorkerProcess(opts: WorkerProcessOptions): Promise<WorkerProcess> {
  const log: WriteStream = createWriteStream(opts.logFile, { flags: 'a' });
  const samplers: ProcessSampler[] = [];
  let current: Running = await launch(opts, log, samplers);
  let starts = 1;

  const waitGone = async (r: Running) => {
    await r.exited;
    r.sampler.stop();
  };

  return {
    get pid() {
      return current.child.pid ?? -1;
    },
    get starts() {
      return starts;
    },
    get sampler() {
      return current.sampler;
    },
    samplers,
    async kill9() {
      current.sampler.sample();
      current.child.kill('SIGKILL');
      await waitGone(current);
    },
    async restart() {
      if (current.child.exitCode === null && current.child.signalCode === null) {
        throw new Error(`worker ${current.child.pid} is still running; kill or stop it first`);
      }
      current = await launch(opts, log, samplers);
      starts++;
    },
    async stop(graceMs = 20_000) {
      const r = current;
      if (r.child.exitCode !== null || r.child.signalCode !== null) {
        r.sampler.stop();
        log.end();
        return;
      }
      r.sampler.sample();
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      await waitGone(r);
      clearTimeout(timer);
      log.end();
    },
  };
}

/**
 * Node.js flags for the worker process only (not the bench, not the bundler it starts), from
 * FLEETWAVE_BENCH_WORKER_NODE_OPTIONS, split on whitespace: profiling a run, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof --heapsnapshot-signal=SIGUSR2` (bench/README.md, "Profiling the worker").
 */
function workerNodeFlags(): string[] {
  return (process.env.FLEETWAVE_BENCH_WORKER_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
}

async function launch(opts: WorkerProcessOptions, log: WriteStream, samplers: ProcessSampler[]): Promise<Running> {
  const child = spawn(process.execPath, [...workerNodeFlags(), workerScript(opts.entry), 'worker'], {
    cwd: root,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn the worker');
  const sampler = new ProcessSampler(child.pid, opts.sampleIntervalMs ?? 1_000);
  samplers.push(sampler);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A bench or test that dies must not leave a worker behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  let buffered = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buffered = (buffered + chunk.toString()).slice(-20_000);
      if (buffered.includes('worker ready')) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    void exited.then(() =>
      reject(new Error(`worker exited (code ${child.exitCode}) before it was ready; see ${opts.logFile}`)),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`worker not ready after ${opts.readyTimeoutMs ?? 120_000} ms; see ${opts.logFile}`)),
      opts.readyTimeoutMs ?? 120_000,
    );
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { child, exited, sampler };
}
