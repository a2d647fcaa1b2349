/**
 * Starts and stops a Temporal dev server (`temporal server start-dev`) with fleetwave's
 * search attributes registered. Used by the test harness, the demo and the e2e tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { findOrBuildTemporalCli } from './temporal-cli';

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  /** SQLite file for persistent state. Default: in-memory (state is lost when the server stops). */
  dbFilename?: string;
  /** Frontend gRPC port. Default (or 0): a free port. */
  port?: number;
  /** Web UI port; `false` runs headless. Default (or 0): a free port. */
  uiPort?: number | false;
  /** Namespace to create and wait for. Default: `default`. */
  namespace?: string;
  /** `--dynamic-config-value` entries, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 50 }`. Default: none. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Server log level. Default: `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** How long to wait for the frontend to answer. Default: 60 s (first start on 2 cores is slow). */
  startTimeoutMs?: number;
  /** Path of the `temporal` binary. Default: {@link findOrBuildTemporalCli}. */
  cliPath?: string;
  /** Receives progress lines and the server's output. Default: discard. */
  log?: (line: string) => void;
}

/** A running dev server. */
export interface DevServer {
  /** `127.0.0.1:<port>`, for `Connection.connect({ address })` and TEMPORAL_ADDRESS. */
  address: string;
  /** Web UI address, unless headless. */
  uiUrl?: string;
  namespace: string;
  port: number;
  uiPort?: number;
  pid: number;
  cliPath: string;
  args: string[];
  /** Milliseconds from spawn until the namespace answered. */
  startupMs: number;
  /** The last lines the server wrote to stdout/stderr. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s). Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LINES_KEPT = 200;

/**
 * Spawns `temporal server start-dev` and resolves once its namespace answers over gRPC and
 * fleetwave's search attributes are registered.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  const namespace = opts.namespace ?? 'default';
  const cliPath = opts.cliPath ?? (await findOrBuildTemporalCli({ log }));
  const port = opts.port ? opts.port : await findFreePort();
  const uiPort = opts.uiPort === false ? undefined : opts.uiPort ? opts.uiPort : await findFreePort();

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]));
  args.push('--namespace', namespace, '--log-level', opts.logLevel ?? 'warn');
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  for (const { name, type } of SEARCH_ATTRIBUTES) {
    args.push('--search-attribute', `${name}=${TypedSearchAttributes.toMetadataType(type)}`);
  }

  const address = `127.0.0.1:${port}`;
  const started = Date.now();
  log(`dev-server: ${cliPath} ${args.join(' ')}`);
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > OUTPUT_LINES_KEPT) output.shift();
      log(`dev-server[${port}]: ${line}`);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`failed to spawn: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`exited early (code ${code}, signal ${signal})`));
  });
  const recentOutput = () => output.join('\n');

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000) => (stopping ??= stopProcess(child, graceMs));

  try {
    await waitUntilServing({ address, namespace, timeoutMs: opts.startTimeoutMs ?? 60_000, exited });
  } catch (err) {
    await stop(2_000);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Temporal dev server on ${address} did not start: ${message}\n--- server output ---\n${recentOutput()}`,
    );
  }
  const startupMs = Date.now() - started;
  log(`dev-server: ${address} ready in ${startupMs} ms${uiPort ? `, UI http://127.0.0.1:${uiPort}` : ''}`);

  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    namespace,
    port,
    uiPort,
    pid: child.pid ?? -1,
    cliPath,
    args,
    startupMs,
    recentOutput,
    stop,
  };
}

/** Asks the OS for a free TCP port on 127.0.0.1 by binding port 0. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

async function waitUntilServing(params: {
  address: string;
  namespace: string;
  timeoutMs: number;
  exited: Promise<string>;
}): Promise<void> {
  const deadline = Date.now() + params.timeoutMs;
  let exitReason: string | undefined;
  void params.exited.then((reason) => (exitReason = reason));
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exitReason) throw new Error(exitReason);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address: params.address, connectTimeout: 2_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.workflowService.describeNamespace({ namespace: params.namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: params.namespace,
      });
      const missing = SEARCH_ATTRIBUTES.filter(({ name }) => !(name in (customAttributes ?? {})));
      if (missing.length === 0) return;
      lastError = `search attributes not registered yet: ${missing.map(({ name }) => name).join(', ')}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (exitReason) throw new Error(exitReason);
  throw new Error(`no answer within ${params.timeoutMs} ms (last error: ${lastError})`);
}

async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([gone, killed]);
  clearTimeout(timer);
  await gone;
}
