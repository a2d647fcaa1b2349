/**
 * The campaign's "current details" for the Temporal Web UI: a short markdown page with the
 * state, what a human is expected to do (approve, resume), and a progress table per wave.
 * Served by the SDK's metadata query, so rendering it costs no history events.
 */
import { comparisonCells } from '../../domain/baseline';
import { formatDuration } from '../../domain/duration';
import {
  NODEGROUP_ROLLBACK_SOURCES,
  keepsCleanRollbackPath,
  memberNodegroupReversibility,
} from '../../domain/node-models';
import type { CampaignMachine } from './state';

/** Clusters listed by name under "in flight" (the rest are counted). */
const IN_FLIGHT_LISTED = 10;
/** Baseline comparisons listed in the details; the rest are in `status --json`. */
const COMPARISONS_LISTED = 10;

/**
 * A count out of a total, as words: the Web UI's markdown renderer sets "1/2" as a fraction
 * (½, or 1⁄2 with a fraction slash), so a slash between two numbers would not read as a count.
 */
const of = (count: number, total: number): string => `${count} of ${total}`;

/**
 * What approving the awaiting wave does next, including the point of no return when there is one
 * and, per cluster, how many of its node-group steps cannot be undone.
 */
export function approvalPrompt(m: CampaignMachine): string | undefined {
  const wave = m.currentWave;
  if (!wave || wave.state !== 'awaiting-approval') return undefined;
  const next = m.view.waves[wave.index + 1];
  const nextClusters = next ? m.windowClusters(next.index) : [];
  const have = wave.approvals.map((a) => a.approver).join(', ');
  const lines = [
    `**Wave \`${wave.name}\` awaits approval** (${of(wave.approvals.length, m.approvalsNeeded())}${have ? `: ${have}` : ''}).`,
    next
      ? `Approving starts wave \`${next.name}\` with ${nextClusters.length} cluster(s).`
      : 'Approving completes the campaign.',
  ];
  const users = m.spec.approvers.users;
  lines.push(users.length > 0 ? `Approvers: ${users.join(', ')}.` : 'Anyone may approve.');
  const hops = nextClusters.filter((c) => c.hops > 0).length;
  if (next && hops > 0 && !m.spec.rollback.controlPlane) {
    lines.push(
      `⚠️ **Point of no return:** wave \`${next.name}\` moves the control plane of ${hops} cluster(s) to ${m.spec.target.kubernetesVersion ?? 'the target'}, and spec.rollback.controlPlane is off: those hops cannot be rolled back.`,
    );
  }
  const bake = m.spec.rollback.controlPlaneBake;
  if (next && hops > 0 && bake) {
    const clean = nextClusters.filter((c) => keepsCleanRollbackPath(m.spec, c.hops)).length;
    lines.push(
      clean > 0
        ? `Clean rollback path: ${clean} cluster(s) of wave \`${next.name}\` bake their control plane for ${bake} before add-ons and nodes move; a failed bake rolls back the control plane alone.`
        : `Control-plane bake ${bake}: gates before add-ons and nodes move, but spec.rollback.controlPlane is off, so a failed bake rolls nothing back.`,
    );
  }
  const undoable = next && !m.spec.target.skipNodegroups ? irreversibleNodegroupSteps(m, nextClusters) : [];
  if (undoable.length > 0) {
    const steps = undoable.reduce((n, c) => n + c.steps, 0);
    const listed = undoable
      .slice(0, IN_FLIGHT_LISTED)
      .map((c) => `\`${c.name}\` ${c.steps}`)
      .join(', ');
    const more = undoable.length > IN_FLIGHT_LISTED ? ` and ${undoable.length - IN_FLIGHT_LISTED} more cluster(s)` : '';
    lines.push(
      `⚠️ **Node groups that cannot be rolled back:** wave \`${next?.name ?? ''}\` has ${steps} node-group step(s) EKS cannot undo (it picks their AMI; ${NODEGROUP_ROLLBACK_SOURCES.apiReference.title}): ${listed}${more}.`,
    );
  }
  lines.push(
    `Approve: \`fleetwave approve ${m.name} --wave ${wave.name}\` (Update \`approveWave\`) or Signal \`approve\` with \`{"wave":"${wave.name}","approver":"<you>"}\`.`,
  );
  return lines.join('\n');
}

/** Per cluster of a wave, the node-group steps domain/node-models.ts says cannot be undone (clusters with none left out). */
export function irreversibleNodegroupSteps(
  m: CampaignMachine,
  clusters: readonly { name: string }[],
): { name: string; steps: number }[] {
  return clusters
    .map((c) => ({
      name: c.name,
      steps: m.member(c.name).nodegroups.filter((ng) => !memberNodegroupReversibility(ng).reversible).length,
    }))
    .filter((c) => c.steps > 0);
}

/** The markdown shown as the workflow's current details. */
export function renderDetails(m: CampaignMachine): string {
  const out: string[] = [];
  const target = m.spec.target.kubernetesVersion ? `Kubernetes ${m.spec.target.kubernetesVersion}` : 'patch only';
  const wave = m.currentWave;
  out.push(`### Campaign \`${m.name}\` → ${target}`);
  out.push(
    `**${m.campaignState()}**${wave ? ` · wave \`${wave.name}\` (${of(wave.index + 1, m.view.waves.length)})` : ''} · run ${m.view.runs}`,
  );
  if (m.view.pausedReason)
    out.push(`\n⏸ ${m.view.pausedReason}. Resume: \`fleetwave resume ${m.name}\` (Signal \`resume\`).`);
  if (m.view.fleetHold) out.push(`\n❄ nothing starts: ${m.view.fleetHold} (\`fleetwave freeze list\`).`);
  const heldByFreeze = m.freeze ? m.inFlight().filter((c) => c.childPaused && !c.rollback).length : 0;
  if (heldByFreeze > 0 && m.freeze) {
    out.push(
      `\n❄ ${heldByFreeze} upgrade(s) in flight held by freeze \`${m.freeze.id}\` at their next safe point; they resume when it ends.`,
    );
  }
  if (m.view.abortedReason) out.push(`\n⏹ aborting: ${m.view.abortedReason}`);
  if (m.view.failedReason) out.push(`\n✖ ${m.view.failedReason}`);
  const prompt = approvalPrompt(m);
  if (prompt) out.push(`\n${prompt}`);
  if (wave?.state === 'soaking' && wave.soakEndsAt !== undefined) {
    const left = wave.soakEndsAt - Date.now();
    out.push(
      `\nSoaking until ${new Date(wave.soakEndsAt).toISOString()}${left > 0 ? ` (${formatDuration(left)} left)` : ''}: every soak gate of every upgraded cluster, each interval.`,
    );
  }
  for (const w of m.view.waves) {
    if (w.watchUntil !== undefined)
      out.push(`\nWatching promoted wave \`${w.name}\` until ${new Date(w.watchUntil).toISOString()}.`);
    if (w.watchFailure !== undefined) out.push(`\n⚠ promoted wave \`${w.name}\`: ${w.watchFailure}`);
    else if (w.watchWarning !== undefined) out.push(`\nℹ promoted wave \`${w.name}\`: ${w.watchWarning}`);
  }
  out.push('');
  out.push(
    '| wave | state | upgraded | failed | rolled back | blocked | skipped | upgrading | waiting | pending | budget |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const w of m.view.waves) {
    const counts = m.waveCounts(w.index);
    const upgraded = counts.upgraded + counts['already-at-target'];
    out.push(
      `| ${w.name} | ${w.state} | ${of(upgraded, w.size)} | ${counts.failed} | ${counts['rolled-back']} | ${counts.blocked} | ${counts.skipped} | ${counts.upgrading} | ${counts.waiting} | ${counts.pending} | ${of(m.windowFailures(w.index), w.failureBudget)} |`,
    );
  }
  const inFlight = m.inFlight();
  if (inFlight.length > 0) {
    const listed = inFlight
      .slice(0, IN_FLIGHT_LISTED)
      .map((c) => `\`${c.name}\`${c.step ? ` (${c.step})` : ''}${c.childPaused ? ' held' : ''}`)
      .join(', ');
    const more = inFlight.length > IN_FLIGHT_LISTED ? ` and ${inFlight.length - IN_FLIGHT_LISTED} more` : '';
    out.push(`\nIn flight: ${listed}${more}.`);
  }
  if (m.view.skippedAtPlan.length > 0) out.push(`\n${m.view.skippedAtPlan.length} cluster(s) skipped at plan time.`);
  out.push(...comparisonTable(m));
  return out.join('\n');
}

/**
 * The baseline comparisons of the current wave's gates (worst first: not Successful before
 * Successful), with their numbers, so a reader sees why a gate passed or failed.
 */
function comparisonTable(m: CampaignMachine): string[] {
  const wave = m.currentWave;
  if (!wave) return [];
  const rows = m.view.waves[wave.index]?.gates.filter((g) => g.comparison) ?? [];
  if (rows.length === 0) return [];
  const ordered = [...rows].sort((a, b) => Number(a.outcome === 'Successful') - Number(b.outcome === 'Successful'));
  const out = [
    '',
    `Baseline comparisons of wave \`${wave.name}\`:`,
    '',
    '| cluster | gate | outcome | baseline median | current median | effect | U | p | n |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const g of ordered.slice(0, COMPARISONS_LISTED)) {
    const gate = m.spec.healthGates.find((h) => h.name === g.gate);
    const cells = comparisonCells(
      g.comparison as NonNullable<typeof g.comparison>,
      gate?.compare?.baseline?.effect ?? gate?.compare?.cohort?.effect,
    );
    out.push(`| ${g.cluster} | ${g.gate} | ${g.outcome} | ${cells.join(' | ')} |`);
  }
  if (ordered.length > COMPARISONS_LISTED)
    out.push(`\n${ordered.length - COMPARISONS_LISTED} more in \`status --json\`.`);
  return out;
}
