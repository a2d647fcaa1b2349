/**
 * Fleet inventory from EKS discovery, in the fleet file's schema: ListClusters per region,
 * DescribeCluster (tags become labels), node groups and add-ons. Each discovered cluster goes
 * through the fleet file's own zod schema and `toFleetMember`, so a plan made from discovery
 * and one made from a file agree. (Fleet files are read by client/library.ts.)
 *
 * Tags that are not valid Kubernetes label keys or values (`aws:cloudformation:stack-name`,
 * values longer than 63 characters) are left out of the labels.
 */
import {
  DescribeAddonCommand,
  DescribeNodegroupCommand,
  ListClustersCommand,
  type Cluster,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { clusterInventorySchema, toFleetMember, type ClusterInventory, type FleetMember } from '../domain/fleet';
import { toMinor } from '../domain/versions';
import { activityRuntime } from './context';
import { mapLimit, type ResolvedDeps } from './deps';
import { describeClusterRaw, listAddonNames, listNodegroupNames } from './eks/read';
import { awsCall } from './failures';
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

/** The inventory activities. */
export function createInventoryActivities(deps: ResolvedDeps) {
  async function describeMember(
    client: EKSClient,
    region: string,
    cluster: Cluster,
    signal?: AbortSignal,
  ): Promise<ClusterInventory> {
    const name = cluster.name ?? '';
    const [ngNames, addonNames] = await Promise.all([
      listNodegroupNames(client, name, signal),
      listAddonNames(client, name, signal),
    ]);
    const nodegroups = await mapLimit(ngNames, deps.describeConcurrency, async (ng) => {
      const out = await awsCall(`DescribeNodegroup ${name}/${ng}`, () =>
        client.send(new DescribeNodegroupCommand({ clusterName: name, nodegroupName: ng }), { abortSignal: signal }),
      );
      const n = out.nodegroup;
      const lt = n?.launchTemplate;
      return {
        name: ng,
        ...(n?.version && toMinor(n.version) ? { version: toMinor(n.version) } : {}),
        ...(n?.releaseVersion ? { releaseVersion: n.releaseVersion } : {}),
        nodes: n?.scalingConfig?.desiredSize ?? 0,
        maxUnavailable: n?.updateConfig?.maxUnavailable ?? 1,
        ...((lt?.name || lt?.id) && lt?.version
          ? { launchTemplate: { name: lt.name ?? lt.id ?? '', version: lt.version } }
          : {}),
      };
    });
    const addons = await mapLimit(addonNames, deps.describeConcurrency, async (a) => {
      const out = await awsCall(`DescribeAddon ${name}/${a}`, () =>
        client.send(new DescribeAddonCommand({ clusterName: name, addonName: a }), { abortSignal: signal }),
      );
      return { name: a, version: out.addon?.addonVersion ?? 'unknown' };
    });
    return clusterInventorySchema.parse({
      name,
      region,
      account: accountFromArn(cluster.arn) ?? '000000000000',
      labels: tagsToLabels(cluster.tags),
      version: toMinor(cluster.version ?? '') ?? cluster.version,
      nodegroups,
      addons,
      pdbs: [],
    });
  }

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
          const member = toFleetMember(await describeMember(client, region, cluster, rt.signal));
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
