/**
 * Reading EKS: clusters, node groups, add-ons and the add-on versions EKS lists per minor,
 * each page of a paginated call, and a cluster's whole state at once.
 */
import {
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  ListAddonsCommand,
  ListFargateProfilesCommand,
  ListNodegroupsCommand,
  type AddonInfo,
  type Cluster,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { AMI_TYPES, type AmiType, type Architecture } from '../../domain/node-models';
import { detectOwner } from '../../domain/ownership';
import { compareAddonVersions } from '../../domain/versions';
import { activityRuntime } from '../context';
import { mapLimit, type ClusterAccess, type ResolvedDeps } from '../deps';
import { awsCall, nonRetryable } from '../failures';
import {
  FailureTypes,
  type AddonState,
  type ClusterState,
  type DescribeClusterInput,
  type NodegroupState,
} from '../types';

/** The status EKS reports for a cluster, node group or add-on while an update runs. */
export const UPDATING = 'UPDATING';

function nodegroupState(ng: NonNullable<Awaited<ReturnType<typeof describeNodegroupRaw>>>): NodegroupState {
  const lt = ng.launchTemplate;
  const owner = ng.tags ? detectOwner({ tags: ng.tags }) : undefined;
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
    ...(ng.amiType && (AMI_TYPES as readonly string[]).includes(ng.amiType) ? { amiType: ng.amiType as AmiType } : {}),
    ...(owner ? { owner } : {}),
  };
}

/** DescribeNodegroup, failing with EksResourceNotFound when EKS answers without a node group. */
export async function describeNodegroupRaw(
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

/** DescribeAddon, failing with EksResourceNotFound when EKS answers without an add-on. */
export async function describeAddonRaw(
  client: EKSClient,
  clusterName: string,
  addonName: string,
  signal?: AbortSignal,
) {
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
export async function listAll<T>(
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

/** Names of a cluster's node groups, every page. */
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

/** Names of a cluster's add-ons, every page. */
export async function listAddonNames(client: EKSClient, clusterName: string, signal?: AbortSignal): Promise<string[]> {
  return listAll(`ListAddons ${clusterName}`, async (nextToken) => {
    const out = await client.send(new ListAddonsCommand({ clusterName, nextToken }), { abortSignal: signal });
    return { items: out.addons, nextToken: out.nextToken };
  });
}

/** Names of a cluster's Fargate profiles, every page. */
export async function listFargateProfileNames(
  client: EKSClient,
  clusterName: string,
  signal?: AbortSignal,
): Promise<string[]> {
  return listAll(`ListFargateProfiles ${clusterName}`, async (nextToken) => {
    const out = await client.send(new ListFargateProfilesCommand({ clusterName, nextToken }), { abortSignal: signal });
    return { items: out.fargateProfileNames, nextToken: out.nextToken };
  });
}

/**
 * The image each CUSTOM node group's launch-template version names, and its architecture: one
 * DescribeLaunchTemplateVersions per node group, one DescribeImages for all their images. Node
 * groups whose AMI EKS picks cost nothing here. Returns the node groups with `imageId`/`arch` set
 * where EC2 answered; a launch-template version without an image keeps them unset.
 */
export async function withCustomAmis(
  ec2: EC2Client,
  clusterName: string,
  nodegroups: NodegroupState[],
  signal?: AbortSignal,
): Promise<NodegroupState[]> {
  const custom = nodegroups.filter((ng) => ng.amiType === 'CUSTOM' && ng.launchTemplate?.version);
  if (custom.length === 0) return nodegroups;
  const images = new Map<string, string>();
  for (const ng of custom) {
    const lt = ng.launchTemplate ?? {};
    const out = await awsCall(`DescribeLaunchTemplateVersions ${clusterName}/${ng.name}`, () =>
      ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          ...(lt.id ? { LaunchTemplateId: lt.id } : { LaunchTemplateName: lt.name }),
          Versions: [lt.version ?? ''],
        }),
        { abortSignal: signal },
      ),
    );
    const imageId = out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId;
    if (imageId) images.set(ng.name, imageId);
  }
  const ids = [...new Set(images.values())];
  const arch = new Map<string, Architecture>();
  if (ids.length > 0) {
    const out = await awsCall(`DescribeImages ${clusterName}`, () =>
      ec2.send(new DescribeImagesCommand({ ImageIds: ids }), { abortSignal: signal }),
    );
    for (const image of out.Images ?? []) {
      // EC2 also knows i386 and arm64_mac, which EKS nodes do not run: those stay unknown.
      if (image.ImageId && (image.Architecture === 'x86_64' || image.Architecture === 'arm64'))
        arch.set(image.ImageId, image.Architecture);
    }
  }
  return nodegroups.map((ng) => {
    const imageId = images.get(ng.name);
    if (!imageId) return ng;
    const a = arch.get(imageId);
    return { ...ng, imageId, ...(a ? { arch: a } : {}) };
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
      // Auto Mode as DescribeCluster reports it; the other node models are detected elsewhere.
      ...(cluster.computeConfig?.enabled
        ? { nodeModels: { autoMode: true, nodePools: [], selfManagedNodes: 0, fargateProfiles: [] } }
        : {}),
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

/**
 * How long the add-on versions EKS lists for a minor are reused. Preflight reads them for every
 * add-on of every hop of every cluster (more than five calls a cluster, the same few answers across
 * a fleet); EKS adds versions with its releases, weeks apart.
 */
export const ADDON_VERSIONS_REUSE_MS = 5 * 60_000;

/** Answers of DescribeAddonVersions per client (region and role) and `minor|addon`, with when they were read. */
const addonVersionsRead = new WeakMap<EKSClient, Map<string, { atMs: number; infos: AddonInfo[] }>>();

async function addonVersionsFor(
  client: EKSClient,
  minor: string,
  addonName: string,
  signal?: AbortSignal,
): Promise<AddonInfo[]> {
  let read = addonVersionsRead.get(client);
  if (!read) {
    read = new Map();
    addonVersionsRead.set(client, read);
  }
  const key = `${minor}|${addonName}`;
  const known = read.get(key);
  if (known && Date.now() - known.atMs < ADDON_VERSIONS_REUSE_MS) return known.infos;
  const infos = await listAll(`DescribeAddonVersions ${addonName} for ${minor}`, async (nextToken) => {
    const out = await client.send(
      new DescribeAddonVersionsCommand({ kubernetesVersion: minor, addonName, nextToken }),
      {
        abortSignal: signal,
      },
    );
    return { items: out.addons, nextToken: out.nextToken };
  });
  read.set(key, { atMs: Date.now(), infos });
  return infos;
}

/** Versions of an add-on compatible with a minor, newest first, with EKS's default flag. */
export async function compatibleAddonVersions(
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

/** The describeCluster activity: the cluster, its node groups and add-ons as they are now. */
export async function describeCluster(deps: ResolvedDeps, input: DescribeClusterInput): Promise<ClusterState> {
  const r = activityRuntime(deps.logger);
  const { state } = await readClusterState(
    deps.eks(input.cluster),
    input.cluster.name,
    deps.describeConcurrency,
    r.signal,
  );
  return state;
}
