/**
 * Conformance of the simulated EKS API with AWS's own service model (botocore's
 * `data/eks/<date>/service-2.json`, fetched from PyPI by scripts/eks-model.ts): every operation the
 * simulator serves is called through the real @aws-sdk/client-eks, and every raw response body,
 * success or error, is validated against the model (test/simulator/service-model.ts). The
 * expectations are AWS's; the project wrote only the calls.
 */
import {
  CancelUpdateCommand,
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeClusterVersionsCommand,
  DescribeInsightCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  ListAddonsCommand,
  ListClustersCommand,
  ListInsightsCommand,
  ListNodegroupsCommand,
  ListFargateProfilesCommand,
  DescribeFargateProfileCommand,
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
import type { HttpResponse } from '@smithy/protocol-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOTOCORE_VERSION, ensureEksModel } from '../../scripts/eks-model';
import { startSimulator, type Simulator } from '../../simulator/index';
import { eksClient, testFleet } from './helpers';
import {
  loadServiceModel,
  validateResponse,
  validateShape,
  type RawResponse,
  type ServiceModel,
} from './service-model';

/** Every EKS operation the simulator serves: the test fails if one goes unvalidated. */
const SERVED = [
  'CancelUpdate',
  'DescribeAddon',
  'DescribeAddonVersions',
  'DescribeCluster',
  'DescribeClusterVersions',
  'DescribeFargateProfile',
  'DescribeInsight',
  'DescribeNodegroup',
  'DescribeUpdate',
  'ListAddons',
  'ListClusters',
  'ListFargateProfiles',
  'ListInsights',
  'ListNodegroups',
  'ListTagsForResource',
  'ListUpdates',
  'TagResource',
  'UntagResource',
  'UpdateAddon',
  'UpdateClusterVersion',
  'UpdateNodegroupConfig',
  'UpdateNodegroupVersion',
];

const MINUTE = 60_000;

let model: ServiceModel;
beforeAll(async () => {
  model = loadServiceModel(await ensureEksModel());
}, 180_000);

/** Keeps each raw response the client receives, before the SDK deserialises (and forgets) it. */
function captureRawResponses(client: EKSClient, sink: RawResponse[]): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as HttpResponse;
      const chunks: Buffer[] = [];
      for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      const body = Buffer.concat(chunks);
      // The deserializer accepts a Uint8Array body as it is.
      response.body = body;
      sink.push({ status: response.statusCode, headers: { ...response.headers }, body: body.toString('utf8') });
      return result;
    },
    // Inside the deserializer (same step, lower priority): sees every attempt's raw answer.
    { step: 'deserialize', priority: 'low', name: 'captureRawResponse' },
  );
}

describe('the service-model validator', () => {
  it('fails on unknown members, wrong JSON types, enums, ISO timestamps, unlisted errors and wrong status codes', () => {
    const ok = { update: { id: 'u', status: 'InProgress', type: 'VersionUpdate', createdAt: 1767225600, errors: [] } };
    const res = (status: number, body: unknown, errortype?: string): RawResponse => ({
      status,
      headers: errortype ? { 'x-amzn-errortype': errortype } : {},
      body: JSON.stringify(body),
    });
    expect(validateResponse(model, 'DescribeUpdate', res(200, ok))).toEqual([]);
    const bad = (update: Record<string, unknown>) =>
      validateResponse(model, 'DescribeUpdate', res(200, { update: { ...ok.update, ...update } }));
    expect(bad({ colour: 'blue' })).toEqual([expect.stringContaining('no body member "colour"')]);
    expect(bad({ status: 'Done' })).toEqual([expect.stringContaining('one of InProgress|Failed|Cancelled|Successful')]);
    expect(bad({ createdAt: '2026-01-01T00:00:00Z' })).toEqual([expect.stringContaining('epoch seconds')]);
    expect(bad({ createdAt: 1767225600000 })).toEqual([expect.stringContaining('not milliseconds')]);
    expect(bad({ params: { type: 'Version' } })).toEqual([expect.stringContaining('wants an array')]);
    expect(bad({ errors: [{ errorCode: 'Oops' }] })).toEqual([expect.stringContaining('one of SubnetNotFound')]);
    expect(
      validateResponse(model, 'ListNodegroups', res(200, { nodegroups: ['a', 7] })).map((p) => p.split(': ')[1]),
    ).toEqual(['$.nodegroups[1]']);
    expect(validateShape(model, 'NodegroupScalingConfig', { minSize: 1.5 })).toEqual([
      expect.stringContaining('an integer'),
    ]);
    expect(validateShape(model, 'Nodegroup', { tags: { env: 1 } })).toEqual([expect.stringContaining('a string')]);

    // Errors: the type must be one the model lists for the operation, with its status code.
    expect(validateResponse(model, 'DescribeCluster', res(404, { message: 'x' }, 'ResourceNotFoundException'))).toEqual(
      [],
    );
    expect(
      validateResponse(model, 'ListTagsForResource', res(404, { message: 'x' }, 'ResourceNotFoundException')),
    ).toEqual([expect.stringContaining('not one the model lists (BadRequestException, NotFoundException)')]);
    expect(validateResponse(model, 'DescribeCluster', res(400, { message: 'x' }, 'ResourceNotFoundException'))).toEqual(
      [expect.stringContaining('the model says 404')],
    );
    expect(
      validateResponse(
        model,
        'UpdateClusterVersion',
        res(409, { message: 'x', cluster: 'a' }, 'ResourceInUseException'),
      ),
    ).toEqual([expect.stringContaining('no body member "cluster"')]);
    expect(validateResponse(model, 'DescribeCluster', res(500, { message: 'x' }))).toEqual([
      expect.stringContaining('without x-amzn-errortype'),
    ]);

    // Required members, on a shape made for the purpose (EKS outputs declare none).
    const withRequired: ServiceModel = {
      ...model,
      shapes: {
        ...model.shapes,
        Probe: { type: 'structure', required: ['name'], members: { name: { shape: 'String' } } },
      },
    };
    expect(validateShape(withRequired, 'Probe', {})).toEqual([
      expect.stringContaining('required member "name" missing'),
    ]);
  });
});

describe(`simulated EKS against the EKS service model (botocore ${BOTOCORE_VERSION})`, () => {
  let sim: Simulator | undefined;
  afterAll(async () => {
    await sim?.stop();
  });

  it('answers every operation it serves, successes and errors, as the model describes', async () => {
    const fleet = testFleet().map((c) =>
      c.name === 'alpha' ? { ...c, autoMode: true, fargateProfiles: [{ name: 'batch', pods: 1 }] } : c,
    );
    sim = await startSimulator({ fleet, port: 0, timeScale: 60, seed: 5 });
    const raw: RawResponse[] = [];
    const eks = eksClient(sim);
    const euWest = eksClient(sim, 'eu-west-1');
    captureRawResponses(eks, raw);
    captureRawResponses(euWest, raw);

    const problems: string[] = [];
    const validated = new Map<string, { ok: number; errors: number; codes: Set<string> }>();
    /** Sends through the real client; validates every raw answer against the command's operation. */
    const call = async <T>(
      client: EKSClient,
      // Any EKS command; its class name names the operation.
      command: object,
      expectError?: string,
    ): Promise<T> => {
      const operation = command.constructor.name.replace(/Command$/, '');
      raw.length = 0;
      let output: unknown;
      let error: unknown;
      try {
        output = await client.send(command as Parameters<EKSClient['send']>[0]);
      } catch (err) {
        error = err;
      }
      const name = error instanceof Error ? error.name : undefined;
      if (name !== expectError)
        problems.push(`${operation}: expected ${expectError ?? 'success'}, got ${name ?? 'success'}`);
      if (raw.length === 0) problems.push(`${operation}: no response captured`);
      const tally = validated.get(operation) ?? { ok: 0, errors: 0, codes: new Set<string>() };
      for (const r of raw) {
        problems.push(...validateResponse(model, operation, r));
        if (r.status < 300) tally.ok++;
        else {
          tally.errors++;
          tally.codes.add(r.headers['x-amzn-errortype'] ?? '?');
        }
      }
      validated.set(operation, tally);
      return output as T;
    };

    const arnOf = (path: string) => `arn:aws:eks:us-east-1:111111111111:${path}`;

    await call(eks, new ListClustersCommand({}));
    await call(eks, new ListClustersCommand({ maxResults: 1 }));
    await call(eks, new ListClustersCommand({ maxResults: 500 }), 'InvalidParameterException');
    await call(eks, new DescribeClusterCommand({ name: 'alpha' }));
    await call(eks, new DescribeClusterCommand({ name: 'blocked' }));
    await call(eks, new DescribeClusterCommand({ name: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new DescribeClusterVersionsCommand({}));
    await call(eks, new DescribeClusterVersionsCommand({ includeAll: true, maxResults: 5 }));
    await call(eks, new DescribeClusterVersionsCommand({ clusterVersions: ['1.23'], defaultOnly: false }));
    await call(
      eks,
      new DescribeClusterVersionsCommand({ versionStatus: 'SOMETIME' as never }),
      'InvalidParameterException',
    );

    await call(eks, new ListNodegroupsCommand({ clusterName: 'alpha' }));
    await call(eks, new ListNodegroupsCommand({ clusterName: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'templated' }));
    await call(
      eks,
      new DescribeNodegroupCommand({ clusterName: 'alpha', nodegroupName: 'nope' }),
      'ResourceNotFoundException',
    );
    await call(eks, new ListFargateProfilesCommand({ clusterName: 'alpha' }));
    await call(eks, new ListFargateProfilesCommand({ clusterName: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new DescribeFargateProfileCommand({ clusterName: 'alpha', fargateProfileName: 'batch' }));
    await call(
      eks,
      new DescribeFargateProfileCommand({ clusterName: 'alpha', fargateProfileName: 'nope' }),
      'ResourceNotFoundException',
    );
    await call(eks, new ListAddonsCommand({ clusterName: 'alpha' }));
    await call(eks, new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'coredns' }));
    await call(eks, new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new DescribeAddonVersionsCommand({}));
    await call(eks, new DescribeAddonVersionsCommand({ kubernetesVersion: '1.31', addonName: 'vpc-cni' }));
    await call(eks, new DescribeAddonVersionsCommand({ kubernetesVersion: 'latest' }), 'InvalidParameterException');

    sim.injectFaults('blocked', { insightsError: true });
    const { insights } = await call<{ insights?: { id?: string }[] }>(
      eks,
      new ListInsightsCommand({ clusterName: 'blocked' }),
    );
    await call(eks, new ListInsightsCommand({ clusterName: 'alpha', filter: { categories: ['UPGRADE_READINESS'] } }));
    for (const i of insights ?? []) await call(eks, new DescribeInsightCommand({ clusterName: 'blocked', id: i.id }));
    await call(eks, new DescribeInsightCommand({ clusterName: 'blocked', id: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new UpdateClusterVersionCommand({ name: 'blocked', version: '1.32' }), 'InvalidRequestException');
    sim.injectFaults('blocked', { insightsError: null });

    await call(eks, new TagResourceCommand({ resourceArn: arnOf('cluster/alpha'), tags: { tier: 'gold' } }));
    await call(
      eks,
      new TagResourceCommand({ resourceArn: arnOf('nodegroup/alpha/general/x'), tags: { owner: 'sre' } }),
    );
    await call(
      eks,
      new TagResourceCommand({ resourceArn: arnOf('cluster/alpha'), tags: { 'aws:x': 'y' } }),
      'BadRequestException',
    );
    await call(
      eks,
      new TagResourceCommand({ resourceArn: arnOf('cluster/nope'), tags: { a: 'b' } }),
      'NotFoundException',
    );
    await call(eks, new ListTagsForResourceCommand({ resourceArn: arnOf('cluster/alpha') }));
    await call(eks, new ListTagsForResourceCommand({ resourceArn: arnOf('addon/alpha/coredns/x') }));
    await call(eks, new ListTagsForResourceCommand({ resourceArn: arnOf('cluster/nope') }), 'NotFoundException');
    await call(eks, new ListTagsForResourceCommand({ resourceArn: 'not-an-arn' }), 'BadRequestException');
    await call(eks, new UntagResourceCommand({ resourceArn: arnOf('cluster/alpha'), tagKeys: ['tier'] }));
    await call(
      eks,
      new UntagResourceCommand({ resourceArn: arnOf('cluster/nope'), tagKeys: ['a'] }),
      'NotFoundException',
    );

    const { update } = await call<{ update?: { id?: string } }>(
      eks,
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }),
    );
    await call(eks, new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }), 'ResourceInUseException');
    await call(eks, new UpdateClusterVersionCommand({ name: 'laggard', version: '1.33' }), 'InvalidParameterException');
    await call(eks, new UpdateClusterVersionCommand({ name: 'laggard', version: '1.32' }), 'InvalidRequestException');
    await call(eks, new UpdateClusterVersionCommand({ name: 'nope', version: '1.32' }), 'ResourceNotFoundException');
    await call(eks, new DescribeUpdateCommand({ name: 'alpha', updateId: update?.id }));
    await call(eks, new DescribeUpdateCommand({ name: 'alpha', updateId: 'nope' }), 'ResourceNotFoundException');
    await call(eks, new ListUpdatesCommand({ name: 'alpha' }));
    await call(eks, new CancelUpdateCommand({ name: 'alpha', updateId: update?.id }), 'InvalidRequestException');
    await call(eks, new CancelUpdateCommand({ name: 'alpha', updateId: 'nope' }), 'ResourceNotFoundException');

    const ng = await call<{ update?: { id?: string } }>(
      eks,
      new UpdateNodegroupVersionCommand({ clusterName: 'blocked', nodegroupName: 'general' }),
    );
    await call(eks, new DescribeUpdateCommand({ name: 'blocked', nodegroupName: 'general', updateId: ng.update?.id }));
    await call(eks, new ListUpdatesCommand({ name: 'blocked', nodegroupName: 'general' }));
    await call(
      eks,
      new UpdateNodegroupVersionCommand({ clusterName: 'alpha', nodegroupName: 'general' }),
      'ResourceInUseException',
    );
    await call(
      eks,
      new UpdateNodegroupVersionCommand({ clusterName: 'laggard', nodegroupName: 'old', version: '1.32' }),
      'InvalidParameterException',
    );
    await call(
      eks,
      new UpdateNodegroupConfigCommand({
        clusterName: 'laggard',
        nodegroupName: 'old',
        updateConfig: { maxUnavailable: 2 },
        scalingConfig: { minSize: 1, maxSize: 4, desiredSize: 2 },
      }),
    );
    await call(
      eks,
      new UpdateNodegroupConfigCommand({
        clusterName: 'blocked',
        nodegroupName: 'general',
        labels: { addOrUpdateLabels: { a: 'b' } },
      }),
      'ResourceInUseException',
    );
    await call(
      euWest,
      new UpdateAddonCommand({ clusterName: 'beta', addonName: 'kube-proxy', addonVersion: 'v1.31.2-eksbuild.3' }),
    );
    await call(
      eks,
      new UpdateAddonCommand({ clusterName: 'alpha', addonName: 'coredns', addonVersion: 'v1.11.4-eksbuild.2' }),
      'ResourceInUseException',
    );
    await call(
      euWest,
      new UpdateAddonCommand({ clusterName: 'beta', addonName: 'kube-proxy', addonVersion: 'v9.9.9-eksbuild.1' }),
      'ResourceInUseException',
    );

    // Completed updates, then an Auto Mode rollback: CancelUpdate while its nodes roll back, and too late.
    sim.advance(60 * MINUTE);
    await call(eks, new DescribeUpdateCommand({ name: 'alpha', updateId: update?.id }));
    await call(eks, new DescribeClusterCommand({ name: 'alpha' }));
    await call(eks, new DescribeNodegroupCommand({ clusterName: 'laggard', nodegroupName: 'old' }));
    const rollback = await call<{ update?: { id?: string } }>(
      eks,
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30', rollbackConfig: { timeoutMinutes: 180 } }),
    );
    await call(eks, new CancelUpdateCommand({ name: 'alpha', updateId: rollback.update?.id }));
    await call(eks, new DescribeUpdateCommand({ name: 'alpha', updateId: rollback.update?.id }));
    const again = await call<{ update?: { id?: string } }>(
      eks,
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30' }),
    );
    sim.advance(10 * MINUTE);
    await call(eks, new CancelUpdateCommand({ name: 'alpha', updateId: again.update?.id }));
    await call(
      eks,
      new UpdateClusterVersionCommand({ name: 'alpha', version: '1.30', rollbackConfig: { timeoutMinutes: 5 } }),
      'InvalidParameterException',
    );

    expect(problems).toEqual([]);
    expect([...validated.keys()].sort()).toEqual(SERVED);
    for (const op of SERVED) expect(model.operations[op], op).toBeDefined();
    const responses = [...validated.values()].reduce((n, t) => n + t.ok + t.errors, 0);
    const errors = [...validated.values()].reduce((n, t) => n + t.errors, 0);
    const codes = new Set([...validated.values()].flatMap((t) => [...t.codes]));
    process.stdout.write(
      `service model: ${validated.size} EKS operations, ${responses} raw responses (${errors} errors: ${[...codes].sort().join(', ')}) validated against botocore ${BOTOCORE_VERSION}\n`,
    );
  });
});
