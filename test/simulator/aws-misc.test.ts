/**
 * SSM (EKS optimized AMI parameters) and STS (AssumeRole, GetCallerIdentity) on the
 * simulator's port, with the unmodified @aws-sdk/client-ssm, client-sts and credential providers.
 */
import { ListClustersCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
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
