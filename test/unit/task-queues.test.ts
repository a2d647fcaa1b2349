/** Which task queue serves which cluster: the fleet file's `taskQueues` rule and a cluster's own `taskQueue`. */
import { describe, expect, it } from 'vitest';
import { fleetSchema, toFleetMembers } from '../../domain/fleet';
import { API_VERSION } from '../../domain/spec';

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
