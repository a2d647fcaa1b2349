/**
 * Node AMIs per family, architecture and region in the pure parts: what the campaign asks to pin
 * (pinRequest), the offline plan's refusal of AL2 past 1.32, each node group's target in the
 * cluster plan (planUpgrade) and preflight's AMI findings. No Temporal server, no simulator.
 */
import { describe, expect, it } from 'vitest';
import { nodegroupAmiFindings } from '../../activities/eks/preflight-amis';
import type { NodegroupState, PinnedVersions, PreflightResult } from '../../activities/types';
import { clusterInventorySchema, toFleetMember } from '../../domain/fleet';
import type { AmiType } from '../../domain/node-models';
import { nodegroupsWithoutAmi, planClusterVersions } from '../../domain/versions';
import { pinRequest, setUpCampaign } from '../../workflows/campaign/planning';
import { planUpgrade } from '../../workflows/cluster-upgrade/plan';
import type { ClusterUpgradeInput } from '../../workflows/definitions';
import { campaign, member } from './fixtures';

const REGION = 'eu-west-1';

const PINNED: PinnedVersions = {
  kubernetesVersion: '1.33',
  nodegroupRelease: { '1.33': '1.33.1-20250601' },
  amis: {
    [REGION]: {
      AL2023_x86_64_STANDARD: { '1.33': '1.33.1-20250601', '1.32': '1.32.5-20250601' },
      AL2023_ARM_64_STANDARD: { '1.33': '1.33.1-20250601' },
      AL2023_x86_64_NVIDIA: { '1.33': '1.33.1-20250601' },
      BOTTLEROCKET_ARM_64: { '1.33': '1.34.0-18d04e52' },
      WINDOWS_CORE_2022_x86_64: { '1.33': '1.33-2025.06.01' },
    },
    'us-east-1': { AL2023_x86_64_STANDARD: { '1.33': '1.33.1-20250602' } },
  },
  customAmis: { [REGION]: { arm64: { '1.33': 'ami-0aaaaaaaaaaaaaaa1' } } },
  addons: {},
  resolvedAt: '2026-01-01T00:00:00Z',
};

function ng(name: string, amiType: AmiType | undefined, over: Partial<NodegroupState> = {}): NodegroupState {
  return { name, version: '1.32', status: 'ACTIVE', ...(amiType ? { amiType } : {}), ...over };
}

function upgradeInput(pinned: PinnedVersions, targetVersion?: string): ClusterUpgradeInput {
  const { spec } = campaign({ waves: [{ name: 'all' }], target: { kubernetesVersion: targetVersion } });
  return {
    campaign: 'c',
    cluster: { name: 'alpha', region: REGION },
    ...(targetVersion ? { targetVersion } : {}),
    pinned,
    spec,
    attempt: 1,
  };
}

function preflight(nodegroups: NodegroupState[], version = '1.32', path = ['1.33']): PreflightResult {
  return {
    state: { name: 'alpha', version, status: 'ACTIVE', nodegroups, addons: [] },
    path,
    blockers: [],
    warnings: [],
  };
}

describe('fleet members carry each node group amiType', () => {
  it('defaults to AL2023 x86_64 standard, CUSTOM when the launch template names an image', () => {
    const m = toFleetMember(
      clusterInventorySchema.parse({
        name: 'alpha',
        region: REGION,
        account: '111122223333',
        version: '1.32',
        nodegroups: [
          { name: 'plain' },
          { name: 'graviton', amiType: 'BOTTLEROCKET_ARM_64' },
          { name: 'custom', launchTemplate: { name: 'lt', version: '4', imageId: 'ami-0123456789abcdef0' } },
          { name: 'templated', launchTemplate: { name: 'lt2', version: '1' } },
        ],
      }),
    );
    expect(m.nodegroups.map((n) => [n.name, n.amiType])).toEqual([
      ['plain', 'AL2023_x86_64_STANDARD'],
      ['graviton', 'BOTTLEROCKET_ARM_64'],
      ['custom', 'CUSTOM'],
      ['templated', 'AL2023_x86_64_STANDARD'],
    ]);
  });
});

describe('pinRequest asks per region for the amiTypes in use and the minors they will run', () => {
  const withTypes = (name: string, region: string, types: (AmiType | undefined)[], version = '1.32') => {
    const m = member(name, { region, version, nodegroups: types.map((_, i) => ({ name: `ng-${i}` })) });
    return { ...m, nodegroups: m.nodegroups.map((n, i) => ({ ...n, ...(types[i] ? { amiType: types[i] } : {}) })) };
  };

  it('an upgrade: every node group ends at the target minor', () => {
    const fleet = [
      withTypes('a', REGION, ['BOTTLEROCKET_ARM_64', 'AL2023_x86_64_STANDARD']),
      withTypes('b', 'us-east-1', ['CUSTOM', undefined]),
    ];
    const c = campaign({ waves: [{ name: 'all' }], target: { kubernetesVersion: '1.33' } });
    const plan = setUpCampaign(c, fleet);
    expect(pinRequest(c, plan.placed, plan.paths)?.amis).toEqual({
      [REGION]: { AL2023_x86_64_STANDARD: ['1.33'], BOTTLEROCKET_ARM_64: ['1.33'] },
      'us-east-1': { AL2023_x86_64_STANDARD: ['1.33'], CUSTOM: ['1.33'] },
    });
  });

  it('a patch-only campaign: every node group keeps its minor', () => {
    const fleet = [
      withTypes('a', REGION, ['WINDOWS_CORE_2022_x86_64'], '1.31'),
      withTypes('b', REGION, ['WINDOWS_CORE_2022_x86_64', 'AL2_ARM_64'], '1.32'),
    ];
    const c = campaign({ waves: [{ name: 'all' }], target: {} });
    const plan = setUpCampaign(c, fleet);
    expect(pinRequest(c, plan.placed, plan.paths)?.amis).toEqual({
      [REGION]: { AL2_ARM_64: ['1.32'], WINDOWS_CORE_2022_x86_64: ['1.31', '1.32'] },
    });
  });
});

describe('Amazon Linux 2 ends with 1.32', () => {
  it('the offline plan refuses a cluster with AL2 node groups past 1.32 and says what to change', () => {
    const m = member('a', { version: '1.32' });
    const al2 = { ...m, nodegroups: m.nodegroups.map((n) => ({ ...n, amiType: 'AL2_x86_64' as const })) };
    expect(planClusterVersions(al2, '1.32').refusal).toBeUndefined();
    const refusal = planClusterVersions(al2, '1.33').refusal ?? '';
    expect(refusal).toContain('ng-0 (AL2_x86_64)');
    expect(refusal).toContain('AL2023 or Bottlerocket');
    expect(refusal).toContain("EKS cannot change a node group's amiType");
    // A member from a campaign started before amiTypes were carried is not refused.
    expect(planClusterVersions(m, '1.33').refusal).toBeUndefined();
    expect(nodegroupsWithoutAmi([{ name: 'x', amiType: 'BOTTLEROCKET_x86_64' }], '1.34')).toEqual([]);
  });

  it('preflight refuses the hop for AL2 node groups as EKS reports them', () => {
    const findings = nodegroupAmiFindings(
      preflight([ng('old', 'AL2_ARM_64'), ng('new', 'AL2023_ARM_64_STANDARD')]).state,
      {
        cluster: { name: 'alpha', region: REGION },
        targetVersion: '1.33',
        pinned: PINNED,
      },
    );
    expect(findings.blockers).toHaveLength(1);
    expect(findings.blockers[0]).toMatch(
      /^node group old \(AL2_ARM_64\): Amazon Linux 2 AMIs end with Kubernetes 1\.32/,
    );
  });
});

describe('planUpgrade takes each node group to the release pinned for its amiType and region', () => {
  it('one node group per family, each with its own release; CUSTOM with its image', () => {
    const pre = preflight([
      ng('x86', 'AL2023_x86_64_STANDARD'),
      ng('graviton', 'AL2023_ARM_64_STANDARD'),
      ng('gpu', 'AL2023_x86_64_NVIDIA'),
      ng('bottlerocket', 'BOTTLEROCKET_ARM_64'),
      ng('windows', 'WINDOWS_CORE_2022_x86_64'),
      ng('custom', 'CUSTOM', {
        arch: 'arm64',
        imageId: 'ami-0bbbbbbbbbbbbbbb2',
        launchTemplate: { id: 'lt-1', version: '7' },
      }),
      ng('unknown', undefined),
    ]);
    const plan = planUpgrade(upgradeInput(PINNED, '1.33'), pre);
    expect(plan.nodegroups.map((n) => [n.previous.name, n.version, n.releaseVersion, n.imageId])).toEqual([
      ['x86', '1.33', '1.33.1-20250601', undefined],
      ['graviton', '1.33', '1.33.1-20250601', undefined],
      ['gpu', '1.33', '1.33.1-20250601', undefined],
      ['bottlerocket', '1.33', '1.34.0-18d04e52', undefined],
      ['windows', '1.33', '1.33-2025.06.01', undefined],
      // No version or release with a custom AMI; the previous launch-template version is the way back.
      ['custom', undefined, undefined, 'ami-0aaaaaaaaaaaaaaa1'],
      ['unknown', '1.33', '1.33.1-20250601', undefined],
    ]);
    expect(plan.nodegroups.find((n) => n.previous.name === 'custom')?.previous.launchTemplate?.version).toBe('7');
  });

  it('a patch-only campaign leaves node groups already at their pinned release or image alone', () => {
    const pinned: PinnedVersions = {
      ...PINNED,
      kubernetesVersion: undefined,
      amis: {
        [REGION]: {
          AL2023_x86_64_STANDARD: { '1.32': '1.32.5-20250601' },
          BOTTLEROCKET_ARM_64: { '1.32': '1.32.0-cacc4ce9' },
        },
      },
      customAmis: { [REGION]: { x86_64: { '1.32': 'ami-0ccccccccccccccc3' } } },
    };
    const pre = preflight(
      [
        ng('current', 'AL2023_x86_64_STANDARD', { releaseVersion: '1.32.5-20250601' }),
        ng('behind', 'AL2023_x86_64_STANDARD', { releaseVersion: '1.32.1-20250101' }),
        ng('br-current', 'BOTTLEROCKET_ARM_64', { releaseVersion: '1.32.0-cacc4ce9' }),
        ng('custom-current', 'CUSTOM', { arch: 'x86_64', imageId: 'ami-0ccccccccccccccc3' }),
        ng('custom-behind', 'CUSTOM', { arch: 'x86_64', imageId: 'ami-0ddddddddddddddd4' }),
        ng('windows-unpinned', 'WINDOWS_CORE_2022_x86_64', { releaseVersion: '1.32-2025.01.01' }),
      ],
      '1.32',
      [],
    );
    const plan = planUpgrade(upgradeInput(pinned), pre);
    expect(plan.nodegroups.map((n) => [n.previous.name, n.version, n.releaseVersion, n.imageId])).toEqual([
      ['behind', undefined, '1.32.5-20250601', undefined],
      ['custom-behind', undefined, undefined, 'ami-0ccccccccccccccc3'],
    ]);
  });

  it('a CUSTOM node group with no image pinned for its architecture is skipped with the reason', () => {
    const pre = preflight([ng('custom', 'CUSTOM', { arch: 'x86_64', imageId: 'ami-0bbbbbbbbbbbbbbb2' })]);
    const plan = planUpgrade(upgradeInput(PINNED, '1.33'), pre);
    expect(plan.nodegroups).toEqual([]);
    expect(plan.skipped).toContainEqual({
      step: 'nodegroup custom',
      status: 'skipped',
      detail: `no custom AMI pinned for ${REGION} x86_64 Kubernetes 1.33 (spec.target.customAmis)`,
    });
  });

  it('campaigns pinned before per-family pins read nodegroupRelease, as they did', () => {
    const legacy: PinnedVersions = {
      nodegroupRelease: { '1.33': '1.33.0-20250501' },
      addons: {},
      resolvedAt: PINNED.resolvedAt,
    };
    const plan = planUpgrade(upgradeInput(legacy, '1.33'), preflight([ng('workers', undefined)]));
    expect(plan.nodegroups.map((n) => [n.version, n.releaseVersion])).toEqual([['1.33', '1.33.0-20250501']]);
  });
});

describe('preflight AMI findings', () => {
  it('refuses a CUSTOM node group without a pinned image, naming the field, and warns about unpinned types', () => {
    const findings = nodegroupAmiFindings(
      preflight([
        ng('custom', 'CUSTOM', { arch: 'x86_64', imageId: 'ami-0bbbbbbbbbbbbbbb2' }),
        ng('custom-ok', 'CUSTOM', { arch: 'arm64', imageId: 'ami-0bbbbbbbbbbbbbbb2' }),
        ng('fips', 'BOTTLEROCKET_x86_64_FIPS'),
      ]).state,
      { cluster: { name: 'alpha', region: REGION }, targetVersion: '1.33', pinned: PINNED },
    );
    expect(findings.blockers).toEqual([
      `node group custom takes its AMI from its launch template, and no custom AMI is pinned for ${REGION} x86_64 Kubernetes 1.33: set spec.target.customAmis (images.${REGION}.x86_64, or a namePattern matching an image)`,
    ]);
    expect(findings.warnings).toEqual([
      `node group fips (BOTTLEROCKET_x86_64_FIPS): no AMI release pinned for it in ${REGION}; EKS picks its newest 1.33 release when the node group starts`,
    ]);
  });
});
