/**
 * The forward starts: control plane one minor up, an add-on to a version, a node group to a
 * version or AMI release, or to a new launch-template version naming its custom AMI. Each is a {@link startIdempotently} plan; the rules on versions
 * (one minor at a time, node skew) come from domain/versions.ts.
 */
import { checkMinorStep, checkNodeSkew, compareMinor } from '../../domain/versions';
import { nodegroupBatches, nodegroupFirstLookMs } from '../../domain/waits';
import type { ActivityRuntime } from '../context';
import type { ResolvedDeps } from '../deps';
import {
  createImageVersion,
  describeLaunchTemplateVersion,
  ec2Client,
  launchTemplateVersionsAfter,
  type LaunchTemplateRef,
} from '../ec2';
import { nonRetryable } from '../failures';
import {
  FailureTypes,
  type StartAddonUpdateInput,
  type StartControlPlaneUpgradeInput,
  type StartNodegroupUpdateInput,
  type UpdateHandle,
} from '../types';
import { UPDATING, describeAddonRaw, describeClusterRaw, describeNodegroupRaw } from './read';
import {
  clientRequestToken,
  paramValue,
  startIdempotently,
  writeAddonVersion,
  writeClusterVersion,
  writeNodegroupVersion,
} from './start';

/** Fails with a non-retryable EksVersionSkew unless `from` → `to` is one EKS control-plane update. */
function assertOneMinorUp(from: string, to: string, what: string): void {
  const step = checkMinorStep(from, to);
  if (!step.ok) throw nonRetryable(FailureTypes.VersionSkew, `${what}: ${step.reason}`);
}

/**
 * `finalVersion`: the hop is one of several towards it (upgradeControlPlane). A control plane
 * already past the hop but not past `finalVersion` is counted at target: a retry whose last
 * heartbeat was older than the hops already done must not read them as downgrades.
 */
export async function startControlPlane(
  deps: ResolvedDeps,
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
    start: () => writeClusterVersion(client, name, to, token, r.signal),
  });
}

/** Starts an add-on update to `input.version` on the caller's runtime (see startIdempotently). */
export async function startAddon(
  deps: ResolvedDeps,
  r: ActivityRuntime,
  input: StartAddonUpdateInput,
): Promise<UpdateHandle> {
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
    start: () => writeAddonVersion(client, name, input.addon, input.version, token, r.signal),
  });
}

/** When a node group update is first looked at: after the setup and first batches its size and update config imply. */
function firstLookOf(ng: Awaited<ReturnType<typeof describeNodegroupRaw>>): number {
  return nodegroupFirstLookMs(
    nodegroupBatches(
      ng.scalingConfig?.desiredSize ?? 1,
      ng.updateConfig?.maxUnavailable,
      ng.updateConfig?.maxUnavailablePercentage,
    ),
  );
}

/**
 * Reads that node-group starts in one attempt share (updateNodegroups starts a cluster's node
 * groups side by side): the control plane's version, which the skew check of every start needs,
 * is read once per attempt, not once per node group. It can only rise in that time, and EKS
 * itself refuses a node group ahead of its control plane (UpdateNodegroupVersion).
 */
export interface NodegroupStartReads {
  controlPlaneVersion?: Promise<string>;
}

/** The cluster's version, read once for every start that shares `reads` (a failed read is not kept). */
function controlPlaneVersion(
  deps: ResolvedDeps,
  r: ActivityRuntime,
  input: StartNodegroupUpdateInput,
  reads: NodegroupStartReads | undefined,
): Promise<string> {
  const read = () =>
    describeClusterRaw(deps.eks(input.cluster), input.cluster.name, r.signal).then((c) => c.version ?? '');
  if (!reads) return read();
  if (!reads.controlPlaneVersion) {
    const pending = read();
    reads.controlPlaneVersion = pending;
    pending.catch(() => {
      if (reads.controlPlaneVersion === pending) delete reads.controlPlaneVersion;
    });
  }
  return reads.controlPlaneVersion;
}

/**
 * Starts a node-group update on the caller's runtime (see startIdempotently): to a version and/or
 * AMI release, or for a node group whose launch template names a custom AMI (`imageId`), to a new
 * launch-template version naming that image. Starts of one attempt may share `reads`.
 */
export async function startNodegroup(
  deps: ResolvedDeps,
  r: ActivityRuntime,
  input: StartNodegroupUpdateInput,
  reads?: NodegroupStartReads,
): Promise<UpdateHandle> {
  if (input.imageId !== undefined) return startCustomAmiNodegroup(deps, r, { ...input, imageId: input.imageId });
  const client = deps.eks(input.cluster);
  const name = input.cluster.name;
  const target = [input.version, input.releaseVersion].filter(Boolean).join('/') || 'latest';
  const token = clientRequestToken(input, `nodegroup:${input.nodegroup}`, target);
  // Batches of the update as the node group is sized now: when to look first (domain/waits.ts).
  let firstLookMs: number | undefined;
  const handle = await startIdempotently({
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
      firstLookMs = firstLookOf(ng);
      const versionOk = input.version === undefined || ng.version === input.version;
      const releaseOk = input.releaseVersion === undefined || ng.releaseVersion === input.releaseVersion;
      if (versionOk && releaseOk && (input.version !== undefined || input.releaseVersion !== undefined)) {
        return { atTarget: true, updating: ng.status === UPDATING };
      }
      if (input.version !== undefined) {
        const skew = checkNodeSkew(await controlPlaneVersion(deps, r, input, reads), input.version);
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
    start: () =>
      writeNodegroupVersion(
        client,
        {
          clusterName: name,
          nodegroupName: input.nodegroup,
          ...(input.version ? { version: input.version } : {}),
          ...(input.releaseVersion ? { releaseVersion: input.releaseVersion } : {}),
          force: input.force,
          clientRequestToken: token,
        },
        r.signal,
      ),
  });
  return handle.updateId && firstLookMs !== undefined ? { ...handle, firstLookMs } : handle;
}

/** Marks the launch-template versions fleetwave creates, so a later attempt finds and reuses its own. */
function versionDescription(imageId: string): string {
  return `fleetwave: image ${imageId}`;
}

/**
 * A node group whose launch template names a custom AMI moves to a new image the way EKS documents
 * it (UpdateNodegroupVersion API reference): a new launch-template version naming the image, then
 * UpdateNodegroupVersion to that version, with no `version` or `releaseVersion` (EKS refuses them
 * with a custom AMI). One new version per step, however often it runs:
 * - the read finds the node group's current version and image (at target → nothing to do), and
 *   the versions after it that fleetwave created for this image; the newest of those is reused;
 * - otherwise CreateLaunchTemplateVersion from the current version with only ImageId changed and a
 *   ClientToken derived from the step, which EC2 answers with the first call's version;
 * - an update in progress towards a version naming the image is adopted.
 */
async function startCustomAmiNodegroup(
  deps: ResolvedDeps,
  r: ActivityRuntime,
  input: StartNodegroupUpdateInput & { imageId: string },
): Promise<UpdateHandle> {
  const client = deps.eks(input.cluster);
  const ec2 = ec2Client(deps, input.cluster, `node group ${input.nodegroup} with a custom AMI`);
  const name = input.cluster.name;
  const imageId = input.imageId;
  const token = clientRequestToken(input, `nodegroup:${input.nodegroup}`, imageId);
  const versionToken = clientRequestToken(input, `launch-template:${input.nodegroup}`, imageId);
  let template: LaunchTemplateRef = {};
  let sourceVersion = '';
  // Versions after the node group's own that fleetwave created naming the image, oldest first.
  let ours: string[] = [];
  let firstLookMs: number | undefined;
  const handle = await startIdempotently({
    rt: r,
    client,
    cluster: input.cluster,
    scope: { clusterName: name, nodegroupName: input.nodegroup },
    what: `node group ${input.nodegroup} → image ${imageId}`,
    read: async () => {
      const ng = await describeNodegroupRaw(client, name, input.nodegroup, r.signal);
      firstLookMs = firstLookOf(ng);
      const lt = ng.launchTemplate;
      if (!lt?.version || !(lt.id || lt.name)) {
        throw nonRetryable(
          FailureTypes.InvalidRequest,
          `node group ${name}/${input.nodegroup} has no launch template: a custom AMI can only come from one`,
        );
      }
      template = lt.id ? { id: lt.id } : { name: lt.name };
      sourceVersion = lt.version;
      const current = await describeLaunchTemplateVersion(ec2, template, lt.version, r.signal);
      const updating = ng.status === UPDATING;
      if (current.LaunchTemplateData?.ImageId === imageId) {
        if (!updating) return { atTarget: true, updating };
        // Moving to this version now: adopt that update rather than report a step not yet done.
        ours = [lt.version];
        return { atTarget: false, updating };
      }
      const after = await launchTemplateVersionsAfter(ec2, template, lt.version, r.signal);
      ours = after
        .filter(
          (v) => v.LaunchTemplateData?.ImageId === imageId && v.VersionDescription === versionDescription(imageId),
        )
        .map((v) => String(v.VersionNumber));
      return { atTarget: false, updating };
    },
    matches: (u) => {
      if (u.type && u.type !== 'VersionUpdate') return false;
      const version = paramValue(u, 'LaunchTemplateVersion');
      return version !== undefined ? ours.includes(version) : ours.length > 0;
    },
    start: async () => {
      let version = ours[ours.length - 1];
      if (version === undefined) {
        const created = await createImageVersion(ec2, template, sourceVersion, imageId, versionToken, r.signal, {
          description: versionDescription(imageId),
        });
        version = String(created.VersionNumber);
        r.log.info('Created launch-template version', {
          cluster: name,
          nodegroup: input.nodegroup,
          from: sourceVersion,
          version,
          imageId,
        });
      }
      return writeNodegroupVersion(
        client,
        {
          clusterName: name,
          nodegroupName: input.nodegroup,
          launchTemplate: { ...template, version },
          force: input.force,
          clientRequestToken: token,
        },
        r.signal,
      );
    },
  });
  return handle.updateId && firstLookMs !== undefined ? { ...handle, firstLookMs } : handle;
}
