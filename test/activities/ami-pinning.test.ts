/**
 * Pinning node AMIs per region, EKS amiType and minor (activities/eks/pinning.ts) against the fleet
 * simulator's SSM public parameters and EC2 images, through the real AWS SDK clients.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amiReleaseSource } from '../../activities/eks/pinning';
import { FailureTypes, type ResolveTargetVersionsInput } from '../../activities/types';
import { targetSchema } from '../../domain/spec';
import { latestReleaseOf } from '../../simulator/ami-catalogue';
import { runActivity } from './activity-harness';
import { clusterEntry, startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;

beforeAll(async () => {
  h = await startSimHarness([clusterEntry('alpha')]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

function request(
  target: Record<string, unknown>,
  amis: ResolveTargetVersionsInput['amis'],
  minors = ['1.33'],
): ResolveTargetVersionsInput {
  return { target: targetSchema.parse(target), region: 'us-east-1', minors, addonNames: [], amis };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('AMI release sources per family', () => {
  it('names the SSM parameter each family documents', () => {
    expect(amiReleaseSource('AL2023_ARM_64_STANDARD', '1.31')).toEqual({
      kind: 'release',
      parameter: '/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/standard/recommended/release_version',
    });
    expect(amiReleaseSource('AL2023_x86_64_NEURON', '1.31')).toMatchObject({
      parameter: '/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/neuron/recommended/release_version',
    });
    expect(amiReleaseSource('AL2_x86_64_GPU', '1.32')).toMatchObject({
      parameter: '/aws/service/eks/optimized-ami/1.32/amazon-linux-2-gpu/recommended/release_version',
    });
    expect(amiReleaseSource('AL2_ARM_64', '1.33')).toMatchObject({ kind: 'none' });
    expect(amiReleaseSource('BOTTLEROCKET_ARM_64_NVIDIA', '1.31')).toMatchObject({
      parameter: '/aws/service/bottlerocket/aws-k8s-1.31-nvidia/arm64/latest/image_version',
    });
    expect(amiReleaseSource('BOTTLEROCKET_x86_64_FIPS', '1.31')).toMatchObject({
      parameter: '/aws/service/bottlerocket/aws-k8s-1.31-fips/x86_64/latest/image_version',
    });
    expect(amiReleaseSource('WINDOWS_FULL_2019_x86_64', '1.31')).toEqual({
      kind: 'windows',
      parameter: '/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-EKS_Optimized-1.31/image_id',
      namePrefix: 'Windows_Server-2019-English-Full-EKS_Optimized-',
    });
  });
});

describe('resolveTargetVersions per region and amiType (simulator)', () => {
  it('pins AL2023 x86_64 and arm64, NVIDIA, Neuron and Bottlerocket arm64 per region, and fills nodegroupRelease', async () => {
    const pinned = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.33' },
        {
          'us-east-1': {
            AL2023_x86_64_STANDARD: ['1.33'],
            AL2023_ARM_64_STANDARD: ['1.33'],
            AL2023_x86_64_NVIDIA: ['1.33'],
            AL2023_x86_64_NEURON: ['1.33'],
          },
          'eu-west-1': { BOTTLEROCKET_ARM_64: ['1.33'], AL2023_ARM_64_NVIDIA: ['1.33'] },
        },
        ['1.32', '1.33'],
      ),
    );
    expect(pinned.amis).toEqual({
      'eu-west-1': {
        AL2023_ARM_64_NVIDIA: { '1.33': latestReleaseOf('AL2023_ARM_64_NVIDIA', '1.33') },
        BOTTLEROCKET_ARM_64: { '1.33': latestReleaseOf('BOTTLEROCKET_ARM_64', '1.33') },
      },
      'us-east-1': {
        AL2023_ARM_64_STANDARD: { '1.33': latestReleaseOf('AL2023_ARM_64_STANDARD', '1.33') },
        AL2023_x86_64_NEURON: { '1.33': latestReleaseOf('AL2023_x86_64_NEURON', '1.33') },
        AL2023_x86_64_NVIDIA: { '1.33': latestReleaseOf('AL2023_x86_64_NVIDIA', '1.33') },
        AL2023_x86_64_STANDARD: { '1.33': latestReleaseOf('AL2023_x86_64_STANDARD', '1.33') },
      },
    });
    // Bottlerocket numbers its releases by OS version, not by Kubernetes patch.
    expect(pinned.amis?.['eu-west-1']?.BOTTLEROCKET_ARM_64?.['1.33']).toMatch(/^\d+\.\d+\.\d+-[0-9a-f]{8}$/);
    // Campaigns pinned before per-family pins read the first region's AL2023 x86_64 standard release.
    expect(pinned.nodegroupRelease).toEqual({ '1.33': latestReleaseOf('AL2023_x86_64_STANDARD', '1.33') });
    expect(pinned.customAmis).toBeUndefined();
  });

  it('pins AL2 up to 1.32 and refuses it past 1.32, naming the type, minor and region', async () => {
    const ok = await runActivity(
      h.activities.resolveTargetVersions,
      request({ kubernetesVersion: '1.32' }, { 'us-east-1': { AL2_ARM_64: ['1.32'], AL2_x86_64_GPU: ['1.32'] } }, [
        '1.32',
      ]),
    );
    expect(ok.amis?.['us-east-1']).toEqual({
      AL2_ARM_64: { '1.32': latestReleaseOf('AL2_ARM_64', '1.32') },
      AL2_x86_64_GPU: { '1.32': latestReleaseOf('AL2_x86_64_GPU', '1.32') },
    });
    const refused = await failureOf(
      runActivity(
        h.activities.resolveTargetVersions,
        request({ kubernetesVersion: '1.33' }, { 'eu-west-1': { AL2_x86_64: ['1.33'] } }),
      ),
    );
    expect(refused).toMatchObject({ type: FailureTypes.InvalidRequest, nonRetryable: true });
    expect(refused.message).toContain('AL2_x86_64');
    expect(refused.message).toContain('1.33');
    expect(refused.message).toContain('eu-west-1');
  });

  it('applies a pinned nodegroupRelease to the Amazon Linux types only; Bottlerocket takes its latest', async () => {
    const release = latestReleaseOf('AL2023_x86_64_STANDARD', '1.32') as string;
    const older = '1.32.0-20250101';
    const pinned = await runActivity(
      h.activities.resolveTargetVersions,
      request(
        { kubernetesVersion: '1.32', nodegroupRelease: older },
        { 'us-east-1': { AL2023_ARM_64_STANDARD: ['1.32'], BOTTLEROCKET_x86_64: ['1.32'] } },
        ['1.32'],
      ),
    );
    expect(release).not.toBe(older);
    expect(pinned.amis?.['us-east-1']).toEqual({
      AL2023_ARM_64_STANDARD: { '1.32': older },
      BOTTLEROCKET_x86_64: { '1.32': latestReleaseOf('BOTTLEROCKET_x86_64', '1.32') },
    });
  });

  it('keeps the region-only input of campaigns started before per-family pins', async () => {
    const pinned = await runActivity(
      h.activities.resolveTargetVersions,
      request({ kubernetesVersion: '1.32' }, undefined, ['1.32']),
    );
    expect(pinned.amis).toBeUndefined();
    expect(Object.keys(pinned.nodegroupRelease)).toEqual(['1.32']);
  });
});
