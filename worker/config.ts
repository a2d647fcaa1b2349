/**
 * The worker's configuration, read once from the environment and validated with zod.
 *
 * Temporal connection settings follow Temporal's own conventions through
 * `@temporalio/envconfig` (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS*, TEMPORAL_PROFILE and the `temporal.toml` config file), so a worker runs
 * wherever the `temporal` CLI already works. Everything fleetwave-specific is an
 * FLEETWAVE_* variable. Invalid values are reported one line per variable, by name.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { HOST_PORT, loadTemporalConnectConfig, type TemporalConnectConfig } from '../client/temporal-env';
import { ApprovalPolicyError, loadApprovalPolicy } from '../activities/approvals';
import { DEFAULT_PROMETHEUS_MAX_CONCURRENT } from '../activities/deps';
import { parseDuration } from '../domain/duration';
import { DEFAULT_TASK_QUEUE } from '../workflows/definitions';

/** Where the worker listens for Prometheus scrapes unless FLEETWAVE_METRICS_ADDRESS says otherwise. */
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

/** FLEETWAVE_HEAP_SEMI_SPACE_MB unless set: a 32 MiB young generation per thread (see the variable). */
export const DEFAULT_HEAP_SEMI_SPACE_MB = 16;
/** FLEETWAVE_HEAP_OLD_SPACE_MB unless set (see the variable). */
export const DEFAULT_HEAP_OLD_SPACE_MB = 1536;
/** FLEETWAVE_HEAP_GROWING_PERCENT unless set (see the variable). */
export const DEFAULT_HEAP_GROWING_PERCENT = 30;

/**
 * FLEETWAVE_MALLOC_ARENA_MAX unless set: two malloc arenas. They took 74–118 MiB off the worker's
 * peak resident memory in every pair of runs measured (500 and 5,000 clusters); their CPU cost is
 * not settled: 0 and 5 % in one 5,000 pair, 15–18 % in runs on a machine twice as loaded
 * (bench/README.md, "A lean worker: memory").
 */
export const DEFAULT_MALLOC_ARENA_MAX = 2;

/** Log levels accepted by LOG_LEVEL (lower case, pino's names). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const positiveInt = (max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { message: 'must be >= 1' })
        .max(max, { message: `must be <= ${max}` }),
    );

/** A whole number from 0 to `max`, 0 meaning "leave the runtime its own"; `kind` completes "a whole number ...". */
const wholeNumber = (max: number, kind: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: `must be a whole number ${kind}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .max(max, { message: `must be <= ${max}` }),
    );

/** A size in MiB; 0 is allowed (it means "leave the runtime's own"). */
const megabytes = (max: number) => wholeNumber(max, 'of MiB (0 leaves the runtime its own)');

const url = z
  .string()
  .trim()
  .refine((s) => /^https?:\/\/[^\s/]+/.test(s), { message: 'must be an http(s) URL such as "http://127.0.0.1:9000"' });

/**
 * Every environment variable the worker reads besides Temporal's own (see the module comment),
 * with its default. The keys are the variable names: docker-compose.yml and the Helm chart are
 * checked against this list.
 */
export const workerEnvSchema = z.object({
  FLEETWAVE_TASK_QUEUE: z
    .string()
    .trim()
    .min(1, { message: 'must not be empty' })
    .default(DEFAULT_TASK_QUEUE)
    .describe(`Task queue the worker polls. Default: "${DEFAULT_TASK_QUEUE}".`),
  FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: positiveInt(10_000)
    .default(100)
    .describe(
      'Activities executed at once (EKS waits park between looks and hold no slot; health gates run for their windows). Default: 100.',
    ),
  FLEETWAVE_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt(10_000)
    .pipe(z.number().min(2, { message: 'must be >= 2 (the SDK needs 2 with a sticky cache)' }))
    .default(40)
    .describe('Workflow tasks executed at once. Default: 40.'),
  FLEETWAVE_METRICS_ADDRESS: z
    .string()
    .trim()
    .refine((s) => s === '' || (HOST_PORT.test(s) && Number(HOST_PORT.exec(s)?.[2]) <= 65535), {
      message: 'must be host:port such as "0.0.0.0:9464", or empty to disable metrics',
    })
    .default(DEFAULT_METRICS_ADDRESS)
    .describe(`Prometheus scrape endpoint of the SDK metrics; "" disables it. Default: "${DEFAULT_METRICS_ADDRESS}".`),
  FLEETWAVE_SHUTDOWN_GRACE: z
    .string()
    .trim()
    .refine((s) => parseDuration(s) !== undefined, { message: 'must be a duration such as "30s" or "2m"' })
    .default('30s')
    .describe(
      'How long running activities get to finish after SIGTERM/SIGINT before they are cancelled. Default: "30s".',
    ),
  FLEETWAVE_WAIT_TIME_SCALE: z
    .string()
    .trim()
    .refine((s) => /^\d+(\.\d+)?$/.test(s) && Number(s) >= 1 && Number(s) <= 100_000, {
      message: 'must be a number from 1 to 100000',
    })
    .default('1')
    .describe(
      "Divides every delay between the looks of a wait (domain/waits.ts): set it to the simulator's --time-scale when the fleet is an accelerated simulator. Default: 1 (real EKS).",
    ),
  FLEETWAVE_HEAP_SEMI_SPACE_MB: megabytes(1024)
    .default(DEFAULT_HEAP_SEMI_SPACE_MB)
    .describe(
      `Largest V8 semi-space, in MiB, of the worker's main thread and its workflow thread (each young generation is two of them; V8 alone grows them to 64 MiB on a large machine, resident memory that holds only short-lived garbage). Applied at start (worker/start-settings.ts) unless --max-semi-space-size is on the command line or in NODE_OPTIONS; 0 leaves V8's own. Default: ${DEFAULT_HEAP_SEMI_SPACE_MB}.`,
    ),
  FLEETWAVE_HEAP_OLD_SPACE_MB: megabytes(65_536)
    .default(DEFAULT_HEAP_OLD_SPACE_MB)
    .describe(
      `V8's old-generation limit, in MiB, of each of the worker's threads (--max-old-space-size). A smaller limit makes V8 collect sooner (on a large machine it lets the old generation grow to four times its live data first). Applied at start like FLEETWAVE_HEAP_SEMI_SPACE_MB; 0 leaves V8's own (a share of the machine's memory). Default: ${DEFAULT_HEAP_OLD_SPACE_MB}.`,
    ),
  FLEETWAVE_HEAP_GROWING_PERCENT: wholeNumber(300, 'of percent (0 leaves V8 its own)')
    .default(DEFAULT_HEAP_GROWING_PERCENT)
    .describe(
      `How far, in percent, V8 lets each of the worker's heaps grow past what its last full collection kept before it collects again (--heap-growing-percent: 30 is 1.3 times the live data). Left to itself V8 picks a factor of 1.1 to 4 from its own speed, and the worker's heaps held about twice their live data. Applied at start like FLEETWAVE_HEAP_SEMI_SPACE_MB; 0 leaves V8's own. Default: ${DEFAULT_HEAP_GROWING_PERCENT}.`,
    ),
  FLEETWAVE_MALLOC_ARENA_MAX: wholeNumber(1024, '(0 leaves glibc its own)')
    .default(DEFAULT_MALLOC_ARENA_MAX)
    .describe(
      `glibc's MALLOC_ARENA_MAX for the worker process: how many malloc arenas its threads (Temporal's Rust core, V8's helpers, the workflow thread) share. glibc keeps up to 8 per core and returns little of their free memory to the system. Applied at start like FLEETWAVE_HEAP_SEMI_SPACE_MB (glibc reads it when a process starts) unless MALLOC_ARENA_MAX is set; 0 leaves glibc's own. Default: ${DEFAULT_MALLOC_ARENA_MAX}.`,
    ),
  FLEETWAVE_WORKFLOW_STACK_TRACES: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }))
    .default('off')
    .describe(
      "The SDK's stack-trace tracking in the workflow thread, which answers the Web UI's Stack Trace tab (the __stack_trace query): on, it records a stack at every promise the workflows create, 40 % of the workflow thread's CPU at 500 clusters (bench/README.md). Off, that query answers that stack traces are not enabled; errors keep their source-mapped stacks, and `fleetwave status` and the Web UI's current details say where a campaign waits. Applied at start like FLEETWAVE_HEAP_SEMI_SPACE_MB. Default: off.",
    ),
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }))
    .default('info')
    .describe('Log level of the JSON logs on stdout. Default: info.'),
  AWS_REGION: z
    .string()
    .trim()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as "us-east-1"' })
    .optional()
    .describe('Default AWS region (each cluster names its own). Default: the AWS SDK chain.'),
  AWS_ENDPOINT_URL_EKS: url
    .optional()
    .describe('EKS endpoint override (the AWS SDK convention). Default: the real EKS endpoints.'),
  FLEETWAVE_AWS_ENDPOINT: url
    .optional()
    .describe('Endpoint for every AWS service fleetwave calls (the simulator). Default: the real AWS endpoints.'),
  FLEETWAVE_PROMETHEUS_URL: url
    .optional()
    .describe('Prometheus HTTP API base URL for health gates. Default: none (PromQL gates cannot pass).'),
  FLEETWAVE_PROMETHEUS_MAX_CONCURRENT: positiveInt(1_000)
    .default(DEFAULT_PROMETHEUS_MAX_CONCURRENT)
    .describe(
      `Prometheus queries the worker sends at once; the rest wait in the worker, and a query's timeout starts when it is sent. Default: ${DEFAULT_PROMETHEUS_MAX_CONCURRENT} (Prometheus runs 20 at once by default).`,
    ),
  FLEETWAVE_WORKFLOW_BUNDLE: z
    .string()
    .trim()
    .min(1, { message: 'must be a file path' })
    .optional()
    .describe(
      'A workflow bundle built with `tsx scripts/bundle-workflows.ts --out FILE` (the image has one). Default: bundled at start in a child process (a few seconds).',
    ),
  FLEETWAVE_APPROVAL_POLICY: z
    .string()
    .trim()
    .min(1, { message: 'must be a file path' })
    .optional()
    .describe(
      'The fleet approval policy (YAML: allowed_signers, groups, which actions need a signature); reloaded when it changes. Default: none (name-only approvals, signatures refused).',
    ),
});

/** The names of every variable in {@link workerEnvSchema}. */
export const WORKER_ENV_VARS = Object.keys(workerEnvSchema.shape) as (keyof typeof workerEnvSchema.shape)[];

/** Validated worker configuration. */
export interface WorkerConfig {
  temporal: TemporalConnectConfig;
  taskQueue: string;
  maxConcurrentActivities: number;
  maxConcurrentWorkflowTasks: number;
  /** `host:port`, or undefined when metrics are disabled. */
  metricsAddress?: string;
  shutdownGraceMs: number;
  logLevel: LogLevelName;
  /** FLEETWAVE_HEAP_SEMI_SPACE_MB: V8's --max-semi-space-size for the worker's threads; 0 leaves V8's own. */
  heapSemiSpaceMb: number;
  /** FLEETWAVE_HEAP_OLD_SPACE_MB: V8's --max-old-space-size for the worker's threads; 0 leaves V8's own. */
  heapOldSpaceMb: number;
  /** FLEETWAVE_HEAP_GROWING_PERCENT: V8's --heap-growing-percent for the worker's threads; 0 leaves V8's own. */
  heapGrowingPercent: number;
  /** FLEETWAVE_MALLOC_ARENA_MAX: glibc's MALLOC_ARENA_MAX for the worker process; 0 leaves glibc's own. */
  mallocArenaMax: number;
  /** FLEETWAVE_WORKFLOW_STACK_TRACES: the SDK's promise stack tracking in the workflow thread (the __stack_trace query). */
  workflowStackTraces: boolean;
  /** FLEETWAVE_WAIT_TIME_SCALE: divides the delays between the looks of every wait (1 against real EKS). */
  waitTimeScale: number;
  aws: {
    region?: string;
    /** Endpoint for every AWS service (FLEETWAVE_AWS_ENDPOINT: the simulator). */
    endpoint?: string;
    /** Endpoint for EKS only (AWS_ENDPOINT_URL_EKS). */
    eksEndpoint?: string;
  };
  prometheusUrl?: string;
  /** Prometheus queries in flight at once (FLEETWAVE_PROMETHEUS_MAX_CONCURRENT). */
  prometheusMaxConcurrent: number;
  /** FLEETWAVE_WORKFLOW_BUNDLE: a prebuilt workflow bundle to load instead of bundling at start. */
  workflowBundlePath?: string;
  /** FLEETWAVE_APPROVAL_POLICY: the fleet approval policy file, checked here so a bad one stops the start. */
  approvalPolicyFile?: string;
}

/** Thrown by {@link loadWorkerConfig}; `problems` holds one line per bad variable. */
export class WorkerConfigError extends Error {
  /** Exit code for bad input. */
  readonly exitCode = 2;
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'WorkerConfigError';
  }
}

/**
 * Reads and validates the worker's configuration from `env` (default: `process.env`).
 * Throws {@link WorkerConfigError} naming every bad variable; nothing is started before this returns.
 */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const problems: string[] = [];
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '(environment)');
      problems.push(`${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`);
    }
  }

  const temporal = loadTemporalConnectConfig(env, problems);
  const bundle = parsed.success ? parsed.data.FLEETWAVE_WORKFLOW_BUNDLE : undefined;
  if (bundle && !existsSync(bundle)) {
    problems.push(
      `FLEETWAVE_WORKFLOW_BUNDLE=${JSON.stringify(bundle)}: no such file (build it with \`tsx scripts/bundle-workflows.ts --out FILE\`)`,
    );
  }

  const policy = parsed.success ? parsed.data.FLEETWAVE_APPROVAL_POLICY : undefined;
  if (policy) {
    try {
      loadApprovalPolicy(policy);
    } catch (err) {
      if (!(err instanceof ApprovalPolicyError)) throw err;
      for (const line of err.problems) problems.push(`FLEETWAVE_APPROVAL_POLICY=${JSON.stringify(policy)}: ${line}`);
    }
  }

  if (problems.length > 0 || !parsed.success || !temporal) throw new WorkerConfigError(problems);
  const v = parsed.data;
  return {
    temporal,
    taskQueue: v.FLEETWAVE_TASK_QUEUE,
    maxConcurrentActivities: v.FLEETWAVE_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTasks: v.FLEETWAVE_MAX_CONCURRENT_WORKFLOW_TASKS,
    metricsAddress: v.FLEETWAVE_METRICS_ADDRESS || undefined,
    shutdownGraceMs: parseDuration(v.FLEETWAVE_SHUTDOWN_GRACE) as number,
    logLevel: v.LOG_LEVEL,
    waitTimeScale: Number(v.FLEETWAVE_WAIT_TIME_SCALE),
    heapSemiSpaceMb: v.FLEETWAVE_HEAP_SEMI_SPACE_MB,
    heapOldSpaceMb: v.FLEETWAVE_HEAP_OLD_SPACE_MB,
    heapGrowingPercent: v.FLEETWAVE_HEAP_GROWING_PERCENT,
    mallocArenaMax: v.FLEETWAVE_MALLOC_ARENA_MAX,
    workflowStackTraces: v.FLEETWAVE_WORKFLOW_STACK_TRACES === 'on',
    aws: {
      region: v.AWS_REGION,
      endpoint: v.FLEETWAVE_AWS_ENDPOINT,
      eksEndpoint: v.AWS_ENDPOINT_URL_EKS,
    },
    prometheusUrl: v.FLEETWAVE_PROMETHEUS_URL,
    prometheusMaxConcurrent: v.FLEETWAVE_PROMETHEUS_MAX_CONCURRENT,
    ...(v.FLEETWAVE_WORKFLOW_BUNDLE ? { workflowBundlePath: v.FLEETWAVE_WORKFLOW_BUNDLE } : {}),
    ...(v.FLEETWAVE_APPROVAL_POLICY ? { approvalPolicyFile: v.FLEETWAVE_APPROVAL_POLICY } : {}),
  };
}
