/**
 * Organizations ListAccounts and a role STS refuses, on the simulator's port, with the unmodified
 * @aws-sdk/client-organizations, client-sts and credential providers.
 */
import { ListAccountsCommand, OrganizationsClient, paginateListAccounts } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index';
import { credentials, testFleet } from './helpers';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const extraAccounts = Array.from({ length: 25 }, (_, i) => ({ id: String(900000000000 + i), name: `sandbox-${i}` }));

describe('simulated Organizations', () => {
  it('lists the management account, the fleet accounts and the extra members, 20 a page with NextToken', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0, organization: { accounts: extraAccounts } });
    const org = new OrganizationsClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const first = await org.send(new ListAccountsCommand({}));
    expect(first.Accounts).toHaveLength(20);
    expect(first.NextToken).toBeTruthy();
    expect(first.Accounts?.[0]).toMatchObject({
      Id: '000000000000',
      Name: 'management',
      Status: 'ACTIVE',
      JoinedMethod: 'CREATED',
    });
    expect(first.Accounts?.[0]?.Arn).toMatch(
      /^arn:aws:organizations::000000000000:account\/o-[0-9a-f]{10}\/000000000000$/,
    );
    expect(first.Accounts?.[0]?.JoinedTimestamp).toBeInstanceOf(Date);

    const ids: string[] = [];
    for await (const page of paginateListAccounts({ client: org, pageSize: 7 }, {})) {
      expect((page.Accounts ?? []).length).toBeLessThanOrEqual(7);
      ids.push(...(page.Accounts ?? []).map((a) => a.Id ?? ''));
    }
    const fleetAccounts = [...new Set(testFleet().map((c) => c.account))];
    expect(ids).toEqual(['000000000000', ...fleetAccounts, ...extraAccounts.map((a) => a.id)].sort());

    await expect(org.send(new ListAccountsCommand({ MaxResults: 21 }))).rejects.toMatchObject({
      name: 'InvalidInputException',
    });
    await expect(org.send(new ListAccountsCommand({ NextToken: 'not-a-token' }))).rejects.toMatchObject({
      name: 'InvalidInputException',
    });
  });

  it('refuses ListAccounts to a member account (credentials from an assumed role)', async () => {
    sim = await startSimulator({ fleet: testFleet(), port: 0 });
    const member = fromTemporaryCredentials({
      params: { RoleArn: 'arn:aws:iam::111111111111:role/fleetwave', RoleSessionName: 'test' },
      masterCredentials: credentials,
      clientConfig: { endpoint: sim.url, region: 'us-east-1' },
    });
    const org = new OrganizationsClient({ endpoint: sim.url, region: 'us-east-1', credentials: member });
    await expect(org.send(new ListAccountsCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('answers AccessDenied (403) to AssumeRole into an account whose roles are closed', async () => {
    sim = await startSimulator({
      fleet: testFleet(),
      port: 0,
      organization: { accounts: [{ id: '444455556666' }], denyAssumeRole: ['444455556666'] },
    });
    const sts = new STSClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const err = await sts
      .send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::444455556666:role/fleetwave-discovery',
          RoleSessionName: 'discovery',
        }),
      )
      .catch((e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } });
    expect(err).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect((err as Error).message).toBe(
      'User: arn:aws:iam::000000000000:user/simulator is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/fleetwave-discovery',
    );
    // Other accounts' roles are still assumable.
    const ok = await sts.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:aws:iam::111111111111:role/fleetwave-discovery',
        RoleSessionName: 'discovery',
      }),
    );
    expect(ok.Credentials?.AccessKeyId).toMatch(/^ASIASIM111111111111/);
  });
});
