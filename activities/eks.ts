/**
 * EKS activities through @aws-sdk/client-eks: describe, resolve pinned versions, preflight (with
 * the Kubernetes baseline when asked), start (control plane, add-on, node group), await an update,
 * update all add-ons in one call, and roll back, or keep what EKS cannot roll back (an add-on
 * version the control plane's minor does not support; a control plane under an add-on that needs
 * the newer minor) and say why.
 *
 * Retry safety. Temporal may run any of these twice (a timeout, a worker crash between the
 * EKS call and the recorded result). Every start is read-before-write:
 * 1. Describe the resource. At the requested version → `alreadyAtTarget`, nothing started.
 * 2. If it is UPDATING, look for the in-progress update (ListUpdates + DescribeUpdate). One
 *    towards the same version → adopt it. Another one → a retryable `ResourceInUse` failure.
 * 3. Otherwise start it with a `clientRequestToken` derived from campaign, cluster, step,
 *    target and attempt: EKS answers a repeated token with the original update.
 * So a retried start never issues a second upgrade of the same step.
 */
import { createHash } from 'node:crypto';
import {
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  ListAddonsCommand,
  ListInsightsCommand,
  ListNodegroupsCommand,
  ListUpdatesCommand,
  UpdateAddonCommand,
  UpdateClusterVersionCommand,
  UpdateNodegroupVersionCommand,
  type AddonInfo,
  type Cluster,
  type EKSClient,
  type InsightSummary,
  type Update,
} from '@aws-sdk/client-eks';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { checkNodeSkew, compareMinor, toMinor, upgradePath } from '../domain/versions';
import { activityRuntime, type ActivityRuntime } from './context';
import { mapLimit, type AwsTarget, type ClusterAccess, type ResolvedDeps } from './deps';
import { awsCall, awsErrorName, nonRetryable, toActivityFailure, withFailureContext } from './failures';
import {
  FailureTypes,
  type AddonState,
  type AwaitUpdateInput,
  type ClusterRef,
  type ClusterState,
  type AddonUpdateFailureDetails,
  type AddonUpdateResult,
  type DescribeClusterInput,
  type KeptResource,
  type KubernetesBaseline,
  type NodegroupState,
  type PinnedVersions,
  type PreflightInput,
  type PreflightResult,
  type ResolveTargetVersionsInput,
  type RollbackAddonInput,
  type RollbackControlPlaneInput,
  type RollbackNodegroupInput,
  type StartAddonUpdateInput,
  type StartControlPlaneUpgradeInput,
  type StartNodegroupUpdateInput,
  type StepIdentity,
  type UpdateAddonsInput,
  type UpdateAddonsProgress,
  type UpdateAddonsResult,
  type UpdateHandle,
  type UpdateOutcome,
} from './types';

/**
 * How add-ons are updated and rolled back: PRESERVE keeps values the cluster's owners changed
 * on fields EKS manages (vpc-cni env such as WARM_IP_TARGET, resource limits). OVERWRITE would
 * silently reset those across a whole fleet; NONE fails the update at the first conflict.
 * A rollback should change as little as possible, so it preserves too.
 */
export const ADDON_RESOLVE_CONFLICTS = 'PRESERVE' as const;

/** Heartbeat details of awaitUpdate: enough for a retried attempt to continue. */
export interface AwaitUpdateProgress {
  updateId: string;
  polls: number;
  lastStatus?: string;
  /** When the first attempt started polling (epoch ms): awaitUpdate's own deadline spans attempts. */
  startedAtMs: number;
}

/** Details of an `EksUpdateFailed` failure. */
export interface UpdateFailureDetails {
  updateId: string;
  status: string;
  updateType?: string;
  errors: { errorCode?: string; errorMessage?: string; resourceIds?: string[] }[];
}

/** Preflight needs one Kubernetes fact (PDBs that allow no disruption); kubernetes.ts provides it. */
export type BlockingPdbLister = (cluster: ClusterRef, access: ClusterAccess) => Promise<string[]>;

/** What preflight asks of kubernetes.ts: the PDB drain risk, or the whole baseline when asked to capture it. */
export interface PreflightKubernetes {
  blockingPdbs: BlockingPdbLister;
  captureBaseline?: (cluster: ClusterRef, access: ClusterAccess) => Promise<KubernetesBaseline>;
}

/** Just the step identity of a larger input (campaign, cluster, attempt), to derive tokens from. */
export function stepIdentity(input: StepIdentity): StepIdentity {
  return { campaign: input.campaign, cluster: input.cluster, attempt: input.attempt };
}

/**
 * Deterministic, UUID-shaped `clientRequestToken`: sha256 of
 * `fleetwave|campaign|cluster|step|target|attempt`, e.g. step `controlplane`,
 * `addon:vpc-cni`, `nodegroup:general`, `rollback-nodegroup:general`.
 */
export function clientRequestToken(id: StepIdentity, step: string, target: string): string {
  const hex = createHash('sha256')
    .update(['fleetwave', id.campaign, id.cluster.name, step, target, String(id.attempt)].join('|'))
    .digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Compares add-on versions such as "v1.18.1-eksbuild.1" numerically, part by part. */
export function compareAddonVersions(a: string, b: string): number {
  const parts = (v: string) => (v.match(/\d+/g) ?? []).map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

const UPDATING = 'UPDATING';
const MAX_UPDATES_SCANNED = 100;
const MAX_RESOURCE_IDS = 10;

function paramValue(update: Update, type: string): string | undefined {
  return update.params?.find((p) => p.type === type)?.value;
}

function nodegroupState(ng: NonNullable<Awaited<ReturnType<typeof describeNodegroupRaw>>>): NodegroupState {
  const lt = ng.launchTemplate;
  return {
    name: ng.nodegroupName ?? '',
    version: ng.version ?? '',
    ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
    status: ng.status ?? 'UNKNOWN',
    ...(lt && (lt.name || lt.id || lt.version)
      ? {
          launchTemplate: {
            ...(lt.name ? { name: lt.name } : {}),
            ...(lt.id ? { id: lt.id } : {}),
            ...(lt.version ? { version: lt.version } : {}),
          },
        }
      : {}),
    ...(ng.scalingConfig?.desiredSize !== undefined ? { desiredSize: ng.scalingConfig.desiredSize } : {}),
  };
}

async function describeNodegroupRaw(
  client: EKSClient,
  clusterName: string,
  nodegroupName: string,
  signal?: AbortSignal,
) {
  const out = await awsCall(`DescribeNodegroup ${clusterName}/${nodegroupName}`, () =>
    client.send(new DescribeNodegroupCommand({ clusterName, nodegroupName }), { abortSignal: signal }),
  );
  if (!out.nodegroup)
    throw nonRetryable(
      FailureTypes.NotFound,
      `DescribeNodegroup ${clusterName}/${nodegroupName}: no node group in the answer`,
    );
  return out.nodegroup;
}

async function describeAddonRaw(client: EKSClient, clusterName: string, addonName: string, signal?: AbortSignal) {
  const out = await awsCall(`DescribeAddon ${clusterName}/${addonName}`, () =>
    client.send(new DescribeAddonCommand({ clusterName, addonName }), { abortSignal: signal }),
  );
  if (!out.addon)
    throw nonRetryable(FailureTypes.NotFound, `DescribeAddon ${clusterName}/${addonName}: no add-on in the answer`);
  return out.addon;
}

/** DescribeCluster, failing with EksResourceNotFound when EKS answers without a cluster. */
export async function describeClusterRaw(client: EKSClient, name: string, signal?: AbortSignal): Promise<Cluster> {
  const out = await awsCall(`DescribeCluster ${name}`, () =>
    client.send(new DescribeClusterCommand({ name }), { abortSignal: signal }),
  );
  if (!out.cluster) throw nonRetryable(FailureTypes.NotFound, `DescribeCluster ${name}: no cluster in the answer`);
  return out.cluster;
}

/** Every page of a paginated list call. */
async function listAll<T>(
  what: string,
  page: (nextToken?: string) => Promise<{ items?: T[]; nextToken?: string }>,
): Promise<T[]> {
  const all: T[] = [];
  let nextToken: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const out = await awsCall(what, () => page(nextToken));
    all.push(...(out.items ?? []));
    nextToken = out.nextToken;
    if (!nextToken) break;
  }
  return all;
}

export async function listNodegroupNames(
  client: EKSClient,
  clusterName: string,
  signal?: AbortSignal,
): Promise<string[]> {
  return listAll(`ListNodegroups ${clusterName}`, async (nextToken) => {
    const out = await client.send(new ListNodegroupsCommand({ clusterName, nextToken }), { abortSignal: signal });
    return { items: out.nodegroups, nextToken: out.nextToken };
  });
}

export async function listAddonNames(client: EKSClient, clusterName: string, signal?: AbortSignal): Promise<string[]> {
  return listAll(`ListAddons ${clusterName}`, async (nextToken) => {
    const out = await client.send(new ListAddonsCommand({ clusterName, nextToken }), { abortSignal: signal });
    return { items: out.addons, nextToken: out.nextToken };
  });
}

/** Cluster, node groups and add-ons as they are now. */
export async function readClusterState(
  client: EKSClient,
  name: string,
  concurrency: number,
  signal?: AbortSignal,
): Promise<{ state: ClusterState; cluster: Cluster }> {
  const cluster = await describeClusterRaw(client, name, signal);
  const [ngNames, addonNames] = await Promise.all([
    listNodegroupNames(client, name, signal),
    listAddonNames(client, name, signal),
  ]);
  const nodegroups = await mapLimit(ngNames, concurrency, async (ng) =>
    nodegroupState(await describeNodegroupRaw(client, name, ng, signal)),
  );
  const addons = await mapLimit(addonNames, concurrency, async (a): Promise<AddonState> => {
    const addon = await describeAddonRaw(client, name, a, signal);
    return { name: addon.addonName ?? a, version: addon.addonVersion ?? '', status: addon.status ?? 'UNKNOWN' };
  });
  return {
    cluster,
    state: {
      name: cluster.name ?? name,
      version: cluster.version ?? '',
      ...(cluster.platformVersion ? { platformVersion: cluster.platformVersion } : {}),
      status: cluster.status ?? 'UNKNOWN',
      nodegroups,
      addons,
    },
  };
}

/** The Kubernetes endpoint and CA of a cluster (DescribeCluster). */
export function clusterAccess(cluster: Cluster): ClusterAccess {
  if (!cluster.endpoint) {
    throw ApplicationFailure.create({
      message: `cluster ${cluster.name} has no Kubernetes endpoint yet (status ${cluster.status})`,
      type: 'ClusterEndpointUnavailable',
      nonRetryable: false,
    });
  }
  return {
    endpoint: cluster.endpoint,
    ...(cluster.certificateAuthority?.data ? { certificateAuthority: cluster.certificateAuthority.data } : {}),
  };
}

interface UpdateScope {
  clusterName: string;
  nodegroupName?: string;
  addonName?: string;
}

function scopeLabel(scope: UpdateScope): string {
  return [scope.clusterName, scope.nodegroupName ?? scope.addonName].filter(Boolean).join('/');
}

/** The in-progress update of a resource, if any (EKS runs at most one per resource). */
async function findInProgressUpdate(
  client: EKSClient,
  scope: UpdateScope,
  signal?: AbortSignal,
): Promise<Update | undefined> {
  const label = scopeLabel(scope);
  const ids = await listAll(`ListUpdates ${label}`, async (nextToken) => {
    const out = await client.send(
      new ListUpdatesCommand({
        name: scope.clusterName,
        nodegroupName: scope.nodegroupName,
        addonName: scope.addonName,
        nextToken,
      }),
      { abortSignal: signal },
    );
    return { items: out.updateIds, nextToken: out.nextToken };
  });
  // Newest updates are the likeliest to be in progress; EKS lists oldest first.
  for (const updateId of ids.slice(-MAX_UPDATES_SCANNED).reverse()) {
    const update = await describeUpdate(client, scope, updateId, signal);
    if (update.status === 'InProgress') return update;
  }
  return undefined;
}

async function describeUpdate(
  client: EKSClient,
  scope: UpdateScope,
  updateId: string,
  signal?: AbortSignal,
): Promise<Update> {
  const out = await awsCall(`DescribeUpdate ${scopeLabel(scope)} ${updateId}`, () =>
    client.send(
      new DescribeUpdateCommand({
        name: scope.clusterName,
        updateId,
        nodegroupName: scope.nodegroupName,
        addonName: scope.addonName,
      }),
      { abortSignal: signal },
    ),
  );
  if (!out.update)
    throw nonRetryable(
      FailureTypes.NotFound,
      `DescribeUpdate ${scopeLabel(scope)} ${updateId}: no update in the answer`,
    );
  return out.update;
}

interface StartPlan {
  rt: ActivityRuntime;
  client: EKSClient;
  cluster: ClusterRef;
  scope: UpdateScope;
  /** What the step does, for messages: "control plane → 1.31". */
  what: string;
  /** Re-reads the resource: at target? updating? */
  read: () => Promise<{ atTarget: boolean; updating: boolean }>;
  /** Does an in-progress update go where we want to go? */
  matches: (update: Update) => boolean;
  start: () => Promise<Update | undefined>;
  /** Failure type for InvalidParameter/InvalidRequest on start (rollbacks: RollbackNotPossible). */
  invalidType?: string;
  /** Recognises EKS's "nothing to do" refusal where the target is implicit (latest AMI release). */
  alreadyDone?: (err: unknown) => boolean;
  /**
   * Rollbacks: asked after the read found nothing done and nothing to adopt, just before the
   * write. Answers why EKS cannot take the resource back from where it is, if it cannot.
   */
  keep?: () => Promise<KeptResource | undefined>;
}

function handle(plan: StartPlan, fields: Partial<UpdateHandle>): UpdateHandle {
  return {
    cluster: plan.cluster,
    ...(plan.scope.nodegroupName ? { nodegroup: plan.scope.nodegroupName } : {}),
    ...(plan.scope.addonName ? { addon: plan.scope.addonName } : {}),
    adopted: false,
    alreadyAtTarget: false,
    ...fields,
  };
}

function inUseFailure(plan: StartPlan, other: Update): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${plan.what} on ${scopeLabel(plan.scope)}: another update ${other.id} (${other.type}) is in progress`,
    type: 'ResourceInUseException',
    nonRetryable: false,
    details: [{ updateId: other.id, updateType: other.type }],
  });
}

/** Read-before-write start of one EKS update (see the module comment). */
async function startIdempotently(plan: StartPlan): Promise<UpdateHandle> {
  const { rt, client, scope } = plan;
  const current = await plan.read();
  if (current.atTarget) {
    rt.log.info('EKS step already at target', { cluster: plan.cluster.name, step: plan.what });
    return handle(plan, { alreadyAtTarget: true });
  }
  if (current.updating) {
    const inProgress = await findInProgressUpdate(client, scope, rt.signal);
    if (inProgress) {
      if (!plan.matches(inProgress)) throw inUseFailure(plan, inProgress);
      rt.log.info('Adopting EKS update in progress', {
        cluster: plan.cluster.name,
        step: plan.what,
        updateId: inProgress.id,
      });
      return handle(plan, { updateId: inProgress.id, adopted: true });
    }
  }
  const kept = await plan.keep?.();
  if (kept) {
    rt.log.info('EKS step kept', { cluster: plan.cluster.name, step: plan.what, reason: kept.reason });
    return handle(plan, { kept });
  }
  try {
    const update = await plan.start();
    rt.log.info('Started EKS update', { cluster: plan.cluster.name, step: plan.what, updateId: update?.id });
    return handle(plan, { ...(update?.id ? { updateId: update.id } : {}) });
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'ResourceInUseException') {
      const inProgress = await findInProgressUpdate(client, scope, rt.signal);
      if (inProgress && plan.matches(inProgress)) {
        return handle(plan, { updateId: inProgress.id, adopted: true });
      }
      if (inProgress) throw inUseFailure(plan, inProgress);
      throw toActivityFailure(err, `${plan.what} on ${scopeLabel(scope)}`);
    }
    if (name === 'InvalidParameterException' || name === 'InvalidRequestException') {
      // A concurrent attempt may have finished the step between our read and our write.
      const again = await plan.read();
      if (again.atTarget) return handle(plan, { alreadyAtTarget: true });
      if (plan.alreadyDone?.(err)) return handle(plan, { alreadyAtTarget: true });
      if (plan.invalidType) {
        throw nonRetryable(
          plan.invalidType,
          `${plan.what} on ${scopeLabel(scope)}: EKS refused: ${(err as Error).message}`,
          {
            awsError: name,
          },
        );
      }
    }
    throw toActivityFailure(err, `${plan.what} on ${scopeLabel(scope)}`);
  }
}

function updateFailure(scope: UpdateScope, update: Update): ApplicationFailure {
  const errors = (update.errors ?? []).map((e) => ({
    ...(e.errorCode ? { errorCode: e.errorCode } : {}),
    ...(e.errorMessage ? { errorMessage: e.errorMessage } : {}),
    ...(e.resourceIds?.length ? { resourceIds: e.resourceIds.slice(0, MAX_RESOURCE_IDS) } : {}),
  }));
  const codes = errors.map((e) => [e.errorCode, e.errorMessage].filter(Boolean).join(': ')).filter(Boolean);
  const details: UpdateFailureDetails = {
    updateId: update.id ?? '',
    status: update.status ?? 'Failed',
    ...(update.type ? { updateType: update.type } : {}),
    errors,
  };
  return ApplicationFailure.create({
    type: FailureTypes.UpdateFailed,
    nonRetryable: true,
    message: `EKS update ${update.id} (${update.type ?? 'update'}) of ${scopeLabel(scope)} ended ${update.status}${
      codes.length ? `: ${codes.join('; ')}` : ''
    }`,
    details: [details],
  });
}

function isProgress(value: unknown, updateId: string): value is AwaitUpdateProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<AwaitUpdateProgress>;
  return v.updateId === updateId && typeof v.polls === 'number' && typeof v.startedAtMs === 'number';
}

function isAddonsProgress(value: unknown, input: UpdateAddonsInput): value is UpdateAddonsProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<UpdateAddonsProgress>;
  if (typeof v.index !== 'number' || typeof v.polls !== 'number' || !Array.isArray(v.results)) return false;
  // Only progress of this very list: the results so far name its first add-ons, in order.
  return (
    v.index === v.results.length &&
    v.index <= input.addons.length &&
    v.results.every((x, i) => x?.addon === input.addons[i]?.name)
  );
}

/** A non-retryable failure of one add-on, with which add-on it was and which ones were done before it. */
function withAddonContext(err: unknown, addon: string, done: AddonUpdateResult[]): unknown {
  const context: AddonUpdateFailureDetails = { addon, updated: done.map((x) => x.addon) };
  return withFailureContext(err, { ...context });
}

function assertOneMinorUp(from: string, to: string, what: string): void {
  const fromMinor = toMinor(from);
  const toMinorVersion = toMinor(to);
  if (!fromMinor || !toMinorVersion) {
    throw nonRetryable(FailureTypes.VersionSkew, `${what}: "${from}" → "${to}" is not a Kubernetes minor version step`);
  }
  const distance = compareMinor(toMinorVersion, fromMinor);
  if (distance < 0)
    throw nonRetryable(FailureTypes.VersionSkew, `${what}: ${fromMinor} → ${toMinorVersion} is a downgrade`);
  if (distance > 1) {
    throw nonRetryable(
      FailureTypes.VersionSkew,
      `${what}: ${fromMinor} → ${toMinorVersion} skips a minor; EKS upgrades one minor at a time`,
    );
  }
}

/** The EKS activities. */
export function createEksActivities(deps: ResolvedDeps, kubernetes?: PreflightKubernetes | BlockingPdbLister) {
  const kube: PreflightKubernetes | undefined =
    typeof kubernetes === 'function' ? { blockingPdbs: kubernetes } : kubernetes;
  const rt = () => activityRuntime(deps.logger);
  const regional = (target: AwsTarget) =>
    deps.eks({ region: target.region, ...(target.roleArn ? { roleArn: target.roleArn } : {}) });

  async function addonVersionsFor(
    client: EKSClient,
    minor: string,
    addonName: string,
    signal?: AbortSignal,
  ): Promise<AddonInfo[]> {
    return listAll(`DescribeAddonVersions ${addonName} for ${minor}`, async (nextToken) => {
      const out = await client.send(
        new DescribeAddonVersionsCommand({ kubernetesVersion: minor, addonName, nextToken }),
        {
          abortSignal: signal,
        },
      );
      return { items: out.addons, nextToken: out.nextToken };
    });
  }

  /** Versions of an add-on compatible with a minor, newest first, with EKS's default flag. */
  async function compatibleAddonVersions(
    client: EKSClient,
    minor: string,
    addonName: string,
    signal?: AbortSignal,
  ): Promise<{ version: string; isDefault: boolean }[]> {
    const infos = await addonVersionsFor(client, minor, addonName, signal);
    const found: { version: string; isDefault: boolean }[] = [];
    for (const info of infos) {
      if (info.addonName && info.addonName !== addonName) continue;
      for (const v of info.addonVersions ?? []) {
        if (!v.addonVersion) continue;
        const compat = (v.compatibilities ?? []).filter((c) => c.clusterVersion === minor);
        if (compat.length === 0) continue;
        found.push({ version: v.addonVersion, isDefault: compat.some((c) => c.defaultVersion === true) });
      }
    }
    return found.sort((a, b) => compareAddonVersions(b.version, a.version));
  }

  async function latestAmiRelease(target: AwsTarget, minor: string, signal?: AbortSignal): Promise<string> {
    if (!deps.ssm) {
      throw nonRetryable(
        FailureTypes.InvalidRequest,
        `nodegroupRelease "latest" needs an SSM client (ActivityDeps.ssm) to look up ${minor}`,
      );
    }
    const ssm = deps.ssm(target);
    // Amazon Linux 2 AMIs end with 1.32; later minors publish only Amazon Linux 2023.
    const names = [
      `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2/recommended/release_version`,
      `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2023/x86_64/standard/recommended/release_version`,
    ];
    for (const name of names) {
      try {
        const out = await ssm.send(new GetParameterCommand({ Name: name }), { abortSignal: signal });
        if (out.Parameter?.Value) return out.Parameter.Value;
      } catch (err) {
        if (awsErrorName(err) === 'ParameterNotFound') continue;
        throw toActivityFailure(err, `SSM GetParameter ${name}`);
      }
    }
    throw nonRetryable(
      FailureTypes.InvalidRequest,
      `no EKS optimized AMI release published for Kubernetes ${minor} in ${target.region}`,
    );
  }

  async function resolveTargetVersions(input: ResolveTargetVersionsInput): Promise<PinnedVersions> {
    const r = rt();
    const target = input.target;
    const client = regional({ region: input.region });
    const minors = [...new Set(input.minors)].sort(compareMinor);
    const nodegroupRelease: Record<string, string> = {};
    const addons: Record<string, Record<string, string>> = {};

    if (!target.skipNodegroups) {
      const release = target.nodegroupRelease ?? 'latest';
      if (release === 'latest') {
        for (const minor of minors)
          nodegroupRelease[minor] = await latestAmiRelease({ region: input.region }, minor, r.signal);
      } else {
        const releaseMinor = toMinor(release);
        const wanted = target.kubernetesVersion ? [target.kubernetesVersion] : minors;
        if (target.kubernetesVersion && releaseMinor !== target.kubernetesVersion) {
          throw nonRetryable(
            FailureTypes.InvalidRequest,
            `nodegroupRelease ${release} is for Kubernetes ${releaseMinor ?? '?'}, not the target ${target.kubernetesVersion}`,
          );
        }
        for (const minor of wanted) if (releaseMinor === minor) nodegroupRelease[minor] = release;
      }
    }

    if (!target.skipAddons) {
      const mode = target.addons ?? 'default';
      // A pinned map applies where the campaign ends up: the target minor, or every minor of a patch-only campaign.
      const pinnedMinors = new Set(target.kubernetesVersion ? [target.kubernetesVersion] : minors);
      for (const minor of minors) {
        const perMinor: Record<string, string> = {};
        for (const addonName of [...new Set(input.addonNames)].sort()) {
          const compatible = await compatibleAddonVersions(client, minor, addonName, r.signal);
          if (compatible.length === 0) {
            throw nonRetryable(
              FailureTypes.InvalidRequest,
              `add-on ${addonName} has no version compatible with Kubernetes ${minor} in ${input.region}`,
            );
          }
          const newest = (compatible[0] as { version: string }).version;
          const defaultVersion = compatible.find((v) => v.isDefault)?.version ?? newest;
          const pinned = typeof mode === 'object' ? mode[addonName] : undefined;
          if (pinned !== undefined) {
            const ok = compatible.some((v) => v.version === pinned);
            if (ok) perMinor[addonName] = pinned;
            else if (pinnedMinors.has(minor)) {
              throw nonRetryable(
                FailureTypes.InvalidRequest,
                `add-on ${addonName} ${pinned} is not compatible with Kubernetes ${minor} (compatible: ${compatible
                  .slice(0, 5)
                  .map((v) => v.version)
                  .join(', ')})`,
              );
            } else perMinor[addonName] = defaultVersion;
          } else {
            perMinor[addonName] = mode === 'latest' ? newest : defaultVersion;
          }
        }
        addons[minor] = perMinor;
      }
    }

    r.log.info('Resolved target versions', { region: input.region, minors, nodegroupRelease, addons });
    return {
      ...(target.kubernetesVersion ? { kubernetesVersion: target.kubernetesVersion } : {}),
      nodegroupRelease,
      addons,
      resolvedAt: deps.now().toISOString(),
    };
  }

  async function describeCluster(input: DescribeClusterInput): Promise<ClusterState> {
    const r = rt();
    const { state } = await readClusterState(
      deps.eks(input.cluster),
      input.cluster.name,
      deps.describeConcurrency,
      r.signal,
    );
    return state;
  }

  async function preflightCluster(input: PreflightInput): Promise<PreflightResult> {
    const r = rt();
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const { state, cluster } = await readClusterState(client, name, deps.describeConcurrency, r.signal);
    const blockers: string[] = [];
    const warnings: string[] = [];

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
      for (const hop of path) {
        const skew = checkNodeSkew(hop, ng.version);
        if (!skew.ok) {
          blockers.push(
            `node group ${ng.name}: control-plane hop to ${hop}: ${skew.reason}; upgrade the node group first`,
          );
          break;
        }
      }
      if (now.ok && compareMinor(ng.version, state.version) < 0) {
        warnings.push(`node group ${ng.name} runs ${ng.version}, behind the control plane (${state.version})`);
      }
    }

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
      baseline = await kube.captureBaseline(input.cluster, clusterAccess(cluster));
      blockingPdbs = baseline.blockingPdbs;
    } else if (kube) {
      try {
        blockingPdbs = await kube.blockingPdbs(input.cluster, clusterAccess(cluster));
      } catch (err) {
        warnings.push(`could not list PodDisruptionBudgets: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

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

  async function startControlPlaneUpgrade(input: StartControlPlaneUpgradeInput): Promise<UpdateHandle> {
    return startControlPlane(rt(), input);
  }

  /**
   * `finalVersion`: the hop is one of several towards it (upgradeControlPlane). A control plane
   * already past the hop but not past `finalVersion` is counted at target: a retry whose last
   * heartbeat was older than the hops already done must not read them as downgrades.
   */
  async function startControlPlane(
    r: ActivityRuntime,
    input: StartControlPlaneUpgradeInput,
    finalVersion?: string,
  ): Promise<UpdateHandle> {
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const to = input.toVersion;
    const token = clientRequestToken(input, 'controlplane', to);
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name },
      what: `control plane → ${to}`,
      read: async () => {
        const c = await describeClusterRaw(client, name, r.signal);
        const version = c.version ?? '';
        if (version === to) return { atTarget: true, updating: c.status === UPDATING };
        const passed =
          finalVersion !== undefined && compareMinor(version, to) > 0 && compareMinor(version, finalVersion) <= 0;
        if (passed) return { atTarget: true, updating: false };
        assertOneMinorUp(version, to, `control plane of ${name}`);
        return { atTarget: false, updating: c.status === UPDATING };
      },
      matches: (u) => (u.type === 'VersionUpdate' || u.type === undefined) && paramValue(u, 'Version') === to,
      start: async () =>
        (
          await client.send(new UpdateClusterVersionCommand({ name, version: to, clientRequestToken: token }), {
            abortSignal: r.signal,
          })
        ).update,
    });
  }

  async function startAddonUpdate(input: StartAddonUpdateInput): Promise<UpdateHandle> {
    return startAddon(rt(), input);
  }

  async function startAddon(r: ActivityRuntime, input: StartAddonUpdateInput): Promise<UpdateHandle> {
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const token = clientRequestToken(input, `addon:${input.addon}`, input.version);
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name, addonName: input.addon },
      what: `add-on ${input.addon} → ${input.version}`,
      read: async () => {
        const a = await describeAddonRaw(client, name, input.addon, r.signal);
        return { atTarget: a.addonVersion === input.version, updating: a.status === UPDATING };
      },
      matches: (u) => paramValue(u, 'AddonVersion') === input.version,
      start: async () =>
        (
          await client.send(
            new UpdateAddonCommand({
              clusterName: name,
              addonName: input.addon,
              addonVersion: input.version,
              resolveConflicts: ADDON_RESOLVE_CONFLICTS,
              clientRequestToken: token,
            }),
            { abortSignal: r.signal },
          )
        ).update,
    });
  }

  async function startNodegroupUpdate(input: StartNodegroupUpdateInput): Promise<UpdateHandle> {
    return startNodegroup(rt(), input);
  }

  async function startNodegroup(r: ActivityRuntime, input: StartNodegroupUpdateInput): Promise<UpdateHandle> {
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const target = [input.version, input.releaseVersion].filter(Boolean).join('/') || 'latest';
    const token = clientRequestToken(input, `nodegroup:${input.nodegroup}`, target);
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name, nodegroupName: input.nodegroup },
      what: `node group ${input.nodegroup} → ${target}`,
      // Without a version or release, EKS picks the latest AMI and refuses when the node group runs it already.
      alreadyDone: (err) =>
        input.version === undefined &&
        input.releaseVersion === undefined &&
        /already (at|on) .*release version/i.test((err as Error).message ?? ''),
      read: async () => {
        const ng = await describeNodegroupRaw(client, name, input.nodegroup, r.signal);
        const versionOk = input.version === undefined || ng.version === input.version;
        const releaseOk = input.releaseVersion === undefined || ng.releaseVersion === input.releaseVersion;
        if (versionOk && releaseOk && (input.version !== undefined || input.releaseVersion !== undefined)) {
          return { atTarget: true, updating: ng.status === UPDATING };
        }
        if (input.version !== undefined) {
          const c = await describeClusterRaw(client, name, r.signal);
          const skew = checkNodeSkew(c.version ?? '', input.version);
          if (!skew.ok)
            throw nonRetryable(
              FailureTypes.VersionSkew,
              `node group ${name}/${input.nodegroup} → ${input.version}: ${skew.reason}`,
            );
          if (ng.version && compareMinor(input.version, ng.version) < 0) {
            throw nonRetryable(
              FailureTypes.VersionSkew,
              `node group ${name}/${input.nodegroup}: ${ng.version} → ${input.version} is a downgrade`,
            );
          }
        }
        return { atTarget: false, updating: ng.status === UPDATING };
      },
      matches: (u) => {
        if (u.type && u.type !== 'VersionUpdate') return false;
        const v = paramValue(u, 'Version');
        const rel = paramValue(u, 'ReleaseVersion');
        return (
          (input.version === undefined || v === undefined || v === input.version) &&
          (input.releaseVersion === undefined || rel === undefined || rel === input.releaseVersion)
        );
      },
      start: async () =>
        (
          await client.send(
            new UpdateNodegroupVersionCommand({
              clusterName: name,
              nodegroupName: input.nodegroup,
              ...(input.version ? { version: input.version } : {}),
              ...(input.releaseVersion ? { releaseVersion: input.releaseVersion } : {}),
              force: input.force,
              clientRequestToken: token,
            }),
            { abortSignal: r.signal },
          )
        ).update,
    });
  }

  /**
   * Polls DescribeUpdate with backoff until the update ends; `report` gets the progress after each
   * poll (the caller heartbeats it). Failed/Cancelled → non-retryable EksUpdateFailed; past
   * `timeoutMs` since `progress.startedAtMs` → non-retryable EksUpdateTimedOut.
   */
  async function pollUntilDone(
    r: ActivityRuntime,
    h: UpdateHandle & { updateId: string },
    progress: AwaitUpdateProgress,
    timeoutMs: number | undefined,
    report: (progress: AwaitUpdateProgress) => void,
  ): Promise<UpdateOutcome> {
    const updateId = h.updateId;
    const scope: UpdateScope = {
      clusterName: h.cluster.name,
      ...(h.nodegroup ? { nodegroupName: h.nodegroup } : {}),
      ...(h.addon ? { addonName: h.addon } : {}),
    };
    const client = deps.eks(h.cluster);
    const { initialMs, maxMs, factor, maxConsecutiveErrors } = deps.polling;
    let consecutiveErrors = 0;

    for (;;) {
      let update: Update | undefined;
      try {
        update = await describeUpdate(client, scope, updateId, r.signal);
        consecutiveErrors = 0;
      } catch (err) {
        if (r.signal?.aborted) throw new CancelledFailure(`wait for EKS update ${updateId} cancelled`);
        const failure = toActivityFailure(err, `DescribeUpdate ${scopeLabel(scope)} ${updateId}`);
        consecutiveErrors++;
        if (failure.nonRetryable || consecutiveErrors > maxConsecutiveErrors) throw failure;
        r.log.warn('DescribeUpdate failed, polling on', { updateId, error: failure.message, consecutiveErrors });
      }
      progress.polls++;
      if (update?.status) progress.lastStatus = update.status;
      report({ ...progress });

      if (update?.status === 'Successful') {
        r.log.info('EKS update successful', { cluster: h.cluster.name, updateId, polls: progress.polls });
        return { updateId, status: 'Successful', polls: progress.polls };
      }
      if (update?.status === 'Failed' || update?.status === 'Cancelled') throw updateFailure(scope, update);

      const elapsed = deps.now().getTime() - progress.startedAtMs;
      if (timeoutMs !== undefined && elapsed >= timeoutMs) {
        throw ApplicationFailure.create({
          type: FailureTypes.UpdateTimedOut,
          nonRetryable: true,
          message: `EKS update ${updateId} of ${scopeLabel(scope)} still ${progress.lastStatus ?? 'unknown'} after ${Math.round(elapsed / 1000)} s`,
          details: [{ ...progress }],
        });
      }
      const delay = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, progress.polls - 1)));
      const remaining = timeoutMs === undefined ? delay : Math.max(0, timeoutMs - elapsed);
      await r.sleep(Math.max(1, Math.min(delay, remaining)));
    }
  }

  async function awaitUpdate(input: AwaitUpdateInput): Promise<UpdateOutcome> {
    const r = rt();
    const h = input.handle;
    if (!h.updateId) return { status: 'Successful', polls: 0 };
    const updateId = h.updateId;
    const resumed = isProgress(r.heartbeatDetails, updateId) ? r.heartbeatDetails : undefined;
    const progress: AwaitUpdateProgress = resumed
      ? { ...resumed }
      : { updateId, polls: 0, startedAtMs: deps.now().getTime() };
    if (resumed)
      r.log.info('Resuming wait for EKS update', { cluster: h.cluster.name, updateId, polls: resumed.polls });
    return pollUntilDone(r, { ...h, updateId }, progress, input.timeoutMs, (p) => r.heartbeat(p));
  }

  /**
   * Add-ons one after the other, each as startAddonUpdate then awaitUpdate would do it, in one
   * activity (the workflow's history pays for one activity instead of two per add-on). The
   * heartbeat ({@link UpdateAddonsProgress}) names the add-on being worked on and its update as
   * soon as it is started, so a retried attempt waits for that update instead of starting
   * anything; the start itself is idempotent anyway (read-before-write, deterministic token).
   * A non-retryable failure keeps its type (EksUpdateFailed, EksInvalidRequest...) and gains
   * {@link AddonUpdateFailureDetails}: the add-on that failed and those already updated.
   */
  async function updateAddons(input: UpdateAddonsInput): Promise<UpdateAddonsResult> {
    const r = rt();
    const resumed = isAddonsProgress(r.heartbeatDetails, input) ? r.heartbeatDetails : undefined;
    const results: AddonUpdateResult[] = resumed ? resumed.results.map((x) => ({ ...x })) : [];
    if (resumed) {
      r.log.info('Resuming add-on updates', {
        cluster: input.cluster.name,
        index: resumed.index,
        updateId: resumed.updateId,
        polls: resumed.polls,
      });
    }
    const identity = stepIdentity(input);

    for (let index = results.length; index < input.addons.length; index++) {
      const addon = input.addons[index] as { name: string; version: string };
      const failed = (err: unknown) => withAddonContext(err, addon.name, results);
      const continuing = resumed?.index === index && resumed.updateId ? resumed : undefined;
      let handle: UpdateHandle;
      if (continuing?.updateId) {
        handle = {
          cluster: input.cluster,
          addon: addon.name,
          updateId: continuing.updateId,
          adopted: continuing.adopted ?? false,
          alreadyAtTarget: false,
        };
      } else {
        try {
          handle = await startAddon(r, { ...identity, addon: addon.name, version: addon.version });
        } catch (err) {
          throw failed(err);
        }
      }
      const result: AddonUpdateResult = {
        addon: addon.name,
        ...(handle.updateId ? { updateId: handle.updateId } : {}),
        alreadyAtTarget: handle.alreadyAtTarget,
        adopted: handle.adopted,
      };
      if (handle.updateId) {
        const progress: AwaitUpdateProgress = {
          updateId: handle.updateId,
          polls: continuing?.polls ?? 0,
          ...(continuing?.lastStatus ? { lastStatus: continuing.lastStatus } : {}),
          startedAtMs: continuing?.startedAtMs ?? deps.now().getTime(),
        };
        const beat = (p: AwaitUpdateProgress): void =>
          r.heartbeat({ index, ...p, adopted: handle.adopted, results: [...results] } satisfies UpdateAddonsProgress);
        // Before the first poll: from here on a retry waits for this update instead of starting one.
        beat(progress);
        try {
          await pollUntilDone(r, { ...handle, updateId: handle.updateId }, progress, input.timeoutMs, beat);
        } catch (err) {
          throw failed(err);
        }
      }
      results.push(result);
      r.heartbeat({ index: index + 1, polls: 0, results: [...results] } satisfies UpdateAddonsProgress);
    }
    r.log.info('Add-ons updated', {
      cluster: input.cluster.name,
      updated: results.filter((x) => !x.alreadyAtTarget).length,
      atTarget: results.filter((x) => x.alreadyAtTarget).length,
    });
    return { results };
  }

  async function rollbackNodegroup(input: RollbackNodegroupInput): Promise<UpdateHandle> {
    const r = rt();
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const prev = input.previous;
    const prevLt = prev.launchTemplate;
    const ltTarget = prevLt?.version;
    const token = clientRequestToken(
      input,
      `rollback-nodegroup:${input.nodegroup}`,
      ltTarget ?? `${prev.version}/${prev.releaseVersion ?? ''}`,
    );
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name, nodegroupName: input.nodegroup },
      what: `roll node group ${input.nodegroup} back to ${ltTarget ? `launch template version ${ltTarget}` : prev.version}`,
      invalidType: FailureTypes.RollbackNotPossible,
      read: async () => {
        const ng = await describeNodegroupRaw(client, name, input.nodegroup, r.signal);
        const unchanged =
          ng.version === prev.version &&
          (prev.releaseVersion === undefined || ng.releaseVersion === prev.releaseVersion) &&
          (ltTarget === undefined || ng.launchTemplate?.version === ltTarget);
        if (unchanged) return { atTarget: true, updating: ng.status === UPDATING };
        if (!ltTarget) {
          throw nonRetryable(
            FailureTypes.RollbackNotPossible,
            `node group ${name}/${input.nodegroup} has no launch template: EKS cannot take it back from ${ng.version}/${ng.releaseVersion} to ${prev.version}/${prev.releaseVersion}`,
          );
        }
        if (ltTarget && ng.launchTemplate?.version === ltTarget)
          return { atTarget: true, updating: ng.status === UPDATING };
        return { atTarget: false, updating: ng.status === UPDATING };
      },
      matches: (u) => paramValue(u, 'LaunchTemplateVersion') === ltTarget,
      start: async () =>
        (
          await client.send(
            new UpdateNodegroupVersionCommand({
              clusterName: name,
              nodegroupName: input.nodegroup,
              launchTemplate: {
                ...(prevLt?.id ? { id: prevLt.id } : { name: prevLt?.name }),
                version: ltTarget,
              },
              force: false,
              clientRequestToken: token,
            }),
            { abortSignal: r.signal },
          )
        ).update,
    });
  }

  async function rollbackAddon(input: RollbackAddonInput): Promise<UpdateHandle> {
    const r = rt();
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const token = clientRequestToken(input, `rollback-addon:${input.addon}`, input.previousVersion);
    let current = '';
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name, addonName: input.addon },
      what: `roll add-on ${input.addon} back to ${input.previousVersion}`,
      invalidType: FailureTypes.RollbackNotPossible,
      read: async () => {
        const a = await describeAddonRaw(client, name, input.addon, r.signal);
        current = a.addonVersion ?? '';
        return { atTarget: a.addonVersion === input.previousVersion, updating: a.status === UPDATING };
      },
      // EKS refuses an add-on version its control plane's minor does not support. The version it
      // runs now is supported (it was installed on this minor), so it stays rather than fail.
      keep: async () => {
        const c = await describeClusterRaw(client, name, r.signal);
        const minor = toMinor(c.version ?? '') ?? c.version ?? '';
        const supported = await compatibleAddonVersions(client, minor, input.addon, r.signal);
        // An add-on EKS lists no version of is not ours to judge: let UpdateAddon answer.
        if (supported.length === 0 || supported.some((v) => v.version === input.previousVersion)) return undefined;
        return {
          version: current,
          reason: `${input.addon} stays at ${current}: ${input.previousVersion} is not supported on control plane ${minor}`,
        };
      },
      matches: (u) => paramValue(u, 'AddonVersion') === input.previousVersion,
      start: async () =>
        (
          await client.send(
            new UpdateAddonCommand({
              clusterName: name,
              addonName: input.addon,
              addonVersion: input.previousVersion,
              resolveConflicts: ADDON_RESOLVE_CONFLICTS,
              clientRequestToken: token,
            }),
            { abortSignal: r.signal },
          )
        ).update,
    });
  }

  async function rollbackControlPlane(input: RollbackControlPlaneInput): Promise<UpdateHandle> {
    const r = rt();
    const client = deps.eks(input.cluster);
    const name = input.cluster.name;
    const to = input.toVersion;
    const token = clientRequestToken(input, 'rollback-controlplane', to);
    let current = '';
    return startIdempotently({
      rt: r,
      client,
      cluster: input.cluster,
      scope: { clusterName: name },
      what: `roll control plane back to ${to}`,
      invalidType: FailureTypes.RollbackNotPossible,
      // EKS refuses to roll the control plane back while an installed add-on needs the newer minor.
      keep: async () => {
        const needsNewer: string[] = [];
        for (const addonName of await listAddonNames(client, name, r.signal)) {
          const a = await describeAddonRaw(client, name, addonName, r.signal);
          const supported = await compatibleAddonVersions(client, to, addonName, r.signal);
          if (a.addonVersion && supported.length > 0 && !supported.some((v) => v.version === a.addonVersion)) {
            needsNewer.push(`${addonName} ${a.addonVersion}`);
          }
        }
        if (needsNewer.length === 0) return undefined;
        return {
          version: current,
          reason: `control plane stays at ${current}: add-on ${needsNewer.join(', ')} ${needsNewer.length > 1 ? 'are' : 'is'} not supported on Kubernetes ${to}`,
        };
      },
      read: async () => {
        const c = await describeClusterRaw(client, name, r.signal);
        const version = c.version ?? '';
        current = toMinor(version) ?? version;
        if (version === to) return { atTarget: true, updating: c.status === UPDATING };
        if (compareMinor(version, to) !== 1) {
          throw nonRetryable(
            FailureTypes.RollbackNotPossible,
            `control plane of ${name} runs ${version}: EKS rolls back only to the previous minor, not to ${to}`,
          );
        }
        return { atTarget: false, updating: c.status === UPDATING };
      },
      matches: (u) => paramValue(u, 'Version') === to,
      start: async () =>
        (
          await client.send(new UpdateClusterVersionCommand({ name, version: to, clientRequestToken: token }), {
            abortSignal: r.signal,
          })
        ).update,
    });
  }

  return {
    resolveTargetVersions,
    describeCluster,
    preflightCluster,
    startControlPlaneUpgrade,
    startAddonUpdate,
    startNodegroupUpdate,
    awaitUpdate,
    updateAddons,
    rollbackNodegroup,
    rollbackAddon,
    rollbackControlPlane,
    /** For the composite steps (steps.ts): the starts and the wait, on the caller's runtime. */
    parts: { startControlPlane, startNodegroup, pollUntilDone },
  };
}
