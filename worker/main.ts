/**
 * The fleetwave worker process: Temporal runtime (logs, Prometheus metrics), connection,
 * workflows and activities on one task queue, and a graceful drain on SIGTERM/SIGINT.
 *
 * Run it with `fleetwave worker` (configuration from the environment: worker/config.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { TemporalUnreachableError } from '../client/errors';
import { fleetwaveDataConverter } from '../client/payload-codec';
import { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config';
import { createLogger, PinoTemporalLogger, temporalLogLevel, type ProcessLogger } from './logger';

/** The workflows entry point the worker bundles at start. */
export const WORKFLOWS_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/index.ts');

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
    Runtime.install({
      logger: new PinoTemporalLogger(logger),
      telemetryOptions: {
        logging: {
          filter: makeTelemetryFilterString({ core: 'WARN', other: temporalLogLevel(config.logLevel) }),
          forward: {},
        },
        ...(config.metricsAddress ? { metrics: { prometheus: { bindAddress: config.metricsAddress } } } : {}),
      },
    });
  }

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
      workflowBundle: opts.workflowBundle ?? (await bundleWorkflows(logger)),
      activities,
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      shutdownGraceTime: config.shutdownGraceMs,
      shutdownForceTime: config.shutdownGraceMs + SHUTDOWN_FORCE_EXTRA_MS,
    });
    const running = worker.run();
    logger.info(
      {
        taskQueue: config.taskQueue,
        namespace: config.temporal.namespace,
        address,
        metrics: config.metricsAddress ? `http://${config.metricsAddress}/metrics` : 'disabled',
        shutdownGraceMs: config.shutdownGraceMs,
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
 * Bundles the workflow code (webpack, a few seconds). The bundler's own multi-line build report
 * goes to debug; the worker logs one line with the size and time.
 */
async function bundleWorkflows(logger: ProcessLogger): Promise<WorkflowBundleOption> {
  const started = Date.now();
  const bundleLogger = logger.child({ component: 'workflow-bundler' });
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new PinoTemporalLogger(bundleLogger.child({}, { level: 'warn' })),
  });
  logger.info({ bytes: bundle.code.length, ms: Date.now() - started }, 'workflow bundle built');
  return bundle;
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
  const [{ createActivities, createDefaultDeps }, { createLeaseActivities }] = await Promise.all([
    import('../activities/index'),
    import('../activities/leases'),
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
    logger: logger.child({ component: 'activities' }),
  });
  return {
    ...createActivities(deps),
    ...createLeaseActivities({ client, taskQueue: config.taskQueue }),
  };
}

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
  try {
    await runWorker(config);
    return 0;
  } catch (err) {
    if (err instanceof TemporalUnreachableError) errorLine(`error: ${err.message}`);
    else errorLine(`error: worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
