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
  /** A codec server the Web UI decodes payloads with (client/codec-server.ts). Default: none. */
  uiCodecEndpoint?: string;
  /** Namespace to create and wait for. Default: `default`. */
  namespace?: string;
  /** `--dynamic-config-value` entries, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 50 }`. Default: none. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Port of the server's Prometheus `/metrics` endpoint. Default: one the CLI picks at random (not reported). */
  metricsPort?: number;
  /** Server log level. Default: `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** How long to wait for the frontend to answer. Default: 60 s (first start on 2 cores is slow). */
  startTimeoutMs?: number;
  /**
   * Register fleetwave's search attributes at start (`--search-attribute`). Default: true. False
   * gives a namespace like a fresh production one, for `fleetwave setup` to register them.
   */
  searchAttributes?: boolean;
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
  /** `http://127.0.0.1:<port>/metrics`, when started with `metricsPort`. */
  metricsUrl?: string;
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
 * fleetwave's search attributes are registered. When the server loses a race for a port
 * ("address already in use"), it tries again (3 attempts; auto-picked ports are picked afresh).
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  const cliPath = opts.cliPath ?? (await findOrBuildTemporalCli({ log }));
  // The server also picks its internal ports at random, so a clash can happen even with explicit ports.
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnDevServer(cliPath, opts, log);
    } catch (err) {
      const portClash = err instanceof DevServerStartError && /address already in use/i.test(err.serverOutput);
      if (!portClash || attempt >= attempts) throw err;
      log(`dev-server: port clash, retrying with fresh ports (attempt ${attempt + 1} of ${attempts})`);
    }
  }
}

/** The server did not come up; `serverOutput` holds what it printed. */
export class DevServerStartError extends Error {
  constructor(
    message: string,
    readonly serverOutput: string,
  ) {
    super(`${message}\n--- server output ---\n${serverOutput}`);
    this.name = 'DevServerStartError';
  }
}

async function spawnDevServer(
  cliPath: string,
  opts: DevServerOptions,
  log: (line: string) => void,
): Promise<DevServer> {
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ? opts.port : await findFreePort();
  const uiPort = opts.uiPort === false ? undefined : opts.uiPort ? opts.uiPort : await findFreePort();

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (uiPort !== undefined && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  args.push('--namespace', namespace, '--log-level', opts.logLevel ?? 'warn');
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  if (opts.metricsPort) args.push('--metrics-port', String(opts.metricsPort));
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  const withAttributes = opts.searchAttributes ?? true;
  for (const { name, type } of withAttributes ? SEARCH_ATTRIBUTES : []) {
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

  // A caller that exits without stop() (crash, process.exit) must not leave a server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000) => (stopping ??= stopProcess(child, graceMs));

  try {
    await waitUntilServing({
      address,
      namespace,
      searchAttributes: withAttributes,
      timeoutMs: opts.startTimeoutMs ?? 60_000,
      exited,
      // The CLI prints `Server:  localhost:<port>` once it bound the port. Until then a gRPC answer
      // may come from another server that already holds the port.
      bannerSeen: () => output.some((line) => line.startsWith('Server:')),
    });
  } catch (err) {
    await stop(2_000);
    const message = err instanceof Error ? err.message : String(err);
    throw new DevServerStartError(`Temporal dev server on ${address} did not start: ${message}`, recentOutput());
  }
  const startupMs = Date.now() - started;
  log(`dev-server: ${address} ready in ${startupMs} ms${uiPort ? `, UI http://127.0.0.1:${uiPort}` : ''}`);

  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    namespace,
    port,
    uiPort,
    ...(opts.metricsPort ? { metricsUrl: `http://127.0.0.1:${opts.metricsPort}/metrics` } : {}),
    pid: child.pid ?? -1,
    cliPath,
    args,
    startupMs,
    recentOutput,
    stop,
  };
}

/**
 * Asks the OS for a free TCP port on 127.0.0.1 by binding port 0. Linux hands out recently
 * closed ephemeral ports again at random, and the dev server picks its internal ports the same
 * way, so we connect once and close the server side first: the port then sits in TIME_WAIT,
 * where bind(0) will not hand it out again but an explicit bind (SO_REUSEADDR, as Go does) works.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.destroy();
      server.close(() => resolve(port));
    });
    let port = 0;
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      port = typeof addr === 'object' && addr ? addr.port : 0;
      if (!port) {
        server.close(() => reject(new Error('could not determine a free port')));
        return;
      }
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      client.on('close', () => undefined);
      client.on('end', () => client.destroy());
    });
  });
}

async function waitUntilServing(params: {
  address: string;
  namespace: string;
  searchAttributes: boolean;
  timeoutMs: number;
  exited: Promise<string>;
  bannerSeen: () => boolean;
}): Promise<void> {
  const started = Date.now();
  const deadline = started + params.timeoutMs;
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
      const wanted = params.searchAttributes ? SEARCH_ATTRIBUTES : [];
      const missing = wanted.filter(({ name }) => !(name in (customAttributes ?? {})));
      if (missing.length > 0) {
        lastError = `search attributes not registered yet: ${missing.map(({ name }) => name).join(', ')}`;
      } else if (!params.bannerSeen() && Date.now() - started < 5_000) {
        // Tolerate a CLI that prints no banner, but only after giving a port clash time to show.
        lastError = 'answering, but the server has not reported its address yet';
      } else if (!exitReason) {
        return;
      }
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
