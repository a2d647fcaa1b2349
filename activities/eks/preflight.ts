/**
 * Preflight of one cluster before anything is touched: statuses, the control-plane path and the
 * node-group skew along it (domain/versions.ts), EKS upgrade insights, add-on compatibility on
 * every hop, and PDBs that allow no disruption (or the whole Kubernetes baseline when asked, and
 * with it the cluster's node models: Auto Mode, NodePools, Karpenter, self-managed nodes and
 * Fargate). Custom-AMI node groups get the image and architecture their launch template names.
 */
import { ListInsightsCommand, type Cluster, type EKSClient, type InsightSummary } from '@aws-sdk/client-eks';
import {
  deniedBlocker,
  describeNeed,
  needScopes,
  preflightNeeds,
  unansweredWarning,
  type KubernetesNeed,
} from '../../domain/access';
import { DEFAULT_AMI_TYPE, nodegroupReversibility } from '../../domain/node-models';
import { detectOwner, type Ownership } from '../../domain/ownership';
import { checkNodeSkew, compareMinor, firstSkewedHop, toMinor, upgradePath } from '../../domain/versions';
import { activityRuntime } from '../context';
import type { ClusterAccess, ResolvedDeps } from '../deps';
import type { AccessReview, KubernetesNodeModels } from '../kubernetes';
import type {
  ClusterRef,
  ClusterState,
  KubernetesBaseline,
  NodeModelsState,
  PreflightInput,
  PreflightResult,
} from '../types';
import {
  UPDATING,
  clusterAccess,
  compatibleAddonVersions,
  listAll,
  listFargateProfileNames,
  readClusterState,
  withCustomAmis,
} from './read';
import { nodegroupAmiFindings } from './preflight-amis';
import { karpenterFindings } from './preflight-karpenter';
import { listSelfManagedGroups, tagsOf } from '../self-managed';

/** Preflight needs one Kubernetes fact (PDBs that allow no disruption); kubernetes.ts provides it. */
export type BlockingPdbLister = (cluster: ClusterRef, access: ClusterAccess) => Promise<string[]>;

/**
 * What preflight asks of kubernetes.ts: the PDB drain risk, or the whole baseline when asked to
 * capture it, and then also the node models the cluster's API shows.
 */
export interface PreflightKubernetes {
  blockingPdbs: BlockingPdbLister;
  captureBaseline?: (cluster: ClusterRef, access: ClusterAccess) => Promise<KubernetesBaseline>;
  nodeModels?: (cluster: ClusterRef, access: ClusterAccess) => Promise<KubernetesNodeModels>;
  reviewAccess?: (
    cluster: ClusterRef,
    access: ClusterAccess,
    needs: readonly KubernetesNeed[],
  ) => Promise<AccessReview>;
}

/**
 * The cluster's node models besides managed node groups: Auto Mode from DescribeCluster (no extra
 * call), the rest from the Kubernetes API, which the baseline talks to anyway. ListFargateProfiles
 * is asked only when Fargate runs nodes: a profile without pods has nothing to upgrade, and the
 * bench counts preflight's EKS calls.
 */
async function detectNodeModels(
  client: EKSClient,
  name: string,
  cluster: Cluster,
  fromKubernetes: KubernetesNodeModels | undefined,
  signal?: AbortSignal,
): Promise<NodeModelsState> {
  const fargateProfiles =
    (fromKubernetes?.fargateNodes ?? 0) > 0 ? await listFargateProfileNames(client, name, signal) : [];
  return {
    autoMode: cluster.computeConfig?.enabled === true,
    nodePools: fromKubernetes?.nodePools ?? [],
    ...(fromKubernetes?.ownedNodeClasses ? { ownedNodeClasses: fromKubernetes.ownedNodeClasses } : {}),
    ...(fromKubernetes?.karpenterVersion ? { karpenterVersion: fromKubernetes.karpenterVersion } : {}),
    ...(fromKubernetes?.nodeClasses ? { nodeClasses: fromKubernetes.nodeClasses } : {}),
    selfManagedNodes: fromKubernetes?.selfManagedNodes ?? 0,
    fargateProfiles: [...fargateProfiles].sort(),
    ...(fromKubernetes?.oldestFargateKubelet ? { oldestFargateKubelet: fromKubernetes.oldestFargateKubelet } : {}),
  };
}

/**
 * Self-managed groups a tool owns, from their Auto Scaling group tags (domain/ownership.ts): read
 * only when the cluster runs self-managed nodes, so other clusters make no Auto Scaling call.
 */
async function ownedSelfManagedGroups(
  deps: ResolvedDeps,
  cluster: ClusterRef,
  models: NodeModelsState,
): Promise<{ name: string; owner: Ownership }[]> {
  if (models.selfManagedNodes === 0 || !deps.autoScaling) return [];
  const groups = await listSelfManagedGroups(deps.autoScaling(cluster), cluster.name);
  return groups
    .map((g) => ({ name: g.AutoScalingGroupName ?? '?', owner: detectOwner({ tags: tagsOf(g) }) }))
    .filter((g): g is { name: string; owner: Ownership } => g.owner !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Preflight's lines about node models: which node-group steps cannot be undone, what fleetwave leaves alone. */
export function nodeModelWarnings(state: ClusterState): string[] {
  const warnings: string[] = [];
  const irreversible = state.nodegroups.filter((ng) => !nodegroupReversibility(ng).reversible);
  if (irreversible.length > 0) {
    const rule = nodegroupReversibility(irreversible[0] ?? {});
    warnings.push(
      `node group${irreversible.length > 1 ? 's' : ''} ${irreversible.map((ng) => `${ng.name} (${ng.amiType ?? DEFAULT_AMI_TYPE})`).join(', ')}: an upgrade cannot be rolled back, EKS picks the AMI (${rule.source.title})`,
    );
  }
  for (const ng of state.nodegroups) {
    if (ng.amiType === 'CUSTOM' && !ng.imageId)
      warnings.push(
        `node group ${ng.name}: custom AMI of launch template version ${ng.launchTemplate?.version ?? '?'} not read`,
      );
  }
  const m = state.nodeModels;
  if (!m) return warnings;
  const later: string[] = [];
  const karpenterPools = m.nodePools.filter((p) => !p.autoMode);
  // A self-installed Karpenter's nodes are upgraded by the Karpenter node step (its EC2NodeClasses pinned and drifted).
  if (karpenterPools.length > 0 && m.autoMode)
    later.push(
      `Karpenter${m.karpenterVersion ? ` ${m.karpenterVersion}` : ''} (${karpenterPools.length} NodePool${karpenterPools.length === 1 ? '' : 's'})`,
    );
  if (later.length > 0) warnings.push(`detected, not upgraded by fleetwave: ${later.join('; ')}`);
  if (m.fargateProfiles.length > 0)
    warnings.push(
      `Fargate profiles ${m.fargateProfiles.join(', ')}: pods keep their kubelet until recreated; after a hop they are reported, or restarted under spec.nodes.fargate: restart`,
    );
  return warnings;
}

/**
 * A hop EKS would refuse because Fargate pods run too old a kubelet: a pod keeps the kubelet it
 * started with, and update-cluster.html allows managed and Fargate kubelets at most three minors
 * behind the control plane (EKS answers "Kubelet version of Fargate pods must be updated to match
 * cluster version …"). spec.nodes.fargate: restart restarts them only after the hops, too late for
 * this hop, so the fix is a restart before the campaign.
 */
export function fargateSkewBlocker(state: ClusterState, path: readonly string[]): string | undefined {
  const oldest = state.nodeModels?.oldestFargateKubelet;
  if (!oldest) return undefined;
  const skewed = firstSkewedHop(path, oldest);
  if (!skewed) return undefined;
  return (
    `control-plane hop to ${skewed.hop} would leave Fargate pods on Kubernetes ${oldest} more than 3 minors behind: ` +
    `EKS refuses it ("Kubelet version of Fargate pods must be updated to match cluster version"); ` +
    `restart the owners of the Fargate pods (kubectl rollout restart) so that they run ${state.version}, then start again`
  );
}

/**
 * `fleetwave doctor`'s RBAC check, for this cluster's plan: the permissions its node models will
 * use (domain/access.ts, preflightNeeds), asked of the API server. Its authorizers answer with the
 * access policies of the worker's access entry applied beside RBAC ("Amazon EKS authorizes the
 * principalArn" with the associated policies, in addition to the Roles its groups are bound to:
 * https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html, kubernetesGroups),
 * so neither ListAccessEntries nor STS is called: a worker role without eks:ListAccessEntries gets
 * the same answer. A refusal blocks the upgrade; a review that fails is a warning, since a failed
 * review says nothing about the permission, and the reads and writes that follow fail loudly if
 * they are refused.
 */
async function reviewPlanAccess(
  kube: PreflightKubernetes,
  input: PreflightInput,
  access: ClusterAccess,
  models: NodeModelsState | undefined,
): Promise<AccessReview> {
  if (!kube.reviewAccess) return { denied: [], unanswered: [] };
  const needs = preflightNeeds(models ? needScopes(models, input.fargateRestart === true) : undefined);
  if (needs.length === 0) return { denied: [], unanswered: [] };
  try {
    return await kube.reviewAccess(input.cluster, access, needs);
  } catch (err) {
    return { denied: [], unanswered: needs.map(describeNeed), error: err instanceof Error ? err.message : String(err) };
  }
}

/** The preflightCluster activity: blockers and warnings of one cluster towards `input.targetVersion`. */
export async function preflightCluster(
  deps: ResolvedDeps,
  kube: PreflightKubernetes | undefined,
  input: PreflightInput,
): Promise<PreflightResult> {
  const r = activityRuntime(deps.logger);
  const client = deps.eks(input.cluster);
  const name = input.cluster.name;
  const read = await readClusterState(client, name, deps.describeConcurrency, r.signal);
  const cluster = read.cluster;
  const blockers: string[] = [];
  const warnings: string[] = [];
  // The image a custom-AMI node group runs informs the plan; EC2 refusing to say (a role without
  // ec2:Describe*) is a warning, not a reason to stop the upgrade.
  let nodegroups = read.state.nodegroups;
  if (deps.ec2) {
    try {
      nodegroups = await withCustomAmis(deps.ec2(input.cluster), name, nodegroups, r.signal);
    } catch (err) {
      warnings.push(`could not read custom AMIs from EC2: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const state: ClusterState = { ...read.state, nodegroups };

  if (state.status === UPDATING) warnings.push(`cluster is UPDATING: the first step waits for or adopts that update`);
  else if (state.status !== 'ACTIVE') blockers.push(`cluster status is ${state.status}, not ACTIVE`);
  for (const issue of cluster.health?.issues ?? []) warnings.push(`cluster health: ${issue.code}: ${issue.message}`);

  let path: string[] = [];
  const finalMinor = input.targetVersion ?? toMinor(state.version) ?? state.version;
  if (input.targetVersion) {
    const route = upgradePath(state.version, input.targetVersion);
    if (route.ok) path = route.path;
    else blockers.push(`version path: ${route.reason}`);
  }

  for (const ng of state.nodegroups) {
    if (ng.status !== 'ACTIVE') {
      (ng.status === UPDATING ? warnings : blockers).push(`node group ${ng.name} is ${ng.status}`);
    }
    const now = checkNodeSkew(state.version, ng.version);
    if (!now.ok) blockers.push(`node group ${ng.name}: ${now.reason}`);
    const skewed = firstSkewedHop(path, ng.version);
    if (skewed) {
      blockers.push(
        `node group ${ng.name}: control-plane hop to ${skewed.hop}: ${skewed.reason}; upgrade the node group first`,
      );
    }
    if (now.ok && compareMinor(ng.version, state.version) < 0) {
      warnings.push(`node group ${ng.name} runs ${ng.version}, behind the control plane (${state.version})`);
    }
  }

  const amiFindings = nodegroupAmiFindings(state, input);
  blockers.push(...amiFindings.blockers);
  warnings.push(...amiFindings.warnings);

  if (path.length > 0) {
    const insights = await listAll<InsightSummary>(`ListInsights ${name}`, async (nextToken) => {
      const out = await client.send(
        new ListInsightsCommand({
          clusterName: name,
          filter: { categories: ['UPGRADE_READINESS'], kubernetesVersions: path },
          nextToken,
        }),
        { abortSignal: r.signal },
      );
      return { items: out.insights, nextToken: out.nextToken };
    });
    for (const insight of insights) {
      const status = insight.insightStatus?.status ?? 'UNKNOWN';
      const text = `insight "${insight.name}" (${insight.kubernetesVersion ?? path.join(',')}): ${status}${
        insight.insightStatus?.reason ? ` — ${insight.insightStatus.reason}` : ''
      }`;
      if (status === 'ERROR') blockers.push(text);
      else if (status === 'WARNING' || status === 'UNKNOWN') warnings.push(text);
    }
  }

  // Add-ons: each hop must find, for every installed add-on, a version compatible with it:
  // the pinned one where the campaign pins one, otherwise the installed one.
  const hops = path.length > 0 ? path : [finalMinor];
  for (const addon of state.addons) {
    if (addon.status !== 'ACTIVE') {
      (addon.status === UPDATING ? warnings : blockers).push(`add-on ${addon.name} is ${addon.status}`);
    }
    for (const hop of hops) {
      const pinned = input.pinned.addons[hop]?.[addon.name];
      const candidate = pinned ?? addon.version;
      const compatible = await compatibleAddonVersions(client, hop, addon.name, r.signal);
      if (!compatible.some((v) => v.version === candidate)) {
        blockers.push(
          pinned
            ? `add-on ${addon.name} ${pinned} (pinned) is not compatible with Kubernetes ${hop} in ${input.cluster.region}`
            : `add-on ${addon.name} ${addon.version} is not compatible with Kubernetes ${hop} and no version is pinned for it`,
        );
      } else if (pinned && pinned !== addon.version && !compatible.some((v) => v.version === addon.version)) {
        warnings.push(
          `add-on ${addon.name} ${addon.version} (installed) is not listed as compatible with Kubernetes ${hop}: update add-ons right after that hop`,
        );
      }
    }
  }

  // PDBs that allow no disruption are reported as data: whether they block depends on the plan
  // (are node groups drained at all? spec.nodegroups.force?), which the caller knows.
  let blockingPdbs: string[] | undefined;
  let baseline: KubernetesBaseline | undefined;
  if (input.captureBaseline && kube?.captureBaseline) {
    // The baseline must be taken before anything is touched: without it there is no upgrade.
    const access = clusterAccess(cluster);
    // Node models inform; unlike the baseline they never stop an upgrade (a role may not read NodePools).
    const [captured, fromKubernetes] = await Promise.all([
      kube.captureBaseline(input.cluster, access),
      kube.nodeModels?.(input.cluster, access).catch((err: unknown) => {
        warnings.push(`could not read node models: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }),
    ]);
    baseline = captured;
    blockingPdbs = baseline.blockingPdbs;
    state.nodeModels = await detectNodeModels(client, name, cluster, fromKubernetes, r.signal);
    const models = state.nodeModels;
    const [owned, permissions] = await Promise.all([
      ownedSelfManagedGroups(deps, input.cluster, models).catch((err: unknown) => {
        warnings.push(
          `could not read the owners of self-managed groups: ${err instanceof Error ? err.message : String(err)}`,
        );
        return [];
      }),
      // Node models unread: every permission is asked, since any may be needed.
      reviewPlanAccess(kube, input, access, fromKubernetes ? models : undefined),
    ]);
    if (owned.length > 0) models.ownedSelfManagedGroups = owned;
    const refused = deniedBlocker(permissions.denied);
    if (refused) blockers.push(refused);
    const unanswered = unansweredWarning(permissions.unanswered, permissions.error ?? 'no answer');
    if (unanswered) warnings.push(unanswered);
  } else if (kube) {
    try {
      blockingPdbs = await kube.blockingPdbs(input.cluster, clusterAccess(cluster));
    } catch (err) {
      warnings.push(`could not list PodDisruptionBudgets: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  warnings.push(...nodeModelWarnings(state));
  const fargate = fargateSkewBlocker(state, path);
  if (fargate) blockers.push(fargate);
  const karpenter = await karpenterFindings(deps, input.cluster, state, path, finalMinor, r.signal);
  blockers.push(...karpenter.blockers);
  warnings.push(...karpenter.warnings);

  r.log.info('Preflight', {
    cluster: name,
    path,
    blockers: blockers.length,
    warnings: warnings.length,
    blockingPdbs: blockingPdbs?.length,
  });
  return {
    state,
    path,
    blockers,
    warnings,
    ...(blockingPdbs ? { blockingPdbs } : {}),
    ...(baseline ? { baseline } : {}),
  };
}
