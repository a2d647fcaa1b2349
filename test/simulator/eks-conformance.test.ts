/**
 * Conformance of the simulator's EKS API with the unmodified @aws-sdk/client-eks: every
 * operation fleetwave uses, the error classes EKS answers with, and clientRequestToken
 * idempotency. Each test runs its own simulator on a free port with a compressed clock.
 */
import {
  CancelUpdateCommand,
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeClusterVersionsCommand,
  DescribeInsightCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  ListAccessEntriesCommand,
  ListAddonsCommand,
  ListAssociatedAccessPoliciesCommand,
  ListClustersCommand,
  ListInsightsCommand,
  ListNodegroupsCommand,
  ListTagsForResourceCommand,
  ListUpdatesCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAddonCommand,
  UpdateClusterVersionCommand,
  UpdateNodegroupConfigCommand,
  UpdateNodegroupVersionCommand,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator/index';
import { awaitUpdate, eksClient, errorName, testFleet } from './helpers';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(opts: Partial<SimulatorOptions> = {}): Promise<{ sim: Simulator; eks: EKSClient }> {
  sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 1500, seed: 11, ...opts });
  return { sim, eks: eksClient(sim) };
}

const MINUTE = 60_000;

describe('simulated EKS with @aws-sdk/client-eks', () => {
  it('lists the clusters of the signing region, paginated', async () => {
    const { sim, eks } = await start();
    expect((await eks.send(new ListClustersCommand({}))).clusters).toEqual(['alpha', 'blocked', 'laggard']);
    expect((await eksClient(sim, 'eu-west-1').send(new ListClustersCommand({}))).clusters).toEqual(['beta']);

    const first = await eks.send(new ListClustersCommand({ maxResults: 2 }));
    expect(first.clusters).toEqual(['alpha', 'blocked']);
    expect(first.nextToken).toBeTruthy();
    const second = await eks.send(new ListClustersCommand({ maxResults: 2, nextToken: first.nextToken }));
    expect(second.clusters).toEqual(['laggard']);
    expect(second.nextToken).toBeUndefined();

    expect(await errorName(eks.send(new ListClustersCommand({ maxResults: 500 })))).toBe('InvalidParameterException');
    expect(await errorName(eks.send(new ListClustersCommand({ nextToken: 'garbage' })))).toBe(
      'InvalidParameterException',
    );
  });

  it('describes a cluster with its Kubernetes endpoint, CA and tags; ListTagsForResource returns the labels', async () => {
    const { sim, eks } = await start();
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'alpha' }));
    expect(cluster).toMatchObject({
      name: 'alpha',
      arn: 'arn:aws:eks:us-east-1:111111111111:cluster/alpha',
      version: '1.30',
      status: 'ACTIVE',
      endpoint: await sim.kubernetesEndpoint('alpha'),
      tags: { env: 'prod', team: 'payments' },
    });
    expect(cluster?.createdAt).toBeInstanceOf(Date);
    expect(cluster?.platformVersion).toMatch(/^eks\.\d+$/);
    expect(cluster?.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Buffer.from(cluster?.certificateAuthority?.data ?? '', 'base64').toString()).toBe(sim.caPem);

    const tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: cluster?.arn }));
    expect(tags.tags).toEqual({ env: 'prod', team: 'payments' });

    const missing = eks.send(new DescribeClusterCommand({ name: 'nope' }));
    await expect(missing).rejects.toMatchObject({ name: 'ResourceNotFoundException', clusterName: 'nope' });
    // beta lives in eu-west-1: not visible from a us-east-1 scope, as on AWS.
    expect(await errorName(eks.send(new DescribeClusterCommand({ name: 'beta' })))).toBe('ResourceNotFoundException');
  });

  it('tags clusters (their fleet labels), node groups and add-ons; NotFoundException for an ARN it does not know', async () => {
    const { sim, eks } = await start();
    const arn = 'arn:aws:eks:us-east-1:111111111111:cluster/alpha';
    await eks.send(new TagResourceCommand({ resourceArn: arn, tags: { tier: 'gold', team: 'billing' } }));
    await eks.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env', 'absent'] }));
    const labels = { team: 'billing', tier: 'gold' };
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.tags).toEqual(labels);
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual(labels);
    expect(sim.state().clusters.find((c) => c.name === 'alpha')?.labels).toEqual(labels);

    const { nodegroup } = await eks.send(
      new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'general' }),
    );
    await eks.send(new TagResourceCommand({ resourceArn: nodegroup?.nodegroupArn, tags: { owner: 'sre' } }));
    expect(
      (await eks.send(new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'general' }))).nodegroup
        ?.tags,
    ).toEqual({ owner: 'sre' });
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn: nodegroup?.nodegroupArn }))).tags).toEqual({
      owner: 'sre',
    });

    const tag = (resourceArn: string, tags: Record<string, string>) =>
      errorName(eks.send(new TagResourceCommand({ resourceArn, tags })));
    expect(await tag(arn, { 'aws:owner': 'x' })).toBe('BadRequestException');
    expect(await tag(arn, { ['k'.repeat(129)]: 'x' })).toBe('BadRequestException');
    expect(await tag(arn, Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v'])))).toBe(
      'BadRequestException',
    );
    expect(await tag('arn:aws:eks:us-east-1:111111111111:cluster/nope', { a: 'b' })).toBe('NotFoundException');
    // beta lives in eu-west-1: from a us-east-1 scope its ARN names nothing.
    expect(await tag('arn:aws:eks:eu-west-1:222222222222:cluster/beta', { a: 'b' })).toBe('NotFoundException');
    expect(
      await errorName(
        eks.send(
          new ListTagsForResourceCommand({ resourceArn: 'arn:aws:eks:us-east-1:111111111111:addon/alpha/nope/x' }),
        ),
      ),
    ).toBe('NotFoundException');
    expect(sim.state().clusters.find((c) => c.name === 'alpha')?.labels).toEqual(labels);
  });

  it("access entries: the caller's own, with the cluster's access policy; none under accessPolicy none", async () => {
    const accessPolicies = { blocked: 'AmazonEKSViewPolicy', laggard: 'none' } as const;
    const fleet = testFleet().map((c) =>
      c.name in accessPolicies ? { ...c, accessPolicy: accessPolicies[c.name as keyof typeof accessPolicies] } : c,
    );
    const { eks } = await start({ fleet });
    const me = 'arn:aws:iam::000000000000:user/simulator';
    expect((await eks.send(new ListAccessEntriesCommand({ clusterName: 'alpha' }))).accessEntries).toEqual([me]);
    const entry = (await eks.send(new DescribeAccessEntryCommand({ clusterName: 'alpha', principalArn: me })))
      .accessEntry;
    expect(entry).toMatchObject({ clusterName: 'alpha', principalArn: me, type: 'STANDARD', kubernetesGroups: [] });
    expect(entry?.createdAt).toBeInstanceOf(Date);
    const policies = await eks.send(
      new ListAssociatedAccessPoliciesCommand({ clusterName: 'blocked', principalArn: me }),
    );
    expect(policies.associatedAccessPolicies).toEqual([
      expect.objectContaining({
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        accessScope: { type: 'cluster', namespaces: [] },
      }),
    ]);
    const filtered = await eks.send(
      new ListAccessEntriesCommand({
        clusterName: 'blocked',
        associatedPolicyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      }),
    );
    expect(filtered.accessEntries).toEqual([]);
    expect((await eks.send(new ListAccessEntriesCommand({ clusterName: 'laggard' }))).accessEntries).toEqual([]);
    expect(
      await errorName(
        eks.send(
          new DescribeAccessEntryCommand({
            clusterName: 'alpha',
            principalArn: 'arn:aws:iam::000000000000:role/other',
          }),
        ),
      ),
    ).toBe('ResourceNotFoundException');
  });

  it('describes the Kubernetes versions with the dates of the EKS release calendar and the status at simulated time', async () => {
    const { eks } = await start({ startTime: new Date('2025-12-01T00:00:00Z') });
    const { clusterVersions } = await eks.send(new DescribeClusterVersionsCommand({}));
    expect(clusterVersions?.map((v) => [v.clusterVersion, v.versionStatus])).toEqual([
      ['1.33', 'STANDARD_SUPPORT'],
      ['1.32', 'STANDARD_SUPPORT'],
      ['1.31', 'EXTENDED_SUPPORT'],
      ['1.30', 'EXTENDED_SUPPORT'],
      ['1.29', 'EXTENDED_SUPPORT'],
    ]);
    expect(clusterVersions?.[2]).toMatchObject({
      clusterType: 'eks',
      status: 'extended-support',
      defaultVersion: false,
      releaseDate: new Date('2024-09-26T00:00:00Z'),
      endOfStandardSupportDate: new Date('2025-11-26T00:00:00Z'),
      endOfExtendedSupportDate: new Date('2026-11-26T00:00:00Z'),
      kubernetesPatchVersion: '1.31.5',
    });
    const all = await eks.send(new DescribeClusterVersionsCommand({ includeAll: true }));
    expect(all.clusterVersions?.map((v) => v.clusterVersion)).toEqual([
      '1.33',
      '1.32',
      '1.31',
      '1.30',
      '1.29',
      '1.28',
      '1.27',
      '1.26',
      '1.25',
      '1.24',
      '1.23',
    ]);
    const old = await eks.send(new DescribeClusterVersionsCommand({ clusterVersions: ['1.23'] }));
    expect(old.clusterVersions).toMatchObject([{ clusterVersion: '1.23', versionStatus: 'UNSUPPORTED' }]);
    expect(
      (await eks.send(new DescribeClusterVersionsCommand({ defaultOnly: true }))).clusterVersions?.map(
        (v) => v.clusterVersion,
      ),
    ).toEqual(['1.33']);
    const page = await eks.send(
      new DescribeClusterVersionsCommand({ versionStatus: 'EXTENDED_SUPPORT', maxResults: 2 }),
    );
    expect(page.clusterVersions?.map((v) => v.clusterVersion)).toEqual(['1.31', '1.30']);
    const next = await eks.send(
      new DescribeClusterVersionsCommand({
        versionStatus: 'EXTENDED_SUPPORT',
        maxResults: 2,
        nextToken: page.nextToken,
      }),
    );
    expect(next.clusterVersions?.map((v) => v.clusterVersion)).toEqual(['1.29']);
  });

  it('upgrades the control plane one minor: UPDATING while in progress, ResourceInUse for a second update, then ACTIVE', async () => {
    const { eks } = await start();
    const { update } = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    expect(update).toMatchObject({ status: 'InProgress', type: 'VersionUpdate', errors: [] });
    expect(update?.params).toContainEqual({ type: 'Version', value: '1.31' });
    expect(update?.createdAt).toBeInstanceOf(Date);
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.status).toBe('UPDATING');

    const second = eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    await expect(second).rejects.toMatchObject({ name: 'ResourceInUseException', $metadata: { httpStatusCode: 409 } });
    expect(
      await errorName(eks.send(new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'general' }))),
    ).toBe('ResourceInUseException');
    expect(
      await errorName(
        eks.send(
          new UpdateAddonCommand({ clusterName: 'alpha', addonName: 'coredns', addonVersion: 'v1.11.4-eksbuild.2' }),
        ),
      ),
    ).toBe('ResourceInUseException');

    const done = await awaitUpdate(eks, { name: 'alpha' }, update?.id as string);
    expect(done.status).toBe('Successful');
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'alpha' }));
    expect(cluster).toMatchObject({ status: 'ACTIVE', version: '1.31' });
    expect((await eks.send(new ListUpdatesCommand({ name: 'alpha' }))).updateIds).toEqual([update?.id]);
  });

  it('refuses to skip a minor, to stay, to downgrade, and to leave a node group more than 3 minors behind', async () => {
    const { eks } = await start();
    const tryVersion = (name: string, version: string) =>
      errorName(eks.send(new UpdateClusterVersionCommand({ name, version })));
    expect(await tryVersion('alpha', '1.32')).toBe('InvalidParameterException');
    expect(await tryVersion('alpha', '1.30')).toBe('InvalidParameterException');
    expect(await tryVersion('alpha', '1.29')).toBe('InvalidParameterException');
    expect(await tryVersion('alpha', '1.28')).toBe('InvalidParameterException');
    expect(await tryVersion('alpha', 'latest')).toBe('InvalidParameterException');
    // laggard's node group runs 1.28: 1.32 would put it 4 minors behind.
    await expect(eks.send(new UpdateClusterVersionCommand({ name: 'laggard', version: '1.32' }))).rejects.toMatchObject(
      {
        name: 'InvalidRequestException',
        nodegroupName: 'old',
      },
    );
    expect(sim?.mutations()).toEqual([]);
  });

  it('refuses a hop that would leave Fargate pods more than 3 minors behind, naming the recycle', async () => {
    const fleet = testFleet();
    const alpha = fleet.find((c) => c.name === 'alpha');
    if (!alpha) throw new Error('no alpha');
    // alpha runs 1.30: a Fargate pod started on 1.27 is 3 behind at 1.30, 4 behind at 1.31.
    alpha.fargateProfiles = [{ name: 'batch', pods: 2, version: '1.27' }];
    const { sim, eks } = await start({ fleet });
    await expect(eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: expect.stringContaining(
        'Kubelet version of Fargate pods must be updated to match cluster version 1.30 before updating cluster version',
      ),
    });
    expect(sim.mutations()).toEqual([]);

    // Three minors behind is within the documented skew.
    alpha.fargateProfiles = [{ name: 'batch', pods: 2, version: '1.28' }];
    await sim.stop();
    const again = await start({ fleet });
    const { update } = await again.eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    expect(update?.status).toBe('InProgress');
  });

  it('returns the same update for the same clientRequestToken and starts nothing new', async () => {
    const { sim, eks } = await start();
    const token = 'campaign-1/alpha/controlplane/1.31';
    const a = await eks.send(
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', clientRequestToken: token }),
    );
    const b = await eks.send(
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', clientRequestToken: token }),
    );
    expect(b.update?.id).toBe(a.update?.id);
    await awaitUpdate(eks, { name: 'alpha' }, a.update?.id as string);
    // A retry after completion still finds the original update.
    const c = await eks.send(
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', clientRequestToken: token }),
    );
    expect(c.update).toMatchObject({ id: a.update?.id, status: 'Successful' });

    const ngToken = 'campaign-1/beta/ng/general';
    const beta = eksClient(sim, 'eu-west-1');
    const n1 = await beta.send(
      new UpdateNodegroupVersionCommand({ clusterName: 'beta', nodegroupName: 'general', clientRequestToken: ngToken }),
    );
    const n2 = await beta.send(
      new UpdateNodegroupVersionCommand({ clusterName: 'beta', nodegroupName: 'general', clientRequestToken: ngToken }),
    );
    expect(n2.update?.id).toBe(n1.update?.id);
    const addonToken = 'campaign-1/beta/addon/kube-proxy';
    const input = {
      clusterName: 'beta',
      addonName: 'kube-proxy',
      addonVersion: 'v1.31.2-eksbuild.3',
      clientRequestToken: addonToken,
    };
    const a1 = await beta.send(new UpdateAddonCommand(input));
    const a2 = await beta.send(new UpdateAddonCommand(input));
    expect(a2.update?.id).toBe(a1.update?.id);

    const mutations = sim.mutations();
    expect(mutations.map((m) => [m.operation, m.cluster, m.target, m.clientRequestToken])).toEqual([
      ['UpdateClusterVersion', 'alpha', '1.31', token],
      ['UpdateNodegroupVersion', 'beta', '1.31.5-20250304', ngToken],
      ['UpdateAddon', 'beta', 'v1.31.2-eksbuild.3', addonToken],
    ]);
    expect(mutations[1]).toMatchObject({ seq: 2, nodegroup: 'general', updateId: n1.update?.id });
    expect(Date.parse(mutations[0]?.time ?? '')).not.toBeNaN();
  });

  it('rolls the control plane back to the previous minor within the window (VersionRollback); CancelUpdate refuses it without Auto Mode', async () => {
    const { sim, eks } = await start({ timeScale: 60 });
    const up = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    sim.advance(30 * MINUTE);
    expect((await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: up.update?.id }))).update?.status).toBe(
      'Successful',
    );

    const rollback = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30' }));
    expect(rollback.update).toMatchObject({ type: 'VersionRollback', status: 'InProgress' });
    // Without Auto Mode there is no node rollback phase: the control plane rolls back at once.
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.status).toBe('UPDATING');
    await expect(
      eks.send(new CancelUpdateCommand({ name: 'alpha', updateId: rollback.update?.id })),
    ).rejects.toMatchObject({ name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } });
    sim.advance(25 * MINUTE);
    expect(
      (await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: rollback.update?.id }))).update?.status,
    ).toBe('Successful');
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster).toMatchObject({
      status: 'ACTIVE',
      version: '1.30',
    });
    // No second rollback: 1.30 was not reached by an upgrade from 1.29.
    expect(await errorName(eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.29' })))).toBe(
      'InvalidParameterException',
    );

    // Outside the 7-day window a rollback is refused; a VersionUpdate cannot be cancelled.
    const up2 = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    expect(await errorName(eks.send(new CancelUpdateCommand({ name: 'alpha', updateId: up2.update?.id })))).toBe(
      'InvalidRequestException',
    );
    sim.advance(8 * 24 * 60 * MINUTE);
    expect(await errorName(eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30' })))).toBe(
      'InvalidParameterException',
    );
    expect(sim.mutations().map((m) => [m.operation, m.updateType])).toEqual([
      ['UpdateClusterVersion', 'VersionUpdate'],
      ['UpdateClusterVersion', 'VersionRollback'],
      ['UpdateClusterVersion', 'VersionUpdate'],
    ]);
  });

  it('rolls an Auto Mode cluster back nodes first (ACTIVE, cancellable), then the control plane (UPDATING); rollbackConfig bounds the node phase', async () => {
    const fleet = testFleet().map((c) => (c.name === 'alpha' ? { ...c, autoMode: true } : c));
    const { sim, eks } = await start({ timeScale: 60, fleet });
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.computeConfig).toMatchObject({
      enabled: true,
    });
    const up = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    sim.advance(30 * MINUTE);
    expect((await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: up.update?.id }))).update?.status).toBe(
      'Successful',
    );
    expect(
      await errorName(
        eks.send(
          new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30', rollbackConfig: { timeoutMinutes: 60 } }),
        ),
      ),
    ).toBe('InvalidParameterException');

    const rollback = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30' }));
    expect(rollback.update).toMatchObject({ type: 'VersionRollback', status: 'InProgress' });
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.status).toBe('ACTIVE');
    const cancelled = await eks.send(new CancelUpdateCommand({ name: 'alpha', updateId: rollback.update?.id }));
    expect(cancelled.update).toMatchObject({ status: 'Cancelled', cancellation: { status: 'Successful' } });
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster).toMatchObject({
      status: 'ACTIVE',
      version: '1.31',
    });

    const again = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30' }));
    sim.advance(5 * MINUTE);
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.status).toBe('UPDATING');
    const late = await eks.send(new CancelUpdateCommand({ name: 'alpha', updateId: again.update?.id }));
    expect(late.update).toMatchObject({ status: 'InProgress', cancellation: { status: 'Failed' } });
    sim.advance(20 * MINUTE);
    expect(
      (await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: again.update?.id }))).update?.status,
    ).toBe('Successful');
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.version).toBe('1.30');
    expect(await errorName(eks.send(new CancelUpdateCommand({ name: 'alpha', updateId: again.update?.id })))).toBe(
      'InvalidRequestException',
    );

    // Nodes that take longer than rollbackConfig.timeoutMinutes fail the rollback; the control plane stays.
    const up2 = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    sim.advance(30 * MINUTE);
    expect(
      (await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: up2.update?.id }))).update?.status,
    ).toBe('Successful');
    sim.injectFaults('alpha', { slowFactor: 100 });
    const slow = await eks.send(
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30', rollbackConfig: { timeoutMinutes: 120 } }),
    );
    sim.advance(121 * MINUTE);
    expect(
      (await eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: slow.update?.id }))).update,
    ).toMatchObject({ status: 'Failed', errors: [{ errorCode: 'Unknown' }] });
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster).toMatchObject({
      status: 'ACTIVE',
      version: '1.31',
    });
    expect(sim.mutations().map((m) => [m.operation, m.updateType])).toEqual([
      ['UpdateClusterVersion', 'VersionUpdate'],
      ['UpdateClusterVersion', 'VersionRollback'],
      ['CancelUpdate', 'VersionRollback'],
      ['UpdateClusterVersion', 'VersionRollback'],
      ['UpdateClusterVersion', 'VersionUpdate'],
      ['UpdateClusterVersion', 'VersionRollback'],
    ]);
  });

  it('refuses to roll the control plane back below a node group unless forced (a rollback readiness insight)', async () => {
    const { sim } = await start({ timeScale: 60 });
    const beta = eksClient(sim, 'eu-west-1');
    await beta.send(new UpdateClusterVersionCommand({ name: 'beta', version: '1.32' }));
    sim.advance(30 * MINUTE);
    await beta.send(new UpdateNodegroupVersionCommand({ clusterName: 'beta', nodegroupName: 'general' }));
    sim.advance(60 * MINUTE);
    const { nodegroup } = await beta.send(
      new DescribeNodegroupCommand({ clusterName: 'beta', nodegroupName: 'general' }),
    );
    expect(nodegroup).toMatchObject({ version: '1.32', status: 'ACTIVE' });
    // The check is a ROLLBACK_READINESS insight for the minor the cluster came from, in ERROR.
    const rollbackInsights = await beta.send(
      new ListInsightsCommand({ clusterName: 'beta', filter: { categories: ['ROLLBACK_READINESS'] } }),
    );
    expect(rollbackInsights.insights?.map((i) => [i.name, i.kubernetesVersion, i.insightStatus?.status])).toEqual([
      ['Kubelet version skew', '1.31', 'ERROR'],
      ['Amazon EKS add-on version compatibility', '1.31', 'PASSING'],
    ]);
    const refused = beta.send(new UpdateClusterVersionCommand({ name: 'beta', version: '1.31' }));
    await expect(refused).rejects.toMatchObject({ name: 'InvalidRequestException', nodegroupName: 'general' });
    await expect(refused).rejects.toThrow(/Rollback readiness: Kubelet version skew: Node groups general \(1\.32\)/);
    const forced = await beta.send(new UpdateClusterVersionCommand({ name: 'beta', version: '1.31', force: true }));
    expect(forced.update).toMatchObject({ type: 'VersionRollback', status: 'InProgress' });
    sim.advance(30 * MINUTE);
    // Back on 1.31, nothing is left to roll back to: no rollback insight any more.
    expect(
      (
        await beta.send(
          new ListInsightsCommand({ clusterName: 'beta', filter: { categories: ['ROLLBACK_READINESS'] } }),
        )
      ).insights,
    ).toEqual([]);
  });

  it('updates a node group in batches; never newer than the control plane, never back by releaseVersion', async () => {
    const { eks } = await start();
    const { nodegroups } = await eks.send(new ListNodegroupsCommand({ clusterName: 'alpha' }));
    expect(nodegroups).toEqual(['general', 'templated']);
    const before = (await eks.send(new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'general' })))
      .nodegroup;
    expect(before).toMatchObject({
      version: '1.30',
      releaseVersion: '1.30.8-20250116',
      status: 'ACTIVE',
      scalingConfig: { desiredSize: 3 },
      updateConfig: { maxUnavailable: 1 },
      // No launch template in the fleet file: the simulator gives the node group one.
      launchTemplate: { name: 'alpha-general', version: '1' },
    });

    const newer = eks.send(
      new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'general', version: '1.31' }),
    );
    await expect(newer).rejects.toMatchObject({ name: 'InvalidParameterException', nodegroupName: 'general' });
    expect(
      await errorName(
        eks.send(
          new UpdateNodegroupVersionCommand({
            clusterName: 'alpha',
            nodegroupName: 'general',
            releaseVersion: '1.30.9-20990101',
          }),
        ),
      ),
    ).toBe('InvalidParameterException');

    const { update } = await eks.send(
      new UpdateNodegroupVersionCommand({
        clusterName: 'alpha',
        nodegroupName: 'general',
        releaseVersion: '1.30.9-20250212',
      }),
    );
    expect(update).toMatchObject({ type: 'VersionUpdate', status: 'InProgress' });
    expect(update?.params).toEqual(
      expect.arrayContaining([
        { type: 'Version', value: '1.30' },
        { type: 'ReleaseVersion', value: '1.30.9-20250212' },
        // EKS keeps its own copy of the template: a release update writes no version of the customer's.
        { type: 'LaunchTemplateVersion', value: '1' },
      ]),
    );
    expect(
      (await eks.send(new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'general' }))).nodegroup
        ?.status,
    ).toBe('UPDATING');
    expect(
      await errorName(eks.send(new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'general' }))),
    ).toBe('ResourceInUseException');

    const done = await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'general' }, update?.id as string);
    expect(done.status).toBe('Successful');
    const after = (await eks.send(new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'general' })))
      .nodegroup;
    expect(after).toMatchObject({
      status: 'ACTIVE',
      releaseVersion: '1.30.9-20250212',
      launchTemplate: { version: '1' },
    });

    const back = eks.send(
      new UpdateNodegroupVersionCommand({
        clusterName: 'alpha',
        nodegroupName: 'general',
        releaseVersion: '1.30.8-20250116',
      }),
    );
    expect(await errorName(back)).toBe('InvalidParameterException');
    // Node-group updates are found only with their node group, as on EKS.
    expect(await errorName(eks.send(new DescribeUpdateCommand({ name: 'alpha', updateId: update?.id })))).toBe(
      'ResourceNotFoundException',
    );
    expect((await eks.send(new ListUpdatesCommand({ name: 'alpha', nodegroupName: 'general' }))).updateIds).toEqual([
      update?.id,
    ]);
    expect((await eks.send(new ListUpdatesCommand({ name: 'alpha' }))).updateIds).toEqual([]);
  });

  it('moves a node group on an EKS AMI to another launch-template version without changing its version or AMI', async () => {
    const { eks } = await start();
    const ng = { clusterName: 'alpha', nodegroupName: 'templated' };
    const forward = await eks.send(new UpdateNodegroupVersionCommand({ ...ng }));
    expect(forward.update?.params).toContainEqual({ type: 'ReleaseVersion', value: '1.30.9-20250304' });
    expect(forward.update?.params).toContainEqual({ type: 'LaunchTemplateVersion', value: '4' });
    await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'templated' }, forward.update?.id as string);
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      amiType: 'AL2023_x86_64_STANDARD',
      releaseVersion: '1.30.9-20250304',
      launchTemplate: { name: 'alpha-templated', version: '4' },
    });

    expect(
      await errorName(
        eks.send(new UpdateNodegroupVersionCommand({ ...ng, launchTemplate: { name: 'other', version: '3' } })),
      ),
    ).toBe('InvalidParameterException');
    expect(
      await errorName(
        eks.send(
          new UpdateNodegroupVersionCommand({ ...ng, launchTemplate: { name: 'alpha-templated', version: '9' } }),
        ),
      ),
    ).toBe('InvalidParameterException');
    // Back by release is refused, with or without the launch template.
    expect(
      await errorName(
        eks.send(
          new UpdateNodegroupVersionCommand({
            ...ng,
            releaseVersion: '1.30.8-20250116',
            launchTemplate: { name: 'alpha-templated', version: '3' },
          }),
        ),
      ),
    ).toBe('InvalidParameterException');

    // An earlier launch-template version replaces the nodes, on the same Kubernetes version and AMI.
    const back = await eks.send(
      new UpdateNodegroupVersionCommand({
        ...ng,
        launchTemplate: { name: 'alpha-templated', version: '3' },
        clientRequestToken: 'rb-1',
      }),
    );
    expect(back.update?.params).toContainEqual({ type: 'LaunchTemplateVersion', value: '3' });
    expect(
      (await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'templated' }, back.update?.id as string)).status,
    ).toBe('Successful');
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      version: '1.30',
      releaseVersion: '1.30.9-20250304',
      launchTemplate: { name: 'alpha-templated', version: '3' },
    });
    expect(sim?.mutations().map((m) => m.target)).toEqual(['1.30.9-20250304', 'lt:3']);
  });

  it('fails a node group update with PodEvictionFailure when a PDB blocks the drain, and succeeds with force', async () => {
    const { eks } = await start();
    const ng = { clusterName: 'blocked', nodegroupName: 'general' };
    const first = await eks.send(new UpdateNodegroupVersionCommand(ng));
    const failed = await awaitUpdate(eks, { name: 'blocked', nodegroupName: 'general' }, first.update?.id as string);
    expect(failed.status).toBe('Failed');
    expect(failed.errors?.[0]).toMatchObject({ errorCode: 'PodEvictionFailure' });
    expect(failed.errors?.[0]?.errorMessage).toContain('data/db');
    expect(failed.errors?.[0]?.resourceIds?.[0]).toMatch(/^ip-10-/);
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      status: 'ACTIVE',
      releaseVersion: '1.31.4-20250123',
    });

    const forced = await eks.send(new UpdateNodegroupVersionCommand({ ...ng, force: true }));
    expect(
      (await awaitUpdate(eks, { name: 'blocked', nodegroupName: 'general' }, forced.update?.id as string)).status,
    ).toBe('Successful');
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup?.releaseVersion).toBe('1.31.5-20250304');
  });

  it('changes maxUnavailable and scaling with UpdateNodegroupConfig (ConfigUpdate)', async () => {
    const { eks } = await start();
    const ng = { clusterName: 'alpha', nodegroupName: 'general' };
    expect(
      await errorName(
        eks.send(
          new UpdateNodegroupConfigCommand({
            ...ng,
            updateConfig: { maxUnavailable: 1, maxUnavailablePercentage: 10 },
          }),
        ),
      ),
    ).toBe('InvalidParameterException');
    expect(await errorName(eks.send(new UpdateNodegroupConfigCommand({ ...ng })))).toBe('InvalidParameterException');
    expect(
      await errorName(eks.send(new UpdateNodegroupConfigCommand({ ...ng, scalingConfig: { minSize: 5, maxSize: 2 } }))),
    ).toBe('InvalidParameterException');

    const { update } = await eks.send(
      new UpdateNodegroupConfigCommand({
        ...ng,
        updateConfig: { maxUnavailable: 2 },
        scalingConfig: { desiredSize: 4, maxSize: 6 },
      }),
    );
    expect(update).toMatchObject({ type: 'ConfigUpdate', status: 'InProgress' });
    expect(update?.params).toEqual(
      expect.arrayContaining([
        { type: 'MaxUnavailable', value: '2' },
        { type: 'DesiredSize', value: '4' },
      ]),
    );
    await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'general' }, update?.id as string);
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      updateConfig: { maxUnavailable: 2 },
      scalingConfig: { desiredSize: 4, maxSize: 6 },
    });
  });

  it('serves add-ons: list, describe, versions with one default per minor, and compatible updates only', async () => {
    const { eks } = await start();
    expect((await eks.send(new ListAddonsCommand({ clusterName: 'alpha' }))).addons).toEqual([
      'vpc-cni',
      'coredns',
      'kube-proxy',
    ]);
    expect(
      (await eks.send(new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'coredns' }))).addon,
    ).toMatchObject({
      addonName: 'coredns',
      clusterName: 'alpha',
      addonVersion: 'v1.11.3-eksbuild.1',
      status: 'ACTIVE',
    });
    expect(await errorName(eks.send(new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'nope' })))).toBe(
      'ResourceNotFoundException',
    );

    const { addons } = await eks.send(new DescribeAddonVersionsCommand({ kubernetesVersion: '1.31' }));
    expect(addons?.map((a) => a.addonName).sort()).toEqual(['aws-ebs-csi-driver', 'coredns', 'kube-proxy', 'vpc-cni']);
    for (const info of addons ?? []) {
      const defaults = (info.addonVersions ?? []).filter((v) =>
        v.compatibilities?.some((c) => c.clusterVersion === '1.31' && c.defaultVersion),
      );
      expect(defaults, info.addonName).toHaveLength(1);
    }
    const coredns = await eks.send(
      new DescribeAddonVersionsCommand({ kubernetesVersion: '1.30', addonName: 'coredns' }),
    );
    expect(coredns.addons?.[0]?.addonVersions?.map((v) => v.addonVersion)).not.toContain('v1.10.1-eksbuild.13');

    const update = (addonVersion: string) =>
      eks.send(
        new UpdateAddonCommand({
          clusterName: 'alpha',
          addonName: 'coredns',
          addonVersion,
          resolveConflicts: 'OVERWRITE',
        }),
      );
    expect(await errorName(update('v1.10.1-eksbuild.13'))).toBe('InvalidParameterException');
    expect(await errorName(update('v9.9.9-eksbuild.1'))).toBe('InvalidParameterException');
    const { update: u } = await update('v1.11.4-eksbuild.2');
    expect(u).toMatchObject({ type: 'AddonUpdate', status: 'InProgress' });
    expect(u?.params).toContainEqual({ type: 'AddonVersion', value: 'v1.11.4-eksbuild.2' });
    expect(await errorName(update('v1.11.4-eksbuild.2'))).toBe('ResourceInUseException');
    expect((await awaitUpdate(eks, { name: 'alpha', addonName: 'coredns' }, u?.id as string)).status).toBe(
      'Successful',
    );
    expect(
      (await eks.send(new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'coredns' }))).addon?.addonVersion,
    ).toBe('v1.11.4-eksbuild.2');
    expect((await eks.send(new ListUpdatesCommand({ name: 'alpha', addonName: 'coredns' }))).updateIds).toEqual([
      u?.id,
    ]);
  });

  it('reports deprecated API use for the next version as an ERROR insight that blocks the upgrade unless forced', async () => {
    const { sim, eks } = await start();
    const list = () =>
      eks.send(
        new ListInsightsCommand({
          clusterName: 'alpha',
          filter: { categories: ['UPGRADE_READINESS'], kubernetesVersions: ['1.31'] },
        }),
      );
    const passing = await list();
    expect(passing.insights?.length).toBeGreaterThanOrEqual(3);
    expect(
      passing.insights?.every((i) => i.insightStatus?.status === 'PASSING' && i.kubernetesVersion === '1.31'),
    ).toBe(true);
    expect(
      (await eks.send(new ListInsightsCommand({ clusterName: 'alpha', filter: { kubernetesVersions: ['1.33'] } })))
        .insights,
    ).toEqual([]);

    sim.injectFaults('alpha', { insightsError: true });
    const failing = await list();
    const deprecated = failing.insights?.find((i) => i.name?.startsWith('Deprecated APIs removed'));
    expect(deprecated?.insightStatus?.status).toBe('ERROR');
    const errors = await eks.send(new ListInsightsCommand({ clusterName: 'alpha', filter: { statuses: ['ERROR'] } }));
    expect(errors.insights?.map((i) => i.id)).toEqual([deprecated?.id]);
    const { insight } = await eks.send(new DescribeInsightCommand({ clusterName: 'alpha', id: deprecated?.id }));
    expect(insight?.categorySpecificSummary?.deprecationDetails?.[0]).toMatchObject({ stopServingVersion: '1.31' });
    expect(insight?.recommendation).toBeTruthy();
    expect(await errorName(eks.send(new DescribeInsightCommand({ clusterName: 'alpha', id: 'nope' })))).toBe(
      'ResourceNotFoundException',
    );

    expect(await errorName(eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' })))).toBe(
      'InvalidRequestException',
    );
    const forced = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', force: true }));
    expect(forced.update?.status).toBe('InProgress');
  });

  it('answers throttling and 5xx faults with ThrottlingException and ServerException', async () => {
    const { sim, eks } = await start();
    const once = eksClient(sim, 'us-east-1', { maxAttempts: 1 });
    sim.injectFaults('alpha', { throttleRate: 1 });
    await expect(once.send(new DescribeClusterCommand({ name: 'alpha' }))).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 429 },
    });
    // The SDK retries throttling: with three attempts it still gives up at rate 1.
    await expect(eks.send(new DescribeClusterCommand({ name: 'alpha' }))).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { attempts: 3 },
    });
    sim.injectFaults('alpha', { throttleRate: null, serverErrorRate: 1 });
    await expect(once.send(new DescribeClusterCommand({ name: 'alpha' }))).rejects.toMatchObject({
      name: 'ServerException',
      $metadata: { httpStatusCode: 500 },
    });
    // Other clusters are unaffected; clearing the fault heals the cluster.
    expect((await once.send(new DescribeClusterCommand({ name: 'blocked' }))).cluster?.name).toBe('blocked');
    sim.injectFaults('alpha', { serverErrorRate: null });
    expect((await once.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.name).toBe('alpha');

    // Half the calls throttled: the SDK's retries absorb most of them.
    sim.injectFaults('alpha', { throttleRate: 0.5 });
    let ok = 0;
    for (let i = 0; i < 6; i++) {
      try {
        await eks.send(new DescribeClusterCommand({ name: 'alpha' }));
        ok++;
      } catch {
        // Three throttles in a row happen one time in eight.
      }
    }
    expect(ok).toBeGreaterThanOrEqual(4);
  });

  it('keeps retried mutations exactly-once when a 5xx answer comes after the update was applied', async () => {
    const { sim } = await start();
    const eks = eksClient(sim, 'us-east-1', { maxAttempts: 10 });
    sim.injectFaults('alpha', { serverErrorRate: 0.6 });
    const results = [];
    for (const [i, addonName] of ['vpc-cni', 'coredns', 'kube-proxy'].entries()) {
      const version = ['v1.19.5-eksbuild.3', 'v1.11.4-eksbuild.2', 'v1.30.6-eksbuild.3'][i] as string;
      results.push(await eks.send(new UpdateAddonCommand({ clusterName: 'alpha', addonName, addonVersion: version })));
    }
    // Some calls needed retries, and some 5xx came after the update had started: still one update each.
    expect(results.some((r) => (r.$metadata.attempts ?? 1) > 1)).toBe(true);
    expect(sim.mutations().map((m) => m.addon)).toEqual(['vpc-cni', 'coredns', 'kube-proxy']);
    const ids = results.map((r) => r.update?.id);
    expect(sim.mutations().map((m) => m.updateId)).toEqual(ids);
  });

  it('fails the next control-plane update once under controlPlaneUpdateFails, and node group updates under NodeCreationFailure', async () => {
    const { sim, eks } = await start();
    sim.injectFaults('alpha', { controlPlaneUpdateFails: true, nodegroupUpdateFails: 'NodeCreationFailure' });
    const cp = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    const failed = await awaitUpdate(eks, { name: 'alpha' }, cp.update?.id as string);
    expect(failed).toMatchObject({ status: 'Failed', errors: [{ errorCode: 'InsufficientFreeAddresses' }] });
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster).toMatchObject({
      status: 'ACTIVE',
      version: '1.30',
    });
    expect(sim.state('alpha').clusters[0]?.faults).toEqual({ nodegroupUpdateFails: 'NodeCreationFailure' });

    const ng = await eks.send(new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'general' }));
    const ngFailed = await awaitUpdate(eks, { name: 'alpha', nodegroupName: 'general' }, ng.update?.id as string);
    expect(ngFailed.errors?.[0]).toMatchObject({ errorCode: 'NodeCreationFailure' });
    expect(ngFailed.errors?.[0]?.resourceIds?.[0]).toMatch(/^i-0[0-9a-f]{16}$/);

    const retry = await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
    expect((await awaitUpdate(eks, { name: 'alpha' }, retry.update?.id as string)).status).toBe('Successful');
  });

  it('fails forward add-on updates under addonUpdateFails (UPDATE_FAILED, version unchanged)', async () => {
    const { sim, eks } = await start();
    sim.injectFaults('alpha', { addonUpdateFails: true });
    const { update } = await eks.send(
      new UpdateAddonCommand({ clusterName: 'alpha', addonName: 'coredns', addonVersion: 'v1.11.4-eksbuild.2' }),
    );
    const failed = await awaitUpdate(eks, { name: 'alpha', addonName: 'coredns' }, update?.id as string);
    expect(failed.errors?.[0]?.errorCode).toBe('ConfigurationConflict');
    expect(
      (await eks.send(new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'coredns' }))).addon,
    ).toMatchObject({
      status: 'UPDATE_FAILED',
      addonVersion: 'v1.11.3-eksbuild.1',
    });
  });

  it('serves state, mutations and reset over HTTP', async () => {
    const { sim, eks } = await start();
    await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', clientRequestToken: 't-1' }));
    const state = (await (await fetch(`${sim.url}/sim/state?cluster=alpha`)).json()) as {
      clusters: {
        name: string;
        status: string;
        activeUpdates: unknown[];
        nodegroups: { launchTemplateVersion: string }[];
      }[];
    };
    expect(state.clusters).toHaveLength(1);
    expect(state.clusters[0]).toMatchObject({ name: 'alpha', status: 'UPDATING' });
    expect(state.clusters[0]?.activeUpdates).toHaveLength(1);
    expect(state.clusters[0]?.nodegroups.map((n) => n.launchTemplateVersion)).toEqual(['1', '4']);
    expect((await fetch(`${sim.url}/sim/state?cluster=nope`)).status).toBe(404);

    const mutations = (await (await fetch(`${sim.url}/sim/mutations`)).json()) as {
      mutations: { clientRequestToken: string }[];
    };
    expect(mutations.mutations.map((m) => m.clientRequestToken)).toEqual(['t-1']);

    const inject = await fetch(`${sim.url}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ cluster: 'alpha', faults: { throttleRate: 2 } }),
    });
    expect(inject.status).toBe(400);
    const ok = await fetch(`${sim.url}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ cluster: 'alpha', faults: { slowFactor: 2 } }),
    });
    expect(await ok.json()).toEqual({ cluster: 'alpha', faults: { slowFactor: 2 } });

    expect((await fetch(`${sim.url}/sim/reset`, { method: 'POST' })).status).toBe(200);
    expect(sim.mutations()).toEqual([]);
    expect(sim.state('alpha').clusters[0]).toMatchObject({
      status: 'ACTIVE',
      version: '1.30',
      faults: {},
      activeUpdates: [],
    });
  });
});
