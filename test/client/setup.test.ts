/**
 * `fleetwave setup` against a dev server started WITHOUT fleetwave's search attributes, as a
 * fresh self-hosted namespace is: the worker warns at start, `setup --check` and `setup --cloud`
 * only report (the latter with the tcld command), `setup` registers them, and afterwards a
 * campaign starts and the Web UI's filters (visibility queries on the attributes) find it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTemporal } from '../../client/library';
import type { SetupReport } from '../../client/setup';
import { parseCampaign, parseFleet } from '../../domain/load';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { loadWorkerConfig } from '../../worker/config';
import { createLogger } from '../../worker/logger';
import { runWorker } from '../../worker/main';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import { runCli } from '../helpers/cli';
import { WorkflowTypes } from '../../workflows/definitions';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

const TASK_QUEUE = 'setup-test';
let server: DevServer;
let env: Record<string, string>;

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed already
  }
  server = await startDevServer({ uiPort: false, searchAttributes: false });
  env = { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace, FLEETWAVE_TASK_QUEUE: TASK_QUEUE };
});

afterAll(async () => {
  await server?.stop();
});

function report(stdout: string): SetupReport {
  return JSON.parse(stdout) as SetupReport;
}

describe('fleetwave setup on a namespace without the search attributes', () => {
  it('the worker warns at start; setup --check and --cloud report without registering; setup registers; the campaign filters work', async () => {
    // The worker: a warning naming every missing attribute, and it polls the task queue.
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const config = loadWorkerConfig({ ...env, FLEETWAVE_METRICS_ADDRESS: '' });
    let shutdown: (() => void) | undefined;
    const workflowBundle = await getWorkflowBundle();
    let running: Promise<void> | undefined;
    await new Promise<void>((resolve, reject) => {
      running = runWorker(config, {
        logger: createLogger({ level: 'warn', destination }),
        // One activity, so the worker polls for activity tasks too.
        activities: { noop: async () => undefined },
        workflowBundle,
        installRuntime: false,
        onReady: (w) => {
          shutdown = w.shutdown;
          resolve();
        },
      });
      running.catch(reject);
    });
    const warning = lines.map((l) => JSON.parse(l) as { level: string; msg: string; missing?: string[] })[0];
    expect(warning?.level).toBe('warn');
    expect(warning?.msg).toMatch(/search attributes missing.*fleetwave setup/);
    expect(warning?.missing).toEqual(SEARCH_ATTRIBUTES.map((k) => k.name));

    // --check: everything missing, nothing registered; the worker is seen polling.
    const checked = await runCli(['setup', '--check', '--json'], { env });
    expect(checked.code, checked.stderr).toBe(1);
    const before = report(checked.stdout);
    expect(before.namespaceExists).toBe(true);
    expect(before.cloud).toBe(false);
    expect(before.searchAttributes.map((c) => c.state)).toEqual(SEARCH_ATTRIBUTES.map(() => 'missing'));
    expect(before.pollers?.workflow).toBeGreaterThan(0);
    expect(before.pollers?.activity).toBeGreaterThan(0);
    expect(before.missing).toEqual([expect.stringMatching(/^search attributes not registered: CampaignName, /)]);

    // Temporal Cloud: the exact tcld command, nothing registered.
    const cloud = await runCli(['setup', '--cloud'], { env });
    expect(cloud.code).toBe(1);
    expect(cloud.stdout).toContain(`tcld namespace search-attributes add --namespace ${server.namespace}`);
    for (const { name } of SEARCH_ATTRIBUTES) expect(cloud.stdout).toMatch(new RegExp(`--search-attribute "${name}=`));
    expect(cloud.stdout).toContain('--search-attribute "ClustersDone=Int"');
    expect(cloud.stdout).toContain('--search-attribute "AwaitingApproval=Bool"');

    // setup: registers all of them.
    const registered = await runCli(['setup', '--json'], { env });
    expect(registered.code, registered.stdout + registered.stderr).toBe(0);
    const after = report(registered.stdout);
    expect(after.searchAttributes.map((c) => c.state)).toEqual(SEARCH_ATTRIBUTES.map(() => 'added'));
    expect(after.ok).toBe(true);

    const again = await runCli(['setup'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`search attributes  ${SEARCH_ATTRIBUTES.length} present`);
    expect(again.stdout).toContain('ready: fleetwave can run campaigns');

    // A task queue no worker polls: setup says so (and --no-worker-check forgives it). The server
    // remembers a stopped poller for minutes, so this asks about another queue instead.
    const otherQueue = { ...env, FLEETWAVE_TASK_QUEUE: 'setup-test-no-worker' };
    const noWorker = await runCli(['setup'], { env: otherQueue });
    expect(noWorker.code).toBe(1);
    expect(noWorker.stdout).toContain('no worker polls task queue setup-test-no-worker');
    expect((await runCli(['setup', '--no-worker-check'], { env: otherQueue })).code).toBe(0);
    shutdown?.();
    await running;

    // A campaign starts with its search attributes, and the UI's filters find it.
    const campaign = parseCampaign(readFileSync(path.join(REPO_ROOT, 'examples/campaign-fast.yaml'), 'utf8'));
    const fleet = parseFleet(readFileSync(path.join(REPO_ROOT, 'examples/fleet.yaml'), 'utf8'));
    if (!campaign.ok || !fleet.ok) throw new Error('examples do not parse');
    const fw = await connectTemporal({ env });
    try {
      const started = await fw.startCampaign({ campaign: campaign.value, fleet: fleet.value, startedBy: 'setup test' });
      const query =
        `WorkflowType = '${WorkflowTypes.campaign}' AND CampaignName = '${started.name}' AND CampaignState = 'planning' ` +
        `AND ClustersFailed = 0 AND AwaitingApproval = false`;
      let found: string[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = [];
        for await (const info of fw.client.workflow.list({ query })) found.push(info.workflowId);
        if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(found).toEqual([started.workflowId]);
      expect((await fw.listCampaigns()).map((c) => [c.name, c.clustersTotal])).toEqual([
        [started.name, started.clustersTotal],
      ]);
      await fw.client.workflow.getHandle(started.workflowId).terminate('setup test done');
    } finally {
      await fw.close();
    }
  }, 180_000);
});
