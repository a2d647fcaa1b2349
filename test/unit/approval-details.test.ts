/** What an approver sees for the next wave: per cluster, the node-group steps that cannot be undone. */
import { describe, expect, it } from 'vitest';
import type { FleetMember } from '../../domain/fleet';
import type { AmiType } from '../../domain/node-models';
import { campaignSchema, type CampaignInput } from '../../domain/spec';
import { approvalPrompt, irreversibleNodegroupSteps, renderDetails } from '../../workflows/campaign/details';
import { compareWithBaseline } from '../../domain/baseline';
import { setUpCampaign } from '../../workflows/campaign/planning';
import { CampaignMachine } from '../../workflows/campaign/state';

function member(name: string, amiTypes: (AmiType | undefined)[]): FleetMember {
  return {
    name,
    region: 'eu-west-1',
    account: '123456789012',
    labels: { region: 'eu-west-1', account: '123456789012' },
    version: '1.30',
    oldestNodeVersion: '1.30',
    nodegroups: amiTypes.map((amiType, i) => ({
      name: `ng-${i}`,
      version: '1.30',
      nodes: 3,
      maxUnavailable: 1,
      ...(amiType ? { amiType } : {}),
    })),
    addons: [],
    blockingPdbs: [],
  };
}

const T0 = Date.parse('2025-06-01T00:00:00Z');

/** A machine whose first wave (`canary`: cluster a) has run and awaits approval of the next. */
function awaiting(fleet: FleetMember[], spec: Partial<CampaignInput['spec']> = {}) {
  const campaign = campaignSchema.parse({
    apiVersion: 'fleetwave.io/v1alpha1',
    kind: 'UpgradeCampaign',
    metadata: { name: 'details' },
    spec: {
      target: { kubernetesVersion: '1.31' },
      bake: '0s',
      waves: [{ name: 'canary', count: 1 }, { name: 'rest' }],
      ...spec,
    },
  });
  const plan = setUpCampaign(campaign, fleet);
  const m = CampaignMachine.fromPlan(campaign, plan.placed, plan, T0, 'tester');
  m.pinVersions({ nodegroupRelease: {}, addons: {}, resolvedAt: 'x' });
  m.beginWaves(undefined);
  m.startWave(T0);
  for (const c of m.windowClusters(0)) {
    const attempt = m.markClusterStarted(c.name, 'canary', T0);
    m.childRunStarted(c.name, attempt, `run-${c.name}`);
    m.onFinished(
      { cluster: c.name, attempt, result: { cluster: c.name, outcome: 'upgraded', steps: [], gates: [] } },
      T0 + 1,
    );
  }
  m.endWindow(T0);
  m.beginSoak(0, T0);
  m.endSoak(T0);
  m.awaitApproval(T0);
  return m;
}

describe('approval details', () => {
  it('count per cluster of the next wave the node-group steps EKS cannot undo; custom AMIs are not counted', () => {
    const m = awaiting([
      member('a', [undefined]),
      member('b', ['BOTTLEROCKET_ARM_64', 'CUSTOM', undefined]),
      member('c', ['CUSTOM']),
    ]);
    expect(irreversibleNodegroupSteps(m, m.windowClusters(1))).toEqual([{ name: 'b', steps: 2 }]);
    expect(approvalPrompt(m)).toContain(
      '⚠️ **Node groups that cannot be rolled back:** wave `rest` has 2 node-group step(s) EKS cannot undo (it picks their AMI; Amazon EKS API Reference: UpdateNodegroupVersion): `b` 2.',
    );
  });

  it('say nothing of node groups when the campaign leaves them alone', () => {
    const m = awaiting([member('a', [undefined]), member('b', ['AL2023_ARM_64_STANDARD'])], {
      target: { kubernetesVersion: '1.31', skipNodegroups: true },
    });
    expect(approvalPrompt(m)).not.toContain('cannot be rolled back:');
  });

  it('name the clusters of the next wave that keep a clean rollback path through a control-plane bake', () => {
    const fleet = [member('a', [undefined]), member('b', [undefined]), member('c', [undefined])];
    const clean = awaiting(fleet, { rollback: { controlPlane: true, controlPlaneBake: '30m' } });
    expect(approvalPrompt(clean)).toContain(
      'Clean rollback path: 2 cluster(s) of wave `rest` bake their control plane for 30m before add-ons and nodes move; a failed bake rolls back the control plane alone.',
    );
    const off = awaiting(fleet, { rollback: { controlPlaneBake: '30m' } });
    expect(approvalPrompt(off)).toContain('but spec.rollback.controlPlane is off, so a failed bake rolls nothing back');
    expect(approvalPrompt(awaiting(fleet))).not.toContain('rollback path');
  });
});

describe('baseline comparisons in the details', () => {
  it('shows the numbers of each comparison of the current wave, failures first', () => {
    const m = awaiting([member('a', [undefined]), member('b', [undefined])]);
    const rule = { direction: 'increase' as const, minEffect: 0.2, effect: 'relative' as const, alpha: 0.05 };
    const result = (outcome: 'Successful' | 'Failed', current: number[]) => ({
      gate: 'vs-baseline',
      phase: 'soak' as const,
      outcome,
      measurements: 1,
      successes: outcome === 'Successful' ? 1 : 0,
      failures: outcome === 'Failed' ? 1 : 0,
      inconclusive: 0,
      errors: 0,
      message: 'm',
      comparison: compareWithBaseline([0.002, 0.002, 0.002], current, rule),
    });
    m.recordSoakResult(0, 'a', 'vs-baseline', result('Successful', [0.002, 0.002, 0.002]));
    m.recordSoakResult(0, 'b', 'vs-baseline', result('Failed', [0.05, 0.05, 0.05]));
    const details = renderDetails(m);
    expect(details).toContain('Baseline comparisons of wave `canary`:');
    const rows = details.split('\n').filter((l) => l.includes('| vs-baseline |'));
    expect(rows).toEqual([
      '| b | vs-baseline | Failed | 0.002 | 0.05 | +2400% | 9 | 0.05 | 3+3 |',
      '| a | vs-baseline | Successful | 0.002 | 0.002 | +0% | 4.5 | 1 | 3+3 |',
    ]);
  });
});
