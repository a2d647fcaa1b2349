/**
 * The campaign's notifications (spec.notify): after each change the campaign publishes, the audit
 * entries recorded since the last look are mapped to notifications (domain/notify.ts) and each one
 * some sink wants is handed to a notify workflow of its own (workflows/notify.ts), started with
 * parent-close policy ABANDON and never awaited beyond its start. The campaign waits only for
 * those starts, before it continues as new or ends, so none is lost at a run's end; delivery, its
 * retries and a dead sink cost the campaign nothing more. A sink that failed after its retries
 * comes back as notifySinkFailedSignal and shows in status.
 *
 * Campaigns without sinks (every campaign started before spec.notify, whose input lacks it) do
 * nothing here: no patch marker, no event. With sinks, patch `notify` guards the new commands
 * (docs/versioning.md).
 */
import { ParentClosePolicy, WorkflowIdReusePolicy, log, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { notificationOf, sinkWants, type Notification } from '../../domain/notify';
import type { NotifySink } from '../../domain/spec';
import { describeFailure } from '../failure-text';
import { WorkflowTypes, campaignWorkflowId, notifyWorkflowId, type NotifyWorkflowInput } from '../definitions';
import type { notifyWorkflow } from '../notify';
import type { CampaignMachine } from './state';

/** See the module comment and docs/versioning.md. */
export const NOTIFY_PATCH = 'notify';

/** Starts the notify workflows of one campaign run. */
export class CampaignNotifier {
  private readonly starts: Promise<unknown>[] = [];
  private readonly sinks: NotifySink[];

  constructor(
    private readonly m: CampaignMachine,
    spec: { notify?: NotifySink[] },
  ) {
    // Absent in the inputs of campaigns started before spec.notify: no sinks.
    this.sinks = spec.notify ?? [];
  }

  /** Sends what the audit entries recorded since the last call call for. */
  send(): void {
    if (this.sinks.length === 0 || !patched(NOTIFY_PATCH)) return;
    const name = this.m.name;
    const workflowId = campaignWorkflowId(name);
    const firstRunId = workflowInfo().firstExecutionRunId;
    for (const { seq, entry } of this.m.takeNotifications()) {
      const moment = notificationOf(entry);
      if (!moment) continue;
      const sinks = this.sinks.filter((sink) => sinkWants(sink, moment.event));
      if (sinks.length === 0) continue;
      const id = notifyWorkflowId(name, firstRunId, seq);
      const notification: Notification = { ...moment, id, campaign: name, workflowId };
      const input: NotifyWorkflowInput = { notification, sinks };
      this.starts.push(
        startChild<typeof notifyWorkflow>(WorkflowTypes.notify, {
          workflowId: id,
          args: [input],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          staticSummary: `${moment.event} of campaign ${name}`,
        }).catch((err: unknown) => {
          // Already started (a reset replays the same IDs): it was sent.
          log.warn('notification not started', { id, error: describeFailure(err) });
        }),
      );
    }
  }

  /** Waits until every notify workflow this run asked for has started (before the run ends). */
  async started(): Promise<void> {
    await Promise.all(this.starts);
  }
}
