/**
 * What the Temporal Web UI shows of a cluster upgrade: the activity summaries of its steps and
 * the "current details" checklist (served by the SDK's metadata query, so it costs no history
 * events). Pure: unit-tested without Temporal.
 */
import type { ClusterStepRecord, OperatorInput } from '../definitions';
import type { AddonPlan, HopPlan, NodegroupPlan } from './plan';

/** "control plane 1.29 → 1.30 → 1.31": the hops one upgradeControlPlane call runs. */
export function controlPlaneSummary(hops: readonly HopPlan[]): string {
  return `control plane ${hops.map((h, i) => (i === 0 ? `${h.from} → ${h.to}` : h.to)).join(' → ')}`;
}

/** "add-ons vpc-cni v1.18.0 → v1.19.0, coredns ...": the add-ons one updateAddons call updates. */
export function addonsSummary(addons: readonly AddonPlan[]): string {
  return `add-ons ${addons.map((a) => `${a.name} ${a.from} → ${a.to}`).join(', ')}`;
}

/** "node groups workers → 1.31 / 1.31.4-20250101, ...": the node groups one updateNodegroups call updates. */
export function nodegroupsSummary(nodegroups: readonly NodegroupPlan[]): string {
  return `node groups ${nodegroups
    .map((ng) => `${ng.previous.name} → ${[ng.minor, ng.releaseVersion, ng.imageId].filter(Boolean).join(' / ')}`)
    .join(', ')}`;
}

/** The outcome reason of an aborted upgrade: "aborted by alice: wrong window". */
export function abortReason(by: OperatorInput | undefined): string {
  return `aborted by ${by?.by ?? 'unknown'}${by?.reason ? `: ${by.reason}` : ''}`;
}

const MARK: Record<ClusterStepRecord['status'], string> = {
  done: '[x]',
  skipped: '[x] (skipped)',
  failed: '[ ] **failed**',
  'rolled-back': '[x] (rolled back)',
};

/** The current details: a heading with the step and state, the ending's reason if any, then a checklist of step records. */
export function renderUpgradeDetails(view: {
  cluster: string;
  targetVersion?: string;
  step: string;
  state?: 'aborting' | 'paused';
  reason?: string;
  steps: readonly ClusterStepRecord[];
}): string {
  const lines = [
    `**${view.cluster}** → ${view.targetVersion ?? 'patch'} · step: **${view.step}**${view.state ? ` (${view.state})` : ''}`,
    ...(view.reason ? [`> ${view.reason}`] : []),
    '',
    ...view.steps.map(
      (s) =>
        `- ${MARK[s.status]} ${s.step}${s.updateId ? ` · \`${s.updateId}\`` : ''}${s.detail ? ` · ${s.detail}` : ''}`,
    ),
  ];
  return lines.join('\n');
}
