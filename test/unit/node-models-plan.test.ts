import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeModelsCell, nodeModelLines, renderPlanText } from '../../client/plan';
import { toFleetMember } from '../../domain/fleet';
import { parseFleet } from '../../domain/load';
import { buildPlan } from '../../domain/plan';
import { campaign } from './fixtures';

/** Four clusters: AL2023 x86/ARM, NVIDIA + custom AMI + Fargate, Auto Mode, Bottlerocket ARM + Karpenter + self-managed. */
function fleet() {
  const parsed = parseFleet(readFileSync(new URL('../fixtures/fleet-node-models.yaml', import.meta.url), 'utf8'));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value.clusters.map(toFleetMember);
}

const twoWaves = [{ name: 'dev', selector: { matchLabels: { env: 'dev' } } }, { name: 'prod' }];

describe('node models in the plan', () => {
  it('carries a compact cluster-level summary in the fleet member, absent when a cluster has none', () => {
    const members = fleet();
    expect(members.map((m) => [m.name, m.nodeModels])).toEqual([
      ['std', undefined],
      ['custom', { fargateProfiles: 1 }],
      ['auto', { autoMode: true, nodePools: 1 }],
      [
        'karp',
        { nodePools: 1, karpenter: '1.5.0', selfManagedGroups: 1, selfManagedAmiTypes: ['AL2023_x86_64_STANDARD'] },
      ],
    ]);
  });

  it('says per cluster what is upgraded, what follows the control plane, what is detected only, and what can be undone', () => {
    const plan = buildPlan(campaign({ waves: twoWaves }), fleet());
    const byName = new Map(plan.waves.flatMap((w) => w.clusters).map((c) => [c.name, c.nodeModels]));
    expect(byName.get('custom')).toEqual([
      expect.objectContaining({
        model: 'managed',
        amiType: 'AL2023_x86_64_NVIDIA',
        count: 1,
        action: 'upgrade',
        reversible: false,
      }),
      {
        model: 'managed',
        amiType: 'CUSTOM',
        count: 1,
        action: 'upgrade',
        reversible: true,
        rollback: 'previous launch-template version',
      },
      { model: 'fargate', count: 1, action: 'reported' },
    ]);
    expect(byName.get('auto')).toEqual([
      {
        model: 'auto-mode',
        count: 1,
        action: 'follows the control plane',
        reversible: false,
        rollback: 'not by fleetwave: spec.rollback.controlPlane is off',
      },
    ]);
    expect(byName.get('karp')?.map((m) => [m.model, m.action])).toEqual([
      ['managed', 'upgrade'],
      ['karpenter', 'pinned, held, drifted'],
      ['self-managed', 'instance refresh with drains'],
    ]);
    expect(plan.nodeModels).toEqual({
      managed: [
        { amiType: 'AL2023_ARM_64_STANDARD', nodegroups: 1, clusters: 1, reversible: false },
        { amiType: 'AL2023_x86_64_NVIDIA', nodegroups: 1, clusters: 1, reversible: false },
        { amiType: 'AL2023_x86_64_STANDARD', nodegroups: 1, clusters: 1, reversible: false },
        { amiType: 'BOTTLEROCKET_ARM_64', nodegroups: 1, clusters: 1, reversible: false },
        { amiType: 'CUSTOM', nodegroups: 1, clusters: 1, reversible: true },
      ],
      irreversibleNodegroupSteps: 4,
      clusters: { autoMode: 1, karpenter: 1, selfManaged: 1, fargate: 1 },
    });
  });

  it('Auto Mode goes back with the control plane where the spec opts in; skipped node groups are untouched and undo nothing', () => {
    const withRollback = buildPlan(campaign({ waves: twoWaves, rollback: { controlPlane: true } }), fleet());
    const auto = withRollback.waves.flatMap((w) => w.clusters).find((c) => c.name === 'auto');
    expect(auto?.nodeModels[0]).toMatchObject({
      reversible: true,
      rollback: "with the control plane's VersionRollback",
    });
    const skipping = buildPlan(
      campaign({ waves: twoWaves, target: { kubernetesVersion: '1.31', skipNodegroups: true } }),
      fleet(),
    );
    expect(skipping.nodeModels.irreversibleNodegroupSteps).toBe(0);
    expect(nodeModelLines(skipping)[0]).toMatch(/: untouched$/);
    expect(nodeModelLines(skipping).some((l) => l.startsWith('node-group rollback'))).toBe(false);
  });

  it('renders one compact cell per cluster and fleet-wide lines in the header', () => {
    const plan = buildPlan(campaign({ waves: twoWaves }), fleet());
    const cells = Object.fromEntries(
      plan.waves.flatMap((w) => w.clusters).map((c) => [c.name, nodeModelsCell(c.nodeModels)]),
    );
    expect(cells).toEqual({
      std: 'AL2023_ARM_64_STANDARD×1 no undo, AL2023_x86_64_STANDARD×1 no undo',
      custom: 'AL2023_x86_64_NVIDIA×1 no undo, CUSTOM×1 undo · Fargate report',
      auto: 'Auto Mode follows no undo',
      karp: 'BOTTLEROCKET_ARM_64×1 no undo · Karpenter 1.5.0 drift undo · self-managed×1 refresh undo',
    });
    const text = renderPlanText(plan);
    expect(text).toContain('node models of the clusters to upgrade:');
    expect(text).toContain(
      'node-group rollback: 4 node-group steps cannot be undone (EKS picks the AMI and cannot roll a node group back: Amazon EKS API Reference: UpdateNodegroupVersion); 1 can (custom AMI: previous launch-template version)',
    );
    expect(text).toContain(
      'Fargate: 1 cluster; pods keep their kubelet until recreated: those on an old kubelet after the hop are reported (spec.nodes.fargate: report)',
    );
    expect(text).toContain(
      'self-managed groups: 1 cluster; instance refresh to the pinned AMI, fleetwave drains each node first (PDBs honoured); rollback: RollbackInstanceRefresh while the refresh is still active; after it has ended, a refresh forward to the previous launch-template version',
    );
    expect(text).toContain(
      'Karpenter: 1 cluster; EC2NodeClasses pinned to the current AMIs and drift held over the hop',
    );
  });

  it('warns offline that preflight will block a Karpenter controller too old for the path', () => {
    const members = fleet().map((m) =>
      m.name === 'karp' ? { ...m, nodeModels: { ...m.nodeModels, karpenter: '1.2.0' } } : m,
    );
    const plan = buildPlan(campaign({ waves: twoWaves, target: { kubernetesVersion: '1.33' } }), members);
    const karp = plan.waves.flatMap((w) => w.clusters).find((c) => c.name === 'karp');
    expect(karp?.warnings ?? []).toContain(
      'preflight will block: Karpenter 1.2.0 does not support Kubernetes 1.33: upgrade the Karpenter controller to 1.5.0 or later first (https://karpenter.sh/docs/upgrading/compatibility/)',
    );
  });

  it('marks the clusters a control-plane bake keeps on a clean rollback path, and says so in the header', () => {
    const baked = buildPlan(
      campaign({ waves: twoWaves, rollback: { controlPlane: true, controlPlaneBake: '30m' } }),
      fleet(),
    );
    const clusters = baked.waves.flatMap((w) => w.clusters);
    expect(clusters.filter((c) => c.cleanRollbackPath).map((c) => c.name)).toEqual(
      clusters.filter((c) => c.path.length > 0).map((c) => c.name),
    );
    expect(clusters.some((c) => c.cleanRollbackPath)).toBe(true);
    expect(nodeModelLines(baked)).toContainEqual(
      expect.stringMatching(/^control-plane bake 30m: \d+ clusters? keeps? a clean rollback path/),
    );
    const noRollback = buildPlan(campaign({ waves: twoWaves, rollback: { controlPlaneBake: '30m' } }), fleet());
    expect(noRollback.waves.flatMap((w) => w.clusters).some((c) => c.cleanRollbackPath)).toBe(false);
    expect(nodeModelLines(noRollback)).toContainEqual(expect.stringMatching(/spec.rollback.controlPlane is off/));
  });
});
