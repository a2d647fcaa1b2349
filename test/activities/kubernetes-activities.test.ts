/**
 * Kubernetes activities against the simulator's per-cluster Kubernetes API, with EKS bearer
 * tokens made in-process and checked by the simulator with aws-iam-authenticator's rules.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityParts, createDefaultDeps } from '../../activities/index';
import { kubeConfigFor } from '../../activities/aws';
import { EKS_TOKEN_PREFIX } from '../../activities/eks-token';
import { FailureTypes } from '../../activities/types';
import type { ClusterAccess } from '../../activities/deps';
import { latestRelease } from '../../simulator/index';
import { createSimulatorTls } from '../../simulator/tls';
import { capturingEnvironment, recordHeartbeats, runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, TEST_CREDENTIALS, type SimHarness } from './sim-harness';

const OTHER_ACCOUNT = '444455556666';
let h: SimHarness;
/** The simulator's request log: what the reads cost, in requests. */
const requests: string[] = [];

beforeAll(async () => {
  h = await startSimHarness(
    [
      clusterEntry('k-alpha', { pdbs: [{ name: 'db', namespace: 'data', allowedDisruptions: 0 }] }),
      clusterEntry('k-beta', { faults: { crashLoopAfterUpgrade: true } }),
      clusterEntry('k-delta', { faults: { crashLoopAfterUpgrade: true } }),
      clusterEntry('k-gamma', {
        account: OTHER_ACCOUNT,
        roleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/fleetwave`,
      }),
    ],
    { log: (line) => requests.push(line) },
  );
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const checks = { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true };

describe('EKS token', () => {
  it('is accepted by the simulated API server and has the aws-iam-authenticator shape', async () => {
    const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
    const cluster = h.ref('k-alpha');
    const kc = await deps.kube(cluster, {
      endpoint: await h.sim.kubernetesEndpoint('k-alpha'),
      certificateAuthority: h.sim.certificateAuthority,
    });
    const nodes = await kc.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items).toHaveLength(3);

    const token = kc.getCurrentUser()?.token ?? '';
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
    const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString());
    expect(url.origin).toBe('https://sts.us-east-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toContain('x-k8s-aws-id');
  });

  it('a token that is not an EKS token is refused, as a non-retryable KubernetesUnauthorized', async () => {
    const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
    const activities = createActivityParts({
      ...deps,
      kube: async (c, access) => kubeConfigFor(c, access, 'k8s-aws-v1.bm90LWEtdXJs'),
    });
    const err = await runActivity(activities.captureKubernetesBaseline, { cluster: h.ref('k-alpha') }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'KubernetesUnauthorized', nonRetryable: true });
    expect((err as Error).message).not.toContain('k8s-aws-v1');
  });

  it('verifies the API server against the CA from DescribeCluster: another CA fails, non-retryable', async () => {
    const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
    const cluster = { cluster: h.ref('k-alpha') };
    // The CA DescribeCluster returns: the endpoint is HTTPS and its certificate verifies.
    const access: ClusterAccess[] = [];
    const good = createActivityParts({
      ...deps,
      kube: async (c, a) => {
        access.push(a);
        return deps.kube(c, a);
      },
    });
    expect(await runActivity(good.captureKubernetesBaseline, cluster)).toMatchObject({ blockingPdbs: ['data/db'] });
    expect(access[0]?.endpoint).toMatch(/^https:\/\//);
    expect(access[0]?.certificateAuthority).toBe(h.sim.certificateAuthority);

    // A CA of another simulator run: the same endpoint, a certificate it did not sign.
    const otherCa = createSimulatorTls([]).caData;
    const tampered = createActivityParts({
      ...deps,
      kube: async (c, a) => deps.kube(c, { ...a, certificateAuthority: otherCa }),
    });
    const err = await runActivity(tampered.captureKubernetesBaseline, cluster).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'KubernetesUntrustedCertificate', nonRetryable: true });
    expect((err as Error).message).toContain("not signed by the cluster's CA");
  });

  it('works through an assumed role for a cluster in another account', async () => {
    const cluster = { ...h.ref('k-gamma'), roleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/fleetwave` };
    const health = await runActivity(h.activities.checkKubernetesHealth, { cluster, checks });
    expect(health).toMatchObject({ healthy: true, nodes: { total: 3, ready: 3 } });
    // The role decides what is visible: a role in the wrong account cannot see the cluster.
    const wrong = { ...cluster, roleArn: 'arn:aws:iam::999988887777:role/fleetwave' };
    const err = await runActivity(h.activities.describeCluster, { cluster: wrong }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: FailureTypes.NotFound, nonRetryable: true });
  });
});

describe('Kubernetes health', () => {
  it('captures PDBs that allow no disruption as a drain risk', async () => {
    const baseline = await runActivity(h.activities.captureKubernetesBaseline, { cluster: h.ref('k-alpha') });
    expect(baseline.blockingPdbs).toEqual(['data/db']);
    expect(baseline.crashLoopingPods).toEqual([]);
  });

  it('reports kubelets that are not at the expected minor', async () => {
    const result = await runActivity(h.activities.checkKubernetesHealth, {
      cluster: h.ref('k-alpha'),
      checks,
      expectedKubeletMinor: { general: '1.30' },
    });
    expect(result.healthy).toBe(false);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatch(/^node group general: 3 node\(s\) not at kubelet 1\.30: .*\(v1\.29\./);
    expect(result.nodes).toEqual({ total: 3, ready: 3 });
  });

  it('fails on pods crash-looping after the upgrade that the baseline did not have, and tolerates known ones', async () => {
    const cluster = h.ref('k-beta');
    const baseline = await runActivity(h.activities.captureKubernetesBaseline, { cluster });
    expect(baseline.crashLoopingPods).toEqual([]);
    expect(await runActivity(h.activities.checkKubernetesHealth, { cluster, checks, baseline })).toMatchObject({
      healthy: true,
    });

    const handle = await runActivity(h.activities.startNodegroupUpdate, {
      campaign: 'patch',
      cluster,
      attempt: 1,
      nodegroup: 'general',
      releaseVersion: latestRelease('1.29'),
      force: false,
    });
    await runActivity(h.activities.awaitUpdate, { handle, timeoutMs: 60_000 });

    const after = await runActivity(h.activities.checkKubernetesHealth, { cluster, checks, baseline });
    expect(after.healthy).toBe(false);
    expect(after.failures.join('\n')).toMatch(/pod\(s\) crash-looping that were not in the baseline/);
    expect(after.nodes.ready).toBe(after.nodes.total);

    // Crash loops already there when the baseline was taken are not blamed on the upgrade.
    const later = await runActivity(h.activities.captureKubernetesBaseline, { cluster });
    expect(later.crashLoopingPods.length).toBeGreaterThan(0);
    expect(later.crashLoopingWorkloads?.length).toBeGreaterThan(0);
    expect(await runActivity(h.activities.checkKubernetesHealth, { cluster, checks, baseline: later })).toMatchObject({
      healthy: true,
    });
    // Without any baseline every crash loop counts: not knowing is not healthy.
    expect(await runActivity(h.activities.checkKubernetesHealth, { cluster, checks })).toMatchObject({
      healthy: false,
    });
  });
});

describe('workload health (workloadsAvailable)', () => {
  const withWorkloads = { ...checks, workloadsAvailable: true };

  it('finds every Deployment, StatefulSet and DaemonSet whole on a healthy cluster', async () => {
    const result = await runActivity(h.activities.checkKubernetesHealth, {
      cluster: h.ref('k-alpha'),
      checks: withWorkloads,
    });
    expect(result).toMatchObject({ healthy: true, failures: [] });
  });

  it('lists the pods once for both checks that read them', async () => {
    const from = requests.length;
    await runActivity(h.activities.checkKubernetesHealth, { cluster: h.ref('k-alpha'), checks: withWorkloads });
    const reads = requests.slice(from).filter((l) => l.startsWith('[k-alpha] GET '));
    expect(reads.filter((l) => l.includes(' /api/v1/pods'))).toHaveLength(1);
    expect(reads.filter((l) => l.includes(' /api/v1/nodes'))).toHaveLength(1);
  });

  it('reports Deployments short of their replicas after an upgrade, and not those short in the baseline', async () => {
    const cluster = h.ref('k-delta');
    const baseline = await runActivity(h.activities.captureKubernetesBaseline, { cluster });
    expect(baseline.shortWorkloads).toEqual([]);
    const handle = await runActivity(h.activities.startNodegroupUpdate, {
      campaign: 'patch',
      cluster,
      attempt: 1,
      nodegroup: 'general',
      releaseVersion: latestRelease('1.29'),
      force: false,
    });
    await runActivity(h.activities.awaitUpdate, { handle, timeoutMs: 60_000 });
    // Only the workload check: crash loops are reported by their own check.
    const only = { nodesReady: false, kubeletVersionsMatch: false, noNewCrashLoops: false, workloadsAvailable: true };
    const after = await runActivity(h.activities.checkKubernetesHealth, { cluster, checks: only, baseline });
    expect(after.healthy).toBe(false);
    expect(after.failures.join('\n')).toMatch(
      /workload\(s\) short of desired: .*\/Deployment\/.* \(\d+\/\d+ available\)/,
    );
    const later = await runActivity(h.activities.captureKubernetesBaseline, { cluster });
    expect(later.shortWorkloads?.length).toBeGreaterThan(0);
    expect(
      await runActivity(h.activities.checkKubernetesHealth, { cluster, checks: only, baseline: later }),
    ).toMatchObject({
      healthy: true,
    });
  });
});

describe('sessions', () => {
  /** Activities whose `kube` counts the KubeConfigs it makes, with a refused token while `refuse` is set. */
  function counted() {
    const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
    const state = { made: 0, refuse: false };
    const activities = createActivityParts({
      ...deps,
      kube: async (c, access) => {
        state.made++;
        return state.refuse ? kubeConfigFor(c, access, 'k8s-aws-v1.bm90LWEtdXJs') : deps.kube(c, access);
      },
    });
    return { activities, state };
  }

  it('reuses a cluster endpoint and token for checks in a row', async () => {
    const { activities, state } = counted();
    const cluster = h.ref('k-alpha');
    await runActivity(activities.captureKubernetesBaseline, { cluster });
    expect(await runActivity(activities.checkKubernetesHealth, { cluster, checks })).toMatchObject({ healthy: true });
    expect(await runActivity(activities.checkKubernetesHealth, { cluster, checks })).toMatchObject({ healthy: true });
    expect(state.made).toBe(1);
  });

  it('forgets a session whose read failed, and signs anew for the next check', async () => {
    const { activities, state } = counted();
    const cluster = h.ref('k-alpha');
    state.refuse = true;
    const err = await runActivity(activities.checkKubernetesHealth, { cluster, checks }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'KubernetesUnauthorized', nonRetryable: true });
    state.refuse = false;
    expect(await runActivity(activities.checkKubernetesHealth, { cluster, checks })).toMatchObject({ healthy: true });
    expect(state.made).toBe(2);
  });

  it('retries a reused session whose token is refused once, with a fresh token', async () => {
    // An API server that takes the first token for one check only, then refuses it.
    const seen = new Map<string, number>();
    const server = http.createServer((req, res) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const uses = (seen.get(token) ?? 0) + 1;
      seen.set(token, uses);
      if (token === 'first' && uses > 2) {
        res.writeHead(401).end('{"kind":"Status","code":401}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
      const tokens = ['first', 'second'];
      const activities = createActivityParts({
        ...deps,
        kube: async (c) =>
          kubeConfigFor(c, { endpoint: `http://127.0.0.1:${port}` }, tokens.shift() ?? 'none', {
            allowPlainHttp: true,
          }),
      });
      const cluster = h.ref('k-alpha');
      const input = { cluster, checks, baseline: { crashLoopingPods: [], blockingPdbs: [] } };
      expect(await runActivity(activities.checkKubernetesHealth, input)).toMatchObject({ healthy: true });
      expect(await runActivity(activities.checkKubernetesHealth, input)).toMatchObject({ healthy: true });
      expect(tokens).toEqual([]);
      // Each check reads nodes and pods side by side: both of the second check's reads met the refusal.
      expect(seen.get('first')).toBe(4);
      expect(seen.get('second')).toBe(2);
    } finally {
      server.close();
    }
  });
});

describe('secrets', () => {
  it('never appear in activity results, heartbeats or log lines', async () => {
    const { env, lines } = capturingEnvironment();
    const beats = recordHeartbeats(env);
    const cluster = { ...h.ref('k-gamma'), roleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/fleetwave` };
    const results: unknown[] = [];
    results.push(await runActivity(h.activities.describeCluster, { cluster }, env));
    results.push(await runActivity(h.activities.captureKubernetesBaseline, { cluster }, env));
    results.push(await runActivity(h.activities.checkKubernetesHealth, { cluster, checks }, env));
    const handle = await runActivity(
      h.activities.startAddonUpdate,
      { campaign: 'c', cluster, attempt: 1, addon: 'vpc-cni', version: 'v1.19.2-eksbuild.1' },
      env,
    );
    results.push(handle, await runActivity(h.activities.awaitUpdate, { handle, timeoutMs: 30_000 }, env));
    expect(lines.length).toBeGreaterThan(5);
    const text = JSON.stringify({ results, beats, lines });
    for (const secret of [
      TEST_CREDENTIALS.secretAccessKey,
      TEST_CREDENTIALS.accessKeyId,
      'ASIASIM',
      'k8s-aws-v1',
      'X-Amz-Signature',
      'Bearer',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('a read on a kept-alive connection', () => {
  it('keeps nothing of its answer alive after it returns (the connection outlives the read)', async () => {
    const { getJson } = await import('../../activities/kubernetes');
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const deps = createDefaultDeps({ endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
    const kc = await deps.kube(h.ref('k-alpha'), {
      endpoint: await h.sim.kubernetesEndpoint('k-alpha'),
      certificateAuthority: h.sim.certificateAuthority,
    });
    const answers: WeakRef<object>[] = [];
    // Two reads side by side open both of the endpoint's connections; each stays open, idle, after its read.
    await Promise.all(
      ['/api/v1/pods', '/api/v1/nodes'].map(async (path) => {
        const list = await getJson<object>(kc, path, new AbortController().signal);
        answers.push(new WeakRef(list));
      }),
    );
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(answers.map((a) => a.deref() === undefined)).toEqual([true, true]);
  });
});
