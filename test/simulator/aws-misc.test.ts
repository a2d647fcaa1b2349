/**
 * SSM (EKS optimized AMI parameters) and STS (AssumeRole, GetCallerIdentity) on the
 * simulator's port, with the unmodified @aws-sdk/client-ssm, client-sts and credential providers.
 */
import { ListClustersCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  SSMClient,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index';
import { credentials, eksClient, errorName, testFleet } from './helpers';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe('simulated SSM and STS', () => {
  it('publishes the EKS optimized AMI release parameters per minor (AL2 up to 1.32, AL2023 for all)', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0 });
    const ssm = new SSMClient({ endpoint: sim.url, region: 'eu-west-1', credentials });
    const get = async (Name: string) => (await ssm.send(new GetParameterCommand({ Name }))).Parameter;
    expect(await get('/aws/service/eks/optimized-ami/1.31/amazon-linux-2/recommended/release_version')).toMatchObject({
      Name: '/aws/service/eks/optimized-ami/1.31/amazon-linux-2/recommended/release_version',
      Type: 'String',
      Value: '1.31.5-20250304',
      Version: 1,
      ARN: 'arn:aws:ssm:eu-west-1::parameter/aws/service/eks/optimized-ami/1.31/amazon-linux-2/recommended/release_version',
    });
    expect(
      (await get('/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/recommended/release_version'))
        ?.Value,
    ).toBe('1.33.1-20250704');
    expect(
      (await get('/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id'))?.Value,
    ).toMatch(/^ami-0[0-9a-f]{16}$/);
    await expect(
      get('/aws/service/eks/optimized-ami/1.33/amazon-linux-2/recommended/release_version'),
    ).rejects.toMatchObject({
      name: 'ParameterNotFound',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await errorName(get('/aws/service/eks/optimized-ami/1.40/amazon-linux-2/recommended/release_version'))).toBe(
      'ParameterNotFound',
    );
  });

  it('lists AMI releases with GetParametersByPath: one level, or every level with Recursive, 10 a page', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0 });
    const ssm = new SSMClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const root = '/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard';
    // One level under the family: no parameter lives there directly, only the AMI directories.
    expect((await ssm.send(new GetParametersByPathCommand({ Path: root }))).Parameters).toEqual([]);
    const recommended = await ssm.send(new GetParametersByPathCommand({ Path: `${root}/recommended/` }));
    expect(
      recommended.Parameters?.map((p) => [p.Name?.slice(root.length), p.Value?.replace(/^ami-.*/, 'ami')]),
    ).toEqual([
      ['/recommended/image_id', 'ami'],
      ['/recommended/release_version', '1.31.5-20250304'],
    ]);

    // What `aws ssm get-parameters-by-path --recursive` pages through: every release of the minor.
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateGetParametersByPath({ client: ssm }, { Path: root, Recursive: true })) {
      pages++;
      expect(page.Parameters?.length).toBeLessThanOrEqual(10);
      names.push(...(page.Parameters ?? []).map((p) => p.Name as string));
    }
    expect(pages).toBe(1);
    const releases = names.filter((n) => n.endsWith('/release_version')).map((n) => n.slice(root.length + 1));
    expect(releases).toEqual([
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250123/release_version',
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250212/release_version',
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250304/release_version',
      'recommended/release_version',
    ]);
    const all: string[] = [];
    for await (const page of paginateGetParametersByPath(
      { client: ssm, pageSize: 10 },
      { Path: '/aws/service/eks/optimized-ami', Recursive: true },
    ))
      all.push(...(page.Parameters ?? []).map((p) => p.Name as string));
    expect(all.length).toBeGreaterThan(100);
    expect(all).toEqual([...all].sort());
    expect(all.filter((n) => n.includes('/1.33/amazon-linux-2/'))).toEqual([]);

    expect(await errorName(ssm.send(new GetParametersByPathCommand({ Path: root, MaxResults: 11 })))).toBe(
      'ValidationException',
    );
    expect(await errorName(ssm.send(new GetParametersByPathCommand({ Path: root, NextToken: 'nope' })))).toBe(
      'InvalidNextToken',
    );
  });

  it('assumes roles with fake credentials that see only their account, and tells who is calling', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0 });
    const sts = new STSClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const base = await sts.send(new GetCallerIdentityCommand({}));
    expect(base).toMatchObject({ Account: '000000000000', Arn: 'arn:aws:iam::000000000000:user/simulator' });

    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::222222222222:role/fleetwave', RoleSessionName: 'fleetwave' }),
    );
    expect(assumed.Credentials?.AccessKeyId).toMatch(/^ASIASIM222222222222/);
    expect(assumed.Credentials?.Expiration?.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(assumed.AssumedRoleUser?.Arn).toBe('arn:aws:sts::222222222222:assumed-role/fleetwave/fleetwave');
    expect(await errorName(sts.send(new AssumeRoleCommand({ RoleArn: 'not-an-arn', RoleSessionName: 'x1' })))).toBe(
      'ValidationError',
    );

    // The credential provider the worker uses for per-account roles, pointed at the simulator.
    const roleCredentials = fromTemporaryCredentials({
      params: { RoleArn: 'arn:aws:iam::222222222222:role/fleetwave', RoleSessionName: 'fleetwave' },
      masterCredentials: credentials,
      clientConfig: { region: 'eu-west-1', endpoint: sim.url },
    });
    const who = await new STSClient({ endpoint: sim.url, region: 'eu-west-1', credentials: roleCredentials }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(who).toMatchObject({
      Account: '222222222222',
      Arn: 'arn:aws:sts::222222222222:assumed-role/fleetwave/fleetwave',
    });

    const asRole = eksClient(sim, 'eu-west-1', { credentials: roleCredentials });
    expect((await asRole.send(new ListClustersCommand({}))).clusters).toEqual(['beta']);
    // Account 111111111111's clusters are invisible to a role in 222222222222, even in their region.
    const otherRegion = eksClient(sim, 'us-east-1', { credentials: roleCredentials });
    expect((await otherRegion.send(new ListClustersCommand({}))).clusters).toEqual([]);
    expect(await errorName(otherRegion.send(new DescribeClusterCommand({ name: 'alpha' })))).toBe(
      'ResourceNotFoundException',
    );
  });
});
