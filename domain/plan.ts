/**
 * The campaign plan: what `fleetwave plan` shows and `plan --json` prints, and what the
 * campaign workflow computes at its start. Pure: safe in workflows.
 *
 * Decision inputs: the validated campaign (every default filled in) and the fleet members.
 * Everything is derived from assignWaves (selection, skips, refusals, waves, warnings) and
 * estimateCampaign (ETA); this module adds the per-wave policy as it will apply (resolved
 * failure budget, effective approval), the risks it can see per cluster, and each cluster's node
 * models with what the campaign does to them and whether that can be undone.
 */
import { durationToMs, formatDuration, formatEstimate } from './duration';
import { estimateCampaign } from './estimate';
import type { FleetMember } from './fleet';
import { resolveCountOrPercent } from './freezes';
import { DEFAULT_AMI_TYPE, keepsCleanRollbackPath, memberNodegroupReversibility, type AmiType } from './node-models';
import { assessOwnership } from './ownership';
import { karpenterSupports } from './karpenter';
import { assessBlockingPdbs } from './pdbs';
import { describeSelector } from './selector';
import { SELF_MANAGED_ROLLBACK } from './self-managed';
import type { Campaign, CampaignSpec, WaveSpec } from './spec';
import { assignWaves, type ClusterNote } from './waves';
import { nominalWindowMs, windowsFor } from './windows';

/** Labels the plan shows per cluster (the rest stay in the fleet file). */
const SHOWN_LABELS = ['region', 'account', 'env'] as const;

export interface PlannedCluster {
  name: string;
  /** Control-plane minor now. */
  from: string;
  /** Control-plane hops; empty when only node groups / add-ons change. */
  path: string[];
  labels: Partial<Record<(typeof SHOWN_LABELS)[number], string>>;
  /** Lower bound of this cluster's upgrade. */
  estimateMs: number;
  /** Risks seen at plan time (blocking PDBs, windows too short); absent when none. */
  warnings?: string[];
  /** Its node models, what the campaign does to each, and whether that can be undone. */
  nodeModels: PlannedNodeModel[];
  /** What the fleet file says a tool owns (`managedBy`), e.g. "node group ng-1: argocd"; absent when nothing. */
  owners?: string[];
  /** True when a control-plane bake keeps its clean rollback path ({@link keepsCleanRollbackPath}). */
  cleanRollbackPath?: boolean;
}

/** What the campaign does to a node model of a cluster. */
export type NodeModelAction =
  | 'upgrade'
  | 'untouched'
  | 'follows the control plane'
  | 'reported'
  | 'instance refresh with drains'
  | 'pinned, held, drifted'
  | 'detected only (upgraded in a later release)';

/** One node model of a cluster: managed node groups of one amiType, Auto Mode, Karpenter, self-managed groups, Fargate. */
export interface PlannedNodeModel {
  model: 'managed' | 'auto-mode' | 'karpenter' | 'self-managed' | 'fargate';
  /** Managed node groups: their EKS amiType. */
  amiType?: AmiType;
  /** Karpenter: the controller's version. */
  version?: string;
  /** Node groups, custom NodePools, Auto Scaling groups or Fargate profiles. */
  count: number;
  action: NodeModelAction;
  /** Whether the campaign's change can be undone; absent when it changes nothing. */
  reversible?: boolean;
  /** How it is undone, or why it cannot be (domain/node-models.ts for node groups). */
  rollback?: string;
}

/** Fleet-wide totals over the clusters to upgrade: what `plan` prints for any fleet size. */
export interface PlannedNodeModelTotals {
  /** Managed node groups per amiType, and whether their step can be undone. */
  managed: { amiType: AmiType; nodegroups: number; clusters: number; reversible: boolean }[];
  /** Node-group steps that cannot be undone (0 when node groups are untouched). */
  irreversibleNodegroupSteps: number;
  /** Clusters per other node model. */
  clusters: { autoMode: number; karpenter: number; selfManaged: number; fargate: number };
}

export interface PlannedWave {
  name: string;
  index: number;
  /** The wave's selector in kubectl syntax, or "(rest)" when it has none. */
  selector: string;
  maxParallel: number;
  /** Failures tolerated in this wave, resolved against its size. */
  failureBudget: number;
  onBudgetExceeded: 'pause' | 'abort';
  soak: string;
  /** Effective rule: the last wave has nothing to promote to and is always "auto". */
  approval: 'required' | 'auto';
  clusters: PlannedCluster[];
  /** Lower bound of the wave, soak included. */
  estimateMs: number;
}

export interface PlannedCampaign {
  campaign: {
    name: string;
    /** Target minor, or undefined for a patch-only campaign. */
    target?: string;
    /** "Kubernetes 1.31" or "patch only (node AMIs, add-ons)". */
    targetDescription: string;
    nodegroupRelease: string;
    addons: string;
    selector: string;
    fleetSize: number;
    selected: number;
    toUpgrade: number;
    maxInFlight: number;
    rateLimit?: string;
    caps: string[];
    approvers: { users: string[]; minApprovals: number };
  };
  waves: PlannedWave[];
  skipped: ClusterNote[];
  refused: ClusterNote[];
  /** Selected clusters no wave takes. */
  unplaced: string[];
  warnings: string[];
  estimate: { totalMs: number; human: string; assumptions: string[] };
  nodeModels: PlannedNodeModelTotals;
  /**
   * The AMI pins as EKS and SSM publish them now, one line per region (`fleetwave plan` asks when
   * it can reach them), or why they could not be asked. Absent from plans built without AWS.
   */
  amiPins?: { regions?: string[]; unavailable?: string };
  /** spec.rollback.controlPlaneBake, when set, and whether a failed bake rolls the control plane back. */
  controlPlaneBake?: { duration: string; rollsBack: boolean };
}

/**
 * Failures a wave of `waveSize` clusters tolerates: a count is taken as is (capped at the
 * wave size), "N%" is N percent of the wave rounded down (so "10%" of 5 clusters is 0: a
 * small wave tolerates nothing unless it says so with a count).
 */
export function failureBudgetCount(budget: number | string, waveSize: number): number {
  if (typeof budget === 'number') return Math.max(0, Math.min(budget, waveSize));
  const percent = Number.parseFloat(budget);
  if (!Number.isFinite(percent) || percent <= 0) return 0;
  // The epsilon keeps 30% of 10 at 3 although 10 * 30 / 100 lands a hair under in floating point for some inputs.
  return Math.max(0, Math.min(waveSize, Math.floor((waveSize * percent) / 100 + 1e-9)));
}

/** The approval rule as it applies: the last wave never waits for an approval. */
export function effectiveApproval(
  spec: { waves: readonly Pick<WaveSpec, 'approval'>[] },
  index: number,
): 'required' | 'auto' {
  if (index >= spec.waves.length - 1) return 'auto';
  return spec.waves[index]?.approval ?? 'required';
}

function clusterWarnings(
  member: FleetMember,
  spec: CampaignSpec,
  estimateMs: number,
  path: readonly string[],
): string[] {
  const warnings: string[] = [];
  // Preflight refuses the same way (activities/eks/preflight-karpenter.ts); a pinned alias version
  // needs the EC2NodeClass and SSM, which only preflight reads.
  const m = member.nodeModels;
  if (m?.karpenter !== undefined && !m.autoMode && path.length > 0) {
    const supported = karpenterSupports(m.karpenter, path);
    if (!supported.ok) warnings.push(`preflight will block: ${supported.reason}`);
  }
  // Preflight decides the same way; a blocker here is the reason the cluster will be blocked.
  const pdbs = assessBlockingPdbs({
    pdbs: member.blockingPdbs,
    drainsNodes: !spec.target.skipNodegroups,
    force: spec.nodegroups.force,
  });
  warnings.push(...pdbs.blockers, ...pdbs.warnings);
  // What the fleet file says a tool owns, where the campaign would change it: preflight reads the
  // real marks (tags, annotations) and refuses the same way.
  const owned = assessOwnership(
    (member.owners ?? [])
      .filter((o) =>
        o.kind === 'node group'
          ? !spec.target.skipNodegroups
          : o.kind === 'NodePool'
            ? path.length > 0 && member.nodeModels?.karpenter !== undefined && !member.nodeModels.autoMode
            : false,
      )
      .map((o) => ({ what: `${o.kind} ${o.name}`, owner: { tool: o.tool, evidence: 'fleet file managedBy' } })),
    // Absent in campaigns started before spec.nodes.
    (spec as Partial<CampaignSpec>).nodes?.allowOwnedBy,
  );
  warnings.push(...owned.blockers, ...owned.warnings);
  const windows = windowsFor(member, spec.maintenanceWindows);
  if (windows.length > 0) {
    const longest = windows.reduce((max, w) => Math.max(max, nominalWindowMs(w)), 0);
    if (longest < estimateMs) {
      warnings.push(
        `estimated ${formatEstimate(estimateMs)} upgrade does not fit its longest maintenance window (${formatDuration(longest)}): it will never start`,
      );
    }
  }
  return warnings;
}

/**
 * A gate query without {{cluster}} measures one fleet-wide value for every cluster: legitimate
 * for a global SLO, but usually a forgotten placeholder, so it is a warning, not an error.
 */
function gateWarnings(spec: CampaignSpec): string[] {
  const names = (text: string) => /\{\{\s*cluster\s*\}\}/.test(text);
  return spec.healthGates.flatMap((gate) => {
    if (gate.query !== undefined && !names(gate.query)) {
      return [
        `health gate "${gate.name}": query has no {{cluster}}, so it measures the same fleet-wide value for every cluster`,
      ];
    }
    const cw = gate.provider?.cloudwatch;
    if (cw) {
      const values = [
        ...Object.values(cw.dimensions ?? {}),
        ...Object.values(cw.metrics ?? {}).flatMap((m) => Object.values(m.dimensions ?? {})),
      ];
      if (!values.some(names)) {
        return [
          `health gate "${gate.name}": no CloudWatch dimension value has {{cluster}}, so it measures the same value for every cluster of an account and region`,
        ];
      }
    }
    return [];
  });
}

/**
 * A cluster's node models and what the campaign does to each. Managed node groups are upgraded
 * (unless spec.target.skipNodegroups) and undone only as domain/node-models.ts allows; Auto Mode
 * nodes follow the control plane and go back with its rollback (spec.rollback.controlPlane);
 * a self-installed Karpenter's EC2NodeClasses are pinned and its nodes drifted in the node step;
 * self-managed groups get an instance refresh with fleetwave's drains when the campaign moves nodes
 * to a new minor (domain/self-managed.ts says how it is undone); Fargate pods on an old kubelet are
 * reported, or their owners restarted (spec.nodes.fargate).
 */
export function planNodeModels(member: FleetMember, spec: CampaignSpec, hops: number): PlannedNodeModel[] {
  const out: PlannedNodeModel[] = [];
  const byType = new Map<AmiType, number>();
  for (const ng of member.nodegroups) {
    const amiType = ng.amiType ?? DEFAULT_AMI_TYPE;
    byType.set(amiType, (byType.get(amiType) ?? 0) + 1);
  }
  for (const [amiType, count] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
    if (spec.target.skipNodegroups) {
      out.push({ model: 'managed', amiType, count, action: 'untouched' });
      continue;
    }
    const rule = memberNodegroupReversibility({ amiType });
    out.push({
      model: 'managed',
      amiType,
      count,
      action: 'upgrade',
      reversible: rule.reversible,
      rollback: rule.how ?? `not possible: ${rule.why}`,
    });
  }
  const m = member.nodeModels;
  if (m?.autoMode) {
    out.push({
      model: 'auto-mode',
      count: m.nodePools ?? 0,
      ...(hops > 0
        ? {
            action: 'follows the control plane' as const,
            reversible: spec.rollback.controlPlane,
            rollback: spec.rollback.controlPlane
              ? "with the control plane's VersionRollback"
              : 'not by fleetwave: spec.rollback.controlPlane is off',
          }
        : { action: 'untouched' as const }),
    });
  }
  const later = 'detected only (upgraded in a later release)' as const;
  if (m?.karpenter !== undefined) {
    out.push(
      m.autoMode
        ? { model: 'karpenter', version: m.karpenter, count: 0, action: later }
        : {
            model: 'karpenter',
            version: m.karpenter,
            count: m.nodePools ?? 0,
            // The AMI pin moves on every campaign (a patch-only one too); the node step can be undone.
            action: 'pinned, held, drifted',
            reversible: true,
            rollback: "the previous EC2NodeClass terms and the NodePools' budgets",
          },
    );
  }
  if (m?.selfManagedGroups) {
    out.push(
      hops > 0 && !spec.target.skipNodegroups
        ? {
            model: 'self-managed',
            count: m.selfManagedGroups,
            action: 'instance refresh with drains',
            reversible: true,
            rollback: SELF_MANAGED_ROLLBACK,
          }
        : { model: 'self-managed', count: m.selfManagedGroups, action: 'untouched' },
    );
  }
  if (m?.fargateProfiles) out.push(planFargate(m.fargateProfiles, spec, hops));
  return out;
}

/**
 * Fargate pods keep their kubelet until recreated: after a hop, spec.nodes.fargate `restart` restarts
 * their owners in the node step (not undone: the pods stay on the new kubelet), `report` lists them.
 */
function planFargate(count: number, spec: CampaignSpec, hops: number): PlannedNodeModel {
  if (hops === 0) return { model: 'fargate', count, action: 'untouched' };
  // Absent in campaigns started before spec.nodes: report.
  if ((spec as Partial<CampaignSpec>).nodes?.fargate !== 'restart')
    return { model: 'fargate', count, action: 'reported' };
  return {
    model: 'fargate',
    count,
    action: 'upgrade',
    reversible: false,
    rollback: 'not undone: restarted pods keep the new kubelet',
  };
}

/** Fleet-wide node-model totals over the planned clusters. */
export function nodeModelTotals(clusters: readonly Pick<PlannedCluster, 'nodeModels'>[]): PlannedNodeModelTotals {
  const managed = new Map<AmiType, { nodegroups: number; clusters: number; reversible: boolean }>();
  const totals: PlannedNodeModelTotals = {
    managed: [],
    irreversibleNodegroupSteps: 0,
    clusters: { autoMode: 0, karpenter: 0, selfManaged: 0, fargate: 0 },
  };
  for (const cluster of clusters) {
    for (const model of cluster.nodeModels) {
      if (model.model === 'managed' && model.amiType) {
        const entry = managed.get(model.amiType) ?? {
          nodegroups: 0,
          clusters: 0,
          reversible: memberNodegroupReversibility({ amiType: model.amiType }).reversible,
        };
        entry.nodegroups += model.count;
        entry.clusters++;
        managed.set(model.amiType, entry);
        if (model.reversible === false) totals.irreversibleNodegroupSteps += model.count;
      } else if (model.model === 'auto-mode') totals.clusters.autoMode++;
      else if (model.model === 'karpenter') totals.clusters.karpenter++;
      else if (model.model === 'self-managed') totals.clusters.selfManaged++;
      else if (model.model === 'fargate') totals.clusters.fargate++;
    }
  }
  totals.managed = [...managed]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([amiType, entry]) => ({ amiType, ...entry }));
  return totals;
}

function pick<T extends Record<string, string>>(labels: T): PlannedCluster['labels'] {
  const out: PlannedCluster['labels'] = {};
  for (const key of SHOWN_LABELS) {
    const value = labels[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Builds the plan of a validated campaign over a fleet. Deterministic for a given input. */
export function buildPlan(
  campaign: Campaign,
  members: readonly FleetMember[],
  current?: ReadonlyMap<string, string>,
): PlannedCampaign {
  const spec = campaign.spec;
  const waves = assignWaves(spec, members, current);
  const estimate = estimateCampaign(spec, waves, members);
  const byName = new Map(members.map((m) => [m.name, m]));
  const warnings = [...waves.warnings, ...gateWarnings(spec)];

  const plannedWaves: PlannedWave[] = waves.waves.map((assigned, i) => {
    const waveSpec = spec.waves[assigned.index];
    const clusters: PlannedCluster[] = assigned.clusters.map((name) => {
      const member = byName.get(name) as FleetMember;
      const estimateMs = estimate.clusterMs[name] ?? 0;
      const path = waves.paths[name] ?? [];
      const notes = clusterWarnings(member, spec, estimateMs, path);
      return {
        name,
        from: member.version,
        path,
        labels: pick(member.labels),
        estimateMs,
        ...(notes.length > 0 ? { warnings: notes } : {}),
        nodeModels: planNodeModels(member, spec, path.length),
        ...(member.owners ? { owners: member.owners.map((o) => `${o.kind} ${o.name}: ${o.tool}`) } : {}),
        ...(keepsCleanRollbackPath(spec, path.length) ? { cleanRollbackPath: true } : {}),
      };
    });
    const budget = failureBudgetCount(waveSpec?.failureBudget ?? 0, clusters.length);
    if (waveSpec && typeof waveSpec.failureBudget === 'string' && budget === 0 && clusters.length > 0) {
      const parsed = Number.parseFloat(waveSpec.failureBudget);
      if (parsed > 0) {
        warnings.push(
          `wave "${assigned.name}": failureBudget ${waveSpec.failureBudget} of ${clusters.length} cluster(s) rounds down to 0; one failure will ${waveSpec.onBudgetExceeded} the campaign`,
        );
      }
    }
    return {
      name: assigned.name,
      index: assigned.index,
      selector: waveSpec?.selector ? describeSelector(waveSpec.selector) : '(rest)',
      maxParallel: resolveCountOrPercent(waveSpec?.maxParallel ?? 1, clusters.length),
      failureBudget: budget,
      onBudgetExceeded: waveSpec?.onBudgetExceeded ?? 'pause',
      soak: waveSpec?.soak ?? '0s',
      approval: effectiveApproval(spec, i),
      clusters,
      estimateMs: estimate.waves[i]?.ms ?? 0,
    };
  });

  const toUpgrade = plannedWaves.reduce((n, w) => n + w.clusters.length, 0);
  const rate = spec.pacing.rateLimit;
  const target = spec.target.kubernetesVersion;
  return {
    campaign: {
      name: campaign.metadata.name,
      ...(target !== undefined ? { target } : {}),
      targetDescription: target !== undefined ? `Kubernetes ${target}` : 'patch only (node AMIs, add-ons)',
      nodegroupRelease: spec.target.skipNodegroups ? 'untouched' : spec.target.nodegroupRelease,
      addons: spec.target.skipAddons
        ? 'untouched'
        : typeof spec.target.addons === 'string'
          ? spec.target.addons
          : Object.entries(spec.target.addons)
              .map(([name, version]) => `${name}=${version}`)
              .join(', '),
      selector: describeSelector(spec.selector),
      fleetSize: byName.size,
      selected: byName.size - waves.unselected.length,
      toUpgrade,
      maxInFlight: spec.pacing.maxInFlight,
      ...(rate ? { rateLimit: `${rate.starts} per ${formatDuration(durationToMs(rate.per))}` } : {}),
      caps: spec.pacing.caps.map((c) => `${c.max} per ${c.labelKey}`),
      approvers: { users: [...spec.approvers.users], minApprovals: spec.approvers.minApprovals },
    },
    waves: plannedWaves,
    skipped: waves.skipped,
    refused: waves.refused,
    unplaced: waves.unplaced,
    warnings,
    estimate: { totalMs: estimate.totalMs, human: formatEstimate(estimate.totalMs), assumptions: estimate.assumptions },
    nodeModels: nodeModelTotals(plannedWaves.flatMap((w) => w.clusters)),
    ...(spec.rollback.controlPlaneBake
      ? { controlPlaneBake: { duration: spec.rollback.controlPlaneBake, rollsBack: spec.rollback.controlPlane } }
      : {}),
  };
}
