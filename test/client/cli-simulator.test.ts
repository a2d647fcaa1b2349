/**
 * What users run, end to end: the real `fleetwave worker` process (real activities: AWS SDK,
 * Kubernetes client) against the simulator, on the shared Temporal dev server, driven by the
 * real CLI. start --wait → approve refused (wrong wave) → approve → exit 0 with every cluster
 * at the target in the simulator; then SIGTERM drains the worker and it exits 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseFleet } from '../../domain/load';
import type { ClusterInventory } from '../../domain/fleet';
import { findFreePort } from '../../scripts/dev-server';
import { startSimulator, type Simulator } from '../../simulator/index';
import { campaignWorkflowId, type CampaignStatus } from '../../workflows/definitions';
import { REPO_ROOT } from '../helpers/bundle';
import { runCli, startCli, type CliProcess } from '../helpers/cli';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { uniqueTag, waitForStatus, type CampaignHandle } from '../workflows/campaign-harness';

const TAG = uniqueTag();
let temporal: TestTemporal;
let simulator: Simulator;
let worker: CliProcess;
let dir: string;
let clusters: ClusterInventory[];
let env: Record<string, string>;
let metricsAddress: string;

/** Two 1.30 clusters of the example fleet, renamed so no other test's cluster-upgrade IDs collide. */
function exampleClusters(): ClusterInventory[] {
  const parsed = parseFleet(fs.readFileSync(path.join(REPO_ROOT, 'examples/fleet.yaml'), 'utf8'));
  if (!parsed.ok) throw new Error('examples/fleet.yaml is invalid');
  return parsed.value.clusters
    .filter((c) => c.version === '1.30' && c.nodegroups.every((ng) => (ng.version ?? c.version) === '1.30'))
    .slice(0, 2)
    .map((c) => ({ ...c, name: `${c.name}-${TAG}`, faults: undefined }));
}

beforeAll(async () => {
  temporal = await getTestTemporal();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-cli-sim-'));
  clusters = exampleClusters();
  expect(clusters).toHaveLength(2);
  // 600x: a 25-minute control-plane update takes 2.5 s.
  simulator = await startSimulator({ fleet: clusters, timeScale: 600 });
  metricsAddress = `127.0.0.1:${await findFreePort()}`;
  env = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    FLEETWAVE_TASK_QUEUE: temporal.taskQueue('cli-sim'),
    FLEETWAVE_AWS_ENDPOINT: simulator.url,
    FLEETWAVE_WAIT_TIME_SCALE: '600',
    FLEETWAVE_METRICS_ADDRESS: metricsAddress,
    FLEETWAVE_SHUTDOWN_GRACE: '5s',
    LOG_LEVEL: 'info',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'simulator',
    AWS_SECRET_ACCESS_KEY: 'simulator-secret',
  };
  worker = startCli(['worker'], { env, timeoutMs: 10 * 60_000 });
  const deadline = Date.now() + 120_000;
  while (!worker.stdout().includes('"msg":"worker ready"')) {
    if (worker.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`worker did not become ready:\n${worker.stdout()}\n${worker.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 180_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGKILL');
    await worker.done;
  }
  await simulator?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('fleetwave CLI with a real worker process and the simulator', () => {
  it('upgrades the fleet through start --wait and approvals, then the worker drains on SIGTERM', async () => {
    const name = `cli-sim-${TAG}`;
    const fleetFile = path.join(dir, 'fleet.yaml');
    fs.writeFileSync(fleetFile, stringify({ apiVersion: 'fleetwave.io/v1alpha1', kind: 'Fleet', clusters }));
    const campaignFile = path.join(dir, 'campaign.yaml');
    fs.writeFileSync(
      campaignFile,
      stringify({
        apiVersion: 'fleetwave.io/v1alpha1',
        kind: 'UpgradeCampaign',
        metadata: { name },
        spec: {
          target: { kubernetesVersion: '1.31' },
          waves: [
            { name: 'canary', count: 1, approval: 'required' },
            { name: 'rest', maxParallel: 2 },
          ],
          approvers: { users: ['alice'] },
          bake: '0s',
          nodegroups: { maxParallel: 2 },
        },
      }),
    );
    const cli = (args: string[]) => runCli(args, { env, timeoutMs: 5 * 60_000 });

    const waiting = cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--as', 'ci', '--wait']);
    const handle = temporal.client.workflow.getHandle(campaignWorkflowId(name)) as CampaignHandle;
    await waitForStatus(
      handle,
      (s: CampaignStatus) => s.state === 'awaiting-approval',
      180_000,
      'canary awaiting approval',
    );

    const metrics = await fetch(`http://${metricsAddress}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^temporal_/m);

    const refused = await cli(['approve', name, '--wave', 'rest', '--as', 'alice']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: approval refused: /);

    const approved = await cli(['approve', name, '--wave', 'canary', '--as', 'alice', '--comment', 'green']);
    expect(approved.code, approved.stderr).toBe(0);

    const started = await waiting;
    expect(started.code, `${started.stdout}\n${started.stderr}\n${worker.stderr()}`).toBe(0);
    expect(started.stdout).toContain(`campaign ${name} completed`);
    for (const cluster of clusters) {
      const [state] = simulator.state(cluster.name).clusters;
      expect(state?.version, cluster.name).toBe('1.31');
      expect(state?.nodegroups.map((ng) => ng.version)).toEqual(cluster.nodegroups.map(() => '1.31'));
    }

    const status = await cli(['status', name, '--json']);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as CampaignStatus).state).toBe('completed');

    worker.child.kill('SIGTERM');
    const stopped = await worker.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('"msg":"worker stopped"');
  });
});
