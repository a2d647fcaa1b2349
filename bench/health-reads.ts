/**
 * Worker CPU per `checkKubernetesHealth` with every check on (the spec's defaults: nodes Ready,
 * kubelets, crash loops, workloads), the activity as the worker runs it, against the bench's
 * generated fleet. The simulator runs in a child process, so the figure is the reading side's
 * alone: DescribeCluster and the token once per cluster (a warm-up round, not counted), then the
 * lists of each check and their parsing. Figures only.
 *
 *   npx tsx bench/health-reads.ts [clusters=100] [rounds=5] [gap between rounds, ms=0]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivityParts, createDefaultDeps } from '../activities/index';
import { generateFleet, startSimulator } from '../simulator/index';

const CREDENTIALS = { accessKeyId: 'AKIDFLEETWAVETEST', secretAccessKey: 'fleetwave-test-secret' };
const CHECKS = { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true, workloadsAvailable: true };

/** The child: the simulator over the bench's fleet (seed 7), its URL on stdout, until stdin closes. */
async function serve(count: number): Promise<void> {
  const sim = await startSimulator({ fleet: generateFleet({ count, seed: 7 }), port: 0, timeScale: 1200, seed: 7 });
  process.stdout.write(`${sim.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void sim.stop().then(() => process.exit(0)));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve(Number(process.argv[3]));
  const n = Number(process.argv[2] ?? 100);
  const rounds = Number(process.argv[3] ?? 5);
  const gapMs = Number(process.argv[4] ?? 0);
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'serve', String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const fleet = generateFleet({ count: n, seed: 7 }).clusters;
  const deps = createDefaultDeps({ endpoint: url, region: 'us-east-1', credentials: CREDENTIALS });
  const activities = createActivityParts(deps);
  const logger = new DefaultLogger('ERROR');
  const checkAll = async () => {
    for (const c of fleet) {
      const env = new MockActivityEnvironment({}, { logger });
      const cluster = { name: c.name, region: c.region, account: c.account };
      await env.run(activities.checkKubernetesHealth, { cluster, checks: CHECKS });
    }
  };
  await checkAll();
  const start = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    await checkAll();
    // Past the API server's idle timeout (the simulator's is 5 s), as between a cluster's checks.
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000;
  console.log(
    `${n} clusters × ${rounds} rounds${gapMs > 0 ? `, ${gapMs} ms apart` : ''}: ${(ms / (n * rounds)).toFixed(2)} ms of CPU per health check`,
  );
  child.stdin?.end();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
