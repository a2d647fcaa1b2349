/**
 * The Temporal server's own request counters, read from its Prometheus endpoint (`temporal server
 * start-dev --metrics-port N`). Heartbeats and queries leave no history event, so a benchmark that
 * wants them measured rather than estimated scrapes the server before and after a run and takes
 * the difference of `service_requests{service_name="frontend",operation=…}`: every request a
 * client or worker made, as the frontend counted it.
 */

/** Frontend operations that are billed actions and leave no history event. */
export const HEARTBEAT_OPERATIONS = ['RecordActivityTaskHeartbeat', 'RecordActivityTaskHeartbeatById'] as const;
export const QUERY_OPERATIONS = ['QueryWorkflow'] as const;

/** One sample line: `name{label="value",…} 12`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition format (comments skipped; timestamps ignored). */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = Number(m[3]);
    if (Number.isFinite(value)) samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

/**
 * Requests the frontend counted, by operation, for one namespace. Counters of other services
 * (history, matching) repeat some of the same operations internally and are left out.
 */
export function frontendRequests(samples: readonly Sample[], namespace: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== 'service_requests' && s.name !== 'service_requests_total') continue;
    if (s.labels.service_name !== 'frontend' || s.labels.namespace !== namespace) continue;
    const op = s.labels.operation;
    if (op) out[op] = (out[op] ?? 0) + s.value;
  }
  return out;
}

/** after − before per operation (operations absent before count from 0); zero differences dropped. */
export function requestDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d !== 0) out[op] = d;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Sum of the given operations in a delta. */
export function sumOperations(delta: Record<string, number>, ops: readonly string[]): number {
  return ops.reduce((n, op) => n + (delta[op] ?? 0), 0);
}

/** Scrapes the server's `/metrics` once and returns the frontend's request counters for `namespace`. */
export async function scrapeFrontendRequests(metricsUrl: string, namespace: string): Promise<Record<string, number>> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`GET ${metricsUrl}: HTTP ${res.status}`);
  return frontendRequests(parsePrometheusText(await res.text()), namespace);
}
