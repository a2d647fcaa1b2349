/**
 * The worker Helm chart, validated without a cluster: `helm lint --strict`, then `helm template`
 * with several value sets, asserting what the worker needs from its Deployment (the env names
 * worker/config.ts reads and values it accepts, the IRSA annotation, a termination grace period
 * longer than the shutdown grace, the metrics port) and what the chart must refuse.
 *
 * helm is built from the Go module proxy into ~/.cache/fleetwave when missing (scripts/deploy-tools.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { TEMPORAL_ENV_VARS } from '../../client/temporal-env';
import { loadWorkerConfig, WORKER_ENV_VARS } from '../../worker/config';
import { ensureTool, HELM } from '../../scripts/deploy-tools';
import { REPO_ROOT } from '../helpers/bundle';
import { startCli } from '../helpers/cli';

const CHART = path.join(REPO_ROOT, 'deploy/helm/fleetwave-worker');
/** worker/main.ts gives a drain this much beyond the shutdown grace before it forces shutdown. */
const FORCE_MARGIN_S = 15;

interface K8sObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; emptyDir?: object; secret?: { secretName: string } }[];
}
interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress: { from: unknown[]; ports: { port: number; protocol: string }[] }[];
}
type DeploymentSpec = {
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
};

/** Whether a label selector selects pods with these labels. */
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

let helm: string;

beforeAll(async () => {
  helm = await ensureTool(HELM);
}, 15 * 60_000);

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function render(set: Record<string, string> = {}): K8sObject[] {
  const args = ['template', 'fw', CHART, '--namespace', 'fleetwave'];
  for (const [key, value] of Object.entries(set)) args.push('--set', `${key}=${value}`);
  const result = runHelm(args);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function one(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as K8sObject;
}

function podSpec(objects: K8sObject[]): PodSpec {
  const deployment = one(objects, 'Deployment');
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

function worker(objects: K8sObject[]): Container {
  const container = podSpec(objects).containers.find((c) => c.name === 'worker');
  expect(container).toBeDefined();
  return container as Container;
}

/** The container's env as the worker process would see it (Secret references get a stand-in value). */
function envOf(container: Container): Record<string, string> {
  return Object.fromEntries(
    container.env.map((e) => [e.name, e.value ?? `<from secret ${e.valueFrom?.secretKeyRef?.name}>`]),
  );
}

describe('helm chart deploy/helm/fleetwave-worker', () => {
  it('passes helm lint --strict', () => {
    const result = runHelm(['lint', '--strict', CHART]);
    expect(result.stdout + result.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(result.status).toBe(0);
  });

  it('renders a Deployment whose env the worker config accepts', () => {
    const objects = render();
    const container = worker(objects);
    expect(container.args).toEqual(['worker']);
    const env = envOf(container);
    const known = new Set<string>([...WORKER_ENV_VARS, ...TEMPORAL_ENV_VARS]);
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'FLEETWAVE_TASK_QUEUE', 'FLEETWAVE_SHUTDOWN_GRACE']) {
      expect(env, name).toHaveProperty(name);
    }
    const config = loadWorkerConfig(env);
    expect(config.temporal.connection.address).toBe('temporal-frontend.temporal:7233');
    expect(config.taskQueue).toBe('fleetwave');
    expect(config.maxConcurrentActivities).toBe(100);
    expect(config.maxConcurrentWorkflowTasks).toBe(40);
    // Never an inline API key.
    expect(container.env.find((e) => e.name === 'TEMPORAL_API_KEY')).toBeUndefined();
  });

  it('gives Kubernetes a termination grace period longer than the worker drain', () => {
    const valueSets: Record<string, string>[] = [{}, { shutdownGrace: '1m', terminationGracePeriodSeconds: '90' }];
    for (const set of valueSets) {
      const objects = render(set);
      const config = loadWorkerConfig(envOf(worker(objects)));
      const grace = podSpec(objects).terminationGracePeriodSeconds;
      expect(grace).toBeGreaterThan(config.shutdownGraceMs / 1000 + FORCE_MARGIN_S);
    }
    expect(podSpec(render()).terminationGracePeriodSeconds).toBe(60);
  });

  it('refuses a termination grace period that would cut the drain short', () => {
    const result = runHelm(['template', 'fw', CHART, '--set', 'terminationGracePeriodSeconds=40']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/terminationGracePeriodSeconds \(40\) must exceed shutdownGrace \(30s\)/);
    const badGrace = runHelm(['template', 'fw', CHART, '--set', 'shutdownGrace=30 seconds']);
    expect(badGrace.status).not.toBe(0);
    expect(badGrace.stderr).toMatch(/shutdownGrace: must be seconds or minutes/);
  });

  it('exposes the metrics port on the container, the Service and the worker address', () => {
    const objects = render();
    const container = worker(objects);
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(loadWorkerConfig(envOf(container)).metricsAddress).toBe('0.0.0.0:9464');
    const service = one(objects, 'Service');
    expect((service.spec as { ports: unknown[] }).ports).toEqual([
      { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(objects.some((o) => o.kind === 'ServiceMonitor')).toBe(false);

    const withMonitor = render({
      'metrics.serviceMonitor.enabled': 'true',
      'metrics.serviceMonitor.labels.release': 'kps',
    });
    const monitor = one(withMonitor, 'ServiceMonitor');
    expect(monitor.metadata.labels?.release).toBe('kps');
    expect((monitor.spec as { endpoints: { port: string }[] }).endpoints[0]?.port).toBe('metrics');

    const disabled = render({ 'metrics.enabled': 'false' });
    expect(disabled.some((o) => o.kind === 'Service')).toBe(false);
    expect(loadWorkerConfig(envOf(worker(disabled))).metricsAddress).toBeUndefined();
  });

  it('annotates the service account for IRSA and runs the pod as it', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/fleetwave-worker';
    const objects = render({ 'aws.irsa.roleArn': roleArn });
    const sa = one(objects, 'ServiceAccount');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe(roleArn);
    expect(podSpec(objects).serviceAccountName).toBe(sa.metadata.name);
    // Pod Identity: no annotation; the association names this service account.
    expect(one(render(), 'ServiceAccount').metadata.annotations).toBeUndefined();
  });

  it('takes the Temporal API key from an existing Secret and mounts mTLS material', () => {
    const objects = render({
      'temporal.address': 'ns.acct.tmprl.cloud:7233',
      'temporal.namespace': 'ns.acct',
      'temporal.apiKey.existingSecret': 'temporal-cloud',
      'temporal.tls.existingSecret': 'temporal-mtls',
      'temporal.tls.privateCA': 'true',
    });
    const container = worker(objects);
    const apiKey = container.env.find((e) => e.name === 'TEMPORAL_API_KEY');
    expect(apiKey).toEqual({
      name: 'TEMPORAL_API_KEY',
      valueFrom: { secretKeyRef: { name: 'temporal-cloud', key: 'api-key' } },
    });
    const env = envOf(container);
    expect(env.TEMPORAL_TLS).toBe('true');
    expect(env.TEMPORAL_TLS_CLIENT_CERT_PATH).toBe('/etc/fleetwave/temporal-tls/tls.crt');
    expect(env.TEMPORAL_TLS_SERVER_CA_CERT_PATH).toBe('/etc/fleetwave/temporal-tls/ca.crt');
    expect(container.volumeMounts).toContainEqual({
      name: 'temporal-tls',
      mountPath: '/etc/fleetwave/temporal-tls',
      readOnly: true,
    });
    expect(podSpec(objects).volumes).toContainEqual({ name: 'temporal-tls', secret: { secretName: 'temporal-mtls' } });
  });

  it('mounts the fleet approval policy from a Secret or ConfigMap, read-only and whole (so updates arrive)', () => {
    for (const [value, volume] of [
      [{ 'approvalPolicy.existingSecret': 'fleet-policy' }, { secret: { secretName: 'fleet-policy' } }],
      [{ 'approvalPolicy.existingConfigMap': 'fleet-policy' }, { configMap: { name: 'fleet-policy' } }],
    ] as const) {
      const objects = render(value);
      const container = worker(objects);
      expect(envOf(container).FLEETWAVE_APPROVAL_POLICY).toBe('/etc/fleetwave/policy/policy.yaml');
      const mount = container.volumeMounts.find((m) => m.name === 'approval-policy');
      expect(mount).toEqual({ name: 'approval-policy', mountPath: '/etc/fleetwave/policy', readOnly: true });
      expect(podSpec(objects).volumes).toContainEqual({ name: 'approval-policy', ...volume });
    }
    expect(envOf(worker(render())).FLEETWAVE_APPROVAL_POLICY).toBeUndefined();
    const both = runHelm([
      'template', 'fw', CHART,
      '--set', 'approvalPolicy.existingSecret=a',
      '--set', 'approvalPolicy.existingConfigMap=b',
    ]); // prettier-ignore
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain('approvalPolicy: set existingSecret or existingConfigMap, not both');
  });

  it('runs non-root with a read-only root filesystem and a writable /tmp', () => {
    const objects = render();
    const spec = podSpec(objects);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const container = worker(objects);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(spec.volumes).toContainEqual({ name: 'tmp', emptyDir: {} });
  });

  it('deploys the codec server when asked: its own pods, a Service, and args the real CLI serves with', async () => {
    expect(render().some((o) => o.metadata.name.endsWith('codec-server'))).toBe(false);
    const origin = 'https://temporal.example.com';
    const objects = render({ 'codecServer.enabled': 'true', 'codecServer.corsOrigins[0]': origin });
    const named = (kind: string, name: string) => {
      const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
      expect(found, `${kind} ${name}`).toBeDefined();
      return found as K8sObject;
    };
    const codec = named('Deployment', 'fw-fleetwave-worker-codec-server').spec as DeploymentSpec;
    const workerSpec = named('Deployment', 'fw-fleetwave-worker').spec as DeploymentSpec;
    const matches = selects;
    // Each Deployment selects its own pods only.
    expect(matches(codec.selector.matchLabels, codec.template.metadata.labels)).toBe(true);
    expect(matches(workerSpec.selector.matchLabels, codec.template.metadata.labels)).toBe(false);
    expect(matches(codec.selector.matchLabels, workerSpec.template.metadata.labels)).toBe(false);
    const service = named('Service', 'fw-fleetwave-worker-codec-server').spec as {
      selector: Record<string, string>;
      ports: unknown[];
    };
    expect(service.selector).toEqual(codec.selector.matchLabels);
    expect(service.ports).toEqual([{ name: 'codec', port: 8888, targetPort: 'codec', protocol: 'TCP' }]);
    const container = codec.template.spec.containers[0] as Container;
    expect(container.ports).toEqual([{ name: 'codec', containerPort: 8888, protocol: 'TCP' }]);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    expect(container.env ?? []).toEqual([]);
    const args = container.args ?? [];
    expect(args.slice(0, 3)).toEqual(['codec-server', '--host', '0.0.0.0']);

    // The rendered args, run by the real CLI (any free port instead of 8888): it serves the UI's origin.
    const portAt = args.indexOf('--port') + 1;
    const cli = startCli([...args.slice(0, portAt), '0', ...args.slice(portAt + 1), '--json'], { timeoutMs: 30_000 });
    try {
      const deadline = Date.now() + 20_000;
      while (!cli.stdout().includes('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const { url, corsOrigins } = JSON.parse(cli.stdout()) as { url: string; corsOrigins: string[] };
      expect(corsOrigins).toEqual([origin]);
      const res = await fetch(`${url.replace('0.0.0.0', '127.0.0.1')}/decode`, {
        method: 'POST',
        headers: { origin },
        body: JSON.stringify({ payloads: [] }),
      });
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(await res.json()).toEqual({ payloads: [] });
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });

  it('pins the image by digest when given one, and refuses a malformed digest naming the field', () => {
    expect(worker(render()).image).toBe('ghcr.io/fleetwave/fleetwave:0.1.0');
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const objects = render({ 'image.digest': digest, 'image.tag': 'ignored' });
    expect(worker(objects).image).toBe(`ghcr.io/fleetwave/fleetwave@${digest}`);
    const bad = runHelm(['template', 'fw', CHART, '--set', 'image.digest=sha256:abc']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/image\.digest: must be sha256:<64 hex digits>, got "sha256:abc"/);
  });

  it('mounts no Kubernetes API token in the worker pods unless asked (IRSA and Pod Identity bring their own)', () => {
    const objects = render({ 'aws.irsa.roleArn': 'arn:aws:iam::123456789012:role/fleetwave-worker' });
    expect(podSpec(objects).automountServiceAccountToken).toBe(false);
    expect(
      (one(objects, 'ServiceAccount') as unknown as { automountServiceAccountToken: boolean })
        .automountServiceAccountToken,
    ).toBe(false);
    expect(podSpec(render({ 'serviceAccount.automountToken': 'true' })).automountServiceAccountToken).toBe(true);
  });

  it('grants get on exactly the notify.secretNames Secrets, bound to the worker service account, and mounts its token', () => {
    const none = render();
    expect(none.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
    expect(podSpec(none).automountServiceAccountToken).toBe(false);

    const objects = render({ 'notify.secretNames': '{hooks,team-hooks}' });
    const role = one(objects, 'Role') as unknown as K8sObject & { metadata: { namespace: string }; rules: unknown[] };
    expect(role.metadata.namespace).toBe('fleetwave');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['hooks', 'team-hooks'], verbs: ['get'] },
    ]);
    const binding = one(objects, 'RoleBinding') as unknown as K8sObject & {
      metadata: { namespace: string };
      roleRef: { apiGroup: string; kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.metadata.namespace).toBe('fleetwave');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    const serviceAccount = one(objects, 'ServiceAccount').metadata.name;
    expect(podSpec(objects).serviceAccountName).toBe(serviceAccount);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: serviceAccount, namespace: 'fleetwave' }]);
    // client-node's in-cluster config reads the mounted token; the service account itself still does not automount.
    expect(podSpec(objects).automountServiceAccountToken).toBe(true);
    expect(
      (one(objects, 'ServiceAccount') as unknown as { automountServiceAccountToken: boolean })
        .automountServiceAccountToken,
    ).toBe(false);

    const bad = runHelm(['template', 'fw', CHART, '--set', 'notify.secretNames={Hooks}']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/notify\.secretNames\[0\]: must be a Secret name .*got "Hooks"/);
  });

  it('offers NetworkPolicies: the worker admits only metrics scrapes, the codec server only its port', () => {
    expect(render().some((o) => o.kind === 'NetworkPolicy')).toBe(false);
    const monitoring = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
    const ingressController = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } };
    const objects = render({
      'networkPolicy.enabled': 'true',
      'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'monitoring',
      'networkPolicy.codecFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'ingress',
      'codecServer.enabled': 'true',
      'codecServer.corsOrigins[0]': 'https://temporal.example.com',
    });
    const policy = (name: string) =>
      objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)?.spec as unknown as NetworkPolicySpec;
    const deployment = (name: string) =>
      objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as unknown as DeploymentSpec;
    const workerPods = deployment('fw-fleetwave-worker').template.metadata.labels;
    const codecPods = deployment('fw-fleetwave-worker-codec-server').template.metadata.labels;
    const workerPolicy = policy('fw-fleetwave-worker');
    const codecPolicy = policy('fw-fleetwave-worker-codec-server');
    // Each policy selects its own pods and not the other's.
    expect(selects(workerPolicy.podSelector.matchLabels, workerPods)).toBe(true);
    expect(selects(workerPolicy.podSelector.matchLabels, codecPods)).toBe(false);
    expect(selects(codecPolicy.podSelector.matchLabels, codecPods)).toBe(true);
    expect(selects(codecPolicy.podSelector.matchLabels, workerPods)).toBe(false);
    expect(workerPolicy.policyTypes).toEqual(['Ingress']);
    expect(workerPolicy.ingress).toEqual([{ from: [monitoring], ports: [{ port: 9464, protocol: 'TCP' }] }]);
    expect(codecPolicy.ingress).toEqual([{ from: [ingressController], ports: [{ port: 8888, protocol: 'TCP' }] }]);
    // No peers named: no ingress at all (an empty rule list), never "allow all".
    const closed = render({ 'networkPolicy.enabled': 'true' });
    expect((closed.find((o) => o.kind === 'NetworkPolicy')?.spec as unknown as NetworkPolicySpec).ingress).toEqual([]);
  });

  it('gives the codec server a token from a Secret and a decode budget, which the real CLI enforces', async () => {
    const objects = render({
      'codecServer.enabled': 'true',
      'codecServer.corsOrigins[0]': 'https://temporal.example.com',
      'codecServer.authToken.existingSecret': 'codec-token',
      'codecServer.maxDecodedMiB': '8',
    });
    const codec = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('codec-server'))
      ?.spec as unknown as DeploymentSpec;
    const container = codec.template.spec.containers[0] as Container;
    const args = container.args ?? [];
    expect(args).toContain('--auth-token-file');
    const tokenPath = args[args.indexOf('--auth-token-file') + 1] as string;
    expect(tokenPath).toBe('/etc/fleetwave/codec-token/token');
    expect(args[args.indexOf('--max-decoded-mib') + 1]).toBe('8');
    expect(container.volumeMounts).toContainEqual({
      name: 'codec-token',
      mountPath: '/etc/fleetwave/codec-token',
      readOnly: true,
    });
    expect(codec.template.spec.volumes).toContainEqual({ name: 'codec-token', secret: { secretName: 'codec-token' } });

    // The rendered args, with the Secret's file stood in by a temporary one and any free port.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-helm-codec-'));
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'helm-token\n');
    const runArgs = args.map((a) => (a === tokenPath ? file : a));
    runArgs[runArgs.indexOf('--port') + 1] = '0';
    const cli = startCli([...runArgs, '--json'], { timeoutMs: 30_000 });
    try {
      const deadline = Date.now() + 20_000;
      while (!cli.stdout().includes('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const { url } = JSON.parse(cli.stdout()) as { url: string };
      const base = url.replace('0.0.0.0', '127.0.0.1');
      const body = JSON.stringify({ payloads: [] });
      expect((await fetch(`${base}/decode`, { method: 'POST', body })).status).toBe(401);
      const ok = await fetch(`${base}/decode`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer helm-token' },
      });
      expect(ok.status).toBe(200);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a codec server without a valid Web UI origin, naming the field', () => {
    const missing = runHelm(['template', 'fw', CHART, '--set', 'codecServer.enabled=true']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/codecServer\.corsOrigins: list the Temporal Web UI origins/);
    const bad = runHelm([
      'template',
      'fw',
      CHART,
      '--set',
      'codecServer.enabled=true',
      '--set',
      'codecServer.corsOrigins[0]=temporal.example.com',
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/codecServer\.corsOrigins: "temporal\.example\.com" is not an origin/);
  });
});
