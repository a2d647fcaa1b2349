/**
 * Self-managed node groups (EC2 Auto Scaling groups): a new launch-template version with the
 * pinned AMI, an instance refresh to it, and fleetwave's own drain of every node before its
 * instance terminates.
 *
 * An instance refresh replaces instances by EC2 health and drains nothing
 * (autoscaling/ec2/userguide/asg-instance-refresh.html; EKS userguide/update-workers.html), so
 * fleetwave puts a termination lifecycle hook of its own on the group (`fleetwave-drain`): each
 * instance the refresh takes out waits in Terminating:Wait, and awaitSelfManagedRefresh cordons
 * its node, evicts its pods through the Eviction API (PodDisruptionBudgets honoured), and only
 * then completes the lifecycle action. Before letting any instance go it checks that the nodes of
 * the instances launched so far are Ready in Kubernetes, which the refresh itself never looks at:
 * that is the checkpoint check, and it holds the refresh by not completing the action.
 *
 * The hook stays on the group after the step (a documented choice, docs/architecture.md): a later
 * scale-in then waits for the hook's timeout unless something completes the action, so the hook's
 * HeartbeatTimeout is the drain timeout plus a margin, never the 1-hour default. A blocked drain
 * fails the step naming the PodDisruptionBudget and cancels the refresh; fleetwave does not
 * complete that instance's action, but AWS terminates it when the hook times out (for a
 * termination hook both results terminate: userguide/lifecycle-hooks.html), which the failure says.
 *
 * Idempotent like the EKS writes: the launch-template version is found by its image before one is
 * created (and created with a ClientToken of the workflow), the hook is put (an upsert), and a
 * refresh already running toward that version is adopted instead of starting another.
 */
import {
  type AutoScalingClient,
  CancelInstanceRefreshCommand,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  type AutoScalingGroup,
  type InstanceRefresh,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import {
  amiTypeOfEksAmiName,
  eksAmiName,
  isSelfManagedGroupOf,
  pdbOfEvictionRefusal,
  selfManagedRollbackPath,
} from '../domain/self-managed';
import { nextLookDelayMs } from '../domain/waits';
import { activityRuntime } from './context';
import type { AwsTarget, ResolvedDeps } from './deps';
import { latestAmiTypeRelease } from './eks/pinning';
import { clusterAccess, describeClusterRaw } from './eks/read';
import { nonRetryable, toKubernetesFailure } from './failures';
import type {
  AwaitSelfManagedRefreshInput,
  AwaitSelfManagedRefreshResult,
  SelfManagedGroupProgress,
  StartSelfManagedRefreshesInput,
  ClusterRef,
  RollbackSelfManagedGroupInput,
  RollbackSelfManagedGroupResult,
  SelfManagedGroupState,
  SelfManagedRefreshHandle,
  SelfManagedRefreshProgress,
  SelfManagedRefreshResult,
  StartSelfManagedRefreshInput,
} from './types';
import { LookLater, park, parks } from './waiting';

/** fleetwave's termination lifecycle hook on every self-managed group it refreshes. */
export const DRAIN_HOOK = 'fleetwave-drain';
const ACTIVE = ['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking'];

export const SelfManagedFailureTypes = {
  /** A PodDisruptionBudget kept a node's drain blocked past spec.nodes.selfManaged.drainTimeout. */
  DrainBlocked: 'SelfManagedDrainBlocked',
  /** The refresh ended Failed, Cancelled or rolled back, or did not finish in time. */
  RefreshFailed: 'SelfManagedRefreshFailed',
  /** New nodes did not become Ready in Kubernetes before the next instance was to go. */
  NodesNotReady: 'SelfManagedNodesNotReady',
} as const;

/** The node of an instance: `spec.providerID` is `aws:///<zone>/<instance-id>`. */
function nodeOfInstance(nodes: V1Node[], instanceId: string): V1Node | undefined {
  return nodes.find((n) => n.spec?.providerID?.endsWith(`/${instanceId}`));
}

function isReady(n: V1Node | undefined): boolean {
  return (n?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function replacedSoFar(p: SelfManagedRefreshProgress): Record<string, string[]> {
  return Object.fromEntries(Object.entries(p.groups).map(([g, v]) => [g, v.drained]));
}

export function tagsOf(g: AutoScalingGroup): Record<string, string> {
  return Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * The cluster's self-managed groups: the Auto Scaling groups tagged for it (the
 * `kubernetes.io/cluster/<name>` tag the EKS user guide asks self-managed nodes to carry, or
 * `eks:cluster-name`), read by their tags; preflight reads their owners from the same list.
 */
export async function listSelfManagedGroups(client: AutoScalingClient, cluster: string): Promise<AutoScalingGroup[]> {
  const found: AutoScalingGroup[] = [];
  for (const filter of [`kubernetes.io/cluster/${cluster}`, 'eks:cluster-name']) {
    let token: string | undefined;
    do {
      const out = await client.send(
        new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag-key', Values: [filter] }], NextToken: token }),
      );
      for (const g of out.AutoScalingGroups ?? []) {
        if (!found.some((f) => f.AutoScalingGroupName === g.AutoScalingGroupName)) found.push(g);
      }
      token = out.NextToken;
    } while (token);
  }
  return found.filter((g) => isSelfManagedGroupOf(cluster, tagsOf(g)));
}

export function createSelfManagedActivities(deps: ResolvedDeps) {
  function autoScaling(target: AwsTarget): AutoScalingClient {
    if (deps.autoScaling) return deps.autoScaling(target);
    throw nonRetryable('Misconfigured', 'no Auto Scaling client configured (ActivityDeps.autoScaling)');
  }
  function ec2(target: AwsTarget): EC2Client {
    if (deps.ec2) return deps.ec2(target);
    throw nonRetryable('Misconfigured', 'no EC2 client configured (ActivityDeps.ec2)');
  }

  async function kubeConfig(cluster: ClusterRef): Promise<KubeConfig> {
    const access = clusterAccess(await describeClusterRaw(deps.eks(cluster), cluster.name));
    try {
      return await deps.kube(cluster, access);
    } catch (err) {
      throw toKubernetesFailure(err, `credentials for ${cluster.name}`);
    }
  }

  async function describeGroup(cluster: ClusterRef, name: string): Promise<AutoScalingGroup> {
    const out = await autoScaling(cluster).send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const g = out.AutoScalingGroups?.[0];
    if (!g) throw nonRetryable('SelfManagedGroupNotFound', `Auto Scaling group ${name} of ${cluster.name} not found`);
    return g;
  }

  async function imageOf(cluster: ClusterRef, templateId: string, version: string): Promise<string> {
    const out = await ec2(cluster).send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: [version] }),
    );
    return out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId ?? '';
  }

  /** The cluster's self-managed groups: found by the cluster tags, with their launch template and AMI. */
  async function readSelfManagedGroups(input: { cluster: ClusterRef }): Promise<SelfManagedGroupState[]> {
    const found = await listSelfManagedGroups(autoScaling(input.cluster), input.cluster.name);
    const out: SelfManagedGroupState[] = [];
    for (const g of found) {
      const tags = tagsOf(g);
      const lt = g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
      if (!lt?.LaunchTemplateId) continue;
      const version = lt.Version ?? '$Default';
      out.push({
        name: g.AutoScalingGroupName ?? '',
        launchTemplate: { id: lt.LaunchTemplateId, name: lt.LaunchTemplateName ?? '', version },
        imageId: await imageOf(input.cluster, lt.LaunchTemplateId, version),
        instances: g.Instances?.length ?? 0,
        tags,
      });
    }
    return out;
  }

  /**
   * The node step's start for every self-managed group of the cluster: each group's family from
   * the public AMI it runs, the release pinned at campaign start for that family and the target
   * minor (or, when the campaign pinned none for it, the newest one now), that release's AMI, and
   * {@link startSelfManagedRefresh}.
   */
  async function startSelfManagedRefreshes(input: StartSelfManagedRefreshesInput): Promise<SelfManagedRefreshHandle[]> {
    const r = activityRuntime(deps.logger);
    const { cluster, targetVersion } = input;
    const handles: SelfManagedRefreshHandle[] = [];
    for (const group of await readSelfManagedGroups({ cluster })) {
      if (group.instances === 0) continue;
      const current = await ec2(cluster).send(new DescribeImagesCommand({ ImageIds: [group.imageId] }));
      const amiType = amiTypeOfEksAmiName(current.Images?.[0]?.Name ?? '');
      if (!amiType) {
        throw nonRetryable(
          'SelfManagedUnsupported',
          `self-managed group ${group.name}: its image ${group.imageId || '(none)'} is not an EKS optimized or Bottlerocket AMI; fleetwave refreshes only those`,
        );
      }
      let release = input.pinned.amis?.[cluster.region]?.[amiType]?.[targetVersion];
      if (!release) {
        release = await latestAmiTypeRelease(deps, cluster, amiType, targetVersion, r.signal);
        r.log.warn('Self-managed group family not pinned at campaign start: newest release used', {
          group: group.name,
          amiType,
          release,
        });
      }
      const name = eksAmiName(amiType, targetVersion, release) ?? '';
      const images = await ec2(cluster).send(
        new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: [name] }] }),
      );
      const imageId = images.Images?.[0]?.ImageId;
      if (!imageId) {
        throw nonRetryable(
          'SelfManagedAmiNotFound',
          `no AMI named ${name} in ${cluster.region} (${amiType} ${release})`,
        );
      }
      handles.push(
        await startSelfManagedRefresh({
          cluster,
          group: group.name,
          imageId,
          minHealthyPercentage: input.minHealthyPercentage,
          checkpoints: input.checkpoints,
          hookTimeoutS: input.hookTimeoutS,
          workflowId: input.workflowId,
        }),
      );
    }
    return handles;
  }

  /** The newest refresh of a group, if any. */
  async function latestRefresh(cluster: ClusterRef, group: string, id?: string): Promise<InstanceRefresh | undefined> {
    const out = await autoScaling(cluster).send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: group,
        ...(id ? { InstanceRefreshIds: [id] } : {}),
      }),
    );
    return out.InstanceRefreshes?.[0];
  }

  /**
   * The node step's writes for one group: a launch-template version with the image (found or
   * created), fleetwave's termination hook, and a refresh to that version (adopted when running).
   */
  async function startSelfManagedRefresh(input: StartSelfManagedRefreshInput): Promise<SelfManagedRefreshHandle> {
    const r = activityRuntime(deps.logger);
    const client = autoScaling(input.cluster);
    const g = await describeGroup(input.cluster, input.group);
    const lt = g.LaunchTemplate;
    if (!lt?.LaunchTemplateId) {
      throw nonRetryable(
        'SelfManagedUnsupported',
        `Auto Scaling group ${input.group} has no launch template (launch configurations and mixed-instances policies are not refreshed by fleetwave)`,
      );
    }
    const fromVersion = lt.Version ?? '$Default';
    const versions = await ec2(input.cluster).send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId }),
    );
    const all = versions.LaunchTemplateVersions ?? [];
    const fromNumber =
      fromVersion === '$Latest'
        ? Math.max(...all.map((v) => v.VersionNumber ?? 0))
        : fromVersion === '$Default'
          ? (all.find((v) => v.DefaultVersion)?.VersionNumber ?? 1)
          : Number(fromVersion);
    // Read before write: the newest version that already names the image (a retried attempt made it).
    let target = all
      .filter((v) => v.LaunchTemplateData?.ImageId === input.imageId)
      .sort((a, b) => (b.VersionNumber ?? 0) - (a.VersionNumber ?? 0))[0]?.VersionNumber;
    const onImage = (g.Instances ?? []).every((i) => i.LaunchTemplate?.Version === String(target));
    if (target !== undefined && String(target) === fromVersion && onImage) {
      r.log.info('Self-managed group already on the image', { group: input.group, imageId: input.imageId });
      return { group: input.group, fromVersion, toVersion: fromVersion, imageId: input.imageId };
    }
    if (target === undefined) {
      const token = createHash('sha256')
        .update(`${input.workflowId}|${input.cluster.name}|${input.group}|${input.imageId}`)
        .digest('hex')
        .slice(0, 64);
      const created = await ec2(input.cluster).send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: lt.LaunchTemplateId,
          SourceVersion: String(fromNumber),
          LaunchTemplateData: { ImageId: input.imageId },
          VersionDescription: `fleetwave: ${input.imageId}`,
          ClientToken: token,
        }),
      );
      target = created.LaunchTemplateVersion?.VersionNumber;
    }
    const toVersion = String(target);
    await client.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: input.group,
        LifecycleHookName: DRAIN_HOOK,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: Math.max(30, Math.min(7200, input.hookTimeoutS)),
        DefaultResult: 'CONTINUE',
        NotificationMetadata: 'fleetwave drains the node before completing this action',
      }),
    );
    const adopt = async (): Promise<string | undefined> => {
      const latest = await latestRefresh(input.cluster, input.group);
      if (!latest || !ACTIVE.includes(latest.Status ?? '')) return undefined;
      if (latest.DesiredConfiguration?.LaunchTemplate?.Version !== toVersion) {
        throw nonRetryable(
          'SelfManagedRefreshConflict',
          `Auto Scaling group ${input.group} has another instance refresh ${latest.InstanceRefreshId} (${latest.Status}); fleetwave does not start a second one`,
        );
      }
      return latest.InstanceRefreshId;
    };
    let refreshId = await adopt();
    if (!refreshId) {
      try {
        const started = await client.send(
          new StartInstanceRefreshCommand({
            AutoScalingGroupName: input.group,
            Strategy: 'Rolling',
            DesiredConfiguration: {
              LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, Version: toVersion },
            },
            Preferences: {
              MinHealthyPercentage: input.minHealthyPercentage,
              ...(input.checkpoints.length > 0
                ? { CheckpointPercentages: input.checkpoints, CheckpointDelay: 60 }
                : {}),
              SkipMatching: true,
            },
          }),
        );
        refreshId = started.InstanceRefreshId;
      } catch (err) {
        // Another attempt started it between the read and the write.
        if ((err as Error).name !== 'InstanceRefreshInProgressFault') throw err;
        refreshId = await adopt();
      }
    }
    r.log.info('Self-managed refresh started', { group: input.group, refreshId, fromVersion, toVersion });
    return { group: input.group, ...(refreshId ? { refreshId } : {}), fromVersion, toVersion, imageId: input.imageId };
  }

  async function cancel(cluster: ClusterRef, group: string): Promise<void> {
    try {
      await autoScaling(cluster).send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: group }));
    } catch (err) {
      if ((err as Error).name !== 'ActiveInstanceRefreshNotFoundFault') throw err;
    }
  }

  /** Drains one node: cordon, then every pod but DaemonSet pods through the Eviction API. The PDB blocking it, if any. */
  async function drain(core: CoreV1Api, node: V1Node): Promise<{ left: number; pdb?: string }> {
    const name = node.metadata?.name ?? '';
    if (!node.spec?.unschedulable) {
      await core.patchNode(
        { name, body: { spec: { unschedulable: true } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    }
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    let left = 0;
    let pdb: string | undefined;
    for (const pod of pods.items) {
      if ((pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet')) continue;
      try {
        await core.createNamespacedPodEviction({
          name: pod.metadata?.name ?? '',
          namespace: pod.metadata?.namespace ?? '',
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '' },
          },
        });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 404) continue;
        if (code !== 429) throw err;
        left++;
        const found = pdbOfEvictionRefusal((err as { body?: unknown }).body);
        pdb ??= found ? `${pod.metadata?.namespace ?? ''}/${found}` : undefined;
      }
    }
    return { left, ...(pdb ? { pdb } : {}) };
  }

  /**
   * Waits for the refreshes of a cluster's self-managed groups together, draining each instance
   * that waits on fleetwave's hook and checking that the new nodes are Ready before letting the
   * next one go. One look per attempt, parked in between (activities/waiting.ts).
   */
  async function awaitSelfManagedRefreshes(
    input: AwaitSelfManagedRefreshInput,
  ): Promise<AwaitSelfManagedRefreshResult> {
    const r = activityRuntime(deps.logger);
    const { cluster } = input;
    const handles = input.handles.filter((h) => h.refreshId);
    const details = r.heartbeatDetails as SelfManagedRefreshProgress | undefined;
    const key = handles.map((h) => h.refreshId).join(',');
    const resumed = details?.key === key ? details : undefined;
    const progress: SelfManagedRefreshProgress = resumed
      ? structuredClone(resumed)
      : { key, startedAtMs: deps.now().getTime(), groups: {} };
    const done = new Map<string, SelfManagedRefreshResult>();
    for (const h of input.handles) {
      if (!h.refreshId)
        done.set(h.group, { group: h.group, status: 'Successful', replaced: [], toVersion: h.toVersion });
    }
    const client = autoScaling(cluster);
    const core = handles.length > 0 ? (await kubeConfig(cluster)).makeApiClient(CoreV1Api) : undefined;
    for (;;) {
      const summary: string[] = [];
      for (const handle of handles) {
        if (done.has(handle.group) || !core) continue;
        const group = (progress.groups[handle.group] ??= { drained: [], blocked: {} });
        const look = await lookAt(input, handle, group, client, core);
        if (typeof look === 'string') summary.push(look);
        else done.set(handle.group, look);
      }
      if (done.size === input.handles.length) {
        const groups = input.handles.map((h) => done.get(h.group) as SelfManagedRefreshResult);
        r.log.info('Self-managed groups refreshed', {
          cluster: cluster.name,
          groups: groups.map((g) => `${g.group}: ${g.replaced.length} replaced`),
        });
        return { groups };
      }
      const elapsed = deps.now().getTime() - progress.startedAtMs;
      if (elapsed > input.timeoutMs) {
        for (const h of handles) if (!done.has(h.group)) await cancel(cluster, h.group);
        throw nonRetryable(
          SelfManagedFailureTypes.RefreshFailed,
          `self-managed groups of ${cluster.name} did not finish in ${Math.round(input.timeoutMs / 60_000)} min: ${summary.join('; ')}`,
          { replaced: replacedSoFar(progress) },
        );
      }
      // Look at least once a (cluster) minute: a waiting instance's hook must be heartbeaten well within its timeout.
      const delay = Math.min(
        nextLookDelayMs('nodegroup', elapsed, deps.waits),
        60_000 / Math.max(1, deps.waits.timeScale),
      );
      const later = new LookLater(delay, summary.join('; '));
      if (parks(deps, r)) throw park(r, later, progress, resumed);
      r.heartbeat(structuredClone(progress));
      await r.sleep(delay);
    }
  }

  /** One look at one group: its result when done, or a line of progress. */
  async function lookAt(
    input: AwaitSelfManagedRefreshInput,
    handle: SelfManagedRefreshHandle,
    progress: SelfManagedGroupProgress,
    client: AutoScalingClient,
    core: CoreV1Api,
  ): Promise<SelfManagedRefreshResult | string> {
    const r = activityRuntime(deps.logger);
    const { cluster } = input;
    const refresh = await latestRefresh(cluster, handle.group, handle.refreshId);
    const status = refresh?.Status ?? 'Unknown';
    const g = await describeGroup(cluster, handle.group);
    const nodes = (await core.listNode()).items;
    const success = handle.rollback ? 'RollbackSuccessful' : 'Successful';
    if (status === success) {
      const notReady = (g.Instances ?? []).filter((i) => !isReady(nodeOfInstance(nodes, i.InstanceId ?? '')));
      if (notReady.length === 0) {
        return {
          group: handle.group,
          ...(handle.refreshId ? { refreshId: handle.refreshId } : {}),
          status,
          replaced: progress.drained,
          toVersion: handle.toVersion,
        };
      }
    } else if (!ACTIVE.includes(status)) {
      throw nonRetryable(
        SelfManagedFailureTypes.RefreshFailed,
        `instance refresh ${handle.refreshId ?? ''} of ${handle.group} ended ${status}${refresh?.StatusReason ? `: ${refresh.StatusReason}` : ''}`,
        { group: handle.group, status, replaced: progress.drained },
      );
    }
    const now = deps.now().getTime();
    // The checkpoint check: every instance already on the new version has a Ready node.
    const fresh = (g.Instances ?? []).filter(
      (i) => i.LaunchTemplate?.Version === handle.toVersion && i.LifecycleState === 'InService',
    );
    const unready = fresh.filter((i) => !isReady(nodeOfInstance(nodes, i.InstanceId ?? '')));
    for (const i of g.Instances ?? []) {
      if (i.LifecycleState !== 'Terminating:Wait' || !i.InstanceId || progress.drained.includes(i.InstanceId)) continue;
      const id = i.InstanceId;
      const node = nodeOfInstance(nodes, id);
      if (unready.length > 0) {
        const entry = (progress.blocked[id] ??= { sinceMs: now, pdb: '' });
        if (now - entry.sinceMs > input.drainTimeoutMs) {
          await cancel(cluster, handle.group);
          throw nonRetryable(
            SelfManagedFailureTypes.NodesNotReady,
            `${handle.group}: the nodes of ${unready.map((u) => u.InstanceId).join(', ')} are not Ready in Kubernetes; instance refresh cancelled before ${id} was drained`,
            { group: handle.group, replaced: progress.drained },
          );
        }
        await heartbeatAction(client, handle.group, id);
        continue;
      }
      const result = node ? await drain(core, node) : { left: 0 };
      if (result.left > 0) {
        const entry = (progress.blocked[id] ??= { sinceMs: now, pdb: result.pdb ?? '' });
        if (result.pdb) entry.pdb = result.pdb;
        if (now - entry.sinceMs > input.drainTimeoutMs) {
          await cancel(cluster, handle.group);
          const pdb = entry.pdb || 'a PodDisruptionBudget';
          throw nonRetryable(
            SelfManagedFailureTypes.DrainBlocked,
            `${handle.group}: draining ${node?.metadata?.name ?? id} (${id}) is blocked by PodDisruptionBudget ${pdb} for more than ${Math.round(input.drainTimeoutMs / 60_000)} min; instance refresh cancelled and the lifecycle action left incomplete, so ${id} stays in Terminating:Wait until the ${DRAIN_HOOK} hook times out (AWS then terminates it)`,
            { group: handle.group, instance: id, pdb, replaced: progress.drained },
          );
        }
        await heartbeatAction(client, handle.group, id);
        continue;
      }
      await client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: handle.group,
          LifecycleHookName: DRAIN_HOOK,
          InstanceId: id,
          LifecycleActionResult: 'CONTINUE',
        }),
      );
      delete progress.blocked[id];
      progress.drained.push(id);
      r.log.info('Self-managed node drained', { group: handle.group, instance: id, node: node?.metadata?.name });
    }
    return `${handle.group}: ${refresh?.PercentageComplete ?? 0}% (${status}), ${progress.drained.length} drained`;
  }

  async function heartbeatAction(client: AutoScalingClient, group: string, instanceId: string): Promise<void> {
    try {
      await client.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: group,
          LifecycleHookName: DRAIN_HOOK,
          InstanceId: instanceId,
        }),
      );
    } catch (err) {
      // The action timed out or completed meanwhile: the next look sees the instance gone.
      if ((err as Error).name !== 'ValidationError') throw err;
    }
  }

  /**
   * Undoes a group's refresh: RollbackInstanceRefresh where AWS allows it (the refresh still
   * active, domain/self-managed.ts), otherwise a refresh forward to the previous version.
   */
  async function rollbackSelfManagedGroup(
    input: RollbackSelfManagedGroupInput,
  ): Promise<RollbackSelfManagedGroupResult> {
    const r = activityRuntime(deps.logger);
    const { handle, cluster } = input;
    if (!handle.refreshId) return { group: handle.group, how: 'none' };
    const client = autoScaling(cluster);
    const refresh = await latestRefresh(cluster, handle.group, handle.refreshId);
    const g = await describeGroup(cluster, handle.group);
    if (refresh?.Status === 'RollbackInProgress' || refresh?.Status === 'RollbackSuccessful') {
      return { group: handle.group, how: 'rollback', refreshId: handle.refreshId };
    }
    const previousImage = await imageOf(cluster, g.LaunchTemplate?.LaunchTemplateId ?? '', handle.fromVersion);
    const path = selfManagedRollbackPath({
      status: refresh?.Status ?? 'Unknown',
      hasDesiredConfiguration: refresh?.DesiredConfiguration?.LaunchTemplate !== undefined,
      groupVersion: handle.fromVersion,
      previousImageId: previousImage,
    });
    if (path.how === 'rollback') {
      await client.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: handle.group }));
      r.log.info('Self-managed refresh rolled back', { group: handle.group, refreshId: handle.refreshId });
      return { group: handle.group, how: 'rollback', refreshId: handle.refreshId };
    }
    const latest = await latestRefresh(cluster, handle.group);
    if (latest && ACTIVE.includes(latest.Status ?? '')) {
      if (latest.DesiredConfiguration?.LaunchTemplate?.Version === handle.fromVersion) {
        return {
          group: handle.group,
          how: 'forward',
          ...(latest.InstanceRefreshId ? { refreshId: latest.InstanceRefreshId } : {}),
        };
      }
      await cancel(cluster, handle.group);
    }
    const started = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: handle.group,
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: g.LaunchTemplate?.LaunchTemplateId, Version: handle.fromVersion },
        },
        Preferences: { MinHealthyPercentage: input.minHealthyPercentage, SkipMatching: true },
      }),
    );
    r.log.info('Self-managed group refreshed back', { group: handle.group, reason: path.reason });
    return {
      group: handle.group,
      how: 'forward',
      ...(started.InstanceRefreshId ? { refreshId: started.InstanceRefreshId } : {}),
    };
  }

  return {
    readSelfManagedGroups,
    startSelfManagedRefresh,
    startSelfManagedRefreshes,
    awaitSelfManagedRefreshes,
    rollbackSelfManagedGroup,
  };
}
