/**
 * EKS's rules for node-group updates: a version or AMI release (a rolling replacement in
 * batches, with the node-group faults), a launch-template version (the rollback path), and
 * configuration (update strategy, scaling, labels, taints).
 */
import { compareReleasesOf, releaseMinorOf, releasesOf } from '../ami-catalogue';
import { DURATIONS, compareMinor, isMinorString } from '../catalogue';
import { invalidParameter, inUse } from './errors';
import { instanceId, nodeName } from './nodes';
import type { SimCluster, SimNodegroup, SimUpdate, UpdateEffect, UpdateError, Taint, UpdateHost } from './types';

/** UpdateNodegroupVersion's request body. */
export interface NodegroupVersionRequest {
  version?: string;
  releaseVersion?: string;
  launchTemplate?: { name?: string; id?: string; version?: string };
  force?: boolean;
  clientRequestToken: string;
}

/** UpdateNodegroupConfig's request body. */
export interface NodegroupConfigRequest {
  updateConfig?: { maxUnavailable?: number; maxUnavailablePercentage?: number; updateStrategy?: string };
  scalingConfig?: { minSize?: number; maxSize?: number; desiredSize?: number };
  labels?: { addOrUpdateLabels?: Record<string, string>; removeLabels?: string[] };
  taints?: { addOrUpdateTaints?: Taint[]; removeTaints?: Taint[] };
  clientRequestToken: string;
}

/**
 * The opening both node-group writes share: a repeated token answers with its original update;
 * otherwise neither the control plane nor the node group may be updating.
 */
function openNodegroupWrite(
  host: UpdateHost,
  c: SimCluster,
  ng: SimNodegroup,
  operation: string,
  clientRequestToken: string,
): { key: string; extra: Record<string, string>; replayed?: SimUpdate } {
  const key = `${operation}|${ng.name}|${clientRequestToken}`;
  const replayed = host.replay(c, key);
  const extra = { clusterName: c.name, nodegroupName: ng.name };
  if (replayed) return { key, extra, replayed };
  host.requireQuiet(c);
  if (ng.active) throw inUse(`Nodegroup ${ng.name} is currently being updated (update ${ng.active.id}).`, extra);
  return { key, extra };
}

/**
 * UpdateNodegroupVersion, per how the node group gets its AMI (resolveVersionTarget): EKS's
 * AMI by `version`/`releaseVersion`, forward only; a custom AMI by launch-template version,
 * either way.
 */
export function startNodegroupVersionUpdate(
  host: UpdateHost,
  c: SimCluster,
  ng: SimNodegroup,
  req: NodegroupVersionRequest,
): SimUpdate {
  const { key, extra, replayed } = openNodegroupWrite(host, c, ng, 'UpdateNodegroupVersion', req.clientRequestToken);
  if (replayed) return replayed;

  const goal = resolveVersionTarget(host, c, ng, req, extra);
  const { version, releaseVersion, forward, target } = goal;
  const targetLt = goal.launchTemplateVersion;

  const now = host.now();
  const n = ng.desiredSize;
  const batchSize = batchSizeOf(ng);
  const batches = n === 0 ? 0 : Math.ceil(n / batchSize);
  // A custom AMI whose kubelet is newer than the control plane: EKS cannot know the AMI's
  // Kubernetes version, so it accepts the update and the instances never join.
  const fault = goal.kubeletTooNew ? 'NodeCreationFailure' : forward ? c.faults.nodegroupUpdateFails : undefined;
  // EKS drains the old nodes with the Eviction API, so a budget that refuses an eviction now
  // blocks the drain as it blocks `kubectl drain` (EKS User Guide, "Understand each phase of node
  // updates", upgrade phase: PodEvictionFailure after 15 minutes unless force).
  const blocking = !req.force && n > 0 ? host.blockingPdb(c) : undefined;
  const pdbBlocks = blocking !== undefined;
  const setupEnd = now + host.slow(c, c.rng.between(DURATIONS.nodegroupSetupMinMs, DURATIONS.nodegroupSetupMaxMs));
  let failAt: number | undefined;
  let failure: UpdateError | undefined;
  let phases: number[];
  if (batches === 0) {
    phases = [setupEnd];
  } else if (fault === 'NodeCreationFailure') {
    failAt = setupEnd + host.slow(c, DURATIONS.nodeJoinTimeoutMs);
    phases = [setupEnd, failAt];
    failure = {
      errorCode: 'NodeCreationFailure',
      errorMessage: goal.kubeletTooNew
        ? `Instances failed to join the kubernetes cluster (the AMI ${goal.imageId ?? ''} runs Kubernetes ${version}, newer than the control plane ${c.version}).`
        : 'Instances failed to join the kubernetes cluster (simulated fault nodegroupUpdateFails).',
      resourceIds: surgeInstanceIds(c, ng, Math.min(batchSize, n)),
    };
  } else {
    const launchEnd = setupEnd + host.slow(c, c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs));
    if (fault === 'PodEvictionFailure' || pdbBlocks) {
      failAt = launchEnd + DURATIONS.drainTimeoutMs;
      phases = [setupEnd, launchEnd, failAt];
      failure = {
        errorCode: 'PodEvictionFailure',
        errorMessage:
          `Reached max retries while trying to evict pods from nodes in node group ${ng.name}` +
          (blocking && pdbBlocks
            ? ` (PodDisruptionBudget ${blocking.namespace}/${blocking.name} allows no disruption)`
            : '') +
          (fault === 'PodEvictionFailure' ? ' (simulated fault nodegroupUpdateFails)' : ''),
        resourceIds: oldNodeNames(c, ng, Math.min(batchSize, n)),
      };
    } else {
      phases = [setupEnd];
      let t = setupEnd;
      for (let b = 0; b < batches; b++) {
        if (b > 0) t += host.slow(c, c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs));
        else t = launchEnd;
        phases.push(t);
        t += host.slow(c, c.rng.between(DURATIONS.batchDrainMinMs, DURATIONS.batchDrainMaxMs));
        phases.push(t);
      }
    }
  }
  const endsAt = failAt !== undefined ? failAt + 1 : (phases[phases.length - 1] ?? setupEnd);
  host.integrate(c, now);
  ng.status = 'UPDATING';
  ng.modifiedAt = now;
  const update = host.begin(c, key, req.clientRequestToken, 'UpdateNodegroupVersion', target, {
    createdAt: now,
    nodegroup: ng.name,
    type: 'VersionUpdate',
    params: [
      { type: 'Version', value: version },
      { type: 'ReleaseVersion', value: releaseVersion },
      { type: 'LaunchTemplateName', value: ng.launchTemplate.name },
      { type: 'LaunchTemplateVersion', value: targetLt },
    ],
    endsAt,
    ...(failAt !== undefined ? { failAt, failure } : {}),
    phases: Float64Array.from(phases),
    batchSize,
    nodeCount: n,
    effect: {
      kind: 'nodegroup-version',
      version,
      releaseVersion,
      launchTemplateVersion: targetLt,
      ...(goal.imageId !== undefined ? { imageId: goal.imageId } : {}),
    },
  });
  ng.active = update;
  return update;
}

/** What an UpdateNodegroupVersion asks for, once resolved against the node group and its launch template. */
interface VersionTarget {
  version: string;
  releaseVersion: string;
  launchTemplateVersion: string;
  /** The custom AMI the target launch-template version names (CUSTOM node groups). */
  imageId?: string;
  /** Whether the nodegroupUpdateFails fault applies: forward updates only, never a way back. */
  forward: boolean;
  /** The mutation log's target: the AMI release, or `lt:<version>`. */
  target: string;
  kubeletTooNew?: boolean;
}

/**
 * The one place the node-group rollback rule lives (fidelity table, "Node-group rollback"):
 *
 * - A node group whose launch template names a custom AMI (amiType CUSTOM) moves by
 *   launch-template version only; `version` and `releaseVersion` are refused ("If you specify
 *   launchTemplate, and your launch template uses a custom AMI, then don't specify version, or
 *   the node group update will fail", API reference). Its Kubernetes minor and AMI become those of
 *   the image the version names, forward or back (userguide/launch-templates.html).
 * - Otherwise EKS picks the AMI from `version`/`releaseVersion`, forward only ("You cannot roll
 *   back a node group to an earlier Kubernetes version or AMI version"); a release of another
 *   family is not valid for the minor. EKS keeps its own copy of a customer launch template, so
 *   the customer's template gets no new version, and pointing the node group at another
 *   version of it changes neither the Kubernetes version nor the AMI.
 */
function resolveVersionTarget(
  host: UpdateHost,
  c: SimCluster,
  ng: SimNodegroup,
  req: NodegroupVersionRequest,
  extra: Record<string, string>,
): VersionTarget {
  const lt = req.launchTemplate;
  if (lt && ((lt.name && lt.name !== ng.launchTemplate.name) || (lt.id && lt.id !== ng.launchTemplate.id))) {
    throw invalidParameter(
      `You must specify the same launch template ID or name that was used to create the node group (${ng.launchTemplate.name}, ${ng.launchTemplate.id}).`,
      extra,
    );
  }
  let ltNumber: number | undefined;
  if (lt?.version !== undefined) {
    const raw = lt.version;
    ltNumber =
      raw === '$Latest' ? ng.template.latestVersion : raw === '$Default' ? ng.template.defaultVersion : Number(raw);
    if (!Number.isInteger(ltNumber) || !ng.template.versions.has(ltNumber)) {
      throw invalidParameter(`Launch template ${ng.launchTemplate.name} has no version ${raw}.`, extra);
    }
  }
  const current = Number(ng.launchTemplate.version);
  const ltChanges = ltNumber !== undefined && ltNumber !== current;
  const named = ltNumber !== undefined ? ng.template.versions.get(ltNumber) : undefined;

  if (ng.amiType === 'CUSTOM') {
    if (req.version !== undefined || req.releaseVersion !== undefined) {
      throw invalidParameter(
        `Nodegroup ${ng.name} uses a custom AMI in its launch template: update it by launch template version, without version or releaseVersion.`,
        extra,
      );
    }
    if (!lt || ltNumber === undefined) {
      throw invalidParameter(
        `Nodegroup ${ng.name} uses a custom AMI: specify the launch template version that names the new AMI.`,
        extra,
      );
    }
    if (!ltChanges) {
      throw invalidParameter(`Nodegroup ${ng.name} is already at launch template version ${ltNumber}.`, extra);
    }
    const imageId = named?.imageId;
    if (!imageId) {
      throw invalidParameter(
        `Launch template ${ng.launchTemplate.name} version ${ltNumber} names no AMI; a node group created with a custom AMI must keep one.`,
        extra,
      );
    }
    const image = host.ec2.customImage(c.region, imageId);
    if (!image) throw invalidParameter(`The image id '[${imageId}]' does not exist`, extra);
    return {
      version: image.minor,
      releaseVersion: imageId,
      launchTemplateVersion: String(ltNumber),
      imageId,
      forward: ltNumber > current,
      target: `lt:${ltNumber}`,
      ...(compareMinor(image.minor, c.version) > 0 ? { kubeletTooNew: true } : {}),
    };
  }

  if (named?.imageId) {
    throw invalidParameter(
      `Launch template ${ng.launchTemplate.name} version ${ltNumber} names an AMI; node group ${ng.name} uses the ${ng.amiType} AMI that EKS chooses.`,
      extra,
    );
  }
  const launchTemplateVersion = ltNumber !== undefined ? String(ltNumber) : ng.launchTemplate.version;
  if (ltChanges && req.version === undefined && req.releaseVersion === undefined) {
    // Another launch-template version alone: the nodes are replaced, on the same version and AMI.
    return {
      version: ng.version,
      releaseVersion: ng.releaseVersion,
      launchTemplateVersion,
      forward: (ltNumber ?? 0) > current,
      target: `lt:${ltNumber}`,
    };
  }
  if (req.version !== undefined && !isMinorString(req.version)) {
    throw invalidParameter(`version must be a Kubernetes minor version such as "1.31", not "${req.version}"`, extra);
  }
  const pinnedMinor = req.releaseVersion !== undefined ? releaseMinorOf(ng.amiType, req.releaseVersion) : undefined;
  const version = req.version ?? pinnedMinor ?? (req.releaseVersion !== undefined ? ng.version : c.version);
  if (compareMinor(version, c.version) > 0) {
    throw invalidParameter(
      `Requested Nodegroup version ${version} is newer than the cluster's Kubernetes version ${c.version}; node groups can never be newer than the control plane.`,
      extra,
    );
  }
  if (compareMinor(version, ng.version) < 0) {
    throw invalidParameter(
      `Requested Nodegroup version ${version} is older than its current version ${ng.version}; EKS cannot roll a node group back to an earlier Kubernetes version.`,
      extra,
    );
  }
  const releases = releasesOf(ng.amiType, version);
  if (releases.length === 0) {
    throw invalidParameter(`Amazon EKS publishes no ${ng.amiType} AMI for Kubernetes version ${version}.`, extra);
  }
  const releaseVersion = req.releaseVersion ?? releases[releases.length - 1] ?? '';
  if (!releases.includes(releaseVersion)) {
    throw invalidParameter(
      `Requested release version ${releaseVersion} is not valid for kubernetes version ${version}.`,
      extra,
    );
  }
  const order = version === ng.version ? compareReleasesOf(ng.amiType, releaseVersion, ng.releaseVersion) : 1;
  if (order < 0) {
    throw invalidParameter(
      `Requested release version ${releaseVersion} is older than the node group's current release ${ng.releaseVersion}; EKS cannot roll a node group back to an earlier AMI version.`,
      extra,
    );
  }
  if (order === 0 && !ltChanges) {
    throw invalidParameter(`Nodegroup ${ng.name} is already at release version ${releaseVersion}.`, extra);
  }
  return { version, releaseVersion, launchTemplateVersion, forward: true, target: releaseVersion };
}

/** UpdateNodegroupConfig: update strategy, maxUnavailable, scaling, labels and taints. */
export function startNodegroupConfigUpdate(
  host: UpdateHost,
  c: SimCluster,
  ng: SimNodegroup,
  req: NodegroupConfigRequest,
): SimUpdate {
  const { key, extra, replayed } = openNodegroupWrite(host, c, ng, 'UpdateNodegroupConfig', req.clientRequestToken);
  if (replayed) return replayed;

  const effect: Extract<UpdateEffect, { kind: 'nodegroup-config' }> = { kind: 'nodegroup-config' };
  const params: { type: string; value: string }[] = [];
  const intIn = (name: string, v: unknown, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw invalidParameter(`${name} must be an integer between ${min} and ${max}`, extra);
    }
    return v;
  };
  const uc = req.updateConfig;
  if (uc) {
    if (uc.maxUnavailable !== undefined && uc.maxUnavailablePercentage !== undefined) {
      throw invalidParameter('Specify either maxUnavailable or maxUnavailablePercentage, not both', extra);
    }
    if (uc.maxUnavailable !== undefined) {
      effect.maxUnavailable = intIn('maxUnavailable', uc.maxUnavailable, 1, 100);
      params.push({ type: 'MaxUnavailable', value: String(effect.maxUnavailable) });
    }
    if (uc.maxUnavailablePercentage !== undefined) {
      effect.maxUnavailablePercentage = intIn('maxUnavailablePercentage', uc.maxUnavailablePercentage, 1, 100);
      params.push({ type: 'MaxUnavailablePercentage', value: String(effect.maxUnavailablePercentage) });
    }
    if (uc.updateStrategy !== undefined) {
      if (uc.updateStrategy !== 'DEFAULT' && uc.updateStrategy !== 'MINIMAL') {
        throw invalidParameter(`updateStrategy must be DEFAULT or MINIMAL, not "${String(uc.updateStrategy)}"`, extra);
      }
      effect.updateStrategy = uc.updateStrategy;
      params.push({ type: 'UpdateStrategy', value: uc.updateStrategy });
    }
  }
  const sc = req.scalingConfig;
  if (sc) {
    const minSize = sc.minSize !== undefined ? intIn('minSize', sc.minSize, 0, 1000) : ng.minSize;
    const maxSize = sc.maxSize !== undefined ? intIn('maxSize', sc.maxSize, 1, 1000) : ng.maxSize;
    const desiredSize = sc.desiredSize !== undefined ? intIn('desiredSize', sc.desiredSize, 0, 1000) : ng.desiredSize;
    if (minSize > maxSize || desiredSize < minSize || desiredSize > maxSize) {
      throw invalidParameter(
        `scalingConfig must satisfy minSize <= desiredSize <= maxSize (got ${minSize}, ${desiredSize}, ${maxSize})`,
        extra,
      );
    }
    if (sc.minSize !== undefined) {
      effect.minSize = minSize;
      params.push({ type: 'MinSize', value: String(minSize) });
    }
    if (sc.maxSize !== undefined) {
      effect.maxSize = maxSize;
      params.push({ type: 'MaxSize', value: String(maxSize) });
    }
    if (sc.desiredSize !== undefined) {
      effect.desiredSize = desiredSize;
      params.push({ type: 'DesiredSize', value: String(desiredSize) });
    }
  }
  if (req.labels?.addOrUpdateLabels && Object.keys(req.labels.addOrUpdateLabels).length > 0) {
    effect.addLabels = req.labels.addOrUpdateLabels;
    params.push({ type: 'LabelsToAdd', value: JSON.stringify(req.labels.addOrUpdateLabels) });
  }
  if (req.labels?.removeLabels && req.labels.removeLabels.length > 0) {
    effect.removeLabels = req.labels.removeLabels;
    params.push({ type: 'LabelsToRemove', value: JSON.stringify(req.labels.removeLabels) });
  }
  if (req.taints?.addOrUpdateTaints && req.taints.addOrUpdateTaints.length > 0) {
    effect.addTaints = req.taints.addOrUpdateTaints;
    params.push({ type: 'TaintsToAdd', value: JSON.stringify(req.taints.addOrUpdateTaints) });
  }
  if (req.taints?.removeTaints && req.taints.removeTaints.length > 0) {
    effect.removeTaints = req.taints.removeTaints;
    params.push({ type: 'TaintsToRemove', value: JSON.stringify(req.taints.removeTaints) });
  }
  if (params.length === 0) throw invalidParameter('The update request contains no changes.', extra);

  const now = host.now();
  let duration = c.rng.between(DURATIONS.configMinMs, DURATIONS.configMaxMs);
  if (effect.desiredSize !== undefined && effect.desiredSize > ng.desiredSize) {
    duration += c.rng.between(DURATIONS.batchLaunchMinMs, DURATIONS.batchLaunchMaxMs);
  }
  host.integrate(c, now);
  ng.status = 'UPDATING';
  ng.modifiedAt = now;
  const update = host.begin(
    c,
    key,
    req.clientRequestToken,
    'UpdateNodegroupConfig',
    params.map((p) => `${p.type}=${p.value}`).join(','),
    {
      createdAt: now,
      nodegroup: ng.name,
      type: 'ConfigUpdate',
      params,
      endsAt: now + host.slow(c, duration),
      effect,
    },
  );
  ng.active = update;
  return update;
}

/** Applies a successful node-group config update to the node group. */
export function applyConfig(ng: SimNodegroup, e: Extract<UpdateEffect, { kind: 'nodegroup-config' }>): void {
  if (e.maxUnavailable !== undefined) {
    ng.maxUnavailable = e.maxUnavailable;
    ng.maxUnavailablePercentage = undefined;
  }
  if (e.maxUnavailablePercentage !== undefined) {
    ng.maxUnavailablePercentage = e.maxUnavailablePercentage;
    ng.maxUnavailable = undefined;
  }
  if (e.updateStrategy !== undefined) ng.updateStrategy = e.updateStrategy;
  if (e.minSize !== undefined) ng.minSize = e.minSize;
  if (e.maxSize !== undefined) ng.maxSize = e.maxSize;
  if (e.desiredSize !== undefined) ng.desiredSize = e.desiredSize;
  if (e.addLabels) Object.assign(ng.labels, e.addLabels);
  for (const k of e.removeLabels ?? []) delete ng.labels[k];
  for (const t of e.addTaints ?? []) {
    ng.taints = ng.taints.filter((x) => !(x.key === t.key && x.effect === t.effect));
    ng.taints.push(t);
  }
  for (const t of e.removeTaints ?? [])
    ng.taints = ng.taints.filter((x) => !(x.key === t.key && x.effect === t.effect));
}

/** Nodes replaced per batch: maxUnavailable, or the percentage of the node count, at least 1. */
export function batchSizeOf(ng: SimNodegroup): number {
  if (ng.maxUnavailablePercentage !== undefined) {
    return Math.max(1, Math.floor((ng.desiredSize * ng.maxUnavailablePercentage) / 100));
  }
  return Math.max(1, ng.maxUnavailable ?? 1);
}

/** Instance IDs of the surge nodes of the first batch (for NodeCreationFailure resourceIds). */
function surgeInstanceIds(c: SimCluster, ng: SimNodegroup, count: number): string[] {
  const ids: string[] = [];
  for (let k = 0; k < count; k++) ids.push(instanceId(c.name, ng.name, ng.generation + 1, k));
  return ids;
}

/** Names of the old nodes of the first batch (for PodEvictionFailure resourceIds). */
function oldNodeNames(c: SimCluster, ng: SimNodegroup, count: number): string[] {
  const names: string[] = [];
  for (let k = 0; k < count; k++) names.push(nodeName(c, ng, ng.generation, k));
  return names;
}
