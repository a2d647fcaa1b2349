/**
 * The fleetwave worker process: Temporal runtime (logs, Prometheus metrics), connection,
 * workflows and activities on one task queue, and a graceful drain on SIGTERM/SIGINT.
 *
 * Run it with `fleetwave worker` (configuration from the environment: worker/config.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import {
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { TemporalUnreachableError } from '../client/errors';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { fleetwaveDataConverter } from '../client/payload-codec';
import { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config';
import { createLogger, dropBelowLevel, PinoTemporalLogger, temporalLogLevel, type ProcessLogger } from './logger';
import { applyToNewThreads, missingPreload, missingStartSettings, restartWithStartSettings } from './start-settings';

/**
 * The workflows entry point the worker bundles at start: the TypeScript source in a checkout
 * (run through tsx), the compiled JavaScript next to this file in the package's dist/.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXT = FROM_SOURCE ? '.ts' : '.js';
export const WORKFLOWS_PATH = path.join(REPO_ROOT, `workflows/index${EXT}`);
const BUNDLE_SCRIPT = path.join(REPO_ROOT, `scripts/bundle-workflows${EXT}`);
const execFileAsync = promisify(execFile);

/** Extra time after the shutdown grace before the worker gives up draining (stays under Kubernetes' 60 s). */
const SHUTDOWN_FORCE_EXTRA_MS = 15_000;

/** Options for {@link runWorker}, mostly for tests. */
export interface RunWorkerOptions {
  /** Default: a pino logger at the configured level on stdout. */
  logger?: ProcessLogger;
  /** Activities to register instead of the real ones (tests with fakes). */
  activities?: object;
  /** A prebuilt workflow bundle. Default: bundle {@link WORKFLOWS_PATH} at start (a few seconds). */
  workflowBundle?: WorkflowBundleOption;
  /**
   * Install the Temporal runtime (logger, metrics, shutdown signals). Default: true. A process that
   * already installed one (a test) passes false; the worker then uses that runtime as it is.
   */
  installRuntime?: boolean;
  /** Called once the worker polls its task queue; `shutdown()` starts the same drain as SIGTERM. */
  onReady?: (worker: { shutdown(): void }) => void;
}

/**
 * Runs a worker until SIGTERM/SIGINT (the SDK's `shutdownSignals`) or `shutdown()`, then drains:
 * running activities get `config.shutdownGraceMs` to finish. Resolves once the worker has stopped
 * and its connection is closed, so the process can exit 0. Rejects with
 * {@link TemporalUnreachableError} when Temporal does not answer.
 */
export async function runWorker(config: WorkerConfig, opts: RunWorkerOptions = {}): Promise<void> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  if (opts.installRuntime ?? true) {
    // First thing that touches the runtime: later calls would create a default one.
    const runtime = Runtime.install({
      logger: new PinoTemporalLogger(logger),
      telemetryOptions: {
        logging: {
          filter: makeTelemetryFilterString({ core: 'WARN', other: temporalLogLevel(config.logLevel) }),
          forward: {},
        },
        ...(config.metricsAddress ? { metrics: { prometheus: { bindAddress: config.metricsAddress } } } : {}),
      },
    });
    dropBelowLevel(runtime.logger, config.logLevel);
  }

  // workerMain restarted the process with these unless this Node.js has no process.execve: then
  // the main thread keeps V8's own sizes (a 4 GiB limit, and an old generation let grow to four
  // times its live data): a third of the worker's peak RSS at 5,000 clusters (bench/README.md).
  const notApplied = missingStartSettings(config);
  if (notApplied.length > 0 && (opts.installRuntime ?? true)) {
    logger.warn(
      { settings: notApplied },
      'start settings not applied (no process.execve before Node.js 22.15): put the flags in NODE_OPTIONS, the rest in the environment',
    );
  }
  // Before Worker.create starts the workflow thread: its heap is sized from V8's flags when it starts.
  applyToNewThreads(config);

  const { address } = config.temporal.connection;
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(config.temporal.connection);
  } catch (err) {
    throw new TemporalUnreachableError(address, config.temporal.addressSource, { cause: err });
  }

  try {
    const activities = opts.activities ?? (await createRealActivities(config, connection, logger));
    const worker = await Worker.create({
      connection,
      dataConverter: fleetwaveDataConverter,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      workflowBundle: opts.workflowBundle ?? (await bundleWorkflows(config, logger)),
      activities,
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      shutdownGraceTime: config.shutdownGraceMs,
      shutdownForceTime: config.shutdownGraceMs + SHUTDOWN_FORCE_EXTRA_MS,
    });
    await warnIfSearchAttributesMissing(connection, config.temporal.namespace, logger);
    const running = worker.run();
    logger.info(
      {
        taskQueue: config.taskQueue,
        namespace: config.temporal.namespace,
        address,
        metrics: config.metricsAddress ? `http://${config.metricsAddress}/metrics` : 'disabled',
        shutdownGraceMs: config.shutdownGraceMs,
        heap: {
          semiSpaceMb: config.heapSemiSpaceMb,
          oldSpaceMb: config.heapOldSpaceMb,
          growingPercent: config.heapGrowingPercent,
          mainThreadLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
        },
        mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? 'glibc default',
        workflowStackTraces:
          config.workflowStackTraces || missingPreload(config).length > 0 ? 'on' : 'off (promise hook not installed)',
      },
      'worker ready',
    );
    opts.onReady?.({ shutdown: () => worker.shutdown() });
    await running;
    logger.info({ taskQueue: config.taskQueue }, 'worker stopped');
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * Campaigns start with fleetwave's search attributes and fail to start on a namespace without them
 * (only the dev server that scripts/dev-server.ts starts registers them itself), so say so at once,
 * with the fix. A server that will not list them (Temporal Cloud may refuse namespace credentials
 * the operator service) is not a reason to stop.
 */
async function warnIfSearchAttributesMissing(
  connection: NativeConnection,
  namespace: string,
  logger: ProcessLogger,
): Promise<void> {
  try {
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set([
      ...Object.keys(listed.customAttributes ?? {}),
      ...Object.keys(listed.systemAttributes ?? {}),
    ]);
    const missing = SEARCH_ATTRIBUTES.map(({ name }) => name).filter((name) => !known.has(name));
    if (missing.length > 0) {
      logger.warn(
        { namespace, missing },
        'search attributes missing on the namespace: campaigns cannot start until `fleetwave setup` registers them',
      );
    }
  } catch (err) {
    logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'could not list search attributes');
  }
}

/**
 * The workflow code: FLEETWAVE_WORKFLOW_BUNDLE when set (an image builds it once), otherwise
 * bundled by scripts/bundle-workflows.ts in a child process (webpack, a few seconds). Bundling in
 * this process would leave webpack's few hundred MiB in the worker's resident memory for good.
 */
async function bundleWorkflows(config: WorkerConfig, logger: ProcessLogger): Promise<WorkflowBundleOption> {
  if (config.workflowBundlePath) {
    logger.info({ path: config.workflowBundlePath }, 'workflow bundle loaded');
    return { codePath: config.workflowBundlePath };
  }
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetwave-workflows-'));
  const out = path.join(dir, 'workflow-bundle.js');
  try {
    const { stderr } = await execFileAsync(
      process.execPath,
      [...(FROM_SOURCE ? ['--import', 'tsx'] : []), BUNDLE_SCRIPT, '--out', out, WORKFLOWS_PATH],
      { cwd: REPO_ROOT, maxBuffer: 16 * 2 ** 20 },
    );
    if (stderr.trim()) logger.debug({ stderr: stderr.trim() }, 'workflow bundler output');
    const code = readFileSync(out, 'utf8');
    logger.info({ bytes: code.length, ms: Date.now() - started }, 'workflow bundle built');
    return { code };
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`bundling the workflows failed${stderr ? `:\n${stderr}` : `: ${String(err)}`}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The production activities: EKS, Kubernetes and Prometheus clients from the config (pointed at
 * the simulator by FLEETWAVE_AWS_ENDPOINT), plus the fleet-lease activities that signal lease
 * workflows through a client on the worker's own connection.
 */
async function createRealActivities(
  config: WorkerConfig,
  connection: NativeConnection,
  logger: ProcessLogger,
): Promise<object> {
  const [
    { createActivities, createClusterAccessActivities, createDefaultDeps },
    { createLeaseActivities },
    { createChildrenActivities },
    { createNotifyActivities },
    { temporalUiUrl },
  ] = await Promise.all([
    import('../activities/index'),
    import('../activities/leases'),
    import('../activities/children'),
    import('../activities/notify'),
    import('../client/library'),
  ]);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: fleetwaveDataConverter,
  });
  const deps = createDefaultDeps({
    region: config.aws.region,
    endpoint: config.aws.endpoint,
    eksEndpoint: config.aws.eksEndpoint,
    prometheusUrl: config.prometheusUrl,
    prometheusMaxConcurrent: config.prometheusMaxConcurrent,
    approvalPolicyFile: config.approvalPolicyFile,
    logger: logger.child({ component: 'activities' }),
    waits: { timeScale: config.waitTimeScale },
  });
  return {
    ...createActivities(deps),
    ...createClusterAccessActivities(deps),
    ...createLeaseActivities({ client, taskQueue: config.taskQueue }),
    ...createChildrenActivities({ client, waits: { timeScale: config.waitTimeScale } }),
    // Webhook URLs of spec.notify come from this process's environment (or a Secret), never from histories.
    ...createNotifyActivities({
      uiUrl: (workflowId, namespace) => temporalUiUrl(config.temporal.connection.address, namespace, workflowId),
    }),
  };
}

/** `Buffer.poolSize` of the packaged worker's process (see workerMain). */
export const WORKER_BUFFER_POOL_BYTES = 8 * 1024;

/**
 * Entry point of `fleetwave worker`: reads the environment, runs the worker, and returns the exit
 * code (0 after a clean drain, 1 when Temporal is unreachable or the worker failed, 2 for bad
 * configuration: one line per bad variable on stderr).
 */
export async function workerMain(
  env: Record<string, string | undefined> = process.env,
  errorLine: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(env);
  } catch (err) {
    if (err instanceof WorkerConfigError) {
      for (const line of err.problems) errorLine(`error: ${line}`);
      return err.exitCode;
    }
    throw err;
  }
  // Only a worker configured by this process's own environment restarts with it.
  if (env === process.env) restartWithStartSettings(config);
  // Node.js 24 carves small Buffers out of 64 KiB slabs, and one small Buffer kept alive keeps its
  // whole slab: a TLS session, a cluster's CA, a task token. The worker keeps such buffers for
  // hundreds of clusters at once, each pinning a slab of its own (bench/README.md, "A lean worker:
  // memory"); 8 KiB slabs (Node.js 20's size) pin an eighth of that.
  Buffer.poolSize = WORKER_BUFFER_POOL_BYTES;
  try {
    await runWorker(config);
    return 0;
  } catch (err) {
    if (err instanceof TemporalUnreachableError) errorLine(`error: ${err.message}`);
    else errorLine(`error: worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
