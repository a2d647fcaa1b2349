/**
 * Seeding core/v1 Secrets into a simulated cluster (`POST /sim/secrets`): what an operator would
 * have applied with `kubectl create secret` before fleetwave reads it. The rules are those of
 * https://kubernetes.io/docs/concepts/configuration/secret/: the name is a DNS subdomain, each key
 * is made of alphanumerics, `-`, `_` and `.`, `data` values are base64, `stringData` values are
 * plain text merged into `data` (a key in both takes the stringData value), the type defaults to
 * Opaque, and one Secret holds at most 1 MiB.
 */
import type { SimFleet } from './model';
import { putSecret } from './k8s-state';
import { uuidOf } from './random';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_SECRET_BYTES = 1024 * 1024;

/** The body of `POST /sim/secrets`. */
export interface SecretSeed {
  cluster: string;
  namespace: string;
  name: string;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** Stores the Secret of `body`; answers the stored object's name, or why the body is refused. */
export function seedSecret(fleet: SimFleet, body: Record<string, unknown>): { status: number; body: unknown } {
  const refuse = (error: string, status = 400) => ({ status, body: { error } });
  const { cluster, namespace, name } = body;
  if (typeof cluster !== 'string') return refuse('cluster: must be a cluster name');
  const c = fleet.byName.get(cluster);
  if (!c) return refuse(`no cluster named "${cluster}"`, 404);
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))
    return refuse('namespace: must be a DNS label (RFC 1123)');
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name))
    return refuse('name: must be a DNS subdomain (RFC 1123)');
  if (body.type !== undefined && (typeof body.type !== 'string' || !body.type)) return refuse('type: must be a string');
  const data: Record<string, string> = {};
  for (const field of ['data', 'stringData'] as const) {
    const map = body[field];
    if (map === undefined) continue;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) return refuse(`${field}: must be an object`);
    for (const [key, value] of Object.entries(map)) {
      if (!SECRET_KEY.test(key))
        return refuse(`${field}[${key}]: a key must consist of alphanumerics, '-', '_' or '.'`);
      if (typeof value !== 'string') return refuse(`${field}[${key}]: must be a string`);
      if (field === 'data' && !BASE64.test(value)) return refuse(`data[${key}]: must be base64`);
      data[key] = field === 'data' ? value : Buffer.from(value, 'utf8').toString('base64');
    }
  }
  const bytes = Object.values(data).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  if (bytes > MAX_SECRET_BYTES) return refuse('data: a Secret holds at most 1 MiB');
  const now = fleet.now();
  const stored = putSecret(c, {
    namespace,
    name,
    type: typeof body.type === 'string' ? body.type : 'Opaque',
    data,
    createdAt: now,
    uid: uuidOf(c.name, 'secret', namespace, name, String(now)),
  });
  return { status: 200, body: { cluster, namespace, name, keys: Object.keys(stored.data).sort() } };
}
