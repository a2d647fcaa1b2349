/**
 * Plays the operator while a campaign runs: approves each wave the moment it awaits approval
 * (as the spec's first `minApprovals` approvers, by Update), and hands pauses to a callback.
 *
 * It watches the campaign's search attributes with DescribeWorkflowExecution (cheap, no query,
 * no history event, not a billed action) every `pollMs`; the approvals it sends are Updates
 * (billed, and in the history as WorkflowExecutionUpdateAccepted).
 */
import type { FleetwaveClient } from '../../client/library';
import { campaignWorkflowId, type CampaignResult, type CampaignStatus } from '../../workflows/definitions';
import {
  AwaitingApprovalKey,
  CampaignStateKey,
  ClustersDoneKey,
  ClustersFailedKey,
  ClustersTotalKey,
  CurrentWaveKey,
} from '../../workflows/search-attributes';

/** One approval the driver sent. */
export interface SentApproval {
  wave: string;
  approver: string;
  /** Epoch ms: update sent, update returned. */
  sentMs: number;
  returnedMs: number;
  /** The approval completed the quorum: the next wave starts now. */
  promoted: boolean;
  refused?: string;
}

/** Options for {@link driveCampaign}. */
export interface DriveOptions {
  name: string;
  approvers: string[];
  /** Poll period. Default 200 ms. */
  pollMs?: number;
  /**
   * Called (once per distinct pause reason) while the campaign is paused; e.g. resume it after an
   * outage. Default: nothing (the campaign stays paused until someone else acts).
   */
  onPaused?: (status: CampaignStatus) => Promise<void>;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface DriveResult {
  result: CampaignResult;
  approvals: SentApproval[];
  /** Queries the driver sent (status on pause): billed actions. */
  queries: number;
  /** Epoch ms the campaign's result arrived. */
  endedMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Approves waves and handles pauses until the campaign ends; resolves with its result. */
export async function driveCampaign(fw: FleetwaveClient, opts: DriveOptions): Promise<DriveResult> {
  const log = opts.log ?? (() => undefined);
  const handle = fw.client.workflow.getHandle(campaignWorkflowId(opts.name));
  const approvals: SentApproval[] = [];
  const approvedBy = new Map<string, Set<string>>();
  const seenPauses = new Set<string>();
  let queries = 0;
  let ended: { result: CampaignResult; at: number } | undefined;
  const done = waitForResult(fw, opts.name, log).then((result) => {
    ended = { result, at: Date.now() };
  });

  while (!ended) {
    let state: string | undefined;
    let wave: string | undefined;
    let awaiting = false;
    try {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') {
        await Promise.race([done, sleep(opts.pollMs ?? 200)]);
        continue;
      }
      state = d.typedSearchAttributes.get(CampaignStateKey);
      wave = d.typedSearchAttributes.get(CurrentWaveKey);
      awaiting = d.typedSearchAttributes.get(AwaitingApprovalKey) ?? false;
    } catch {
      // Server restarting, or between runs of continue-as-new: look again.
      await sleep(opts.pollMs ?? 200);
      continue;
    }

    if (awaiting && wave) {
      const given = approvedBy.get(wave) ?? new Set<string>();
      approvedBy.set(wave, given);
      for (const approver of opts.approvers) {
        if (given.has(approver)) continue;
        const sentMs = Date.now();
        try {
          const r = await fw.approveWave(opts.name, { wave, approver, comment: 'bench auto-approval' });
          approvals.push({ wave, approver, sentMs, returnedMs: Date.now(), promoted: r.promoted });
          given.add(approver);
          log(`approved ${wave} as ${approver}${r.promoted ? ' (promoted)' : ''} in ${Date.now() - sentMs} ms`);
          if (r.promoted) break;
        } catch (err) {
          const refused = err instanceof Error ? err.message : String(err);
          approvals.push({ wave, approver, sentMs, returnedMs: Date.now(), promoted: false, refused });
          log(`approval of ${wave} as ${approver} refused: ${refused}`);
          break;
        }
      }
    } else if (state === 'paused' && opts.onPaused) {
      try {
        queries++;
        const status = await fw.getStatus(opts.name, { liveSteps: false });
        const key = `${status.currentWave}|${status.pausedReason}`;
        if (status.state === 'paused' && !seenPauses.has(key)) {
          seenPauses.add(key);
          log(`paused: ${status.pausedReason}`);
          await opts.onPaused(status);
        }
      } catch (err) {
        log(`status while paused failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await Promise.race([done, sleep(opts.pollMs ?? 200)]);
  }
  await done;
  const final = ended as unknown as { result: CampaignResult; at: number };
  return { result: final.result, approvals, queries, endedMs: final.at };
}

/** The campaign's result, waiting through server restarts (the long poll fails while the server is down). */
export async function waitForResult(
  fw: FleetwaveClient,
  name: string,
  log: (line: string) => void = () => undefined,
): Promise<CampaignResult> {
  for (let failures = 0; ; failures++) {
    try {
      return await fw.waitForCampaign(name);
    } catch (err) {
      if (failures > 600) throw err;
      if (failures % 10 === 0)
        log(`waiting for the result failed (${err instanceof Error ? err.message : String(err)}); retrying`);
      await sleep(500);
    }
  }
}

/** The campaign's progress from its search attributes (DescribeWorkflowExecution: cheap, no query). */
export interface CampaignProgress {
  running: boolean;
  state?: string;
  wave?: string;
  done: number;
  failed: number;
  total?: number;
}

export async function campaignProgress(fw: FleetwaveClient, name: string): Promise<CampaignProgress> {
  const d = await fw.client.workflow.getHandle(campaignWorkflowId(name)).describe();
  const sa = d.typedSearchAttributes;
  return {
    running: d.status.name === 'RUNNING',
    state: sa.get(CampaignStateKey),
    wave: sa.get(CurrentWaveKey),
    done: sa.get(ClustersDoneKey) ?? 0,
    failed: sa.get(ClustersFailedKey) ?? 0,
    total: sa.get(ClustersTotalKey),
  };
}
