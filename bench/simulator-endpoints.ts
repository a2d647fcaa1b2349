/**
 * Benchmark: every cluster of a 5,000-cluster fleet gets its HTTPS Kubernetes endpoint (one port
 * each, bound on first use), then one verified request to each of a sample. Prints the time to
 * open them all, the open file descriptors, a request's latency over a fresh TLS connection, and
 * RSS. Prints figures only and always exits 0.
 *
 *   npx tsx bench/simulator-endpoints.ts [clusters=5000] [requests=200]
 */
import { readdirSync } from 'node:fs';
import { request } from 'node:https';
import { generateFleet, startSimulator } from '../simulator/index';

const clusters = Number(process.argv[2] ?? 5000);
const requests = Number(process.argv[3] ?? 200);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const fds = () => {
  try {
    return String(readdirSync('/proc/self/fd').length);
  } catch {
    return 'n/a';
  }
};

const fleet = generateFleet({ count: clusters, seed: 42 });
const sim = await startSimulator({ fleet, port: 0, timeScale: 600, seed: 42 });
const fdsBefore = fds();

const t0 = performance.now();
const endpoints = await Promise.all(fleet.clusters.map((c) => sim.kubernetesEndpoint(c.name)));
const openMs = performance.now() - t0;

const healthz = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now();
    // A new agent per call: each request pays a full TLS handshake, verified against the CA.
    const req = request(`${url}/healthz`, { ca: sim.caPem, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
const step = Math.max(1, Math.floor(endpoints.length / requests));
const times: number[] = [];
for (let i = 0; i < endpoints.length && times.length < requests; i += step)
  times.push(await healthz(endpoints[i] as string));
times.sort((a, b) => a - b);

console.log(`simulator HTTPS endpoints benchmark: ${clusters} clusters`);
console.log(`  open every endpoint  ${openMs.toFixed(0)} ms (${endpoints.length} ports)`);
console.log(`  open file descriptors ${fdsBefore} before, ${fds()} after`);
console.log(
  `  GET /healthz          median ${times[Math.floor(times.length / 2)]?.toFixed(1)} ms, max ${times.at(-1)?.toFixed(1)} ms (${times.length} requests, new TLS connection each)`,
);
console.log(`  RSS                   ${mb(process.memoryUsage().rss)} MB`);
await sim.stop();
