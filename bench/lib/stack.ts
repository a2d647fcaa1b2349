/**
 * The whole fleetwave stack for benchmarks and resilience tests, wired as `npm run demo` wires
 * it: a dedicated Temporal dev server (in memory, or a SQLite file so it can be killed and
 * restarted), the fleet simulator in this process, a real Prometheus scraping it, and the worker
 * as a child process (`node bin/fleetwave.mjs worker`) pointed at all three.
 *
 *   const stack = await startStack({ fleet, timeScale: 1200, dir });
 *   const { workflowId } = await stack.client.startCampaign({ campaign, fleet });
 *   await stack.worker.kill9(); await stack.worker.restart();
 *   await stack.restartServer();        // kill -9, same port and database file
 *   await stack.stopPrometheus(); await stack.startPrometheus();   // same port
 *   await stack.stop();
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { connectTemporal, type FleetwaveClient } from '../../client/library';
import type { Fleet } from '../../domain/fleet';
import { findFreePort, startDevServer, type DevServer } from '../../scripts/dev-server';
import { freePort, prometheusBinary, startPrometheus, type TestPrometheus } from '../../scripts/prometheus';
import { startSimulator, type Simulator } from '../../simulator/index';
import { simulatorWorkerEnv } from '../../simulator/worker-env';
import { startWorkerProcess, type WorkerEntry, type WorkerProcess } from './worker-process';

/** Options for {@link startStack}. */
export interface StackOptions {
  fleet: Fleet;
  /** Simulated seconds per real second. */
  timeScale: number;
  /** Seed of the simulator. Default 1. */
  seed?: number;
  /** Directory for logs (and the database file with `persistent`). */
  dir: string;
  /** Keep Temporal's state in `<dir>/temporal.db` so the server survives a kill -9. Default: in memory. */
  persistent?: boolean;
  /** `--dynamic-config-value` entries for the dev server. Default: none. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Serve the dev server's own Prometheus metrics (`server.metricsUrl`). Default: false. */
  serverMetrics?: boolean;
  /** Start Prometheus (needs the binary). Default: true. */
  prometheus?: boolean;
  /** Prometheus scrape interval. Default "1s". */
  scrapeInterval?: string;
  /** Extra worker environment (FLEETWAVE_MAX_CONCURRENT_ACTIVITIES, LOG_LEVEL...). */
  workerEnv?: Record<string, string>;
  /** How the worker's code is loaded (bench/lib/worker-process.ts). Default: `source`. */
  workerEntry?: WorkerEntry;
  /** Count the simulator's answers by HTTP status (see {@link Stack.simResponses}). Default: false. */
  countSimResponses?: boolean;
  /** Progress lines. Default: discard. */
  log?: (line: string) => void;
}

/** A running stack; {@link stop} tears down everything it started. */
export interface Stack {
  /** The current dev server (replaced by {@link restartServer}). */
  readonly server: DevServer;
  readonly sim: Simulator;
  /** The current Prometheus, if running. */
  readonly prom: TestPrometheus | undefined;
  /** Prometheus base URL the worker was given (the same across restarts). */
  readonly prometheusUrl: string | undefined;
  readonly worker: WorkerProcess;
  /** Client on the dev server (reconnects by itself after a server restart). */
  readonly client: FleetwaveClient;
  /** Environment the worker runs with. */
  readonly workerEnv: Record<string, string>;
  /** HTTP status → answers the simulator gave (with `countSimResponses`), e.g. 429 for throttled EKS calls. */
  readonly simResponses: Map<number, number>;
  /** kill -9 the dev server and start it again on the same port with the same database file. */
  restartServer(opts?: { downMs?: number }): Promise<void>;
  /** Stops Prometheus (its data goes with it). */
  stopPrometheus(): Promise<void>;
  /** Starts Prometheus again on the same port and waits for its first scrape. */
  startPrometheus(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A metric every scrape of the simulator has, to know that Prometheus has data. */
const READY_QUERY = 'fleetwave_sim_workload_error_ratio';

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
  mkdirSync(opts.dir, { recursive: true });
  const stops: { name: string; stop: () => Promise<unknown> }[] = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) {
      await s.stop().catch((err: unknown) => log(`stopping ${s.name}: ${String(err)}`));
    }
  };

  try {
    const dbFilename = opts.persistent ? path.join(opts.dir, 'temporal.db') : undefined;
    const port = await findFreePort();
    const metricsPort = opts.serverMetrics ? await findFreePort() : undefined;
    const serverOptions = {
      port,
      ...(metricsPort ? { metricsPort } : {}),
      uiPort: false as const,
      ...(dbFilename ? { dbFilename } : {}),
      ...(opts.dynamicConfig ? { dynamicConfig: opts.dynamicConfig } : {}),
      log: (line: string) => {
        if (line.startsWith('temporal-cli:') || line.startsWith('dev-server:')) log(line);
      },
    };
    let server = await startDevServer(serverOptions);
    stops.push({ name: 'dev server', stop: () => server.stop() });
    log(`temporal dev server ${server.address} (${dbFilename ?? 'in memory'}) in ${server.startupMs} ms`);

    const simResponses = new Map<number, number>();
    // Profiling aid: every request the simulator answers, one line each, appended to this file.
    const simLogFile = process.env.FLEETWAVE_BENCH_SIM_LOG;
    const simLog = simLogFile ? createWriteStream(simLogFile, { flags: 'a' }) : undefined;
    if (simLog) stops.push({ name: 'simulator log', stop: () => new Promise((resolve) => simLog.end(resolve)) });
    const sim = await startSimulator({
      fleet: opts.fleet,
      port: 0,
      timeScale: opts.timeScale,
      seed: opts.seed ?? 1,
      // One line per request: `<method> <path> <status> <ms>ms`.
      ...(opts.countSimResponses || simLog
        ? {
            log: (line: string) => {
              simLog?.write(`${line}\n`);
              if (!opts.countSimResponses) return;
              const status = Number(/ (\d{3}) [\d.]+ms$/.exec(line)?.[1]);
              if (status) simResponses.set(status, (simResponses.get(status) ?? 0) + 1);
            },
          }
        : {}),
    });
    stops.push({ name: 'simulator', stop: () => sim.stop() });
    log(`simulator ${sim.url}: ${sim.clusterCount} clusters, time-scale ${opts.timeScale}`);

    let prom: TestPrometheus | undefined;
    let promPort: number | undefined;
    const wantProm = opts.prometheus ?? true;
    if (wantProm && !prometheusBinary()) throw new Error('Prometheus binary not found (apt-get install prometheus)');
    const launchProm = async () => {
      promPort ??= await freePort();
      const started = await startPrometheus({
        scrapeTargets: [new URL(sim.url).host],
        scrapeInterval: opts.scrapeInterval ?? '1s',
        port: promPort,
      });
      await started.waitForQuery(READY_QUERY, 60_000);
      return started;
    };
    if (wantProm) {
      prom = await launchProm();
      stops.push({ name: 'prometheus', stop: () => prom?.stop() ?? Promise.resolve() });
      log(`prometheus ${prom.url}`);
    }
    const prometheusUrl = prom?.url;

    const workerMetricsPort = await findFreePort();
    const workerEnv: Record<string, string> = {
      ...simulatorWorkerEnv({
        temporal: server,
        simulatorUrl: sim.url,
        metricsAddress: `127.0.0.1:${workerMetricsPort}`,
        ...(prometheusUrl ? { prometheusUrl } : {}),
        timeScale: opts.timeScale,
      }),
      ...opts.workerEnv,
    };
    const started = Date.now();
    const worker = await startWorkerProcess({
      env: workerEnv,
      logFile: path.join(opts.dir, 'worker.log'),
      ...(opts.workerEntry ? { entry: opts.workerEntry } : {}),
    });
    stops.push({ name: 'worker', stop: () => worker.stop() });
    log(`worker pid ${worker.pid} ready in ${Date.now() - started} ms`);

    const client = await connectTemporal({
      env: { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace },
      connectTimeoutMs: 10_000,
    });
    stops.push({ name: 'client', stop: () => client.close() });

    return {
      get server() {
        return server;
      },
      sim,
      get prom() {
        return prom;
      },
      prometheusUrl,
      worker,
      client,
      workerEnv,
      simResponses,
      async restartServer({ downMs = 0 } = {}) {
        const old = server;
        await killAndWait(old.pid);
        await old.stop();
        log(`temporal dev server pid ${old.pid} killed (SIGKILL)`);
        if (downMs > 0) await sleep(downMs);
        server = await startDevServer({ ...serverOptions, port: old.port });
        log(`temporal dev server back on ${server.address} in ${server.startupMs} ms`);
      },
      async stopPrometheus() {
        const current = prom;
        prom = undefined;
        await current?.stop();
        log('prometheus stopped');
      },
      async startPrometheus() {
        if (prom) return;
        prom = await launchProm();
        log(`prometheus back on ${prom.url}`);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** SIGKILL and wait until the process is gone (Node reaps its own children). */
async function killAndWait(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  throw new Error(`process ${pid} still alive 10 s after SIGKILL`);
}
