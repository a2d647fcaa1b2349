/**
 * End to end, issue #14: signed approvals on a real `fleetwave worker` process whose fleet approval
 * policy (FLEETWAVE_APPROVAL_POLICY → policy.yaml → an OpenSSH allowed_signers file) requires
 * signatures, against the simulator, on the shared Temporal dev server, driven by the real CLI and
 * the real Temporal CLI, with keys made by the real `ssh-keygen -t ed25519 -N ''`.
 *
 * While the canary wave waits for approval:
 * - a name-only approval is refused (the policy requires signatures): exit 2 with the reason;
 * - forged approvals are refused, exit 2 with the reason: alice's name with mallory's key (listed
 *   for mallory only), alice's name with a key nobody listed;
 * - a signature alice made for another wave (`--print-signal` for wave `rest`) replayed as the
 *   `approve` Signal for `canary` with `temporal workflow signal` is refused by the workflow;
 * - then alice's signed approval is accepted and the canary is promoted; the campaign completes.
 * `fleetwave status --json` shows the policy mode, the approval with signed=true and the SHA256
 * fingerprint `ssh-keygen -l` prints, and every refusal above as an `approval-refused` audit entry
 * with its reason (naming the refused key's fingerprint). A campaign spec that lists keys itself
 * (`spec.approvers.keys`) is refused by `fleetwave start` with exit 2 and nothing is started.
 *
 * That `ssh-keygen -Y verify` accepts the bytes `fleetwave approve --print-signal` signed is
 * test/client/signing.test.ts; here it is only the control that the replayed signature is genuine.
 *
 * The same worker process shows the default FLEETWAVE_WORKFLOW_STACK_TRACES=off: the stack-trace
 * query is refused ("not enabled"), where the in-process test workers answer it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ClusterInventory } from '../../domain/fleet';
import { parseFleet } from '../../domain/load';
import { canonicalClaimText, type SignedClaim } from '../../domain/signed-actions';
import { findFreePort } from '../../scripts/dev-server';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { startSimulator, type Simulator } from '../../simulator/index';
import {
  campaignWorkflowId,
  type ApproveInput,
  type AuditEntry,
  type CampaignStatus,
} from '../../workflows/definitions';
import { REPO_ROOT } from '../helpers/bundle';
import { runCli, startCli, type CliProcess, type CliRun } from '../helpers/cli';
import { generateKey, sshVerify, tempDir, type TestKey } from '../helpers/ssh-keys';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { uniqueTag, waitForStatus, type CampaignHandle } from '../workflows/campaign-harness';

const TAG = uniqueTag();
const NAME = `signed-approvals-${TAG}`;

/** Three 1.30 clusters of the example fleet (node groups at 1.30 too), renamed so no other test's IDs collide. */
function exampleClusters(): ClusterInventory[] {
  const parsed = parseFleet(fs.readFileSync(path.join(REPO_ROOT, 'examples/fleet.yaml'), 'utf8'));
  if (!parsed.ok) throw new Error('examples/fleet.yaml is invalid');
  return parsed.value.clusters
    .filter((c) => c.version === '1.30' && c.nodegroups.every((ng) => (ng.version ?? c.version) === '1.30'))
    .filter((c) => !c.faults && c.pdbs.length === 0)
    .slice(0, 3)
    .map((c) => ({ ...c, name: `${c.name}-${TAG}` }));
}

function campaignDoc(name: string, approvers: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name },
    spec: {
      target: { kubernetesVersion: '1.31' },
      waves: [
        { name: 'canary', count: 1, approval: 'required' },
        { name: 'rest', maxParallel: 2 },
      ],
      approvers,
      bake: '0s',
      nodegroups: { maxParallel: 2 },
    },
  };
}

const refusals = (s: CampaignStatus): AuditEntry[] => s.audit.filter((e) => e.kind === 'approval-refused');

describe.skipIf(process.env.FLEETWAVE_TEST_TEMPORAL === 'off')(
  'signed approvals: a real worker with a fleet approval policy, the simulator and the CLI',
  () => {
    let temporal: TestTemporal;
    let temporalCli: string;
    let simulator: Simulator | undefined;
    let worker: CliProcess | undefined;
    let dir: string;
    let clusters: ClusterInventory[];
    let env: Record<string, string>;
    let alice: TestKey;
    let mallory: TestKey;
    let eve: TestKey;
    let allowedSigners: string;

    const cli = (args: string[], timeoutMs = 120_000): Promise<CliRun> => runCli(args, { env, timeoutMs });
    /** `temporal workflow signal` as README.md shows it (no shell; no developer profile). */
    const temporalSignal = (signal: string, input: unknown): Promise<CliRun> => {
      const started = Date.now();
      const args = [
        'workflow',
        'signal',
        '--workflow-id',
        campaignWorkflowId(NAME),
        '--name',
        signal,
        '--input',
        JSON.stringify(input),
        '--address',
        temporal.address,
        '--namespace',
        temporal.namespace,
      ];
      const childEnv = { ...process.env, TEMPORAL_CONFIG_FILE: '/nonexistent' };
      return new Promise((resolve) => {
        execFile(temporalCli, args, { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, signal: error?.signal ?? null, stdout, stderr, ms: Date.now() - started });
        });
      });
    };
    const workerLog = () =>
      `\n--- worker stdout ---\n${worker?.stdout() ?? ''}\n--- stderr ---\n${worker?.stderr() ?? ''}`;

    beforeAll(async () => {
      temporal = await getTestTemporal();
      temporalCli = await findOrBuildTemporalCli({ log: () => undefined });
      dir = tempDir('fleetwave-signed-e2e-');
      // Real OpenSSH keys: alice and mallory are listed (each for themselves), eve is nobody's.
      alice = generateKey(dir, 'alice');
      mallory = generateKey(dir, 'mallory');
      eve = generateKey(dir, 'eve');
      allowedSigners = `alice ${alice.line}\nmallory ${mallory.line}\n`;
      const policyDir = path.join(dir, 'policy');
      fs.mkdirSync(policyDir);
      fs.writeFileSync(path.join(policyDir, 'allowed_signers'), allowedSigners);
      const policyFile = path.join(policyDir, 'policy.yaml');
      fs.writeFileSync(policyFile, 'allowedSigners: allowed_signers\nnameOnlyApprovals: false\n');

      clusters = exampleClusters();
      expect(clusters).toHaveLength(3);
      // 600x: a 25-minute control-plane update takes 2.5 s.
      simulator = await startSimulator({ fleet: clusters, timeScale: 600 });
      env = {
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        FLEETWAVE_TASK_QUEUE: temporal.taskQueue('signed-e2e'),
        FLEETWAVE_AWS_ENDPOINT: simulator.url,
        FLEETWAVE_WAIT_TIME_SCALE: '600',
        FLEETWAVE_METRICS_ADDRESS: `127.0.0.1:${await findFreePort()}`,
        FLEETWAVE_SHUTDOWN_GRACE: '5s',
        FLEETWAVE_APPROVAL_POLICY: policyFile,
        LOG_LEVEL: 'info',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'simulator',
        AWS_SECRET_ACCESS_KEY: 'simulator-secret',
      };
      worker = startCli(['worker'], { env, timeoutMs: 10 * 60_000 });
      const deadline = Date.now() + 120_000;
      while (!worker.stdout().includes('"msg":"worker ready"')) {
        if (worker.child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`worker did not become ready:${workerLog()}`);
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

    it('refuses a campaign spec that lists approver keys itself: exit 2, nothing started', async () => {
      const name = `${NAME}-own-keys`;
      const fleetFile = path.join(dir, 'fleet-own-keys.yaml');
      fs.writeFileSync(fleetFile, stringify({ apiVersion: 'fleetwave.io/v1alpha1', kind: 'Fleet', clusters }));
      const campaignFile = path.join(dir, 'own-keys.yaml');
      // The author lists their own key for alice: the spec may only narrow the worker's policy.
      fs.writeFileSync(
        campaignFile,
        stringify(campaignDoc(name, { users: ['alice'], keys: [`alice ${mallory.line}`] })),
      );
      const run = await cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--as', 'mallory']);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(/spec\.approvers/);
      expect(run.stderr).toMatch(/keys/);
      // Nothing started: no workflow campaign/<name>, and `status` says the campaign is unknown.
      await expect(temporal.client.workflow.getHandle(campaignWorkflowId(name)).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
      const status = await cli(['status', name, '--json']);
      expect(status.code).toBe(2);
    });

    it('accepts the signed approval, refuses name-only, wrong-key and replayed ones, and audits them', async () => {
      const fleetFile = path.join(dir, 'fleet.yaml');
      fs.writeFileSync(fleetFile, stringify({ apiVersion: 'fleetwave.io/v1alpha1', kind: 'Fleet', clusters }));
      const campaignFile = path.join(dir, 'campaign.yaml');
      fs.writeFileSync(campaignFile, stringify(campaignDoc(NAME, { users: ['alice', 'bob'] })));

      const waiting = cli(['start', '-f', campaignFile, '--fleet', fleetFile, '--as', 'ci', '--wait'], 5 * 60_000);
      const handle = temporal.client.workflow.getHandle(campaignWorkflowId(NAME)) as CampaignHandle;
      const awaiting = await waitForStatus(
        handle,
        (s) => s.state === 'awaiting-approval' && s.waves[0]?.state === 'awaiting-approval',
        180_000,
        'canary awaiting approval',
      );
      // The worker runs with FLEETWAVE_WORKFLOW_STACK_TRACES unset (off): no promise hook in its
      // workflow thread, and the Web UI's stack-trace query says so instead of answering.
      expect(worker?.stdout()).toContain('"workflowStackTraces":"off (promise hook not installed)"');
      await expect(handle.query('__stack_trace')).rejects.toThrow(/stack traces are not enabled/);
      // The policy's mode, asked of the worker at the campaign's start.
      expect(awaiting.approvalPolicy?.mode).toBe('signed');
      expect([...(awaiting.approvalPolicy?.signedActions ?? [])].sort()).toEqual([
        'abort',
        'approve',
        'resume',
        'retry',
        'rollback',
        'skip',
      ]);

      // 3. A name-only approval: the policy requires signatures.
      const unsigned = await cli(['approve', NAME, '--wave', 'canary', '--as', 'alice']);
      expect(unsigned.code, unsigned.stderr).toBe(2);
      expect(unsigned.stderr).toMatch(/^error: approval refused: .*requires signed approvals/);

      // 2a. alice's name, mallory's key (listed, for mallory only).
      const malloryKey = await cli(['approve', NAME, '--wave', 'canary', '--as', 'alice', '--sign-key', mallory.file]);
      expect(malloryKey.code, malloryKey.stderr).toBe(2);
      expect(malloryKey.stderr).toMatch(/^error: approval refused: /);
      expect(malloryKey.stderr).toContain(`key ${mallory.fingerprint} is not listed for alice`);
      expect(malloryKey.stderr).toContain('(it is listed for mallory)');

      // 2a. alice's name, a key nobody listed.
      const eveKey = await cli(['approve', NAME, '--wave', 'canary', '--as', 'alice', '--sign-key', eve.file]);
      expect(eveKey.code, eveKey.stderr).toBe(2);
      expect(eveKey.stderr).toMatch(/^error: approval refused: /);
      expect(eveKey.stderr).toContain(`key ${eve.fingerprint} is not listed for alice`);
      expect(eveKey.stderr).not.toContain('it is listed for');

      // 2b. alice's genuine signature for wave `rest`, replayed as the `approve` Signal for `canary`.
      const printed = await cli([
        'approve',
        NAME,
        '--wave',
        'rest',
        '--as',
        'alice',
        '--sign-key',
        alice.file,
        '--print-signal',
      ]);
      expect(printed.code, printed.stderr).toBe(0);
      const forRest = JSON.parse(printed.stdout) as ApproveInput;
      const signed = forRest.signed as SignedClaim;
      expect(signed.claim).toMatchObject({
        action: 'approve',
        campaign: NAME,
        runChain: (await handle.describe()).raw.workflowExecutionInfo?.firstRunId,
        wave: 'rest',
        actor: 'alice',
      });
      // Control: the signature itself is genuine (signing.test.ts covers ssh-keygen -Y verify in full).
      expect(sshVerify(dir, allowedSigners, 'alice', canonicalClaimText(signed.claim), signed.signature).status).toBe(
        0,
      );
      const replay = await temporalSignal('approve', { ...forRest, wave: 'canary' });
      expect(replay.code, replay.stderr).toBe(0);
      const afterReplay = await waitForStatus(
        handle,
        // Stop waiting early if the replay was wrongly accepted: the assertions below then say so.
        (s) => refusals(s).length >= 4 || s.waves[0]?.state !== 'awaiting-approval',
        60_000,
        'the replayed signal refused in the audit trail',
      );
      expect(afterReplay.state).toBe('awaiting-approval');
      expect(afterReplay.waves.map((w) => [w.name, w.state, w.approvals.length])).toEqual([
        ['canary', 'awaiting-approval', 0],
        ['rest', 'pending', 0],
      ]);

      // 1. alice's signed approval: accepted, and the canary is promoted.
      const approved = await cli([
        'approve',
        NAME,
        '--wave',
        'canary',
        '--as',
        'alice',
        '--comment',
        'canary is green',
        '--sign-key',
        alice.file,
      ]);
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toContain(`approved wave canary of ${NAME} as alice (signed) (1/1): promoted`);

      const started = await waiting;
      expect(started.code, `${started.stdout}\n${started.stderr}${workerLog()}`).toBe(0);
      expect(started.stdout).toContain(`campaign ${NAME} completed`);
      for (const cluster of clusters) {
        const [state] = simulator?.state(cluster.name).clusters ?? [];
        expect(state?.version, cluster.name).toBe('1.31');
      }

      const statusRun = await cli(['status', NAME, '--json']);
      expect(statusRun.code, statusRun.stderr).toBe(0);
      const status = JSON.parse(statusRun.stdout) as CampaignStatus;
      expect(status.state).toBe('completed');
      expect(status.approvalPolicy?.mode).toBe('signed');
      // alice.fingerprint is the SHA256:… that `ssh-keygen -l -f alice.pub` printed.
      expect(alice.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(status.waves.map((w) => [w.name, w.state])).toEqual([
        ['canary', 'promoted'],
        ['rest', 'completed'],
      ]);
      expect(status.waves[0]?.approvals).toEqual([
        expect.objectContaining({
          wave: 'canary',
          approver: 'alice',
          comment: 'canary is green',
          via: 'update',
          signed: true,
          fingerprint: alice.fingerprint,
        }),
      ]);
      expect(status.audit.filter((e) => e.kind === 'approval')).toEqual([
        expect.objectContaining({ by: 'alice', wave: 'canary', signed: true, fingerprint: alice.fingerprint }),
      ]);
      expect(status.audit.find((e) => e.kind === 'promoted')?.detail).toMatch(/^approved by alice/);

      // Every refusal in the audit trail, oldest first, with who, which wave and why.
      const refused = refusals(status);
      expect(refused).toEqual([
        expect.objectContaining({
          by: 'alice',
          wave: 'canary',
          detail: expect.stringMatching(/requires signed approvals/),
        }),
        expect.objectContaining({
          by: 'alice',
          wave: 'canary',
          detail: expect.stringContaining(`key ${mallory.fingerprint} is not listed for alice`),
          // The refused key is audited by its fingerprint, unverified (signed: false).
          signed: false,
          fingerprint: mallory.fingerprint,
        }),
        expect.objectContaining({
          by: 'alice',
          wave: 'canary',
          detail: expect.stringContaining(`key ${eve.fingerprint} is not listed for alice`),
          // The refused key is audited by its fingerprint, unverified (signed: false).
          signed: false,
          fingerprint: eve.fingerprint,
        }),
        expect.objectContaining({
          by: 'alice',
          wave: 'canary',
          detail: `the signed claim's wave ("rest") is not the request's ("canary")`,
          // The signature verified (alice's key, listed for alice); the claim is for another wave.
          signed: true,
          fingerprint: alice.fingerprint,
        }),
      ]);
      for (const entry of refused) expect(entry.at).toEqual(expect.any(String));

      // What an operator reads: the policy mode, the verified key, the refusals.
      const human = await cli(['status', NAME]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain('approvals: signed (fleet policy; signatures required for approve,');
      expect(human.stdout).toContain(`signed ${alice.fingerprint}`);
      expect(human.stdout).toContain('refused approvals and actions (4, newest last):');
      expect(human.stdout).toContain(mallory.fingerprint);
    }, 300_000);
  },
);
