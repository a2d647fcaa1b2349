/**
 * Human output of the operator commands: the status table, the watch view (progress bars on a
 * terminal, change lines otherwise) and the campaign list. Pure string functions over the
 * contract's types, so they are tested without a terminal or a server.
 */
import { NODEGROUPS_KEPT } from '../domain/node-models';
import type { PolicySummary } from '../domain/signed-actions';
import {
  TERMINAL_CLUSTER_STATES,
  type Approval,
  type AuditEntry,
  type CampaignStatus,
  type ClusterState,
  type ClusterStatus,
  type WaveStatus,
} from '../workflows/definitions';
import type { CampaignAudit } from './audit';
import type { CampaignSummary } from './library';

/** Cluster states that count as finished for progress. */
const FINISHED = TERMINAL_CLUSTER_STATES;
/** Cluster states that need a human's look. */
const TROUBLE: readonly ClusterState[] = ['failed', 'rolled-back', 'blocked'];

/** Renders rows as left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function count(wave: WaveStatus, states: readonly ClusterState[]): number {
  return states.reduce((sum, s) => sum + (wave.counts[s] ?? 0), 0);
}

function approvalsCell(wave: WaveStatus): string {
  if (wave.approvalsNeeded === 0) return wave.approvals.length > 0 ? String(wave.approvals.length) : '-';
  return `${wave.approvals.length}/${wave.approvalsNeeded}`;
}

/**
 * How approvals and operator actions are checked, as `status` prints it: the worker's fleet
 * approval policy mode, and which actions it wants signed.
 */
export function describeApprovalPolicy(policy: PolicySummary): string {
  const signed = policy.signedActions.length > 0 ? `; signatures required for ${policy.signedActions.join(', ')}` : '';
  switch (policy.mode) {
    case 'no-policy':
      return 'name only (no fleet policy on the worker)';
    case 'name-only-allowed':
      return `name only allowed by the fleet policy${signed}`;
    default:
      return `signed (fleet policy${signed})`;
  }
}

/** How an approval or action was proven: `signed SHA256:…`, `name only`, or nothing for entries from before signed actions. */
function proofText(entry: Pick<Approval | AuditEntry, 'signed' | 'fingerprint'>): string {
  if (entry.signed === undefined) return '';
  return entry.signed ? `signed ${entry.fingerprint ?? '(no fingerprint)'}` : 'name only';
}

/** Clusters that failed, rolled back or are blocked: what an operator must look at. */
export function clustersInTrouble(status: CampaignStatus): ClusterStatus[] {
  return status.clusters.filter((c) => TROUBLE.includes(c.state));
}

/**
 * The `status` view: a header, one row per wave (counts, state, approvals), the clusters in
 * trouble, what is in flight, and the approvals given so far.
 */
export function formatStatus(status: CampaignStatus, uiUrl?: string): string {
  const lines: string[] = [];
  const head = [
    `campaign ${status.name}`,
    `state ${status.state}`,
    status.targetVersion ? `target ${status.targetVersion}` : 'patch only',
    status.currentWave ? `wave ${status.currentWave}` : undefined,
    status.runs > 1 ? `runs ${status.runs}` : undefined,
  ].filter(Boolean);
  lines.push(head.join('  ·  '));
  if (status.pausedReason) lines.push(`paused: ${status.pausedReason}`);
  if (status.fleetHold) lines.push(`held: ${status.fleetHold} (fleetwave freeze list)`);
  if (status.abortedReason) lines.push(`aborted: ${status.abortedReason}`);
  if (status.approvalPolicy) lines.push(`approvals: ${describeApprovalPolicy(status.approvalPolicy)}`);
  for (const sink of status.notifySinks ?? []) {
    lines.push(
      `notify sink ${sink.sink} failing: ${sink.failures} notification(s) lost after retries, last ${sink.lastEvent} at ${sink.lastAt}: ${sink.lastError}`,
    );
  }
  if (uiUrl) lines.push(`ui: ${uiUrl}`);
  lines.push('');

  const waveRows = [['WAVE', 'STATE', 'DONE', 'UPGRADING', 'WAITING', 'FAILED', 'SKIPPED', 'BUDGET', 'APPROVALS']];
  for (const wave of status.waves) {
    waveRows.push([
      wave.name,
      wave.state,
      `${count(wave, FINISHED)}/${wave.total}`,
      String(count(wave, ['upgrading'])),
      String(count(wave, ['pending', 'waiting'])),
      String(count(wave, ['failed', 'rolled-back', 'blocked'])),
      String(count(wave, ['skipped', 'already-at-target'])),
      String(wave.failureBudget),
      approvalsCell(wave),
    ]);
  }
  lines.push(...table(waveRows));

  const soaking = status.waves.filter((w) => w.state === 'soaking' && w.soakEndsAt);
  for (const w of soaking) lines.push(`wave ${w.name} soaks until ${w.soakEndsAt}`);
  const awaiting = status.waves.find((w) => w.state === 'awaiting-approval');
  if (awaiting) {
    lines.push(
      `wave ${awaiting.name} awaits approval (${awaiting.approvals.length}/${awaiting.approvalsNeeded}): ` +
        `fleetwave approve ${status.name} --wave ${awaiting.name} --as <you>`,
    );
  }

  const trouble = clustersInTrouble(status);
  if (trouble.length > 0) {
    lines.push('', `clusters in trouble (${trouble.length}):`);
    lines.push(
      ...indent(
        table([
          ['CLUSTER', 'WAVE', 'STATE', 'STEP', 'REASON'],
          ...trouble.map((c) => [c.name, c.wave, c.state, c.step ?? '', c.reason ?? '']),
        ]),
      ),
    );
  }

  // A rollback that left node groups at the new version is not a full rollback: say so on its own line.
  const keptNodegroups = trouble.filter((c) => c.reason?.includes(NODEGROUPS_KEPT));
  if (keptNodegroups.length > 0) {
    const listed = keptNodegroups.slice(0, 20).map((c) => c.name);
    lines.push(
      `node groups left at the new version (EKS cannot roll them back) in ${keptNodegroups.length} cluster(s): ${listed.join(', ')}${keptNodegroups.length > 20 ? ` … and ${keptNodegroups.length - 20} more` : ''}`,
    );
  }

  const inFlight = status.clusters.filter((c) => c.state === 'upgrading');
  if (inFlight.length > 0) {
    lines.push('', `upgrading (${inFlight.length}):`);
    lines.push(
      ...indent(
        table(
          inFlight.some((c) => c.held)
            ? [
                ['CLUSTER', 'WAVE', 'STEP', 'SINCE', 'HELD'],
                ...inFlight.map((c) => [c.name, c.wave, c.step ?? '', c.startedAt ?? '', c.held ?? '']),
              ]
            : [
                ['CLUSTER', 'WAVE', 'STEP', 'SINCE'],
                ...inFlight.map((c) => [c.name, c.wave, c.step ?? '', c.startedAt ?? '']),
              ],
        ),
      ),
    );
  }

  const waiting = status.clusters.filter((c) => c.state === 'waiting' && c.waitingFor);
  if (waiting.length > 0) {
    lines.push('', `waiting (${waiting.length}):`);
    lines.push(
      ...indent(
        table([['CLUSTER', 'WAVE', 'FOR'], ...waiting.slice(0, 20).map((c) => [c.name, c.wave, c.waitingFor ?? ''])]),
      ),
    );
    if (waiting.length > 20) lines.push(`  … and ${waiting.length - 20} more`);
  }

  const approvals = status.waves.flatMap((w) => w.approvals);
  if (approvals.length > 0) {
    lines.push('', 'approvals:');
    for (const a of approvals) {
      const proof = proofText(a);
      lines.push(
        `  ${a.wave}: ${a.approver} at ${a.at} via ${a.via}${proof ? `, ${proof}` : ''}` +
          `${a.expiresAt ? `, counts until ${a.expiresAt}` : ''}${a.comment ? ` — ${a.comment}` : ''}`,
      );
    }
  }
  const refused = status.audit.filter((a) => a.kind === 'approval-refused' || a.kind === 'action-refused');
  if (refused.length > 0) {
    lines.push('', `refused approvals and actions (${refused.length}, newest last):`);
    for (const a of refused.slice(-10)) {
      const proof = a.fingerprint ? ` (${a.fingerprint})` : '';
      lines.push(`  ${a.at} ${a.by ?? '?'}${proof}: ${a.detail ?? ''}`);
    }
  }
  if (status.skippedAtPlan.length > 0) {
    lines.push('', `not planned (${status.skippedAtPlan.length}):`);
    for (const s of status.skippedAtPlan.slice(0, 20)) lines.push(`  ${s.cluster}: ${s.reason}`);
    if (status.skippedAtPlan.length > 20) lines.push(`  … and ${status.skippedAtPlan.length - 20} more`);
  }
  return `${lines.join('\n')}\n`;
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `  ${l}`);
}

/** A text progress bar: `[#######---]`. */
export function progressBar(done: number, total: number, width = 20): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/**
 * The `watch` frame for a terminal: a header, a progress bar per wave, and the clusters in
 * flight or in trouble (at most `maxClusters`, so the frame fits a screen).
 */
export function formatWatchFrame(status: CampaignStatus, opts: { maxClusters?: number; now?: Date } = {}): string[] {
  const maxClusters = opts.maxClusters ?? 15;
  const lines: string[] = [];
  lines.push(
    `campaign ${status.name}  ${status.state}${status.currentWave ? `  wave ${status.currentWave}` : ''}` +
      `${status.pausedReason ? `  (paused: ${status.pausedReason})` : ''}` +
      `${status.fleetHold ? `  (held: ${status.fleetHold})` : ''}`,
  );
  const nameWidth = Math.max(4, ...status.waves.map((w) => w.name.length));
  for (const wave of status.waves) {
    const done = count(wave, FINISHED);
    const bad = count(wave, TROUBLE);
    lines.push(
      `  ${wave.name.padEnd(nameWidth)} ${progressBar(done, wave.total)} ${String(done).padStart(4)}/${wave.total}` +
        `  ${wave.state}${bad > 0 ? `  ${bad} failed` : ''}${wave.state === 'awaiting-approval' ? `  approvals ${approvalsCell(wave)}` : ''}`,
    );
  }
  const shown = status.clusters.filter((c) => c.state === 'upgrading' || TROUBLE.includes(c.state));
  for (const c of shown.slice(0, maxClusters)) {
    lines.push(
      `    ${c.name}  ${c.state}${c.step ? `  ${c.step}` : ''}${c.held ? `  (${c.held})` : ''}${c.reason ? `  ${c.reason}` : ''}`,
    );
  }
  if (shown.length > maxClusters) lines.push(`    … and ${shown.length - maxClusters} more`);
  return lines;
}

/**
 * Change lines for `watch` without a terminal (CI logs): one line per campaign, wave or cluster
 * whose state or step changed since `previous` (everything on the first call).
 */
export function describeChanges(previous: CampaignStatus | undefined, current: CampaignStatus): string[] {
  const lines: string[] = [];
  if (!previous || previous.state !== current.state) {
    const why = current.pausedReason ?? current.abortedReason;
    lines.push(`campaign ${current.name}: ${current.state}${why ? ` (${why})` : ''}`);
  }
  const prevWaves = new Map(previous?.waves.map((w) => [w.name, w]));
  for (const wave of current.waves) {
    const before = prevWaves.get(wave.name);
    const done = count(wave, FINISHED);
    if (!before || before.state !== wave.state) {
      if (before || wave.state !== 'pending')
        lines.push(`wave ${wave.name}: ${wave.state} (${done}/${wave.total} done)`);
    }
    for (const a of wave.approvals.slice(before?.approvals.length ?? 0)) {
      lines.push(`wave ${wave.name}: approved by ${a.approver}${a.comment ? ` (${a.comment})` : ''}`);
    }
  }
  // A refused approval or action (a Signal from the Web UI or `temporal workflow signal` gets no answer) shows here.
  const isRefusal = (a: AuditEntry) => a.kind === 'approval-refused' || a.kind === 'action-refused';
  const seenRefusals = new Set(previous?.audit.filter(isRefusal).map((a) => `${a.at}|${a.by}|${a.detail}`));
  for (const a of current.audit) {
    if (!isRefusal(a) || seenRefusals.has(`${a.at}|${a.by}|${a.detail}`)) continue;
    const what = a.kind === 'approval-refused' ? 'approval refused' : 'action refused';
    lines.push(`${what}${a.by ? ` (${a.by})` : ''}: ${a.detail ?? ''}`);
  }
  const prevClusters = new Map(previous?.clusters.map((c) => [c.name, c]));
  for (const c of current.clusters) {
    const before = prevClusters.get(c.name);
    if (!before && c.state === 'pending') continue;
    if (!before || before.state !== c.state || before.step !== c.step) {
      const detail = [c.step, c.reason ?? c.waitingFor].filter(Boolean).join(', ');
      lines.push(`cluster ${c.name}: ${c.state}${detail ? ` (${detail})` : ''}`);
    }
  }
  return lines;
}

/** The `list` table. */
export function formatCampaignList(campaigns: readonly CampaignSummary[]): string {
  if (campaigns.length === 0) return 'no campaigns\n';
  const rows = [['NAME', 'STATUS', 'STATE', 'TARGET', 'WAVE', 'CLUSTERS', 'STARTED']];
  for (const c of campaigns) {
    const clusters =
      c.clustersTotal === undefined
        ? ''
        : `${c.clustersDone ?? 0}/${c.clustersTotal}${c.clustersFailed ? ` (${c.clustersFailed} failed)` : ''}`;
    rows.push([
      c.name,
      c.executionStatus.toLowerCase(),
      `${c.state ?? ''}${c.awaitingApproval ? ' (approval)' : ''}`,
      c.targetVersion ?? '',
      c.currentWave ?? '',
      clusters,
      c.startTime,
    ]);
  }
  return `${table(rows).join('\n')}\n`;
}

/**
 * `fleetwave audit`'s table: one line per decision, oldest first, with the run it was taken in and
 * whether it comes from the campaign's own trail or only from the history (its entry was dropped).
 */
export function formatAuditTrail(audit: CampaignAudit): string {
  const rows: string[][] = [['TIME', 'RUN', 'KIND', 'BY', 'WAVE', 'CLUSTER', 'SIGNED', 'DETAIL']];
  for (const r of audit.records) {
    const signed = r.signed === undefined ? '-' : r.signed ? 'yes' : 'no';
    const detail = r.source === 'history' ? `[history] ${r.detail ?? ''}` : (r.detail ?? '');
    rows.push([r.at, String(r.run), r.kind, r.by ?? '-', r.wave ?? '-', r.cluster ?? '-', signed, detail]);
  }
  const lines = [`campaign ${audit.name}: ${audit.records.length} decision(s) over ${audit.runs} run(s)`];
  lines.push(...(audit.records.length > 0 ? table(rows) : ['no decisions recorded']));
  for (const w of audit.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
