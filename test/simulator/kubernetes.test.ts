/**
 * The simulated Kubernetes API with the unmodified @kubernetes/client-node: EKS bearer tokens,
 * nodes during a rolling update, pods and selectors, PDBs, /version and metrics.k8s.io.
 */
import { DescribeClusterCommand, UpdateNodegroupVersionCommand } from '@aws-sdk/client-eks';
import { ApiException, CoreV1Api, Metrics, PolicyV1Api, VersionApi, type V1Node } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index';
import { awaitUpdate, eksClient, eksToken, kubeConfig, rawKubernetes, testFleet, waitFor } from './helpers';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const MINUTE = 60_000;

async function core(s: Simulator, cluster: string) {
  const { cluster: described } = await eksClient(s).send(new DescribeClusterCommand({ name: cluster }));
  const kc = kubeConfig(
    described?.endpoint as string,
    await eksToken(cluster),
    described?.certificateAuthority?.data as string,
  );
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    endpoint: described?.endpoint as string,
    ca: described?.certificateAuthority?.data as string,
  };
}

async function status(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return 200;
  } catch (err) {
    return err instanceof ApiException ? err.code : undefined;
  }
}

const isReady = (n: V1Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

describe('simulated Kubernetes API with @kubernetes/client-node', () => {
  it('accepts EKS bearer tokens and answers 401 to anything else', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 1000 });
    const { endpoint, ca } = await core(sim, 'alpha');
    expect(endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const api = (token: string) => kubeConfig(endpoint, token, ca).makeApiClient(CoreV1Api);
    expect(await status(api(await eksToken('alpha')).listNode())).toBe(200);

    expect(await status(api('').listNode())).toBe(401);
    expect(await status(api('not-a-token').listNode())).toBe(401);
    const encode = (url: string) => 'k8s-aws-v1.' + Buffer.from(url).toString('base64url');
    const valid = Buffer.from((await eksToken('alpha')).slice('k8s-aws-v1.'.length), 'base64url').toString();
    expect(await status(api(encode(valid.replace('https://', 'http://'))).listNode())).toBe(401);
    expect(await status(api(encode(valid.replace('sts.us-east-1.amazonaws.com', 'evil.example.com'))).listNode())).toBe(
      401,
    );
    expect(await status(api(encode(valid.replace('Action=GetCallerIdentity', 'Action=AssumeRole'))).listNode())).toBe(
      401,
    );
    expect(
      await status(api(encode(valid.replace(/X-Amz-SignedHeaders=[^&]*/, 'X-Amz-SignedHeaders=host'))).listNode()),
    ).toBe(401);
    expect(await status(api(encode(valid.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=3600'))).listNode())).toBe(401);
    expect(await status(api(encode(`${valid}&Extra=1`)).listNode())).toBe(401);
    // Signed more than 15 minutes ago: expired, as STS would say.
    expect(await status(api(await eksToken('alpha', 'us-east-1', new Date(Date.now() - 16 * MINUTE))).listNode())).toBe(
      401,
    );
    const raw = await rawKubernetes(`${endpoint}/api/v1/nodes`, sim.caPem);
    expect(raw.status).toBe(401);
    expect(raw.headers['content-type']).toContain('application/json');
    expect(raw.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('serves nodes, pods with field selectors and paging, PDBs, /version and node metrics', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 1000 });
    const { kc, core: api } = await core(sim, 'alpha');

    const nodes = await api.listNode();
    expect(nodes.items).toHaveLength(5);
    expect(nodes.items.every(isReady)).toBe(true);
    expect(nodes.items.every((n) => n.status?.nodeInfo?.kubeletVersion?.startsWith('v1.30.8-eks-'))).toBe(true);
    expect(nodes.items.every((n) => !n.spec?.unschedulable)).toBe(true);
    const byGroup = (ng: string) =>
      nodes.items.filter((n) => n.metadata?.labels?.['eks.amazonaws.com/nodegroup'] === ng);
    expect(byGroup('general')).toHaveLength(3);
    expect(byGroup('templated')).toHaveLength(2);
    const selected = await api.listNode({ labelSelector: 'eks.amazonaws.com/nodegroup=templated' });
    expect(selected.items.map((n) => n.metadata?.name)).toEqual(byGroup('templated').map((n) => n.metadata?.name));
    const name = nodes.items[0]?.metadata?.name as string;
    expect((await api.readNode({ name })).metadata?.name).toBe(name);
    expect(await status(api.readNode({ name: 'ip-10-0-0-0.ec2.internal' }))).toBe(404);

    const pods = await api.listPodForAllNamespaces({});
    expect(pods.items.length).toBeGreaterThanOrEqual(5 * 5);
    expect(pods.items.every((p) => p.status?.phase === 'Running')).toBe(true);
    expect(pods.items.some((p) => p.metadata?.namespace === 'payments' && p.metadata.labels?.app === 'api')).toBe(true);
    const running = await api.listPodForAllNamespaces({ fieldSelector: 'status.phase=Running' });
    expect(running.items).toHaveLength(pods.items.length);
    expect((await api.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Running' })).items).toHaveLength(0);
    const onNode = await api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    expect(onNode.items.length).toBeGreaterThan(0);
    expect(onNode.items.every((p) => p.spec?.nodeName === name)).toBe(true);
    expect(await status(api.listPodForAllNamespaces({ fieldSelector: 'spec.bogus=1' }))).toBe(400);

    const seen: string[] = [];
    let cont: string | undefined;
    do {
      const page = await api.listPodForAllNamespaces({ limit: 7, _continue: cont });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
      cont = page.metadata?._continue;
    } while (cont);
    expect(seen).toEqual(pods.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
    expect(
      (await api.listNamespacedPod({ namespace: 'kube-system' })).items.every(
        (p) => p.metadata?.namespace === 'kube-system',
      ),
    ).toBe(true);

    const pdbs = await kc.makeApiClient(PolicyV1Api).listPodDisruptionBudgetForAllNamespaces({});
    expect(pdbs.items).toHaveLength(1);
    expect(pdbs.items[0]).toMatchObject({
      metadata: { name: 'api', namespace: 'payments' },
      status: { disruptionsAllowed: 1, expectedPods: 2 },
    });

    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version).toMatchObject({ major: '1', minor: '30+' });
    expect(version.gitVersion).toMatch(/^v1\.30\.\d+-eks-/);

    const metrics = await new Metrics(kc).getNodeMetrics();
    expect(metrics.items).toHaveLength(5);
    expect(metrics.items[0]?.usage.cpu).toMatch(/^\d+n$/);
    expect(metrics.items[0]?.usage.memory).toMatch(/^\d+Ki$/);

    expect(await status(api.deleteNode({ name }))).toBe(405);
  });

  it('shows a rolling node group update: surge nodes NotReady, old nodes cordoned while draining, new kubelets after', async () => {
    // Real time: the test moves the clock itself and looks at each phase.
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 1 });
    const s = sim;
    const { core: api } = await core(s, 'alpha');
    const eks = eksClient(s);
    await eks.send(
      new UpdateNodegroupVersionCommand({
        clusterName: 'alpha',
        nodegroupName: 'general',
        releaseVersion: '1.30.9-20250304',
      }),
    );
    const rollout = () => s.state('alpha').clusters[0]?.activeUpdates[0]?.rollout;
    expect(rollout()).toEqual({ batch: 0, batches: 3, phase: 'setup' });

    const phaseOf = async (phase: string, batch: number) => {
      for (let i = 0; i < 400 && !(rollout()?.phase === phase && rollout()?.batch === batch); i++) s.advance(5_000);
      expect(rollout()).toMatchObject({ phase, batch });
      return (await api.listNode({ labelSelector: 'eks.amazonaws.com/nodegroup=general' })).items;
    };
    const launching = await phaseOf('launch', 0);
    expect(launching).toHaveLength(4);
    expect(launching.filter((n) => !isReady(n))).toHaveLength(1);
    expect(launching.find((n) => !isReady(n))?.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.30\.9-eks-/);

    const draining = await phaseOf('drain', 0);
    expect(draining).toHaveLength(4);
    expect(draining.every(isReady)).toBe(true);
    const cordoned = draining.filter((n) => n.spec?.unschedulable);
    expect(cordoned).toHaveLength(1);
    expect(cordoned[0]?.spec?.taints).toContainEqual(
      expect.objectContaining({ key: 'node.kubernetes.io/unschedulable' }),
    );
    expect(cordoned[0]?.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.30\.8-eks-/);

    const second = await phaseOf('launch', 1);
    expect(second.filter((n) => n.status?.nodeInfo?.kubeletVersion?.startsWith('v1.30.9')).length).toBe(2);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('fleetwave_sim_nodes{cluster="alpha",region="us-east-1"} 6');
    expect(metrics).toContain('fleetwave_sim_nodes_ready{cluster="alpha",region="us-east-1"} 5');
    expect(metrics).toContain('fleetwave_sim_upgrade_in_progress{cluster="alpha",region="us-east-1"} 1');

    s.advance(60 * MINUTE);
    const after = (await api.listNode({ labelSelector: 'eks.amazonaws.com/nodegroup=general' })).items;
    expect(after).toHaveLength(3);
    expect(
      after.every(
        (n) => isReady(n) && !n.spec?.unschedulable && n.status?.nodeInfo?.kubeletVersion?.startsWith('v1.30.9'),
      ),
    ).toBe(true);
  });

  it('puts application pods into CrashLoopBackOff after an upgrade under crashLoopAfterUpgrade', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 1500 });
    const s = sim;
    s.injectFaults('alpha', { crashLoopAfterUpgrade: true });
    const { core: api } = await core(s, 'alpha');
    const crashing = async () =>
      (await api.listPodForAllNamespaces({})).items.filter((p) =>
        p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff'),
      );
    expect(await crashing()).toEqual([]);

    const eks = eksClient(s);
    const { update } = await eks.send(
      new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'templated' }),
    );
    await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'templated' }, update?.id as string);
    s.advance(30 * MINUTE);
    const pods = await crashing();
    expect(pods.length).toBeGreaterThan(0);
    expect(pods.every((p) => p.metadata?.namespace !== 'kube-system')).toBe(true);
    expect(pods.every((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 6)).toBe(true);
    const metrics = await waitFor('crash-loop metric', async () => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      return /fleetwave_sim_pods_crashlooping\{cluster="alpha",region="us-east-1"\} [1-9]/.test(text)
        ? text
        : undefined;
    });
    const restarts = Number(
      /fleetwave_sim_pod_restarts_total\{cluster="alpha",region="us-east-1"\} (\d+)/.exec(metrics)?.[1],
    );
    expect(restarts).toBeGreaterThan(0);
  });
});
