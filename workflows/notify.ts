/**
 * The notify workflow, ID `notify/<campaign>/<first run ID>/<audit sequence>`: delivers one
 * campaign notification to each sink that wants it, one `deliverNotification` activity per sink
 * with bounded retries, and tells the campaign about a sink that failed after them.
 *
 * Why a workflow of its own: the campaign starts it and does not wait for it (parent-close policy
 * ABANDON), so a slow or failing sink never delays the campaign, not even its end or its
 * continue-as-new, and a notification sent as the campaign ends is still delivered. Its own
 * history keeps the campaign's small: three events per notification there (initiated, started,
 * completed), plus one signal per sink that failed.
 */
import { proxyActivities, getExternalWorkflowHandle, log } from '@temporalio/workflow';
import type { NotifyActivities } from '../activities/notify';
import { describeFailure } from './failure-text';
import {
  notifySinkFailedSignal,
  type NotifySinkFailure,
  type NotifyWorkflowInput,
  type NotifyWorkflowResult,
} from './definitions';

/** Five tries over about 15 s, each POST bounded: a dead sink costs the campaign nothing but a signal. */
const { deliverNotification } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '8 seconds', maximumAttempts: 5 },
});

/** Delivers `input.notification` to every sink of `input.sinks`, in parallel. */
export async function notifyWorkflow(input: NotifyWorkflowInput): Promise<NotifyWorkflowResult> {
  const { notification, sinks } = input;
  const outcomes = await Promise.all(
    sinks.map(async (sink) => {
      try {
        await deliverNotification({ sink, notification });
        return { sink: sink.name };
      } catch (err) {
        const failure: NotifySinkFailure = { sink: sink.name, event: notification.event, error: describeFailure(err) };
        return { sink: sink.name, failure };
      }
    }),
  );
  const failed = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
  const campaign = getExternalWorkflowHandle(notification.workflowId);
  for (const failure of failed) {
    // The campaign may have ended meanwhile: then nobody is left to show it, and the result keeps it.
    await campaign.signal(notifySinkFailedSignal, failure).catch((err: unknown) => {
      log.warn('campaign not told of a failing sink', { sink: failure.sink, error: describeFailure(err) });
    });
  }
  return { delivered: outcomes.filter((o) => !o.failure).map((o) => o.sink), failed };
}
