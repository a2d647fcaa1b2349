/**
 * Node models in the simulator, through the unmodified clients: EC2 launch templates and AMIs
 * (@aws-sdk/client-ec2), managed node groups per AMI source (@aws-sdk/client-eks), Fargate
 * profiles, and the nodes each kind of compute puts in the Kubernetes API.
 */
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeLaunchTemplatesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeClusterCommand,
  DescribeFargateProfileCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  ListFargateProfilesCommand,
  UpdateNodegroupVersionCommand,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterInventory } from '../../domain/fleet';
import { startSimulator, type Simulator } from '../../simulator/index';
import { credentials, eksClient, eksToken, errorName, kubeConfig } from './helpers';

const CUSTOM_AMI = 'ami-0c0ffee0c0ffee001';

function fleet(): ClusterInventory[] {
  const base = { account: '111111111111', labels: {}, addons: [], pdbs: [] };
  return [
    {
      ...base,
      name: 'mixed',
      region: 'us-east-1',
      version: '1.31',
      nodegroups: [
        { name: 'x86', version: '1.30', nodes: 2, maxUnavailable: 1 },
        { name: 'graviton', amiType: 'AL2023_ARM_64_STANDARD', nodes: 1, maxUnavailable: 1 },
        { name: 'rocket', amiType: 'BOTTLEROCKET_ARM_64', version: '1.30', nodes: 1, maxUnavailable: 1 },
        { name: 'gpu', amiType: 'AL2023_x86_64_NVIDIA', nodes: 1, maxUnavailable: 1 },
        { name: 'win', amiType: 'WINDOWS_CORE_2022_x86_64', nodes: 1, maxUnavailable: 1 },
        {
          name: 'custom',
          version: '1.30',
          nodes: 2,
          maxUnavailable: 1,
          launchTemplate: { name: 'mixed-custom', version: '1', imageId: CUSTOM_AMI },
        },
      ],
      selfManagedGroups: [{ name: 'legacy-asg', version: '1.29', nodes: 2, amiType: 'AL2023_x86_64_STANDARD' }],
      fargateProfiles: [{ name: 'batch', pods: 2 }],
    },
  ];
}

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(): Promise<{ eks: EKSClient; ec2: EC2Client }> {
  sim = await startSimulator({ fleet: fleet(), port: 0, seed: 3 });
  return {
    eks: eksClient(sim),
    ec2: new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials }),
  };
}

/** Moves simulated time past any node-group update and returns the update as DescribeUpdate shows it. */
async function finish(eks: EKSClient, nodegroupName: string, updateId: string | undefined) {
  sim?.advance(3 * 3600_000);
  return (await eks.send(new DescribeUpdateCommand({ name: 'mixed', nodegroupName, updateId }))).update;
}

describe('node models', () => {
  it('reports amiType and the release format of each family; custom AMIs report the image ID', async () => {
    const { eks } = await start();
    const describe = async (nodegroupName: string) =>
      (await eks.send(new DescribeNodegroupCommand({ clusterName: 'mixed', nodegroupName }))).nodegroup;
    expect(await describe('x86')).toMatchObject({
      amiType: 'AL2023_x86_64_STANDARD',
      releaseVersion: '1.30.8-20250116',
    });
    expect(await describe('graviton')).toMatchObject({
      amiType: 'AL2023_ARM_64_STANDARD',
      releaseVersion: '1.31.4-20250123',
      instanceTypes: [expect.stringMatching(/g\./)],
    });
    expect(await describe('rocket')).toMatchObject({
      amiType: 'BOTTLEROCKET_ARM_64',
      releaseVersion: '1.32.0-cacc4ce9',
    });
    expect(await describe('win')).toMatchObject({
      amiType: 'WINDOWS_CORE_2022_x86_64',
      releaseVersion: '1.31-2025.01.23',
    });
    expect(await describe('custom')).toMatchObject({
      amiType: 'CUSTOM',
      version: '1.30',
      releaseVersion: CUSTOM_AMI,
      launchTemplate: { name: 'mixed-custom', version: '1' },
    });
  });

  it('serves launch templates, their versions and AMIs over the EC2 Query protocol', async () => {
    const { ec2 } = await start();
    const all = await ec2.send(new DescribeLaunchTemplatesCommand({}));
    expect(all.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toContain('mixed-custom');
    const named = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['mixed-custom'] }));
    expect(named.LaunchTemplates?.[0]).toMatchObject({ DefaultVersionNumber: 1, LatestVersionNumber: 1 });
    expect(await errorName(ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['nope'] })))).toBe(
      'InvalidLaunchTemplateName.NotFoundException',
    );
    const filtered = await ec2.send(
      new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'launch-template-name', Values: ['mixed-c*'] }] }),
    );
    expect(filtered.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toEqual(['mixed-custom']);

    // The owned images: one per region, architecture, minor and build, with the minor in name and tag.
    const owned = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [
          { Name: 'name', Values: ['acme-eks-1.31-*'] },
          { Name: 'architecture', Values: ['x86_64'] },
        ],
      }),
    );
    expect(owned.Images?.map((i) => i.Name).sort()).toEqual([
      'acme-eks-1.31-x86_64-20250115',
      'acme-eks-1.31-x86_64-20250301',
    ]);
    expect(owned.Images?.[0]?.Tags).toContainEqual({ Key: 'kubernetes-version', Value: '1.31' });
    const newImage = owned.Images?.find((i) => i.Name?.endsWith('20250301'))?.ImageId as string;
    expect(newImage).toMatch(/^ami-0[0-9a-f]{16}$/);
    // The image the fleet's launch template names is there too; other regions have their own images.
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [CUSTOM_AMI] }))).Images?.[0]).toMatchObject({
      ImageId: CUSTOM_AMI,
      Architecture: 'x86_64',
    });
    const west = new EC2Client({ endpoint: sim?.url, region: 'eu-west-1', credentials });
    expect(await errorName(west.send(new DescribeImagesCommand({ ImageIds: [newImage] })))).toBe(
      'InvalidAMIID.NotFound',
    );
    // The public EKS images, by owner and name.
    const rocket = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['amazon'],
        Filters: [{ Name: 'name', Values: ['bottlerocket-aws-k8s-1.31-aarch64-*'] }],
      }),
    );
    expect(rocket.Images?.map((i) => i.Architecture)).toEqual(['arm64', 'arm64', 'arm64']);

    // CreateLaunchTemplateVersion: from a source version, a new image, idempotent by ClientToken.
    const input = {
      LaunchTemplateName: 'mixed-custom',
      SourceVersion: '1',
      LaunchTemplateData: { ImageId: newImage },
      ClientToken: 'roll-1.31',
    };
    const created = await ec2.send(new CreateLaunchTemplateVersionCommand(input));
    expect(created.LaunchTemplateVersion).toMatchObject({
      VersionNumber: 2,
      LaunchTemplateData: { ImageId: newImage },
    });
    const again = await ec2.send(new CreateLaunchTemplateVersionCommand(input));
    expect(again.LaunchTemplateVersion?.VersionNumber).toBe(2);
    expect(
      await errorName(
        ec2.send(new CreateLaunchTemplateVersionCommand({ ...input, LaunchTemplateData: { ImageId: CUSTOM_AMI } })),
      ),
    ).toBe('IdempotentParameterMismatch');
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mixed-custom', Versions: ['$Latest', '1'] }),
    );
    expect(versions.LaunchTemplateVersions?.map((v) => [v.VersionNumber, v.LaunchTemplateData?.ImageId])).toEqual([
      [2, newImage],
      [1, CUSTOM_AMI],
    ]);
    expect(
      await errorName(
        ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mixed-custom', Versions: ['7'] })),
      ),
    ).toBe('InvalidLaunchTemplateId.VersionNotFound');
  });

  it('moves a custom-AMI node group by launch-template version, forward and back, never by version', async () => {
    const { eks, ec2 } = await start();
    const ng = { clusterName: 'mixed', nodegroupName: 'custom' };
    const images = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [
          { Name: 'tag:kubernetes-version', Values: ['1.31'] },
          { Name: 'architecture', Values: ['x86_64'] },
        ],
      }),
    );
    const image131 = images.Images?.[0]?.ImageId as string;
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: 'mixed-custom',
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: image131 },
      }),
    );

    for (const extra of [{ version: '1.31' }, { releaseVersion: '1.31.5-20250304' }]) {
      const refused = eks.send(
        new UpdateNodegroupVersionCommand({ ...ng, ...extra, launchTemplate: { name: 'mixed-custom', version: '2' } }),
      );
      await expect(refused).rejects.toMatchObject({ name: 'InvalidParameterException', nodegroupName: 'custom' });
    }
    expect(await errorName(eks.send(new UpdateNodegroupVersionCommand(ng)))).toBe('InvalidParameterException');

    const forward = await eks.send(
      new UpdateNodegroupVersionCommand({ ...ng, launchTemplate: { name: 'mixed-custom', version: '$Latest' } }),
    );
    expect((await finish(eks, 'custom', forward.update?.id))?.status).toBe('Successful');
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      version: '1.31',
      releaseVersion: image131,
      launchTemplate: { version: '2' },
    });

    const back = await eks.send(
      new UpdateNodegroupVersionCommand({ ...ng, launchTemplate: { name: 'mixed-custom', version: '1' } }),
    );
    expect((await finish(eks, 'custom', back.update?.id))?.status).toBe('Successful');
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup).toMatchObject({
      version: '1.30',
      releaseVersion: CUSTOM_AMI,
      launchTemplate: { version: '1' },
    });
    expect(sim?.mutations().map((m) => m.target)).toEqual(['lt:2', 'lt:1']);
  });

  it('updates EKS-AMI node groups within their family only, and writes no version of the customer template', async () => {
    const { eks, ec2 } = await start();
    const send = (nodegroupName: string, extra: Record<string, string>) =>
      eks.send(new UpdateNodegroupVersionCommand({ clusterName: 'mixed', nodegroupName, ...extra }));
    // A release of another family is not valid for the minor; Bottlerocket releases are OS versions.
    expect(await errorName(send('rocket', { releaseVersion: '1.30.9-20250304' }))).toBe('InvalidParameterException');
    expect(await errorName(send('win', { releaseVersion: '1.31.5-20250304' }))).toBe('InvalidParameterException');
    expect(await errorName(send('x86', { releaseVersion: '1.33.0-a0fe3a0e' }))).toBe('InvalidParameterException');
    const rocket = await send('rocket', { version: '1.31' });
    expect(rocket.update?.params).toContainEqual({ type: 'ReleaseVersion', value: '1.34.0-18d04e52' });
    expect((await finish(eks, 'rocket', rocket.update?.id))?.status).toBe('Successful');
    const win = await send('win', { releaseVersion: '1.31-2025.03.04' });
    expect((await finish(eks, 'win', win.update?.id))?.status).toBe('Successful');
    expect(await errorName(send('win', { releaseVersion: '1.31-2025.02.12' }))).toBe('InvalidParameterException');
    const templates = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['mixed-rocket'] }));
    expect(templates.LaunchTemplates?.[0]?.LatestVersionNumber).toBe(1);
  });

  it('lists Fargate profiles, and puts managed, self-managed and Fargate nodes in the Kubernetes API', async () => {
    const { eks } = await start();
    expect((await eks.send(new ListFargateProfilesCommand({ clusterName: 'mixed' }))).fargateProfileNames).toEqual([
      'batch',
    ]);
    expect(
      (await eks.send(new DescribeFargateProfileCommand({ clusterName: 'mixed', fargateProfileName: 'batch' })))
        .fargateProfile,
    ).toMatchObject({ fargateProfileName: 'batch', clusterName: 'mixed', status: 'ACTIVE' });
    expect(
      await errorName(eks.send(new DescribeFargateProfileCommand({ clusterName: 'mixed', fargateProfileName: 'x' }))),
    ).toBe('ResourceNotFoundException');

    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'mixed' }));
    const core = kubeConfig(
      cluster?.endpoint as string,
      await eksToken('mixed'),
      cluster?.certificateAuthority?.data as string,
    ).makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items;
    const byGroup = (label: string, value: string) => nodes.filter((n) => n.metadata?.labels?.[label] === value);
    expect(byGroup('eks.amazonaws.com/nodegroup', 'graviton')[0]?.metadata?.labels).toMatchObject({
      'kubernetes.io/arch': 'arm64',
      'kubernetes.io/os': 'linux',
      'eks.amazonaws.com/capacityType': 'ON_DEMAND',
    });
    const win = byGroup('eks.amazonaws.com/nodegroup', 'win')[0];
    expect(win?.metadata?.labels?.['kubernetes.io/os']).toBe('windows');
    expect(win?.status?.nodeInfo?.operatingSystem).toBe('windows');
    const custom = byGroup('eks.amazonaws.com/nodegroup', 'custom');
    expect(custom.map((n) => n.metadata?.labels?.['eks.amazonaws.com/nodegroup-image'])).toEqual([
      CUSTOM_AMI,
      CUSTOM_AMI,
    ]);
    expect(custom[0]?.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.30\./);
    expect(byGroup('eks.amazonaws.com/nodegroup', 'rocket')[0]?.status?.nodeInfo?.osImage).toMatch(
      /^Bottlerocket OS 1\.32\.0/,
    );

    const fargate = byGroup('eks.amazonaws.com/compute-type', 'fargate');
    expect(fargate.map((n) => n.metadata?.name)).toEqual([
      expect.stringMatching(/^fargate-ip-/),
      expect.stringMatching(/^fargate-ip-/),
    ]);
    expect(fargate[0]?.spec?.taints).toContainEqual({
      key: 'eks.amazonaws.com/compute-type',
      value: 'fargate',
      effect: 'NoSchedule',
    });
    // Self-managed nodes: the kubelet's labels only, none of EKS's.
    const selfManaged = nodes.filter(
      (n) => !Object.keys(n.metadata?.labels ?? {}).some((k) => k.startsWith('eks.amazonaws.com/')),
    );
    expect(selfManaged.map((n) => n.status?.nodeInfo?.kubeletVersion?.slice(0, 6))).toEqual(['v1.29.', 'v1.29.']);
    expect(nodes).toHaveLength(2 + 1 + 1 + 1 + 1 + 2 + 2 + 2);
    const pods = (await core.listPodForAllNamespaces()).items;
    expect(pods.filter((p) => fargate.some((n) => n.metadata?.name === p.spec?.nodeName))).toHaveLength(2);
  });
});
