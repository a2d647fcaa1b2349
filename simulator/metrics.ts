/**
 * `/metrics` in the Prometheus text exposition format (0.0.4). Every series carries `cluster`
 * and `region`, so a health gate can select one cluster:
 * `max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"})`.
 *
 * Counters grow in simulated time (at `--time-scale 600`, a rate() over wall-clock seconds is
 * 600 times the simulated rate); gauges describe the simulated moment of the scrape.
 */
import { crashLoopingPodCount, workloadSignals, type SimFleet } from './model';
import { nodeCounts } from './workloads';

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
}

const FAMILIES = {
  info: {
    name: 'fleetwave_sim_cluster_info',
    type: 'gauge',
    help: 'Always 1; labels carry the control-plane version.',
  },
  requests: {
    name: 'fleetwave_sim_apiserver_requests_total',
    type: 'counter',
    help: 'Requests served by the cluster API server (simulated background traffic plus real calls).',
  },
  errors: {
    name: 'fleetwave_sim_apiserver_request_errors_total',
    type: 'counter',
    help: 'API server requests answered with a 5xx status.',
  },
  nodes: {
    name: 'fleetwave_sim_nodes',
    type: 'gauge',
    help: 'Nodes registered, including surge nodes of a rolling update.',
  },
  ready: { name: 'fleetwave_sim_nodes_ready', type: 'gauge', help: 'Nodes whose Ready condition is True.' },
  restarts: {
    name: 'fleetwave_sim_pod_restarts_total',
    type: 'counter',
    help: 'Container restarts across the cluster.',
  },
  crashloop: { name: 'fleetwave_sim_pods_crashlooping', type: 'gauge', help: 'Pods waiting in CrashLoopBackOff.' },
  upgrading: {
    name: 'fleetwave_sim_upgrade_in_progress',
    type: 'gauge',
    help: '1 while a control-plane, node group or add-on update of the cluster is in progress.',
  },
  errorRatio: {
    name: 'fleetwave_sim_workload_error_ratio',
    type: 'gauge',
    help: 'Share of failed requests of the cluster workloads (healthy 0.001-0.004, degraded 0.05 or more).',
  },
  latency: {
    name: 'fleetwave_sim_workload_latency_p99_seconds',
    type: 'gauge',
    help: '99th percentile request latency of the cluster workloads.',
  },
} as const satisfies Record<string, Family>;

/** A gauge value with at most six significant digits, as Prometheus prints them. */
function num(v: number): string {
  return String(Number(v.toPrecision(6)));
}

const ORDER = [
  FAMILIES.requests,
  FAMILIES.errors,
  FAMILIES.nodes,
  FAMILIES.ready,
  FAMILIES.restarts,
  FAMILIES.crashloop,
  FAMILIES.upgrading,
  FAMILIES.errorRatio,
  FAMILIES.latency,
] as const;

/** `name{cluster="…",region="…"} ` per family, built once per cluster: most of a scrape is these bytes. */
const prefixCache = new WeakMap<object, string[]>();

/** Renders the exposition for every cluster; settles the whole fleet first. */
export function renderMetrics(fleet: SimFleet): string {
  const now = fleet.now();
  fleet.settleAll(now);
  const cs = fleet.clusters;
  const n = cs.length;
  // One pass over the clusters, one column per family; then one block per family.
  const columns: string[][] = ORDER.map(() => new Array<string>(n));
  const info = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const c = cs[i] as (typeof cs)[number];
    let prefixes = prefixCache.get(c);
    if (!prefixes) {
      prefixes = ORDER.map((f) => `${f.name}{${c.metricLabels}} `);
      prefixCache.set(c, prefixes);
    }
    const counts = nodeCounts(c, now);
    const signals = workloadSignals(c);
    const values = [
      Math.floor(c.counters.requests),
      Math.floor(c.counters.errors),
      counts.total,
      counts.ready,
      Math.floor(c.counters.restarts),
      crashLoopingPodCount(c),
      c.active.length > 0 ? 1 : 0,
    ];
    for (let k = 0; k < values.length; k++) (columns[k] as string[])[i] = `${prefixes[k]}${values[k]}\n`;
    (columns[7] as string[])[i] = `${prefixes[7]}${num(signals.errorRatio)}\n`;
    (columns[8] as string[])[i] = `${prefixes[8]}${num(signals.latencyP99)}\n`;
    info[i] = `${FAMILIES.info.name}{${c.metricLabels},version="${c.version}"} 1\n`;
  }
  const header = (f: Family) => `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
  const out: string[] = [header(FAMILIES.info), info.join('')];
  ORDER.forEach((f, k) => out.push(header(f), (columns[k] as string[]).join('')));
  return out.join('');
}

/** Content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Names of the metric families, for documentation and tests. */
export const METRIC_NAMES: readonly string[] = Object.values(FAMILIES).map((f) => f.name);
