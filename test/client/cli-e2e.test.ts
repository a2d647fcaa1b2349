/**
 * The CLI end to end against the shared Temporal dev server, with the real campaign workflow and
 * fake activities in a worker inside this process (the exit-code matrix; the simulator-backed run
 * with a real worker process is cli-simulator.test.ts). Each `fleetwave` call is a real process.
 *
 * 1. start --wait (in the background) → status --json → approve refused (wrong wave, not an
 *    approver) exit 2 with the reason and audited → approve wave 1 exit 0 → wave 2 refused, then approved, by
 *    the real Temporal CLI (`temporal workflow signal`, the command README.md documents) → watch
 *    and --wait exit 0 on completion, status --json lists both approvals and the refusal.
 * 2. start --wait → abort → --wait and watch exit 3.
 * 3. a failure within the wave's budget → completed-with-failures → --wait exit 0 with a warning.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { campaignWorkflowId, type CampaignStatus } from '../../workflows/definitions';
import {
  createFakeActivities,
  fakeCluster,
  type FakeActivities,
  type FakeClusterInit,
} from '../helpers/fake-activities';
import { runCli, type CliRun } from '../helpers/cli';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { uniqueTag, waitForStatus, withWorker, type CampaignHandle } from '../workflows/campaign-harness';

let temporal: TestTemporal;
let dir: string;
/** The `temporal` binary (the global setup already found or built it to run the dev server). */
let temporalCli: string;

beforeAll(async () => {
  temporal = await getTestTemporal();
  temporalCli = await findOrBuildTemporalCli({ log: () => undefined });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-cli-e2e-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A Fleet document for the fake clusters, as a user would write it. */
function writeFleet(fake: FakeActivities, names: string[]): string {
  const clusters = names.map((name) => {
    const c = fake.cluster(name);
    return {
      name: c.name,
      region: c.region,
      account: c.account,
      labels: { env: 'test' },
      version: c.version,
      nodegroups: c.nodegroups.map((ng) => ({ name: ng.name, version: ng.version, releaseVersion: ng.releaseVersion })),
      addons: c.addons.map((a) => ({ name: a.name, version: a.version })),
    };
  });
  const file = path.join(dir, `fleet-${names[0]}.yaml`);
  fs.writeFileSync(file, stringify({ apiVersion: 'fleetwave.io/v1alpha1', kind: 'Fleet', clusters }));
  return file;
}

function writeCampaign(name: string, spec: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.yaml`);
  const campaign = {
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name },
    spec: { target: { kubernetesVersion: '1.31' }, bake: '0s', approvers: { users: ['alice', 'bob'] }, ...spec },
  };
  fs.writeFileSync(file, stringify(campaign));
  return file;
}

interface Scenario {
  name: string;
  campaignFile: string;
  fleetFile: string;
  handle: CampaignHandle;
  cli: (args: string[]) => Promise<CliRun>;
  /** `temporal workflow signal --workflow-id campaign/<name> --name <signal> --input <json>` against the test server. */
  signal: (signal: string, input: unknown) => Promise<CliRun>;
}

/** Runs the real Temporal CLI (no shell: each argument is passed as is, like the quoted ones in README.md). */
function runTemporalCli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  const started = Date.now();
  // As for `fleetwave`: the developer's Temporal profile must not leak in; the flags say where to go.
  const env = { ...process.env, TEMPORAL_CONFIG_FILE: '/nonexistent' };
  return new Promise((resolve) => {
    execFile(temporalCli, args, { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, signal: error?.signal ?? null, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A campaign over fresh fake clusters, a worker on its own task queue, and a CLI pointed at both. */
async function scenario(
  clusterInits: (tag: string) => FakeClusterInit[],
  spec: Record<string, unknown>,
  fn: (s: Scenario) => Promise<void>,
): Promise<void> {
  const tag = uniqueTag();
  const inits = clusterInits(tag);
  const fake = createFakeActivities({ clusters: inits });
  const taskQueue = temporal.taskQueue('cli-e2e');
  const name = `cli-e2e-${tag}`;
  const env = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    FLEETWAVE_TASK_QUEUE: taskQueue,
  };
  const s: Scenario = {
    name,
    campaignFile: writeCampaign(name, spec),
    fleetFile: writeFleet(
      fake,
      inits.map((c) => c.name),
    ),
    handle: temporal.client.workflow.getHandle(campaignWorkflowId(name)) as CampaignHandle,
    cli: (args) => runCli(args, { env, timeoutMs: 120_000 }),
    signal: (signal, input) =>
      runTemporalCli([
        'workflow',
        'signal',
        '--workflow-id',
        campaignWorkflowId(name),
        '--name',
        signal,
        '--input',
        JSON.stringify(input),
        '--address',
        temporal.address,
        '--namespace',
        temporal.namespace,
      ]),
  };
  await withWorker(temporal, taskQueue, fake.activities, () => fn(s));
}

const awaitingApproval = (wave: string) => (s: CampaignStatus) =>
  s.state === 'awaiting-approval' && s.waves.some((w) => w.name === wave && w.state === 'awaiting-approval');

describe('fleetwave CLI end to end (fake activities)', () => {
  it('start, status, approvals refused and granted, watch and --wait exit 0 on completion', async () => {
    await scenario(
      (tag) => ['a', 'b', 'c', 'd'].map((suffix) => fakeCluster(`cli-${tag}-${suffix}`)),
      {
        waves: [
          { name: 'canary', count: 1, approval: 'required' },
          { name: 'staging', count: 1, approval: 'required' },
          { name: 'rest', maxParallel: 2 },
        ],
      },
      async ({ name, campaignFile, fleetFile, handle, cli, signal }) => {
        const waiting = cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--as', 'ci', '--wait', '--json']);
        await waitForStatus(handle, awaitingApproval('canary'), 60_000, 'canary awaiting approval');

        const status = await cli(['status', name, '--json']);
        expect(status.code, status.stderr).toBe(0);
        const parsed = JSON.parse(status.stdout) as CampaignStatus;
        expect(parsed.name).toBe(name);
        expect(parsed.state).toBe('awaiting-approval');
        expect(parsed.waves.map((w) => [w.name, w.total, w.approvalsNeeded])).toEqual([
          ['canary', 1, 1],
          ['staging', 1, 1],
          ['rest', 2, 0],
        ]);

        const human = await cli(['status', name]);
        expect(human.code).toBe(0);
        expect(human.stdout).toContain(`fleetwave approve ${name} --wave canary`);

        const wrongWave = await cli(['approve', name, '--wave', 'staging', '--as', 'alice']);
        expect(wrongWave.code).toBe(2);
        expect(wrongWave.stderr).toMatch(/^error: approval refused: .*staging/);

        const notApprover = await cli(['approve', name, '--wave', 'canary', '--as', 'mallory']);
        expect(notApprover.code).toBe(2);
        expect(notApprover.stderr).toMatch(/^error: approval refused: .*mallory/);

        const watching = cli(['watch', name, '--interval', '0.5']);
        const approve = await cli([
          'approve',
          name,
          '--wave',
          'canary',
          '--as',
          'alice',
          '--comment',
          'canary is green',
        ]);
        expect(approve.code, approve.stderr).toBe(0);
        expect(approve.stdout).toContain(`approved wave canary of ${name} as alice (1/1): promoted`);

        // Wave 2, with the Temporal CLI as README.md shows it. A Signal is not answered: the refusal
        // of a non-approver lands in the audit trail and the wave stays where it was.
        await waitForStatus(handle, awaitingApproval('staging'), 60_000, 'staging awaiting approval');
        const refused = await signal('approve', { wave: 'staging', approver: 'mallory', comment: 'let me in' });
        expect(refused.code, refused.stderr).toBe(0);
        const afterRefusal = await waitForStatus(
          handle,
          (s) => s.audit.some((e) => e.kind === 'approval-refused' && e.by === 'mallory' && e.wave === 'staging'),
          30_000,
          "mallory's refused signal in the audit trail",
        );
        // The refused Updates above are in the audit trail too (the CLI also got their reasons).
        expect(afterRefusal.audit.filter((e) => e.kind === 'approval-refused')).toEqual([
          expect.objectContaining({ by: 'alice', wave: 'staging', detail: expect.stringMatching(/staging/) }),
          expect.objectContaining({ by: 'mallory', wave: 'canary', detail: expect.stringMatching(/not an approver/) }),
          {
            at: expect.any(String),
            kind: 'approval-refused',
            by: 'mallory',
            wave: 'staging',
            detail: `"mallory" is not an approver of campaign "${name}" (approvers: alice, bob)`,
            signed: false,
          },
        ]);
        expect(afterRefusal.state).toBe('awaiting-approval');
        expect(afterRefusal.waves.map((w) => [w.name, w.state, w.approvals.length])).toEqual([
          ['canary', 'promoted', 1],
          ['staging', 'awaiting-approval', 0],
          ['rest', 'pending', 0],
        ]);

        const signalled = await signal('approve', {
          wave: 'staging',
          approver: 'bob',
          comment: 'staging dashboards green',
        });
        expect(signalled.code, signalled.stderr).toBe(0);

        const started = await waiting;
        expect(started.code, started.stderr).toBe(0);
        const output = JSON.parse(started.stdout) as { workflowId: string; uiUrl: string; result: { state: string } };
        expect(output.workflowId).toBe(`campaign/${name}`);
        expect(output.uiUrl).toContain(`/workflows/campaign%2F${name}`);
        expect(output.result.state).toBe('completed');

        const watched = await watching;
        expect(watched.code, watched.stderr).toBe(0);
        expect(watched.stdout).toContain(`wave canary: approved by alice (canary is green)`);
        expect(watched.stdout).toContain(`wave staging: approved by bob (staging dashboards green)`);
        expect(watched.stdout.trim().split('\n').at(-1)).toBe(`campaign ${name} completed`);

        const final = await cli(['status', name, '--json']);
        expect(final.code, final.stderr).toBe(0);
        const finalStatus = JSON.parse(final.stdout) as CampaignStatus;
        expect(finalStatus.state).toBe('completed');
        expect(finalStatus.waves.map((w) => [w.name, w.approvals.map((a) => [a.approver, a.via, a.comment])])).toEqual([
          ['canary', [['alice', 'update', 'canary is green']]],
          ['staging', [['bob', 'signal', 'staging dashboards green']]],
          ['rest', []],
        ]);
        expect(finalStatus.audit.filter((e) => e.kind === 'approval' || e.kind === 'approval-refused')).toEqual([
          expect.objectContaining({ kind: 'approval-refused', by: 'alice', wave: 'staging' }),
          expect.objectContaining({ kind: 'approval-refused', by: 'mallory', wave: 'canary' }),
          expect.objectContaining({ kind: 'approval', by: 'alice', wave: 'canary', signed: false }),
          expect.objectContaining({ kind: 'approval-refused', by: 'mallory', wave: 'staging' }),
          expect.objectContaining({ kind: 'approval', by: 'bob', wave: 'staging' }),
        ]);

        const list = await cli(['list', '--all', '--json']);
        expect(list.code).toBe(0);
        const listed = (JSON.parse(list.stdout) as { name: string; executionStatus: string }[]).find(
          (c) => c.name === name,
        );
        expect(listed?.executionStatus).toBe('COMPLETED');
      },
    );
  }, 180_000);

  it('abort: --wait and watch exit 3', async () => {
    await scenario(
      (tag) => [fakeCluster(`cli-${tag}-a`), fakeCluster(`cli-${tag}-b`)],
      { waves: [{ name: 'canary', count: 1, approval: 'required' }, { name: 'rest' }] },
      async ({ name, campaignFile, fleetFile, handle, cli }) => {
        const waiting = cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--wait']);
        await waitForStatus(handle, awaitingApproval('canary'), 60_000, 'canary awaiting approval');
        const watching = cli(['watch', name, '--interval', '0.5']);

        const again = await cli(['start', '-f', campaignFile, '--fleet', fleetFile]);
        expect(again.code).toBe(2);
        expect(again.stderr).toContain(`campaign "${name}" is already running`);

        const abort = await cli(['abort', name, '--reason', 'change freeze', '--as', 'bob']);
        expect(abort.code, abort.stderr).toBe(0);

        const started = await waiting;
        expect(started.code, started.stderr).toBe(3);
        expect(started.stdout).toMatch(new RegExp(`campaign ${name} aborted`));
        const watched = await watching;
        expect(watched.code, watched.stderr).toBe(3);
      },
    );
  });

  it('completed-with-failures: --wait exits 0 with a warning line', async () => {
    await scenario(
      (tag) => [
        fakeCluster(`cli-${tag}-a`),
        fakeCluster(`cli-${tag}-b`, { behaviour: { failUpdate: { 'control-plane': {} } } }),
      ],
      { waves: [{ name: 'all', maxParallel: 2, failureBudget: 1 }] },
      async ({ name, campaignFile, fleetFile, cli }) => {
        const run = await cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--wait']);
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toContain(`campaign ${name} completed-with-failures`);
        expect(run.stderr).toMatch(new RegExp(`warning: campaign ${name} completed with failures .*cli-.*-b`));
      },
    );
  });
});
