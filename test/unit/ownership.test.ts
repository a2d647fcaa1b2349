import { describe, expect, it } from 'vitest';
import { assessOwnership, detectOwner, ownedRefusal } from '../../domain/ownership';

describe('detectOwner (the marks each tool leaves)', () => {
  it('nothing recognised: undefined', () => {
    expect(detectOwner({})).toBeUndefined();
    expect(
      detectOwner({ labels: { 'app.kubernetes.io/name': 'karpenter' }, tags: { team: 'platform', env: 'prod' } }),
    ).toBeUndefined();
    expect(detectOwner({ tags: { Terraform: 'false' } })).toBeUndefined();
    expect(detectOwner({ managers: ['kubectl-client-side-apply', 'karpenter'] })).toBeUndefined();
  });

  it('Argo CD annotation tracking wins over every other mark', () => {
    expect(
      detectOwner({
        annotations: {
          'argocd.argoproj.io/tracking-id': 'nodes:karpenter.sh/NodePool:/default',
          'meta.helm.sh/release-name': 'nodes',
        },
        labels: { 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'nodes' },
      }),
    ).toEqual({
      tool: 'argocd',
      evidence: 'annotation argocd.argoproj.io/tracking-id=nodes:karpenter.sh/NodePool:/default',
    });
  });

  it('Flux labels, kustomize or helm controller, before the Helm marks a HelmRelease also leaves', () => {
    expect(detectOwner({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'infra' } })).toEqual({
      tool: 'flux',
      evidence: 'label kustomize.toolkit.fluxcd.io/name=infra',
    });
    expect(
      detectOwner({
        labels: { 'helm.toolkit.fluxcd.io/name': 'karpenter-pools', 'app.kubernetes.io/managed-by': 'Helm' },
        annotations: { 'meta.helm.sh/release-name': 'karpenter-pools' },
      })?.tool,
    ).toBe('flux');
  });

  it('Helm: the release annotation helm install writes, or the managed-by label alone', () => {
    expect(
      detectOwner({
        labels: { 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'pools' },
        annotations: { 'meta.helm.sh/release-name': 'pools', 'meta.helm.sh/release-namespace': 'karpenter' },
      }),
    ).toEqual({ tool: 'helm', evidence: 'annotation meta.helm.sh/release-name=pools' });
    expect(detectOwner({ labels: { 'app.kubernetes.io/managed-by': 'Helm' } })).toEqual({
      tool: 'helm',
      evidence: 'label app.kubernetes.io/managed-by=Helm',
    });
  });

  it('Argo CD label tracking: the instance label without a Helm release annotation (helm template leaves managed-by)', () => {
    expect(detectOwner({ labels: { 'app.kubernetes.io/instance': 'nodes' } })).toEqual({
      tool: 'argocd',
      evidence: 'label app.kubernetes.io/instance=nodes (Argo CD label tracking)',
    });
    expect(
      detectOwner({ labels: { 'app.kubernetes.io/instance': 'nodes', 'app.kubernetes.io/managed-by': 'Helm' } })?.tool,
    ).toBe('argocd');
  });

  it('Terraform: the tag conventions, a managed-by label, or the Kubernetes provider’s field manager', () => {
    expect(detectOwner({ tags: { Terraform: 'true' } })).toEqual({ tool: 'terraform', evidence: 'tag Terraform=true' });
    expect(detectOwner({ tags: { ManagedBy: 'Terraform' } })?.evidence).toBe('tag ManagedBy=Terraform');
    expect(detectOwner({ tags: { 'managed-by': 'terraform-cloud' } })?.tool).toBe('terraform');
    expect(detectOwner({ labels: { 'app.kubernetes.io/managed-by': 'terraform' } })?.tool).toBe('terraform');
    expect(detectOwner({ managers: ['karpenter', 'Terraform'] })).toEqual({
      tool: 'terraform',
      evidence: 'field manager Terraform',
    });
  });

  it('an owner tag naming a GitOps tool (what an AWS resource can carry)', () => {
    expect(detectOwner({ tags: { ManagedBy: 'argocd' } })).toEqual({
      tool: 'argocd',
      evidence: 'tag ManagedBy=argocd',
    });
    expect(detectOwner({ tags: { 'managed-by': 'Argo-CD' } })?.tool).toBe('argocd');
    expect(detectOwner({ tags: { managed_by: 'fluxcd' } })?.tool).toBe('flux');
    expect(detectOwner({ tags: { ManagedBy: 'platform-team' } })).toBeUndefined();
  });

  it('the refusal names the tool, the evidence and the fix', () => {
    const text = ownedRefusal('node group ng-1', { tool: 'terraform', evidence: 'tag Terraform=true' });
    expect(text).toContain('node group ng-1 is owned by terraform (tag Terraform=true)');
    expect(text).toContain('spec.nodes.allowOwnedBy: [terraform]');
  });
});

describe('assessOwnership (preflight)', () => {
  const argo = { tool: 'argocd' as const, evidence: 'annotation argocd.argoproj.io/tracking-id=nodes:x' };
  const tf = { tool: 'terraform' as const, evidence: 'tag Terraform=true' };

  it('blocks each owned change, naming tool, evidence and fix', () => {
    const out = assessOwnership([
      { what: 'NodePool default', owner: argo },
      { what: 'node group ng-1', owner: tf },
    ]);
    expect(out.warnings).toEqual([]);
    expect(out.blockers).toHaveLength(2);
    expect(out.blockers[0]).toContain('NodePool default is owned by argocd');
    expect(out.blockers[1]).toContain('spec.nodes.allowOwnedBy: [terraform]');
  });

  it('allowOwnedBy lets the named tool through with a warning, and only that tool', () => {
    const out = assessOwnership(
      [
        { what: 'NodePool default', owner: argo },
        { what: 'node group ng-1', owner: tf },
      ],
      ['terraform'],
    );
    expect(out.blockers).toEqual([expect.stringContaining('NodePool default is owned by argocd')]);
    expect(out.warnings).toEqual([
      expect.stringContaining('node group ng-1 is owned by terraform (tag Terraform=true)'),
    ]);
  });

  it('nothing changed, nothing said', () => {
    expect(assessOwnership([], [])).toEqual({ blockers: [], warnings: [] });
  });
});

describe('plan shows what the fleet file says a tool owns', () => {
  it('lists owners and warns where the campaign would change them', async () => {
    const { buildPlan } = await import('../../domain/plan');
    const { toFleetMember, clusterInventorySchema } = await import('../../domain/fleet');
    const { campaignSchema } = await import('../../domain/spec');
    const member = toFleetMember(
      clusterInventorySchema.parse({
        name: 'c1',
        region: 'us-east-1',
        account: '111122223333',
        version: '1.29',
        nodegroups: [{ name: 'ng-1', nodes: 2, maxUnavailable: 1, managedBy: 'terraform' }],
        karpenter: { version: '1.5.0' },
        nodePools: [{ name: 'default', nodes: 2, managedBy: 'argocd' }],
      }),
    );
    const campaign = (allowOwnedBy: string[]) =>
      campaignSchema.parse({
        apiVersion: 'fleetwave.io/v1alpha1',
        kind: 'UpgradeCampaign',
        metadata: { name: 'own' },
        spec: {
          target: { kubernetesVersion: '1.30' },
          waves: [{ name: 'all', selector: {} }],
          nodes: { allowOwnedBy },
        },
      });
    const cluster = buildPlan(campaign([]), [member]).waves[0]?.clusters[0];
    expect(cluster?.owners).toEqual(['node group ng-1: terraform', 'NodePool default: argocd']);
    expect(cluster?.warnings).toEqual([
      expect.stringContaining('node group ng-1 is owned by terraform (fleet file managedBy)'),
      expect.stringContaining('NodePool default is owned by argocd (fleet file managedBy)'),
    ]);
    const allowed = buildPlan(campaign(['terraform']), [member]).waves[0]?.clusters[0];
    expect(allowed?.warnings).toEqual([
      expect.stringContaining('NodePool default is owned by argocd'),
      expect.stringMatching(/^node group ng-1 is owned by terraform .*changed under spec\.nodes\.allowOwnedBy/),
    ]);
  });
});
