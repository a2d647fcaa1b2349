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

/** Renders the exposition for every cluster; settles the whole fleet first. */
export function renderMetrics(fleet: SimFleet): string {
  const now = fleet.now();
  fleet.settleAll(now);
  const cs = fleet.clusters;
  const out: string[] = [];
  const family = (f: Family, line: (i: number) => string) => {
    out.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    for (let i = 0; i < cs.length; i++) out.push(line(i));
  };
  const counts = cs.map((c) => nodeCounts(c, now));
  const signals = cs.map((c) => workloadSignals(c));
  const label = (i: number) => (cs[i] as (typeof cs)[number]).metricLabels;
  const c = (i: number) => cs[i] as (typeof cs)[number];

  family(FAMILIES.info, (i) => `${FAMILIES.info.name}{${label(i)},version="${c(i).version}"} 1\n`);
  family(FAMILIES.requests, (i) => `${FAMILIES.requests.name}{${label(i)}} ${Math.floor(c(i).counters.requests)}\n`);
  family(FAMILIES.errors, (i) => `${FAMILIES.errors.name}{${label(i)}} ${Math.floor(c(i).counters.errors)}\n`);
  family(FAMILIES.nodes, (i) => `${FAMILIES.nodes.name}{${label(i)}} ${counts[i]?.total ?? 0}\n`);
  family(FAMILIES.ready, (i) => `${FAMILIES.ready.name}{${label(i)}} ${counts[i]?.ready ?? 0}\n`);
  family(FAMILIES.restarts, (i) => `${FAMILIES.restarts.name}{${label(i)}} ${Math.floor(c(i).counters.restarts)}\n`);
  family(FAMILIES.crashloop, (i) => `${FAMILIES.crashloop.name}{${label(i)}} ${crashLoopingPodCount(c(i))}\n`);
  family(FAMILIES.upgrading, (i) => `${FAMILIES.upgrading.name}{${label(i)}} ${c(i).active.length > 0 ? 1 : 0}\n`);
  family(FAMILIES.errorRatio, (i) => `${FAMILIES.errorRatio.name}{${label(i)}} ${num(signals[i]?.errorRatio ?? 0)}\n`);
  family(FAMILIES.latency, (i) => `${FAMILIES.latency.name}{${label(i)}} ${num(signals[i]?.latencyP99 ?? 0)}\n`);
  return out.join('');
}

/** Content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Names of the metric families, for documentation and tests. */
export const METRIC_NAMES: readonly string[] = Object.values(FAMILIES).map((f) => f.name);
