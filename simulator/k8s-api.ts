/**
 * The Kubernetes API of each simulated cluster, at its own HTTPS endpoint (the `endpoint` that
 * DescribeCluster returns, k8s-endpoints.ts): nodes, pods, PodDisruptionBudgets, namespaces, Secrets, `/version` and
 * metrics.k8s.io node metrics, with `limit`/`continue` paging, label selectors and the field
 * selectors client code uses. Every call needs an EKS bearer token that passes the format
 * checks of aws-iam-authenticator (signatures are not verified: there is no STS to ask).
 */
import { CONTROL_PLANE_PATCH } from './catalogue';
import type { SimCluster, SimFleet } from './model';
import { hash32, hexOf, unit, uuidOf } from './random';
import { discovery, nodePoolGroups } from './k8s-discovery';
import { decorateFargateDeployment, patchDeployment } from './k8s-fargate';
import { karpenterDeployments, nodeClaimNodes, readNodePools, writeNodePools } from './k8s-nodepools';
import {
  clusterNodes,
  clusterPdbs,
  clusterPods,
  clusterSecrets,
  deletePod,
  evictionBlockedBy,
  kubernetesState,
  noteChange,
  setCordon,
} from './k8s-state';
import { toTable, wantsTable } from './k8s-tables';
import { forbiddenMessage, policyAllows, requestAttributes, selfSubjectAccessReview } from './k8s-access';
import { amiTypeInfo } from '../domain/node-models';
import { instanceTypeOf, type NodeView, type PodView } from './workloads';

export interface K8sResponse {
  status: number;
  body: unknown;
}

/** A watch stream: `watch` begins sending events (`end` closes the stream) and returns the function that stops it. */
export interface K8sWatch {
  status: 200;
  watch: (send: (event: unknown) => void, end: () => void) => () => void;
}

/** One request to a cluster's endpoint, its body already read. */
export interface K8sRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string | undefined;
  accept?: string | undefined;
  contentType?: string | undefined;
  body: string;
  /** `host:port` the client reached (discovery's serverAddressByClientCIDRs). */
  serverAddress: string;
}

/** The Kubernetes user name EKS gives the caller (the same as SelfSubjectReview reports). */
function userOf(c: SimCluster, authorization: string | undefined): string {
  return `arn:aws:sts::${c.account}:assumed-role/fleetwave-simulator/${callerOf(authorization)}`;
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function status(code: number, reason: string, message: string): K8sResponse {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

const TOKEN_PREFIX = 'k8s-aws-v1.';
const MAX_TOKEN_BYTES = 4096;
const PRESIGNED_URL_LIFETIME_MS = 15 * 60_000;
const ALLOWED_QUERY_KEYS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);

/**
 * Why an `Authorization` header is not an acceptable EKS token, or undefined when it is.
 * The rules are aws-iam-authenticator's: prefix, base64url, https, an STS host, path `/`,
 * only the presign query keys, each once, Action=GetCallerIdentity, `x-k8s-aws-id` signed,
 * 0 <= X-Amz-Expires <= 900, and X-Amz-Date no older than 15 minutes (wall clock).
 */
export function rejectToken(authorization: string | undefined, wallNow = Date.now()): string | undefined {
  if (!authorization?.startsWith('Bearer ')) return 'no bearer token';
  const token = authorization.slice('Bearer '.length).trim();
  if (token.length > MAX_TOKEN_BYTES) return 'token is too large';
  if (!token.startsWith(TOKEN_PREFIX)) return `token is missing expected "${TOKEN_PREFIX}" prefix`;
  const encoded = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return 'token is not base64url without padding';
  let url: URL;
  try {
    url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return 'token does not decode to a URL';
  }
  if (url.protocol !== 'https:') return `unexpected scheme "${url.protocol.replace(':', '')}" in pre-signed URL`;
  if (!/^sts(-fips)?(\.[a-z]{2}(-gov)?-[a-z]+-\d)?\.amazonaws\.com(\.cn)?$/.test(url.host)) {
    return `unexpected hostname "${url.host}" in pre-signed URL`;
  }
  if (url.pathname !== '/') return 'unexpected path in pre-signed URL';
  const params = new Map<string, string>();
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    if (!ALLOWED_QUERY_KEYS.has(key.toLowerCase())) return `non-whitelisted query parameter "${key}"`;
    if (values.length !== 1) return 'query parameter with multiple values not supported';
    params.set(key.toLowerCase(), values[0] as string);
  }
  if (params.get('action') !== 'GetCallerIdentity') return 'unexpected action parameter in pre-signed URL';
  const signed = (params.get('x-amz-signedheaders') ?? '').split(';').map((h) => h.toLowerCase());
  if (!signed.includes('x-k8s-aws-id')) return 'client did not sign the x-k8s-aws-id header in the pre-signed URL';
  const expires = Number(params.get('x-amz-expires'));
  if (!Number.isInteger(expires) || expires < 0 || expires > 900)
    return 'invalid X-Amz-Expires parameter in pre-signed URL';
  const date = params.get('x-amz-date');
  if (!date) return 'X-Amz-Date parameter must be present in pre-signed URL';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!m) return `error parsing X-Amz-Date parameter ${date}`;
  const signedAt = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (wallNow > signedAt + PRESIGNED_URL_LIFETIME_MS) return 'X-Amz-Date parameter is expired (15 minute expiration)';
  return undefined;
}

type Selector = (labels: Record<string, string>) => boolean;

/** Equality-based and set-based label selectors (`a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`). */
function parseLabelSelector(text: string | null): Selector | string {
  if (!text) return () => true;
  const terms: Selector[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      terms.push(
        op === 'in' ? (l) => values.includes(l[key] ?? '\u0000') : (l) => !values.includes(l[key] ?? '\u0000'),
      );
    } else if ((m = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(part))) {
      const [, key, value] = m as unknown as [string, string, string];
      terms.push((l) => l[key] !== value);
    } else if ((m = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(part))) {
      const [, key, value] = m as unknown as [string, string, string];
      terms.push((l) => l[key] === value);
    } else if ((m = /^!([^!=\s]+)$/.exec(part))) {
      const key = m[1] as string;
      terms.push((l) => !(key in l));
    } else if ((m = /^([^!=\s(),]+)$/.exec(part))) {
      const key = m[1] as string;
      terms.push((l) => key in l);
    } else {
      return `unable to parse requirement: "${part}"`;
    }
  }
  return (labels) => terms.every((t) => t(labels));
}

/** Field selectors: `field=value`, `field==value`, `field!=value`, comma-joined, over the given fields. */
function parseFieldSelector(
  text: string | null,
  supported: readonly string[],
): ((fields: Record<string, string>) => boolean) | string {
  if (!text) return () => true;
  const terms: ((f: Record<string, string>) => boolean)[] = [];
  for (const raw of text.split(',')) {
    const m = /^\s*([^!=\s]+)\s*(!=|==|=)\s*(.*?)\s*$/.exec(raw);
    if (!m) return `invalid selector: '${raw}'; can't understand '${raw}'`;
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!supported.includes(field)) return `field label not supported: ${field}`;
    terms.push(op === '!=' ? (f) => f[field] !== value : (f) => f[field] === value);
  }
  return (fields) => terms.every((t) => t(fields));
}

function listResponse(
  kind: string,
  apiVersion: string,
  items: unknown[],
  query: URLSearchParams,
  rv: string,
): K8sResponse {
  const limitText = query.get('limit');
  const cont = query.get('continue');
  let offset = 0;
  if (cont) {
    const match = /^o:(\d+)$/.exec(Buffer.from(cont, 'base64url').toString('utf8'));
    if (!match) return status(400, 'BadRequest', 'continue key is not valid');
    offset = Number(match[1]);
  }
  const limit = limitText ? Number(limitText) : 0;
  const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
  const end = offset + page.length;
  const more = end < items.length;
  return {
    status: 200,
    body: {
      kind,
      apiVersion,
      metadata: {
        resourceVersion: rv,
        ...(more
          ? { continue: Buffer.from(`o:${end}`).toString('base64url'), remainingItemCount: items.length - end }
          : {}),
      },
      items: page,
    },
  };
}

function capacityOf(type: string): { cpu: string; memory: string; pods: string; cores: number; memKi: number } {
  // Graviton sizes (m6g.large, …) have the capacity of their Intel twins.
  switch (type.replace(/g\./, 'i.')) {
    case 'm6i.xlarge':
    case 'c6i.xlarge':
      return { cpu: '4', memory: '15896988Ki', pods: '58', cores: 4, memKi: 15896988 };
    case 'r6i.large':
      return { cpu: '2', memory: '16093524Ki', pods: '29', cores: 2, memKi: 16093524 };
    default:
      return { cpu: '2', memory: '7910400Ki', pods: '29', cores: 2, memKi: 7910400 };
  }
}

function renderNode(c: SimCluster, n: NodeView, now: number) {
  const type = n.kind === 'fargate' ? 'fargate' : instanceTypeOf(c, n.group, n.arch);
  const cap = capacityOf(type);
  const heartbeat = iso(now - (now % 40_000));
  const os = osOf(n);
  const taints = [
    ...(n.nodegroup?.taints ?? []).map((t) => ({
      key: t.key,
      ...(t.value !== undefined ? { value: t.value } : {}),
      effect: t.effect,
    })),
    ...(n.kind === 'fargate'
      ? [{ key: 'eks.amazonaws.com/compute-type', value: 'fargate', effect: 'NoSchedule' }]
      : []),
    ...(n.cordoned ? [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: iso(now) }] : []),
    ...(!n.ready ? [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] : []),
  ];
  const ip =
    n.name
      .replace(/^(fargate-)?ip-/, '')
      .split('.')[0]
      ?.replace(/-/g, '.') ?? '10.0.0.1';
  const goArch = n.arch === 'arm64' ? 'arm64' : 'amd64';
  // What EKS adds to the kubelet's own labels: managed node groups (userguide/managed-node-groups.html)
  // and Fargate (userguide/fargate-pod-configuration.html); a self-managed node has only the kubelet's.
  const eksLabels: Record<string, string> =
    n.kind === 'managed' && n.nodegroup
      ? {
          'eks.amazonaws.com/capacityType': 'ON_DEMAND',
          'eks.amazonaws.com/nodegroup': n.nodegroup.name,
          'eks.amazonaws.com/nodegroup-image': n.imageId,
          'eks.amazonaws.com/sourceLaunchTemplateId': n.nodegroup.launchTemplate.id,
          'eks.amazonaws.com/sourceLaunchTemplateVersion': n.launchTemplateVersion,
        }
      : n.kind === 'fargate'
        ? { 'eks.amazonaws.com/compute-type': 'fargate', 'eks.amazonaws.com/fargate-profile': n.group }
        : {};
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      uid: uuidOf(c.name, 'node', n.name, n.generation),
      resourceVersion: String(1000 + (hash32(n.name, n.generation, n.cordoned ? 1 : 0, n.ready ? 1 : 0) % 100000)),
      creationTimestamp: iso(n.createdAt),
      labels: {
        'beta.kubernetes.io/arch': goArch,
        'beta.kubernetes.io/instance-type': type,
        'beta.kubernetes.io/os': os.os,
        ...eksLabels,
        'failure-domain.beta.kubernetes.io/region': c.region,
        'failure-domain.beta.kubernetes.io/zone': n.zone,
        'k8s.io/cloud-provider-aws': hexOf(32, c.name, 'cloud-provider'),
        'kubernetes.io/arch': goArch,
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': os.os,
        'node.kubernetes.io/instance-type': type,
        ...(os.windowsBuild ? { 'node.kubernetes.io/windows-build': os.windowsBuild } : {}),
        'topology.kubernetes.io/region': c.region,
        'topology.kubernetes.io/zone': n.zone,
        ...(n.nodegroup?.labels ?? {}),
      },
      annotations: {
        'alpha.kubernetes.io/provided-node-ip': ip,
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      providerID:
        n.kind === 'fargate'
          ? `aws:///${n.zone}/${hexOf(10, n.name, 'fargate')}/${n.name}`
          : `aws:///${n.zone}/${n.instanceId}`,
      ...(n.cordoned ? { unschedulable: true } : {}),
      ...(taints.length > 0 ? { taints } : {}),
    },
    status: {
      capacity: {
        cpu: cap.cpu,
        'ephemeral-storage': '83873772Ki',
        'hugepages-2Mi': '0',
        memory: cap.memory,
        pods: cap.pods,
      },
      allocatable: {
        cpu: `${cap.cores * 1000 - 70}m`,
        'ephemeral-storage': '76224326324',
        'hugepages-2Mi': '0',
        memory: `${cap.memKi - 557000}Ki`,
        pods: cap.pods,
      },
      conditions: [
        ...['MemoryPressure', 'DiskPressure', 'PIDPressure'].map((type) => ({
          type,
          status: 'False',
          lastHeartbeatTime: heartbeat,
          lastTransitionTime: iso(n.createdAt),
          reason: `KubeletHas${type === 'PIDPressure' ? 'SufficientPID' : type === 'DiskPressure' ? 'NoDiskPressure' : 'SufficientMemory'}`,
          message: 'kubelet reports no pressure',
        })),
        {
          type: 'Ready',
          status: n.ready ? 'True' : 'False',
          lastHeartbeatTime: heartbeat,
          lastTransitionTime: iso(n.createdAt + (n.ready ? 60_000 : 0)),
          reason: n.ready ? 'KubeletReady' : 'KubeletNotReady',
          message: n.ready
            ? 'kubelet is posting ready status'
            : 'container runtime network not ready: cni plugin not initialized',
        },
      ],
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'InternalDNS', address: n.name },
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hexOf(32, n.instanceId, 'machine'),
        systemUUID: `ec2${hexOf(29, n.instanceId, 'uuid')}`,
        bootID: uuidOf(n.instanceId, 'boot'),
        kernelVersion: os.kernel,
        osImage: os.image,
        containerRuntimeVersion: 'containerd://1.7.25',
        kubeletVersion: n.kubeletVersion,
        kubeProxyVersion: n.kubeletVersion,
        operatingSystem: os.os,
        architecture: goArch,
      },
    },
  };
}

const WINDOWS_BUILDS: Record<string, string> = { '2019': '10.0.17763', '2022': '10.0.20348', '2025': '10.0.26100' };

/** The operating system a node reports (nodeInfo, kubernetes.io/os), per AMI family. */
function osOf(n: NodeView): { os: 'linux' | 'windows'; image: string; kernel: string; windowsBuild?: string } {
  const family = amiTypeInfo(n.amiType).family;
  const cpu = n.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const date = n.releaseVersion.split('-')[1] ?? '';
  if (family === 'windows') {
    const year = /_(\d{4})_/.exec(n.amiType)?.[1] ?? '2022';
    const build = WINDOWS_BUILDS[year] ?? '10.0.20348';
    return { os: 'windows', image: `Windows Server ${year} Datacenter`, kernel: `${build}.3207`, windowsBuild: build };
  }
  if (family === 'bottlerocket') {
    const os = n.releaseVersion.split('-')[0] ?? '';
    return { os: 'linux', image: `Bottlerocket OS ${os} (aws-k8s-${n.version})`, kernel: '6.1.128' };
  }
  if (family === 'al2') return { os: 'linux', image: 'Amazon Linux 2', kernel: `5.10.234-225.895.amzn2.${cpu}` };
  if (family === 'custom')
    return { os: 'linux', image: 'Amazon Linux 2023.6.20250115', kernel: `6.1.127-135.201.amzn2023.${cpu}` };
  return { os: 'linux', image: `Amazon Linux 2023.6.${date}`, kernel: `6.1.127-135.201.amzn2023.${cpu}` };
}

function renderPod(c: SimCluster, p: PodView, now: number) {
  const started = iso(p.createdAt + 5_000);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: uuidOf(c.name, 'pod', p.namespace, p.name),
      resourceVersion: String(2000 + (hash32(p.name) % 100000)),
      creationTimestamp: iso(p.createdAt),
      labels: p.labels,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: p.ownerKind,
          name: p.ownerName,
          uid: uuidOf(c.name, p.namespace, p.ownerName),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      nodeName: p.nodeName,
      containers: p.containers.map((name) => ({ name, image: `registry.example/${name}:stable` })),
      restartPolicy: 'Always',
      serviceAccountName: 'default',
    },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: iso(p.createdAt) },
        { type: 'Ready', status: p.crashLooping ? 'False' : 'True', lastTransitionTime: started },
        { type: 'ContainersReady', status: p.crashLooping ? 'False' : 'True', lastTransitionTime: started },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: iso(p.createdAt) },
      ],
      hostIP: p.nodeName.replace(/^ip-/, '').split('.')[0]?.replace(/-/g, '.'),
      podIP: p.ip,
      startTime: iso(p.createdAt),
      containerStatuses: p.containers.map((name, i) => {
        const crashing = p.crashLooping && i === 0;
        return {
          name,
          ready: !crashing,
          started: !crashing,
          restartCount: i === 0 ? p.restartCount : 0,
          image: `registry.example/${name}:stable`,
          imageID: `registry.example/${name}@sha256:${hexOf(64, name)}`,
          containerID: `containerd://${hexOf(64, c.name, p.name, name)}`,
          state: crashing
            ? {
                waiting: {
                  reason: 'CrashLoopBackOff',
                  message: `back-off 5m0s restarting failed container=${name} pod=${p.name}_${p.namespace}(${uuidOf(c.name, 'pod', p.namespace, p.name)})`,
                },
              }
            : { running: { startedAt: started } },
          ...(crashing
            ? {
                lastState: {
                  terminated: {
                    exitCode: 1,
                    reason: 'Error',
                    startedAt: iso(now - 90_000),
                    finishedAt: iso(now - 60_000),
                  },
                },
              }
            : {}),
        };
      }),
    },
  };
}

function podFields(p: PodView): Record<string, string> {
  return {
    'metadata.name': p.name,
    'metadata.namespace': p.namespace,
    'spec.nodeName': p.nodeName,
    'status.phase': 'Running',
    'spec.restartPolicy': 'Always',
    'spec.schedulerName': 'default-scheduler',
    'spec.serviceAccountName': 'default',
    'status.podIP': p.ip,
  };
}

const POD_FIELDS = Object.keys(podFields({ name: '', namespace: '', nodeName: '', ip: '' } as PodView));
const NODE_FIELDS = ['metadata.name', 'spec.unschedulable'];

/** The health endpoints EKS serves without a token. */
const ANONYMOUS_PATHS = new Set(['healthz', 'livez', 'readyz']);

function versionOf(c: SimCluster) {
  const patch = CONTROL_PLANE_PATCH[c.version] ?? `${c.version}.0`;
  const [major, minor] = c.version.split('.');
  return {
    major,
    minor: `${minor}+`,
    gitVersion: `v${patch}-eks-${hexOf(7, 'apiserver', patch)}`,
    gitCommit: hexOf(40, 'commit', patch),
    gitTreeState: 'clean',
    buildDate: '2025-01-24T04:21:05Z',
    goVersion: 'go1.23.5',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/**
 * `/version` without a token: the default RBAC role system:public-info-viewer grants it to
 * system:unauthenticated, but "Starting with Amazon EKS 1.32, anonymous authentication is
 * restricted to the following API server health check endpoints: /healthz, /livez, /readyz"
 * (userguide/kubernetes-versions-standard.html, Kubernetes 1.32, "Anonymous authentication changes").
 */
function versionIsAnonymous(c: SimCluster): boolean {
  const [major, minor] = c.version.split('.').map(Number) as [number, number];
  return major === 1 && minor < 32;
}

/**
 * Answers one Kubernetes API call to the cluster's endpoint. Health endpoints (and `/version`
 * before 1.32) need no token; everything else needs an EKS bearer token. A GET answers a
 * `meta.k8s.io/v1` Table when the Accept header asks for one; errors are `Status` objects.
 */
export function handleKubernetes(fleet: SimFleet, c: SimCluster, req: K8sRequest): K8sResponse | K8sWatch {
  const { method, query } = req;
  const s = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const path = s.join('/');
  if (ANONYMOUS_PATHS.has(path) && method === 'GET') return { status: 200, body: 'ok' };
  const anonymousVersion = path === 'version' && method === 'GET' && versionIsAnonymous(c);
  if (!anonymousVersion && rejectToken(req.authorization)) return status(401, 'Unauthorized', 'Unauthorized');
  // No access entry: the token is valid but maps to no Kubernetes identity (k8s-access.ts).
  if (!anonymousVersion && c.accessPolicy === 'none') return status(401, 'Unauthorized', 'Unauthorized');
  if (path === 'apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
    if (method !== 'POST') return notAllowed(method, req.path);
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return status(400, 'BadRequest', 'the request body is not JSON');
    }
    return selfSubjectAccessReview(c.accessPolicy, body) as K8sResponse;
  }
  const attrs = requestAttributes(method, s, query);
  // Every authenticated user may review itself (system:basic-user); everything else is the policy's.
  if (
    attrs &&
    attrs.group !== 'authentication.k8s.io' &&
    attrs.group !== 'authorization.k8s.io' &&
    !policyAllows(c.accessPolicy, attrs)
  ) {
    return status(403, 'Forbidden', forbiddenMessage(userOf(c, req.authorization), attrs));
  }
  if (path === 'version') {
    return method === 'GET' ? { status: 200, body: versionOf(c) } : notAllowed(method, req.path);
  }
  const doc = discovery(s, req.serverAddress, nodePoolGroups(c.nodePools?.mode));
  if (doc !== undefined) return method === 'GET' ? { status: 200, body: doc } : notAllowed(method, req.path);

  fleet.settle(c);
  const now = fleet.now();
  if (method === 'GET') {
    if (query.get('watch') === '1' || query.get('watch') === 'true') return watchRequest(c, fleet, s, req);
    const answer = read(c, now, s, query);
    if (answer.status !== 200 || !wantsTable(req.accept)) return answer;
    return { status: 200, body: asTable(answer.body, now) };
  }
  return write(c, now, s, req);
}

function notAllowed(method: string, path: string): K8sResponse {
  return status(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method} ${path})`,
  );
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered API objects, read by field name */
function asTable(body: any, now: number): unknown {
  if (typeof body.kind === 'string' && body.kind.endsWith('List') && Array.isArray(body.items)) {
    return toTable(body.kind.slice(0, -'List'.length), body.items, now, body.metadata);
  }
  return toTable(body.kind, [body], now, { resourceVersion: body.metadata?.resourceVersion });
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** GET of a served resource. */
function read(c: SimCluster, now: number, s: string[], query: URLSearchParams): K8sResponse {
  const rv = String(Math.floor(now / 1000));
  const nodeList = () => clusterNodes(c, now);
  if (s[0] === 'api' && s[1] === 'v1' && s[2] === 'nodes') {
    const nodes = nodeList();
    if (s.length === 4) {
      const n = nodes.find((x) => x.name === s[3]);
      const claimed = n ? undefined : nodeClaimNodes(c, now).find((x) => x.metadata.name === s[3]);
      if (claimed) return { status: 200, body: claimed };
      return n ? { status: 200, body: renderNode(c, n, now) } : status(404, 'NotFound', `nodes "${s[3]}" not found`);
    }
    if (s.length === 3) {
      const labels = parseLabelSelector(query.get('labelSelector'));
      if (typeof labels === 'string') return status(400, 'BadRequest', labels);
      const fields = parseFieldSelector(query.get('fieldSelector'), NODE_FIELDS);
      if (typeof fields === 'string') return status(400, 'BadRequest', fields);
      const items = [...nodes.map((n) => renderNode(c, n, now)), ...nodeClaimNodes(c, now)].filter(
        (n) =>
          labels(n.metadata.labels) &&
          fields({ 'metadata.name': n.metadata.name, 'spec.unschedulable': String(n.spec.unschedulable === true) }),
      );
      return listResponse('NodeList', 'v1', items, query, rv);
    }
  }

  const karpenter = readNodePools(c, now, s);
  if (karpenter) return karpenter;

  const podsPath =
    s[0] === 'api' && s[1] === 'v1'
      ? s[2] === 'pods' && s.length === 3
        ? { namespace: undefined, name: undefined }
        : s[2] === 'namespaces' && s[4] === 'pods' && (s.length === 5 || s.length === 6)
          ? { namespace: s[3], name: s[5] }
          : undefined
      : undefined;
  if (podsPath) {
    const pods = clusterPods(c, nodeList(), now).filter(
      (p) => podsPath.namespace === undefined || p.namespace === podsPath.namespace,
    );
    if (podsPath.name !== undefined) {
      const p = pods.find((x) => x.name === podsPath.name);
      return p
        ? { status: 200, body: renderPod(c, p, now) }
        : status(404, 'NotFound', `pods "${podsPath.name}" not found`);
    }
    const labels = parseLabelSelector(query.get('labelSelector'));
    if (typeof labels === 'string') return status(400, 'BadRequest', labels);
    const fields = parseFieldSelector(query.get('fieldSelector'), POD_FIELDS);
    if (typeof fields === 'string') return status(400, 'BadRequest', fields);
    const items = pods.filter((p) => labels(p.labels) && fields(podFields(p))).map((p) => renderPod(c, p, now));
    return listResponse('PodList', 'v1', items, query, rv);
  }

  if (s[0] === 'api' && s[1] === 'v1') {
    const secrets = namespacedRead(
      s,
      2,
      'secrets',
      '',
      'Secret',
      'v1',
      () => clusterSecrets(c).map(renderSecret),
      query,
      rv,
    );
    if (secrets) return secrets;
  }

  if (s[0] === 'api' && s[1] === 'v1' && s[2] === 'namespaces' && s.length <= 4) {
    const names = [
      ...new Set([
        'default',
        'kube-system',
        'kube-public',
        'kube-node-lease',
        ...c.pdbs.map((p) => p.namespace),
        ...clusterSecrets(c).map((x) => x.namespace),
      ]),
    ];
    const render = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        uid: uuidOf(c.name, 'ns', name),
        creationTimestamp: iso(c.createdAt),
        labels: { 'kubernetes.io/metadata.name': name },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
    if (s.length === 4) {
      return names.includes(s[3] as string)
        ? { status: 200, body: render(s[3] as string) }
        : status(404, 'NotFound', `namespaces "${s[3]}" not found`);
    }
    return listResponse('NamespaceList', 'v1', names.map(render), query, rv);
  }

  const pdbPath =
    s[0] === 'apis' && s[1] === 'policy' && s[2] === 'v1'
      ? s[3] === 'poddisruptionbudgets' && s.length === 4
        ? { namespace: undefined, name: undefined }
        : s[3] === 'namespaces' && s[5] === 'poddisruptionbudgets' && (s.length === 6 || s.length === 7)
          ? { namespace: s[4], name: s[6] }
          : undefined
      : undefined;
  if (pdbPath) {
    const items = clusterPdbs(c)
      .filter((p) => pdbPath.namespace === undefined || p.namespace === pdbPath.namespace)
      .filter((p) => pdbPath.name === undefined || p.name === pdbPath.name)
      .map((p) => ({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: {
          name: p.name,
          namespace: p.namespace,
          uid: uuidOf(c.name, 'pdb', p.namespace, p.name),
          resourceVersion: String(3000 + (hash32(p.name) % 100000)),
          creationTimestamp: iso(p.createdAt),
          generation: 1,
        },
        spec: { maxUnavailable: p.maxUnavailable, selector: { matchLabels: { app: p.name } } },
        status: {
          observedGeneration: 1,
          currentHealthy: p.currentHealthy,
          desiredHealthy: p.desiredHealthy,
          disruptionsAllowed: p.disruptionsAllowed,
          expectedPods: p.expectedPods,
          conditions: [
            {
              type: 'DisruptionAllowed',
              status: p.disruptionsAllowed > 0 ? 'True' : 'False',
              reason: p.disruptionsAllowed > 0 ? 'SufficientPods' : 'InsufficientPods',
              message: '',
              observedGeneration: 1,
              lastTransitionTime: iso(p.createdAt),
            },
          ],
        },
      }));
    if (pdbPath.name !== undefined) {
      return items[0]
        ? { status: 200, body: items[0] }
        : status(404, 'NotFound', `poddisruptionbudgets.policy "${pdbPath.name}" not found`);
    }
    return listResponse('PodDisruptionBudgetList', 'policy/v1', items, query, rv);
  }

  if (s[0] === 'apis' && s[1] === 'metrics.k8s.io' && s[2] === 'v1beta1' && s[3] === 'nodes') {
    const bucket = Math.floor(now / 60_000);
    const items = nodeList()
      .filter((n) => n.ready)
      .map((n) => {
        const cap = capacityOf(n.kind === 'fargate' ? 'fargate' : instanceTypeOf(c, n.group, n.arch));
        const cpuShare = 0.1 + 0.5 * unit(n.name, bucket, 'cpu');
        const memShare = 0.3 + 0.4 * unit(n.name, bucket, 'mem');
        return {
          metadata: {
            name: n.name,
            creationTimestamp: iso(now),
            labels: {
              ...(n.nodegroup ? { 'eks.amazonaws.com/nodegroup': n.nodegroup.name } : {}),
              'kubernetes.io/hostname': n.name,
            },
          },
          timestamp: iso(now - 10_000),
          window: '10.062s',
          usage: { cpu: `${Math.floor(cpuShare * cap.cores * 1e9)}n`, memory: `${Math.floor(memShare * cap.memKi)}Ki` },
        };
      });
    if (s.length === 5) {
      const m = items.find((x) => x.metadata.name === s[4]);
      return m
        ? { status: 200, body: { kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...m } }
        : status(404, 'NotFound', `nodes.metrics.k8s.io "${s[4]}" not found`);
    }
    if (s.length === 4) return listResponse('NodeMetricsList', 'metrics.k8s.io/v1beta1', items, query, rv);
  }

  if (s[0] === 'apis' && s[1] === 'apps' && s[2] === 'v1') {
    for (const [resource, kind, objects] of [
      [
        'deployments',
        'Deployment',
        () => [
          ...deployments(c, clusterPods(c, nodeList(), now)).map((d) => decorateFargateDeployment(c, d, now)),
          ...karpenterDeployments(c),
        ],
      ],
      // The simulated workloads have no StatefulSet; the resource is served, its list is empty.
      ['statefulsets', 'StatefulSet', () => []],
    ] as const) {
      const answer = namespacedRead(s, 3, resource, 'apps', kind, 'apps/v1', objects, query, rv);
      if (answer) return answer;
    }
  }

  if (s[0] === 'apis' && s[1] === 'coordination.k8s.io' && s[2] === 'v1') {
    const answer = namespacedRead(
      s,
      3,
      'leases',
      'coordination.k8s.io',
      'Lease',
      'coordination.k8s.io/v1',
      () => nodeLeases(c, nodeList(), now),
      query,
      rv,
    );
    if (answer) return answer;
  }

  if (s[0] === 'apis' && s[1] === 'apps' && s[2] === 'v1') {
    const dsPath =
      s[3] === 'daemonsets' && s.length === 4
        ? { namespace: undefined, name: undefined }
        : s[3] === 'namespaces' && s[5] === 'daemonsets' && (s.length === 6 || s.length === 7)
          ? { namespace: s[4], name: s[6] }
          : undefined;
    if (dsPath) {
      const items = daemonSets(c, nodeList())
        .filter((d) => dsPath.namespace === undefined || d.metadata.namespace === dsPath.namespace)
        .filter((d) => dsPath.name === undefined || d.metadata.name === dsPath.name);
      if (dsPath.name !== undefined) {
        return items[0]
          ? { status: 200, body: items[0] }
          : status(404, 'NotFound', `daemonsets.apps "${dsPath.name}" not found`);
      }
      return listResponse('DaemonSetList', 'apps/v1', items, query, rv);
    }
  }

  return status(404, 'NotFound', 'the server could not find the requested resource');
}

/**
 * The 404 of a GET by name, as the API server writes it: the message names the resource (with its
 * group outside the core group) and the object, and `details` repeat them — the example of
 * "Response Status Kind" in the Kubernetes API conventions
 * (https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#response-status-kind).
 */
function notFound(resource: string, group: string, name: string): K8sResponse {
  const answer = status(404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${name}" not found`);
  (answer.body as Record<string, unknown>).details = { name, ...(group ? { group } : {}), kind: resource };
  return answer;
}

/**
 * A core/v1 Secret as GET returns it: `data` base64 (https://kubernetes.io/docs/concepts/configuration/secret/);
 * `stringData` is write-only, so it never appears here.
 */
function renderSecret(x: ReturnType<typeof clusterSecrets>[number]) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: x.name,
      namespace: x.namespace,
      uid: x.uid,
      resourceVersion: String(x.resourceVersion),
      creationTimestamp: iso(x.createdAt),
    },
    type: x.type,
    data: { ...x.data },
  };
}

/**
 * GET of a namespaced resource at `s[from]`: the list across namespaces (`<resource>`), in one
 * namespace (`namespaces/<ns>/<resource>`), or one object (`.../<resource>/<name>`); undefined
 * when the path is not this resource.
 */
function namespacedRead(
  s: string[],
  from: number,
  resource: string,
  group: string,
  kind: string,
  apiVersion: string,
  objects: () => readonly { metadata: { name: string; namespace: string } }[],
  query: URLSearchParams,
  rv: string,
): K8sResponse | undefined {
  const rest = s.slice(from);
  const path =
    rest[0] === resource && rest.length === 1
      ? { namespace: undefined, name: undefined }
      : rest[0] === 'namespaces' && rest[2] === resource && (rest.length === 3 || rest.length === 4)
        ? { namespace: rest[1], name: rest[3] }
        : undefined;
  if (!path) return undefined;
  const items = objects()
    .filter((o) => path.namespace === undefined || o.metadata.namespace === path.namespace)
    .filter((o) => path.name === undefined || o.metadata.name === path.name);
  if (path.name !== undefined) {
    return items[0] ? { status: 200, body: items[0] } : notFound(resource, group, path.name);
  }
  return listResponse(`${kind}List`, apiVersion, [...items], query, rv);
}

/**
 * The Deployments behind the ReplicaSet pods workloads.ts places (coredns, the applications,
 * one replica per node group for each PodDisruptionBudget's workload): one per owner, its
 * replicas the pods there are now, ready those on a Ready node and not crash-looping.
 */
function deployments(c: SimCluster, pods: readonly PodView[]) {
  const byOwner = new Map<string, { namespace: string; name: string; pods: PodView[] }>();
  for (const p of pods) {
    if (p.ownerKind !== 'ReplicaSet') continue;
    const name = p.ownerName.slice(0, p.ownerName.lastIndexOf('-'));
    const key = `${p.namespace}/${name}`;
    const entry = byOwner.get(key) ?? { namespace: p.namespace, name, pods: [] };
    entry.pods.push(p);
    byOwner.set(key, entry);
  }
  return [...byOwner.values()].map(({ namespace, name, pods: owned }) => {
    const ready = owned.filter((p) => !p.crashLooping).length;
    const labels = owned[0]?.labels ?? {};
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace,
        uid: uuidOf(c.name, 'deployment', namespace, name),
        resourceVersion: String(5000 + (hash32(c.name, namespace, name, owned.length, ready) % 100000)),
        creationTimestamp: iso(c.createdAt),
        generation: 1,
        labels,
      },
      spec: {
        replicas: owned.length,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: (owned[0]?.containers ?? []).map((n) => ({ name: n })) },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      },
      status: {
        observedGeneration: 1,
        replicas: owned.length,
        updatedReplicas: owned.length,
        readyReplicas: ready,
        availableReplicas: ready,
        ...(owned.length > ready ? { unavailableReplicas: owned.length - ready } : {}),
      },
    };
  });
}

/**
 * Node heartbeats as the kubelet writes them: one Lease per node in kube-node-lease, renewed
 * every 10 s while the node is Ready (Kubernetes "Leases", node heartbeats: lease duration 40 s).
 */
function nodeLeases(c: SimCluster, nodes: readonly NodeView[], now: number) {
  return nodes.map((n) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: n.name,
      namespace: 'kube-node-lease',
      uid: uuidOf(c.name, 'kube-node-lease', n.name),
      resourceVersion: String(Math.floor(now / 10_000)),
      creationTimestamp: iso(n.createdAt),
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Node', name: n.name, uid: uuidOf(c.name, 'node', n.name, n.generation) },
      ],
    },
    spec: {
      holderIdentity: n.name,
      leaseDurationSeconds: 40,
      renewTime: iso(n.ready ? now - (now % 10_000) : n.createdAt),
    },
  }));
}

/** The DaemonSets whose pods workloads.ts places on every node, in kube-system. */
function daemonSets(c: SimCluster, nodes: readonly NodeView[]) {
  const names = ['aws-node', 'kube-proxy', ...(c.addonByName.has('aws-ebs-csi-driver') ? ['ebs-csi-node'] : [])];
  const ready = nodes.filter((n) => n.ready).length;
  return names.map((name) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name,
      namespace: 'kube-system',
      uid: uuidOf(c.name, 'kube-system', name),
      resourceVersion: String(4000 + (hash32(c.name, name, nodes.length, ready) % 100000)),
      creationTimestamp: iso(c.createdAt),
      generation: 1,
    },
    spec: {
      selector: { matchLabels: { 'k8s-app': name } },
      template: { metadata: { labels: { 'k8s-app': name } }, spec: { nodeSelector: { 'kubernetes.io/os': 'linux' } } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%', maxSurge: 0 } },
    },
    status: {
      currentNumberScheduled: nodes.length,
      desiredNumberScheduled: nodes.length,
      numberMisscheduled: 0,
      numberReady: ready,
      numberAvailable: ready,
      updatedNumberScheduled: nodes.length,
      observedGeneration: 1,
    },
  }));
}

function parseBody(text: string): unknown {
  try {
    return text.trim() ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `spec.unschedulable` a node patch sets (null lifts it), or an error. Merge and
 * strategic-merge patches (`{"spec":{"unschedulable":true}}`, kubectl cordon; `null` or `false`,
 * uncordon) and JSON patches on `/spec/unschedulable`; the simulator changes no other field.
 */
function unschedulableFrom(contentType: string | undefined, body: unknown): boolean | K8sResponse {
  const type = (contentType ?? '').split(';')[0]?.trim();
  const onlyUnschedulable = status(
    422,
    'Invalid',
    'the simulator patches only spec.unschedulable of a node (kubectl cordon / uncordon)',
  );
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
    if (!isObject(body)) return status(400, 'BadRequest', 'the patch is not a JSON object');
    const { spec, ...rest } = body;
    const others = Object.keys(rest).filter((k) => k !== 'metadata' || Object.keys(rest.metadata ?? {}).length > 0);
    if (others.length > 0 || !isObject(spec)) return onlyUnschedulable;
    const { unschedulable, ...otherSpec } = spec;
    if (Object.keys(otherSpec).length > 0 || !('unschedulable' in spec)) return onlyUnschedulable;
    return unschedulable === true;
  }
  if (type === 'application/json-patch+json') {
    if (!Array.isArray(body)) return status(400, 'BadRequest', 'a JSON patch is an array of operations');
    let value: boolean | undefined;
    for (const op of body as unknown[]) {
      if (!isObject(op) || op.path !== '/spec/unschedulable') return onlyUnschedulable;
      if (op.op === 'remove') value = false;
      else if (op.op === 'add' || op.op === 'replace') value = op.value === true;
      else if (op.op !== 'test') return onlyUnschedulable;
    }
    return value ?? onlyUnschedulable;
  }
  return status(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
  );
}

/** PATCH of a node (cordon), DELETE of a pod, POST of an eviction or a SelfSubjectReview. */
function write(c: SimCluster, now: number, s: string[], req: K8sRequest): K8sResponse {
  const { method } = req;
  const body = parseBody(req.body);
  const dryRun =
    req.query.getAll('dryRun').includes('All') ||
    (isObject(body) && isObject(body.deleteOptions) && Array.isArray(body.deleteOptions.dryRun)
      ? body.deleteOptions.dryRun.includes('All')
      : false);

  const karpenter = writeNodePools(c, now, s, { method, contentType: req.contentType, body: req.body, dryRun });
  if (karpenter) return karpenter;

  if (s[0] === 'api' && s[1] === 'v1' && s[2] === 'nodes' && s.length === 4) {
    if (method !== 'PATCH') return notAllowed(method, req.path);
    const node = clusterNodes(c, now).find((n) => n.name === s[3]);
    if (!node) return status(404, 'NotFound', `nodes "${s[3]}" not found`);
    const unschedulable = unschedulableFrom(req.contentType, body);
    if (typeof unschedulable !== 'boolean') return unschedulable;
    if (!dryRun) setCordon(c, node.name, unschedulable);
    return { status: 200, body: renderNode(c, { ...node, cordoned: unschedulable }, now) };
  }

  const podPath = s[0] === 'api' && s[1] === 'v1' && s[2] === 'namespaces' && s[4] === 'pods' && s.length >= 6;
  if (podPath && (s.length === 6 || (s.length === 7 && s[6] === 'eviction'))) {
    const eviction = s.length === 7;
    if (eviction ? method !== 'POST' : method !== 'DELETE') return notAllowed(method, req.path);
    const nodes = clusterNodes(c, now);
    const pod = clusterPods(c, nodes, now).find((p) => p.namespace === s[3] && p.name === s[5]);
    if (!pod) return status(404, 'NotFound', `pods "${s[5]}" not found`);
    if (eviction) {
      const pdb = evictionBlockedBy(c, pod);
      if (pdb) {
        // kubernetes pkg/registry/core/pod/storage/eviction.go: NewTooManyRequests and a
        // DisruptionBudget cause naming the budget's desired and current healthy pods.
        return {
          status: 429,
          body: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: "Cannot evict pod as it would violate the pod's disruption budget.",
            reason: 'TooManyRequests',
            details: {
              causes: [
                {
                  reason: 'DisruptionBudget',
                  message: `The disruption budget ${pdb.name} needs ${pdb.desiredHealthy} healthy pods and has ${pdb.currentHealthy} currently`,
                },
              ],
            },
            code: 429,
          },
        };
      }
    }
    if (!dryRun) deletePod(c, pod);
    return eviction
      ? { status: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } }
      : { status: 200, body: renderPod(c, pod, now) };
  }

  const deployment = patchDeployment(
    c,
    now,
    s,
    { method, contentType: req.contentType, body, dryRun },
    (namespace, name) => {
      const found = read(
        c,
        now,
        ['apis', 'apps', 'v1', 'namespaces', namespace, 'deployments', name],
        new URLSearchParams(),
      );
      return found.status === 200 ? found.body : undefined;
    },
  );
  if (deployment) {
    if (deployment.status === 200 && !dryRun) noteChange(c);
    return deployment;
  }

  if (s.join('/') === 'apis/authentication.k8s.io/v1/selfsubjectreviews') {
    if (method !== 'POST') return notAllowed(method, req.path);
    const caller = callerOf(req.authorization);
    return {
      status: 201,
      body: {
        kind: 'SelfSubjectReview',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        status: {
          userInfo: {
            username: userOf(c, req.authorization),
            uid: `aws-iam-authenticator:${c.account}:${caller}`,
            groups: ['system:authenticated'],
            extra: {
              accessKeyId: [caller],
              arn: [`arn:aws:sts::${c.account}:assumed-role/fleetwave-simulator/${caller}`],
            },
          },
        },
      },
    };
  }

  if (read(c, now, s, new URLSearchParams()).status === 200) return notAllowed(method, req.path);
  return status(404, 'NotFound', 'the server could not find the requested resource');
}

/** The access key that signed the token (the simulator's stand-in for the caller's identity). */
function callerOf(authorization: string | undefined): string {
  try {
    const url = new URL(Buffer.from((authorization ?? '').slice('Bearer k8s-aws-v1.'.length), 'base64url').toString());
    return (url.searchParams.get('X-Amz-Credential') ?? 'unknown').split('/')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const WATCH_TICK_MS = 1_000;
const BOOKMARK_EVERY_TICKS = 10;

/**
 * `watch=1` on nodes: ADDED for every node first unless the client names a resourceVersion to
 * start from (it has just listed), then ADDED / MODIFIED / DELETED as nodes change, whether a
 * client cordoned one (at once) or a node-group update moved on (looked at every second), and a
 * BOOKMARK every ten seconds when `allowWatchBookmarks=true`. Events carry Tables when the
 * Accept header asks for them, as kubectl get -w does. Other resources are not watchable here.
 */
function watchRequest(c: SimCluster, fleet: SimFleet, s: string[], req: K8sRequest): K8sResponse | K8sWatch {
  if (!(s[0] === 'api' && s[1] === 'v1' && s[2] === 'nodes' && s.length === 3)) {
    return status(405, 'MethodNotAllowed', 'the simulator serves watch on nodes only');
  }
  const labels = parseLabelSelector(req.query.get('labelSelector'));
  if (typeof labels === 'string') return status(400, 'BadRequest', labels);
  const fields = parseFieldSelector(req.query.get('fieldSelector'), NODE_FIELDS);
  if (typeof fields === 'string') return status(400, 'BadRequest', fields);
  const table = wantsTable(req.accept);
  const from = req.query.get('resourceVersion');
  const bookmarks = req.query.get('allowWatchBookmarks') === 'true';
  const timeoutSeconds = Number(req.query.get('timeoutSeconds') ?? '0');
  return {
    status: 200,
    watch: (send, end) => {
      const state = kubernetesState(c);
      let events = 0;
      const seen = new Map<string, string>();
      const snapshot = () => {
        fleet.settle(c);
        const now = fleet.now();
        const nodes = clusterNodes(c, now)
          .map((n) => renderNode(c, n, now))
          .filter(
            (n) =>
              labels(n.metadata.labels) &&
              fields({ 'metadata.name': n.metadata.name, 'spec.unschedulable': String(n.spec.unschedulable === true) }),
          );
        return { now, nodes };
      };
      const digest = (n: ReturnType<typeof renderNode>) =>
        JSON.stringify([
          n.spec.unschedulable === true,
          n.status.conditions.map((x) => x.status),
          n.status.nodeInfo.kubeletVersion,
          n.metadata.labels,
        ]);
      const revision = (now: number) => String(Math.floor(now / 1000) * 1000 + (++events % 1000));
      const emit = (type: string, n: ReturnType<typeof renderNode>, now: number) => {
        n.metadata.resourceVersion = revision(now);
        send({ type, object: table ? toTable('Node', [n], now, { resourceVersion: n.metadata.resourceVersion }) : n });
      };
      const look = () => {
        const { now, nodes } = snapshot();
        const names = new Set<string>();
        for (const n of nodes) {
          names.add(n.metadata.name);
          const d = digest(n);
          const before = seen.get(n.metadata.name);
          if (before === d) continue;
          seen.set(n.metadata.name, d);
          emit(before === undefined ? 'ADDED' : 'MODIFIED', n, now);
        }
        for (const [name] of seen) {
          if (names.has(name)) continue;
          seen.delete(name);
          const gone = { apiVersion: 'v1', kind: 'Node', metadata: { name, resourceVersion: revision(now) } };
          send({ type: 'DELETED', object: table ? toTable('Node', [gone], now, {}) : gone });
        }
      };
      if (from && from !== '0') {
        for (const n of snapshot().nodes) seen.set(n.metadata.name, digest(n));
      }
      look();
      let ticks = 0;
      const timer = setInterval(() => {
        look();
        if (bookmarks && ++ticks % BOOKMARK_EVERY_TICKS === 0) {
          send({
            type: 'BOOKMARK',
            object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: revision(fleet.now()) } },
          });
        }
      }, WATCH_TICK_MS);
      timer.unref();
      state.listeners.add(look);
      const stop = () => {
        clearInterval(timer);
        state.listeners.delete(look);
      };
      if (timeoutSeconds > 0) {
        setTimeout(() => {
          stop();
          end();
        }, timeoutSeconds * 1000).unref();
      }
      return stop;
    },
  };
}
