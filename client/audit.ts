/**
 * The whole audit trail of a campaign, read back from Temporal across every run of its
 * continue-as-new chain (`fleetwave audit`).
 *
 * Two sources, because neither alone loses nothing:
 * - The campaign's own audit entries (workflows/campaign/state.ts): they carry the verdict of every
 *   approval and operator action, refusals included, with who, why and how it was proven. The state
 *   keeps only the newest {@link AUDIT_KEPT}, so each run's snapshot is read: the audit a run was
 *   started with, the one it handed to the next run (the continue-as-new input), and, for the newest
 *   run, its `status` query. Entries seen in several snapshots are shown once.
 * - The histories themselves, the ground truth of what reached the campaign: every approve, pause,
 *   resume and abort Signal and every approveWave, skipCluster and retryCluster Update (with its
 *   outcome: the Update's result or refusal is in the history). A request that no kept entry
 *   accounts for (the bound dropped it) is shown from the history alone.
 * An Update refused by its validator leaves no trace in Temporal (a validator writes no event): such
 * requests were malformed and changed nothing.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
// The file itself: the package has no exports map, so plain Node (the packed library is ESM) cannot import its directory.
import {
  decodeArrayFromPayloads,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/codec-helpers.js';
import { campaignWorkflowId, statusQuery, type AuditEntry, type CampaignWorkflowInput } from '../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The decisions `fleetwave audit` lists: every human decision and the campaign's own holds and rollbacks. */
export const DECISION_KINDS: ReadonlySet<string> = new Set([
  'approval',
  'approval-refused',
  'approval-expired',
  'action-refused',
  'paused',
  'resumed',
  'aborted',
  'skipped',
  'retried',
  'budget-exceeded',
  'soak-failed',
]);

/** A decision kind, including the `freeze…` kinds of a campaign that honours change freezes. */
export function isDecision(kind: string): boolean {
  return DECISION_KINDS.has(kind) || kind.startsWith('freeze');
}

/** One line of the audit trail. */
export interface AuditRecord extends AuditEntry {
  /** 1-based run of the continue-as-new chain the decision was taken in (from its time). */
  run: number;
  /** `state`: the campaign's audit entry; `history`: a request whose entry the bound dropped. */
  source: 'state' | 'history';
  /** For history-only records: accepted, refused, or `received` (a Signal whose verdict was not kept). */
  outcome?: 'accepted' | 'refused' | 'received';
}

/** What a run's history says reached the campaign. */
export interface ReceivedRequest {
  at: string;
  /** Message name: approve, pause, resume, abort (Signals), approveWave, skipCluster, retryCluster (Updates). */
  name: string;
  by?: string;
  wave?: string;
  cluster?: string;
  reason?: string;
  /** Updates only: their outcome in the history (absent while still running). */
  outcome?: 'accepted' | 'refused';
  refusal?: string;
}

/** One run of the chain as read from Temporal. */
export interface RunAudit {
  runId: string;
  startedAt: string;
  /** Audit snapshots of the run: at its start, at its handover, and (newest run) from its status query. */
  snapshots: AuditEntry[][];
  requests: ReceivedRequest[];
}

export interface CampaignAudit {
  name: string;
  runs: number;
  records: AuditRecord[];
  /** Why a source could not be read (e.g. no worker answered the status query of the newest run). */
  warnings: string[];
}

const SIGNALS = new Set(['approve', 'pause', 'resume', 'abort']);
const UPDATES = new Set(['approveWave', 'skipCluster', 'retryCluster']);

/** Entry kinds that can account for a request of each message name. */
const ANSWERS: Record<string, readonly string[]> = {
  approve: ['approval', 'approval-refused'],
  approveWave: ['approval', 'approval-refused'],
  pause: ['paused', 'action-refused'],
  resume: ['resumed', 'action-refused'],
  abort: ['aborted', 'action-refused'],
  skipCluster: ['skipped', 'action-refused'],
  retryCluster: ['retried', 'action-refused'],
};

/** What a refused action's detail starts with, per message name (workflows/campaign/state.ts recordRefusedAction). */
const REFUSED_PREFIX: Record<string, string> = {
  pause: 'pause refused',
  resume: 'resume refused',
  abort: 'abort refused',
  skipCluster: 'skip refused',
  retryCluster: 'retry refused',
};

/**
 * Reads every run of campaign `name` (the newest chain with that workflow ID) and merges its audit.
 * `queryTimeoutMs` bounds the status query of the newest run; without a worker the snapshots of
 * the histories still count, and the gap is named in `warnings`.
 */
export async function readCampaignAudit(
  client: Client,
  name: string,
  opts: { queryTimeoutMs?: number } = {},
): Promise<CampaignAudit> {
  const workflowId = campaignWorkflowId(name);
  const description = await client.workflow.getHandle(workflowId).describe();
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId || description.runId;
  const converter = client.options.loadedDataConverter;
  const runs: RunAudit[] = [];
  const warnings: string[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const handle = client.workflow.getHandle(workflowId, runId);
    const events = (await handle.fetchHistory()).events ?? [];
    const run: RunAudit = { runId, startedAt: eventTime(events[0]), snapshots: [], requests: [] };
    const updates = new Map<string, ReceivedRequest>();
    let next: string | undefined;
    for (const event of events) {
      const started = event.workflowExecutionStartedEventAttributes;
      if (started) {
        const [input] = (await decodeArrayFromPayloads(converter, started.input?.payloads)) as [CampaignWorkflowInput?];
        if (input?.continued?.audit) run.snapshots.push(input.continued.audit);
      }
      const continued = event.workflowExecutionContinuedAsNewEventAttributes;
      if (continued) {
        const [input] = (await decodeArrayFromPayloads(converter, continued.input?.payloads)) as [
          CampaignWorkflowInput?,
        ];
        if (input?.continued?.audit) run.snapshots.push(input.continued.audit);
        next = continued.newExecutionRunId ?? undefined;
      }
      const signaled = event.workflowExecutionSignaledEventAttributes;
      if (signaled?.signalName && SIGNALS.has(signaled.signalName)) {
        const [arg] = await decodeArrayFromPayloads(converter, signaled.input?.payloads);
        run.requests.push(request(signaled.signalName, eventTime(event), arg));
      }
      const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
      const updateName = accepted?.acceptedRequest?.input?.name;
      if (accepted && updateName && UPDATES.has(updateName)) {
        const [arg] = await decodeArrayFromPayloads(converter, accepted.acceptedRequest?.input?.args?.payloads);
        const received = request(updateName, eventTime(event), arg);
        run.requests.push(received);
        updates.set(accepted.acceptedRequest?.meta?.updateId ?? accepted.protocolInstanceId ?? '', received);
      }
      const completed = event.workflowExecutionUpdateCompletedEventAttributes;
      const answered = completed ? updates.get(completed.meta?.updateId ?? '') : undefined;
      if (completed && answered) {
        const failure = completed.outcome?.failure;
        answered.outcome = failure ? 'refused' : 'accepted';
        if (failure) {
          const error = await decodeOptionalFailureToOptionalError(converter, failure);
          answered.refusal = error?.message ?? failure.message ?? undefined;
        }
      }
    }
    if (!next) {
      try {
        const status = await client.withDeadline(Date.now() + (opts.queryTimeoutMs ?? 10_000), () =>
          handle.query(statusQuery),
        );
        run.snapshots.push(status.audit);
      } catch (err) {
        warnings.push(
          `run ${runs.length + 1}: status query not answered (${err instanceof Error ? err.message : String(err)}); ` +
            'its last entries are taken from the history alone',
        );
      }
    }
    runs.push(run);
    runId = next;
  }
  return { name, runs: runs.length, records: mergeAudit(runs), warnings };
}

/**
 * Merges the runs' snapshots and requests into one trail, oldest first (pure, for tests): every
 * decision entry once, plus each request no kept entry accounts for.
 */
export function mergeAudit(runs: readonly RunAudit[]): AuditRecord[] {
  const runOf = (at: string): number => {
    let n = 1;
    runs.forEach((r, i) => {
      if (r.startedAt && at >= r.startedAt) n = i + 1;
    });
    return n;
  };
  const seen = new Set<string>();
  const entries: AuditEntry[] = [];
  for (const run of runs) {
    for (const snapshot of run.snapshots) {
      for (const entry of snapshot) {
        const key = JSON.stringify([entry.at, entry.kind, entry.by, entry.wave, entry.cluster, entry.detail]);
        if (seen.has(key)) continue;
        seen.add(key);
        if (isDecision(entry.kind)) entries.push(entry);
      }
    }
  }
  entries.sort((a, b) => a.at.localeCompare(b.at));
  const records: AuditRecord[] = entries.map((e) => ({ ...e, run: runOf(e.at), source: 'state' }));
  // Each request is matched to the first entry of the same actor that answers it, not before it arrived.
  const used = new Set<number>();
  const requests = runs.flatMap((r) => r.requests).sort((a, b) => a.at.localeCompare(b.at));
  for (const req of requests) {
    const match = entries.findIndex((e, i) => !used.has(i) && answers(req, e));
    if (match >= 0) {
      used.add(match);
      continue;
    }
    records.push(historyRecord(req, runOf(req.at)));
  }
  return records.sort((a, b) => a.at.localeCompare(b.at));
}

function answers(req: ReceivedRequest, entry: AuditEntry): boolean {
  if (!ANSWERS[req.name]?.includes(entry.kind)) return false;
  if ((entry.by ?? '') !== (req.by ?? '') && !(req.by === undefined && entry.by === 'unknown')) return false;
  // The workflow's clock is the start of the task that handled the request: never before it arrived.
  if (Date.parse(entry.at) < Date.parse(req.at) - CLOCK_SLACK_MS) return false;
  if (entry.kind === 'action-refused') return (entry.detail ?? '').startsWith(REFUSED_PREFIX[req.name] ?? '\0');
  return true;
}

/** The history's event times and the workflow clock come from one server; this allows for rounding. */
const CLOCK_SLACK_MS = 1_000;

function historyRecord(req: ReceivedRequest, run: number): AuditRecord {
  const accepted = req.outcome !== 'refused';
  const kind: AuditEntry['kind'] =
    req.name === 'approve' || req.name === 'approveWave'
      ? accepted
        ? 'approval'
        : 'approval-refused'
      : !accepted
        ? 'action-refused'
        : ((
            {
              pause: 'paused',
              resume: 'resumed',
              abort: 'aborted',
              skipCluster: 'skipped',
              retryCluster: 'retried',
            } as const
          )[req.name] ?? 'action-refused');
  const record: AuditRecord = { at: req.at, kind, run, source: 'history', outcome: req.outcome ?? 'received' };
  if (req.by !== undefined) record.by = req.by;
  if (req.wave !== undefined) record.wave = req.wave;
  if (req.cluster !== undefined) record.cluster = req.cluster;
  const detail = [
    `${req.name} ${req.outcome === undefined ? 'received (verdict not kept)' : req.outcome}`,
    req.refusal ?? req.reason,
  ]
    .filter(Boolean)
    .join(': ');
  record.detail = detail;
  return record;
}

function request(name: string, at: string, arg: unknown): ReceivedRequest {
  const input = (arg ?? {}) as Record<string, unknown>;
  const text = (key: string): string | undefined => (typeof input[key] === 'string' ? input[key] : undefined);
  const out: ReceivedRequest = { at, name };
  const by = text('approver') ?? text('by');
  if (by !== undefined) out.by = by;
  const wave = text('wave');
  if (wave !== undefined) out.wave = wave;
  const cluster = text('cluster');
  if (cluster !== undefined) out.cluster = cluster;
  const reason = text('comment') ?? text('reason');
  if (reason !== undefined) out.reason = reason;
  return out;
}

function eventTime(event: HistoryEvent | undefined): string {
  const t = event?.eventTime;
  if (!t) return '';
  const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}
