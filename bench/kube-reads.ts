/**
 * Worker CPU per Kubernetes read against the simulator's per-cluster HTTPS endpoints: Node.js's global
 * agent with a TLS context built per connection (how activities/kubernetes.ts read before) against
 * one context per KubeConfig and an agent with a TLS session per cluster and at most two connections
 * per endpoint (how it reads now). Each round reads every cluster as preflight and a health check
 * do (four lists side by side, then nodes and pods); rounds are 6 s apart, so the simulator has
 * closed the idle connections, as happens between a cluster's checks. Figures only.
 *
 *   npx tsx bench/kube-reads.ts [clusters=100] [rounds=3]
 */
import https from 'node:https';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFor } from '../activities/aws';
import { createEksToken } from '../activities/eks-token';
import { startSimulator } from '../simulator/index';

const CREDENTIALS = { accessKeyId: 'AKIDFLEETWAVETEST', secretAccessKey: 'fleetwave-test-secret' };
type Mode = 'context per connection' | 'context per KubeConfig';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100);
  const rounds = Number(process.argv[3] ?? 3);
  const fleet = Array.from({ length: n }, (_, i) => ({
    name: `c${i}`,
    region: 'us-east-1',
    account: '111122223333',
    version: '1.29',
    nodegroups: [{ name: 'general', nodes: 3, maxUnavailable: 1 }],
    addons: [{ name: 'vpc-cni', version: 'v1.18.3-eksbuild.3' }],
  }));
  // In this process: its CPU is counted with the reads', the same in every variant.
  const sim = await startSimulator({ fleet: fleet as never, port: 0, timeScale: 1200, seed: 7 });
  const kcs: KubeConfig[] = [];
  for (let i = 0; i < n; i++) {
    const cluster = { name: `c${i}`, region: 'us-east-1', account: '111122223333' };
    const { token } = await createEksToken({
      clusterName: cluster.name,
      region: cluster.region,
      credentials: CREDENTIALS,
    });
    const endpoint = await sim.kubernetesEndpoint(cluster.name);
    kcs.push(kubeConfigFor(cluster, { endpoint, certificateAuthority: sim.certificateAuthority }, token));
  }
  const agent = new https.Agent({
    keepAlive: true,
    scheduling: 'lifo',
    timeout: 5_000,
    maxSockets: 2,
    maxCachedSessions: n,
  });
  const contexts = new WeakMap<KubeConfig, tls.SecureContext>();

  const get = async (kc: KubeConfig, path: string, mode: Mode): Promise<void> => {
    const opts: https.RequestOptions & { secureContext?: tls.SecureContext } = {};
    await kc.applyToHTTPSOptions(opts);
    delete opts.agent;
    if (mode === 'context per KubeConfig') {
      opts.agent = agent;
      let context = contexts.get(kc);
      if (!context) {
        context = tls.createSecureContext({ ca: opts.ca });
        contexts.set(kc, context);
      }
      opts.secureContext = context;
    }
    const url = new URL(`${kc.getCurrentCluster()?.server ?? ''}${path}`);
    await new Promise<void>((resolve, reject) => {
      const req = https.request(
        url,
        { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
            else resolve(void JSON.parse(body));
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  };

  const modes: Mode[] = ['context per connection', 'context per KubeConfig'];
  for (const mode of [...modes, ...modes]) {
    let cpuMs = 0;
    let reads = 0;
    for (let round = 0; round < rounds; round++) {
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const before = process.cpuUsage();
      await Promise.all(
        kcs.map(async (kc) => {
          const lists = ['/api/v1/nodes', '/api/v1/pods', '/apis/policy/v1/poddisruptionbudgets', '/api/v1/nodes'];
          await Promise.all(lists.map((path) => get(kc, path, mode)));
          await get(kc, '/api/v1/nodes', mode);
          await get(kc, '/api/v1/pods', mode);
          reads += 6;
        }),
      );
      const used = process.cpuUsage(before);
      cpuMs += (used.user + used.system) / 1000;
    }
    process.stdout.write(
      `${mode}: ${reads} reads of ${n} clusters, ${(cpuMs / reads).toFixed(2)} ms of CPU per read\n`,
    );
  }
  agent.destroy();
  await sim.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
