/**
 * Runs the real `fleetwave` CLI (bin/fleetwave.mjs) as a child process, the way users do, and
 * collects its exit code, output and duration. Asynchronous on purpose: a worker running in the
 * test process keeps serving tasks while the CLI waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './bundle';

/** What one CLI run produced. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string | undefined>;
  /** Kill the CLI after this long. Default: 60 s. */
  timeoutMs?: number;
  cwd?: string;
}

/** A CLI process still running: signal it, read what it wrote so far, await its end. */
export interface CliProcess {
  child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  done: Promise<CliRun>;
}

/** Starts `fleetwave <args>` and returns at once (for long-running commands such as `worker`). */
export function startCli(args: string[], opts: RunCliOptions = {}): CliProcess {
  const started = Date.now();
  // Neither the developer's Temporal profile nor a stray FLEETWAVE_* setting may leak into a test.
  const env: Record<string, string | undefined> = { ...process.env, TEMPORAL_CONFIG_FILE: '/nonexistent', ...opts.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fleetwave.mjs'), ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** `fleetwave <args>`; resolves when the process exits (or is killed at the timeout). */
export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliRun> {
  return startCli(args, opts).done;
}
