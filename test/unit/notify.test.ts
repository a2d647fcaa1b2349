/** Notifications (domain/notify.ts): which audit entries call for one, the two message shapes, spec.notify validation. */
import { describe, expect, it } from 'vitest';
import { cloudEvent, notificationOf, sinkWants, slackMessage, type Notification } from '../../domain/notify';
import { campaignSpecSchema, notifySchema } from '../../domain/spec';
import { formatStatus } from '../../client/format';
import type { CampaignStatus } from '../../workflows/definitions';

const at = '2026-01-01T00:00:00.000Z';

describe('notificationOf', () => {
  it.each([
    [{ kind: 'wave-completed', detail: 'awaiting 2 approval(s)', wave: 'w' }, 'approval-needed'],
    [{ kind: 'wave-completed', detail: 'last wave', wave: 'w' }, undefined],
    [{ kind: 'promoted', wave: 'w' }, 'wave-promoted'],
    [{ kind: 'cluster-finished', detail: 'rolled-back: gate errors Failed', cluster: 'c' }, 'cluster-rolled-back'],
    [{ kind: 'cluster-finished', detail: 'failed: boom', cluster: 'c' }, 'cluster-failed'],
    [{ kind: 'cluster-finished', detail: 'blocked: another campaign', cluster: 'c' }, 'cluster-blocked'],
    [{ kind: 'cluster-finished', detail: 'upgraded', cluster: 'c' }, undefined],
    [{ kind: 'budget-exceeded', detail: 'x' }, 'budget-exceeded'],
    [{ kind: 'paused', by: 'a' }, 'campaign-paused'],
    [{ kind: 'resumed', by: 'a' }, 'campaign-resumed'],
    [{ kind: 'completed', detail: 'completed: 3 upgraded' }, 'campaign-ended'],
    [{ kind: 'approval', by: 'a' }, undefined],
  ])('%j → %s', (entry, event) => {
    expect(notificationOf({ at, ...entry })?.event).toBe(event);
  });

  it('keeps wave, cluster, who and why', () => {
    expect(notificationOf({ at, kind: 'paused', by: 'bob', wave: 'w', detail: 'paused by bob' })).toEqual({
      event: 'campaign-paused',
      at,
      by: 'bob',
      wave: 'w',
      reason: 'paused by bob',
    });
  });

  it('sends a sink every event unless it names some', () => {
    expect(sinkWants({}, 'campaign-ended')).toBe(true);
    expect(sinkWants({ events: ['approval-needed'] }, 'campaign-ended')).toBe(false);
  });
});

describe('messages', () => {
  const n: Notification = {
    id: 'campaign/x/run/7',
    event: 'cluster-rolled-back',
    campaign: 'x',
    workflowId: 'campaign/x',
    at,
    wave: 'canary',
    cluster: 'prod-<1>',
    reason: 'rolled-back: gate errors Failed',
  };

  it('Slack: fallback text, header, fields, reason and a Web UI button, with mrkdwn escaped', () => {
    const msg = slackMessage(n, 'http://ui/x') as { text: string; blocks: Record<string, unknown>[] };
    expect(msg.text).toBe('Cluster rolled back: x (wave canary, cluster prod-<1>) — rolled-back: gate errors Failed');
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'actions', 'context']);
    expect(JSON.stringify(msg.blocks[1])).toContain('prod-&lt;1&gt;');
    expect(msg.blocks[3]).toEqual({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Temporal Web UI' }, url: 'http://ui/x' }],
    });
  });

  it('CloudEvents 1.0 structured: required attributes, subject, data', () => {
    expect(cloudEvent(n, 'http://ui/x')).toEqual({
      specversion: '1.0',
      id: 'campaign/x/run/7',
      source: 'fleetwave/campaign/x',
      type: 'io.fleetwave.cluster-rolled-back',
      time: at,
      subject: 'prod-<1>',
      datacontenttype: 'application/json',
      data: {
        campaign: 'x',
        workflowId: 'campaign/x',
        uiUrl: 'http://ui/x',
        wave: 'canary',
        cluster: 'prod-<1>',
        reason: 'rolled-back: gate errors Failed',
      },
    });
  });
});

describe('spec.notify', () => {
  it('defaults to no sinks', () => {
    expect(notifySchema.parse(undefined)).toEqual([]);
  });

  it('needs exactly one URL source, unique names, known events', () => {
    const r = notifySchema.safeParse([
      { name: 'a', kind: 'slack' },
      { name: 'a', kind: 'cloudevents', urlFromEnv: 'X', urlFromSecret: { namespace: 'n', name: 's', key: 'k' } },
      { name: 'b', kind: 'slack', urlFromEnv: 'X', events: ['nope'] },
    ]);
    expect(r.success).toBe(false);
    const messages = r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(messages).toEqual(
      expect.arrayContaining([
        '0: needs exactly one of urlFromEnv and urlFromSecret',
        '1: needs exactly one of urlFromEnv and urlFromSecret',
        expect.stringMatching(/^2\.events\.0: /),
      ]),
    );
  });

  it('refuses a URL in the spec itself (only references are accepted)', () => {
    const r = notifySchema.safeParse([{ name: 'a', kind: 'slack', url: 'https://hooks.example/T0' }]);
    expect(r.success).toBe(false);
  });

  it('is part of the campaign spec', () => {
    expect(campaignSpecSchema.shape).toBeDefined();
  });
});

describe('status', () => {
  it('names a failing sink', () => {
    const status: CampaignStatus = {
      name: 'x',
      state: 'running',
      waves: [],
      clusters: [],
      skippedAtPlan: [],
      audit: [],
      runs: 1,
      notifySinks: [{ sink: 'siem', failures: 2, lastEvent: 'campaign-paused', lastError: 'HTTP 500', lastAt: at }],
    };
    expect(formatStatus(status)).toContain(
      `notify sink siem failing: 2 notification(s) lost after retries, last campaign-paused at ${at}: HTTP 500`,
    );
  });
});
