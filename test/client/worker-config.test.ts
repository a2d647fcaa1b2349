/**
 * worker/config.ts: defaults, one message per bad variable naming it, and Temporal's own
 * conventions (environment over temporal.toml profile) through @temporalio/envconfig.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, WorkerConfigError } from '../../worker/config';
import { pathToFileURL } from 'node:url';
import {
  missingHeapFlags,
  missingMallocEnv,
  missingPreload,
  WORKFLOW_THREAD_PRELOAD,
} from '../../worker/start-settings';

/** No config file unless a test writes one. */
const NO_FILE = { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig({ ...NO_FILE, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(WorkerConfigError);
    expect((err as WorkerConfigError).exitCode).toBe(2);
    return (err as WorkerConfigError).problems;
  }
  throw new Error('expected a WorkerConfigError');
}

describe('loadWorkerConfig', () => {
  it('has documented defaults', () => {
    expect(loadWorkerConfig(NO_FILE)).toEqual({
      temporal: {
        connection: { address: '127.0.0.1:7233', apiKey: undefined, tls: undefined, metadata: undefined },
        namespace: 'default',
        addressSource: 'default',
      },
      taskQueue: 'fleetwave',
      maxConcurrentActivities: 100,
      maxConcurrentWorkflowTasks: 40,
      metricsAddress: '127.0.0.1:9464',
      shutdownGraceMs: 30_000,
      logLevel: 'info',
      waitTimeScale: 1,
      heapSemiSpaceMb: 16,
      heapOldSpaceMb: 1536,
      heapGrowingPercent: 30,
      mallocArenaMax: 2,
      workflowStackTraces: false,
      aws: { region: undefined, endpoint: undefined, eksEndpoint: undefined },
      prometheusUrl: undefined,
      prometheusMaxConcurrent: 10,
    });
  });

  it('reads every variable', () => {
    const config = loadWorkerConfig({
      ...NO_FILE,
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'fleet',
      FLEETWAVE_TASK_QUEUE: 'fw-prod',
      FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '250',
      FLEETWAVE_MAX_CONCURRENT_WORKFLOW_TASKS: '8',
      FLEETWAVE_METRICS_ADDRESS: '',
      FLEETWAVE_SHUTDOWN_GRACE: '1m30s',
      LOG_LEVEL: 'DEBUG',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_EKS: 'http://127.0.0.1:9100',
      FLEETWAVE_AWS_ENDPOINT: 'http://simulator:9000',
      FLEETWAVE_PROMETHEUS_URL: 'http://prometheus:9090',
      FLEETWAVE_WAIT_TIME_SCALE: '1200',
      FLEETWAVE_HEAP_SEMI_SPACE_MB: '0',
      FLEETWAVE_HEAP_OLD_SPACE_MB: '4096',
      FLEETWAVE_HEAP_GROWING_PERCENT: '50',
      FLEETWAVE_MALLOC_ARENA_MAX: '2',
      FLEETWAVE_WORKFLOW_STACK_TRACES: ' On ',
    });
    expect(config).toMatchObject({
      temporal: { connection: { address: 'temporal:7233' }, namespace: 'fleet', addressSource: 'TEMPORAL_ADDRESS' },
      taskQueue: 'fw-prod',
      maxConcurrentActivities: 250,
      maxConcurrentWorkflowTasks: 8,
      shutdownGraceMs: 90_000,
      logLevel: 'debug',
      aws: { region: 'eu-west-1', endpoint: 'http://simulator:9000', eksEndpoint: 'http://127.0.0.1:9100' },
      prometheusUrl: 'http://prometheus:9090',
      waitTimeScale: 1200,
      heapSemiSpaceMb: 0,
      heapOldSpaceMb: 4096,
      heapGrowingPercent: 50,
      mallocArenaMax: 2,
      workflowStackTraces: true,
    });
    expect(config.metricsAddress).toBeUndefined();
  });

  it('names each bad variable on its own line', () => {
    expect(
      problemsOf({
        FLEETWAVE_TASK_QUEUE: ' ',
        FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: '0',
        FLEETWAVE_MAX_CONCURRENT_WORKFLOW_TASKS: '1',
        FLEETWAVE_METRICS_ADDRESS: '0.0.0.0:99999',
        AWS_REGION: 'Europe',
        FLEETWAVE_PROMETHEUS_URL: 'prometheus:9090',
        TEMPORAL_ADDRESS: 'http://temporal:7233',
        FLEETWAVE_WAIT_TIME_SCALE: '0.5',
        FLEETWAVE_HEAP_SEMI_SPACE_MB: '16MB',
      }),
    ).toEqual([
      'FLEETWAVE_TASK_QUEUE=" ": must not be empty',
      'FLEETWAVE_MAX_CONCURRENT_ACTIVITIES="0": must be >= 1',
      'FLEETWAVE_MAX_CONCURRENT_WORKFLOW_TASKS="1": must be >= 2 (the SDK needs 2 with a sticky cache)',
      'FLEETWAVE_METRICS_ADDRESS="0.0.0.0:99999": must be host:port such as "0.0.0.0:9464", or empty to disable metrics',
      'FLEETWAVE_WAIT_TIME_SCALE="0.5": must be a number from 1 to 100000',
      'FLEETWAVE_HEAP_SEMI_SPACE_MB="16MB": must be a whole number of MiB (0 leaves the runtime its own)',
      'AWS_REGION="Europe": must be an AWS region such as "us-east-1"',
      'FLEETWAVE_PROMETHEUS_URL="prometheus:9090": must be an http(s) URL such as "http://127.0.0.1:9000"',
      'TEMPORAL_ADDRESS="http://temporal:7233": must be host:port such as "127.0.0.1:7233"',
    ]);
    expect(
      problemsOf({
        FLEETWAVE_HEAP_SEMI_SPACE_MB: '4096',
        FLEETWAVE_HEAP_OLD_SPACE_MB: '-1',
        FLEETWAVE_HEAP_GROWING_PERCENT: '30%',
        FLEETWAVE_MALLOC_ARENA_MAX: 'two',
        FLEETWAVE_WORKFLOW_STACK_TRACES: 'yes',
      }),
    ).toEqual([
      'FLEETWAVE_HEAP_SEMI_SPACE_MB="4096": must be <= 1024',
      'FLEETWAVE_HEAP_OLD_SPACE_MB="-1": must be a whole number of MiB (0 leaves the runtime its own)',
      'FLEETWAVE_HEAP_GROWING_PERCENT="30%": must be a whole number of percent (0 leaves V8 its own)',
      'FLEETWAVE_MALLOC_ARENA_MAX="two": must be a whole number (0 leaves glibc its own)',
      'FLEETWAVE_WORKFLOW_STACK_TRACES="yes": must be "on" or "off"',
    ]);
  });

  it('refuses a FLEETWAVE_WORKFLOW_BUNDLE that does not exist, and takes one that does', () => {
    expect(problemsOf({ FLEETWAVE_WORKFLOW_BUNDLE: '/nonexistent/workflow-bundle.js' })).toEqual([
      'FLEETWAVE_WORKFLOW_BUNDLE="/nonexistent/workflow-bundle.js": no such file (build it with `tsx scripts/bundle-workflows.ts --out FILE`)',
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-bundle-'));
    try {
      const file = path.join(dir, 'workflow-bundle.js');
      fs.writeFileSync(file, '// bundle');
      expect(loadWorkerConfig({ ...NO_FILE, FLEETWAVE_WORKFLOW_BUNDLE: file }).workflowBundlePath).toBe(file);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a temporal.toml profile, with the environment on top', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-envconfig-'));
    try {
      const file = path.join(dir, 'temporal.toml');
      fs.writeFileSync(
        file,
        [
          '[profile.default]',
          'address = "default.example:7233"',
          '',
          '[profile.cloud]',
          'address = "ns.acct.tmprl.cloud:7233"',
          'namespace = "ns.acct"',
          'api_key = "k"',
          '',
        ].join('\n'),
      );
      const cloud = loadWorkerConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
      expect(cloud.temporal.connection.address).toBe('ns.acct.tmprl.cloud:7233');
      expect(cloud.temporal.namespace).toBe('ns.acct');
      expect(cloud.temporal.connection.apiKey).toBe('k');
      // An API key turns TLS on (envconfig's rule).
      expect(cloud.temporal.connection.tls).toBe(true);
      expect(cloud.temporal.addressSource).toBe('profile cloud');

      const overridden = loadWorkerConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: '127.0.0.1:7233' });
      expect(overridden.temporal.connection.address).toBe('127.0.0.1:7233');
      expect(overridden.temporal.addressSource).toBe('TEMPORAL_ADDRESS');

      expect(problemsOf({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toEqual([
        "TEMPORAL_PROFILE: Profile 'staging' not found in config data",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks FLEETWAVE_APPROVAL_POLICY at start, naming the variable, the file and the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-policy-'));
    try {
      const file = path.join(dir, 'policy.yaml');
      fs.writeFileSync(file, 'signers: []\nnameOnlyApprovals: sometimes\n');
      const [problem, ...rest] = problemsOf({ FLEETWAVE_APPROVAL_POLICY: file });
      expect(rest).toEqual([]);
      expect(problem).toMatch(new RegExp(`^FLEETWAVE_APPROVAL_POLICY="${file}": ${file}:2: nameOnlyApprovals: `));
      expect(problemsOf({ FLEETWAVE_APPROVAL_POLICY: dir })).toEqual([
        `FLEETWAVE_APPROVAL_POLICY=${JSON.stringify(dir)}: approval policy ${dir}: not a regular file`,
      ]);
      fs.writeFileSync(file, 'signers: []\n');
      expect(loadWorkerConfig({ ...NO_FILE, FLEETWAVE_APPROVAL_POLICY: file }).approvalPolicyFile).toBe(file);
      expect(loadWorkerConfig(NO_FILE).approvalPolicyFile).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('missingHeapFlags', () => {
  const config = loadWorkerConfig(NO_FILE);

  it('asks for the heap flags a plain start lacks', () => {
    expect(missingHeapFlags(config, [], {})).toEqual([
      '--max-semi-space-size=16',
      '--max-old-space-size=1536',
      '--heap-growing-percent=30',
    ]);
  });

  it('leaves alone what the command line or NODE_OPTIONS already set, and what is 0', () => {
    expect(
      missingHeapFlags(config, ['--max-semi-space-size=64'], {
        NODE_OPTIONS: '--enable-source-maps --max-old-space-size=4096 --heap-growing-percent=100',
      }),
    ).toEqual([]);
    expect(missingHeapFlags(config, [], { NODE_OPTIONS: '--max-old-space-size=4096' })).toEqual([
      '--max-semi-space-size=16',
      '--heap-growing-percent=30',
    ]);
    const off = loadWorkerConfig({
      ...NO_FILE,
      FLEETWAVE_HEAP_SEMI_SPACE_MB: '0',
      FLEETWAVE_HEAP_OLD_SPACE_MB: '0',
      FLEETWAVE_HEAP_GROWING_PERCENT: '0',
    });
    expect(missingHeapFlags(off, [], {})).toEqual([]);
  });
});

describe('missingPreload', () => {
  const flag = `--import=${pathToFileURL(WORKFLOW_THREAD_PRELOAD).href}`;

  it('asks for the workflow thread preload while stack traces are off, unless the process has it', () => {
    const config = loadWorkerConfig(NO_FILE);
    expect(missingPreload(config, [], {})).toEqual([flag]);
    expect(missingPreload(config, ['--import=tsx', flag], {})).toEqual([]);
    expect(missingPreload(config, [], { NODE_OPTIONS: `--import ${WORKFLOW_THREAD_PRELOAD}` })).toEqual([]);
    expect(missingPreload(loadWorkerConfig({ ...NO_FILE, FLEETWAVE_WORKFLOW_STACK_TRACES: 'on' }), [], {})).toEqual([]);
  });
});

describe('missingMallocEnv', () => {
  it('asks for MALLOC_ARENA_MAX only when configured and not already in the environment', () => {
    expect(missingMallocEnv(loadWorkerConfig(NO_FILE), {})).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(missingMallocEnv(loadWorkerConfig({ ...NO_FILE, FLEETWAVE_MALLOC_ARENA_MAX: '0' }), {})).toEqual({});
    const four = loadWorkerConfig({ ...NO_FILE, FLEETWAVE_MALLOC_ARENA_MAX: '4' });
    expect(missingMallocEnv(four, {})).toEqual({ MALLOC_ARENA_MAX: '4' });
    expect(missingMallocEnv(four, { MALLOC_ARENA_MAX: '8' })).toEqual({});
  });
});
