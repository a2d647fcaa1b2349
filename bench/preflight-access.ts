/**
 * Worker CPU of preflight's access review (SelfSubjectAccessReviews of the permissions a cluster's
 * plan uses, activities/eks/preflight.ts) against the simulator, run as its own process so that
 * only the worker's CPU is counted. Each round runs the preflight local activity of every cluster
 * (its baseline and node models included), ten at once as a busy worker would, with the review
 * and without it: the difference is what the review costs. Three kinds of cluster: managed node
 * groups only (the reads preflight makes answer for themselves: no review), a self-installed
 * Karpenter (4 reviews) and a View-only access entry (node models unreadable: 11 reviews, blocked).
 * Figures only.
 *
 *   npx tsx bench/preflight-access.ts [clusters per kind=50] [rounds=3]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createDefaultDeps } from '../activities/aws';
import { resolveDeps } from '../activities/deps';
import { createEksActivities } from '../activities/eks';
import { createKubernetesActivities } from '../activities/kubernetes';
import { API_VERSION } from '../domain/spec';
import type { PinnedVersions, PreflightInput, PreflightResult } from '../activities/types';

const CREDENTIALS = { accessKeyId: 'AKIDFLEETWAVETEST', secretAccessKey: 'fleetwave-test-secret' };
const ACCOUNT = '111122223333';
const CONCURRENCY = 10;
const KINDS = ['managed', 'karpenter', 'view'] as const;
type Kind = (typeof KINDS)[number];

function clusterOf(kind: Kind, i: number): Record<string, unknown> {
  return {
    name: `${kind}-${i}`,
    region: 'us-east-1',
    account: ACCOUNT,
    version: '1.29',
    nodegroups: [{ name: 'general', nodes: 3, maxUnavailable: 1 }],
    addons: [{ name: 'kube-proxy', version: 'v1.29.13-eksbuild.3' }],
    ...(kind === 'karpenter'
      ? { karpenter: { version: '1.5.0' }, nodePools: [{ name: 'default', nodes: 3, budgetNodes: '10%' }] }
      : {}),
    ...(kind === 'view' ? { accessPolicy: 'AmazonEKSViewPolicy' } : {}),
  };
}

/** The simulator in a child process; resolves with its URL once it listens. */
async function startSimulatorProcess(fleetFile: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'simulator/main.ts', '--fleet', fleetFile, '--port', '0', '--time-scale', '1200'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`simulator exited with ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function main(): Promise<void> {
  const perKind = Number(process.argv[2] ?? 50);
  const rounds = Number(process.argv[3] ?? 3);
  const fleet = KINDS.flatMap((kind) => Array.from({ length: perKind }, (_, i) => clusterOf(kind, i)));
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-access-'));
  const fleetFile = path.join(dir, 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify({ apiVersion: API_VERSION, kind: 'Fleet', clusters: fleet }));
  const sim = await startSimulatorProcess(fleetFile);
  try {
    const deps = resolveDeps(createDefaultDeps({ endpoint: sim.url, region: 'us-east-1', credentials: CREDENTIALS }));
    const kubernetes = createKubernetesActivities(deps);
    const variants = {
      'with review': createEksActivities(deps, kubernetes),
      'without review': createEksActivities(deps, { ...kubernetes, reviewAccess: undefined }),
    };
    const logger = new DefaultLogger('ERROR');
    const pinned: PinnedVersions = { nodegroupRelease: {}, addons: {}, resolvedAt: 'x' };
    const run = (fn: (input: PreflightInput) => Promise<PreflightResult>, name: string) =>
      new MockActivityEnvironment({}, { logger }).run(fn, {
        cluster: { name, region: 'us-east-1', account: ACCOUNT },
        targetVersion: '1.30',
        pinned,
        captureBaseline: true,
      }) as Promise<PreflightResult>;

    /** CPU (user + system) of one pass over the clusters of `kind`, ten preflights at once. */
    const pass = async (variant: keyof typeof variants, kind: Kind): Promise<{ cpuMs: number; blocked: number }> => {
      const names = Array.from({ length: perKind }, (_, i) => `${kind}-${i}`);
      let next = 0;
      let blocked = 0;
      const before = process.cpuUsage();
      const lane = async () => {
        while (next < names.length) {
          const result = await run(variants[variant].preflightCluster, names[next++]!);
          if (result.blockers.some((b) => b.startsWith('Kubernetes RBAC denies'))) blocked++;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, lane));
      const used = process.cpuUsage(before);
      return { cpuMs: (used.user + used.system) / 1000, blocked };
    };

    // Warm-up: sessions, tokens and TLS contexts exist, as in a worker that has run for a while.
    for (const kind of KINDS) await pass('with review', kind);
    const totals = new Map<string, { cpuMs: number; blocked: number; n: number }>();
    for (let r = 0; r < rounds; r++) {
      for (const kind of KINDS) {
        // Alternated, so that drift in the machine's load falls on both alike.
        const order: (keyof typeof variants)[] =
          r % 2 === 0 ? ['with review', 'without review'] : ['without review', 'with review'];
        for (const variant of order) {
          const { cpuMs, blocked } = await pass(variant, kind);
          const key = `${kind}|${variant}`;
          const t = totals.get(key) ?? { cpuMs: 0, blocked: 0, n: 0 };
          totals.set(key, { cpuMs: t.cpuMs + cpuMs, blocked: t.blocked + blocked, n: t.n + perKind });
        }
      }
    }
    console.log(`preflight CPU per cluster, ${perKind} clusters per kind, ${rounds} rounds, ${CONCURRENCY} at once`);
    console.log('kind       without review  with review  review costs  blocked (with review)');
    for (const kind of KINDS) {
      const without = totals.get(`${kind}|without review`)!;
      const withReview = totals.get(`${kind}|with review`)!;
      const a = without.cpuMs / without.n;
      const b = withReview.cpuMs / withReview.n;
      console.log(
        `${kind.padEnd(10)} ${a.toFixed(2).padStart(11)} ms ${b.toFixed(2).padStart(9)} ms ${(b - a).toFixed(2).padStart(10)} ms  ${withReview.blocked}/${withReview.n}`,
      );
    }
  } finally {
    sim.stop();
  }
}

await main();
