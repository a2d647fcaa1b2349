/**
 * The exposition against real Prometheus tooling: `promtool check metrics` accepts it, and a
 * real Prometheus server scrapes the simulator so that a PromQL query over one cluster's
 * series returns the value the simulator holds. Skipped only on a machine without Prometheus
 * outside CI; in CI (.ci/run installs the Debian package) it must run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFleet, METRIC_NAMES, startSimulator, type Simulator } from '../../simulator/index';
import { acceptsGzip } from '../../simulator/server';
import { testFleet, waitFor } from './helpers';

function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

const prometheusBin = findBinary('prometheus');
const promtoolBin = findBinary('promtool');
const skip = (bin: string | undefined) => bin === undefined && !process.env.CI;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function run(bin: string, args: string[], stdin: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(stdin);
  });
}

let sim: Simulator | undefined;
let prometheus: ChildProcess | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  prometheus = undefined;
  await sim?.stop();
  sim = undefined;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe('simulator /metrics with real Prometheus', () => {
  it.skipIf(skip(promtoolBin))('passes promtool check metrics', async () => {
    sim = await startSimulator({
      fleet: [...testFleet(), ...generateFleet({ count: 20, seed: 3 }).clusters],
      port: 0,
      timeScale: 600,
    });
    sim.injectFaults('alpha', { degradeAtVersion: '1.30', crashLoopAfterUpgrade: true, serverErrorRate: 0.2 });
    const res = await fetch(`${sim.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    for (const name of METRIC_NAMES) expect(text).toContain(`# TYPE ${name} `);
    // Every series names its cluster.
    const series = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(series.length).toBe(METRIC_NAMES.length * 24);
    expect(series.every((l) => /\{cluster="[^"]+",region="[^"]+"/.test(l))).toBe(true);

    const { code, output } = await run(promtoolBin ?? 'promtool', ['check', 'metrics'], text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('answers gzip when the scraper asks for it (Prometheus does), the same page as without', async () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('identity, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('gzip;q=0, identity')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 600 });
    const url = new URL(`${sim.url}/metrics`);
    const raw = (encoding: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const req = httpGet(url, { headers: { 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
      });
    const zipped = await raw('gzip');
    const plain = await raw('identity');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(plain.headers['content-encoding']).toBeUndefined();
    // The same series (values move with the simulated clock between the two scrapes).
    const series = (text: string) => text.split('\n').map((l) => (l.startsWith('#') ? l : l.replace(/ [^ ]+$/, '')));
    expect(series(gunzipSync(zipped.body).toString('utf8'))).toEqual(series(plain.body.toString('utf8')));
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
  });

  it.skipIf(skip(prometheusBin))(
    'is scraped by Prometheus; PromQL over one cluster returns the simulated values',
    async () => {
      sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 600, seed: 9 });
      sim.injectFaults('blocked', { degradeAtVersion: '1.31' });
      dataDir = await mkdtemp(join(tmpdir(), 'fleetwave-prom-'));
      const port = await freePort();
      const config = join(dataDir, 'prometheus.yml');
      await writeFile(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: fleetwave-sim',
          '    static_configs:',
          `      - targets: ['${new URL(sim.url).host}']`,
          '',
        ].join('\n'),
      );
      prometheus = spawn(
        prometheusBin ?? 'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dataDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      prometheus.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));

      const base = `http://127.0.0.1:${port}`;
      const query = async (promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
        const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
        const body = (await res.json()) as {
          status: string;
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        expect(body.status).toBe('success');
        return body.data.result;
      };
      const first = await waitFor(
        'a scraped sample',
        async () => {
          if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
          try {
            const result = await query('fleetwave_sim_nodes{cluster="alpha"}');
            return result.length > 0 ? result : undefined;
          } catch {
            return undefined;
          }
        },
        45_000,
      );
      expect(first).toHaveLength(1);
      expect(first[0]?.metric).toMatchObject({ cluster: 'alpha', region: 'us-east-1', job: 'fleetwave-sim' });
      expect(first[0]?.value[1]).toBe('5');

      const [alpha] = await query('max(fleetwave_sim_workload_error_ratio{cluster="alpha"})');
      expect(Number(alpha?.value[1])).toBeCloseTo(sim.state('alpha').clusters[0]?.workload.errorRatio ?? NaN, 6);
      const [blocked] = await query('max(fleetwave_sim_workload_error_ratio{cluster="blocked"})');
      expect(Number(blocked?.value[1])).toBeGreaterThanOrEqual(0.05);
      const fleetNodes = await query('sum(fleetwave_sim_nodes)');
      expect(fleetNodes[0]?.value[1]).toBe('10');
      const [version] = await query('fleetwave_sim_cluster_info{cluster="beta"}');
      expect(version?.metric.version).toBe('1.31');
    },
    90_000,
  );
});
