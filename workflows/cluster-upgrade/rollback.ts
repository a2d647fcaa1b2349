/**
 * Rollback decisions of a cluster upgrade: whether to roll back at all, in which order, what the
 * outcome is and what the reason says stays. The workflow performs each undo as an activity; this
 * module decides around them. Pure: unit-tested without Temporal.
 *
 * EKS runs an add-on version only on the control-plane minors it supports, and rolls a control
 * plane back only while nothing installed needs the newer minor. So the rollback goes:
 * 1. node groups back to their snapshot (nodes newer than the control plane would be skew, and
 *    EKS refuses a control-plane rollback under them), newest change first, as far as
 *    domain/node-models.ts `nodegroupReversibility` allows: `rollbackNodegroup` answers `kept`
 *    for a node group whose AMI EKS picks (it stays at its new version; not a failure), and the
 *    control plane then stays too when such a node group runs the newer minor;
 * 2. add-ons back to their previous versions, newest change first. An add-on whose previous
 *    version the control plane's current minor does not support is KEPT at its new version (which
 *    that minor does support): `rollbackAddon` checks DescribeAddonVersions and answers `kept`.
 *    That is not a rollback failure;
 * 3. only where spec.rollback.controlPlane opts in and nothing failed so far: the last hop of the
 *    control plane. `rollbackControlPlane` keeps it (and says why) when an installed add-on
 *    version is not supported on the previous minor: EKS would refuse;
 * 4. if the control plane did go back, the add-ons kept in step 2 are tried again: their previous
 *    versions ran on that minor before the upgrade.
 * The outcome is `failed` only when a rollback that EKS could do failed (or nothing at all could
 * be rolled back); node groups rolled back with the control plane and some add-ons kept is
 * `rolled-back`, and the reason says what stays, node group by node group: a rollback that did
 * not happen is never reported as one.
 */
import { NODEGROUPS_KEPT } from '../../domain/node-models';
import type { CampaignSpec } from '../../domain/spec';
import type { ClusterStepRecord } from '../definitions';
import { hopStep, type AddonPlan, type HopPlan, type NodegroupPlan } from './plan';
import type { StepFailure } from './step-results';

/** What was changed and can be undone, in the order it was changed. */
export type Reversible =
  { kind: 'addon'; plan: AddonPlan; step: string } | { kind: 'nodegroup'; plan: NodegroupPlan; step: string };

/** The last control-plane hop, undone only where the spec opts in. */
export interface ControlPlaneUndo {
  kind: 'control-plane';
  hop: HopPlan;
  step: string;
}

/** What a rollback left where it is, and why. */
export interface KeptStep {
  step: string;
  reason: string;
}

/** What a rollback did: resources undone, undos that failed, resources kept, and the control plane's minor if it stays. */
export interface RollbackSummary {
  undone: number;
  failures: string[];
  kept: KeptStep[];
  controlPlaneStays?: string;
}

/** The ending of a failed upgrade. */
export interface Ending {
  outcome: 'failed' | 'rolled-back';
  reason: string;
}

/**
 * After a step failed: the ending without a rollback (nothing was changed, or the spec's policy
 * for this kind of failure is off), or undefined when the workflow must roll back.
 */
export function endingWithoutRollback(
  failure: Pick<StepFailure, 'kind' | 'message'>,
  changed: boolean,
  rollback: CampaignSpec['rollback'],
): Ending | undefined {
  if (!changed) return { outcome: 'failed', reason: failure.message };
  const policy = failure.kind === 'gate' ? 'onGateFailure' : 'onUpdateFailure';
  if (!rollback[policy]) {
    return { outcome: 'failed', reason: `${failure.message}; automatic rollback is off (spec.rollback.${policy})` };
  }
  return undefined;
}

/** The ending after a rollback: failed when an undo failed or nothing could be undone; the reason says what stays. */
export function endingAfterRollback(failureMessage: string, summary: RollbackSummary): Ending {
  const stays = describeWhatStays(summary);
  if (summary.failures.length > 0) {
    return { outcome: 'failed', reason: `${failureMessage}; rollback failed: ${summary.failures.join('; ')}${stays}` };
  }
  if (summary.undone === 0)
    return { outcome: 'failed', reason: `${failureMessage}; nothing could be rolled back${stays}` };
  return { outcome: 'rolled-back', reason: `${failureMessage}${stays}` };
}

/** Steps 1 and 2 of the module header: node groups, then add-ons, each newest change first. */
export function rollbackOrder(reversible: readonly Reversible[]): { nodegroups: Reversible[]; addons: Reversible[] } {
  const reversed = [...reversible].reverse();
  return {
    nodegroups: reversed.filter((e) => e.kind === 'nodegroup'),
    addons: reversed.filter((e) => e.kind === 'addon'),
  };
}

/** Step 3: the last hop done, when the spec opts in and no undo has failed; otherwise undefined. */
export function controlPlaneUndo(
  hopsDone: readonly HopPlan[],
  optedIn: boolean,
  failuresSoFar: number,
): ControlPlaneUndo | undefined {
  const lastHop = hopsDone.at(-1);
  if (!lastHop || !optedIn || failuresSoFar > 0) return undefined;
  return { kind: 'control-plane', hop: lastHop, step: hopStep(lastHop) };
}

/**
 * The control plane's minor when the rollback leaves it changed (hops were done and it is not
 * back at the snapshot's version); undefined when it is where it started.
 */
export function controlPlaneStays(
  hopsDone: readonly HopPlan[],
  current: string | undefined,
  snapshotVersion: string | undefined,
): string | undefined {
  return hopsDone.length > 0 && current !== snapshotVersion ? current : undefined;
}

/**
 * The running account of one rollback. An undo that succeeds after an earlier `kept` (step 4)
 * is no longer kept.
 */
export class RollbackLedger {
  private undone = 0;
  private readonly failures: string[] = [];
  private readonly kept = new Map<string, KeptStep>();

  /** The undo of `step` changed it back: its forward records become `rolled-back` (skipped ones stay). */
  undid(step: string, records: ClusterStepRecord[]): void {
    this.kept.delete(step);
    this.undone++;
    for (const record of records)
      if (record.step === step && record.status !== 'skipped') record.status = 'rolled-back';
  }

  /** EKS cannot undo `step` now: it stays, for `reason`. */
  keep(step: string, reason: string): void {
    this.kept.set(step, { step, reason });
  }

  failed(message: string): void {
    this.failures.push(message);
  }

  isKept(step: string): boolean {
    return this.kept.has(step);
  }

  get failureCount(): number {
    return this.failures.length;
  }

  summary(controlPlaneStays?: string): RollbackSummary {
    return {
      undone: this.undone,
      failures: [...this.failures],
      kept: [...this.kept.values()],
      ...(controlPlaneStays ? { controlPlaneStays } : {}),
    };
  }
}

/**
 * "; control plane stays at 1.31; node groups kept: node group a stays at ...; add-ons kept:
 * kube-proxy stays at ..." (empty when nothing stays).
 */
export function describeWhatStays(summary: RollbackSummary): string {
  const parts: string[] = [];
  const controlPlaneKept = summary.kept.find((k) => k.step.startsWith('control-plane'));
  if (controlPlaneKept) parts.push(controlPlaneKept.reason);
  else if (summary.controlPlaneStays) parts.push(`control plane stays at ${summary.controlPlaneStays}`);
  const nodegroups = summary.kept.filter((k) => k.step.startsWith('nodegroup '));
  if (nodegroups.length > 0) parts.push(`${NODEGROUPS_KEPT}${nodegroups.map((k) => k.reason).join('; ')}`);
  const addons = summary.kept.filter((k) => k.step.startsWith('addon '));
  if (addons.length > 0) parts.push(`add-ons kept: ${addons.map((k) => k.reason).join('; ')}`);
  return parts.map((p) => `; ${p}`).join('');
}
