/**
 * The harness's answer to a query that cannot replay (./history-outline.ts), against the real SDK:
 * a campaign runs to the end on the real workflow, then a worker whose `campaignWorkflow` is
 * something else answers its status query, and fails to replay the history.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/definitions';
import { REPO_ROOT } from '../helpers/bundle';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import {
  campaignTestTemporal,
  makeCampaign,
  resultWithin,
  startCampaign,
  uniqueTag,
  withWorker,
} from './campaign-harness';
import { historyFromJson } from './history-json';

const IMPOSTOR = path.join(REPO_ROOT, 'test/fixtures/campaign-impostor.ts');

describe('campaign handles of the harness: a query that cannot replay', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await campaignTestTemporal();
  });

  it('saves the history and names its workflow tasks in the error', async () => {
    const tag = uniqueTag();
    const name = `he-${tag}-a`;
    const fake = createFakeActivities({ clusters: [fakeCluster(name)] });
    const campaign = makeCampaign(`he-${tag}`, { waves: [{ name: 'all', maxParallel: 1, approval: 'auto' }] });
    const taskQueue = temporal.taskQueue('campaign');
    const handle = await withWorker(temporal, taskQueue, fake.activities, async () => {
      const started = await startCampaign(temporal, taskQueue, campaign, [fake.member(name)]);
      expect((await resultWithin(started)).state).toBe('completed');
      return started;
    });
    const failure = await withWorker(
      temporal,
      taskQueue,
      fake.activities,
      () =>
        handle.query(statusQuery).then(
          () => undefined,
          (err: unknown) => err as Error,
        ),
      IMPOSTOR,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toMatch(/TMPRL1100/);
    expect(message).toContain(`replaying ${handle.workflowId} (history saved to `);
    expect(message).toMatch(/\n#4 task completed: patch signed-actions, .*local resolveTargetVersions/);
    const saved = /history saved to (\S+)\)/.exec(message)?.[1] as string;
    const history = await handle.fetchHistory();
    const kept = historyFromJson(JSON.parse(await readFile(saved, 'utf8')));
    expect(kept.events?.length).toBe(history.events?.length);
  });
});
