/**
 * Benchmark: time to serve /metrics for 5,000 generated clusters, and the simulator's RSS.
 * Targets: under 1 s per scrape, under 500 MB. Prints figures only and always exits 0.
 *
 *   npx tsx bench/simulator-metrics.ts [clusters=5000] [scrapes=7]
 */
import { generateFleet, startSimulator } from '../simulator/index';

const clusters = Number(process.argv[2] ?? 5000);
const scrapes = Number(process.argv[3] ?? 7);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

const t0 = performance.now();
const fleet = generateFleet({ count: clusters, seed: 42 });
const generatedMs = performance.now() - t0;
const t1 = performance.now();
const sim = await startSimulator({ fleet, port: 0, timeScale: 600, seed: 42 });
const startMs = performance.now() - t1;

// Some clusters mid-upgrade, so the scrape settles real updates, not only idle clusters.
const busy = fleet.clusters.slice(0, 200);
for (const c of busy) {
  const next = `1.${Number(c.version.split('.')[1]) + 1}`;
  await fetch(`${sim.url}/clusters/${c.name}/updates`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDSIMULATOR/20250101/${c.region}/eks/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify({ version: next, clientRequestToken: `bench-${c.name}`, force: true }),
  });
}

/** Scrapes `scrapes` times with an Accept-Encoding; median and max in ms, and the page's size. */
async function scrape(encoding: string) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < scrapes; i++) {
    const s = performance.now();
    const res = await fetch(`${sim.url}/metrics`, { headers: { 'accept-encoding': encoding } });
    const text = await res.text();
    times.push(performance.now() - s);
    bytes = text.length;
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, bytes };
}
// As Prometheus scrapes (gzip), and uncompressed.
const gzip = await scrape('gzip');
const { median, max, bytes } = await scrape('identity');
const mem = process.memoryUsage();

console.log(`simulator /metrics benchmark: ${clusters} clusters, ${scrapes} scrapes`);
console.log(`  generate fleet        ${generatedMs.toFixed(0)} ms`);
console.log(`  start simulator       ${startMs.toFixed(0)} ms`);
console.log(`  /metrics size         ${(bytes / 1024 / 1024).toFixed(1)} MB (${bytes} bytes)`);
console.log(`  /metrics median       ${median.toFixed(0)} ms  (target < 1000 ms)`);
console.log(`  /metrics max          ${max.toFixed(0)} ms`);
console.log(
  `  /metrics gzip median  ${gzip.median.toFixed(0)} ms, max ${gzip.max.toFixed(0)} ms (as Prometheus asks for it)`,
);
console.log(`  RSS                   ${mb(mem.rss)} MB  (target < 500 MB; heap used ${mb(mem.heapUsed)} MB)`);
await sim.stop();
