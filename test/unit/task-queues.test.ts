/** Which task queue serves which cluster: the fleet file's `taskQueues` rule and a cluster's own `taskQueue`. */
import { describe, expect, it } from 'vitest';
import { fleetSchema, toFleetMembers } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';
import { batchesByQueue, sharedQueue } from '../../workflows/campaign/gate-queues';

const cluster = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  region: 'eu-west-1',
  account: '111122223333',
  version: '1.30',
  ...extra,
});

function queues(doc: Record<string, unknown>): Record<string, string | undefined> {
  const fleet = fleetSchema.parse({ apiVersion: API_VERSION, kind: 'Fleet', ...doc });
  return Object.fromEntries(toFleetMembers(fleet).map((m) => [m.name, m.taskQueue]));
}

describe('task queue per cluster', () => {
  it('without a rule every member stays on the campaign queue (no taskQueue key at all)', () => {
    const fleet = fleetSchema.parse({ apiVersion: API_VERSION, kind: 'Fleet', clusters: [cluster('a')] });
    expect(toFleetMembers(fleet)[0]).not.toHaveProperty('taskQueue');
  });

  it('maps the label value, names the queue by an unmapped value, and uses the default without the label', () => {
    expect(
      queues({
        taskQueues: { label: 'network', map: { 'vpc-a': 'fleetwave-vpc-a' }, default: 'fleetwave-shared' },
        clusters: [
          cluster('a', { labels: { network: 'vpc-a' } }),
          cluster('b', { labels: { network: 'vpc-b' } }),
          cluster('c'),
          cluster('d', { labels: { network: 'vpc-a' }, taskQueue: 'own-queue' }),
        ],
      }),
    ).toEqual({ a: 'fleetwave-vpc-a', b: 'vpc-b', c: 'fleetwave-shared', d: 'own-queue' });
  });

  it('account and region count as labels', () => {
    expect(queues({ taskQueues: { label: 'account' }, clusters: [cluster('a')] })).toEqual({ a: '111122223333' });
  });

  it('refuses a queue name with spaces, naming the path', () => {
    const parsed = fleetSchema.safeParse({
      apiVersion: API_VERSION,
      kind: 'Fleet',
      clusters: [cluster('a', { taskQueue: 'my queue' })],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['clusters', 0, 'taskQueue']);
  });
});

describe("health-gate batches on their clusters' queues (workflows/campaign/gate-queues.ts)", () => {
  const queueOf: Record<string, string | undefined> = { a1: 'q-a', a2: 'q-a', b1: 'q-b', c1: undefined };
  const pairs = (names: string[]) => names.map((cluster) => ({ cluster }));

  it('without queues: the batches of old, in order', () => {
    const names = Array.from({ length: 5 }, (_, i) => `n${i}`);
    expect(batchesByQueue(pairs(names), () => undefined, 2)).toEqual([
      { pairs: pairs(['n0', 'n1']) },
      { pairs: pairs(['n2', 'n3']) },
      { pairs: pairs(['n4']) },
    ]);
  });

  it('grouped by queue in order of first appearance, each group cut to the batch size', () => {
    expect(batchesByQueue(pairs(['a1', 'c1', 'b1', 'a2', 'a1']), (p) => queueOf[p.cluster], 2)).toEqual([
      { pairs: pairs(['a1', 'a2']), taskQueue: 'q-a' },
      { pairs: pairs(['a1']), taskQueue: 'q-a' },
      { pairs: pairs(['c1']) },
      { pairs: pairs(['b1']), taskQueue: 'q-b' },
    ]);
  });

  it("a wave gate runs on the queue its clusters share, else on the campaign's", () => {
    expect(sharedQueue(['q-a', 'q-a'])).toBe('q-a');
    expect(sharedQueue(['q-a', 'q-b'])).toBeUndefined();
    expect(sharedQueue(['q-a', undefined])).toBeUndefined();
    expect(sharedQueue([])).toBeUndefined();
  });
});
