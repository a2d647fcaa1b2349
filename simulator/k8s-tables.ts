/**
 * Server-side printing: the `meta.k8s.io/v1` Table a client gets when it asks for
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get does). Columns and cells
 * follow the API server's printers (kubernetes pkg/printers/internalversion/printers.go); a kind
 * without a printer gets the default one, Name and Created At, as the API server's
 * DefaultTableConvertor gives. Rows carry the object's metadata (`includeObject=Metadata`,
 * kubectl's default), which kubectl needs for `-A` (NAMESPACE) and `--show-labels`.
 */

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description: string;
}

/** The kinds the simulator prints; anything else gets the default table. */
export type TableKind =
  | 'Node'
  | 'Pod'
  | 'PodDisruptionBudget'
  | 'Namespace'
  | 'Secret'
  | 'DaemonSet'
  | 'Deployment'
  | 'StatefulSet'
  | 'Lease'
  | 'NodePool'
  | 'NodeClaim'
  | 'EC2NodeClass';

const AGE: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
};
const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
};

const COLUMNS: Record<TableKind, Column[]> = {
  Node: [
    NAME,
    { name: 'Status', type: 'string', description: 'The status of the node' },
    { name: 'Roles', type: 'string', description: 'The roles of the node' },
    AGE,
    { name: 'Version', type: 'string', description: 'Kubelet Version reported by the node.' },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node.' },
    { name: 'External-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node.' },
    { name: 'OS-Image', type: 'string', priority: 1, description: 'OS Image reported by the node.' },
    { name: 'Kernel-Version', type: 'string', priority: 1, description: 'Kernel Version reported by the node.' },
    {
      name: 'Container-Runtime',
      type: 'string',
      priority: 1,
      description: 'Container Runtime Version reported by the node.',
    },
  ],
  Pod: [
    NAME,
    { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.' },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.' },
    {
      name: 'Restarts',
      type: 'string',
      description: 'The number of times the containers in this pod have been restarted.',
    },
    AGE,
    { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.' },
    { name: 'Node', type: 'string', priority: 1, description: 'Name of the node the pod is assigned to.' },
    { name: 'Nominated Node', type: 'string', priority: 1, description: 'Name of the nominated node.' },
    { name: 'Readiness Gates', type: 'string', priority: 1, description: 'Pod readiness gates.' },
  ],
  PodDisruptionBudget: [
    NAME,
    { name: 'Min Available', type: 'string', description: 'The minimum number of pods that must be available.' },
    { name: 'Max Unavailable', type: 'string', description: 'The maximum number of pods that may be unavailable.' },
    {
      name: 'Allowed Disruptions',
      type: 'integer',
      description: 'Calculated number of pods that may be disrupted at this time.',
    },
    AGE,
  ],
  Namespace: [NAME, { name: 'Status', type: 'string', description: 'The status of the namespace' }, AGE],
  Secret: [
    NAME,
    { name: 'Type', type: 'string', description: 'Used to facilitate programmatic handling of secret data.' },
    { name: 'Data', type: 'string', description: 'Contains the secret data.' },
    AGE,
  ],
  DaemonSet: [
    NAME,
    { name: 'Desired', type: 'integer', description: 'The number of nodes that should be running the daemon pod.' },
    { name: 'Current', type: 'integer', description: 'The number of nodes running at least one daemon pod.' },
    {
      name: 'Ready',
      type: 'integer',
      description:
        'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
    },
    {
      name: 'Up-to-date',
      type: 'integer',
      description: 'The total number of nodes that are running updated daemon pod',
    },
    {
      name: 'Available',
      type: 'integer',
      description:
        'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.',
    },
    {
      name: 'Node Selector',
      type: 'string',
      description: 'NodeSelector is a selector which must be true for the pod to fit on a node.',
    },
    AGE,
  ],
  Deployment: [
    NAME,
    { name: 'Ready', type: 'string', description: 'Number of the pod with ready state' },
    {
      name: 'Up-to-date',
      type: 'integer',
      description:
        'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
    },
    {
      name: 'Available',
      type: 'integer',
      description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
    },
    AGE,
  ],
  StatefulSet: [NAME, { name: 'Ready', type: 'string', description: 'Number of the pod with ready state' }, AGE],
  Lease: [NAME, { name: 'Holder', type: 'string', description: 'The holder identity of the lease.' }, AGE],
  // Custom resources print their CRD's additionalPrinterColumns (karpenter.sh_nodepools.yaml and
  // karpenter.sh_nodeclaims.yaml of Karpenter v1).
  NodePool: [
    NAME,
    { name: 'NodeClass', type: 'string', description: '.spec.template.spec.nodeClassRef.name' },
    { name: 'Nodes', type: 'string', description: '.status.resources.nodes' },
    { name: 'Ready', type: 'string', description: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', description: '.metadata.creationTimestamp' },
    { name: 'Weight', type: 'integer', priority: 1, description: '.spec.weight' },
    { name: 'CPU', type: 'string', priority: 1, description: '.status.resources.cpu' },
    { name: 'Memory', type: 'string', priority: 1, description: '.status.resources.memory' },
  ],
  NodeClaim: [
    NAME,
    { name: 'Type', type: 'string', description: '.metadata.labels.node\\.kubernetes\\.io/instance-type' },
    { name: 'Capacity', type: 'string', description: '.metadata.labels.karpenter\\.sh/capacity-type' },
    { name: 'Zone', type: 'string', description: '.metadata.labels.topology\\.kubernetes\\.io/zone' },
    { name: 'Node', type: 'string', description: '.status.nodeName' },
    { name: 'Ready', type: 'string', description: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', description: '.metadata.creationTimestamp' },
    { name: 'ImageID', type: 'string', priority: 1, description: '.status.imageID' },
    { name: 'ID', type: 'string', priority: 1, description: '.status.providerID' },
    { name: 'NodePool', type: 'string', priority: 1, description: '.metadata.labels.karpenter\\.sh/nodepool' },
    { name: 'NodeClass', type: 'string', priority: 1, description: '.spec.nodeClassRef.name' },
    { name: 'Drifted', type: 'string', priority: 1, description: '.status.conditions[?(@.type=="Drifted")].status' },
  ],
  // karpenter.k8s.aws_ec2nodeclasses.yaml of Karpenter v1.
  EC2NodeClass: [
    NAME,
    { name: 'Ready', type: 'string', description: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', description: '.metadata.creationTimestamp' },
    { name: 'Role', type: 'string', priority: 1, description: '.spec.role' },
  ],
};

const DEFAULT_COLUMNS: Column[] = [NAME, { name: 'Created At', type: 'date', description: AGE.description }];

/** True when the Accept header asks for a meta.k8s.io/v1 Table (the first acceptable type wins). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const params = part.split(';').map((p) => p.trim());
    const type = params[0];
    const has = (k: string, v: string) => params.includes(`${k}=${v}`);
    if (type === 'application/json' && has('as', 'Table') && has('g', 'meta.k8s.io') && has('v', 'v1')) return true;
    if (type === 'application/json' && !params.some((p) => p.startsWith('as='))) return false;
    if (type === '*/*') return false;
  }
  return false;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration: "45s", "3m20s", "5h12m", "3d4h", "2y30d". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8)
    return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered API objects, read by field name */
type Obj = any;

function age(o: Obj, now: number): string {
  return humanDuration(now - Date.parse(o.metadata.creationTimestamp));
}

function nodeCells(n: Obj, now: number): unknown[] {
  const ready = n.status.conditions.find((c: Obj) => c.type === 'Ready')?.status === 'True';
  const status = `${ready ? 'Ready' : 'NotReady'}${n.spec.unschedulable ? ',SchedulingDisabled' : ''}`;
  const roles = Object.keys(n.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  const address = (type: string) => n.status.addresses.find((a: Obj) => a.type === type)?.address ?? '<none>';
  const info = n.status.nodeInfo;
  return [
    n.metadata.name,
    status,
    roles.length ? roles.sort().join(',') : '<none>',
    age(n, now),
    info.kubeletVersion,
    address('InternalIP'),
    address('ExternalIP'),
    info.osImage,
    info.kernelVersion,
    info.containerRuntimeVersion,
  ];
}

function podCells(p: Obj, now: number): unknown[] {
  const statuses: Obj[] = p.status.containerStatuses ?? [];
  const ready = statuses.filter((s) => s.ready).length;
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state.waiting.reason as string | undefined;
  const restarts = statuses.reduce((sum, s) => sum + (s.restartCount as number), 0);
  const lastRestart = statuses
    .map((s) => s.lastState?.terminated?.finishedAt as string | undefined)
    .filter((t): t is string => t !== undefined)
    .map((t) => Date.parse(t))
    .sort((a, b) => b - a)[0];
  return [
    p.metadata.name,
    `${ready}/${p.spec.containers.length}`,
    waiting ?? p.status.phase,
    lastRestart !== undefined ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts),
    age(p, now),
    p.status.podIP ?? '<none>',
    p.spec.nodeName ?? '<none>',
    '<none>',
    '<none>',
  ];
}

function pdbCells(p: Obj, now: number): unknown[] {
  const show = (v: unknown) => (v === undefined ? 'N/A' : String(v));
  return [
    p.metadata.name,
    show(p.spec.minAvailable),
    show(p.spec.maxUnavailable),
    p.status.disruptionsAllowed,
    age(p, now),
  ];
}

function daemonSetCells(d: Obj, now: number): unknown[] {
  const s = d.status;
  const selector = Object.entries(d.spec.template.spec.nodeSelector ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return [
    d.metadata.name,
    s.desiredNumberScheduled,
    s.currentNumberScheduled,
    s.numberReady,
    s.updatedNumberScheduled,
    s.numberAvailable,
    selector || '<none>',
    age(d, now),
  ];
}

function conditionOf(o: Obj, type: string): unknown {
  const found = (o.status?.conditions as Obj[] | undefined)?.find((x) => x.type === type);
  return found ? found.status : null;
}

function cellsOf(kind: TableKind | undefined, o: Obj, now: number): unknown[] {
  switch (kind) {
    case 'Node':
      return nodeCells(o, now);
    case 'Pod':
      return podCells(o, now);
    case 'PodDisruptionBudget':
      return pdbCells(o, now);
    case 'Namespace':
      return [o.metadata.name, o.status.phase, age(o, now)];
    case 'Secret':
      return [o.metadata.name, o.type, Object.keys(o.data ?? {}).length, age(o, now)];
    case 'DaemonSet':
      return daemonSetCells(o, now);
    case 'Deployment':
      return [
        o.metadata.name,
        `${o.status.readyReplicas ?? 0}/${o.spec.replicas ?? 0}`,
        o.status.updatedReplicas ?? 0,
        o.status.availableReplicas ?? 0,
        age(o, now),
      ];
    case 'StatefulSet':
      return [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, age(o, now)];
    case 'Lease':
      return [o.metadata.name, o.spec.holderIdentity ?? '', age(o, now)];
    case 'NodePool':
      return [
        o.metadata.name,
        o.spec.template.spec.nodeClassRef?.name ?? null,
        o.status?.resources?.nodes ?? null,
        conditionOf(o, 'Ready'),
        o.metadata.creationTimestamp,
        o.spec.weight ?? null,
        o.status?.resources?.cpu ?? null,
        o.status?.resources?.memory ?? null,
      ];
    case 'EC2NodeClass':
      return [o.metadata.name, conditionOf(o, 'Ready'), o.metadata.creationTimestamp, o.spec.role ?? null];
    case 'NodeClaim': {
      const l = o.metadata.labels ?? {};
      return [
        o.metadata.name,
        l['node.kubernetes.io/instance-type'] ?? null,
        l['karpenter.sh/capacity-type'] ?? null,
        l['topology.kubernetes.io/zone'] ?? null,
        o.status?.nodeName ?? null,
        conditionOf(o, 'Ready'),
        o.metadata.creationTimestamp,
        o.status?.imageID ?? null,
        o.status?.providerID ?? null,
        l['karpenter.sh/nodepool'] ?? null,
        o.spec?.nodeClassRef?.name ?? null,
        conditionOf(o, 'Drifted'),
      ];
    }
    default:
      return [o.metadata.name, o.metadata.creationTimestamp];
  }
}

/** A Table of `objects` (one row each, with their metadata). */
export function toTable(kind: string, objects: Obj[], now: number, listMetadata: Obj = {}): unknown {
  const known = kind in COLUMNS ? (kind as TableKind) : undefined;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMetadata,
    columnDefinitions: known ? COLUMNS[known] : DEFAULT_COLUMNS,
    rows: objects.map((o) => ({
      cells: cellsOf(known, o, now),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
