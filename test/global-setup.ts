/**
 * Vitest global setup: one in-memory, headless Temporal dev server for the whole run, with
 * fleetwave's search attributes registered. Tests reach it through `getTestTemporal()`
 * (test/helpers/temporal.ts), which reads the address provided here.
 *
 * Environment:
 * - FLEETWAVE_TEST_TEMPORAL_ADDRESS=host:port uses a server you run yourself (its namespace
 *   from FLEETWAVE_TEST_TEMPORAL_NAMESPACE, default `default`); missing search attributes are added.
 * - FLEETWAVE_TEST_TEMPORAL=off starts nothing (for unit-only runs on a machine without the CLI).
 */
import type { TestProject } from 'vitest/node';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { startDevServer } from '../scripts/dev-server';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the shared Temporal server, or '' when FLEETWAVE_TEST_TEMPORAL=off. */
    temporalAddress: string;
    temporalNamespace: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.FLEETWAVE_TEST_TEMPORAL === 'off') {
    project.provide('temporalAddress', '');
    project.provide('temporalNamespace', '');
    return undefined;
  }

  const external = process.env.FLEETWAVE_TEST_TEMPORAL_ADDRESS;
  if (external) {
    const namespace = process.env.FLEETWAVE_TEST_TEMPORAL_NAMESPACE || 'default';
    await registerMissingSearchAttributes(external, namespace);
    project.provide('temporalAddress', external);
    project.provide('temporalNamespace', namespace);
    return undefined;
  }

  const server = await startDevServer({
    uiPort: false,
    log: (line) => {
      // The server's own output stays quiet; only the CLI finder's build progress matters here.
      if (line.startsWith('temporal-cli:')) process.stderr.write(`${line}\n`);
    },
  });
  process.stderr.write(`[global-setup] Temporal dev server ${server.address} ready in ${server.startupMs} ms\n`);
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', server.namespace);
  return async () => {
    await server.stop();
  };
}

async function registerMissingSearchAttributes(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set([
      ...Object.keys(existing.customAttributes ?? {}),
      ...Object.keys(existing.systemAttributes ?? {}),
    ]);
    const missing = SEARCH_ATTRIBUTES.filter(({ name }) => !known.has(name));
    if (missing.length === 0) return;
    const searchAttributes: Record<string, NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>> = {};
    for (const { name, type } of missing) {
      const indexedType = encodeSearchAttributeIndexedValueType(type);
      if (indexedType === undefined) throw new Error(`search attribute ${name}: unknown type ${type}`);
      searchAttributes[name] = indexedType;
    }
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } finally {
    await connection.close();
  }
}
