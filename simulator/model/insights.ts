/** EKS upgrade insights of a simulated cluster for its next minor, and rollback insights for its previous one. */
import {
  type AddonCatalogue,
  DURATIONS,
  compareMinor,
  deprecatedApiRemovedIn,
  isSimMinor,
  shiftMinor,
} from '../catalogue';
import { unit, uuidOf } from '../random';
import type { SimAddon, SimCluster, SimNodegroup } from './types';

/** One EKS upgrade insight as the simulator computes it. */
export interface InsightModel {
  id: string;
  name: string;
  category: 'UPGRADE_READINESS' | 'ROLLBACK_READINESS';
  kubernetesVersion: string;
  status: 'PASSING' | 'WARNING' | 'ERROR';
  reason: string;
  description: string;
  recommendation: string;
  lastRefreshTime: number;
  lastTransitionTime: number;
  deprecationDetails?: {
    usage: string;
    replacedWith: string;
    stopServingVersion: string;
    startServingReplacementVersion: string;
    clientStats: { userAgent: string; numberOfRequestsLast30Days: number; lastRequestTime: number }[];
  }[];
  addonCompatibilityDetails?: { name: string; compatibleVersions: string[] }[];
  resources?: { insightStatus: { status: string; reason: string }; kubernetesResourceUri?: string; arn?: string }[];
}

/**
 * Upgrade insights for the next minor, computed from the cluster as it is now (EKS refreshes
 * them daily; here they are always current): deprecated APIs (ERROR under the insightsError
 * fault), kubelet version skew (ERROR when a node group would fall more than 3 minors behind),
 * add-on compatibility (WARNING when an installed add-on does not run on the next minor) and
 * cluster health (PASSING).
 */
export function insightsFor(c: SimCluster, now: number, catalogue: AddonCatalogue): InsightModel[] {
  const next = shiftMinor(c.version, 1);
  if (!isSimMinor(next)) return rollbackInsightsFor(c, now, catalogue);
  const base = { category: 'UPGRADE_READINESS' as const, kubernetesVersion: next, lastRefreshTime: now };
  const out: InsightModel[] = [];

  const api = deprecatedApiRemovedIn(next);
  const apiError = c.faults.insightsError === true;
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'deprecated-apis', next),
    name: `Deprecated APIs removed in Kubernetes v${next}`,
    status: apiError ? 'ERROR' : 'PASSING',
    reason: apiError
      ? `Deprecated API usage detected within last 30 days and your cluster is on Kubernetes v${c.version}.`
      : 'No deprecated API usage detected within the last 30 days.',
    description: `Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes v${next}. Upgrading your cluster before migrating to the updated APIs supported by v${next} could cause application impact.`,
    recommendation: `Update manifests and API clients to use newer Kubernetes APIs if applicable before upgrading to Kubernetes v${next}.`,
    lastTransitionTime: apiError ? now : c.createdAt,
    deprecationDetails: [
      {
        usage: api.usage,
        replacedWith: api.replacedWith,
        stopServingVersion: next,
        startServingReplacementVersion: api.startServingReplacementVersion,
        clientStats: apiError
          ? [
              {
                userAgent: 'helm/v3.14.4',
                numberOfRequestsLast30Days: 1200 + Math.floor(unit(c.name, next) * 5000),
                lastRequestTime: now - 3600_000,
              },
            ]
          : [],
      },
    ],
    ...(apiError
      ? {
          resources: [
            {
              insightStatus: { status: 'ERROR', reason: `${api.usage} is removed in v${next}` },
              kubernetesResourceUri: `${api.usage}/example`,
            },
          ],
        }
      : {}),
  });

  const behind = c.nodegroups.filter((ng) => compareMinor(next, ng.version) > 3);
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'kubelet-skew', next),
    name: 'Kubelet version skew',
    status: behind.length > 0 ? 'ERROR' : 'PASSING',
    reason:
      behind.length > 0
        ? `Node groups ${behind.map((ng) => `${ng.name} (${ng.version})`).join(', ')} would be more than 3 minor versions behind v${next}.`
        : 'Node kubelet versions match the cluster control plane version or are within the allowed skew.',
    description:
      'Checks for worker nodes whose kubelet version would fall outside the supported skew after the upgrade.',
    recommendation:
      'Upgrade your worker nodes to a version within the supported skew of the target control-plane version.',
    lastTransitionTime: c.createdAt,
    ...kubeletResources(c, behind),
  });

  const addons = addonCompatibility(c, catalogue, base, {
    id: uuidOf(c.name, 'insight', 'addon-compatibility', next),
    recommendation: 'Upgrade the add-ons to a version compatible with the next Kubernetes version.',
    lastTransitionTime: c.createdAt,
  });
  out.push({
    ...addons.insight,
    addonCompatibilityDetails: addons.incompatible.map((a) => ({
      name: a.name,
      compatibleVersions: (catalogue.entry(a.name)?.versions ?? [])
        .filter((v) => v.compatible.includes(next))
        .map((v) => v.version),
    })),
  });

  out.push(...rollbackInsightsFor(c, now, catalogue));
  out.push({
    ...base,
    id: uuidOf(c.name, 'insight', 'cluster-health', next),
    name: 'Cluster health issues',
    status: 'PASSING',
    reason: 'No cluster health issues detected.',
    description: 'Checks for any cluster health issues that prevent a successful upgrade.',
    recommendation: 'Resolve cluster health issues before upgrading.',
    lastTransitionTime: c.createdAt,
  });
  return out;
}

/**
 * ROLLBACK_READINESS insights for the minor the cluster was upgraded from, while EKS allows the
 * VersionRollback (an in-place upgrade less than 7 days ago). "Rollback cluster to previous
 * Kubernetes version" (docs.aws.amazon.com/eks/latest/userguide/rollback-cluster.html) and the
 * rollback best practices (docs.aws.amazon.com/eks/latest/best-practices/rollback-cluster-upgrades.html)
 * name the checks: kubelet version skew (ERROR while a node runs a kubelet newer than the target:
 * a kubelet may not be newer than its API server; it stays PASSING while nodes are still on N-1)
 * and add-on version compatibility (WARNING here, as the upgrade insight). An ERROR blocks the
 * rollback unless `force` (rules-control-plane.ts).
 */
export function rollbackInsightsFor(c: SimCluster, now: number, catalogue: AddonCatalogue): InsightModel[] {
  const last = c.lastVersionChange;
  if (!last || last.type !== 'VersionUpdate' || last.to !== c.version || now - last.at > DURATIONS.rollbackWindowMs)
    return [];
  const to = last.from;
  const base = { category: 'ROLLBACK_READINESS' as const, kubernetesVersion: to, lastRefreshTime: now };
  const newer = c.nodegroups.filter((ng) => compareMinor(ng.version, to) > 0);
  return [
    {
      ...base,
      id: uuidOf(c.name, 'insight', 'rollback-kubelet-skew', to),
      name: 'Kubelet version skew',
      status: newer.length > 0 ? 'ERROR' : 'PASSING',
      reason:
        newer.length > 0
          ? `Node groups ${newer.map((ng) => `${ng.name} (${ng.version})`).join(', ')} run a kubelet newer than v${to}.`
          : `Node kubelet versions are at or below v${to}.`,
      description: `Checks for worker nodes whose kubelet would be newer than the control plane after a rollback to Kubernetes v${to}.`,
      recommendation: `Roll the node groups back to v${to} (UpdateNodegroupVersion) before rolling the control plane back.`,
      lastTransitionTime: last.at,
      ...kubeletResources(c, newer),
    },
    addonCompatibility(c, catalogue, base, {
      id: uuidOf(c.name, 'insight', 'rollback-addon-compatibility', to),
      recommendation: 'Roll the add-ons back to a version compatible with the previous Kubernetes version.',
      lastTransitionTime: last.at,
    }).insight,
  ];
}

/** The node groups a kubelet skew check flags, as the insight's resources (none: no field). */
function kubeletResources(c: SimCluster, flagged: SimNodegroup[]): Pick<InsightModel, 'resources'> {
  if (flagged.length === 0) return {};
  return {
    resources: flagged.map((ng) => ({
      insightStatus: { status: 'ERROR', reason: `kubelet ${ng.version}` },
      arn: `arn:aws:eks:${c.region}:${c.account}:nodegroup/${c.name}/${ng.name}/${ng.uid}`,
    })),
  };
}

/**
 * The add-on compatibility check against `base.kubernetesVersion` (the next minor for an upgrade,
 * the previous one for a rollback): WARNING while an installed add-on does not run on it.
 */
function addonCompatibility(
  c: SimCluster,
  catalogue: AddonCatalogue,
  base: Pick<InsightModel, 'category' | 'kubernetesVersion' | 'lastRefreshTime'>,
  check: Pick<InsightModel, 'id' | 'recommendation' | 'lastTransitionTime'>,
): { insight: InsightModel; incompatible: SimAddon[] } {
  const version = base.kubernetesVersion;
  const incompatible = c.addons.filter(
    (a) => catalogue.entry(a.name) !== undefined && !catalogue.compatible(a.name, a.version, version),
  );
  const insight: InsightModel = {
    ...base,
    id: check.id,
    name: 'Amazon EKS add-on version compatibility',
    status: incompatible.length > 0 ? 'WARNING' : 'PASSING',
    reason:
      incompatible.length > 0
        ? `Add-on versions not compatible with v${version}: ${incompatible.map((a) => `${a.name} ${a.version}`).join(', ')}.`
        : `All installed Amazon EKS add-ons are compatible with Kubernetes v${version}.`,
    description: `Checks version of installed EKS add-ons to ensure they are compatible with Kubernetes v${version}.`,
    recommendation: check.recommendation,
    lastTransitionTime: check.lastTransitionTime,
  };
  return { insight, incompatible };
}
