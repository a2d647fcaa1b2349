/**
 * (f) The production topology: the Temporal server built from go.temporal.io/server on PostgreSQL
 * (scripts/temporal-server.ts), not the CLI's dev server. A short campaign runs through the worker
 * process and the client against it; its search attributes must be queryable through SQL
 * visibility (the Temporal CLI's `workflow list --query`, and `fleetwave list`).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTemporal, type FleetwaveClient } from '../../client/library';
import { driveCampaign } from '../../bench/lib/driver';
import { verifyCampaigns, NO_VIOLATIONS } from '../../bench/lib/verify';
import { startWorkerProcess, type WorkerProcess } from '../../bench/lib/worker-process';
import { findFreePort } from '../../scripts/dev-server';
import { startPrometheus, type TestPrometheus } from '../../scripts/prometheus';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { startPostgresTemporal, type PostgresTemporal } from '../../scripts/temporal-server';
import { startSimulator, type Simulator } from '../../simulator/index';
import { simulatorWorkerEnv } from '../../simulator/worker-env';
import { approversOf, canaryThenRest, smallFleet, testCampaign, testWorkspace, TIME_SCALE } from './harness';

const SEED = 9_117;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const execFileAsync = promisify(execFile);

describe('production topology: Temporal server on PostgreSQL', () => {
  let server: PostgresTemporal | undefined;
  let sim: Simulator | undefined;
  let prom: TestPrometheus | undefined;
  let worker: WorkerProcess | undefined;
  let client: FleetwaveClient | undefined;
  afterAll(async () => {
    await client?.close();
    await worker?.stop();
    await prom?.stop();
    await sim?.stop();
    await server?.stop();
  });

  it('runs a campaign with search attributes and visibility queries', async () => {
    const { dir, log } = testWorkspace('postgres-server');
    server = await startPostgresTemporal({ dir, log });
    const fleet = smallFleet(6, SEED);
    const { campaign, planned } = testCampaign(fleet, {
      name: 'postgres-topology',
      waves: canaryThenRest(2, 4),
      maxInFlight: 4,
    });
    sim = await startSimulator({ fleet, port: 0, timeScale: TIME_SCALE, seed: SEED });
    prom = await startPrometheus({ scrapeTargets: [new URL(sim.url).host], scrapeInterval: '1s' });
    await prom.waitForQuery('fleetwave_sim_workload_error_ratio', 60_000);
    const temporalEnv = { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace };
    worker = await startWorkerProcess({
      env: simulatorWorkerEnv({
        temporal: { address: server.address, namespace: server.namespace },
        simulatorUrl: sim.url,
        metricsAddress: `127.0.0.1:${await findFreePort()}`,
        prometheusUrl: prom.url,
        timeScale: TIME_SCALE,
      }),
      logFile: path.join(dir, 'worker.log'),
    });
    client = await connectTemporal({ env: temporalEnv, connectTimeoutMs: 10_000 });

    const name = campaign.metadata.name;
    const started = await client.startCampaign({ campaign, fleet, startedBy: 'topology test' });
    const { result } = await driveCampaign(client, { name, approvers: approversOf(campaign), log });
    log(`campaign ${result.state}`);
    const v = await verifyCampaigns({ client, sim }, [{ name, runId: started.runId, targetVersion: '1.32' }]);

    // Visibility on PostgreSQL: the campaign and its children by the CampaignName search attribute.
    const cli = await findOrBuildTemporalCli({ log });
    const list = await execFileAsync(cli, [
      'workflow',
      'list',
      '--address',
      server.address,
      '--namespace',
      server.namespace,
      '--query',
      `CampaignName = "${name}"`,
      '--output',
      'json',
    ]);
    const listed = (JSON.parse(list.stdout) as { execution: { workflowId: string } }[]).map(
      (w) => w.execution.workflowId,
    );
    log(`visibility: ${listed.length} workflows with CampaignName="${name}"`);
    const fwList = await execFileAsync(process.execPath, ['bin/fleetwave.mjs', 'list', '--all', '--json'], {
      cwd: root,
      env: { ...process.env, ...temporalEnv },
    });
    const timings = Object.entries(server.timings)
      .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
      .join(', ');
    console.log(`temporal-server on PostgreSQL: ${timings}; campaign ${result.state}; ${listed.length} listed`);

    expect(['completed', 'completed-with-failures']).toContain(result.state);
    expect(v.violations).toEqual(NO_VIOLATIONS);
    expect(listed).toContain(`campaign/${name}`);
    expect(listed.filter((id) => id.startsWith('cluster-upgrade/')).length).toBe(planned);
    expect(fwList.stdout).toContain(name);
  });
});
