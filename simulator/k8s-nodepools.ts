/**
 * karpenter.sh/v1 NodePools and NodeClaims in a cluster's Kubernetes API (model/automode.ts holds
 * the objects and their replacement over time), the NodeClasses they reference
 * (eks.amazonaws.com/v1 NodeClass on Auto Mode, karpenter.k8s.aws/v1 EC2NodeClass with a
 * self-installed Karpenter), and the Nodes of the NodeClaims.
 *
 * Writes: PATCH of a NodePool with a JSON merge patch (RFC 7386, what @kubernetes/client-node and
 * `kubectl patch --type merge` send) or a JSON patch (RFC 6902, `--type json`), and PUT of the whole
 * object with optimistic concurrency on `metadata.resourceVersion`. A strategic merge patch is
 * refused with 415, as the API server refuses it for custom resources ("strategic merge patch is not
 * supported for custom resources", apiextensions-apiserver); server-side apply is not served.
 * Only metadata.labels, metadata.annotations and spec.disruption.budgets are stored.
 */
import { CONTROL_PLANE_PATCH } from './catalogue';
import type { SimCluster } from './model';
import { invalidBudgets, type DisruptionBudget } from './model/budget-schedule';
import { isDrifted, writeNodePool, type NodePoolState, type SimNodeClaim, type SimNodePool } from './model/automode';
import {
  DEFAULT_EXPIRE_AFTER,
  DRAIN_MS,
  invalidAmiSelectorTerms,
  karpenterNodeName,
  nodeClassOf,
  parseExpireAfter,
  resolvedAmisOf,
  type AmiSelectorTerm,
  type SimNodeClass,
} from './model/karpenter';
import { hexOf, uuidOf } from './random';

interface Answer {
  status: number;
  body: unknown;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON documents from clients, read by field name */
type Json = any;

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function failure(code: number, reason: string, message: string): Answer {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

const ZONES = ['a', 'b', 'c'];
const zoneOf = (c: SimCluster, claim: SimNodeClaim) =>
  `${c.region}${ZONES[Number.parseInt(claim.instanceId.slice(-2), 16) % 3] ?? 'a'}`;
const typeOf = (claim: SimNodeClaim) => (claim.pool === 'system' ? 'c6a.large' : 'm6a.large');

function kubeletOf(minor: string, salt: string): string {
  const patch = CONTROL_PLANE_PATCH[minor] ?? `${minor}.0`;
  return `v${patch}-eks-${hexOf(7, 'kubelet', patch, salt)}`;
}

/** The Node name of a NodeClaim: Auto Mode names nodes by instance ID; Karpenter by private DNS. */
function nodeNameOf(c: SimCluster, claim: SimNodeClaim): string {
  if (c.nodePools?.mode === 'auto') return claim.instanceId;
  return karpenterNodeName(c.region, claim);
}

/** Being deleted: an Auto Mode replacement, or a Karpenter disruption. */
const terminating = (claim: SimNodeClaim) => claim.replacedAt !== undefined || claim.disruption !== undefined;

/** `metadata.managedFields` of an object a tool applied server-side (Terraform's kubernetes_manifest). */
function managedFields(manager: string | undefined, apiVersion: string, at: number): Json {
  if (!manager) return {};
  return {
    managedFields: [
      {
        manager,
        operation: 'Apply',
        apiVersion,
        time: iso(at),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': {} },
      },
    ],
  };
}

function nodeLabels(c: SimCluster, claim: SimNodeClaim, name: string, now: number): Record<string, string> {
  const zone = zoneOf(c, claim);
  return {
    'karpenter.sh/nodepool': claim.pool,
    'karpenter.sh/capacity-type': 'on-demand',
    // Karpenter marks a node initialized once it is Ready (karpenter.sh/docs/concepts/nodeclaims/).
    ...(now >= claim.readyAt ? { 'karpenter.sh/initialized': 'true' } : {}),
    'karpenter.sh/registered': 'true',
    ...(c.nodePools?.mode === 'auto'
      ? { 'eks.amazonaws.com/compute-type': 'auto', 'eks.amazonaws.com/nodeclass': 'default' }
      : { 'karpenter.k8s.aws/ec2nodeclass': 'default' }),
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': typeOf(claim),
    'topology.kubernetes.io/region': c.region,
    'topology.kubernetes.io/zone': zone,
  };
}

/** The Node objects of the cluster's NodeClaims, for `GET /api/v1/nodes`. */
export function nodeClaimNodes(c: SimCluster, now: number): Json[] {
  const state = c.nodePools;
  if (!state) return [];
  return state.claims.map((claim) => {
    const name = nodeNameOf(c, claim);
    const ready = now >= claim.readyAt;
    const kubelet = kubeletOf(claim.version, claim.instanceId);
    const auto = state.mode === 'auto';
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        uid: uuidOf(c.name, 'node', claim.instanceId),
        resourceVersion: String(2000 + (Number.parseInt(claim.instanceId.slice(-4), 16) % 10000) + (ready ? 1 : 0)),
        creationTimestamp: iso(claim.createdAt),
        labels: nodeLabels(c, claim, name, now),
        annotations: { 'karpenter.sh/nodepool-hash-version': 'v3' },
        finalizers: ['karpenter.sh/termination'],
      },
      spec: {
        providerID: `aws:///${zoneOf(c, claim)}/${claim.instanceId}`,
        ...(claim.pool === 'system' && auto
          ? { taints: [{ key: 'CriticalAddonsOnly', value: 'true', effect: 'NoSchedule' }] }
          : {}),
        ...(terminating(claim)
          ? { taints: [{ key: 'karpenter.sh/disrupted', effect: 'NoSchedule' }], unschedulable: true }
          : {}),
      },
      status: {
        capacity: { cpu: '2', memory: '7910400Ki', pods: '29', 'ephemeral-storage': '83873772Ki' },
        allocatable: { cpu: '1930m', memory: '7353400Ki', pods: '29', 'ephemeral-storage': '76224326324' },
        conditions: [
          {
            type: 'Ready',
            status: ready ? 'True' : 'False',
            lastHeartbeatTime: iso(now - (now % 40_000)),
            lastTransitionTime: iso(ready ? claim.readyAt : claim.createdAt),
            reason: ready ? 'KubeletReady' : 'KubeletNotReady',
            message: ready ? 'kubelet is posting ready status' : 'container runtime network not ready',
          },
        ],
        addresses: [{ type: 'Hostname', address: name }],
        nodeInfo: {
          kubeletVersion: kubelet,
          kubeProxyVersion: kubelet,
          osImage: auto
            ? 'Bottlerocket (EKS Auto, Standard) 2025.3.9 (aws-k8s-' + claim.version + ')'
            : 'Amazon Linux 2023',
          containerRuntimeVersion: 'containerd://1.7.25',
          kernelVersion: '6.1.128',
          operatingSystem: 'linux',
          architecture: 'amd64',
          machineID: hexOf(32, claim.instanceId, 'machine'),
          systemUUID: `ec2${hexOf(29, claim.instanceId, 'uuid')}`,
          bootID: uuidOf(claim.instanceId, 'boot'),
        },
      },
    };
  });
}

function renderBudgets(budgets: readonly DisruptionBudget[]): Json[] {
  return budgets.map((b) => ({
    nodes: b.nodes,
    ...(b.reasons ? { reasons: [...b.reasons] } : {}),
    ...(b.schedule !== undefined ? { schedule: b.schedule, duration: b.duration } : {}),
  }));
}

function renderNodePool(c: SimCluster, p: SimNodePool): Json {
  const claims = c.nodePools?.claims.filter((x) => x.pool === p.name) ?? [];
  const karpenter = c.nodePools?.mode === 'karpenter';
  const nc = karpenter && c.nodePools ? nodeClassOf(c.nodePools, p.nodeClassRef.name) : undefined;
  const classReady = !karpenter || (nc !== undefined && resolvedAmisOf(c, nc).length > 0);
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: {
      name: p.name,
      uid: p.uid,
      generation: p.generation,
      resourceVersion: String(p.resourceVersion),
      creationTimestamp: iso(p.createdAt),
      labels: { ...p.labels },
      annotations: { 'karpenter.sh/nodepool-hash': hexOf(16, p.name, p.generation), ...p.annotations },
      ...managedFields(p.fieldManager, 'karpenter.sh/v1', p.createdAt),
    },
    spec: {
      template: {
        metadata: {},
        spec: {
          nodeClassRef: { ...p.nodeClassRef },
          requirements: [
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
            { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
          ],
          expireAfter: karpenter ? (p.expireAfter ?? DEFAULT_EXPIRE_AFTER) : '336h',
          ...(p.name === 'system' && p.builtIn
            ? { taints: [{ key: 'CriticalAddonsOnly', value: 'true', effect: 'NoSchedule' }] }
            : {}),
        },
      },
      disruption: {
        consolidationPolicy: 'WhenEmptyOrUnderutilized',
        consolidateAfter: '30s',
        budgets: renderBudgets(p.budgets),
      },
    },
    status: {
      resources: {
        nodes: String(claims.length),
        cpu: String(claims.length * 2),
        memory: `${claims.length * 7910400}Ki`,
        pods: String(claims.length * 29),
      },
      conditions: [
        {
          type: 'Ready',
          status: classReady ? 'True' : 'False',
          reason: classReady ? 'Ready' : 'UnhealthyDependents',
          message: classReady ? '' : 'NodeClassReady=False',
          lastTransitionTime: iso(p.createdAt),
        },
        {
          type: 'NodeClassReady',
          status: classReady ? 'True' : 'False',
          reason: classReady ? 'NodeClassReady' : 'NodeClassNotReady',
          message: classReady ? '' : `EC2NodeClass "${p.nodeClassRef.name}" is not ready`,
          lastTransitionTime: iso(p.createdAt),
        },
      ],
    },
  };
}

function renderNodeClaim(c: SimCluster, claim: SimNodeClaim, now: number): Json {
  const pool = c.nodePools?.pools.find((p) => p.name === claim.pool);
  const name = nodeNameOf(c, claim);
  const ready = now >= claim.readyAt;
  const drifted = isDrifted(c, claim, now);
  const cond = (type: string, ok: boolean, reason: string) => ({
    type,
    status: ok ? 'True' : 'False',
    reason,
    message: '',
    lastTransitionTime: iso(ok ? claim.readyAt : claim.createdAt),
  });
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodeClaim',
    metadata: {
      name: claim.name,
      uid: uuidOf(c.name, 'nodeclaim', claim.instanceId),
      resourceVersion: String(3000 + (drifted ? 1 : 0) + (ready ? 2 : 0) + (terminating(claim) ? 4 : 0)),
      generation: 1,
      creationTimestamp: iso(claim.createdAt),
      labels: nodeLabels(c, claim, name, now),
      annotations: { 'karpenter.sh/nodepool-hash': hexOf(16, claim.pool, pool?.generation ?? 1) },
      ownerReferences: pool
        ? [
            {
              apiVersion: 'karpenter.sh/v1',
              kind: 'NodePool',
              name: pool.name,
              uid: pool.uid,
              blockOwnerDeletion: true,
            },
          ]
        : [],
      finalizers: ['karpenter.sh/termination'],
      ...(claim.replacedAt !== undefined ? { deletionTimestamp: iso(now) } : {}),
      ...(claim.disruption ? { deletionTimestamp: iso(claim.disruption.since), deletionGracePeriodSeconds: 0 } : {}),
    },
    spec: {
      nodeClassRef: pool ? { ...pool.nodeClassRef } : undefined,
      requirements: [{ key: 'karpenter.sh/nodepool', operator: 'In', values: [claim.pool] }],
      expireAfter: c.nodePools?.mode === 'karpenter' ? (pool?.expireAfter ?? DEFAULT_EXPIRE_AFTER) : '336h',
    },
    status: {
      providerID: `aws:///${zoneOf(c, claim)}/${claim.instanceId}`,
      nodeName: name,
      imageID: claim.imageId ?? `ami-0${hexOf(16, 'automode', claim.version, c.region)}`,
      capacity: { cpu: '2', memory: '7910400Ki', pods: '29' },
      allocatable: { cpu: '1930m', memory: '7353400Ki', pods: '29' },
      conditions: [
        cond('Launched', true, 'Launched'),
        cond('Registered', ready, ready ? 'Registered' : 'NotRegistered'),
        cond('Initialized', ready, ready ? 'Initialized' : 'NotInitialized'),
        cond('Ready', ready, ready ? 'Ready' : 'NotReady'),
        ...(drifted
          ? [
              {
                type: 'Drifted',
                status: 'True',
                // Karpenter's AWS provider names AMI drift AMIDrift (pkg/cloudprovider/drift.go).
                reason: c.nodePools?.mode === 'karpenter' ? 'AMIDrift' : 'NodeClassDrift',
                message: '',
                lastTransitionTime: iso(now),
              },
            ]
          : []),
        // Karpenter sets DisruptionReason for the disruptions it decides, not for a user's delete.
        ...(claim.disruption && claim.disruption.reason !== 'Deleted'
          ? [
              {
                type: 'DisruptionReason',
                status: 'True',
                reason: claim.disruption.reason,
                message: '',
                lastTransitionTime: iso(claim.disruption.since),
              },
            ]
          : []),
      ],
    },
  };
}

function renderNodeClass(c: SimCluster): Json {
  const auto = c.nodePools?.mode === 'auto';
  if (!auto) {
    const nc = c.nodePools?.nodeClasses[0];
    return nc ? renderEc2NodeClass(c, nc) : undefined;
  }
  return {
    apiVersion: 'eks.amazonaws.com/v1',
    kind: 'NodeClass',
    metadata: {
      name: 'default',
      uid: uuidOf(c.name, 'nodeclass', 'default'),
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: iso(c.createdAt),
    },
    spec: {
      role: `${c.name}-auto-node-role`,
      subnetSelectorTerms: [{ tags: { 'kubernetes.io/role/internal-elb': '1' } }],
    },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }] },
  };
}

const renderTerm = (t: AmiSelectorTerm): Json => ({
  ...(t.alias !== undefined ? { alias: t.alias } : {}),
  ...(t.id !== undefined ? { id: t.id } : {}),
  ...(t.tags !== undefined ? { tags: { ...t.tags } } : {}),
  ...(t.name !== undefined ? { name: t.name } : {}),
  ...(t.owner !== undefined ? { owner: t.owner } : {}),
  ...(t.ssmParameter !== undefined ? { ssmParameter: t.ssmParameter } : {}),
});

/**
 * A karpenter.k8s.aws/v1 EC2NodeClass: spec.amiSelectorTerms as stored, status.amis as Karpenter
 * resolves them at the cluster's minor now (karpenter.sh/docs/concepts/nodeclasses/, "status.amis"
 * and "status.conditions": AMIsReady False with AMINotFound when nothing matches, and then Ready False).
 */
function renderEc2NodeClass(c: SimCluster, nc: SimNodeClass): Json {
  const amis = resolvedAmisOf(c, nc);
  const ok = amis.length > 0;
  const cond = (type: string, good: boolean, reason: string, message = '') => ({
    type,
    status: good ? 'True' : 'False',
    reason,
    message,
    lastTransitionTime: iso(nc.createdAt),
    observedGeneration: nc.generation,
  });
  return {
    apiVersion: 'karpenter.k8s.aws/v1',
    kind: 'EC2NodeClass',
    metadata: {
      name: nc.name,
      uid: nc.uid,
      resourceVersion: String(nc.resourceVersion),
      generation: nc.generation,
      creationTimestamp: iso(nc.createdAt),
      labels: { ...nc.labels },
      annotations: {
        'karpenter.k8s.aws/ec2nodeclass-hash': hexOf(16, nc.name, nc.generation),
        'karpenter.k8s.aws/ec2nodeclass-hash-version': 'v4',
        ...nc.annotations,
      },
      ...managedFields(nc.fieldManager, 'karpenter.k8s.aws/v1', nc.createdAt),
      finalizers: ['karpenter.k8s.aws/termination'],
    },
    spec: {
      role: `KarpenterNodeRole-${c.name}`,
      amiSelectorTerms: nc.amiSelectorTerms.map(renderTerm),
      subnetSelectorTerms: [{ tags: { 'karpenter.sh/discovery': c.name } }],
      securityGroupSelectorTerms: [{ tags: { 'karpenter.sh/discovery': c.name } }],
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpProtocolIPv6: 'disabled',
        httpPutResponseHopLimit: 1,
        httpTokens: 'required',
      },
    },
    status: {
      // A stopped controller (compatibility matrix) does not refresh status: resolvedAmisOf keeps its last minor.
      amis: amis.map((a) => ({
        id: a.id,
        name: a.name,
        requirements: [{ key: 'kubernetes.io/arch', operator: 'In', values: [a.arch] }],
      })),
      instanceProfile: `${c.name}_${hexOf(19, c.name, 'instance-profile')}`,
      conditions: [
        cond('AMIsReady', ok, ok ? 'AMIsReady' : 'AMINotFound', ok ? '' : 'AMISelector did not match any AMIs'),
        cond('SubnetsReady', true, 'SubnetsReady'),
        cond('SecurityGroupsReady', true, 'SecurityGroupsReady'),
        cond('InstanceProfileReady', true, 'InstanceProfileReady'),
        cond('ValidationSucceeded', true, 'ValidationSucceeded'),
        // The root condition of operatorpkg's status: False with UnhealthyDependents naming the false ones.
        cond('Ready', ok, ok ? 'Ready' : 'UnhealthyDependents', ok ? '' : 'AMIsReady=False'),
      ],
    },
  };
}

function list(kind: string, apiVersion: string, items: Json[], now: number): Answer {
  return {
    status: 200,
    body: { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(Math.floor(now / 1000)) }, items },
  };
}

/** Which of the served collections a path names: [group/version, plural, name?]. */
function route(c: SimCluster, s: readonly string[]): { plural: string; name?: string } | undefined {
  const state = c.nodePools;
  if (!state || s[0] !== 'apis' || (s.length !== 4 && s.length !== 5)) return undefined;
  const gv = `${s[1]}/${s[2]}`;
  const plural = s[3] as string;
  const served =
    (gv === 'karpenter.sh/v1' && (plural === 'nodepools' || plural === 'nodeclaims')) ||
    (gv === 'eks.amazonaws.com/v1' && plural === 'nodeclasses' && state.mode === 'auto') ||
    (gv === 'karpenter.k8s.aws/v1' && plural === 'ec2nodeclasses' && state.mode === 'karpenter');
  if (!served) return undefined;
  return s.length === 5 ? { plural, name: s[4] as string } : { plural };
}

/** GET of NodePools, NodeClaims or NodeClasses, or undefined when the path is none of them. */
export function readNodePools(c: SimCluster, now: number, s: readonly string[]): Answer | undefined {
  const r = route(c, s);
  const state = c.nodePools;
  if (!r || !state) return undefined;
  const group = `${s[1]}/${s[2]}`;
  const one = (items: Json[], kind: string) => {
    if (r.name === undefined) return list(kind, group, items, now);
    const found = items.find((o) => o.metadata.name === r.name);
    return found ? { status: 200, body: found } : failure(404, 'NotFound', `${r.plural}.${s[1]} "${r.name}" not found`);
  };
  if (r.plural === 'nodepools')
    return one(
      state.pools.map((p) => renderNodePool(c, p)),
      'NodePool',
    );
  if (r.plural === 'nodeclaims')
    return one(
      state.claims.map((x) => renderNodeClaim(c, x, now)),
      'NodeClaim',
    );
  if (state.mode === 'karpenter') {
    return one(
      state.nodeClasses.map((n) => renderEc2NodeClass(c, n)),
      'EC2NodeClass',
    );
  }
  const nc = renderNodeClass(c);
  return one([nc], nc.kind);
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const unescape = (t: string) => t.replace(/~1/g, '/').replace(/~0/g, '~');

/** RFC 6902 JSON patch (add, remove, replace, test, copy, move); a string on failure. */
export function jsonPatch(doc: Json, ops: unknown): Json | string {
  if (!Array.isArray(ops)) return 'a JSON patch is an array of operations';
  let root: Json = structuredClone(doc);
  const locate = (path: string): { parent: Json; key: string } | string => {
    if (path === '') return 'the root cannot be patched';
    const parts = path.split('/').slice(1).map(unescape);
    let parent: Json = root;
    for (const p of parts.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(p)] : isObject(parent) ? parent[p] : undefined;
      if (parent === undefined) return `the path ${path} does not exist`;
    }
    return { parent, key: parts[parts.length - 1] as string };
  };
  const get = (path: string): Json => {
    const at = locate(path);
    if (typeof at === 'string') return undefined;
    return Array.isArray(at.parent) ? at.parent[Number(at.key)] : at.parent?.[at.key];
  };
  const put = (path: string, value: Json, replace: boolean): string | undefined => {
    const at = locate(path);
    if (typeof at === 'string') return at;
    if (Array.isArray(at.parent)) {
      const i = at.key === '-' ? at.parent.length : Number(at.key);
      if (!Number.isInteger(i) || i < 0 || i > at.parent.length) return `index ${at.key} is out of range`;
      at.parent.splice(i, replace ? 1 : 0, value);
    } else if (isObject(at.parent)) {
      if (replace && !(at.key in at.parent)) return `the path ${path} does not exist`;
      at.parent[at.key] = value;
    } else return `the path ${path} does not exist`;
    return undefined;
  };
  const remove = (path: string): string | undefined => {
    const at = locate(path);
    if (typeof at === 'string') return at;
    if (Array.isArray(at.parent)) {
      const i = Number(at.key);
      if (!Number.isInteger(i) || i < 0 || i >= at.parent.length) return `index ${at.key} is out of range`;
      at.parent.splice(i, 1);
    } else if (isObject(at.parent) && at.key in at.parent) delete at.parent[at.key];
    else return `the path ${path} does not exist`;
    return undefined;
  };
  for (const op of ops) {
    if (!isObject(op) || typeof op.path !== 'string') return 'each operation needs an op and a path';
    let err: string | undefined;
    switch (op.op) {
      case 'add':
        err = put(op.path, structuredClone(op.value), false);
        break;
      case 'replace':
        err = put(op.path, structuredClone(op.value), true);
        break;
      case 'remove':
        err = remove(op.path);
        break;
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) err = `test failed at ${op.path}`;
        break;
      case 'copy':
      case 'move': {
        if (typeof op.from !== 'string') return `${String(op.op)} needs from`;
        const v = structuredClone(get(op.from));
        if (v === undefined) return `the path ${op.from} does not exist`;
        if (op.op === 'move') err = remove(op.from);
        err = err ?? put(op.path, v, false);
        break;
      }
      default:
        return `unknown operation ${String(op.op)}`;
    }
    if (err) return err;
    if (op.path === '') root = op.value;
  }
  return root;
}

/**
 * The next object of a PATCH (merge or JSON patch) or PUT (optimistic concurrency on
 * metadata.resourceVersion), or the refusal the API server gives.
 */
function nextObject(
  current: Json,
  resource: string,
  req: { method: string; contentType?: string | undefined; body: string },
): { next: Json } | Answer {
  let body: Json;
  try {
    body = JSON.parse(req.body);
  } catch {
    return failure(400, 'BadRequest', 'the request body is not JSON');
  }
  const type = (req.contentType ?? '').split(';')[0]?.trim();
  const name = current.metadata.name as string;
  if (req.method === 'PUT') {
    if (!isObject(body) || !isObject(body.metadata) || body.metadata.name !== name) {
      return failure(400, 'BadRequest', 'the object name does not match the request');
    }
    if (
      body.metadata.resourceVersion !== undefined &&
      body.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      return failure(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return { next: body };
  }
  if (type === 'application/merge-patch+json') return { next: mergePatch(current, body) };
  if (type === 'application/json-patch+json') {
    const next = jsonPatch(current, body);
    return typeof next === 'string' ? failure(422, 'Invalid', next) : { next };
  }
  if (type === 'application/strategic-merge-patch+json') {
    return failure(415, 'UnsupportedMediaType', 'strategic merge patch is not supported for custom resources');
  }
  return failure(
    415,
    'UnsupportedMediaType',
    'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json',
  );
}

const stringMap = (m: Json): Record<string, string> =>
  Object.fromEntries(Object.entries(isObject(m) ? m : {}).filter(([, v]) => typeof v === 'string')) as Record<
    string,
    string
  >;

/**
 * PATCH or PUT of a NodePool or an EC2NodeClass, DELETE of a NodeClaim (Karpenter), or undefined
 * when the path is none of them.
 */
export function writeNodePools(
  c: SimCluster,
  now: number,
  s: readonly string[],
  req: { method: string; contentType?: string | undefined; body: string; dryRun: boolean },
): Answer | undefined {
  const r = route(c, s);
  const state = c.nodePools;
  if (!r || !state) return undefined;
  const methodNotAllowed = failure(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${req.method})`,
  );
  if (r.name === undefined) return methodNotAllowed;
  if (r.plural === 'nodeclaims' && req.method === 'DELETE' && state.mode === 'karpenter') {
    return deleteNodeClaim(c, state, now, r.name, req.dryRun);
  }
  if (req.method !== 'PATCH' && req.method !== 'PUT') return methodNotAllowed;
  if (r.plural === 'ec2nodeclasses') return writeEc2NodeClass(c, state, now, r.name, req);
  if (r.plural !== 'nodepools') return methodNotAllowed;
  const pool = state.pools.find((p) => p.name === r.name);
  if (!pool) return failure(404, 'NotFound', `nodepools.karpenter.sh "${r.name}" not found`);
  const current = renderNodePool(c, pool);
  const patched = nextObject(current, 'nodepools.karpenter.sh', req);
  if (!('next' in patched)) return patched;
  const next = patched.next;
  const budgets = next?.spec?.disruption?.budgets ?? [{ nodes: '10%' }];
  const invalid = invalidBudgets(budgets);
  if (invalid) return failure(422, 'Invalid', `NodePool.karpenter.sh "${pool.name}" is invalid: ${invalid}`);
  const expireAfter: unknown = next?.spec?.template?.spec?.expireAfter;
  if (
    state.mode === 'karpenter' &&
    expireAfter !== undefined &&
    (typeof expireAfter !== 'string' || (expireAfter !== 'Never' && parseExpireAfter(expireAfter) === undefined))
  ) {
    return failure(
      422,
      'Invalid',
      `NodePool.karpenter.sh "${pool.name}" is invalid: spec.template.spec.expireAfter: Invalid value: must be a duration such as "720h" or "Never"`,
    );
  }
  const annotations = stringMap(next?.metadata?.annotations);
  delete annotations['karpenter.sh/nodepool-hash'];
  const update = {
    budgets: (budgets as Json[]).map((b) => ({
      nodes: b.nodes as string,
      ...(b.reasons ? { reasons: [...(b.reasons as string[])] } : {}),
      ...(b.schedule !== undefined ? { schedule: b.schedule as string, duration: b.duration as string } : {}),
    })),
    annotations,
    labels: stringMap(next?.metadata?.labels),
    ...(typeof expireAfter === 'string' ? { expireAfter } : {}),
  };
  if (req.dryRun) {
    const copy = { ...pool, budgets: update.budgets, annotations, labels: update.labels };
    if (state.mode === 'karpenter') copy.expireAfter = update.expireAfter ?? DEFAULT_EXPIRE_AFTER;
    return { status: 200, body: renderNodePool(c, copy) };
  }
  writeNodePool(state, pool, update);
  state.writes.push({
    at: now,
    kind: 'NodePool',
    name: pool.name,
    annotations: { ...annotations },
    budgets: structuredClone(update.budgets),
  });
  return { status: 200, body: renderNodePool(c, pool) };
}

/**
 * PATCH or PUT of an EC2NodeClass: metadata.labels, metadata.annotations and spec.amiSelectorTerms
 * are stored (validated as the CRD validates them); the rest of the spec is fixed. `generation`
 * moves when the spec changes, `resourceVersion` on every write.
 */
function writeEc2NodeClass(
  c: SimCluster,
  state: NodePoolState,
  now: number,
  name: string,
  req: { method: string; contentType?: string | undefined; body: string; dryRun: boolean },
): Answer {
  const nc = nodeClassOf(state, name);
  if (!nc) return failure(404, 'NotFound', `ec2nodeclasses.karpenter.k8s.aws "${name}" not found`);
  const current = renderEc2NodeClass(c, nc);
  const patched = nextObject(current, 'ec2nodeclasses.karpenter.k8s.aws', req);
  if (!('next' in patched)) return patched;
  const next = patched.next;
  const terms: unknown = next?.spec?.amiSelectorTerms;
  const invalid = invalidAmiSelectorTerms(terms);
  if (invalid) return failure(422, 'Invalid', `EC2NodeClass.karpenter.k8s.aws "${name}" is invalid: ${invalid}`);
  const annotations = stringMap(next?.metadata?.annotations);
  delete annotations['karpenter.k8s.aws/ec2nodeclass-hash'];
  delete annotations['karpenter.k8s.aws/ec2nodeclass-hash-version'];
  const amiSelectorTerms: AmiSelectorTerm[] = (terms as Json[]).map((t) => ({
    ...(typeof t.alias === 'string' ? { alias: t.alias } : {}),
    ...(typeof t.id === 'string' ? { id: t.id } : {}),
    ...(isObject(t.tags) ? { tags: stringMap(t.tags) } : {}),
    ...(typeof t.name === 'string' ? { name: t.name } : {}),
    ...(typeof t.owner === 'string' ? { owner: t.owner } : {}),
    ...(typeof t.ssmParameter === 'string' ? { ssmParameter: t.ssmParameter } : {}),
  }));
  const specChanged = JSON.stringify(amiSelectorTerms) !== JSON.stringify(nc.amiSelectorTerms);
  const updated: SimNodeClass = {
    ...nc,
    amiSelectorTerms,
    annotations,
    labels: stringMap(next?.metadata?.labels),
    generation: nc.generation + (specChanged ? 1 : 0),
    resourceVersion: nc.resourceVersion + 1,
  };
  if (req.dryRun) return { status: 200, body: renderEc2NodeClass(c, updated) };
  Object.assign(nc, updated);
  state.writes.push({
    at: now,
    kind: 'EC2NodeClass',
    name,
    annotations: { ...annotations },
    amiSelectorTerms: structuredClone(amiSelectorTerms),
  });
  return { status: 200, body: renderEc2NodeClass(c, nc) };
}

/**
 * DELETE of a NodeClaim: Karpenter's termination finalizer drains the node (PDBs honoured) and the
 * pool's pending pods bring a replacement with the NodeClass's current AMI (karpenter.sh/docs/
 * concepts/disruption/, "Manual Methods": deleting a NodeClaim; not rate-limited by budgets).
 */
function deleteNodeClaim(c: SimCluster, state: NodePoolState, now: number, name: string, dryRun: boolean): Answer {
  const claim = state.claims.find((x) => x.name === name);
  if (!claim) return failure(404, 'NotFound', `nodeclaims.karpenter.sh "${name}" not found`);
  if (!dryRun && !claim.disruption) {
    const record = {
      pool: claim.pool,
      nodeClaim: claim.name,
      node: karpenterNodeName(c.region, claim),
      reason: 'Deleted' as const,
      start: now,
    };
    state.disruptions.push(record);
    claim.disruption = { reason: 'Deleted', since: now, drainAt: now + DRAIN_MS, record };
    state.advancedTo = Math.min(state.advancedTo, now);
  }
  const body = renderNodeClaim(c, claim, now);
  if (dryRun) body.metadata.deletionTimestamp = iso(now);
  return { status: 200, body };
}

/**
 * A self-installed Karpenter's controller: `kube-system/karpenter`, two replicas of the chart's
 * image at the fleet file's version (what `kubectl get deploy -n kube-system karpenter -o
 * jsonpath='{..image}'` reads to tell the version). Its pods are not among the simulated pods.
 */
export function karpenterDeployments(c: SimCluster): Json[] {
  const version = c.nodePools?.karpenterVersion;
  if (c.nodePools?.mode !== 'karpenter' || !version) return [];
  const labels = { 'app.kubernetes.io/name': 'karpenter', 'app.kubernetes.io/instance': 'karpenter' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'karpenter',
        namespace: 'kube-system',
        uid: uuidOf(c.name, 'deployment', 'kube-system', 'karpenter'),
        resourceVersion: '4242',
        creationTimestamp: iso(c.createdAt),
        generation: 1,
        labels: { ...labels, 'app.kubernetes.io/version': version, 'helm.sh/chart': `karpenter-${version}` },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'controller', image: `public.ecr.aws/karpenter/controller:${version}` }] },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      },
      status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
    },
  ];
}
/* eslint-enable @typescript-eslint/no-explicit-any */
