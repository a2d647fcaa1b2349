/**
 * Temporal connection settings as Temporal users already configure them, read through
 * `@temporalio/envconfig`: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS* and TEMPORAL_GRPC_META_* over the `temporal.toml` profile (TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE) over the defaults. The CLI, the client library and the worker all
 * read them here, so they always connect to the same place.
 */
import os from 'node:os';
import path from 'node:path';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ClientConnectConfig,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { checkRegularFileSync } from './files';

/** Default Temporal frontend when neither the environment nor a profile names one. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** `host:port` or `[v6]:port`; the port is group 2. */
export const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** The largest temporal.toml read. */
const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** The largest TLS certificate or key file read (a certificate chain is a few KB). */
const MAX_TLS_FILE_BYTES = 1024 * 1024;

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
  const overrideEnvVars = definedOnly(env);
  const configFile = configFilePath(env);
  if (configFile) {
    // envconfig reads the file whole and synchronously: a FIFO there would hang the CLI.
    const refused = checkRegularFileSync(configFile.path, MAX_CONFIG_FILE_BYTES, 'ok');
    if (refused) {
      problems.push(`${configFile.name}: ${refused}`);
      return undefined;
    }
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars });
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
  const tlsProblems = tlsFileProblems(profile, env, configFile?.path);
  if (tlsProblems.length > 0) {
    problems.push(...tlsProblems);
    return undefined;
  }
  let loaded: ClientConnectConfig;
  try {
    loaded = toClientOptions(profile);
  } catch (err) {
    problems.push(`TLS settings: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  const { connectionOptions } = loaded;
  const address = connectionOptions.address?.trim() || DEFAULT_TEMPORAL_ADDRESS;
  const addressSource = env.TEMPORAL_ADDRESS?.trim()
    ? 'TEMPORAL_ADDRESS'
    : connectionOptions.address
      ? `profile ${env.TEMPORAL_PROFILE || 'default'}`
      : 'default';
  const hostPort = HOST_PORT.exec(address);
  if (!hostPort) {
    problems.push(
      `${settingName(addressSource)}=${JSON.stringify(address)}: must be host:port such as "127.0.0.1:7233"`,
    );
    return undefined;
  }
  const port = Number(hostPort[2]);
  if (port < 1 || port > 65535) {
    problems.push(`${settingName(addressSource)}=${JSON.stringify(address)}: port ${port} is out of range (1-65535)`);
    return undefined;
  }
  return {
    connection: { ...connectionOptions, address },
    namespace: loaded.namespace || 'default',
    addressSource,
  };
}

/** The variable or profile field an address came from, as messages name it. */
function settingName(addressSource: string): string {
  return addressSource === 'TEMPORAL_ADDRESS' || addressSource === 'default'
    ? 'TEMPORAL_ADDRESS'
    : `${addressSource} address`;
}

/** The temporal.toml envconfig would read, and how to name it: TEMPORAL_CONFIG_FILE or its default path. */
function configFilePath(env: Record<string, string | undefined>): { path: string; name: string } | undefined {
  if (env.TEMPORAL_CONFIG_FILE !== undefined) {
    return { path: env.TEMPORAL_CONFIG_FILE, name: `TEMPORAL_CONFIG_FILE=${env.TEMPORAL_CONFIG_FILE}` };
  }
  let dir: string | undefined;
  if (os.platform() === 'win32') dir = env.APPDATA;
  else if (os.platform() === 'darwin') dir = env.HOME && path.join(env.HOME, 'Library', 'Application Support');
  else dir = env.XDG_CONFIG_HOME || (env.HOME && path.join(env.HOME, '.config'));
  if (!dir) return undefined;
  const file = path.join(dir, 'temporalio', 'temporal.toml');
  return { path: file, name: file };
}

/** The TLS files of a profile, each checked before envconfig reads it, named by the variable or profile field that set it. */
function tlsFileProblems(
  profile: ClientConfigProfile,
  env: Record<string, string | undefined>,
  configFile: string | undefined,
): string[] {
  const tls = profile.tls;
  if (!tls || tls.disabled) return [];
  const fields: [ConfigDataSource | undefined, string, string][] = [
    [tls.clientCert, 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'client_cert_path'],
    [tls.clientKey, 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'client_key_path'],
    [tls.serverCACert, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'server_ca_cert_path'],
  ];
  const problems: string[] = [];
  for (const [source, variable, field] of fields) {
    if (!source || !('path' in source)) continue;
    const refused = checkRegularFileSync(source.path, MAX_TLS_FILE_BYTES, 'refuse');
    if (!refused) continue;
    const name =
      env[variable] === source.path
        ? variable
        : `profile ${env.TEMPORAL_PROFILE || 'default'} tls.${field}${configFile ? ` (in ${configFile})` : ''}`;
    problems.push(`${name}=${source.path}: ${refused}`);
  }
  return problems;
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
