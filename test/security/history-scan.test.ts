/**
 * Nothing secret in workflow histories: every execution on the shared Temporal dev server —
 * whatever the other test files left there when this one runs, plus a campaign this file runs
 * itself — has its history fetched, its payloads decoded, and the whole of it scanned by
 * scanForSecrets (test/security/secret-scan.ts). Any finding fails the test, naming the
 * workflow, the rule and a masked excerpt.
 *
 * The campaign goes through the real worker path: the campaign and cluster-upgrade workflows,
 * the real activities (createActivities over createDefaultDeps: AWS SDK EKS/STS clients and the
 * Kubernetes client with in-memory EKS tokens) against the fleet simulator, with fake base
 * credentials and one cluster reached through an assumed role, so base credentials,
 * simulator-issued session credentials and `k8s-aws-v1.` tokens all flow through the worker.
 * A non-approver's approval arrives as a Signal, is refused and recorded in the audit trail;
 * that history, which holds the refused approval, is scanned like every other. A planted
 * workflow whose input carries the worker's credentials proves the scan would catch a leak.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, createDefaultDeps } from '../../activities/index';
import { createLeaseActivities } from '../../activities/leases';
import { FleetwaveClient } from '../../client/library';
import type { ClusterInventory } from '../../domain/fleet';
import { startSimulator, type Simulator } from '../../simulator/index';
import { approveSignal, campaignWorkflowId, WorkflowTypes, type CampaignStatus } from '../../workflows/definitions';
import { getWorkflowBundle } from '../helpers/bundle';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { describeFindings, scanForSecrets, type Finding } from './secret-scan';

const TAG = randomBytes(3).toString('hex');
/** What this file's worker authenticates with: unique, so a leak is attributable to this path. */
const WORKER_CREDENTIALS = {
  accessKeyId: `AKIDHISTORYSCAN${TAG.toUpperCase()}`,
  secretAccessKey: `history-scan-secret-${TAG}-do-not-leak`,
};
const ROLE_ACCOUNT = '222233334444';
const ROLE_ARN = `arn:aws:iam::${ROLE_ACCOUNT}:role/fleetwave-upgrader`;

let temporal: TestTemporal;
let simulator: Simulator;

/** Three 1.30 clusters (one reached through an assumed role), upgraded to 1.31 in two waves. */
function clusters(): ClusterInventory[] {
  const cluster = (name: string, region: string, account: string, extra: Partial<ClusterInventory> = {}) =>
    ({
      name: `${name}-${TAG}`,
      region,
      account,
      labels: { env: 'scan' },
      version: '1.30',
      nodegroups: [{ name: 'general', version: '1.30', nodes: 2, maxUnavailable: 1 }],
      addons: [
        { name: 'vpc-cni', version: 'v1.18.1-eksbuild.3' },
        { name: 'coredns', version: 'v1.11.1-eksbuild.11' },
        { name: 'kube-proxy', version: 'v1.30.0-eksbuild.3' },
      ],
      pdbs: [],
      ...extra,
    }) as ClusterInventory;
  return [
    cluster('scan-a', 'eu-west-1', '111122223333'),
    cluster('scan-b', 'us-east-1', '111122223333'),
    cluster('scan-c', 'us-east-1', ROLE_ACCOUNT, { roleArn: ROLE_ARN }),
  ];
}

beforeAll(async () => {
  temporal = await getTestTemporal();
  // 600x: a 25-minute control-plane update takes 2.5 s.
  simulator = await startSimulator({ fleet: clusters(), timeScale: 600, seed: 11 });
}, 120_000);

afterAll(async () => {
  await simulator?.stop();
});

/**
 * A history as plain JSON: bytes as base64 (as proto JSON has them), int64s as strings. (The SDK's
 * historyToJSON needs the protobufjs instance its own package loaded, which a test cannot rely on.)
 */
function toPlain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toPlain);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  // protobufjs Long
  if ('low' in value && 'high' in value && 'unsigned' in value) return String(value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
}

/** Decodes every Payload (`{ metadata: { encoding }, data }`, base64 in plain JSON) into readable JSON or text. */
function decodePayloads(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodePayloads);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, unknown> | undefined;
  if (metadata && typeof metadata === 'object' && typeof metadata.encoding === 'string') {
    const meta = Object.fromEntries(
      Object.entries(metadata).map(([k, v]) => [
        k,
        typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
      ]),
    );
    const text = typeof record.data === 'string' ? Buffer.from(record.data, 'base64').toString('utf8') : undefined;
    let data: unknown = text;
    if (text !== undefined && /^json\//.test(String(meta.encoding))) {
      try {
        data = JSON.parse(text);
      } catch {
        // Keep the text: a payload that claims JSON but is not is still scanned.
      }
    }
    return { ...record, metadata: meta, data };
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, decodePayloads(v)]));
}

interface ScannedHistory {
  workflowId: string;
  runId: string;
  workflowType: string;
  events: number;
  chars: number;
  findings: Finding[];
  text: string;
}

/** Every execution on the server (open and closed, all runs), each history decoded and scanned. */
async function scanAllHistories(client: Client, literals: string[]): Promise<ScannedHistory[]> {
  const executions: { workflowId: string; runId: string; type: string }[] = [];
  for await (const info of client.workflow.list()) {
    executions.push({ workflowId: info.workflowId, runId: info.runId, type: info.type });
  }
  const scanned: ScannedHistory[] = [];
  let next = 0;
  const scanNext = async (): Promise<void> => {
    while (next < executions.length) {
      const execution = executions[next++] as (typeof executions)[number];
      let history;
      try {
        history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      } catch (err) {
        // Another file's dedicated namespace or a retention sweep: gone before we got to it.
        if (err instanceof WorkflowNotFoundError) continue;
        throw err;
      }
      const text = JSON.stringify(decodePayloads(toPlain(history)));
      scanned.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        workflowType: execution.type,
        events: history.events?.length ?? 0,
        chars: text.length,
        findings: scanForSecrets(text, { literals }),
        text,
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, scanNext));
  return scanned;
}

async function waitForStatus(
  fw: FleetwaveClient,
  name: string,
  predicate: (s: CampaignStatus) => boolean,
  timeoutMs: number,
): Promise<CampaignStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CampaignStatus | undefined;
  while (Date.now() < deadline) {
    last = await fw.getStatus(name).catch(() => undefined);
    if (last && predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`campaign ${name} did not reach the expected state; last: ${JSON.stringify(last?.state)}`);
}

describe('workflow histories hold no secrets', () => {
  it('runs a campaign through the real activities and the simulator, then finds nothing in any history', async () => {
    const started = performance.now();
    const taskQueue = temporal.taskQueue('history-scan');
    const fw = new FleetwaveClient({ client: temporal.client, taskQueue });
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(),
      activities: {
        ...createActivities(
          createDefaultDeps({
            endpoint: simulator.url,
            region: 'us-east-1',
            credentials: WORKER_CREDENTIALS,
            polling: { initialMs: 100, maxMs: 500 },
            waits: { timeScale: 600 },
          }),
        ),
        ...createLeaseActivities({ client: temporal.client, taskQueue }),
      },
    });
    const name = `history-scan-${TAG}`;
    const fleet = { apiVersion: 'fleetwave.io/v1alpha1', kind: 'Fleet', clusters: clusters() };
    const campaign = {
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
    };

    const result = await worker.runUntil(async () => {
      await fw.startCampaign({ campaign, fleet, startedBy: 'history-scan' });
      await waitForStatus(fw, name, (s) => s.state === 'awaiting-approval', 180_000);
      // A Signal from someone who is not an approver: refused, and kept in the audit trail.
      await temporal.client.workflow
        .getHandle(campaignWorkflowId(name))
        .signal(approveSignal, { wave: 'canary', approver: 'mallory', comment: 'looks fine to me' });
      const refused = await waitForStatus(
        fw,
        name,
        (s) => s.audit.some((a) => a.kind === 'approval-refused' && a.by === 'mallory'),
        30_000,
      );
      expect(refused.state).toBe('awaiting-approval');
      await fw.approveWave(name, { wave: 'canary', approver: 'alice', comment: 'canary is healthy' });
      return fw.waitForCampaign(name);
    });
    expect(result.state, result.reason).toBe('completed');
    expect(result.upgraded).toHaveLength(3);
    const campaignMs = performance.now() - started;

    // A positive control: a workflow whose input carries a leaked credential (no worker runs it).
    // The same list → fetch → decode → scan path must flag it, so a clean result means something.
    const canaryId = `history-scan-canary/${TAG}`;
    const canary = await temporal.client.workflow.start('historyScanCanary', {
      workflowId: canaryId,
      taskQueue: temporal.taskQueue('history-scan-canary'),
      args: [{ cluster: `scan-c-${TAG}`, credentials: WORKER_CREDENTIALS }],
    });
    await canary.terminate('history-scan positive control');

    const scanStarted = performance.now();
    const histories = await scanAllHistories(temporal.client, [
      WORKER_CREDENTIALS.accessKeyId,
      WORKER_CREDENTIALS.secretAccessKey,
      ...[process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN].filter(
        (v): v is string => !!v && v.length >= 8,
      ),
    ]);
    const scanMs = performance.now() - scanStarted;

    // Our own campaign and its three cluster upgrades are among what was scanned...
    const ours = histories.filter((h) => h.workflowId.includes(TAG) && h.workflowId !== canaryId);
    expect(ours.map((h) => h.workflowType).sort()).toEqual([
      WorkflowTypes.campaign,
      WorkflowTypes.clusterUpgrade,
      WorkflowTypes.clusterUpgrade,
      WorkflowTypes.clusterUpgrade,
    ]);
    // ...including the history that holds the refused approval (the Signal's decoded input).
    const campaignHistory = ours.find((h) => h.workflowType === WorkflowTypes.campaign) as ScannedHistory;
    expect(campaignHistory.text).toContain('"approver":"mallory"');
    expect(campaignHistory.text).toMatch(/"workflowExecutionSignaledEventAttributes":\{"signalName":"approve"/);
    // The scan reads decoded payloads, not base64: the cluster names are there in clear.
    expect(campaignHistory.text).toContain(`scan-c-${TAG}`);

    const control = histories.find((h) => h.workflowId === canaryId);
    // Both the credentials handed to the worker (literals) and the generic secretAccessKey field rule fire.
    expect([...new Set(control?.findings.map((f) => f.rule))].sort()).toEqual([
      'credential-field',
      'fake-test-credential',
    ]);

    const findings = histories.flatMap((h) =>
      h.findings.length > 0 && h !== control
        ? [describeFindings(h.findings, `${h.workflowId} (${h.workflowType})`)]
        : [],
    );
    const events = histories.reduce((n, h) => n + h.events, 0);
    const chars = histories.reduce((n, h) => n + h.chars, 0);
    const byType = new Map<string, number>();
    for (const h of histories) byType.set(h.workflowType, (byType.get(h.workflowType) ?? 0) + 1);
    console.log(
      `history scan: ${histories.length} histories (${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}), ` +
        `${events} events, ${(chars / 1e6).toFixed(1)} MB decoded, ${findings.length} with findings (besides the planted control); ` +
        `campaign ${(campaignMs / 1000).toFixed(1)} s, scan ${(scanMs / 1000).toFixed(1)} s`,
    );
    expect(histories.length).toBeGreaterThanOrEqual(5);
    expect(findings, findings.join('\n')).toEqual([]);
  }, 300_000);
});
