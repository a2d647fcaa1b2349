/**
 * kubectl against simulated clusters, with a kubeconfig written the way `aws eks update-kubeconfig`
 * writes it: the HTTPS endpoint and `certificate-authority-data` from DescribeCluster, and an
 * exec plugin (client.authentication.k8s.io/v1beta1) that prints an ExecCredential holding an EKS
 * token made by activities/eks-token.ts. Nothing here skips TLS verification. The expectations
 * are kubectl's own output: its table headers, its cordon and drain messages.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEksToken } from '../../activities/eks-token';
import { clusterInventorySchema } from '../../domain/fleet';
import { startSimulator, type Simulator } from '../../simulator/index';
import { credentials, eksClient, testFleet, waitFor } from './helpers';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const CLUSTERS = ['alpha', 'blocked', 'auto', 'fargate', 'viewer'] as const;

let sim: Simulator;
let dir: string;
let commands = 0;

/** The kubeconfig `aws eks update-kubeconfig --name <cluster>` writes, with our token printer as the exec command. */
function kubeconfigEntry(arn: string, endpoint: string, caData: string, cluster: string, region: string) {
  return {
    cluster: `- cluster:\n    certificate-authority-data: ${caData}\n    server: ${endpoint}\n  name: ${arn}`,
    context: `- context:\n    cluster: ${arn}\n    user: ${arn}\n  name: ${cluster}`,
    user: [
      `- name: ${arn}`,
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1beta1',
      `      args: [--region, ${region}, eks, get-token, --cluster-name, ${cluster}, --output, json]`,
      `      command: ${join(dir, 'eks-get-token')}`,
      '      interactiveMode: Never',
    ].join('\n'),
  };
}

beforeAll(async () => {
  if (!existsSync(KUBECTL))
    throw new Error(`kubectl not found at ${KUBECTL} (.ci/run installs it; KUBECTL=<path> to use another)`);
  const auto = clusterInventorySchema.parse({
    name: 'auto',
    region: 'us-east-1',
    account: '111111111111',
    version: '1.30',
    autoMode: true,
    nodePools: [{ name: 'web', nodes: 3 }],
  });
  // Fargate pods that started on 1.29 under a 1.30 control plane (their kubelet stays until recreated).
  const fargate = clusterInventorySchema.parse({
    name: 'fargate',
    region: 'us-east-1',
    account: '111111111111',
    version: '1.30',
    nodegroups: [],
    fargateProfiles: [{ name: 'batch', pods: 3, version: '1.29' }],
  });
  // An access entry with only AmazonEKSViewPolicy (simulator/k8s-access.ts).
  const viewer = clusterInventorySchema.parse({
    name: 'viewer',
    region: 'us-east-1',
    account: '111111111111',
    version: '1.30',
    nodegroups: [{ name: 'ng', nodes: 1 }],
    accessPolicy: 'AmazonEKSViewPolicy',
  });
  sim = await startSimulator({ fleet: [...testFleet(), auto, fargate, viewer], port: 0, timeScale: 60 });
  dir = mkdtempSync(join(tmpdir(), 'fleetwave-kubectl-'));
  const entries = [];
  for (const name of CLUSTERS) {
    const { cluster } = await eksClient(sim).send(new DescribeClusterCommand({ name }));
    const region = cluster?.arn?.split(':')[3] ?? 'us-east-1';
    const { token, expiresAt } = await createEksToken({ clusterName: name, region, credentials });
    // What `aws eks get-token --output json` prints.
    const credential = {
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      spec: {},
      status: { expirationTimestamp: expiresAt.toISOString(), token },
    };
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(credential));
    entries.push(
      kubeconfigEntry(
        cluster?.arn as string,
        cluster?.endpoint as string,
        cluster?.certificateAuthority?.data as string,
        name,
        region,
      ),
    );
  }
  // The exec plugin: prints the credential of the cluster named after --cluster-name.
  const plugin = join(dir, 'eks-get-token');
  writeFileSync(
    plugin,
    `#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --cluster-name ] && name="$2"; shift; done\nexec cat "${dir}/$name.json"\n`,
  );
  chmodSync(plugin, 0o755);
  writeFileSync(
    join(dir, 'config'),
    [
      'apiVersion: v1',
      'kind: Config',
      'preferences: {}',
      `current-context: alpha`,
      'clusters:',
      ...entries.map((e) => e.cluster),
      'contexts:',
      ...entries.map((e) => e.context),
      'users:',
      ...entries.map((e) => e.user),
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  console.log(`kubectl: ${commands} commands run against the simulator`);
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  commands += 1;
  return new Promise((resolve) => {
    execFile(
      KUBECTL,
      args,
      { env: { ...process.env, KUBECONFIG: join(dir, 'config'), HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const run = await kubectl(...args);
  expect(run.stderr.replace(/^Warning: .*\n/gm, '')).toBe('');
  expect(run.code).toBe(0);
  return run.stdout;
}

const columns = (line: string | undefined) => (line ?? '').trim().split(/\s{2,}/);
const rowsOf = (out: string) => out.trim().split('\n').slice(1).map(columns);

describe('kubectl against a simulated cluster', () => {
  it('get nodes prints the server-side Table: NAME STATUS ROLES AGE VERSION', async () => {
    const out = await ok('get', 'nodes');
    expect(columns(out.split('\n')[0])).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
    const rows = rowsOf(out);
    expect(rows).toHaveLength(5);
    for (const [name, status, roles, age, version] of rows) {
      expect(name).toMatch(/^ip-[\d-]+\.ec2\.internal$/);
      expect(status).toBe('Ready');
      expect(roles).toBe('<none>');
      expect(age).toMatch(/^\d+[smhdy]/);
      expect(version).toMatch(/^v1\.(29|30)\.\d+-eks-[0-9a-f]{7}$/);
    }
    const wide = await ok('get', 'nodes', '-o', 'wide');
    expect(columns(wide.split('\n')[0])).toEqual([
      'NAME',
      'STATUS',
      'ROLES',
      'AGE',
      'VERSION',
      'INTERNAL-IP',
      'EXTERNAL-IP',
      'OS-IMAGE',
      'KERNEL-VERSION',
      'CONTAINER-RUNTIME',
    ]);
  });

  it('get pods -A and get pdb -A print every namespace', async () => {
    const pods = await ok('get', 'pods', '-A');
    expect(columns(pods.split('\n')[0])).toEqual(['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    const rows = rowsOf(pods);
    expect(
      rows.some(([ns, name, ready]) => ns === 'kube-system' && name?.startsWith('aws-node-') && ready === '2/2'),
    ).toBe(true);
    expect(rows.every(([, , , status]) => status === 'Running')).toBe(true);

    const pdbs = await ok('get', 'pdb', '-A');
    expect(columns(pdbs.split('\n')[0])).toEqual([
      'NAMESPACE',
      'NAME',
      'MIN AVAILABLE',
      'MAX UNAVAILABLE',
      'ALLOWED DISRUPTIONS',
      'AGE',
    ]);
    expect(rowsOf(pdbs)[0]?.slice(0, 5)).toEqual(['payments', 'api', 'N/A', '1', '1']);
  });

  it('get deployments, statefulsets and node leases: the workloads behind the pods, and the kubelet heartbeats', async () => {
    const deploys = await ok('get', 'deployments', '-A');
    expect(columns(deploys.split('\n')[0])).toEqual(['NAMESPACE', 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
    const rows = rowsOf(deploys);
    expect(rows.find(([ns, name]) => ns === 'kube-system' && name === 'coredns')?.[2]).toBe('2/2');
    expect(rows.some(([ns, name]) => ns === 'payments' && name === 'api')).toBe(true);
    // No StatefulSet in the simulated workloads: served, and empty.
    const sts = await kubectl('get', 'statefulsets', '-A');
    expect([sts.code, sts.stderr.trim()]).toEqual([0, 'No resources found']);
    const leases = rowsOf(await ok('get', 'leases', '-n', 'kube-node-lease'));
    const nodes = rowsOf(await ok('get', 'nodes')).map((r) => r[0]);
    expect(leases.map((r) => r[0]).sort()).toEqual([...nodes].sort());
    expect(leases.every(([name, holder]) => holder === name)).toBe(true);
  });

  it('get nodepools,nodeclaims on an Auto Mode cluster, and patch a NodePool the ways kubectl sends', async () => {
    const out = await ok('--context', 'auto', 'get', 'nodepools,nodeclaims');
    const [pools, claims] = out.trim().split('\n\n');
    expect(columns(pools?.split('\n')[0])).toEqual(['NAME', 'NODECLASS', 'NODES', 'READY', 'AGE']);
    expect(rowsOf(pools ?? '').map((r) => r.slice(0, 4))).toEqual([
      ['nodepool.karpenter.sh/general-purpose', 'default', '2', 'True'],
      ['nodepool.karpenter.sh/system', 'default', '1', 'True'],
      ['nodepool.karpenter.sh/web', 'default', '3', 'True'],
    ]);
    expect(columns(claims?.split('\n')[0])).toEqual(['NAME', 'TYPE', 'CAPACITY', 'ZONE', 'NODE', 'READY', 'AGE']);
    expect(rowsOf(claims ?? '')).toHaveLength(6);
    const wide = await ok('--context', 'auto', 'get', 'nodeclaims', '-o', 'wide');
    expect(columns(wide.split('\n')[0]).slice(7)).toEqual(['IMAGEID', 'ID', 'NODEPOOL', 'NODECLASS', 'DRIFTED']);
    const nodes = await ok('--context', 'auto', 'get', 'nodes', '-l', 'eks.amazonaws.com/compute-type=auto');
    expect(rowsOf(nodes)).toHaveLength(6);

    const budgets = () =>
      ok('--context', 'auto', 'get', 'nodepool', 'web', '-o', 'jsonpath={.spec.disruption.budgets}');
    await ok(
      '--context',
      'auto',
      'patch',
      'nodepool',
      'web',
      '--type',
      'merge',
      '-p',
      '{"spec":{"disruption":{"budgets":[{"nodes":"1"}]}}}',
    );
    expect(JSON.parse(await budgets())).toEqual([{ nodes: '1' }]);
    await ok(
      '--context',
      'auto',
      'patch',
      'nodepool',
      'web',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/spec/disruption/budgets/-","value":{"nodes":"0","reasons":["Drifted"]}}]',
    );
    expect(JSON.parse(await budgets())).toEqual([{ nodes: '1' }, { nodes: '0', reasons: ['Drifted'] }]);
    const strategic = await kubectl('--context', 'auto', 'patch', 'nodepool', 'web', '-p', '{"metadata":{}}');
    expect(strategic.code).not.toBe(0);
    expect(strategic.stderr).toContain('strategic merge patch is not supported');
  });

  it('api-resources, get --raw /version and auth whoami go through discovery and the token', async () => {
    const resources = await ok('api-resources');
    for (const line of [
      /^nodes\s+no\s+v1\s+false\s+Node$/m,
      /^pods\s+po\s+v1\s+true\s+Pod$/m,
      /^poddisruptionbudgets\s+pdb\s+policy\/v1\s+true\s+PodDisruptionBudget$/m,
      /^daemonsets\s+ds\s+apps\/v1\s+true\s+DaemonSet$/m,
      /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
      /^statefulsets\s+sts\s+apps\/v1\s+true\s+StatefulSet$/m,
      /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m,
    ]) {
      expect(resources).toMatch(line);
    }
    const version = JSON.parse(await ok('get', '--raw', '/version')) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v1\.30\.\d+-eks-/);
    expect(await ok('auth', 'whoami')).toMatch(/Username\s+arn:aws:sts::111111111111:assumed-role\//);
  });

  it('auth can-i asks SelfSubjectAccessReview: cluster-admin may do anything, a view-only entry only reads', async () => {
    // kubectl warns on stderr that nodes are not namespaced; the answer is on stdout and in the exit code.
    const admin = await kubectl('auth', 'can-i', 'patch', 'nodes');
    expect([admin.code, admin.stdout]).toEqual([0, 'yes\n']);
    expect(await ok('auth', 'can-i', 'create', 'pods/eviction', '-A')).toBe('yes\n');
    expect(await ok('--context', 'viewer', 'auth', 'can-i', 'list', 'pods', '-A')).toBe('yes\n');
    const patchNodes = await kubectl('--context', 'viewer', 'auth', 'can-i', 'patch', 'nodes');
    expect([patchNodes.code, patchNodes.stdout]).toEqual([1, 'no\n']);
    const evict = await kubectl('--context', 'viewer', 'auth', 'can-i', 'create', 'pods/eviction', '-A');
    expect([evict.code, evict.stdout]).toEqual([1, 'no\n']);
    // And the API server enforces what it answers: kubectl's own Forbidden message.
    const node = rowsOf(await ok('--context', 'viewer', 'get', 'pods', '-A', '-o', 'wide'))[0]?.[7] as string;
    const cordon = await kubectl('--context', 'viewer', 'cordon', node);
    expect(cordon.code).toBe(1);
    expect(cordon.stderr).toMatch(
      /nodes "[^"]+" is forbidden: User "arn:aws:sts::111111111111:assumed-role\/[^"]+" cannot (get|patch) resource "nodes" in API group "" at the cluster scope/,
    );
  });

  it('get secret reads seeded data as base64; a missing one is NotFound, a view-only entry is Forbidden', async () => {
    const hook = 'http://127.0.0.1:9/hooks/T000/B000/x';
    for (const cluster of ['alpha', 'viewer']) {
      const seeded = await fetch(`${sim.url}/sim/secrets`, {
        method: 'POST',
        body: JSON.stringify({ cluster, namespace: 'fleetwave', name: 'hooks', stringData: { slack: hook } }),
      });
      expect(seeded.status).toBe(200);
    }
    const data = await ok('get', 'secret', 'hooks', '-n', 'fleetwave', '-o', 'jsonpath={.data.slack}');
    expect(Buffer.from(data, 'base64').toString('utf8')).toBe(hook);
    const table = await ok('get', 'secrets', '-n', 'fleetwave');
    expect(columns(table.split('\n')[0])).toEqual(['NAME', 'TYPE', 'DATA', 'AGE']);
    expect(rowsOf(table)[0]?.slice(0, 3)).toEqual(['hooks', 'Opaque', '1']);
    const missing = await kubectl('get', 'secret', 'nope', '-n', 'fleetwave');
    expect([missing.code, missing.stderr]).toEqual([1, 'Error from server (NotFound): secrets "nope" not found\n']);
    // AmazonEKSViewPolicy reads namespaced resources except Secrets.
    const viewer = await kubectl('--context', 'viewer', 'get', 'secret', 'hooks', '-n', 'fleetwave');
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(
      /secrets "hooks" is forbidden: User "[^"]+" cannot get resource "secrets" in API group "" in the namespace "fleetwave"/,
    );
    expect(await ok('get', 'namespace', 'fleetwave', '-o', 'name')).toBe('namespace/fleetwave\n');
  });

  it('cordon and uncordon patch spec.unschedulable', async () => {
    const node = rowsOf(await ok('get', 'nodes'))[0]?.[0] as string;
    expect(await ok('cordon', node)).toBe(`node/${node} cordoned\n`);
    expect(await ok('get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}')).toBe('true');
    expect(rowsOf(await ok('get', 'node', node))[0]?.[1]).toBe('Ready,SchedulingDisabled');
    expect(await ok('uncordon', node)).toBe(`node/${node} uncordoned\n`);
    expect(rowsOf(await ok('get', 'node', node))[0]?.[1]).toBe('Ready');
  });

  it('drain --dry-run=server evicts nothing and leaves the node schedulable', async () => {
    const node = rowsOf(await ok('get', 'nodes'))[1]?.[0] as string;
    const before = await ok('get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`, '-o', 'name');
    const out = await ok('drain', node, '--ignore-daemonsets', '--dry-run=server');
    expect(out).toContain(`node/${node} cordoned (server dry run)`);
    expect(out).toMatch(/evicting pod default\/web-\S+ \(server dry run\)/);
    expect(out).toContain(`node/${node} drained (server dry run)`);
    expect(await ok('get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`, '-o', 'name')).toBe(before);
    expect(rowsOf(await ok('get', 'node', node))[0]?.[1]).toBe('Ready');
  });

  it('a PodDisruptionBudget that allows no disruption blocks kubectl drain (429 from the eviction)', async () => {
    const node = await ok(
      '--context',
      'blocked',
      'get',
      'pods',
      '-n',
      'data',
      '-o',
      'jsonpath={.items[0].spec.nodeName}',
    );
    const run = await kubectl('--context', 'blocked', 'drain', node, '--ignore-daemonsets', '--timeout=2s');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    expect(run.stderr).toContain('global timeout reached: 2s');
    // The drain cordoned the node and evicted what the budget allows; the guarded pod stays.
    expect(await ok('--context', 'blocked', 'get', 'pods', '-n', 'data', '-o', 'name')).toMatch(/^pod\/db-/);
    await ok('--context', 'blocked', 'uncordon', node);
  });

  it('get nodes -w prints a row when a node changes', async () => {
    const node = rowsOf(await ok('get', 'nodes'))[2]?.[0] as string;
    commands += 1;
    const watch = spawn(KUBECTL, ['get', 'nodes', '-w'], {
      env: { ...process.env, KUBECONFIG: join(dir, 'config'), HOME: dir },
    });
    let out = '';
    watch.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await waitFor('the initial listing', () => (out.trim().split('\n').length >= 6 ? true : undefined));
      await ok('cordon', node);
      const changed = await waitFor('a watch event for the cordoned node', () =>
        out
          .split('\n')
          .slice(6)
          .find((line) => line.startsWith(node) && line.includes('SchedulingDisabled')),
      );
      expect(columns(changed)[1]).toBe('Ready,SchedulingDisabled');
    } finally {
      watch.kill();
      await ok('uncordon', node);
    }
  });

  it('rollout restart of a Fargate Deployment recreates its pods one at a time on the control plane’s minor', async () => {
    const ctx = ['--context', 'fargate'];
    const before = rowsOf(await ok(...ctx, 'get', 'nodes'));
    expect(before).toHaveLength(3);
    for (const [name, , , , version] of before) {
      expect(name).toMatch(/^fargate-ip-/);
      expect(version).toMatch(/^v1\.29\./);
    }
    expect(await ok(...ctx, 'rollout', 'restart', 'deployment/fargate-batch', '-n', 'default')).toBe(
      'deployment.apps/fargate-batch restarted\n',
    );
    const annotation = await ok(
      ...ctx,
      'get',
      'deployment',
      'fargate-batch',
      '-n',
      'default',
      '-o',
      'jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}',
    );
    expect(annotation).toMatch(/^\d{4}-\d\d-\d\dT/);
    // One pod at a time (maxSurge 1, maxUnavailable 0): never more than one extra node.
    let most = 0;
    const after = await waitFor(
      'every Fargate pod on a 1.30 kubelet',
      async () => {
        const rows = rowsOf(await ok(...ctx, 'get', 'nodes'));
        most = Math.max(most, rows.length);
        return rows.length === 3 && rows.every((r) => r[4]?.startsWith('v1.30.')) ? rows : undefined;
      },
      30_000,
    );
    expect(most).toBeLessThanOrEqual(4);
    expect(after.map((r) => r[0]).filter((n) => before.some((b) => b[0] === n))).toEqual([]);
    // A Deployment other than a Fargate profile's is not restarted by the simulator, and says so.
    const other = await kubectl('rollout', 'restart', 'deployment/coredns', '-n', 'kube-system');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('restarts only the Deployments of Fargate profiles');
  });
});
