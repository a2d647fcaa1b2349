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

/** A custom resource's additionalPrinterColumn: its cell is what `jsonPath` finds in the object. */
interface PrinterColumn {
  name: string;
  type: string;
  priority?: number;
  jsonPath: string;
}

type CustomKind = 'NodePool' | 'NodeClaim' | 'EC2NodeClass';

const printerColumn = (name: string, jsonPath: string, more: Partial<PrinterColumn> = {}): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath,
  ...more,
});
const conditionColumn = (type: string, more: Partial<PrinterColumn> = {}) =>
  printerColumn(type, `.status.conditions[?(@.type=="${type}")].status`, more);
const CREATED = printerColumn('Age', '.metadata.creationTimestamp', { type: 'date' });
const DETAIL = { priority: 1 };

/**
 * Custom resources print their CRD's additionalPrinterColumns, in the CRD's order: Karpenter v1's
 * karpenter.sh_nodepools.yaml, karpenter.sh_nodeclaims.yaml and karpenter.k8s.aws_ec2nodeclasses.yaml.
 * Each cell is the column's jsonPath "evaluated against each custom resource" (Kubernetes API
 * reference, CustomResourceDefinition v1, CustomResourceColumnDefinition).
 */
const PRINTER_COLUMNS: Record<CustomKind, PrinterColumn[]> = {
  NodePool: [
    printerColumn('NodeClass', '.spec.template.spec.nodeClassRef.name'),
    printerColumn('Nodes', '.status.resources.nodes'),
    conditionColumn('Ready'),
    CREATED,
    printerColumn('Weight', '.spec.weight', { type: 'integer', ...DETAIL }),
    printerColumn('CPU', '.status.resources.cpu', DETAIL),
    printerColumn('Memory', '.status.resources.memory', DETAIL),
  ],
  NodeClaim: [
    printerColumn('Type', '.metadata.labels.node\\.kubernetes\\.io/instance-type'),
    printerColumn('Capacity', '.metadata.labels.karpenter\\.sh/capacity-type'),
    printerColumn('Zone', '.metadata.labels.topology\\.kubernetes\\.io/zone'),
    printerColumn('Node', '.status.nodeName'),
    conditionColumn('Ready'),
    CREATED,
    printerColumn('ImageID', '.status.imageID', DETAIL),
    printerColumn('ID', '.status.providerID', DETAIL),
    printerColumn('NodePool', '.metadata.labels.karpenter\\.sh/nodepool', DETAIL),
    printerColumn('NodeClass', '.spec.nodeClassRef.name', DETAIL),
    conditionColumn('Drifted', DETAIL),
  ],
  EC2NodeClass: [conditionColumn('Ready'), CREATED, printerColumn('Role', '.spec.role', DETAIL)],
};

/** The Table's columns for a custom resource: Name, then its printer columns described by their JSONPath. */
function crdColumns(kind: CustomKind): Column[] {
  return [NAME, ...PRINTER_COLUMNS[kind].map(({ jsonPath, ...column }) => ({ ...column, description: jsonPath }))];
}

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
  NodePool: crdColumns('NodePool'),
  NodeClaim: crdColumns('NodeClaim'),
  EC2NodeClass: crdColumns('EC2NodeClass'),
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

/**
 * What a printer column's JSONPath finds in `o`, null when nothing: the subset Karpenter's CRDs use,
 * field names (`\\.` escapes a dot inside one) and one `[?(@.field=="value")]` filter, whose first
 * match the API server prints.
 */
function printerCell(o: Obj, jsonPath: string): unknown {
  let value: Obj = o;
  for (const step of jsonPath.match(/\[\?\(@\.\w+=="[^"]*"\)\]|(?:\\.|[^.[])+/g) ?? []) {
    if (value === undefined || value === null) return null;
    const filter = /^\[\?\(@\.(\w+)=="([^"]*)"\)\]$/.exec(step);
    if (!filter) value = value[step.replace(/\\\./g, '.')];
    else value = Array.isArray(value) ? value.find((x: Obj) => x?.[filter[1] as string] === filter[2]) : undefined;
  }
  return value ?? null;
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
    case 'NodeClaim':
    case 'EC2NodeClass':
      return [o.metadata.name, ...PRINTER_COLUMNS[kind].map((c) => printerCell(o, c.jsonPath))];
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
