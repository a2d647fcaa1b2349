/**
 * Temporal for workflow and end-to-end tests.
 *
 * `getTestTemporal()` connects to the one dev server that test/global-setup.ts starts for
 * the run; its connections are cached per test file and closed after the file's tests.
 * Tests that need their own server (e.g. a tiny `limit.historyCount.suggestContinueAsNew`)
 * call `startDedicatedTestTemporal({ dynamicConfig })` and tear it down themselves.
 */
import { randomUUID } from 'node:crypto';
import type { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogLevel, type NativeConnection, Runtime } from '@temporalio/worker';
import { afterAll, inject } from 'vitest';
import { startDevServer, type DevServer, type DevServerOptions } from '../../scripts/dev-server';

/** Connections to a Temporal server for tests. */
export interface TestTemporal {
  /** `host:port`; hand it to subprocesses as TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  /** The SDK's environment over the existing server (`env.client`, `env.nativeConnection`). */
  env: TestWorkflowEnvironment;
  client: Client;
  connection: Connection;
  /** For `Worker.create({ connection: nativeConnection, ... })`. */
  nativeConnection: NativeConnection;
  /** A task queue name unique to this call, so tests sharing a server never steal each other's tasks. */
  taskQueue(prefix?: string): string;
}

/** A {@link TestTemporal} on a server of its own. */
export interface DedicatedTestTemporal extends TestTemporal {
  server: DevServer;
  /** Closes the connections and stops the server. */
  teardown(): Promise<void>;
}

/** Address and namespace of the shared server provided by test/global-setup.ts. */
export function testTemporalAddress(): { address: string; namespace: string } {
  const address = inject('temporalAddress');
  if (!address) {
    throw new Error(
      'No shared Temporal server: test/global-setup.ts did not start one (FLEETWAVE_TEST_TEMPORAL=off?) ' +
        'or this file runs outside vitest.config.ts.',
    );
  }
  return { address, namespace: inject('temporalNamespace') || 'default' };
}

let shared: Promise<TestTemporal> | undefined;

/** Connections to the shared dev server, created once per test file. */
export function getTestTemporal(): Promise<TestTemporal> {
  shared ??= connect(testTemporalAddress());
  return shared;
}

// Vitest re-evaluates this module for every test file, so this hook closes that file's connections.
afterAll(async () => {
  const current = shared;
  shared = undefined;
  if (current) await (await current).env.teardown();
});

/** Starts a dev server just for the caller (e.g. with small dynamic-config limits). */
export async function startDedicatedTestTemporal(opts: DevServerOptions = {}): Promise<DedicatedTestTemporal> {
  const server = await startDevServer({ uiPort: false, ...opts });
  try {
    const temporal = await connect({ address: server.address, namespace: server.namespace });
    return {
      ...temporal,
      server,
      teardown: async () => {
        await temporal.env.teardown();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function connect({ address, namespace }: { address: string; namespace: string }): Promise<TestTemporal> {
  installQuietRuntime();
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace });
  return {
    address,
    namespace,
    env,
    client: env.client,
    connection: env.connection,
    nativeConnection: env.nativeConnection,
    taskQueue: (prefix = 'test') => `${prefix}-${randomUUID()}`,
  };
}

/**
 * Workers log every state change at INFO; tests only want warnings. Set
 * FLEETWAVE_TEST_LOG_LEVEL=DEBUG|INFO to see more. A test that installed its own Runtime first keeps it.
 */
function installQuietRuntime(): void {
  const level = (process.env.FLEETWAVE_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // Already installed (by the test or an earlier call): keep it.
  }
}
