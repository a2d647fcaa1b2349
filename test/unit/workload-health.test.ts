import { describe, expect, it } from 'vitest';
import {
  PENDING_GRACE_MS,
  stuckPendingPods,
  workloadBaseline,
  workloadFailures,
  workloadShortfalls,
} from '../../domain/workload-health';

const names = (n: string[]) => n.join(', ');
const meta = (name: string, extra: object = {}) => ({ name, namespace: 'app', ...extra });

describe('workload health', () => {
  it('compares available with desired per kind, and counts a spec not yet observed as short', () => {
    const short = workloadShortfalls({
      deployments: [
        { metadata: meta('web'), spec: { replicas: 3 }, status: { availableReplicas: 2 } },
        { metadata: meta('api'), spec: { replicas: 2 }, status: { availableReplicas: 2 } },
        {
          metadata: meta('new', { generation: 2 }),
          spec: { replicas: 1 },
          status: { observedGeneration: 1, availableReplicas: 1 },
        },
      ],
      statefulSets: [{ metadata: meta('db'), spec: { replicas: 3 }, status: { readyReplicas: 3 } }],
      daemonSets: [{ metadata: meta('agent'), status: { desiredNumberScheduled: 5, numberAvailable: 4 } }],
    });
    expect(short).toEqual([
      { key: 'app/DaemonSet/agent', detail: '4/5 available' },
      { key: 'app/Deployment/new', detail: 'latest spec not yet observed by its controller' },
      { key: 'app/Deployment/web', detail: '2/3 available' },
    ]);
  });

  it('finds pods stuck Pending: unschedulable at once, others after the grace', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const at = (ms: number) => new Date(now - ms).toISOString();
    const stuck = stuckPendingPods(
      [
        {
          metadata: meta('a', { creationTimestamp: at(1000) }),
          status: {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
          },
        },
        { metadata: meta('b', { creationTimestamp: at(1000) }), status: { phase: 'Pending' } },
        { metadata: meta('c', { creationTimestamp: at(PENDING_GRACE_MS) }), status: { phase: 'Pending' } },
        { metadata: meta('d', { creationTimestamp: at(PENDING_GRACE_MS) }), status: { phase: 'Running' } },
      ],
      now,
    );
    expect(stuck.map((p) => p.metadata?.name)).toEqual(['a', 'c']);
  });

  it('leaves out what the baseline already had short or stuck', () => {
    const shortfalls = [{ key: 'app/Deployment/web', detail: '2/3 available' }];
    const pending = [
      {
        metadata: meta('web-1', { ownerReferences: [{ kind: 'ReplicaSet', name: 'web-1', controller: true }] }),
        status: { phase: 'Pending' },
      },
    ];
    expect(workloadFailures(shortfalls, pending, undefined, names)).toEqual([
      '1 workload(s) short of desired (no baseline taken): app/Deployment/web (2/3 available)',
      '1 pod(s) stuck Pending: app/web-1',
    ]);
    const baseline = workloadBaseline(shortfalls, pending);
    expect(baseline).toEqual(['app/Deployment/web', 'app/ReplicaSet/web-1']);
    expect(workloadFailures(shortfalls, pending, baseline, names)).toEqual([]);
  });
});
