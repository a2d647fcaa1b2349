/**
 * A self-installed Karpenter as real clients see it: EC2NodeClass amiSelectorTerms and the AMIs
 * they resolve per minor (cross-checked with the SSM parameters through the AWS SDK), drift after a
 * terms patch replaced under the NodePool's budgets (the event log shows no more nodes disrupted at
 * once than the budget), a zero Drifted budget holding, a PodDisruptionBudget blocking the drain,
 * expireAfter ignoring budgets, an alias version never published for the new minor stopping
 * launches, a controller too old for the minor, and the markers of the tools that own the objects.
 * Clients: @kubernetes/client-node, kubectl and the AWS SDK; simulated time moves with advance().
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeClusterCommand, UpdateClusterVersionCommand } from '@aws-sdk/client-eks';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { clusterInventorySchema, type ClusterInventory } from '../../domain/fleet';
import {
  aliasParameters,
  findCluster,
  karpenterSupportsMinor,
  startSimulator,
  type ClusterState,
  type Simulator,
} from '../../simulator/index';
import { credentials, eksClient, eksToken, errorName, kubeConfig, rawKubernetes } from './helpers';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
type Json = any;

const KARPENTER = { group: 'karpenter.sh', version: 'v1' };
const AWS = { group: 'karpenter.k8s.aws', version: 'v1' };

const cluster = (name: string, extra: Record<string, unknown>): ClusterInventory =>
  clusterInventorySchema.parse({
    name,
    region: 'us-east-1',
    account: '111111111111',
    version: '1.31',
    karpenter: { version: '1.5.0' },
    nodePools: [{ name: 'default', nodes: 6, budgetNodes: '2' }],
    ...extra,
  });

let sim: Simulator | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(clusters: ClusterInventory[]) {
  sim = await startSimulator({ fleet: clusters, port: 0, timeScale: 1, startTime: new Date('2026-03-02T10:00:00Z') });
  const s = sim;
  const eks = eksClient(s);
  const api = async (name: string) => {
    const { cluster: c } = await eks.send(new DescribeClusterCommand({ name }));
    const kc = kubeConfig(c?.endpoint as string, await eksToken(name), c?.certificateAuthority?.data as string);
    const custom = kc.makeApiClient(CustomObjectsApi);
    return {
      endpoint: c?.endpoint as string,
      caData: c?.certificateAuthority?.data as string,
      nodeClass: async (): Promise<Json> =>
        custom.getClusterCustomObject({ ...AWS, plural: 'ec2nodeclasses', name: 'default' }),
      pool: async (pool = 'default'): Promise<Json> =>
        custom.getClusterCustomObject({ ...KARPENTER, plural: 'nodepools', name: pool }),
      claims: async (): Promise<Json[]> =>
        ((await custom.listClusterCustomObject({ ...KARPENTER, plural: 'nodeclaims' })) as Json).items,
      mergeNodeClass: async (body: Json) =>
        custom.patchClusterCustomObject(
          { ...AWS, plural: 'ec2nodeclasses', name: 'default', body },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      jsonPatchPool: async (body: Json[], pool = 'default') =>
        custom.patchClusterCustomObject(
          { ...KARPENTER, plural: 'nodepools', name: pool, body },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        ),
    };
  };
  const state = (name: string): ClusterState => findCluster(s.state(name), name) as ClusterState;
  return { sim: s, eks, api, state };
}

/** The most NodeClaims of a pool being disrupted at the same moment, from the event log. */
function maxConcurrent(st: ClusterState, pool: string, reason?: string): number {
  const log = (st.karpenter?.disruptions ?? []).filter((d) => d.pool === pool && (!reason || d.reason === reason));
  let max = 0;
  for (const d of log) {
    const at = Date.parse(d.start);
    const open = log.filter((o) => Date.parse(o.start) <= at && (o.end === undefined || Date.parse(o.end) > at));
    max = Math.max(max, open.length);
  }
  return max;
}

const imageIds = (claims: Json[]) => claims.map((x) => x.status.imageID as string);
const amiIds = (nc: Json) => (nc.status.amis as Json[]).map((a) => a.id as string);
const condition = (obj: Json, type: string) => (obj.status.conditions as Json[]).find((k) => k.type === type);

describe('EC2NodeClass amiSelectorTerms and status.amis', () => {
  it('resolves an alias through the SSM parameters Karpenter reads, per minor, for each architecture', async () => {
    const { api, sim: s } = await start([
      cluster('pinned', { karpenter: { version: '1.5.0', amiSelector: { alias: 'al2023@v20250304' } } }),
    ]);
    const k = await api('pinned');
    const nc = await k.nodeClass();
    expect(nc.spec.amiSelectorTerms).toEqual([{ alias: 'al2023@v20250304' }]);
    const ssm = new SSMClient({ endpoint: s.url, region: 'us-east-1', credentials });
    const params = aliasParameters('al2023@v20250304', '1.31');
    expect(params.map((p) => p.name)).toContain(
      '/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.31-v20250304/image_id',
    );
    const fromSsm = await Promise.all(
      params.map(async (p) => (await ssm.send(new GetParameterCommand({ Name: p.name }))).Parameter?.Value),
    );
    expect([...amiIds(nc)].sort()).toEqual([...fromSsm].sort());
    expect(nc.status.amis.map((a: Json) => a.requirements[0].values[0]).sort()).toEqual(['amd64', 'arm64']);
    expect(condition(nc, 'Ready').status).toBe('True');
    // Every node launched with the resolved amd64 AMI.
    const amd64 = nc.status.amis.find((a: Json) => a.requirements[0].values[0] === 'amd64').id;
    expect(new Set(imageIds(await k.claims()))).toEqual(new Set([amd64]));
  });

  it('selects custom AMIs by tags, public ones by name and owner, and one by id', async () => {
    const { api } = await start([cluster('select', {})]);
    const k = await api('select');
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ tags: { 'kubernetes-version': '1.31' } }] } });
    const byTag = await k.nodeClass();
    const tagged = byTag.status.amis.map((a: Json) => a.name as string);
    expect([...tagged].sort()).toEqual([
      'acme-eks-1.31-arm64-20250115',
      'acme-eks-1.31-arm64-20250301',
      'acme-eks-1.31-x86_64-20250115',
      'acme-eks-1.31-x86_64-20250301',
    ]);
    // Newest first: the nodes drift to the newest x86_64 image.
    expect(tagged.slice(0, 2).every((n: string) => n.endsWith('20250301'))).toBe(true);
    await k.mergeNodeClass({
      spec: { amiSelectorTerms: [{ name: 'amazon-eks-node-al2023-x86_64-standard-1.31-*', owner: 'amazon' }] },
    });
    const byName = await k.nodeClass();
    expect(byName.status.amis.map((a: Json) => a.name)).toEqual([
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250304',
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250212',
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250123',
    ]);
    const oldest = byName.status.amis[2].id as string;
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ id: oldest }] } });
    expect(amiIds(await k.nodeClass())).toEqual([oldest]);
    const recommended = '/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id';
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ ssmParameter: recommended }] } });
    expect(amiIds(await k.nodeClass())).toEqual([byName.status.amis[0].id]);
  });

  it('validates terms as the CRD does', async () => {
    const { api } = await start([cluster('valid', {})]);
    const k = await api('valid');
    for (const terms of [[], [{ alias: 'al2023@latest', id: 'ami-0123456789abcdef0' }], [{ alias: 'ubuntu@latest' }]]) {
      const status = await k.mergeNodeClass({ spec: { amiSelectorTerms: terms } }).then(
        () => 200,
        (e: Json) => e.code,
      );
      expect(status, JSON.stringify(terms)).toBe(422);
    }
  });
});

describe('drift after a terms patch', () => {
  it('replaces drifted NodeClaims under the Drifted budget, with the new AMI', async () => {
    const { api, sim: s, state } = await start([cluster('drift', {})]);
    const k = await api('drift');
    const before = new Set(imageIds(await k.claims()));
    expect(before.size).toBe(1);
    // Pin to an older build of the same minor: every node's AMI leaves status.amis.
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ alias: 'al2023@v20250212' }] } });
    const nc = await k.nodeClass();
    expect(nc.metadata.generation).toBe(2);
    const target = nc.status.amis.find((a: Json) => a.requirements[0].values[0] === 'amd64').id as string;
    expect(before.has(target)).toBe(false);
    const drifted = (await k.claims()).filter((x) => condition(x, 'Drifted')?.status === 'True');
    expect(drifted).toHaveLength(6);
    expect(condition(drifted[0], 'Drifted').reason).toBe('AMIDrift');
    for (let i = 0; i < 20; i++) s.advance(5 * MINUTE);
    s.advance(2 * HOUR);
    const after = await k.claims();
    expect(after).toHaveLength(6);
    expect(new Set(imageIds(after))).toEqual(new Set([target]));
    const st = state('drift');
    expect(st.karpenter?.disruptions.filter((d) => d.reason === 'Drifted')).toHaveLength(6);
    expect(st.karpenter?.disruptions.every((d) => d.end !== undefined)).toBe(true);
    expect(maxConcurrent(st, 'default', 'Drifted')).toBeGreaterThan(0);
    expect(maxConcurrent(st, 'default')).toBeLessThanOrEqual(2);
  });

  it('holds drifted nodes under a zero Drifted budget, and releases them when it goes', async () => {
    const { api, sim: s, state } = await start([cluster('held', {})]);
    const k = await api('held');
    await k.jsonPatchPool([
      {
        op: 'replace',
        path: '/spec/disruption/budgets',
        value: [{ nodes: '0', reasons: ['Drifted'] }, { nodes: '2' }],
      },
    ]);
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ alias: 'al2023@v20250212' }] } });
    s.advance(6 * HOUR);
    const held = await k.claims();
    expect(held.every((x) => condition(x, 'Drifted')?.status === 'True')).toBe(true);
    expect(held.every((x) => x.metadata.deletionTimestamp === undefined)).toBe(true);
    expect(state('held').karpenter?.disruptions).toEqual([]);
    await k.jsonPatchPool([{ op: 'replace', path: '/spec/disruption/budgets', value: [{ nodes: '1' }] }]);
    for (let i = 0; i < 40; i++) s.advance(5 * MINUTE);
    expect((await k.claims()).some((x) => condition(x, 'Drifted'))).toBe(false);
    expect(maxConcurrent(state('held'), 'default')).toBe(1);
  });

  it('kubectl: patch the terms, and a deleted NodeClaim comes back with the new AMI while the rest are held', async () => {
    const { api, sim: s, state } = await start([cluster('cli', {})]);
    const k = await api('cli');
    const run = (...args: string[]) => kubectl('cli', k.endpoint, k.caData, args);
    expect(await run('get', 'ec2nodeclasses')).toMatch(/^NAME\s+READY\s+AGE\ndefault\s+True\s+/);
    await run(
      'patch',
      'nodepool',
      'default',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { disruption: { budgets: [{ nodes: '0', reasons: ['Drifted'] }] } } }),
    );
    await run(
      'patch',
      'ec2nodeclass',
      'default',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { amiSelectorTerms: [{ alias: 'al2023@v20250212' }] } }),
    );
    const target = (await k.nodeClass()).status.amis.find((a: Json) => a.requirements[0].values[0] === 'amd64').id;
    const before = await k.claims();
    await run('delete', 'nodeclaim', before[0].metadata.name, '--wait=false');
    s.advance(HOUR);
    const after = await k.claims();
    expect(after).toHaveLength(6);
    const fresh = after.filter((x) => !before.some((b) => b.metadata.name === x.metadata.name));
    expect(imageIds(fresh)).toEqual([target]);
    // The other five are still Drifted and held.
    expect(after.filter((x) => condition(x, 'Drifted')?.status === 'True')).toHaveLength(5);
    expect(state('cli').karpenter?.disruptions.map((d) => d.reason)).toEqual(['Deleted']);
  });

  it('PUT with a stale resourceVersion is refused with 409', async () => {
    const { api } = await start([cluster('conflict', {})]);
    const k = await api('conflict');
    const nc = await k.nodeClass();
    await k.mergeNodeClass({ metadata: { labels: { team: 'a' } } });
    const raw = await fetchRaw('conflict', k, 'PUT', '/apis/karpenter.k8s.aws/v1/ec2nodeclasses/default', nc);
    expect(raw.status).toBe(409);
    const fresh = await k.nodeClass();
    fresh.spec.amiSelectorTerms = [{ alias: 'al2023@v20250212' }];
    const ok = await fetchRaw('conflict', k, 'PUT', '/apis/karpenter.k8s.aws/v1/ec2nodeclasses/default', fresh);
    expect(ok.status).toBe(200);
    expect((ok.json() as Json).spec.amiSelectorTerms).toEqual([{ alias: 'al2023@v20250212' }]);
  });

  it('a PodDisruptionBudget that allows no disruption blocks the drain: the replacement comes up, the old node stays', async () => {
    const {
      api,
      sim: s,
      state,
    } = await start([cluster('pdb', { pdbs: [{ name: 'db', namespace: 'data', allowedDisruptions: 0 }] })]);
    const k = await api('pdb');
    await k.mergeNodeClass({ spec: { amiSelectorTerms: [{ alias: 'al2023@v20250212' }] } });
    s.advance(3 * HOUR);
    const claims = await k.claims();
    const terminating = claims.filter((x) => x.metadata.deletionTimestamp !== undefined);
    expect(terminating).toHaveLength(2);
    // Six live nodes (four old, two replacements), plus the two that cannot drain.
    expect(claims).toHaveLength(8);
    const log = state('pdb').karpenter?.disruptions ?? [];
    expect(log).toHaveLength(2);
    expect(log.every((d) => d.end === undefined && d.blockedBy === 'data/db')).toBe(true);
  });
});

describe('expiration', () => {
  it('expireAfter replaces nodes regardless of budgets', async () => {
    const { api, sim: s, state } = await start([cluster('expiry', {})]);
    const k = await api('expiry');
    const old = new Set((await k.claims()).map((x) => x.metadata.name));
    await k.jsonPatchPool([
      { op: 'replace', path: '/spec/disruption/budgets', value: [{ nodes: '0' }] },
      { op: 'replace', path: '/spec/template/spec/expireAfter', value: '48h' },
    ]);
    expect((await k.pool()).spec.template.spec.expireAfter).toBe('48h');
    s.advance(MINUTE / 2);
    const claims = await k.claims();
    expect(claims.filter((x) => old.has(x.metadata.name) && x.metadata.deletionTimestamp)).toHaveLength(6);
    s.advance(HOUR);
    const now = await k.claims();
    expect(now).toHaveLength(6);
    expect(now.some((x) => old.has(x.metadata.name))).toBe(false);
    const st = state('expiry');
    expect(st.karpenter?.disruptions.filter((d) => d.reason === 'Expired')).toHaveLength(6);
    // Six at once under a budget of zero: expiry is forceful.
    expect(maxConcurrent(st, 'default', 'Expired')).toBe(6);
  });
});

describe('the hop', () => {
  async function hop(s: Simulator, eks: ReturnType<typeof eksClient>, name: string, version: string) {
    await eks.send(new UpdateClusterVersionCommand({ name, version }));
    s.advance(3 * HOUR);
    const { cluster: c } = await eks.send(new DescribeClusterCommand({ name }));
    expect(c?.version).toBe(version);
  }

  it('an alias version never published for the new minor stops launches after the hop', async () => {
    const {
      api,
      sim: s,
      eks,
    } = await start([
      cluster('trap', { version: '1.32', karpenter: { version: '1.5.0', amiSelector: { alias: 'al2023@v20250304' } } }),
    ]);
    const k = await api('trap');
    expect(condition(await k.nodeClass(), 'Ready').status).toBe('True');
    const ssm = new SSMClient({ endpoint: s.url, region: 'us-east-1', credentials });
    const [amd64] = aliasParameters('al2023@v20250304', '1.33');
    expect(await errorName(ssm.send(new GetParameterCommand({ Name: amd64?.name as string })))).toBe(
      'ParameterNotFound',
    );
    await hop(s, eks, 'trap', '1.33');
    const nc = await k.nodeClass();
    expect(nc.status.amis).toEqual([]);
    expect(condition(nc, 'AMIsReady')).toMatchObject({ status: 'False', reason: 'AMINotFound' });
    expect(condition(nc, 'Ready').status).toBe('False');
    expect(condition(await k.pool(), 'NodeClassReady').status).toBe('False');
    // Nothing resolved: no drift either, the nodes stay on the 1.32 AMI.
    expect((await k.claims()).some((x) => condition(x, 'Drifted'))).toBe(false);
    // A node that goes away (kubectl delete nodeclaim) is not replaced.
    const victim = (await k.claims())[0].metadata.name as string;
    await kubectl('trap', k.endpoint, k.caData, ['delete', 'nodeclaim', victim, '--wait=false']);
    s.advance(HOUR);
    expect(await k.claims()).toHaveLength(5);
  });

  it('with a controller too old for the new minor, nothing launches after the hop', async () => {
    expect(karpenterSupportsMinor('1.4.0', '1.33')).toBe(false);
    expect(karpenterSupportsMinor('1.5.0', '1.33')).toBe(true);
    const { api, sim: s, eks } = await start([cluster('old', { version: '1.32', karpenter: { version: '1.4.0' } })]);
    const k = await api('old');
    await hop(s, eks, 'old', '1.33');
    const claims = await k.claims();
    await kubectl('old', k.endpoint, k.caData, ['delete', 'nodeclaim', claims[0].metadata.name, '--wait=false']);
    s.advance(HOUR);
    // The deleted claim is not even drained (the controller does not run), and nothing new launches.
    const after = await k.claims();
    expect(after.map((x) => x.metadata.name).sort()).toEqual(claims.map((x) => x.metadata.name).sort());
    // Nobody refreshes the EC2NodeClass status: it still shows the 1.32 AMIs.
    const nc = await k.nodeClass();
    expect(condition(nc, 'Ready').status).toBe('True');
    expect(nc.status.amis.map((a: Json) => a.name as string)).toEqual(
      expect.arrayContaining([expect.stringMatching(/-1\.32-v/)]),
    );
  });
});

describe('ownership markers', () => {
  it('NodePools and EC2NodeClasses carry the markers of the tool that applied them', async () => {
    const pools = ['argocd', 'flux', 'helm', 'terraform'].map((tool) => ({
      name: `by-${tool}`,
      nodes: 1,
      managedBy: tool,
    }));
    const { api } = await start([
      cluster('owned', { nodePools: pools, karpenter: { version: '1.5.0', managedBy: 'argocd' } }),
    ]);
    const k = await api('owned');
    expect((await k.pool('by-argocd')).metadata.annotations['argocd.argoproj.io/tracking-id']).toBe(
      'karpenter-config:karpenter.sh/NodePool:/by-argocd',
    );
    expect((await k.pool('by-flux')).metadata.labels).toMatchObject({
      'kustomize.toolkit.fluxcd.io/name': 'karpenter-config',
      'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
    });
    const helm = await k.pool('by-helm');
    expect(helm.metadata.labels['app.kubernetes.io/managed-by']).toBe('Helm');
    expect(helm.metadata.annotations).toMatchObject({
      'meta.helm.sh/release-name': 'karpenter-config',
      'meta.helm.sh/release-namespace': 'kube-system',
    });
    expect((await k.pool('by-terraform')).metadata.managedFields).toMatchObject([
      { manager: 'Terraform', operation: 'Apply' },
    ]);
    expect((await k.nodeClass()).metadata.annotations['argocd.argoproj.io/tracking-id']).toBe(
      'karpenter-config:karpenter.k8s.aws/EC2NodeClass:/default',
    );
  });
});

/** One request through Node's HTTPS client, trusting the cluster's CA. */
async function fetchRaw(
  name: string,
  k: { endpoint: string; caData: string },
  method: string,
  path: string,
  body: Json,
) {
  return rawKubernetes(`${k.endpoint}${path}`, Buffer.from(k.caData, 'base64').toString('utf8'), {
    method,
    headers: { authorization: `Bearer ${await eksToken(name)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Runs kubectl against one cluster with a kubeconfig holding a bearer token. */
async function kubectl(name: string, endpoint: string, caData: string, args: string[]): Promise<string> {
  if (!existsSync(KUBECTL)) throw new Error(`kubectl not found at ${KUBECTL}`);
  const dir = mkdtempSync(join(tmpdir(), 'fleetwave-karpenter-'));
  dirs.push(dir);
  const config = join(dir, 'config');
  writeFileSync(
    config,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- cluster:\n    certificate-authority-data: ${caData}\n    server: ${endpoint}\n  name: ${name}`,
      `contexts:\n- context:\n    cluster: ${name}\n    user: ${name}\n  name: ${name}`,
      `current-context: ${name}`,
      `users:\n- name: ${name}\n  user:\n    token: ${await eksToken(name)}`,
    ].join('\n'),
  );
  const { stdout } = await promisify(execFile)(KUBECTL, ['--kubeconfig', config, ...args], { timeout: 30_000 });
  return stdout;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
