/**
 * The human output of the operator commands and the client library's pure helpers: the status
 * table, watch frames and change lines, the campaign list, UI links, exit codes of awaited
 * campaigns, and start-time validation.
 */
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../client/cli';
import { exitCodeForResult } from '../../client/commands/support';
import { InvalidInputError } from '../../client/errors';
import {
  describeApprovalPolicy,
  describeChanges,
  formatCampaignList,
  formatStatus,
  formatWatchFrame,
  progressBar,
  table,
} from '../../client/format';
import { temporalUiUrl, validateStartInput } from '../../client/library';
import type { CampaignStatus, ClusterState, WaveStatus } from '../../workflows/definitions';

const ZERO: Record<ClusterState, number> = {
  pending: 0,
  waiting: 0,
  upgrading: 0,
  upgraded: 0,
  'already-at-target': 0,
  'rolled-back': 0,
  failed: 0,
  blocked: 0,
  skipped: 0,
};

function wave(
  name: string,
  index: number,
  state: WaveStatus['state'],
  counts: Partial<Record<ClusterState, number>>,
): WaveStatus {
  const all = { ...ZERO, ...counts };
  return {
    name,
    index,
    state,
    total: Object.values(all).reduce((a, b) => a + b, 0),
    counts: all,
    failureBudget: 1,
    approvalsNeeded: 2,
    approvals: [],
    gates: [],
  };
}

function status(overrides: Partial<CampaignStatus> = {}): CampaignStatus {
  return {
    name: 'k8s-131',
    state: 'awaiting-approval',
    targetVersion: '1.31',
    currentWave: 'canary',
    waves: [
      {
        ...wave('canary', 0, 'awaiting-approval', { upgraded: 1, 'rolled-back': 1 }),
        approvals: [{ wave: 'canary', approver: 'alice', at: '2025-01-01T00:00:00Z', via: 'update', comment: 'ok' }],
      },
      wave('prod', 1, 'pending', { pending: 3 }),
    ],
    clusters: [
      { name: 'c1', wave: 'canary', state: 'upgraded', attempts: 1 },
      {
        name: 'c2',
        wave: 'canary',
        state: 'rolled-back',
        step: 'bake',
        reason: 'gate error-ratio failed',
        attempts: 1,
      },
      { name: 'p1', wave: 'prod', state: 'pending', attempts: 0 },
      { name: 'p2', wave: 'prod', state: 'pending', attempts: 0 },
      { name: 'p3', wave: 'prod', state: 'pending', attempts: 0 },
    ],
    skippedAtPlan: [{ cluster: 'old', reason: 'already at target (1.31)' }],
    audit: [],
    runs: 1,
    ...overrides,
  };
}

describe('formatStatus', () => {
  it('shows waves with counts, the approval to give, clusters in trouble and approvals', () => {
    const text = formatStatus(status(), 'http://ui/x');
    expect(text.split('\n')).toEqual([
      'campaign k8s-131  ·  state awaiting-approval  ·  target 1.31  ·  wave canary',
      'ui: http://ui/x',
      '',
      'WAVE    STATE              DONE  UPGRADING  WAITING  FAILED  SKIPPED  BUDGET  APPROVALS',
      'canary  awaiting-approval  2/2   0          0        1       0        1       1/2',
      'prod    pending            0/3   0          3        0       0        1       0/2',
      'wave canary awaits approval (1/2): fleetwave approve k8s-131 --wave canary --as <you>',
      '',
      'clusters in trouble (1):',
      '  CLUSTER  WAVE    STATE        STEP  REASON',
      '  c2       canary  rolled-back  bake  gate error-ratio failed',
      '',
      'approvals:',
      '  canary: alice at 2025-01-01T00:00:00Z via update — ok',
      '',
      'not planned (1):',
      '  old: already at target (1.31)',
      '',
    ]);
  });
});

describe('formatStatus after a partial rollback', () => {
  it('names the clusters whose node groups stayed at the new version, with each reason in the table', () => {
    const reason =
      'gate error-ratio failed; control plane stays at 1.31: node group std 1.31 runs a kubelet newer than Kubernetes 1.30; node groups kept: node group std stays at 1.31 (1.31.2-20250101): EKS picks its BOTTLEROCKET_ARM_64 AMI';
    const s = status();
    const text = formatStatus({
      ...s,
      clusters: s.clusters.map((c) => (c.name === 'c2' ? { ...c, reason } : c)),
    });
    expect(text).toContain(`  c2       canary  rolled-back  bake  ${reason}`);
    expect(text).toContain('node groups left at the new version (EKS cannot roll them back) in 1 cluster(s): c2\n');
    expect(formatStatus(s)).not.toContain('node groups left at the new version');
  });
});

describe('watch output', () => {
  it('draws a progress bar per wave and the clusters in flight or in trouble', () => {
    const s = status({
      clusters: [
        ...status().clusters,
        { name: 'p1', wave: 'prod', state: 'upgrading', step: 'controlplane 1.31', attempts: 1 },
      ],
    });
    expect(formatWatchFrame(s)).toEqual([
      'campaign k8s-131  awaiting-approval  wave canary',
      '  canary [####################]    2/2  awaiting-approval  1 failed  approvals 1/2',
      '  prod   [--------------------]    0/3  pending',
      '    c2  rolled-back  bake  gate error-ratio failed',
      '    p1  upgrading  controlplane 1.31',
    ]);
    expect(progressBar(1, 4, 8)).toBe('[##------]');
    expect(progressBar(0, 0, 4)).toBe('[####]');
  });

  it('prints one line per change, and everything that matters the first time', () => {
    const before = status({ state: 'running', waves: [wave('canary', 0, 'running', { upgrading: 2 })], clusters: [] });
    const first = describeChanges(undefined, before);
    expect(first).toEqual(['campaign k8s-131: running', 'wave canary: running (0/2 done)']);
    const after = status();
    expect(describeChanges(before, after)).toEqual([
      'campaign k8s-131: awaiting-approval',
      'wave canary: awaiting-approval (2/2 done)',
      'wave canary: approved by alice (ok)',
      'cluster c1: upgraded',
      'cluster c2: rolled-back (bake, gate error-ratio failed)',
    ]);
    expect(describeChanges(after, after)).toEqual([]);
  });
});

describe('a campaign held by a freeze', () => {
  const frozen = status({
    state: 'frozen',
    currentWave: 'prod',
    fleetHold: 'frozen: holiday until 2025-01-02T00:00:00.000Z',
    waves: [wave('prod', 0, 'running', { upgrading: 1 })],
    clusters: [
      {
        name: 'p1',
        wave: 'prod',
        state: 'upgrading',
        step: 'controlplane 1.31',
        attempts: 1,
        held: 'held by freeze f1: frozen: holiday until 2025-01-02T00:00:00.000Z',
      },
    ],
  });

  it('names the freeze in the header and on each held cluster, in status and watch', () => {
    const text = formatStatus(frozen);
    expect(text).toContain('held: frozen: holiday until 2025-01-02T00:00:00.000Z (fleetwave freeze list)');
    expect(text).toMatch(/CLUSTER\s+WAVE\s+STEP\s+SINCE\s+HELD/);
    expect(text).toMatch(/p1\s+prod\s+controlplane 1\.31\s+held by freeze f1/);
    const frame = formatWatchFrame(frozen);
    expect(frame[0]).toMatch(/^campaign k8s-131 {2}frozen {2}wave prod {2}\(held: frozen: holiday/);
    expect(frame.some((l) => l.includes('p1  upgrading  controlplane 1.31  (held by freeze f1:'))).toBe(true);
  });
});

describe('refused approvals', () => {
  const refusal = {
    at: '2024-10-01T10:05:00.000Z',
    kind: 'approval-refused' as const,
    by: 'mallory',
    wave: 'canary',
    detail: '"mallory" is not an approver of campaign "k8s-131" (approvers: alice, bob)',
  };
  it('are listed by status and announced once by watch (a refused Signal gets no other answer)', () => {
    const before = status();
    const after = status({ audit: [...before.audit, refusal] });
    expect(formatStatus(before)).not.toContain('refused approvals');
    expect(formatStatus(after)).toContain(
      `refused approvals and actions (1, newest last):\n  2024-10-01T10:05:00.000Z mallory: ${refusal.detail}`,
    );
    expect(describeChanges(before, after)).toEqual([`approval refused (mallory): ${refusal.detail}`]);
    expect(describeChanges(after, after)).toEqual([]);
  });
});

describe('approval policy and proofs', () => {
  it("prints the policy mode, each approval's key, and refused actions with their fingerprint", () => {
    expect(describeApprovalPolicy({ mode: 'no-policy', signedActions: [] })).toBe(
      'name only (no fleet policy on the worker)',
    );
    expect(describeApprovalPolicy({ mode: 'name-only-allowed', signedActions: ['resume'] })).toBe(
      'name only allowed by the fleet policy; signatures required for resume',
    );
    expect(describeApprovalPolicy({ mode: 'signed', signedActions: ['approve', 'skip'] })).toBe(
      'signed (fleet policy; signatures required for approve, skip)',
    );
    const base = status();
    const signedStatus = status({
      approvalPolicy: { mode: 'signed', signedActions: ['approve'] },
      waves: base.waves.map((w, i) =>
        i === 0
          ? {
              ...w,
              approvals: [
                {
                  wave: w.name,
                  approver: 'alice',
                  at: '2024-10-01T10:00:00.000Z',
                  via: 'update' as const,
                  signed: true,
                  fingerprint: 'SHA256:abc',
                  expiresAt: '2024-10-01T14:00:00.000Z',
                },
                {
                  wave: w.name,
                  approver: 'bob',
                  at: '2024-10-01T10:01:00.000Z',
                  via: 'signal' as const,
                  signed: false,
                },
              ],
            }
          : w,
      ),
      audit: [
        ...base.audit,
        {
          at: '2024-10-01T10:02:00.000Z',
          kind: 'action-refused' as const,
          by: 'alice',
          cluster: 'c1',
          detail: 'resume refused: campaign "k8s-131" is not paused',
          signed: true,
          fingerprint: 'SHA256:abc',
        },
      ],
    });
    const text = formatStatus(signedStatus);
    expect(text).toContain('approvals: signed (fleet policy; signatures required for approve)\n');
    expect(text).toContain(
      `alice at 2024-10-01T10:00:00.000Z via update, signed SHA256:abc, counts until 2024-10-01T14:00:00.000Z`,
    );
    expect(text).toContain('bob at 2024-10-01T10:01:00.000Z via signal, name only');
    expect(text).toContain(
      '2024-10-01T10:02:00.000Z alice (SHA256:abc): resume refused: campaign "k8s-131" is not paused',
    );
    expect(formatStatus(status())).not.toContain('approvals: ');
    expect(describeChanges(base, signedStatus)).toContain(
      'action refused (alice): resume refused: campaign "k8s-131" is not paused',
    );
  });
});

describe('formatCampaignList and table', () => {
  it('lists campaigns with their state and progress', () => {
    expect(formatCampaignList([])).toBe('no campaigns\n');
    const text = formatCampaignList([
      {
        name: 'k8s-131',
        workflowId: 'campaign/k8s-131',
        runId: 'r',
        executionStatus: 'RUNNING',
        state: 'awaiting-approval',
        awaitingApproval: true,
        targetVersion: '1.31',
        currentWave: 'canary',
        clustersTotal: 5,
        clustersDone: 2,
        clustersFailed: 1,
        startTime: '2025-01-01T00:00:00.000Z',
      },
    ]);
    expect(text).toContain('k8s-131  running  awaiting-approval (approval)  1.31    canary  2/5 (1 failed)');
    expect(
      table([
        ['A', 'B'],
        ['long', 'x'],
      ]),
    ).toEqual(['A     B', 'long  x']);
  });
});

describe('client library helpers', () => {
  it('links to the Temporal UI of the dev server, FLEETWAVE_TEMPORAL_UI, or Temporal Cloud', () => {
    expect(temporalUiUrl('127.0.0.1:7233', 'default', 'campaign/x', {})).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/campaign%2Fx',
    );
    expect(
      temporalUiUrl('temporal:7233', 'default', 'campaign/x', { FLEETWAVE_TEMPORAL_UI: 'http://localhost:8080/' }),
    ).toBe('http://localhost:8080/namespaces/default/workflows/campaign%2Fx');
    expect(temporalUiUrl('ns.acct.tmprl.cloud:7233', 'ns.acct', 'campaign/x', {})).toBe(
      'https://cloud.temporal.io/namespaces/ns.acct/workflows/campaign%2Fx',
    );
  });

  it('maps awaited results to exit codes, warning on completed-with-failures', () => {
    const lines: string[] = [];
    const io: CliIO = { out: () => undefined, err: (text) => lines.push(text) };
    const result = { name: 'x', upgraded: ['a'], rolledBack: ['b'], failed: [], skipped: [] };
    expect(exitCodeForResult(io, { ...result, state: 'completed' })).toBe(0);
    expect(exitCodeForResult(io, { ...result, state: 'failed' })).toBe(3);
    expect(exitCodeForResult(io, { ...result, state: 'aborted' })).toBe(3);
    expect(lines).toEqual([]);
    expect(exitCodeForResult(io, { ...result, state: 'completed-with-failures' })).toBe(0);
    expect(lines).toEqual(['warning: campaign x completed with failures within its failure budgets: b\n']);
  });

  it('validates the campaign and the fleet again before starting, naming fields', () => {
    const fleet = {
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'Fleet',
      clusters: [{ name: 'c1', region: 'us-east-1', account: '123456789012', version: '1.30' }],
    };
    const campaign = {
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'UpgradeCampaign',
      metadata: { name: 'x' },
      spec: { target: { kubernetesVersion: '1.31' }, waves: [{ name: 'all' }] },
    };
    const ok = validateStartInput({ campaign, fleet });
    expect(ok.fleet.map((m) => m.name)).toEqual(['c1']);
    expect(ok.plan.waves[0]?.clusters.map((c) => c.name)).toEqual(['c1']);

    const badCampaign = { ...campaign, spec: { ...campaign.spec, waves: [{ name: 'all', maxParallel: 0 }] } };
    expect(() => validateStartInput({ campaign: badCampaign, fleet })).toThrow(
      /spec\.waves\[0\]\.maxParallel: must be >= 1/,
    );
    expect(() => validateStartInput({ campaign, fleet: { ...fleet, clusters: [{ name: 'c1' }] } })).toThrow(
      /fleet is invalid:\n {2}clusters\[0\]\.region/,
    );
    expect(() => validateStartInput({ campaign, fleet: [{ name: 'a' }, { name: 'a' }] })).toThrow(
      /\[1\]\.name: duplicates "a"/,
    );
    const atTarget = { ...fleet, clusters: [{ ...fleet.clusters[0], version: '1.31' }] };
    expect(() => validateStartInput({ campaign, fleet: atTarget })).toThrow(InvalidInputError);
    expect(() => validateStartInput({ campaign, fleet: atTarget })).toThrow(
      /^spec\.target\.kubernetesVersion: campaign x has no cluster to upgrade: of 1 selected clusters, 1 already at target/,
    );
  });
});
