/**
 * A real Prometheus server (tests, demo and benchmarks): Debian's `prometheus` binary (or PROMETHEUS_BIN,
 * or the build scripts/prometheus-build.ts caches) with a
 * temporary config that scrapes the given targets, a temporary TSDB, and a free port on
 * 127.0.0.1. `stop()` kills it and removes its files.
 *
 *   const prom = await startPrometheus({ scrapeTargets: [new URL(sim.url).host], scrapeInterval: '1s' });
 *   await prom.waitForQuery('fleetwave_sim_workload_error_ratio');
 *   ...
 *   await prom.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findPrometheus } from './prometheus-build';

export interface StartPrometheusOptions {
  /** `host:port` of each target to scrape. */
  scrapeTargets: string[];
  /** Default "1s". */
  scrapeInterval?: string;
  /** Default "/metrics". */
  metricsPath?: string;
  /** Default: {@link prometheusBinary}. */
  binary?: string;
  /** How long to wait for /-/ready. Default 30 s. */
  readyTimeoutMs?: number;
  /** Port on 127.0.0.1 (e.g. the one a stopped instance had, so its clients reconnect). Default: a free port. */
  port?: number;
}

export interface TestPrometheus {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Resolves once `query` returns at least one sample (the first scrape landed). */
  waitForQuery(query: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Prometheus binary tests would use, or undefined when there is none: PROMETHEUS_BIN, else
 * `prometheus` on PATH or /usr/bin, else the cached build (never builds; see scripts/prometheus-build.ts).
 */
export function prometheusBinary(): string | undefined {
  return findPrometheus(process.env);
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPrometheus(opts: StartPrometheusOptions): Promise<TestPrometheus> {
  const binary = opts.binary ?? prometheusBinary();
  if (!binary)
    throw new Error(
      'no Prometheus binary (install Debian package prometheus, set PROMETHEUS_BIN, or run npx tsx scripts/prometheus-build.ts)',
    );
  const dir = await mkdtemp(path.join(tmpdir(), 'fleetwave-prom-'));
  const interval = opts.scrapeInterval ?? '1s';
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: fleetwave-test',
    `    scrape_interval: ${interval}`,
    `    scrape_timeout: ${interval}`,
    `    metrics_path: ${JSON.stringify(opts.metricsPath ?? '/metrics')}`,
    '    static_configs:',
    `      - targets: ${JSON.stringify(opts.scrapeTargets)}`,
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'prometheus.yml'), config);
  const port = opts.port || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      // Samples count as current for 5 minutes by default; a stopped target should look stale fast.
      '--query.lookback-delta=10s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${output}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after ${opts.readyTimeoutMs ?? 30_000} ms: ${output}`);
    }
    await sleep(100);
  }

  return {
    url,
    stop,
    async waitForQuery(query, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        if ((body.data?.result?.length ?? 0) > 0) return;
        if (Date.now() > until) throw new Error(`prometheus: no samples for ${query} after ${timeoutMs} ms`);
        await sleep(250);
      }
    },
  };
}
