/**
 * NodePools and NodeClaims: Auto Mode nodes following the control plane under disruption budgets
 * (count, percentage, reasons, cron schedule), a zero Drifted budget holding them, built-in pools
 * restored by EKS, merge and JSON patches, and a self-installed Karpenter's objects. The model runs
 * on a clock the test moves, through the same handler the HTTPS endpoint uses.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterInventorySchema, type ClusterInventory } from '../../domain/fleet';
import { handleKubernetes, type K8sResponse } from '../../simulator/k8s-api';
import { SimFleet } from '../../simulator/model';
import { allowedDisruptions, parseCron, scheduleActive } from '../../simulator/model/budget-schedule';
import { eksToken } from './helpers';

const MINUTE = 60_000;
const START = Date.parse('2026-03-02T10:00:00Z');

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects read by field name */
type Json = any;

const inventory = (extra: Partial<ClusterInventory>): ClusterInventory =>
  clusterInventorySchema.parse({
    name: 'auto',
    region: 'us-east-1',
    account: '111111111111',
    version: '1.30',
    autoMode: true,
    nodePools: [
      { name: 'web', nodes: 10, budgetNodes: '20%' },
      { name: 'batch', nodes: 3, budgetNodes: '1' },
    ],
    ...extra,
  });

let token: string;
beforeAll(async () => {
  token = `Bearer ${await eksToken('auto')}`;
});

function harness(inv: ClusterInventory) {
  let now = START;
  const fleet = new SimFleet([inv], { seed: 7, clock: { now: () => now } });
  const c = fleet.byName.get(inv.name)!;
  const call = (method: string, path: string, body?: unknown, contentType?: string): K8sResponse => {
    const [p, q] = path.split('?');
    return handleKubernetes(fleet, c, {
      method,
      path: p as string,
      query: new URLSearchParams(q ?? ''),
      authorization: token,
      contentType,
      body: body === undefined ? '' : JSON.stringify(body),
      serverAddress: 'localhost:443',
    }) as K8sResponse;
  };
  const get = (path: string): Json => {
    const r = call('GET', path);
    expect(r.status, path).toBe(200);
    return r.body;
  };
  const claims = () => get('/apis/karpenter.sh/v1/nodeclaims').items as Json[];
  const onMinor = (pool: string, minor: string) =>
    claims().filter(
      (x) =>
        x.metadata.labels['karpenter.sh/nodepool'] === pool &&
        x.metadata.deletionTimestamp === undefined &&
        x.status.conditions.some((k: Json) => k.type === 'Ready' && k.status === 'True') &&
        get(`/api/v1/nodes/${x.status.nodeName}`).status.nodeInfo.kubeletVersion.startsWith(`v${minor}.`),
    ).length;
  const upgrade = (to: string) => {
    const u = fleet.updateClusterVersion(fleet.cluster(c.name, { region: c.region }), {
      version: to,
      clientRequestToken: `up-${to}`,
    });
    now = u.endsAt;
    fleet.settle(c);
    expect(c.version).toBe(to);
  };
  return {
    fleet,
    c,
    call,
    get,
    claims,
    onMinor,
    upgrade,
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

describe('budget schedules (Karpenter: UTC cron, duration in h and m)', () => {
  it('parses five-field cron and macros and finds active windows', () => {
    expect(parseCron('0 9 * * 1-5')).toBeDefined();
    expect(parseCron('@daily')).toBeDefined();
    expect(parseCron('61 * * * *')).toBeUndefined();
    const monday9 = Date.parse('2026-03-02T09:00:00Z');
    expect(scheduleActive('0 9 * * mon-fri', '8h', monday9 + 7 * 3600_000)).toBe(true);
    expect(scheduleActive('0 9 * * mon-fri', '8h', monday9 + 8 * 3600_000)).toBe(false);
    expect(scheduleActive('0 9 * * mon-fri', '8h', monday9 - MINUTE)).toBe(false);
    expect(scheduleActive('*/15 * * * *', '5m', monday9 + 16 * MINUTE)).toBe(true);
    expect(scheduleActive('*/15 * * * *', '5m', monday9 + 20 * MINUTE)).toBe(false);
  });

  it('takes the smallest active budget for the reason; percentages round up', () => {
    expect(allowedDisruptions([{ nodes: '10%' }], 'Drifted', 15, START)).toBe(2);
    expect(allowedDisruptions([{ nodes: '10%' }, { nodes: '0', reasons: ['Drifted'] }], 'Drifted', 15, START)).toBe(0);
    expect(allowedDisruptions([{ nodes: '0', reasons: ['Empty'] }], 'Drifted', 15, START)).toBe(15);
  });
});

describe('Auto Mode NodePools and NodeClaims', () => {
  it('serves the built-in and custom pools, their NodeClaims and Nodes with the Auto Mode labels', () => {
    const h = harness(inventory({}));
    const pools = h.get('/apis/karpenter.sh/v1/nodepools').items as Json[];
    expect(pools.map((p) => p.metadata.name)).toEqual(['general-purpose', 'system', 'web', 'batch']);
    expect(pools[0].spec.template.spec.nodeClassRef).toEqual({
      group: 'eks.amazonaws.com',
      kind: 'NodeClass',
      name: 'default',
    });
    expect(h.claims()).toHaveLength(16);
    const nodes = (h.get('/api/v1/nodes').items as Json[]).filter(
      (n) => n.metadata.labels['eks.amazonaws.com/compute-type'] === 'auto',
    );
    expect(nodes).toHaveLength(16);
    expect(nodes[0].metadata.labels['karpenter.sh/nodepool']).toBeDefined();
    expect(h.get('/apis/eks.amazonaws.com/v1/nodeclasses/default').kind).toBe('NodeClass');
    const groups = (h.get('/apis').groups as Json[]).map((g) => g.name);
    expect(groups).toContain('karpenter.sh');
  });

  it('replaces Drifted NodeClaims after a control-plane upgrade at the pace of each budget', () => {
    const h = harness(inventory({}));
    h.upgrade('1.31');
    // web: 20% of 10 = 2 at once; batch: 1 at once; each replacement takes 3 minutes.
    expect(
      h
        .get('/apis/karpenter.sh/v1/nodeclaims')
        .items.some((x: Json) => x.status.conditions.some((k: Json) => k.type === 'Drifted')),
    ).toBe(true);
    h.advance(3 * MINUTE + 1);
    expect(h.onMinor('web', '1.31')).toBe(2);
    expect(h.onMinor('batch', '1.31')).toBe(1);
    h.advance(6 * MINUTE);
    expect(h.onMinor('web', '1.31')).toBe(6);
    expect(h.onMinor('batch', '1.31')).toBe(3);
    h.advance(60 * MINUTE);
    expect(h.onMinor('web', '1.31')).toBe(10);
    expect(h.onMinor('general-purpose', '1.31')).toBe(2);
    expect(h.claims()).toHaveLength(16);
  });

  it('holds a pool whose Drifted budget is "0", and lets it go when the hold is removed (merge patch)', () => {
    const h = harness(inventory({}));
    const hold = h.call(
      'PATCH',
      '/apis/karpenter.sh/v1/nodepools/web',
      { spec: { disruption: { budgets: [{ nodes: '20%' }, { nodes: '0', reasons: ['Drifted'] }] } } },
      'application/merge-patch+json',
    );
    expect(hold.status).toBe(200);
    h.upgrade('1.31');
    h.advance(30 * MINUTE);
    expect(h.onMinor('web', '1.31')).toBe(0);
    expect(h.onMinor('batch', '1.31')).toBe(3);
    const release = h.call(
      'PATCH',
      '/apis/karpenter.sh/v1/nodepools/web',
      [{ op: 'remove', path: '/spec/disruption/budgets/1' }],
      'application/json-patch+json',
    );
    expect(release.status).toBe(200);
    h.advance(3 * MINUTE + 1);
    expect(h.onMinor('web', '1.31')).toBe(2);
  });

  it('a scheduled zero budget holds only while its window is open', () => {
    // START is 10:00 UTC: the window 10:00–10:30 holds, then replacement starts.
    const h = harness(inventory({}));
    h.call(
      'PATCH',
      '/apis/karpenter.sh/v1/nodepools/web',
      [
        {
          op: 'add',
          path: '/spec/disruption/budgets/-',
          value: { nodes: '0', reasons: ['Drifted'], schedule: '0 10 * * *', duration: '30m' },
        },
      ],
      'application/json-patch+json',
    );
    const up = h.fleet.updateClusterVersion(h.c, { version: '1.31', clientRequestToken: 'sched' });
    h.advance(up.endsAt - h.now());
    h.fleet.settle(h.c);
    const opensAt = Date.parse('2026-03-02T10:30:00Z');
    expect(h.now()).toBeLessThan(opensAt);
    expect(h.onMinor('web', '1.31')).toBe(0);
    h.advance(opensAt - h.now() + 3 * MINUTE + 1);
    expect(h.onMinor('web', '1.31')).toBe(2);
  });

  it('restores a built-in pool after a write, refuses strategic merge and invalid budgets', () => {
    const h = harness(inventory({}));
    const w = h.call(
      'PATCH',
      '/apis/karpenter.sh/v1/nodepools/system',
      { spec: { disruption: { budgets: [{ nodes: '0' }] } } },
      'application/merge-patch+json',
    );
    expect(w.status).toBe(200);
    expect(h.get('/apis/karpenter.sh/v1/nodepools/system').spec.disruption.budgets).toEqual([{ nodes: '10%' }]);
    const smp = h.call('PATCH', '/apis/karpenter.sh/v1/nodepools/web', {}, 'application/strategic-merge-patch+json');
    expect(smp.status).toBe(415);
    const bad = h.call(
      'PATCH',
      '/apis/karpenter.sh/v1/nodepools/web',
      { spec: { disruption: { budgets: [{ nodes: '0', schedule: '0 9 * * *' }] } } },
      'application/merge-patch+json',
    );
    expect(bad.status).toBe(422);
    const conflict = h.call('PUT', '/apis/karpenter.sh/v1/nodepools/web', {
      ...h.get('/apis/karpenter.sh/v1/nodepools/web'),
      metadata: { name: 'web', resourceVersion: '999' },
    });
    expect(conflict.status).toBe(409);
  });

  it('a VersionRollback rolls the nodes back within its node phase, before the control plane', () => {
    const h = harness(inventory({}));
    h.upgrade('1.31');
    h.advance(120 * MINUTE);
    expect(h.onMinor('web', '1.31')).toBe(10);
    const rb = h.fleet.updateClusterVersion(h.c, { version: '1.30', clientRequestToken: 'rb' });
    expect(rb.type).toBe('VersionRollback');
    h.advance((rb.cancellableUntil as number) - h.now() + 1);
    expect(h.c.version).toBe('1.31');
    expect(h.onMinor('web', '1.30')).toBe(10);
    expect(h.onMinor('system', '1.30')).toBe(1);
  });
});

describe('self-installed Karpenter', () => {
  // al2023@latest names the SSM parameter of the cluster's minor, so a control-plane upgrade
  // changes the resolved AMI and drifts the nodes (karpenter.sh/docs/tasks/managing-amis/).
  it('serves pools with EC2NodeClass; al2023@latest drifts the nodes to the new minor after the hop', () => {
    const h = harness(
      inventory({
        autoMode: false,
        karpenter: { version: '1.5.0' },
        nodePools: [{ name: 'default', nodes: 2, budgetNodes: '10%' }],
      }),
    );
    const pools = h.get('/apis/karpenter.sh/v1/nodepools').items as Json[];
    expect(pools.map((p) => p.metadata.name)).toEqual(['default']);
    expect(pools[0].spec.template.spec.nodeClassRef.kind).toBe('EC2NodeClass');
    expect(h.get('/apis/karpenter.k8s.aws/v1/ec2nodeclasses').items).toHaveLength(1);
    const karpenter = h.get('/apis/apps/v1/namespaces/kube-system/deployments/karpenter');
    expect(karpenter.spec.template.spec.containers[0].image).toBe('public.ecr.aws/karpenter/controller:1.5.0');
    h.upgrade('1.31');
    h.advance(60 * MINUTE);
    expect(h.onMinor('default', '1.30')).toBe(0);
    expect(h.onMinor('default', '1.31')).toBe(2);
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
