/**
 * SSM (EKS optimized AMI parameters) and STS (AssumeRole, GetCallerIdentity) on the
 * simulator's port, with the unmodified @aws-sdk/client-ssm, client-sts and credential providers.
 */
import { ListClustersCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import {
  GetParameterCommand,
  GetParametersCommand,
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
    // One level under the family: the `recommended` parameter, whose value is JSON, and the AMI directories.
    const top = (await ssm.send(new GetParametersByPathCommand({ Path: root }))).Parameters ?? [];
    expect(top.map((p) => p.Name?.slice(root.length))).toEqual(['/recommended']);
    expect(JSON.parse(top[0]?.Value ?? '{}')).toEqual({
      schema_version: '3',
      image_id: expect.stringMatching(/^ami-0[0-9a-f]{16}$/),
      image_name: 'amazon-eks-node-al2023-x86_64-standard-1.31-v20250304',
      release_version: '1.31.5-20250304',
    });
    const recommended = await ssm.send(new GetParametersByPathCommand({ Path: `${root}/recommended/` }));
    expect(
      recommended.Parameters?.map((p) => [p.Name?.slice(root.length), p.Value?.replace(/^ami-.*/, 'ami')]),
    ).toEqual([
      ['/recommended/image_id', 'ami'],
      ['/recommended/image_name', 'amazon-eks-node-al2023-x86_64-standard-1.31-v20250304'],
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

  it('publishes every AMI family per region: AL2023 variants, AL2 variants, Bottlerocket, Windows', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0 });
    const east = new SSMClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const west = new SSMClient({ endpoint: sim.url, region: 'eu-west-1', credentials });
    const value = async (ssm: SSMClient, Name: string) =>
      (await ssm.send(new GetParameterCommand({ Name }))).Parameter?.Value;
    const al = '/aws/service/eks/optimized-ami/1.32';
    for (const dir of [
      'amazon-linux-2023/x86_64/standard',
      'amazon-linux-2023/arm64/standard',
      'amazon-linux-2023/x86_64/nvidia',
      'amazon-linux-2023/arm64/nvidia',
      'amazon-linux-2023/x86_64/neuron',
      'amazon-linux-2',
      'amazon-linux-2-arm64',
      'amazon-linux-2-gpu',
    ]) {
      expect(await value(east, `${al}/${dir}/recommended/release_version`)).toBe('1.32.1-20250304');
    }
    // Neuron is x86_64 only; AL2 ends with 1.32.
    expect(await errorName(value(east, `${al}/amazon-linux-2023/arm64/neuron/recommended/release_version`))).toBe(
      'ParameterNotFound',
    );
    expect(
      await errorName(value(east, '/aws/service/eks/optimized-ami/1.33/amazon-linux-2-arm64/recommended/image_id')),
    ).toBe('ParameterNotFound');
    // Image IDs differ per region and per family; release versions do not differ per region.
    const arm = `${al}/amazon-linux-2023/arm64/standard/recommended/image_id`;
    const x86 = `${al}/amazon-linux-2023/x86_64/standard/recommended/image_id`;
    expect(await value(east, arm)).toMatch(/^ami-0[0-9a-f]{16}$/);
    expect(await value(east, arm)).not.toBe(await value(west, arm));
    expect(await value(east, arm)).not.toBe(await value(east, x86));

    const br = '/aws/service/bottlerocket/aws-k8s-1.31';
    expect(await value(east, `${br}/x86_64/latest/image_version`)).toBe('1.34.0-18d04e52');
    expect(await value(east, `${br}-nvidia/arm64/latest/image_version`)).toBe('1.34.0-18d04e52');
    expect(await value(east, `${br}-fips/x86_64/latest/image_id`)).toMatch(/^ami-0[0-9a-f]{16}$/);
    expect(await errorName(value(east, `${br}/x86_64/latest/release_version`))).toBe('ParameterNotFound');

    const win = '/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id';
    expect(await value(west, win)).toMatch(/^ami-0[0-9a-f]{16}$/);
    expect(
      await value(west, '/aws/service/ami-windows-latest/Windows_Server-2025-English-Full-EKS_Optimized-1.33/image_id'),
    ).toMatch(/^ami-/);

    // GetParameters answers the names it does not know in InvalidParameters, as SSM does.
    const both = await east.send(new GetParametersCommand({ Names: [win, `${br}/x86_64/latest/nope`] }));
    expect(both.Parameters?.map((p) => p.Name)).toEqual([win]);
    expect(both.InvalidParameters).toEqual([`${br}/x86_64/latest/nope`]);

    const latest: string[] = [];
    for await (const page of paginateGetParametersByPath({ client: east }, { Path: `${br}/arm64`, Recursive: true }))
      latest.push(...(page.Parameters ?? []).map((p) => p.Name as string));
    expect(latest).toEqual([`${br}/arm64/latest/image_id`, `${br}/arm64/latest/image_version`]);
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
