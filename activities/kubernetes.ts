/**
 * Kubernetes-native checks, authenticated with an EKS token made in-process (eks-token.ts) inside
 * a KubeConfig held in memory only.
 *
 * - captureKubernetesBaseline: pods crash-looping now and PDBs that allow no disruption (preflight
 *   captures the same baseline in its own call, see eks/preflight.ts).
 * - nodeModels (for preflight): custom NodePools and their NodeClaims, the Karpenter controller's
 *   version, and the nodes of self-managed groups and Fargate, from the node labels.
 * - reviewAccess (for preflight): SelfSubjectAccessReviews of the permissions the plan will use.
 * - checkKubernetesHealth: all nodes Ready, kubelets of each node group at the expected
 *   minor, no crash-looping workload that was not crash-looping in the baseline.
 * An unreachable API server fails the activity (retryable); it never yields "healthy".
 *
 * The reads are plain GETs of the list endpoints, parsed as JSON: @kubernetes/client-node's typed
 * clients run every item of a list through their model serializer and open a new connection per
 * request, which made the pod lists most of a health check's CPU. Connections are kept alive by
 * one agent (pooled per host and TLS options) that also keeps a TLS session per cluster for
 * resumption, and each KubeConfig's TLS context is built once, not per connection. A cluster's
 * endpoint and KubeConfig are reused for a few minutes ({@link SESSION_REUSE_MS}), so checks in a
 * row cost no DescribeCluster and no new token; any failure drops them.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { accessReviewBody, describeNeed, type KubernetesNeed } from '../domain/access';
import { detectOwner, type Ownership } from '../domain/ownership';
import { compareMinor, toMinor } from '../domain/versions';
import type { AmiSelectorTerm, NodeClassState } from '../domain/karpenter';
import {
  stuckPendingPods,
  workloadBaseline,
  workloadFailures,
  workloadShortfalls,
  type PodObject,
  type WorkloadObject,
} from '../domain/workload-health';
import { activityRuntime } from './context';
import type { ClusterAccess, ResolvedDeps } from './deps';
import { clusterAccess, describeClusterRaw } from './eks/read';
import { ExtraFailureTypes, toKubernetesFailure } from './failures';
import type {
  ClusterRef,
  KubernetesBaseline,
  KubernetesBaselineInput,
  KubernetesHealthInput,
  KubernetesHealthResult,
} from './types';

const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';
const PAGE_SIZE = 500;
const CALL_TIMEOUT_MS = 30_000;
/** Names listed in one failure message; the rest are counted, to keep workflow history small. */
const MAX_NAMES = 10;
/**
 * How long a cluster's endpoint and KubeConfig (its EKS token) are reused. EKS accepts a token for
 * 15 minutes, and the credentials that signed it had at least 5 minutes left (aws.ts refreshes them
 * 5 minutes before they expire), so a token younger than 4 minutes is always still good.
 */
export const SESSION_REUSE_MS = 4 * 60_000;
/** Sessions kept at most (the oldest goes first): one per cluster being checked. */
const MAX_SESSIONS = 1_000;

/**
 * The agent of every direct (unproxied) HTTPS read: Node's global agent's settings, with a TLS
 * session kept for each of as many clusters as there are sessions, and at most two connections to
 * one endpoint. Each cluster has an endpoint of its own and its API server closes idle connections
 * within seconds, so most reads open a new connection, and the handshake was most of a read's
 * CPU: preflight's four reads side by side now share two connections, and the global agent's 100
 * TLS sessions ran out at a few hundred clusters in flight (bench/README.md, "A lean worker").
 */
const agent = new https.Agent({
  keepAlive: true,
  scheduling: 'lifo',
  timeout: 5_000,
  maxSockets: 2,
  maxCachedSessions: MAX_SESSIONS,
});

/**
 * The TLS context of a KubeConfig's CA and client certificate, built once per KubeConfig: Node
 * builds one per connection otherwise (parsing the CA each time), most of a new connection's CPU.
 * Keyed by the material itself, so a KubeConfig whose CA changed gets a new context.
 */
const secureContexts = new WeakMap<KubeConfig, { material: Buffer[]; context: tls.SecureContext }>();

function secureContextOf(kc: KubeConfig, opts: https.RequestOptions): tls.SecureContext {
  const material = [opts.ca, opts.cert, opts.key].map((v) => (v === undefined ? Buffer.alloc(0) : asBuffer(v)));
  const known = secureContexts.get(kc);
  if (known && known.material.every((m, i) => m.equals(material[i] as Buffer))) return known.context;
  const context = tls.createSecureContext({
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
  });
  secureContexts.set(kc, { material, context });
  return context;
}

function asBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return Buffer.concat(v.map(asBuffer));
  return Buffer.from(String(v));
}

/** The fields of the API objects these checks read, as the API server writes them (JSON). */
interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: { manager?: string }[];
  ownerReferences?: { controller?: boolean; kind?: string; name?: string }[];
}
interface ContainerStatus {
  state?: { waiting?: { reason?: string } };
}
interface Pod {
  metadata?: ObjectMeta;
  status?: { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}
interface Node {
  metadata?: ObjectMeta;
  status?: { conditions?: { type?: string; status?: string }[]; nodeInfo?: { kubeletVersion?: string } };
}
interface PodDisruptionBudget {
  metadata?: ObjectMeta;
  status?: { disruptionsAllowed?: number; expectedPods?: number };
}
interface List<T> {
  items?: T[];
  metadata?: { continue?: string };
}

function withTimeout<T>(what: string, promise: Promise<T>, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One call under a timeout (the request is abandoned when it passes), its failure classified. */
async function call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abandon = new AbortController();
  try {
    return await withTimeout(what, fn(abandon.signal));
  } catch (err) {
    abandon.abort();
    throw toKubernetesFailure(err, what);
  }
}

/**
 * GET `path` on the cluster's API server as JSON. An HTTP error rejects with `code` set to the
 * status (as client-node's ApiException has it), so toKubernetesFailure classifies both alike.
 */
export function getJson<T>(kc: KubeConfig, path: string, signal: AbortSignal): Promise<T> {
  return requestJson<T>(kc, path, signal);
}

/** GET `path`, or POST `body` to it when one is given, on the cluster's API server, answered as JSON. */
async function requestJson<T>(kc: KubeConfig, path: string, signal: AbortSignal, body?: unknown): Promise<T> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the KubeConfig names no cluster server');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(`${server.replace(/\/+$/, '')}${path}`);
  const secure = url.protocol === 'https:';
  // KubeConfig makes a new agent per request; ours keeps connections and TLS sessions. A proxy
  // needs the agent KubeConfig made for it. The `ca` stays in the options: the agent pools
  // connections by it.
  if (!kc.getCurrentCluster()?.proxyUrl) {
    delete opts.agent;
    if (secure) {
      opts.agent = agent;
      (opts as tls.ConnectionOptions).secureContext = secureContextOf(kc, opts);
    }
  }
  const request = secure ? https.request : http.request;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    ...opts.headers,
    accept: 'application/json',
    ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
  };
  return new Promise<T>((resolve, reject) => {
    // A kept-alive connection keeps the request that opened it reachable (Node's agent caches the
    // TLS session through a listener on the socket), and with it every listener below. So they
    // reach the answer only through `open`, dropped once settled, and the body text is dropped
    // once parsed: otherwise each idle connection held its first answer, parsed and as text (10 MiB
    // of pod-list text alone in a heap snapshot at 500 clusters; bench/README.md, "A lean worker: memory").
    let open: { resolve: (value: T) => void; reject: (err: unknown) => void } | undefined = { resolve, reject };
    const settle = (err: unknown, value?: T): void => {
      const waiting = open;
      open = undefined;
      if (!waiting) return;
      if (err !== undefined) waiting.reject(err);
      else waiting.resolve(value as T);
    };
    const req = request(url, { ...opts, method: payload === undefined ? 'GET' : 'POST', headers, signal }, (res) => {
      // Decoded as it arrives: no copy of the whole body outside the JS heap before parsing.
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', (err) => settle(err));
      res.on('end', () => {
        const body = text;
        text = '';
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          settle(Object.assign(new Error(`HTTP ${status}`), { code: status }));
          return;
        }
        let parsed: T;
        try {
          parsed = JSON.parse(body) as T;
        } catch (err) {
          settle(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        settle(undefined, parsed);
      });
    });
    req.on('error', (err) => settle(err));
    req.end(payload);
  });
}

function listNames(names: string[]): string {
  const shown = names.slice(0, MAX_NAMES).join(', ');
  return names.length > MAX_NAMES ? `${shown} and ${names.length - MAX_NAMES} more` : shown;
}

/** True when a container of the pod is waiting in CrashLoopBackOff. */
function isCrashLooping(pod: Pod): boolean {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return statuses.some((s) => s.state?.waiting?.reason === 'CrashLoopBackOff');
}

function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? '?'}`;
}

/**
 * The workload a pod belongs to, `namespace/Kind/name` of its controller, or undefined for a
 * bare pod. Node replacement reschedules pods under new names; the workload stays the same.
 */
function workloadKey(pod: Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  return owner ? `${pod.metadata?.namespace ?? 'default'}/${owner.kind}/${owner.name}` : undefined;
}

function isReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * A node Karpenter (or EKS Auto Mode) is still launching: it has joined, not yet been initialized
 * (Karpenter sets `karpenter.sh/initialized` once it is Ready, karpenter.sh/docs/concepts/nodeclaims/).
 * The replacement of a drifted node goes through this state while the old node still serves, so
 * it is not a failure; a node stuck there is Karpenter's to replace.
 */
function isLaunching(node: Node): boolean {
  const labels = node.metadata?.labels ?? {};
  return labels['karpenter.sh/nodepool'] !== undefined && labels['karpenter.sh/initialized'] !== 'true';
}

/** A session against one cluster's API server. */
interface KubernetesSession {
  /** Every object at a list path (paged): the workload checks' reads (readWorkloadHealth). */
  listAll<T>(what: string, path: string): Promise<T[]>;
  listNodes(): Promise<Node[]>;
  listPods(): Promise<Pod[]>;
  listBlockingPdbs(): Promise<string[]>;
  readNodeModels(): Promise<KubernetesNodeModels>;
  reviewAccess(needs: readonly KubernetesNeed[]): Promise<AccessReview>;
}

/** What the API server answered about the worker's permissions (SelfSubjectAccessReview). */
export interface AccessReview {
  /** Permissions it refused, named as `kubectl auth can-i` names them. */
  denied: string[];
  /** Permissions the review could not answer for (the call failed: no answer, 5xx, 429...). */
  unanswered: string[];
  /** Why the first of them failed. */
  error?: string;
}

const ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** The node models the cluster's own API shows (preflight adds what EKS says: Auto Mode, Fargate profiles). */
export interface KubernetesNodeModels {
  /** Custom NodePools (karpenter.sh/v1) with their NodeClaims; Auto Mode's built-in pools left out. */
  nodePools: { name: string; autoMode: boolean; nodes: number; owner?: Ownership }[];
  /** EC2NodeClasses of a self-installed Karpenter that a GitOps or IaC tool owns (domain/ownership.ts). */
  ownedNodeClasses?: { name: string; owner: Ownership }[];
  /** The tag of the Karpenter controller image (Deployment kube-system/karpenter), when one runs. */
  karpenterVersion?: string;
  /** EC2NodeClasses (karpenter.k8s.aws/v1) of a self-installed Karpenter: their AMI terms and resolved AMIs. */
  nodeClasses?: NodeClassState[];
  /** Nodes no EKS node group, Fargate, Auto Mode or Karpenter owns: self-managed groups. */
  selfManagedNodes: number;
  /** Nodes Fargate runs (a pod each). */
  fargateNodes: number;
  /** The oldest kubelet minor among them (a Fargate pod keeps the kubelet it started with); absent without any. */
  oldestFargateKubelet?: string;
}

interface NodePool {
  metadata?: ObjectMeta;
  spec?: { template?: { spec?: { nodeClassRef?: { group?: string } } } };
}
interface EC2NodeClass {
  metadata?: ObjectMeta;
  spec?: { amiSelectorTerms?: AmiSelectorTerm[] };
  status?: { amis?: { id?: string }[] };
}
interface Deployment {
  spec?: { template?: { spec?: { containers?: { name?: string; image?: string }[] } } };
}

/** Labels that say who owns a node (EKS documents the compute-type and node-group ones; Karpenter its own). */
const COMPUTE_TYPE_LABEL = 'eks.amazonaws.com/compute-type';
const NODEPOOL_LABEL = 'karpenter.sh/nodepool';
/** Auto Mode's own NodePools (computeConfig.nodePools), which nobody may change: not the cluster owner's. */
const AUTO_MODE_BUILT_IN_POOLS = new Set(['system', 'general-purpose']);
/** NodeClasses of EKS Auto Mode belong to this API group; a self-installed Karpenter's to karpenter.k8s.aws. */
const AUTO_MODE_NODECLASS_GROUP = 'eks.amazonaws.com';

/** The tool that owns an object, from its labels, annotations and field managers. */
function ownerOf(meta: ObjectMeta | undefined): Ownership | undefined {
  if (!meta) return undefined;
  return detectOwner({
    ...(meta.labels ? { labels: meta.labels } : {}),
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
    managers: (meta.managedFields ?? []).map((f) => f.manager ?? '').filter(Boolean),
  });
}

/** GET that answers undefined for 404: an API group or object the cluster does not have. */
async function getIfPresent<T>(kc: KubeConfig, path: string, signal: AbortSignal): Promise<T | undefined> {
  try {
    return await getJson<T>(kc, path, signal);
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return undefined;
    throw err;
  }
}

/** "1.5.0" from "public.ecr.aws/karpenter/controller:1.5.0@sha256:..." (undefined without a tag). */
export function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0] ?? '';
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(colon + 1).replace(/^v/, '') : undefined;
}

/** Every item of a paged list, page after page (each page is one `call`) until no `continue` is left. */
async function listAllPages<T>(what: string, kc: KubeConfig, path: string): Promise<T[]> {
  const items: T[] = [];
  let cont: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cont ? { continue: cont } : {}) });
    const page = await call(what, (signal) => getJson<List<T>>(kc, `${path}?${query.toString()}`, signal));
    items.push(...(page.items ?? []));
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return items;
}

/** Paged reads of one cluster's API server: each call under a timeout, its failure classified. */
function kubernetesSession(kc: KubeConfig, clusterName: string): KubernetesSession {
  return {
    listAll: <T>(what: string, path: string) => listAllPages<T>(`${what} of ${clusterName}`, kc, path),
    listNodes: () => listAllPages<Node>(`list nodes of ${clusterName}`, kc, '/api/v1/nodes'),
    listPods: () => listAllPages<Pod>(`list pods of ${clusterName}`, kc, '/api/v1/pods'),
    async listBlockingPdbs() {
      const list = await call(`list PodDisruptionBudgets of ${clusterName}`, (signal) =>
        getJson<List<PodDisruptionBudget>>(kc, '/apis/policy/v1/poddisruptionbudgets', signal),
      );
      return (list.items ?? [])
        .filter((pdb) => pdb.status?.disruptionsAllowed === 0 && pdb.status?.expectedPods !== 0)
        .map((pdb) => `${pdb.metadata?.namespace ?? 'default'}/${pdb.metadata?.name ?? '?'}`)
        .sort();
    },
    async readNodeModels() {
      const [nodes, pools] = await Promise.all([
        listAllPages<Node>(`list nodes of ${clusterName}`, kc, '/api/v1/nodes'),
        call(`list NodePools of ${clusterName}`, (signal) =>
          getIfPresent<List<NodePool>>(kc, '/apis/karpenter.sh/v1/nodepools', signal),
        ),
      ]);
      // NodeClaims and the controller are read only where NodePools exist: most clusters have none
      // and pay one call; a Karpenter controller is looked for only beside Karpenter's own pools.
      const poolItems = pools?.items ?? [];
      const karpenterPools = poolItems.some(
        (p) => p.spec?.template?.spec?.nodeClassRef?.group !== AUTO_MODE_NODECLASS_GROUP,
      );
      const [claims, karpenter, nodeClasses] = await Promise.all([
        poolItems.length > 0
          ? listAllPages<{ metadata?: ObjectMeta }>(
              `list NodeClaims of ${clusterName}`,
              kc,
              '/apis/karpenter.sh/v1/nodeclaims',
            )
          : [],
        karpenterPools
          ? call(`read Deployment kube-system/karpenter of ${clusterName}`, (signal) =>
              getIfPresent<Deployment>(kc, '/apis/apps/v1/namespaces/kube-system/deployments/karpenter', signal),
            )
          : undefined,
        // A self-installed Karpenter's EC2NodeClasses: what the AMI pin changes (terms, resolved AMIs, owners).
        karpenterPools
          ? call(`list EC2NodeClasses of ${clusterName}`, (signal) =>
              getIfPresent<List<EC2NodeClass>>(kc, '/apis/karpenter.k8s.aws/v1/ec2nodeclasses', signal),
            )
          : undefined,
      ]);
      const claimsOf = (pool: string) => claims.filter((c) => c.metadata?.labels?.[NODEPOOL_LABEL] === pool).length;
      const nodePools = poolItems
        .map((p) => ({
          name: p.metadata?.name ?? '?',
          autoMode: p.spec?.template?.spec?.nodeClassRef?.group === AUTO_MODE_NODECLASS_GROUP,
          owner: ownerOf(p.metadata),
        }))
        .filter((p) => !(p.autoMode && AUTO_MODE_BUILT_IN_POOLS.has(p.name)))
        .map(({ owner, ...p }) => ({ ...p, nodes: claimsOf(p.name), ...(owner ? { owner } : {}) }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const controller =
        karpenter?.spec?.template?.spec?.containers?.find((c) => c.name === 'controller') ??
        karpenter?.spec?.template?.spec?.containers?.[0];
      const karpenterVersion = controller?.image ? imageTag(controller.image) : undefined;
      const ownedNodeClasses = (nodeClasses?.items ?? [])
        .map((nc) => ({ name: nc.metadata?.name ?? '?', owner: ownerOf(nc.metadata) }))
        .filter((nc): nc is { name: string; owner: Ownership } => nc.owner !== undefined)
        .sort((a, b) => a.name.localeCompare(b.name));
      let selfManagedNodes = 0;
      let fargateNodes = 0;
      let oldestFargateKubelet: string | undefined;
      for (const node of nodes) {
        const labels = node.metadata?.labels ?? {};
        const computeType = labels[COMPUTE_TYPE_LABEL];
        if (computeType === 'fargate') {
          fargateNodes++;
          const minor = /^v?(\d+\.\d+)/.exec(node.status?.nodeInfo?.kubeletVersion ?? '')?.[1];
          if (minor && (!oldestFargateKubelet || compareMinor(minor, oldestFargateKubelet) < 0))
            oldestFargateKubelet = minor;
        } else if (!labels[NODEGROUP_LABEL] && !labels[NODEPOOL_LABEL] && computeType !== 'auto') selfManagedNodes++;
      }
      const classes: NodeClassState[] = (nodeClasses?.items ?? [])
        .map((nc) => ({
          name: nc.metadata?.name ?? '?',
          terms: nc.spec?.amiSelectorTerms ?? [],
          amis: (nc.status?.amis ?? []).map((a) => a.id ?? '').filter((id) => id !== ''),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      return {
        nodePools,
        ...(ownedNodeClasses.length > 0 ? { ownedNodeClasses } : {}),
        ...(karpenterVersion ? { karpenterVersion } : {}),
        ...(classes.length > 0 ? { nodeClasses: classes } : {}),
        selfManagedNodes,
        fargateNodes,
        ...(oldestFargateKubelet ? { oldestFargateKubelet } : {}),
      };
    },
    /**
     * One SelfSubjectAccessReview per permission, all at once: the question `kubectl auth can-i`
     * asks, answered by the API server's own authorizers, so EKS access policies and RBAC both
     * count (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access).
     * A review that fails is reported as unanswered, never as a refusal.
     */
    async reviewAccess(needs) {
      const answers = await Promise.allSettled(
        needs.map((need) =>
          call(`SelfSubjectAccessReview of ${clusterName}`, (signal) =>
            requestJson<{ status?: { allowed?: boolean } }>(kc, ACCESS_REVIEW_PATH, signal, accessReviewBody(need)),
          ),
        ),
      );
      const review: AccessReview = { denied: [], unanswered: [] };
      needs.forEach((need, i) => {
        const answer = answers[i];
        if (answer?.status === 'fulfilled') {
          if (answer.value.status?.allowed !== true) review.denied.push(describeNeed(need));
          return;
        }
        review.unanswered.push(describeNeed(need));
        review.error ??= answer?.reason instanceof Error ? answer.reason.message : String(answer?.reason);
      });
      return review;
    },
  };
}

/** Deployments, StatefulSets and DaemonSets (apps/v1) of the whole cluster, read at once. */
async function readWorkloads(s: KubernetesSession) {
  const [deployments, statefulSets, daemonSets] = await Promise.all([
    s.listAll<WorkloadObject>('list Deployments', '/apis/apps/v1/deployments'),
    s.listAll<WorkloadObject>('list StatefulSets', '/apis/apps/v1/statefulsets'),
    s.listAll<WorkloadObject>('list DaemonSets', '/apis/apps/v1/daemonsets'),
  ]);
  return workloadShortfalls({ deployments, statefulSets, daemonSets });
}

/**
 * The workloadsAvailable check (domain/workload-health.ts): workloads short of desired, pods stuck
 * Pending, in the pods the health check has already listed.
 */
async function readWorkloadHealth(
  s: KubernetesSession,
  pods: readonly Pod[],
  baseline: KubernetesBaseline | undefined,
): Promise<string[]> {
  const shortfalls = await readWorkloads(s);
  // The pods are the API's JSON: Pod here declares only the fields the crash-loop check reads.
  const pending = stuckPendingPods(pods as readonly PodObject[], Date.now());
  return workloadFailures(shortfalls, pending, baseline?.shortWorkloads, listNames);
}

/** What the workloadsAvailable check leaves out later: what is short or stuck before the upgrade. */
async function readWorkloadBaseline(s: KubernetesSession, pods: readonly Pod[]): Promise<string[]> {
  return workloadBaseline(await readWorkloads(s), stuckPendingPods(pods as readonly PodObject[], Date.now()));
}

/** The Kubernetes activities. */
export function createKubernetesActivities(deps: ResolvedDeps) {
  const rt = () => activityRuntime(deps.logger);

  /** Recent sessions by cluster, region and role: the endpoint, the KubeConfig, and until when they are reused. */
  const recent = new Map<string, { access: ClusterAccess; kc: KubeConfig; until: number }>();

  /**
   * A session against the cluster's API server: a recent one for the same cluster (and the same
   * endpoint, when the caller knows it), otherwise a new one from DescribeCluster and a fresh token.
   */
  async function openSession(
    cluster: ClusterRef,
    access: ClusterAccess | undefined,
  ): Promise<{ key: string; kc: KubeConfig; reused: boolean }> {
    const key = `${cluster.name}|${cluster.region}|${cluster.roleArn ?? ''}`;
    const now = Date.now();
    const known = recent.get(key);
    if (known && known.until > now && (!access || sameAccess(access, known.access))) {
      return { key, kc: known.kc, reused: true };
    }
    recent.delete(key);
    const where = access ?? clusterAccess(await describeClusterRaw(deps.eks(cluster), cluster.name));
    let kc: KubeConfig;
    try {
      kc = await deps.kube(cluster, where);
    } catch (err) {
      throw toKubernetesFailure(err, `credentials for ${cluster.name}`);
    }
    // Oldest first (each is kept for SESSION_REUSE_MS from its insertion): expired ones go, and the
    // oldest when the map is full. Without this a session nobody asks for again stayed until
    // a thousand newer ones pushed it out, with its KubeConfig and TLS context.
    for (const [k, v] of recent) {
      if (v.until > now && recent.size < MAX_SESSIONS) break;
      recent.delete(k);
    }
    recent.set(key, { access: where, kc, until: now + SESSION_REUSE_MS });
    return { key, kc, reused: false };
  }

  /**
   * The cluster's reads. A failed read forgets the session, so the next one describes the cluster
   * and signs anew; a reused session whose token is refused, or whose CA no longer verifies the
   * server, is retried once with a fresh one, so reuse never turns a good cluster into a
   * KubernetesUnauthorized or KubernetesUntrustedCertificate failure.
   */
  async function session(cluster: ClusterRef, access?: ClusterAccess): Promise<KubernetesSession> {
    const first = await openSession(cluster, access);
    // Reads run side by side (captureBaseline): the ones refused together share one fresh session.
    let fresh: ReturnType<typeof openSession> | undefined;
    const read =
      <R>(pick: (s: KubernetesSession) => Promise<R>) =>
      async (): Promise<R> => {
        const used = fresh ? await fresh : first;
        try {
          return await pick(kubernetesSession(used.kc, cluster.name));
        } catch (err) {
          recent.delete(used.key);
          // A refused token, or a certificate the remembered CA does not verify: ask again once.
          const refused =
            err instanceof ApplicationFailure &&
            (err.type === ExtraFailureTypes.KubernetesUnauthorized ||
              err.type === ExtraFailureTypes.KubernetesUntrustedCertificate);
          if (used !== first || !first.reused || !refused) throw err;
          fresh ??= openSession(cluster, access);
          const again = await fresh;
          return pick(kubernetesSession(again.kc, cluster.name)).catch((e: unknown) => {
            recent.delete(again.key);
            throw e;
          });
        }
      };
    return {
      listAll: <T>(what: string, path: string) => read((s) => s.listAll<T>(what, path))(),
      listNodes: read((s) => s.listNodes()),
      listPods: read((s) => s.listPods()),
      listBlockingPdbs: read((s) => s.listBlockingPdbs()),
      readNodeModels: read((s) => s.readNodeModels()),
      reviewAccess: (needs: readonly KubernetesNeed[]) => read((s) => s.reviewAccess(needs))(),
    };
  }

  /** PDBs that allow no disruption (preflight's drain risk). */
  async function blockingPdbs(cluster: ClusterRef, access?: ClusterAccess): Promise<string[]> {
    return (await session(cluster, access)).listBlockingPdbs();
  }

  /** Pods crash-looping now and PDBs that allow no disruption (preflight passes the access it already has). */
  async function captureBaseline(cluster: ClusterRef, access?: ClusterAccess): Promise<KubernetesBaseline> {
    const s = await session(cluster, access);
    const [pods, pdbs] = await Promise.all([s.listPods(), s.listBlockingPdbs()]);
    const looping = pods.filter(isCrashLooping);
    const baseline: KubernetesBaseline = {
      crashLoopingPods: looping.map(podKey).sort(),
      blockingPdbs: pdbs,
      crashLoopingWorkloads: [...new Set(looping.map(workloadKey).filter((k): k is string => k !== undefined))].sort(),
      shortWorkloads: await readWorkloadBaseline(s, pods),
    };
    rt().log.info('Kubernetes baseline', {
      cluster: cluster.name,
      crashLoopingPods: baseline.crashLoopingPods.length,
      blockingPdbs: baseline.blockingPdbs.length,
    });
    return baseline;
  }

  async function captureKubernetesBaseline(input: KubernetesBaselineInput): Promise<KubernetesBaseline> {
    return captureBaseline(input.cluster);
  }

  async function checkKubernetesHealth(input: KubernetesHealthInput): Promise<KubernetesHealthResult> {
    const checks = input.checks ?? { nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true };
    const s = await session(input.cluster);
    const failures: string[] = [];
    // One pod list serves both checks that read pods: a cluster's pods are most of a check's
    // bytes, and parsing them most of its CPU.
    const podsRead = checks.noNewCrashLoops || checks.workloadsAvailable ? s.listPods() : undefined;
    // Awaited below, maybe after another read fails: its rejection is handled there, not unhandled.
    podsRead?.catch(() => undefined);
    const nodes = await s.listNodes();
    const ready = nodes.filter(isReady);

    if (checks.nodesReady) {
      const notReady = nodes.filter((n) => !isReady(n) && !isLaunching(n)).map((n) => n.metadata?.name ?? '?');
      if (notReady.length > 0)
        failures.push(`${notReady.length} of ${nodes.length} nodes not Ready: ${listNames(notReady)}`);
    }

    if (checks.kubeletVersionsMatch && input.expectedKubeletMinor) {
      for (const [nodegroup, minor] of Object.entries(input.expectedKubeletMinor)) {
        const members = nodes.filter((n) => n.metadata?.labels?.[NODEGROUP_LABEL] === nodegroup);
        const off = members
          .map((n) => ({ name: n.metadata?.name ?? '?', kubelet: n.status?.nodeInfo?.kubeletVersion ?? '' }))
          .filter((n) => toMinor(n.kubelet) !== minor)
          .map((n) => `${n.name} (${n.kubelet || 'unknown'})`);
        if (off.length > 0)
          failures.push(`node group ${nodegroup}: ${off.length} node(s) not at kubelet ${minor}: ${listNames(off)}`);
      }
    }

    if (checks.noNewCrashLoops) {
      const knownPods = new Set(input.baseline?.crashLoopingPods ?? []);
      const knownWorkloads = new Set(input.baseline?.crashLoopingWorkloads ?? []);
      const fresh = ((await podsRead) ?? [])
        .filter(isCrashLooping)
        .filter((p) => !knownPods.has(podKey(p)) && !knownWorkloads.has(workloadKey(p) ?? '\0'))
        .map(podKey)
        .sort();
      if (fresh.length > 0) {
        failures.push(
          `${fresh.length} pod(s) crash-looping that were not in the baseline${input.baseline ? '' : ' (no baseline taken)'}: ${listNames(fresh)}`,
        );
      }
    }

    // Absent from the checks of campaigns started before it existed: off for them.
    if (checks.workloadsAvailable)
      failures.push(...(await readWorkloadHealth(s, (await podsRead) ?? [], input.baseline)));

    const result: KubernetesHealthResult = {
      healthy: failures.length === 0,
      failures,
      nodes: { total: nodes.length, ready: ready.length },
    };
    rt().log.info('Kubernetes health', {
      cluster: input.cluster.name,
      healthy: result.healthy,
      failures: failures.length,
    });
    return result;
  }

  /** Node models the cluster's API shows (preflight passes the access it already has). */
  async function nodeModels(cluster: ClusterRef, access?: ClusterAccess): Promise<KubernetesNodeModels> {
    return (await session(cluster, access)).readNodeModels();
  }

  /** What the API server lets the worker do of `needs` (preflight passes the access it already has). */
  async function reviewAccess(
    cluster: ClusterRef,
    access: ClusterAccess | undefined,
    needs: readonly KubernetesNeed[],
  ): Promise<AccessReview> {
    if (needs.length === 0) return { denied: [], unanswered: [] };
    return (await session(cluster, access)).reviewAccess(needs);
  }

  return {
    captureKubernetesBaseline,
    checkKubernetesHealth,
    blockingPdbs,
    captureBaseline,
    nodeModels,
    reviewAccess,
  };
}

function sameAccess(a: ClusterAccess, b: ClusterAccess): boolean {
  return a.endpoint === b.endpoint && a.certificateAuthority === b.certificateAuthority;
}
