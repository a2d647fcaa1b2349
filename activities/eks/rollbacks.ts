/**
 * Rollbacks: a node group to its previous launch-template version, an add-on to its previous
 * version, the control plane to the previous minor. Each is a {@link startIdempotently} plan
 * that keeps what EKS cannot roll back (a node group whose AMI EKS picks; an add-on version the
 * control plane's minor does not support; a control plane under an add-on that needs the newer
 * minor or under node groups that stay on it) and says why.
 */
import { ListInsightsCommand, type InsightSummary } from '@aws-sdk/client-eks';
import { irreversibleNodegroupReason, nodegroupReversibility, type AmiType } from '../../domain/node-models';
import { compareMinor, toMinor } from '../../domain/versions';
import { activityRuntime } from '../context';
import type { ResolvedDeps } from '../deps';
import { nonRetryable } from '../failures';
import {
  FailureTypes,
  type RollbackAddonInput,
  type RollbackControlPlaneInput,
  type RollbackNodegroupInput,
  type UpdateHandle,
} from '../types';
import {
  UPDATING,
  compatibleAddonVersions,
  describeAddonRaw,
  describeClusterRaw,
  describeNodegroupRaw,
  listAddonNames,
  listAll,
  listNodegroupNames,
} from './read';
import {
  clientRequestToken,
  paramValue,
  startIdempotently,
  writeAddonVersion,
  writeClusterVersion,
  writeNodegroupVersion,
} from './start';

/**
 * The rollbackNodegroup activity, as domain/node-models.ts `nodegroupReversibility` allows: a
 * node group whose launch template names a custom AMI goes back to its previous launch-template
 * version; any other node group that changed is kept at its new version (nothing is sent), and
 * the reason cites the rule. The rule is judged on what EKS reports now (DescribeNodegroup
 * amiType and launch template), so snapshots taken before node models were read judge the same.
 */
export async function rollbackNodegroup(deps: ResolvedDeps, input: RollbackNodegroupInput): Promise<UpdateHandle> {
  const r = activityRuntime(deps.logger);
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
  let now: Awaited<ReturnType<typeof describeNodegroupRaw>> | undefined;
  const rule = () =>
    nodegroupReversibility({
      amiType: (now?.amiType as AmiType | undefined) ?? prev.amiType,
      launchTemplate: now?.launchTemplate ?? prevLt,
    });
  return startIdempotently({
    rt: r,
    client,
    cluster: input.cluster,
    scope: { clusterName: name, nodegroupName: input.nodegroup },
    what: `roll node group ${input.nodegroup} back to ${ltTarget ? `launch template version ${ltTarget}` : prev.version}`,
    invalidType: FailureTypes.RollbackNotPossible,
    read: async () => {
      const ng = await describeNodegroupRaw(client, name, input.nodegroup, r.signal);
      now = ng;
      const unchanged =
        ng.version === prev.version &&
        (prev.releaseVersion === undefined || ng.releaseVersion === prev.releaseVersion) &&
        (ltTarget === undefined || ng.launchTemplate?.version === ltTarget);
      if (unchanged) return { atTarget: true, updating: ng.status === UPDATING };
      if (rule().reversible && ng.launchTemplate?.version === ltTarget)
        return { atTarget: true, updating: ng.status === UPDATING };
      return { atTarget: false, updating: ng.status === UPDATING };
    },
    keep: async () => {
      const at = `${now?.version ?? ''}${now?.releaseVersion ? ` (${now.releaseVersion})` : ''}`;
      const decided = rule();
      if (!decided.reversible) {
        return { version: at, reason: irreversibleNodegroupReason(input.nodegroup, at, decided) };
      }
      if (!ltTarget) {
        return {
          version: at,
          reason: `node group ${input.nodegroup} stays at ${at}: no previous launch-template version was recorded to go back to`,
        };
      }
      return undefined;
    },
    // Only the launch-template path is a rollback: an update without one is the forward step still running.
    matches: (u) => ltTarget !== undefined && paramValue(u, 'LaunchTemplateVersion') === ltTarget,
    start: () =>
      writeNodegroupVersion(
        client,
        {
          clusterName: name,
          nodegroupName: input.nodegroup,
          launchTemplate: {
            ...(prevLt?.id ? { id: prevLt.id } : { name: prevLt?.name }),
            version: ltTarget,
          },
          force: false,
          clientRequestToken: token,
        },
        r.signal,
      ),
  });
}

/** The rollbackAddon activity: back to the previous version, or kept where the control plane's minor does not support it. */
export async function rollbackAddon(deps: ResolvedDeps, input: RollbackAddonInput): Promise<UpdateHandle> {
  const r = activityRuntime(deps.logger);
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
    start: () => writeAddonVersion(client, name, input.addon, input.previousVersion, token, r.signal),
  });
}

/** The rollbackControlPlane activity: back to the previous minor, or kept while an add-on needs the newer one. */
export async function rollbackControlPlane(
  deps: ResolvedDeps,
  input: RollbackControlPlaneInput,
): Promise<UpdateHandle> {
  const r = activityRuntime(deps.logger);
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
    // EKS refuses to roll the control plane back while an installed add-on needs the newer minor,
    // or under node groups that stay on it (a kubelet may not be newer than its API server).
    keep: async () => {
      const newerNodes: string[] = [];
      for (const ngName of await listNodegroupNames(client, name, r.signal)) {
        const ng = await describeNodegroupRaw(client, name, ngName, r.signal);
        if (ng.version && compareMinor(ng.version, to) > 0) newerNodes.push(`${ngName} ${ng.version}`);
      }
      if (newerNodes.length > 0) {
        return {
          version: current,
          reason: `control plane stays at ${current}: node group ${newerNodes.join(', ')} ${newerNodes.length > 1 ? 'run' : 'runs'} a kubelet newer than Kubernetes ${to}`,
        };
      }
      const needsNewer: string[] = [];
      for (const addonName of await listAddonNames(client, name, r.signal)) {
        const a = await describeAddonRaw(client, name, addonName, r.signal);
        const supported = await compatibleAddonVersions(client, to, addonName, r.signal);
        if (a.addonVersion && supported.length > 0 && !supported.some((v) => v.version === a.addonVersion)) {
          needsNewer.push(`${addonName} ${a.addonVersion}`);
        }
      }
      if (needsNewer.length > 0) {
        return {
          version: current,
          reason: `control plane stays at ${current}: add-on ${needsNewer.join(', ')} ${needsNewer.length > 1 ? 'are' : 'is'} not supported on Kubernetes ${to}`,
        };
      }
      // EKS refuses a VersionRollback while one of its ROLLBACK_READINESS insights for the target
      // is in ERROR (userguide/rollback-cluster.html); fleetwave never passes `force` to override it.
      const insights = await listAll<InsightSummary>(`ListInsights ${name}`, async (nextToken) => {
        const out = await client.send(
          new ListInsightsCommand({
            clusterName: name,
            filter: { categories: ['ROLLBACK_READINESS'], kubernetesVersions: [to], statuses: ['ERROR'] },
            nextToken,
          }),
          { abortSignal: r.signal },
        );
        return { items: out.insights, nextToken: out.nextToken };
      });
      const failing = insights.filter((i) => i.insightStatus?.status === 'ERROR');
      if (failing.length === 0) return undefined;
      return {
        version: current,
        reason: `control plane stays at ${current}: rollback-readiness ${failing
          .map((i) => `insight "${i.name}" is ERROR${i.insightStatus?.reason ? ` (${i.insightStatus.reason})` : ''}`)
          .join('; ')}`,
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
    start: () => writeClusterVersion(client, name, to, token, r.signal),
  });
}
