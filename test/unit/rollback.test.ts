/**
 * The cluster-upgrade workflow's rollback decisions (workflows/cluster-upgrade/rollback.ts) and
 * what a step's answer means for records and rollback (step-results.ts). No Temporal server.
 */
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { NodegroupState } from '../../activities/types';
import type { AddonPlan, HopPlan, NodegroupPlan } from '../../workflows/cluster-upgrade/plan';
import {
  RollbackLedger,
  controlPlaneStays,
  controlPlaneUndo,
  describeWhatStays,
  endingAfterRollback,
  endingWithoutRollback,
  rollbackOrder,
  type Reversible,
} from '../../workflows/cluster-upgrade/rollback';
import {
  StepFailure,
  addonFailureDetails,
  addonsFailure,
  controlPlaneFailure,
  nodegroupsFailure,
  stepFailureDetails,
  updateRecord,
} from '../../workflows/cluster-upgrade/step-results';
import type { ClusterStepRecord } from '../../workflows/definitions';

const rollbackOn = { onGateFailure: true, onUpdateFailure: true, controlPlane: false };

const hops: HopPlan[] = [
  { from: '1.29', to: '1.30' },
  { from: '1.30', to: '1.31' },
];

function ng(name: string): NodegroupPlan {
  const previous: NodegroupState = { name, version: '1.29', status: 'ACTIVE' };
  return { previous, minor: '1.31', version: '1.31' };
}

function addon(name: string): AddonPlan {
  return { name, from: 'v1', to: 'v2' };
}

describe('whether to roll back', () => {
  it('fails without a rollback when nothing was changed', () => {
    expect(endingWithoutRollback(new StepFailure('update', 'addons: boom'), false, rollbackOn)).toEqual({
      outcome: 'failed',
      reason: 'addons: boom',
    });
  });

  it('follows the policy of the failure kind: gate failures by onGateFailure, the rest by onUpdateFailure', () => {
    const gateOff = { ...rollbackOn, onGateFailure: false };
    expect(endingWithoutRollback(new StepFailure('gate', 'verify: red'), true, gateOff)).toEqual({
      outcome: 'failed',
      reason: 'verify: red; automatic rollback is off (spec.rollback.onGateFailure)',
    });
    expect(endingWithoutRollback(new StepFailure('update', 'x'), true, gateOff)).toBeUndefined();
    expect(
      endingWithoutRollback(new StepFailure('activity', 'x'), true, { ...rollbackOn, onUpdateFailure: false })?.reason,
    ).toBe('x; automatic rollback is off (spec.rollback.onUpdateFailure)');
  });
});

describe('rollback order', () => {
  const changed: Reversible[] = [
    { kind: 'addon', plan: addon('vpc-cni'), step: 'addon vpc-cni' },
    { kind: 'addon', plan: addon('coredns'), step: 'addon coredns' },
    { kind: 'nodegroup', plan: ng('a'), step: 'nodegroup a' },
    { kind: 'nodegroup', plan: ng('b'), step: 'nodegroup b' },
  ];

  it('undoes node groups before add-ons, each newest change first', () => {
    const order = rollbackOrder(changed);
    expect(order.nodegroups.map((e) => e.step)).toEqual(['nodegroup b', 'nodegroup a']);
    expect(order.addons.map((e) => e.step)).toEqual(['addon coredns', 'addon vpc-cni']);
  });

  it('takes the control plane back one hop only when opted in, hops were done and no undo failed', () => {
    expect(controlPlaneUndo(hops, true, 0)).toEqual({
      kind: 'control-plane',
      hop: { from: '1.30', to: '1.31' },
      step: 'control-plane 1.30 → 1.31',
    });
    expect(controlPlaneUndo(hops, false, 0)).toBeUndefined();
    expect(controlPlaneUndo(hops, true, 1)).toBeUndefined();
    expect(controlPlaneUndo([], true, 0)).toBeUndefined();
  });

  it('says the control plane stays only when hops were done and it is not back at the snapshot', () => {
    expect(controlPlaneStays(hops, '1.31', '1.29')).toBe('1.31');
    expect(controlPlaneStays(hops, '1.29', '1.29')).toBeUndefined();
    expect(controlPlaneStays([], '1.29', '1.28')).toBeUndefined();
  });
});

describe('RollbackLedger and the ending', () => {
  it('marks the forward records rolled back (not skipped ones), and an undo after a keep unkeeps', () => {
    const records: ClusterStepRecord[] = [
      { step: 'addon coredns', status: 'done' },
      { step: 'addon coredns', status: 'skipped' },
      { step: 'nodegroup a', status: 'failed' },
    ];
    const ledger = new RollbackLedger();
    ledger.keep('addon coredns', 'coredns stays at v2: v1 is not supported on 1.31');
    expect(ledger.isKept('addon coredns')).toBe(true);
    ledger.undid('nodegroup a', records);
    ledger.undid('addon coredns', records);
    expect(ledger.isKept('addon coredns')).toBe(false);
    expect(records.map((r) => r.status)).toEqual(['rolled-back', 'skipped', 'rolled-back']);
    expect(ledger.summary()).toEqual({ undone: 2, failures: [], kept: [] });
  });

  it('rolled back, with what stays in the reason', () => {
    const ledger = new RollbackLedger();
    ledger.undid('nodegroup a', []);
    ledger.keep('addon coredns', 'coredns stays at v2');
    expect(endingAfterRollback('verify: red', ledger.summary('1.31'))).toEqual({
      outcome: 'rolled-back',
      reason: 'verify: red; control plane stays at 1.31; add-ons kept: coredns stays at v2',
    });
  });

  it('failed when an undo failed or nothing could be undone', () => {
    const failing = new RollbackLedger();
    failing.undid('nodegroup a', []);
    failing.failed('rollback nodegroup b: UpdateFailed: no');
    expect(failing.failureCount).toBe(1);
    expect(endingAfterRollback('x', failing.summary())).toEqual({
      outcome: 'failed',
      reason: 'x; rollback failed: rollback nodegroup b: UpdateFailed: no',
    });
    const nothing = new RollbackLedger();
    nothing.keep('control-plane 1.30 → 1.31', 'control plane stays at 1.31: coredns v2 needs it');
    expect(endingAfterRollback('x', nothing.summary('1.31'))).toEqual({
      outcome: 'failed',
      reason: 'x; nothing could be rolled back; control plane stays at 1.31: coredns v2 needs it',
    });
  });

  it('says which node groups stayed at their new version, and fails when nothing else was undone', () => {
    const ledger = new RollbackLedger();
    ledger.keep('nodegroup std', 'node group std stays at 1.31: EKS picks its AL2023_x86_64_STANDARD AMI');
    ledger.undid('nodegroup custom', []);
    ledger.keep('control-plane 1.30 → 1.31', 'control plane stays at 1.31: node group std 1.31 runs a kubelet newer');
    expect(endingAfterRollback('verify: red', ledger.summary('1.31'))).toEqual({
      outcome: 'rolled-back',
      reason:
        'verify: red; control plane stays at 1.31: node group std 1.31 runs a kubelet newer; node groups kept: node group std stays at 1.31: EKS picks its AL2023_x86_64_STANDARD AMI',
    });
    const nothing = new RollbackLedger();
    nothing.keep('nodegroup std', 'node group std stays at 1.31: rule');
    expect(endingAfterRollback('x', nothing.summary()).outcome).toBe('failed');
    expect(endingAfterRollback('x', nothing.summary()).reason).toBe(
      'x; nothing could be rolled back; node groups kept: node group std stays at 1.31: rule',
    );
  });

  it('describes nothing when nothing stays', () => {
    expect(describeWhatStays({ undone: 1, failures: [], kept: [] })).toBe('');
  });
});

describe('step results', () => {
  it('records a finished resource as done, adopted, or skipped at target', () => {
    expect(updateRecord('addon a', { updateId: 'u1', alreadyAtTarget: false, adopted: false })).toEqual({
      step: 'addon a',
      status: 'done',
      updateId: 'u1',
    });
    expect(updateRecord('addon a', { updateId: 'u1', alreadyAtTarget: false, adopted: true }).detail).toBe(
      'adopted an update already started',
    );
    expect(updateRecord('addon a', { alreadyAtTarget: true, adopted: false })).toEqual({
      step: 'addon a',
      status: 'skipped',
      detail: 'already at target',
    });
  });

  it('reads failure details through the activity wrapper, and only of the expected shape', () => {
    const details = { failed: 'b', reached: ['a', 'b'], done: ['a'], updateId: 'u2' };
    const app = ApplicationFailure.create({ message: 'no', type: 'UpdateFailed', details: [details] });
    const wrapped = new ActivityFailure(
      'Activity task failed',
      'updateNodegroups',
      '5',
      RetryState.NON_RETRYABLE_FAILURE,
      'w',
      app,
    );
    expect(stepFailureDetails(wrapped)).toEqual(details);
    expect(addonFailureDetails(wrapped)).toBeUndefined();
    expect(stepFailureDetails(new Error('plain'))).toBeUndefined();
  });

  it('a failed control-plane step: hops done before it, and the failed one (the first left if unknown)', () => {
    expect(controlPlaneFailure(hops, { failed: '1.31', reached: ['1.30', '1.31'], done: ['1.30'] })).toEqual({
      done: [hops[0]],
      failed: hops[1],
    });
    expect(controlPlaneFailure(hops, undefined)).toEqual({ done: [], failed: hops[0] });
  });

  it('a failed add-ons step: records and rollback for those updated and the one that failed, not the rest', () => {
    const addons = [addon('vpc-cni'), addon('coredns'), addon('kube-proxy')];
    const failed = addonsFailure(
      addons,
      { addon: 'coredns', updated: ['vpc-cni'], updateId: 'u3' },
      'UpdateFailed: no',
    );
    expect(failed.reached.map((a) => a.name)).toEqual(['vpc-cni', 'coredns']);
    expect(failed.records).toEqual([
      { step: 'addon vpc-cni', status: 'done' },
      { step: 'addon coredns', status: 'failed', detail: 'UpdateFailed: no', updateId: 'u3' },
    ]);
    expect(failed.message).toBe('addon coredns: UpdateFailed: no');
  });

  it('a failed add-ons step that ran them together: rollback covers every add-on reached, records the other failures', () => {
    const addons = [addon('vpc-cni'), addon('coredns'), addon('kube-proxy'), addon('aws-ebs-csi-driver')];
    const failed = addonsFailure(
      addons,
      {
        addon: 'coredns',
        updated: ['vpc-cni'],
        reached: ['coredns', 'kube-proxy', 'aws-ebs-csi-driver'],
        otherFailures: [{ addon: 'kube-proxy', message: 'EKS update u5 ended Failed' }],
        updateId: 'u3',
      },
      'UpdateFailed: no',
    );
    // aws-ebs-csi-driver was started and is rolled back, though its update neither failed nor is counted done.
    expect(failed.reached.map((a) => a.name)).toEqual(['vpc-cni', 'coredns', 'kube-proxy', 'aws-ebs-csi-driver']);
    expect(failed.records).toEqual([
      { step: 'addon vpc-cni', status: 'done' },
      { step: 'addon coredns', status: 'failed', detail: 'UpdateFailed: no', updateId: 'u3' },
      { step: 'addon kube-proxy', status: 'failed', detail: 'EKS update u5 ended Failed' },
    ]);
  });

  it('a failed node-groups step: rollback covers every node group reached, records the done and the failed', () => {
    const groups = [ng('a'), ng('b'), ng('c'), ng('d')];
    const failed = nodegroupsFailure(
      groups,
      { failed: 'b', reached: ['a', 'b', 'c'], done: ['a'], updateId: 'u4' },
      'PodEvictionFailure: drain',
    );
    expect(failed.reached.map((g) => g.previous.name)).toEqual(['a', 'b', 'c']);
    expect(failed.records).toEqual([
      { step: 'nodegroup a', status: 'done' },
      { step: 'nodegroup b', status: 'failed', detail: 'PodEvictionFailure: drain', updateId: 'u4' },
    ]);
    expect(failed.message).toBe('nodegroup b: PodEvictionFailure: drain');
  });
});
