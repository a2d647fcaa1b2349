/**
 * Fleet inventory from EKS discovery, in the fleet file's schema: ListClusters per region,
 * DescribeCluster (tags become labels), node groups, add-ons, Fargate profiles and self-managed
 * groups. `fleetwave discover` (client/discover.ts) uses the same describer across accounts. Each discovered cluster goes
 * through the fleet file's own zod schema and `toFleetMember`, so a plan made from discovery
 * and one made from a file agree. (Fleet files are read by client/library.ts.)
 *
 * Tags that are not valid Kubernetes label keys or values (`aws:cloudformation:stack-name`,
 * values longer than 63 characters) are left out of the labels.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeAddonCommand,
  DescribeNodegroupCommand,
  ListClustersCommand,
  type Cluster,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { clusterInventorySchema, toFleetMember, type ClusterInventory, type FleetMember } from '../domain/fleet';
import { AMI_TYPES } from '../domain/node-models';
import { toMinor } from '../domain/versions';
import { activityRuntime } from './context';
import { mapLimit, type ResolvedDeps } from './deps';
import { describeClusterRaw, listAddonNames, listFargateProfileNames, listNodegroupNames } from './eks/read';
import { awsCall } from './failures';
import { listSelfManagedGroups } from './self-managed';
import type { DiscoverFleetInput } from './types';

const LABEL_KEY_RE = /^([a-zA-Z0-9.-]{1,253}\/)?[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Cluster tags that can be Kubernetes labels. */
export function tagsToLabels(tags: Record<string, string> | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags ?? {})) {
    if (LABEL_KEY_RE.test(key) && LABEL_VALUE_RE.test(value)) labels[key] = value;
  }
  return labels;
}

/** Account ID from an EKS cluster ARN (`arn:aws:eks:us-east-1:111122223333:cluster/name`). */
export function accountFromArn(arn: string | undefined): string | undefined {
  const account = arn?.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : undefined;
}

function matchesTags(tags: Record<string, string> | undefined, filter: Record<string, string> | undefined): boolean {
  return Object.entries(filter ?? {}).every(([k, v]) => tags?.[k] === v);
}

/** The AWS clients of one account and region that {@link describeClusterInventory} reads with. */
export interface InventoryClients {
  eks: EKSClient;
  /** Self-managed groups (Auto Scaling groups tagged for the cluster); left out without it. */
  autoScaling?: AutoScalingClient;
  /** The image a CUSTOM node group's launch-template version names; its amiType is left out without it. */
  ec2?: EC2Client;
}

/** How {@link describeClusterInventory} reads a cluster. */
export interface DescribeInventoryOptions {
  /** Describe calls in flight per cluster. Default: 4. */
  concurrency?: number;
  /** Labels from the cluster's tags. Default: {@link tagsToLabels}. */
  labels?: (tags: Record<string, string>) => Record<string, string>;
  signal?: AbortSignal;
}

/**
 * One cluster as a fleet-file entry, from what AWS APIs tell: DescribeCluster (version, platform
 * version, Auto Mode, tags), its managed node groups (version, AMI release and type, size,
 * maxUnavailable, launch template; for a custom AMI the image the template version names), add-ons,
 * Fargate profiles and self-managed groups. What only the cluster's Kubernetes API knows (Karpenter,
 * NodePools, PDBs, Fargate pod counts) is not read. Throws a ZodError when the cluster does not fit
 * the fleet schema (a version fleetwave does not know, say).
 */
export async function describeClusterInventory(
  clients: InventoryClients,
  region: string,
  cluster: Cluster,
  opts: DescribeInventoryOptions = {},
): Promise<ClusterInventory> {
  const { eks: client, autoScaling, ec2 } = clients;
  const signal = opts.signal;
  const limit = Math.max(1, opts.concurrency ?? 4);
  const name = cluster.name ?? '';
  const [ngNames, addonNames, fargateNames, selfManaged] = await Promise.all([
    listNodegroupNames(client, name, signal),
    listAddonNames(client, name, signal),
    listFargateProfileNames(client, name, signal),
    autoScaling
      ? awsCall(`DescribeAutoScalingGroups ${name}`, () => listSelfManagedGroups(autoScaling, name))
      : Promise.resolve([]),
  ]);
  const nodegroups = await mapLimit(ngNames, limit, async (ng) => {
    const out = await awsCall(`DescribeNodegroup ${name}/${ng}`, () =>
      client.send(new DescribeNodegroupCommand({ clusterName: name, nodegroupName: ng }), { abortSignal: signal }),
    );
    const n = out.nodegroup;
    const lt = n?.launchTemplate;
    const amiType = AMI_TYPES.find((t) => t === n?.amiType);
    // A custom AMI: EKS reports its image ID as the release, and the fleet file names the image instead.
    let imageId: string | undefined;
    if (amiType === 'CUSTOM' && ec2 && lt?.version) {
      const versions = await awsCall(`DescribeLaunchTemplateVersions ${name}/${ng}`, () =>
        ec2.send(
          new DescribeLaunchTemplateVersionsCommand({
            ...(lt.id ? { LaunchTemplateId: lt.id } : { LaunchTemplateName: lt.name }),
            Versions: [lt.version ?? ''],
          }),
          { abortSignal: signal },
        ),
      );
      imageId = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId;
    }
    const custom = amiType === 'CUSTOM';
    return {
      name: ng,
      ...(n?.version && toMinor(n.version) ? { version: toMinor(n.version) } : {}),
      ...(n?.releaseVersion && !custom ? { releaseVersion: n.releaseVersion } : {}),
      nodes: n?.scalingConfig?.desiredSize ?? 0,
      maxUnavailable: n?.updateConfig?.maxUnavailable ?? 1,
      ...(amiType && (!custom || imageId) ? { amiType } : {}),
      ...((lt?.name || lt?.id) && lt?.version
        ? { launchTemplate: { name: lt.name ?? lt.id ?? '', version: lt.version, ...(imageId ? { imageId } : {}) } }
        : {}),
    };
  });
  const addons = await mapLimit(addonNames, limit, async (a) => {
    const out = await awsCall(`DescribeAddon ${name}/${a}`, () =>
      client.send(new DescribeAddonCommand({ clusterName: name, addonName: a }), { abortSignal: signal }),
    );
    return { name: a, version: out.addon?.addonVersion ?? 'unknown' };
  });
  const selfManagedGroups = selfManaged.map((g) => ({
    name: g.AutoScalingGroupName ?? '',
    nodes: g.DesiredCapacity ?? 0,
  }));
  return clusterInventorySchema.parse({
    name,
    region,
    account: accountFromArn(cluster.arn) ?? '000000000000',
    labels: (opts.labels ?? tagsToLabels)(cluster.tags ?? {}),
    version: toMinor(cluster.version ?? '') ?? cluster.version,
    ...(cluster.platformVersion ? { platformVersion: cluster.platformVersion } : {}),
    ...(cluster.computeConfig?.enabled ? { autoMode: true } : {}),
    nodegroups,
    ...(selfManagedGroups.length > 0 ? { selfManagedGroups } : {}),
    ...(fargateNames.length > 0 ? { fargateProfiles: fargateNames.map((f) => ({ name: f })) } : {}),
    addons,
    pdbs: [],
  });
}

/** The inventory activities. */
export function createInventoryActivities(deps: ResolvedDeps) {
  async function discoverFleet(input: DiscoverFleetInput): Promise<FleetMember[]> {
    const rt = activityRuntime(deps.logger);
    const members: FleetMember[] = [];
    for (const region of [...new Set(input.regions)]) {
      const client = deps.eks({ region });
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const out = await awsCall(`ListClusters ${region}`, () =>
          client.send(new ListClustersCommand({ nextToken, maxResults: 100 }), { abortSignal: rt.signal }),
        );
        names.push(...(out.clusters ?? []));
        nextToken = out.nextToken;
      } while (nextToken);

      const found = await mapLimit(names, deps.describeConcurrency, async (name) => {
        const cluster = await describeClusterRaw(client, name, rt.signal);
        if (!matchesTags(cluster.tags, input.tagFilter)) return undefined;
        try {
          const member = toFleetMember(
            await describeClusterInventory({ eks: client }, region, cluster, {
              concurrency: deps.describeConcurrency,
              signal: rt.signal,
            }),
          );
          rt.heartbeat({ region, cluster: name });
          return member;
        } catch (err) {
          if (err instanceof Error && err.name === 'ZodError') {
            rt.log.warn('Discovered cluster does not fit the fleet schema; left out', {
              region,
              cluster: name,
              error: err.message,
            });
            return undefined;
          }
          throw err;
        }
      });
      const kept = found.filter((m): m is FleetMember => m !== undefined);
      rt.log.info('Discovered clusters', { region, listed: names.length, kept: kept.length });
      members.push(...kept);
    }
    return members.sort((a, b) => a.name.localeCompare(b.name));
  }

  return { discoverFleet };
}
