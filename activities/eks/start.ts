/**
 * Read-before-write starts of EKS updates, shared by the forward steps and the rollbacks.
 *
 * Temporal may run a start twice (a timeout, a worker crash between the EKS call and the
 * recorded result). Every start therefore:
 * 1. Describes the resource. At the requested version → `alreadyAtTarget`, nothing started.
 * 2. If it is UPDATING, looks for the in-progress update (ListUpdates + DescribeUpdate). One
 *    towards the same version → adopt it. Another one → a retryable `ResourceInUse` failure.
 * 3. Otherwise starts it with a `clientRequestToken` derived from campaign, cluster, step,
 *    target and attempt: EKS answers a repeated token with the original update.
 * So a retried start never issues a second upgrade of the same step. The EKS writes
 * themselves (UpdateClusterVersion, UpdateAddon, UpdateNodegroupVersion) live here once.
 */
import { createHash } from 'node:crypto';
import {
  DescribeUpdateCommand,
  ListUpdatesCommand,
  UpdateAddonCommand,
  UpdateClusterVersionCommand,
  UpdateNodegroupVersionCommand,
  type EKSClient,
  type Update,
  type UpdateNodegroupVersionCommandInput,
} from '@aws-sdk/client-eks';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityRuntime } from '../context';
import { awsCall, awsErrorName, nonRetryable, toActivityFailure } from '../failures';
import { FailureTypes, type ClusterRef, type KeptResource, type StepIdentity, type UpdateHandle } from '../types';
import { listAll } from './read';

/**
 * How add-ons are updated and rolled back: PRESERVE keeps values the cluster's owners changed
 * on fields EKS manages (vpc-cni env such as WARM_IP_TARGET, resource limits). OVERWRITE would
 * silently reset those across a whole fleet; NONE fails the update at the first conflict.
 * A rollback should change as little as possible, so it preserves too.
 */
export const ADDON_RESOLVE_CONFLICTS = 'PRESERVE' as const;

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

const MAX_UPDATES_SCANNED = 100;

/** The value of one parameter of an EKS update ("Version", "AddonVersion", ...). */
export function paramValue(update: Update, type: string): string | undefined {
  return update.params?.find((p) => p.type === type)?.value;
}

/** The resource an update belongs to: the cluster, or one of its node groups or add-ons. */
export interface UpdateScope {
  clusterName: string;
  nodegroupName?: string;
  addonName?: string;
}

/** "cluster/nodegroup" or "cluster/addon", for messages. */
export function scopeLabel(scope: UpdateScope): string {
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

/** DescribeUpdate within the update's scope, failing with EksResourceNotFound when EKS answers without one. */
export async function describeUpdate(
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

/** One start as startIdempotently runs it: how to read the resource, what to adopt, how to write. */
export interface StartPlan {
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
export async function startIdempotently(plan: StartPlan): Promise<UpdateHandle> {
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

/** UpdateClusterVersion: the one write of a control-plane upgrade and of its rollback. */
export async function writeClusterVersion(
  client: EKSClient,
  name: string,
  version: string,
  clientRequestToken: string,
  signal?: AbortSignal,
): Promise<Update | undefined> {
  return (
    await client.send(new UpdateClusterVersionCommand({ name, version, clientRequestToken }), {
      abortSignal: signal,
    })
  ).update;
}

/** UpdateAddon with {@link ADDON_RESOLVE_CONFLICTS}: the one write of an add-on update and of its rollback. */
export async function writeAddonVersion(
  client: EKSClient,
  clusterName: string,
  addonName: string,
  addonVersion: string,
  clientRequestToken: string,
  signal?: AbortSignal,
): Promise<Update | undefined> {
  return (
    await client.send(
      new UpdateAddonCommand({
        clusterName,
        addonName,
        addonVersion,
        resolveConflicts: ADDON_RESOLVE_CONFLICTS,
        clientRequestToken,
      }),
      { abortSignal: signal },
    )
  ).update;
}

/** UpdateNodegroupVersion: the one write of a node-group update and of its rollback. */
export async function writeNodegroupVersion(
  client: EKSClient,
  request: UpdateNodegroupVersionCommandInput,
  signal?: AbortSignal,
): Promise<Update | undefined> {
  return (await client.send(new UpdateNodegroupVersionCommand(request), { abortSignal: signal })).update;
}
