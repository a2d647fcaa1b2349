/**
 * Node groups whose launch template names a custom AMI, and Windows releases, against the fleet
 * simulator's EC2 (images, launch templates) and EKS: pinning by map and by name pattern, and the
 * start of a custom-AMI node group (one new launch-template version, one update, however often
 * it runs).
 */
import { DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientRequestToken } from '../../activities/eks/start';
import { createImageVersion } from '../../activities/ec2';
import type { ResolveTargetVersionsInput } from '../../activities/types';
import { targetSchema } from '../../domain/spec';
import { latestReleaseOf } from '../../simulator/ami-catalogue';
import { OWNED_IMAGE_DATES, ownedImageId } from '../../simulator/model/ec2';
import { runActivity } from './activity-harness';
import { ACCOUNT, TEST_CREDENTIALS, clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

const REGION = 'us-east-1';
const FLEET_IMAGE = 'ami-0123456789abcdef0';
const NEWEST_DATE = OWNED_IMAGE_DATES[OWNED_IMAGE_DATES.length - 1] as string;
const owned = (minor: string, arch: string, date = NEWEST_DATE) =>
  ownedImageId(REGION, ACCOUNT, `acme-eks-${minor}-${arch}-${date}`);

let h: SimHarness;
let ec2: EC2Client;

function customCluster(name: string) {
  return clusterEntry(name, {
    version: '1.32',
    nodegroups: [
      {
        name: 'custom',
        nodes: 2,
        maxUnavailable: 1,
        launchTemplate: { name: `${name}-lt`, version: '2', imageId: FLEET_IMAGE },
      },
    ],
    addons: [],
  });
}

beforeAll(async () => {
  h = await startSimHarness([customCluster('custom-a'), customCluster('custom-b')]);
  ec2 = new EC2Client({ region: REGION, endpoint: h.sim.url, credentials: TEST_CREDENTIALS });
}, 60_000);

afterAll(async () => {
  ec2?.destroy();
  await h?.stop();
});

function request(
  target: Record<string, unknown>,
  amis: ResolveTargetVersionsInput['amis'],
): ResolveTargetVersionsInput {
  return { target: targetSchema.parse(target), region: REGION, minors: ['1.32'], addonNames: [], amis };
}

async function templateVersions(cluster: string): Promise<{ version: number; imageId?: string }[]> {
  const out = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: `${cluster}-lt`, Versions: ['$Latest'] }),
  );
  const latest = out.LaunchTemplateVersions?.[0]?.VersionNumber ?? 0;
  const all = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateName: `${cluster}-lt`,
      MinVersion: '1',
      MaxVersion: String(latest),
    }),
  );
  return (all.LaunchTemplateVersions ?? [])
    .map((v) => ({
      version: v.VersionNumber ?? 0,
      ...(v.LaunchTemplateData?.ImageId ? { imageId: v.LaunchTemplateData.ImageId } : {}),
    }))
    .sort((a, b) => a.version - b.version);
}

describe('custom AMIs and Windows releases (simulator)', () => {
  it('pins custom AMIs from the map as given, and from a name pattern as the newest image per architecture', async () => {
    const byMap = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.32', customAmis: { images: { [REGION]: { arm64: 'ami-0fedcba9876543210' } } } },
        { [REGION]: { CUSTOM: ['1.32'] } },
      ),
    );
    expect(byMap.customAmis).toEqual({ [REGION]: { arm64: { '1.32': 'ami-0fedcba9876543210' } } });

    const byPattern = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.32', customAmis: { namePattern: 'acme-eks-{minor}-{arch}-2025*' } },
        { [REGION]: { CUSTOM: ['1.32'], AL2023_x86_64_STANDARD: ['1.32'] } },
      ),
    );
    expect(byPattern.customAmis).toEqual({
      [REGION]: { x86_64: { '1.32': owned('1.32', 'x86_64') }, arm64: { '1.32': owned('1.32', 'arm64') } },
    });
    // The image the fleet file's launch templates name matches a broader pattern and is newer than the owned ones.
    const broader = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.32', customAmis: { namePattern: 'acme-eks-{minor}-{arch}-*' } },
        { [REGION]: { CUSTOM: ['1.32'] } },
      ),
    );
    expect(broader.customAmis?.[REGION]?.x86_64).toEqual({ '1.32': FLEET_IMAGE });
    expect(byPattern.amis?.[REGION]).toEqual({
      AL2023_x86_64_STANDARD: { '1.32': latestReleaseOf('AL2023_x86_64_STANDARD', '1.32') },
    });
  });

  it('pins Windows releases from the name of the image the SSM parameter names', async () => {
    const pinned = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.32' },
        { [REGION]: { WINDOWS_CORE_2022_x86_64: ['1.32'], WINDOWS_FULL_2019_x86_64: ['1.32'] } },
      ),
    );
    expect(pinned.amis?.[REGION]).toEqual({
      WINDOWS_CORE_2022_x86_64: { '1.32': latestReleaseOf('WINDOWS_CORE_2022_x86_64', '1.32') },
      WINDOWS_FULL_2019_x86_64: { '1.32': latestReleaseOf('WINDOWS_FULL_2019_x86_64', '1.32') },
    });
    expect(pinned.amis?.[REGION]?.WINDOWS_CORE_2022_x86_64?.['1.32']).toMatch(/^1\.32-\d{4}\.\d{2}\.\d{2}$/);
  });

  it('starting a custom-AMI node group twice creates one launch-template version and one update', async () => {
    const cluster = h.ref('custom-a');
    const imageId = owned('1.32', 'x86_64');
    const input = { campaign: 'spring', cluster, attempt: 1, nodegroup: 'custom', imageId, force: false };
    const first = await runActivity(h.activities.startNodegroupUpdate, input);
    const second = await runActivity(h.activities.startNodegroupUpdate, input);
    expect(first.updateId).toBeTruthy();
    expect(second.updateId).toBe(first.updateId);
    expect(await templateVersions('custom-a')).toEqual([
      { version: 1, imageId: FLEET_IMAGE },
      { version: 2, imageId: FLEET_IMAGE },
      { version: 3, imageId },
    ]);
    const updates = (await h.mutations('custom-a')).filter((m) => m.operation === 'UpdateNodegroupVersion');
    expect(updates).toHaveLength(1);
    expect(updates[0]?.target).toBe('lt:3');

    await runActivity(h.activities.awaitUpdate, { handle: first, timeoutMs: 60_000 });
    const after = await runActivity(h.activities.describeCluster, { cluster });
    expect(after.nodegroups[0]?.launchTemplate?.version).toBe('3');
    // Done: a later run finds the image in place and starts nothing.
    expect(await runActivity(h.activities.startNodegroupUpdate, input)).toMatchObject({ alreadyAtTarget: true });
    expect(await templateVersions('custom-a')).toHaveLength(3);
  });

  it('an attempt that created the version but did not start the update is retried without a second version', async () => {
    const cluster = h.ref('custom-b');
    const imageId = owned('1.32', 'arm64', OWNED_IMAGE_DATES[0]);
    const input = { campaign: 'spring', cluster, attempt: 1, nodegroup: 'custom', imageId, force: false };
    // What the first attempt did before it died: CreateLaunchTemplateVersion with the step's token.
    const lt = { name: 'custom-b-lt' };
    await createImageVersion(
      ec2,
      lt,
      '2',
      imageId,
      clientRequestToken(input, 'launch-template:custom', imageId),
      undefined,
      {
        description: `fleetwave: image ${imageId}`,
      },
    );
    expect(await templateVersions('custom-b')).toHaveLength(3);
    const handle = await runActivity(h.activities.startNodegroupUpdate, input);
    expect(handle.updateId).toBeTruthy();
    expect(await templateVersions('custom-b')).toHaveLength(3);
    // A retry-cluster (attempt 2, a fresh token) reuses the version fleetwave made for this image too.
    await runActivity(h.activities.awaitUpdate, { handle, timeoutMs: 60_000 });
    expect(await runActivity(h.activities.startNodegroupUpdate, { ...input, attempt: 2 })).toMatchObject({
      alreadyAtTarget: true,
    });
    const updates = (await h.mutations('custom-b')).filter((m) => m.operation === 'UpdateNodegroupVersion');
    expect(updates.map((m) => m.target)).toEqual(['lt:3']);
  });
});
