/**
 * Campaign notifications: which of the campaign's audit entries are worth telling a sink about,
 * and the two message shapes (a Slack-compatible Block Kit message, a CloudEvents 1.0 event).
 *
 * Notifications follow the audit trail on purpose: the campaign records each of these moments
 * exactly once (in the state carried across continue-as-new), so a notification is sent once per
 * moment however the runs are cut. Pure functions: the workflow picks the notifications, the
 * `deliverNotification` activity (activities/notify.ts) renders and posts them.
 *
 * Decision inputs of {@link notificationOf}: the entry's kind, and for `cluster-finished` and
 * `wave-completed` the first word of its detail (the cluster's state, `awaiting`).
 */
import type { NotifySink } from './spec';

/** What a campaign can tell its sinks (spec.notify[].events). */
export const NOTIFY_EVENTS = [
  'approval-needed',
  'wave-promoted',
  'cluster-failed',
  'cluster-rolled-back',
  'cluster-blocked',
  'budget-exceeded',
  'campaign-paused',
  'campaign-resumed',
  'campaign-ended',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** An audit entry as the campaign records it (workflows/definitions.ts AuditEntry, structurally). */
export interface NotifiableEntry {
  at: string;
  kind: string;
  by?: string;
  wave?: string;
  cluster?: string;
  detail?: string;
}

/** One notification, with nothing secret in it: it travels through histories. */
export interface Notification {
  /** Unique and stable across retries: `<campaign workflow ID>/<first run ID>/<audit sequence>`. */
  id: string;
  event: NotifyEvent;
  campaign: string;
  /** The campaign's workflow ID (for the Web UI link). */
  workflowId: string;
  /** ISO time of the moment, from the workflow clock. */
  at: string;
  wave?: string;
  cluster?: string;
  by?: string;
  /** Why, in the campaign's words (the audit entry's detail). */
  reason?: string;
}

/** The notification an audit entry calls for, without its id and campaign, or undefined. */
export function notificationOf(
  entry: NotifiableEntry,
): Omit<Notification, 'id' | 'campaign' | 'workflowId'> | undefined {
  const event = eventOf(entry);
  if (!event) return undefined;
  const n: Omit<Notification, 'id' | 'campaign' | 'workflowId'> = { event, at: entry.at };
  if (entry.wave !== undefined) n.wave = entry.wave;
  if (entry.cluster !== undefined) n.cluster = entry.cluster;
  if (entry.by !== undefined) n.by = entry.by;
  if (entry.detail !== undefined) n.reason = entry.detail;
  return n;
}

function eventOf(entry: NotifiableEntry): NotifyEvent | undefined {
  const first = (entry.detail ?? '').split(/[:\s]/, 1)[0];
  switch (entry.kind) {
    case 'wave-completed':
      return first === 'awaiting' ? 'approval-needed' : undefined;
    case 'promoted':
      return 'wave-promoted';
    case 'cluster-finished':
      return first === 'failed'
        ? 'cluster-failed'
        : first === 'rolled-back'
          ? 'cluster-rolled-back'
          : first === 'blocked'
            ? 'cluster-blocked'
            : undefined;
    case 'budget-exceeded':
      return 'budget-exceeded';
    case 'paused':
      return 'campaign-paused';
    case 'resumed':
      return 'campaign-resumed';
    case 'completed':
      return 'campaign-ended';
    default:
      return undefined;
  }
}

/** True when `sink` wants `event` (all events when it lists none). */
export function sinkWants(sink: Pick<NotifySink, 'events'>, event: NotifyEvent): boolean {
  return (sink.events ?? NOTIFY_EVENTS).includes(event);
}

const TITLES: Record<NotifyEvent, string> = {
  'approval-needed': 'Wave waiting for approval',
  'wave-promoted': 'Wave promoted',
  'cluster-failed': 'Cluster upgrade failed',
  'cluster-rolled-back': 'Cluster rolled back',
  'cluster-blocked': 'Cluster blocked',
  'budget-exceeded': 'Failure budget exceeded: campaign paused',
  'campaign-paused': 'Campaign paused',
  'campaign-resumed': 'Campaign resumed',
  'campaign-ended': 'Campaign ended',
};

/** Slack Block Kit text is limited to 3000 characters per section. */
const SLACK_TEXT_MAX = 2900;

/**
 * A Slack incoming-webhook body: `text` (the notification's fallback line) and Block Kit blocks
 * (a header, the campaign, wave and cluster as fields, the reason, a button to the Web UI).
 * https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks
 */
export function slackMessage(n: Notification, uiUrl: string): Record<string, unknown> {
  const title = TITLES[n.event];
  const fields = [
    { type: 'mrkdwn', text: `*Campaign*\n${escapeSlack(n.campaign)}` },
    ...(n.wave ? [{ type: 'mrkdwn', text: `*Wave*\n${escapeSlack(n.wave)}` }] : []),
    ...(n.cluster ? [{ type: 'mrkdwn', text: `*Cluster*\n${escapeSlack(n.cluster)}` }] : []),
    ...(n.by ? [{ type: 'mrkdwn', text: `*By*\n${escapeSlack(n.by)}` }] : []),
  ];
  const where = [n.wave && `wave ${n.wave}`, n.cluster && `cluster ${n.cluster}`].filter(Boolean).join(', ');
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: `${title}: ${n.campaign}`.slice(0, 150) } },
    { type: 'section', fields },
  ];
  if (n.reason) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*Reason*\n${escapeSlack(n.reason).slice(0, SLACK_TEXT_MAX)}` },
    });
  }
  blocks.push({
    type: 'actions',
    elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Temporal Web UI' }, url: uiUrl }],
  });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `fleetwave · ${n.at}` }] });
  return { text: `${title}: ${n.campaign}${where ? ` (${where})` : ''}${n.reason ? ` — ${n.reason}` : ''}`, blocks };
}

/** Slack's three control characters in mrkdwn. https://api.slack.com/reference/surfaces/formatting#escaping */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A CloudEvents 1.0 event in structured mode (the whole event is the JSON body, sent with
 * `content-type: application/cloudevents+json`). https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md,
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#32-structured-content-mode
 */
export function cloudEvent(n: Notification, uiUrl: string): Record<string, unknown> {
  const data: Record<string, unknown> = { campaign: n.campaign, workflowId: n.workflowId, uiUrl };
  if (n.wave !== undefined) data.wave = n.wave;
  if (n.cluster !== undefined) data.cluster = n.cluster;
  if (n.by !== undefined) data.by = n.by;
  if (n.reason !== undefined) data.reason = n.reason;
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: n.id,
    source: `fleetwave/${n.workflowId}`,
    type: `io.fleetwave.${n.event}`,
    time: n.at,
    datacontenttype: 'application/json',
    data,
  };
  if (n.cluster !== undefined) event.subject = n.cluster;
  return event;
}
