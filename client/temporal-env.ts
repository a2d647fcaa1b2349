/**
 * Temporal connection settings as Temporal users already configure them, read through
 * `@temporalio/envconfig`: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS* and TEMPORAL_GRPC_META_* over the `temporal.toml` profile (TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE) over the defaults. The CLI, the client library and the worker all
 * read them here, so they always connect to the same place.
 */
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';

/** Default Temporal frontend when neither the environment nor a profile names one. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** `host:port` or `[v6]:port`; the port is group 2. */
export const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Temporal's own variables, read by `@temporalio/envconfig` (documentation and deployment checks). */
export const TEMPORAL_ENV_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
] as const;

/** Resolved Temporal connection settings. */
export interface TemporalConnectConfig {
  /** Options for `Connection.connect` / `NativeConnection.connect` (address, TLS, API key, gRPC metadata). */
  connection: ClientConnectConfig['connectionOptions'] & { address: string };
  namespace: string;
  /** Where the address came from, for messages: `TEMPORAL_ADDRESS`, `profile <name>` or `default`. */
  addressSource: string;
}

/**
 * Resolves the connection settings from `env` (and the config file it points at). Appends one
 * line per problem to `problems`, naming the variable, and returns undefined when unusable.
 */
export function loadTemporalConnectConfig(
  env: Record<string, string | undefined>,
  problems: string[],
): TemporalConnectConfig | undefined {
  let loaded: ClientConnectConfig;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: definedOnly(env) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const name = env.TEMPORAL_PROFILE
      ? 'TEMPORAL_PROFILE'
      : env.TEMPORAL_CONFIG_FILE
        ? 'TEMPORAL_CONFIG_FILE'
        : 'temporal.toml';
    problems.push(`${name}: ${message}`);
    return undefined;
  }
  const { connectionOptions } = loaded;
  const address = connectionOptions.address?.trim() || DEFAULT_TEMPORAL_ADDRESS;
  if (!HOST_PORT.test(address)) {
    problems.push(`TEMPORAL_ADDRESS=${JSON.stringify(address)}: must be host:port such as "127.0.0.1:7233"`);
    return undefined;
  }
  const addressSource = env.TEMPORAL_ADDRESS?.trim()
    ? 'TEMPORAL_ADDRESS'
    : connectionOptions.address
      ? `profile ${env.TEMPORAL_PROFILE || 'default'}`
      : 'default';
  return {
    connection: { ...connectionOptions, address },
    namespace: loaded.namespace || 'default',
    addressSource,
  };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
