/**
 * FLEETWAVE_BENCH_TIMELINE's text (bench/lib/histories.ts campaignTimelineText): one line per event
 * with what tells it apart, times from the campaign's start.
 */
import { msToTs as at } from '@temporalio/common/lib/time';
import { describe, expect, it } from 'vitest';
import { campaignTimelineText, type RunHistory } from '../../bench/lib/histories';

describe('campaignTimelineText', () => {
  it('names the activity, the event it belongs to, the timer, the update and the child', () => {
    const t0 = 1_700_000_000_000;
    const run = {
      events: [
        {
          eventId: 5,
          eventTime: at(t0 + 1_250),
          activityTaskScheduledEventAttributes: { activityType: { name: 'watchHealthGates' }, activityId: '14' },
        },
        { eventId: 6, eventTime: at(t0 + 1_251), timerStartedEventAttributes: { startToFireTimeout: at(1_500) } },
        { eventId: 7, eventTime: at(t0 + 2_400), activityTaskCompletedEventAttributes: { scheduledEventId: 5 } },
        {
          eventId: 8,
          eventTime: at(t0 + 2_600),
          workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { input: { name: 'approveWave' } } },
        },
        {
          eventId: 9,
          eventTime: at(t0 + 3_000),
          childWorkflowExecutionStartedEventAttributes: { workflowExecution: { workflowId: 'cluster-upgrade/a' } },
        },
      ],
    } as unknown as RunHistory;
    expect(campaignTimelineText([run], t0).split('\n')).toEqual([
      '1.250 5 ActivityTaskScheduled watchHealthGates id=14',
      '1.251 6 TimerStarted timer=1.500s',
      '2.400 7 ActivityTaskCompleted of=5',
      '2.600 8 WorkflowExecutionUpdateAccepted approveWave',
      '3.000 9 ChildWorkflowExecutionStarted cluster-upgrade/a',
      '',
    ]);
  });
});
