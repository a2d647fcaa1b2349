/**
 * A 5,000-cluster campaign fits Temporal's 2 MiB payload limit: the fleet in the campaign's input
 * is over 2 MiB as JSON, and the client's and worker's payload codec (client/payload-codec.ts)
 * gzips it. The shared dev server keeps its default limits (limit.blobSize.error = 2 MiB), so
 * without the codec this start is refused. The status query (every cluster) comes back through
 * the same codec.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTemporal, validateStartInput, type FleetwaveClient } from '../../client/library';
import { COMPRESS_ABOVE_BYTES, GZIP_ENCODING, LargePayloadCodec } from '../../client/payload-codec';
import { generateFleet } from '../../simulator/index';
import { campaignWorkflowId, type CampaignStatus } from '../../workflows/definitions';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import { getTestTemporal, type TestTemporal } from '../helpers/temporal';
import { uniqueTag, withWorker } from './campaign-harness';

const CLUSTERS = 5_000;
const MiB = 2 ** 20;

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await getTestTemporal();
});

describe('payload codec', () => {
  const codec = new LargePayloadCodec();
  const json = (value: unknown) => ({
    metadata: { encoding: new TextEncoder().encode('json/plain') },
    data: new TextEncoder().encode(JSON.stringify(value)),
  });

  it('leaves small payloads alone and gzips large ones, losslessly', async () => {
    const small = json({ hello: 'world' });
    const large = json(Array.from({ length: 20_000 }, (_, i) => ({ name: `cluster-${i}`, region: 'eu-west-1' })));
    expect(large.data.length).toBeGreaterThan(COMPRESS_ABOVE_BYTES);
    const [s, l] = await codec.encode([small, large]);
    expect(s).toBe(small);
    expect(new TextDecoder().decode(l?.metadata?.encoding ?? new Uint8Array())).toBe(GZIP_ENCODING);
    expect(l?.data?.length).toBeLessThan(large.data.length / 5);
    const [s2, l2] = await codec.decode([s!, l!]);
    expect(s2).toBe(small);
    expect(Buffer.from(l2?.data ?? new Uint8Array()).equals(Buffer.from(large.data))).toBe(true);
    expect(new TextDecoder().decode(l2?.metadata?.encoding ?? new Uint8Array())).toBe('json/plain');
  });
});

describe(`a ${CLUSTERS.toLocaleString('en-US')}-cluster campaign under the default 2 MiB payload limit`, () => {
  let client: FleetwaveClient | undefined;
  afterAll(async () => {
    await client?.close();
  });

  it('starts, plans, answers the status query with every cluster, and aborts', { timeout: 180_000 }, async () => {
    const tag = uniqueTag();
    const fleet = generateFleet({ count: CLUSTERS, seed: 11 });
    for (const c of fleet.clusters) c.name = `${c.name}-${tag}`;
    const name = `large-${tag}`;
    const campaign = {
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'UpgradeCampaign',
      metadata: { name },
      spec: {
        target: { kubernetesVersion: '1.32' },
        bake: '0s',
        approvers: { users: ['alice'] },
        waves: [
          { name: 'canary', count: 1, approval: 'required' },
          { name: 'rest', maxParallel: 50 },
        ],
      },
    };
    const { fleet: members, plan } = validateStartInput({ campaign, fleet });
    const planned = plan.waves.reduce((n, w) => n + w.clusters.length, 0);
    // What makes this test mean something: the fleet alone is over Temporal's payload limit as JSON.
    expect(JSON.stringify(members).length).toBeGreaterThan(2 * MiB);

    const fake = createFakeActivities({ clusters: members.map((m) => fakeCluster(m.name, { version: m.version })) });
    const taskQueue = temporal.taskQueue('large-payload');
    client = await connectTemporal({
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace },
      taskQueue,
    });
    const c = client;
    await withWorker(temporal, taskQueue, fake.activities, async () => {
      const started = await c.startCampaign({ campaign, fleet, startedBy: 'large-payload test' });

      let status: CampaignStatus | undefined;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        status = await c.getStatus(name, { liveSteps: false });
        if (status.state === 'awaiting-approval') break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(status?.state).toBe('awaiting-approval');
      expect(status?.clusters.length).toBeGreaterThanOrEqual(planned);
      expect(planned).toBeGreaterThan(CLUSTERS / 2);
      expect(status?.waves.map((w) => w.total)).toEqual(plan.waves.map((w) => w.clusters.length));
      expect(status?.waves.reduce((n, w) => n + w.total, 0)).toBe(planned);

      // The start event holds the compressed fleet, well under the limit.
      const history = await temporal.client.workflowService.getWorkflowExecutionHistory({
        namespace: temporal.namespace,
        execution: { workflowId: campaignWorkflowId(name), runId: started.runId },
        maximumPageSize: 1,
      });
      const input = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const encoding = new TextDecoder().decode(input?.metadata?.encoding ?? new Uint8Array());
      expect(encoding).toBe(GZIP_ENCODING);
      const bytes = input?.data?.length ?? Infinity;
      expect(bytes).toBeLessThan(MiB / 2);
      console.log(
        `${CLUSTERS} clusters: fleet ${(JSON.stringify(members).length / MiB).toFixed(2)} MiB as JSON, ${(bytes / MiB).toFixed(2)} MiB in the start event`,
      );

      await c.abortCampaign(name, { reason: 'test done', by: 'large-payload test' });
      const result = await c.waitForCampaign(name);
      expect(result.state).toBe('aborted');
    });
  });
});
