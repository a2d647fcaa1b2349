/**
 * The production shape of Temporal that docker-compose and Helm users run, for tests: the Temporal
 * server (`go.temporal.io/server`, the release the CLI's dev server embeds) on PostgreSQL, with its
 * schema applied by the server's own SQL tool, the `default` namespace created and fleetwave's
 * search attributes registered.
 *
 * - {@link ensureTemporalServer}: `temporal-server` and `temporal-sql-tool`, built with `go install`
 *   from the Go module proxy into ~/.cache/fleetwave/temporal-server-<version>/ once (about 6 minutes
 *   on 2 busy cores), with the module's schema/postgresql/v12 directory copied next to them.
 * - {@link startPostgresTemporal}: a private PostgreSQL cluster (Debian's `postgresql`: initdb and
 *   pg_ctl, as the `postgres` user when running as root, which PostgreSQL refuses) on a free port in
 *   a temporary directory, then the schema, the server and the namespace.
 *
 *   npx tsx scripts/temporal-server.ts     # ensures the build, prints the paths (CI does this)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TypedSearchAttributes } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { findOrBuildTemporalCli } from './temporal-cli';

const execFileAsync = promisify(execFile);

/** The server release Temporal CLI v1.5.1 embeds (its go.mod requires go.temporal.io/server v1.29.1). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';
const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
/** Name, password and owner of both databases (local and throwaway). */
const DB_USER = 'temporal';

type Env = Record<string, string | undefined>;

/** The cached build. */
export interface TemporalServerBuild {
  server: string;
  sqlTool: string;
  /** schema/postgresql/v12 of the server module (temporal/ and visibility/, each with versioned/). */
  schemaDir: string;
}

/** Where the build lives (`~/.cache/fleetwave/temporal-server-v1.29.1`). */
export function temporalServerCacheDir(env: Env = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'fleetwave', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

function buildPaths(dir: string): TemporalServerBuild {
  return {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    schemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
  };
}

/** The build if it is complete (the marker is written last), else undefined. Never builds. */
export function findTemporalServer(env: Env = process.env): TemporalServerBuild | undefined {
  const dir = temporalServerCacheDir(env);
  return fs.existsSync(path.join(dir, '.complete')) ? buildPaths(dir) : undefined;
}

/** Returns the build, running `go install` from the module proxy when it is missing. */
export async function ensureTemporalServer(
  opts: { env?: Env; log?: (line: string) => void } = {},
): Promise<TemporalServerBuild> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = findTemporalServer(env);
  if (found) return found;
  const dir = temporalServerCacheDir(env);
  fs.mkdirSync(dir, { recursive: true });
  const gobin = fs.mkdtempSync(path.join(dir, '.gobin-'));
  const goEnv = { ...process.env, ...env, GOBIN: gobin, PATH: `${env.PATH ?? ''}:/usr/local/go/bin` };
  const started = Date.now();
  log(`temporal-server: building ${SERVER_MODULE} ${TEMPORAL_SERVER_VERSION} (minutes on 2 cores)`);
  try {
    await execFileAsync(
      'go',
      [
        'install',
        `${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      { env: goEnv, maxBuffer: 64 * 2 ** 20 },
    );
    // The schema files come from the same module version, already in the module cache.
    const { stdout } = await execFileAsync(
      'go',
      ['mod', 'download', '-json', `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`],
      {
        env: goEnv,
      },
    );
    const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
    const paths = buildPaths(dir);
    fs.rmSync(path.join(dir, 'schema'), { recursive: true, force: true });
    fs.cpSync(path.join(moduleDir, 'schema', 'postgresql', 'v12'), paths.schemaDir, { recursive: true });
    fs.renameSync(path.join(gobin, 'server'), paths.server);
    fs.renameSync(path.join(gobin, 'sql'), paths.sqlTool);
    fs.writeFileSync(path.join(dir, '.complete'), `${new Date().toISOString()}\n`);
    log(`temporal-server: built in ${Math.round((Date.now() - started) / 1000)} s into ${dir}`);
    return paths;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr;
    throw new Error(
      `building ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} failed: ${stderr?.slice(-4000) ?? String(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

/** A running server on PostgreSQL; {@link stop} ends both and removes the directory's database. */
export interface PostgresTemporal {
  /** Frontend `host:port`. */
  address: string;
  namespace: string;
  /** PostgreSQL port on 127.0.0.1. */
  postgresPort: number;
  /** How long each stage took, ms. */
  timings: Record<'initdb' | 'schema' | 'server' | 'namespace', number>;
  stop(): Promise<void>;
}

/**
 * A port that is free now below 32768: the server stores membership ports in a PostgreSQL
 * `smallint`, so the kernel's ephemeral ports (32768 and up) do not fit.
 */
async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 32768');
}

/** Runs a PostgreSQL program, as `postgres` when this process is root. */
async function pg(program: string, args: string[]): Promise<void> {
  const bin = path.join(POSTGRES_BIN, program);
  const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  await execFileAsync(cmd, argv, { cwd: os.tmpdir() });
}

/**
 * Starts PostgreSQL, applies the schema with temporal-sql-tool, starts the server and creates the
 * namespace with fleetwave's search attributes. Everything lives under `dir`.
 */
export async function startPostgresTemporal(opts: {
  dir: string;
  log?: (line: string) => void;
  namespace?: string;
}): Promise<PostgresTemporal> {
  const log = opts.log ?? (() => undefined);
  const namespace = opts.namespace ?? 'default';
  if (!fs.existsSync(path.join(POSTGRES_BIN, 'initdb'))) {
    throw new Error(`${POSTGRES_BIN}/initdb not found: apt-get install postgresql`);
  }
  const build = await ensureTemporalServer({ log });
  const cli = await findOrBuildTemporalCli({ log });
  const timings = { initdb: 0, schema: 0, server: 0, namespace: 0 };
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };

  try {
    // PostgreSQL: a cluster of its own, owned by `postgres` when we are root.
    let t = Date.now();
    const pgDir = path.join(opts.dir, 'postgres');
    fs.rmSync(pgDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(pgDir, 'data'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(pgDir, 'password'), DB_USER);
    if (process.getuid?.() === 0) {
      await execFileAsync('chown', ['-R', 'postgres', pgDir]);
    }
    const pgData = path.join(pgDir, 'data');
    await pg('initdb', [
      '-D',
      pgData,
      '-U',
      DB_USER,
      `--pwfile=${path.join(pgDir, 'password')}`,
      '--auth=md5',
      '-E',
      'UTF8',
    ]);
    const postgresPort = await freeLowPort();
    // fsync off: a throwaway test database.
    const pgOptions = `-p ${postgresPort} -k ${pgData} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await pg('pg_ctl', ['-D', pgData, '-o', pgOptions, '-l', path.join(pgDir, 'postgres.log'), '-w', 'start']);
    stops.push(() => pg('pg_ctl', ['-D', pgData, '-m', 'immediate', 'stop']));
    timings.initdb = Date.now() - t;
    log(`postgres on 127.0.0.1:${postgresPort} in ${timings.initdb} ms`);

    // Schema: create-database, setup-schema 0.0, update-schema to the newest versioned step.
    t = Date.now();
    const sql = (db: string, ...args: string[]) =>
      execFileAsync(build.sqlTool, [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(postgresPort),
        '-u',
        DB_USER,
        '--pw',
        DB_USER,
        '--db',
        db,
        ...args,
      ]);
    for (const [db, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      await sql(db, 'create-database');
      await sql(db, 'setup-schema', '-v', '0.0');
      await sql(db, 'update-schema', '-d', path.join(build.schemaDir, schema, 'versioned'));
    }
    timings.schema = Date.now() - t;
    log(`schema applied with temporal-sql-tool in ${timings.schema} ms`);

    // The server: all four services in one process, as the Helm chart's and compose's single node.
    t = Date.now();
    const serverDir = path.join(opts.dir, 'temporal-server');
    fs.mkdirSync(path.join(serverDir, 'config'), { recursive: true });
    const frontendPort = await freeLowPort();
    const ports = { frontendHttp: await freeLowPort(), history: await freeLowPort(), matching: await freeLowPort() };
    const workerPort = await freeLowPort();
    const membership = [await freeLowPort(), await freeLowPort(), await freeLowPort(), await freeLowPort()];
    fs.writeFileSync(
      path.join(serverDir, 'config', 'development.yaml'),
      serverConfig({ postgresPort, frontendPort, workerPort, membership, ...ports }),
    );
    const logFile = fs.openSync(path.join(opts.dir, 'temporal-server.log'), 'a');
    const child: ChildProcess = spawn(
      build.server,
      ['--root', serverDir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
      { stdio: ['ignore', logFile, logFile] },
    );
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    stops.push(async () => {
      process.removeListener('exit', killOnExit);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    });
    const address = `127.0.0.1:${frontendPort}`;
    const temporal = (...args: string[]) => execFileAsync(cli, [...args, '--address', address]);
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`temporal-server exited; see ${opts.dir}/temporal-server.log`);
      try {
        await temporal('operator', 'cluster', 'health');
        break;
      } catch (err) {
        if (i > 240) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    timings.server = Date.now() - t;
    log(`temporal-server ${address} healthy in ${timings.server} ms`);

    t = Date.now();
    await temporal('operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h');
    const saArgs = SEARCH_ATTRIBUTES.flatMap(({ name, type }) => [
      '--name',
      name,
      '--type',
      TypedSearchAttributes.toMetadataType(type),
    ]);
    // The namespace reaches every service's cache within seconds: retry until it does.
    for (let i = 0; ; i++) {
      try {
        await temporal('operator', 'search-attribute', 'create', '--namespace', namespace, ...saArgs);
        break;
      } catch (err) {
        if (i > 60) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    timings.namespace = Date.now() - t;
    log(`namespace ${namespace} with ${SEARCH_ATTRIBUTES.length} search attributes in ${timings.namespace} ms`);
    return { address, namespace, postgresPort, timings, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A single-node server config on PostgreSQL (the shape of config/development-postgres12.yaml). */
function serverConfig(p: {
  postgresPort: number;
  frontendPort: number;
  frontendHttp: number;
  history: number;
  matching: number;
  workerPort: number;
  membership: number[];
}): string {
  const store = (db: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: 127.0.0.1:${p.postgresPort}
        connectProtocol: tcp
        user: ${DB_USER}
        password: ${DB_USER}
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const [m1, m2, m3, m4] = p.membership;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: { grpcPort: ${p.frontendPort}, membershipPort: ${m1}, bindOnLocalHost: true, httpPort: ${p.frontendHttp} }
  history:
    rpc: { grpcPort: ${p.history}, membershipPort: ${m2}, bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: ${p.matching}, membershipPort: ${m3}, bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: ${p.workerPort}, membershipPort: ${m4}, bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${p.frontendPort}
dcRedirectionPolicy:
  policy: noop
`;
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const build = await ensureTemporalServer();
  process.stdout.write(`${build.server}\n${build.sqlTool}\n${build.schemaDir}\n`);
}
