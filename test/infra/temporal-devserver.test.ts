import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignNameKey, ClustersDoneKey, SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { createSmokeActivities } from '../fixtures/smoke-activities';
import { continueAsNewProbeWorkflow, smokeWorkflow } from '../fixtures/smoke-workflow';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import {
  getTestTemporal,
  startDedicatedTestTemporal,
  type DedicatedTestTemporal,
  type TestTemporal,
} from '../helpers/temporal';

describe('Temporal dev server (shared, from global setup)', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await getTestTemporal();
  });

  it('has every fleetwave search attribute registered', async () => {
    const { customAttributes } = await temporal.connection.operatorService.listSearchAttributes({
      namespace: temporal.namespace,
    });
    for (const { name } of SEARCH_ATTRIBUTES) {
      expect(customAttributes ?? {}, name).toHaveProperty(name);
    }
  });

  it('runs a workflow that calls an activity and upserts search attributes', async () => {
    const taskQueue = temporal.taskQueue('smoke');
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(`${REPO_ROOT}/test/fixtures/smoke-workflow.ts`),
      activities: createSmokeActivities(),
    });

    const workflowId = `smoke/${taskQueue}`;
    const { result, description } = await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(smokeWorkflow, {
        taskQueue,
        workflowId,
        args: [{ name: 'spring-rollout' }],
      });
      const result = await handle.result();
      return { result, description: await handle.describe() };
    });

    expect(result).toBe('hello, spring-rollout');
    expect(description.typedSearchAttributes.get(CampaignNameKey)).toBe('spring-rollout');
    expect(description.typedSearchAttributes.get(ClustersDoneKey)).toBe(1);
  });
});

describe('Temporal dev server (dedicated, with dynamic config)', () => {
  let temporal: DedicatedTestTemporal;

  beforeAll(async () => {
    temporal = await startDedicatedTestTemporal({
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 20 },
    });
  });

  afterAll(async () => {
    await temporal?.teardown();
  });

  it('passes dynamic config to the server (continue-as-new is suggested early)', async () => {
    const taskQueue = temporal.taskQueue('can-probe');
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(`${REPO_ROOT}/test/fixtures/smoke-workflow.ts`),
      activities: createSmokeActivities(),
    });
    const suggestedAfter = await worker.runUntil(
      temporal.client.workflow.execute(continueAsNewProbeWorkflow, {
        taskQueue,
        workflowId: `can-probe/${taskQueue}`,
        args: [{ maxActivities: 20 }],
      }),
    );
    // 20 events ≈ start (3) + a few activities at ~6 events each; the default limit is 4,096.
    expect(suggestedAfter).toBeGreaterThan(0);
    expect(suggestedAfter).toBeLessThan(6);
  });
});
