/**
 * The simulator's HTTP front door on node:http (no framework: /metrics for 5,000 clusters has
 * to stay well under a second). One port serves everything, told apart by path and headers:
 *
 * - `GET /metrics`                      Prometheus exposition
 * - `/sim/...`                          state, mutations, faults, secrets, reset, clock (tests, operators)
 * - `POST /` + `x-amz-target: AmazonSSM.*`  SSM (awsJson1_1)
 * - `POST /` + `x-amz-target: GraniteServiceVersion20100801.*`  CloudWatch GetMetricData (awsJson1_0)
 * - `POST /` + `x-amz-target: AWSOrganizationsV20161128.*`  Organizations (awsJson1_1)
 * - `POST /` signed for `ec2`              EC2 (Query protocol: launch templates and AMIs)
 * - `POST /` signed for `autoscaling`      EC2 Auto Scaling (Query protocol: self-managed node groups)
 * - `POST /` with a form body           STS (awsQuery)
 * - anything else                       EKS REST-JSON (SigV4 scope gives the region)
 *
 * Each cluster's Kubernetes API has an HTTPS port of its own (k8s-endpoints.ts), served by
 * {@link handleKubernetesRequest}.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { faultSchema } from '../domain/fleet';
import { BASE_ACCOUNT, accountOfAccessKey, handleSsm, type SimSts } from './aws-misc';
import { isOrganizationsTarget, type SimOrganization } from './organizations';
import { SimAutoScaling } from './autoscaling-api';
import { CLOUDWATCH_TARGET_PREFIX, handleCloudWatch } from './cloudwatch-api';
import { SimEc2 } from './ec2-api';
import { handleEks, targetClusterName } from './eks-api';
import { principalOfCaller } from '../domain/access';
import { handleKubernetes } from './k8s-api';
import { seedSecret } from './k8s-secrets';
import type { KubernetesEndpoints } from './k8s-endpoints';
import { renderMetrics, METRICS_CONTENT_TYPE } from './metrics';
import {
  EksError,
  isDegraded,
  workloadSignals,
  type Mutation,
  type SimCluster,
  type SimFleet,
  type SimUpdate,
} from './model';
import { advanceAsg, type AsgTermination } from './model/asg';
import { rolloutPosition } from './workloads';
import type { NodePoolState, NodePoolWrite } from './model/automode';
import type { DisruptionBudget } from './model/budget-schedule';
import { karpenterNodeName, resolvedAmisOf, type AmiSelectorTerm } from './model/karpenter';

const MAX_BODY_BYTES = 5 * 1024 * 1024;

/** What the request handler needs from the running simulator. */
export interface ServerContext {
  fleet(): SimFleet;
  sts: SimSts;
  /** The organization whose accounts Organizations ListAccounts lists. */
  organization: SimOrganization;
  /** The clusters' HTTPS Kubernetes endpoints. */
  endpoints: KubernetesEndpoints;
  timeScale: number;
  seed: number;
  reset(): void;
  advance(ms: number): void;
  log?: (line: string) => void;
}

/** Per-cluster view returned by `GET /sim/state`. */
export interface ClusterState {
  name: string;
  region: string;
  account: string;
  /** The fleet-file labels: the cluster's AWS tags, as TagResource / UntagResource leave them. */
  labels: Record<string, string>;
  version: string;
  platformVersion: string;
  status: string;
  nodegroups: {
    name: string;
    version: string;
    releaseVersion: string;
    /** EKS amiType; CUSTOM when the launch template names the image (`imageId`). */
    amiType: string;
    imageId?: string;
    status: string;
    launchTemplateName: string;
    launchTemplateVersion: string;
    nodes: number;
  }[];
  addons: { name: string; version: string; status: string }[];
  activeUpdates: {
    id: string;
    type: string;
    nodegroup?: string;
    addon?: string;
    createdAt: string;
    endsAt: string;
    willFail: boolean;
    /** Node group version updates: the batch being replaced (0-based) and its phase. */
    rollout?: { batch: number; batches: number; phase: 'setup' | 'launch' | 'drain' };
  }[];
  /**
   * Self-managed groups' Auto Scaling groups: instances, refreshes, and every termination with
   * whether its node was cordoned and how many pods (not DaemonSet's) were still on it. Absent when none.
   */
  autoScalingGroups?: {
    name: string;
    launchTemplateVersion: string;
    instances: { id: string; state: string; launchTemplateVersion: number; imageId: string }[];
    refreshes: { id: string; status: string }[];
    terminations: AsgTermination[];
  }[];
  faults: Record<string, unknown>;
  workload: { errorRatio: number; latencyP99Seconds: number; degraded: boolean };
  /**
   * A self-installed Karpenter: its NodeClaims now and every disruption so far (model/karpenter.ts),
   * times as ISO strings; absent on other clusters.
   */
  karpenter?: {
    version: string;
    nodeClaims: { name: string; pool: string; node: string; imageId: string; ready: boolean; terminating: boolean }[];
    disruptions: {
      pool: string;
      nodeClaim: string;
      node: string;
      reason: string;
      start: string;
      end?: string;
      blockedBy?: string;
    }[];
    /** NodePools now: their disruption budgets and annotations. */
    nodePools: { name: string; budgets: DisruptionBudget[]; annotations: Record<string, string> }[];
    /** EC2NodeClasses now: their terms, annotations and the AMIs the terms resolve to at the cluster's minor. */
    nodeClasses: {
      name: string;
      amiSelectorTerms: AmiSelectorTerm[];
      annotations: Record<string, string>;
      resolvedAmis: string[];
    }[];
    /** Every accepted write of a NodePool or EC2NodeClass, oldest first (model/automode.ts NodePoolWrite). */
    writes: (Omit<NodePoolWrite, 'at'> & { at: string })[];
  };
}

export interface SimState {
  /** Simulated time of the snapshot. */
  now: string;
  timeScale: number;
  seed: number;
  clusters: ClusterState[];
}

function karpenterState(c: SimCluster, now: number): NonNullable<ClusterState['karpenter']> {
  const state = c.nodePools as NodePoolState;
  const iso = (t: number) => new Date(t).toISOString();
  return {
    version: state.karpenterVersion ?? '',
    nodeClaims: state.claims.map((x) => ({
      name: x.name,
      pool: x.pool,
      node: karpenterNodeName(c.region, x),
      imageId: x.imageId ?? '',
      ready: now >= x.readyAt,
      terminating: x.disruption !== undefined,
    })),
    disruptions: state.disruptions.map((d) => ({
      pool: d.pool,
      nodeClaim: d.nodeClaim,
      node: d.node,
      reason: d.reason,
      start: iso(d.start),
      ...(d.end !== undefined ? { end: iso(d.end) } : {}),
      ...(d.blockedBy ? { blockedBy: d.blockedBy } : {}),
    })),
    nodePools: state.pools.map((p) => ({
      name: p.name,
      budgets: structuredClone(p.budgets),
      annotations: { ...p.annotations },
    })),
    nodeClasses: state.nodeClasses.map((nc) => ({
      name: nc.name,
      amiSelectorTerms: structuredClone(nc.amiSelectorTerms),
      annotations: { ...nc.annotations },
      resolvedAmis: resolvedAmisOf(c, nc).map((a) => a.id),
    })),
    writes: state.writes.map((w) => ({ ...structuredClone(w), at: iso(w.at) })),
  };
}

function rolloutOf(u: SimUpdate, now: number): { batch: number; batches: number; phase: 'setup' | 'launch' | 'drain' } {
  const batches = u.nodeCount ? Math.ceil(u.nodeCount / (u.batchSize ?? 1)) : 0;
  const pos = rolloutPosition(u, now);
  return pos ? { batch: pos.batch, batches, phase: pos.phase } : { batch: 0, batches, phase: 'setup' };
}

/** A cluster as `/sim/state` shows it (settled to now). */
export function clusterState(fleet: SimFleet, c: SimCluster): ClusterState {
  fleet.settle(c);
  const signals = workloadSignals(c);
  return {
    name: c.name,
    region: c.region,
    account: c.account,
    labels: { ...c.labels },
    version: c.version,
    platformVersion: c.platformVersion,
    status: fleet.clusterStatus(c),
    nodegroups: c.nodegroups.map((ng) => ({
      name: ng.name,
      version: ng.version,
      releaseVersion: ng.releaseVersion,
      amiType: ng.amiType,
      ...(ng.imageId ? { imageId: ng.imageId } : {}),
      status: ng.status,
      launchTemplateName: ng.launchTemplate.name,
      launchTemplateVersion: ng.launchTemplate.version,
      nodes: ng.desiredSize,
    })),
    addons: c.addons.map((a) => ({ name: a.name, version: a.version, status: a.status })),
    activeUpdates: c.active.map((u) => ({
      id: u.id,
      type: u.type,
      ...(u.nodegroup ? { nodegroup: u.nodegroup } : {}),
      ...(u.addon ? { addon: u.addon } : {}),
      createdAt: new Date(u.createdAt).toISOString(),
      endsAt: new Date(u.failAt ?? u.endsAt).toISOString(),
      willFail: u.failAt !== undefined,
      ...(u.effect.kind === 'nodegroup-version' ? { rollout: rolloutOf(u, fleet.now()) } : {}),
    })),
    ...(c.asgs.length > 0
      ? {
          autoScalingGroups: c.asgs.map((asg) => {
            advanceAsg(c, asg, fleet.now());
            return {
              name: asg.name,
              launchTemplateVersion: asg.version,
              instances: asg.instances.map((i) => ({
                id: i.id,
                state: i.state,
                launchTemplateVersion: i.ltVersion,
                imageId: i.imageId,
              })),
              refreshes: asg.refreshes.map((r) => ({ id: r.id, status: r.status })),
              terminations: asg.terminations.map((t) => ({ ...t })),
            };
          }),
        }
      : {}),
    faults: { ...c.faults },
    workload: { errorRatio: signals.errorRatio, latencyP99Seconds: signals.latencyP99, degraded: isDegraded(c) },
    ...(c.nodePools?.mode === 'karpenter' ? { karpenter: karpenterState(c, fleet.now()) } : {}),
  };
}

/** The whole fleet (or one cluster) as `/sim/state` shows it. */
export function fleetState(ctx: ServerContext, cluster?: string): SimState | undefined {
  const fleet = ctx.fleet();
  let clusters: SimCluster[] = fleet.clusters;
  if (cluster !== undefined) {
    const c = fleet.byName.get(cluster);
    if (!c) return undefined;
    clusters = [c];
  }
  return {
    now: new Date(fleet.now()).toISOString(),
    timeScale: ctx.timeScale,
    seed: ctx.seed,
    clusters: clusters.map((c) => clusterState(fleet, c)),
  };
}

/** Validates and applies a fault patch (`null` clears a field); returns the cluster's faults or an error text. */
export function applyFaults(fleet: SimFleet, clusterName: string, patch: unknown): Record<string, unknown> | string {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return 'faults must be an object';
  const entries = Object.entries(patch as Record<string, unknown>);
  const setting = Object.fromEntries(entries.filter(([, v]) => v !== null));
  const parsed = faultSchema.safeParse(setting);
  if (!parsed.success) {
    return parsed.error.issues
      .map((i) => `faults${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`)
      .join('; ');
  }
  const clearing = Object.fromEntries(entries.filter(([, v]) => v === null));
  const targets = clusterName === '*' ? fleet.clusters : [fleet.byName.get(clusterName)].filter((c) => c !== undefined);
  if (targets.length === 0) return `no cluster named "${clusterName}"`;
  for (const c of targets) fleet.injectFaults(c, { ...parsed.data, ...clearing });
  return targets.length === 1 ? { ...(targets[0] as SimCluster).faults } : { clusters: targets.length };
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const gzipAsync = promisify(gzip);

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new EksError('SerializationException', 413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** `Credential=AKID/20250101/us-west-2/eks/aws4_request` → access key, region and service. */
function sigv4Scope(
  authorization: string | undefined,
): { accessKeyId: string; region: string; service: string } | undefined {
  const m = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(authorization ?? '');
  return m ? { accessKeyId: m[1] as string, region: m[2] as string, service: m[3] as string } : undefined;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new EksError('SerializationException', 400, 'request body is not valid JSON');
  }
}

/** Handles one request; never throws. */
export async function handleRequest(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://simulator');
  const path = url.pathname;
  try {
    await route(ctx, req, res, method, url);
  } catch (err) {
    if (err instanceof EksError) {
      sendJson(
        res,
        err.status,
        { message: err.message, ...err.extra },
        { 'x-amzn-errortype': err.code, 'x-amzn-requestid': randomUUID() },
      );
    } else {
      process.stderr.write(
        `simulator: ${method} ${path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      if (!res.headersSent)
        sendJson(res, 500, { message: 'internal simulator error' }, { 'x-amzn-errortype': 'ServerException' });
      else res.destroy();
    }
  } finally {
    ctx.log?.(`${method} ${path}${url.search} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`);
  }
}

async function route(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
): Promise<void> {
  const path = url.pathname;
  const fleet = ctx.fleet();

  if (path === '/metrics' && method === 'GET') {
    const body = renderMetrics(fleet);
    // Prometheus asks for gzip (its scrape sends Accept-Encoding: gzip) and a real exporter's
    // promhttp handler answers with it; level 1 keeps a 5,000-cluster page fast to compress.
    if (acceptsGzip(req.headers['accept-encoding'])) {
      const zipped = await gzipAsync(body, { level: 1 });
      send(res, 200, zipped, {
        'content-type': METRICS_CONTENT_TYPE,
        'content-encoding': 'gzip',
        vary: 'Accept-Encoding',
      });
      return;
    }
    send(res, 200, body, { 'content-type': METRICS_CONTENT_TYPE, vary: 'Accept-Encoding' });
    return;
  }

  if (path.startsWith('/sim/') || path === '/sim') {
    await routeSim(ctx, req, res, method, url);
    return;
  }

  const scope = sigv4Scope(req.headers.authorization);

  if (path === '/' && method === 'POST') {
    const text = await readBody(req);
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith(CLOUDWATCH_TARGET_PREFIX)) {
      if (!scope) {
        send(
          res,
          403,
          JSON.stringify({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' }),
          {
            'content-type': 'application/x-amz-json-1.0',
          },
        );
        return;
      }
      const account = accountOfAccessKey(scope.accessKeyId);
      const answer = handleCloudWatch(fleet, target, text, { region: scope.region, ...(account ? { account } : {}) });
      send(res, answer.status, answer.body, answer.headers);
      return;
    }
    if (typeof target === 'string' && target.startsWith('AmazonSSM.')) {
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        send(res, 400, JSON.stringify({ __type: 'SerializationException', message: 'invalid JSON' }), {
          'content-type': 'application/x-amz-json-1.1',
        });
        return;
      }
      const answer = handleSsm(target, body, scope?.region ?? 'us-east-1');
      send(res, answer.status, answer.body, { ...answer.headers, 'x-amzn-requestid': randomUUID() });
      return;
    }
    if (isOrganizationsTarget(target)) {
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        send(res, 400, JSON.stringify({ __type: 'SerializationException', Message: 'invalid JSON' }), {
          'content-type': 'application/x-amz-json-1.1',
        });
        return;
      }
      const caller = (scope && accountOfAccessKey(scope.accessKeyId)) ?? BASE_ACCOUNT;
      const answer = ctx.organization.handle(target, body, caller);
      send(res, answer.status, answer.body, { ...answer.headers, 'x-amzn-requestid': randomUUID() });
      return;
    }
    if (scope?.service === 'ec2') {
      const answer = new SimEc2(() => fleet.ec2).handle(
        new URLSearchParams(text),
        scope.region,
        accountOfAccessKey(scope.accessKeyId),
        fleet.now(),
      );
      send(res, answer.status, answer.body, { ...answer.headers, 'x-amzn-requestid': randomUUID() });
      return;
    }
    if (scope?.service === 'autoscaling') {
      const answer = new SimAutoScaling(() => fleet).handle(
        new URLSearchParams(text),
        scope.region,
        accountOfAccessKey(scope.accessKeyId),
        fleet.now(),
      );
      send(res, answer.status, answer.body, { ...answer.headers, 'x-amzn-requestid': randomUUID() });
      return;
    }
    const answer = ctx.sts.handle(new URLSearchParams(text), scope?.accessKeyId);
    send(res, answer.status, answer.body, answer.headers);
    return;
  }

  if (path === '/' && method === 'GET') {
    sendJson(res, 200, {
      simulator: 'fleetwave',
      clusters: fleet.clusters.length,
      timeScale: ctx.timeScale,
      endpoints: [
        '/metrics',
        '/sim/state',
        '/sim/mutations',
        '/sim/faults',
        '/sim/secrets',
        '/sim/reset',
        '/sim/advance',
        'EKS REST-JSON',
        'SSM',
        'STS',
        'CloudWatch GetMetricData',
        'Organizations',
      ],
    });
    return;
  }

  // EKS REST-JSON.
  if (!scope) {
    throw new EksError(
      'MissingAuthenticationTokenException',
      403,
      'Missing Authentication Token (a SigV4-signed request carries the region)',
    );
  }
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
  // Read the body first, so that a faulted answer leaves a clean keep-alive connection.
  const body = method === 'POST' || method === 'PUT' ? parseJson(await readBody(req)) : undefined;
  const clusterName = targetClusterName(segments);
  const target = clusterName ? fleet.byName.get(clusterName) : undefined;
  let failAfterApplying = false;
  if (target) {
    const { throttleRate, serverErrorRate } = target.faults;
    if (throttleRate && target.faultRng.next() < throttleRate) {
      throw new EksError('ThrottlingException', 429, 'Rate exceeded (simulated fault throttleRate)');
    }
    if (serverErrorRate && target.faultRng.next() < serverErrorRate) {
      // Half the 5xx answers to a mutating call come after it took effect (the answer was
      // lost): only the clientRequestToken keeps the SDK's retry from starting a second update.
      if (method === 'POST' && target.faultRng.next() < 0.5) failAfterApplying = true;
      else throw new EksError('ServerException', 500, 'An internal error occurred (simulated fault serverErrorRate)');
    }
  }
  // DescribeCluster names the cluster's Kubernetes endpoint: its port opens on first use.
  if (target && segments.length === 2 && method === 'GET') await ctx.endpoints.open(target.name);
  const endpoints = ctx.endpoints;
  const answer = handleEks(
    fleet,
    {
      method,
      segments,
      query: url.searchParams,
      body,
      principal: principalOfCaller(ctx.sts.identityOf(scope.accessKeyId).arn),
      scope: {
        region: scope.region,
        ...(accountOfAccessKey(scope.accessKeyId) ? { account: accountOfAccessKey(scope.accessKeyId) } : {}),
      },
    },
    {
      endpointOf: (name) => endpoints.endpointOf(name) ?? '',
      caData: endpoints.tls.caData,
    },
    randomUUID,
  );
  if (failAfterApplying) {
    throw new EksError('ServerException', 500, 'An internal error occurred (simulated fault serverErrorRate)');
  }
  sendJson(res, answer.status, answer.body, { 'x-amzn-requestid': randomUUID(), ...(answer.headers ?? {}) });
}

async function routeSim(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
): Promise<void> {
  const path = url.pathname;
  const fleet = ctx.fleet();
  const readJson = async (): Promise<Record<string, unknown> | undefined> => {
    try {
      const text = await readBody(req);
      const v: unknown = text.trim() ? JSON.parse(text) : {};
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  if (path === '/sim/state' && method === 'GET') {
    const cluster = url.searchParams.get('cluster') ?? undefined;
    const state = fleetState(ctx, cluster);
    if (!state) sendJson(res, 404, { error: `no cluster named "${cluster}"` });
    else sendJson(res, 200, state);
    return;
  }
  if (path === '/sim/mutations' && method === 'GET') {
    const cluster = url.searchParams.get('cluster');
    const since = Number(url.searchParams.get('since') ?? '0');
    const list: Mutation[] = fleet.mutations.filter((m) => (!cluster || m.cluster === cluster) && m.seq > since);
    sendJson(res, 200, { mutations: list });
    return;
  }
  if (path === '/sim/faults' && method === 'POST') {
    const body = await readJson();
    if (!body || typeof body.cluster !== 'string') {
      sendJson(res, 400, { error: 'body must be {"cluster": "<name>" or "*", "faults": {...}}' });
      return;
    }
    const result = applyFaults(fleet, body.cluster, body.faults);
    if (typeof result === 'string') sendJson(res, result.startsWith('no cluster') ? 404 : 400, { error: result });
    else sendJson(res, 200, { cluster: body.cluster, faults: result });
    return;
  }
  if (path === '/sim/secrets' && method === 'POST') {
    const body = await readJson();
    if (!body) {
      sendJson(res, 400, {
        error: 'body must be {"cluster", "namespace", "name", "data": {key: base64} and/or "stringData": {key: text}}',
      });
      return;
    }
    const answer = seedSecret(fleet, body);
    sendJson(res, answer.status, answer.body);
    return;
  }
  if (path === '/sim/reset' && method === 'POST') {
    ctx.reset();
    sendJson(res, 200, { reset: true, clusters: ctx.fleet().clusters.length });
    return;
  }
  if (path === '/sim/advance' && method === 'POST') {
    const body = await readJson();
    const seconds = Number(body?.seconds);
    if (!Number.isFinite(seconds) || seconds < 0) {
      sendJson(res, 400, { error: 'body must be {"seconds": <non-negative number>}' });
      return;
    }
    ctx.advance(seconds * 1000);
    sendJson(res, 200, { now: new Date(ctx.fleet().now()).toISOString() });
    return;
  }
  if (path === '/sim/health' && method === 'GET') {
    sendJson(res, 200, {
      ok: true,
      clusters: fleet.clusters.length,
      now: new Date(fleet.now()).toISOString(),
      timeScale: ctx.timeScale,
    });
    return;
  }
  sendJson(res, 404, { error: `no simulator endpoint ${method} ${path}` });
}

/** Handles one request to a cluster's Kubernetes endpoint; never throws. */
export async function handleKubernetesRequest(
  ctx: ServerContext,
  clusterName: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://cluster');
  try {
    const fleet = ctx.fleet();
    const c = fleet.byName.get(clusterName);
    if (!c) throw new Error(`no simulated cluster named "${clusterName}"`);
    c.counters.requests += 1;
    const body = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
    const answer = handleKubernetes(fleet, c, {
      method,
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      contentType: req.headers['content-type'],
      body,
      serverAddress: req.headers.host ?? `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 0}`,
    });
    if ('watch' in answer) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
      res.flushHeaders();
      const stop = answer.watch(
        (event) => res.write(`${JSON.stringify(event)}\n`),
        () => res.end(),
      );
      res.once('close', stop);
      return;
    }
    if (typeof answer.body === 'string')
      send(res, answer.status, answer.body, { 'content-type': 'text/plain; charset=utf-8' });
    else sendJson(res, answer.status, answer.body);
  } catch (err) {
    process.stderr.write(
      `simulator: ${clusterName} ${method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    if (!res.headersSent)
      sendJson(res, 500, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'internal simulator error',
        reason: 'InternalError',
        code: 500,
      });
    else res.destroy();
  } finally {
    ctx.log?.(
      `[${clusterName}] ${method} ${url.pathname}${url.search} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`,
    );
  }
}
