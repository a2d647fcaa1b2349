/**
 * The cluster-upgrade workflow's pure planning (workflows/cluster-upgrade/plan.ts, checks.ts), the
 * PDB assessment it shares with `fleetwave plan` (domain/pdbs.ts), the gate timing both workflows
 * share (domain/gates.ts) and their failure text (workflows/failure-text.ts). No Temporal server.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  RetryState,
  TimeoutFailure,
} from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { NodegroupState, PreflightResult } from '../../activities/types';
import { GATE_TIMEOUT_MARGIN_MS, gateErrorResult, gateWorstCaseMs } from '../../domain/gates';
import { assessBlockingPdbs } from '../../domain/pdbs';
import type { CampaignInput } from '../../domain/spec';
import {
  abortReason,
  addonsSummary,
  controlPlaneSummary,
  nodegroupsSummary,
  renderUpgradeDetails,
} from '../../workflows/cluster-upgrade/details';
import { KUBERNETES_CHECKS_MS, checkTimeoutMs, checksSummary, verifyRun } from '../../workflows/cluster-upgrade/checks';
import {
  UPDATE_TIMEOUT_MS,
  controlPlaneTimeoutMs,
  describeNodegroup,
  isEmptyPlan,
  nodegroupsTimeoutMs,
  planUpgrade,
} from '../../workflows/cluster-upgrade/plan';
import type { ClusterUpgradeInput } from '../../workflows/definitions';
import { describeFailure } from '../../workflows/failure-text';
import { campaign } from './fixtures';

const MIN = 60_000;

function gate(name: string, extra: Record<string, unknown> = {}) {
  return { name, query: `up{cluster="{{cluster}}"}`, condition: '> 0', ...extra };
}

function input(spec: Partial<CampaignInput['spec']> = {}, targetVersion: string | null = '1.31'): ClusterUpgradeInput {
  const { spec: full } = campaign({ waves: [{ name: 'all' }], ...spec });
  return {
    campaign: 'c',
    cluster: { name: 'alpha', region: 'eu-west-1' },
    ...(targetVersion ? { targetVersion } : {}),
    pinned: {
      nodegroupRelease: { '1.30': '1.30.9-20250101', '1.31': '1.31.4-20250101' },
      addons: { '1.31': { 'vpc-cni': 'v1.19.0', coredns: 'v1.11.3' } },
      resolvedAt: '2025-01-01T00:00:00Z',
    },
    spec: full,
    attempt: 1,
  };
}

function nodegroup(name: string, version: string, releaseVersion?: string): NodegroupState {
  return { name, version, status: 'ACTIVE', ...(releaseVersion ? { releaseVersion } : {}) };
}

function preflight(over: Partial<PreflightResult['state']> = {}, path = ['1.30', '1.31']): PreflightResult {
  return {
    state: {
      name: 'alpha',
      version: '1.29',
      status: 'ACTIVE',
      nodegroups: [nodegroup('workers', '1.29', '1.29.8-20240101')],
      addons: [
        { name: 'vpc-cni', version: 'v1.18.0', status: 'ACTIVE' },
        { name: 'coredns', version: 'v1.11.3', status: 'ACTIVE' },
        { name: 'kube-proxy', version: 'v1.29.0', status: 'ACTIVE' },
      ],
      ...over,
    },
    path,
    blockers: [],
    warnings: [],
  };
}

describe('planUpgrade', () => {
  it('plans one hop per minor, the add-ons not at their pinned version and the node groups behind', () => {
    const plan = planUpgrade(input(), preflight());
    expect(plan.finalMinor).toBe('1.31');
    expect(plan.hops).toEqual([
      { from: '1.29', to: '1.30' },
      { from: '1.30', to: '1.31' },
    ]);
    // coredns is at its pinned version already; kube-proxy has none pinned for 1.31.
    expect(plan.addons).toEqual([{ name: 'vpc-cni', from: 'v1.18.0', to: 'v1.19.0' }]);
    expect(plan.skipped).toEqual([
      { step: 'addon kube-proxy', status: 'skipped', detail: 'no version pinned for 1.31' },
    ]);
    expect(plan.nodegroups).toEqual([
      {
        previous: nodegroup('workers', '1.29', '1.29.8-20240101'),
        minor: '1.31',
        version: '1.31',
        releaseVersion: '1.31.4-20250101',
      },
    ]);
    expect(isEmptyPlan(plan)).toBe(false);
  });

  it('leaves alone what is in place, and what the target skips', () => {
    const atTarget = preflight(
      {
        version: '1.31',
        nodegroups: [nodegroup('workers', '1.31', '1.31.4-20250101')],
        addons: [{ name: 'vpc-cni', version: 'v1.19.0', status: 'ACTIVE' }],
      },
      [],
    );
    expect(isEmptyPlan(planUpgrade(input(), atTarget))).toBe(true);

    const skipping = planUpgrade(
      input({ target: { kubernetesVersion: '1.31', skipAddons: true, skipNodegroups: true } }),
      preflight(),
    );
    expect(skipping.addons).toEqual([]);
    expect(skipping.skipped).toEqual([]);
    expect(skipping.nodegroups).toEqual([]);
    expect(skipping.hops).toHaveLength(2);
  });

  it('patch only: keeps each node group on its minor and sends no version, only the release', () => {
    const plan = planUpgrade(
      input({ target: { nodegroupRelease: 'latest' } }, null),
      preflight({ version: '1.30', nodegroups: [nodegroup('a', '1.30', '1.30.1-old'), nodegroup('b', '1.29')] }, []),
    );
    expect(plan.hops).toEqual([]);
    expect(plan.nodegroups).toEqual([
      { previous: nodegroup('a', '1.30', '1.30.1-old'), minor: '1.30', releaseVersion: '1.30.9-20250101' },
    ]);
  });

  it('describes a node group as version / release / launch template', () => {
    expect(describeNodegroup({ ...nodegroup('a', '1.30', '1.30.9'), launchTemplate: { version: '3' } })).toBe(
      '1.30 / 1.30.9 / launch template v3',
    );
    expect(describeNodegroup(nodegroup('b', '1.29'))).toBe('1.29');
  });
});

describe('step timeouts', () => {
  it('gives every hop left one EKS update and one round of checks', () => {
    expect(controlPlaneTimeoutMs(2, 0)).toBe(2 * UPDATE_TIMEOUT_MS);
    expect(controlPlaneTimeoutMs(3, 5 * MIN)).toBe(3 * (UPDATE_TIMEOUT_MS + 5 * MIN));
  });

  it('gives node groups one EKS update per round of maxParallel', () => {
    expect(nodegroupsTimeoutMs(5, 2)).toBe(3 * UPDATE_TIMEOUT_MS);
    expect(nodegroupsTimeoutMs(4, 4)).toBe(UPDATE_TIMEOUT_MS);
    expect(nodegroupsTimeoutMs(2, 0)).toBe(2 * UPDATE_TIMEOUT_MS);
  });
});

describe('gate timing (domain/gates)', () => {
  it('worst case: initial delay plus the longer of the timeout and the required passes', () => {
    const g = { interval: '30s', initialDelay: '1m', timeout: '10m', consecutiveSuccesses: 3 };
    expect(gateWorstCaseMs(g)).toBe(MIN + 10 * MIN);
    // 40 passes 30 s apart outlast the 10-minute timeout.
    expect(gateWorstCaseMs(g, 40)).toBe(MIN + 20 * MIN);
    expect(gateWorstCaseMs({ ...g, consecutiveSuccesses: 30 })).toBe(MIN + 15 * MIN);
  });

  it('an error result counts one error, nothing measured, and is never a pass', () => {
    expect(gateErrorResult('latency', 'soak', 'evaluation failed: boom')).toEqual({
      gate: 'latency',
      phase: 'soak',
      outcome: 'Error',
      measurements: 0,
      successes: 0,
      failures: 0,
      inconclusive: 0,
      errors: 1,
      message: 'evaluation failed: boom',
    });
  });
});

describe('check rounds', () => {
  const spec = {
    bake: '10m',
    healthGates: [
      gate('errors', { interval: '30s', consecutiveSuccesses: 3, phases: ['postStep', 'bake'] }),
      gate('latency', { interval: '1m', consecutiveSuccesses: 15, phases: ['bake'] }),
      gate('after-step', { interval: '20s', phases: ['postStep'] }),
      gate('soak-only', { phases: ['soak'] }),
    ],
  };

  it('verify: bake gates for the whole bake, postStep-only gates with their own passes, kubelets per node group', () => {
    const upgrade = input(spec);
    const state = { nodegroups: [nodegroup('workers', '1.29'), nodegroup('spare', '1.31', '1.31.4-20250101')] };
    const run = verifyRun(upgrade, planUpgrade(upgrade, preflight(state)));
    expect(run.phase).toBe('bake');
    expect(run.gates.map((g) => g.name)).toEqual(['errors', 'latency', 'after-step']);
    // errors: ceil(10m / 30s) = 20 > 3; latency: its own 15 > ceil(10m / 1m) = 10.
    expect(run.requiredSuccessesByGate).toEqual({ errors: 20, latency: 15 });
    expect(run.expectedKubeletMinor).toEqual({ workers: '1.31', spare: '1.31' });
    expect(run.runKubernetesChecks).toBe(true);
  });

  it('verify without node groups to check expects no kubelet minor', () => {
    const upgrade = input({ ...spec, target: { kubernetesVersion: '1.31', skipNodegroups: true } });
    const run = verifyRun(upgrade, planUpgrade(upgrade, preflight()));
    expect(run.expectedKubeletMinor).toBeUndefined();
  });

  it('a round may take its slowest gate, the margin and the Kubernetes checks', () => {
    const upgrade = input(spec);
    const run = verifyRun(upgrade, planUpgrade(upgrade, preflight()));
    // latency: 15 passes a minute apart (15m) outlast its 10m timeout and every other gate.
    expect(checkTimeoutMs(run)).toBe(15 * MIN + GATE_TIMEOUT_MARGIN_MS + KUBERNETES_CHECKS_MS);
    expect(checkTimeoutMs({ ...run, gates: [], runKubernetesChecks: false })).toBe(GATE_TIMEOUT_MARGIN_MS);
    expect(checksSummary('verify', { ...run, runKubernetesChecks: false, gates: run.gates.slice(0, 1) })).toBe(
      'verify checks (bake): errors 20× every 30s',
    );
  });
});

describe('assessBlockingPdbs (domain/pdbs, shared by plan and preflight)', () => {
  const many = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6', 'a/7'];

  it('blocks each PDB when nodes are drained without force, counting those past five', () => {
    const { blockers, warnings } = assessBlockingPdbs({ pdbs: many, drainsNodes: true, force: false });
    expect(warnings).toEqual([]);
    expect(blockers).toHaveLength(6);
    expect(blockers[0]).toBe(
      'PDB a/1 allows no disruption: node drains would fail with PodEvictionFailure; fix the PDB or set spec.nodegroups.force',
    );
    expect(blockers[5]).toBe('2 more PDBs allow no disruption');
  });

  it('is one warning with force, and nothing when no node is drained or no PDB blocks', () => {
    expect(assessBlockingPdbs({ pdbs: many, drainsNodes: true, force: true })).toEqual({
      blockers: [],
      warnings: [
        'PDB a/1, a/2, a/3, a/4, a/5 and 2 more allow no disruption: node drains will be forced (spec.nodegroups.force)',
      ],
    });
    expect(assessBlockingPdbs({ pdbs: ['a/1'], drainsNodes: true, force: true }).warnings[0]).toMatch(
      /^PDB a\/1 allows no disruption/,
    );
    expect(assessBlockingPdbs({ pdbs: many, drainsNodes: false, force: false })).toEqual({
      blockers: [],
      warnings: [],
    });
    expect(assessBlockingPdbs({ pdbs: undefined, drainsNodes: true, force: false })).toEqual({
      blockers: [],
      warnings: [],
    });
  });
});

describe('describeFailure', () => {
  const app = ApplicationFailure.nonRetryable('update 42 failed', 'UpdateFailed');

  it('names the application failure in the cause chain, through activity and child wrappers', () => {
    expect(describeFailure(app)).toBe('UpdateFailed: update 42 failed');
    const activity = new ActivityFailure(
      'Activity task failed',
      'updateAddons',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      'w',
      app,
    );
    expect(describeFailure(activity)).toBe('UpdateFailed: update 42 failed');
    const child = new ChildWorkflowFailure(
      'default',
      { workflowId: 'x', runId: 'y' },
      'wf',
      RetryState.NON_RETRYABLE_FAILURE,
      activity,
    );
    expect(describeFailure(child)).toBe('UpdateFailed: update 42 failed');
  });

  it('says a timeout timed out, and otherwise gives the message with a cause that adds to it', () => {
    expect(describeFailure(new TimeoutFailure('activity timed out', undefined, 'START_TO_CLOSE'))).toMatch(
      /^timed out: /,
    );
    expect(describeFailure(new Error('could not signal', { cause: new Error('not found') }))).toBe(
      'could not signal: not found',
    );
    expect(describeFailure(new Error('same', { cause: new Error('same') }))).toBe('same');
    expect(describeFailure('plain')).toBe('plain');
  });
});

describe('Web UI text', () => {
  it('summarises each composite step by what it changes', () => {
    expect(
      controlPlaneSummary([
        { from: '1.29', to: '1.30' },
        { from: '1.30', to: '1.31' },
      ]),
    ).toBe('control plane 1.29 → 1.30 → 1.31');
    expect(addonsSummary([{ name: 'vpc-cni', from: 'v1', to: 'v2' }])).toBe('add-ons vpc-cni v1 → v2');
    expect(
      nodegroupsSummary([{ previous: nodegroup('workers', '1.30'), minor: '1.31', releaseVersion: '1.31.4' }]),
    ).toBe('node groups workers → 1.31 / 1.31.4');
    expect(abortReason({ by: 'alice', reason: 'wrong window' })).toBe('aborted by alice: wrong window');
    expect(abortReason(undefined)).toBe('aborted by unknown');
  });

  it('renders the current details as a checklist under the step and the reason', () => {
    expect(
      renderUpgradeDetails({
        cluster: 'alpha',
        step: 'rollback',
        state: 'aborting',
        reason: 'verify: red',
        steps: [
          { step: 'preflight', status: 'done' },
          { step: 'addon vpc-cni', status: 'rolled-back', updateId: 'u1' },
          { step: 'checks verify', status: 'failed', detail: 'red' },
        ],
      }),
    ).toBe(
      [
        '**alpha** → patch · step: **rollback** (aborting)',
        '> verify: red',
        '',
        '- [x] preflight',
        '- [x] (rolled back) addon vpc-cni · `u1`',
        '- [ ] **failed** checks verify · red',
      ].join('\n'),
    );
  });
});
