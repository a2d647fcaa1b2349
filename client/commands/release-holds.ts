/**
 * `fleetwave release-holds --cluster NAME (--fleet fleet.yaml | --region R [--role-arn ARN])
 * [--workflow-id ID] [--terms original|pinned|keep] [--json]`: removes the NodePool holds fleetwave
 * placed (an EKS Auto Mode cluster during a control-plane bake, a self-installed Karpenter during an
 * upgrade) and restores the budgets they recorded; on Karpenter's EC2NodeClasses it removes the AMI
 * pin and restores the user's own terms (`--terms original`, the default), the AMIs pinned before the
 * hop (`pinned`), or leaves the terms as they are (`keep`).
 *
 * The cluster-upgrade workflow releases its holds on every exit path, and the campaign releases
 * those of an upgrade that was terminated; this is for a hold left behind anyway (the campaign
 * itself terminated, a release that failed). It talks to EKS and the cluster's Kubernetes API
 * directly, with the worker's AWS settings (FLEETWAVE_AWS_ENDPOINT for the simulator), and needs
 * no Temporal server.
 */
import { Command } from 'commander';
import { createActivityParts, createDefaultDeps, type ActivityDeps } from '../../activities/index';
import type { ClusterRef } from '../../activities/types';
import { parseFleet } from '../../domain/load';
import type { CliIO } from '../cli';
import { InvalidInputError } from '../errors';
import { readRegularFile } from '../files';

interface ReleaseHoldsOptions {
  cluster: string;
  fleet?: string;
  region?: string;
  roleArn?: string;
  workflowId?: string;
  terms: string;
  json?: boolean;
}

const TERMS = ['original', 'pinned', 'keep'] as const;

const MAX_FLEET_BYTES = 64 * 1024 * 1024;

/** Where the cluster lives: its fleet-file entry, or the region (and role) given. */
async function clusterRef(opts: ReleaseHoldsOptions): Promise<ClusterRef> {
  if (opts.fleet) {
    const parsed = parseFleet(await readRegularFile(opts.fleet, MAX_FLEET_BYTES));
    if (!parsed.ok) throw InvalidInputError.fromIssues('fleet', parsed.issues, opts.fleet);
    const member = parsed.value.clusters.find((c) => c.name === opts.cluster);
    if (!member) throw new InvalidInputError(`cluster ${opts.cluster} is not in ${opts.fleet}`);
    return {
      name: member.name,
      region: member.region,
      account: member.account,
      ...(member.roleArn ? { roleArn: member.roleArn } : {}),
    };
  }
  if (!opts.region) throw new InvalidInputError('give --fleet, or --region (and --role-arn if the cluster needs one)');
  return { name: opts.cluster, region: opts.region, ...(opts.roleArn ? { roleArn: opts.roleArn } : {}) };
}

/** Builds the `release-holds` command; `deps` replaces the AWS clients built from the environment (tests). */
export function releaseHoldsCommand(io: CliIO, deps?: ActivityDeps): Command {
  return new Command('release-holds')
    .description("remove fleetwave's NodePool holds (EKS Auto Mode, control-plane bake) left on a cluster")
    .requiredOption('--cluster <name>', 'the cluster whose NodePools to release')
    .option('--fleet <fleet.yaml>', "fleet inventory giving the cluster's region, account and role")
    .option('--region <region>', "the cluster's AWS region (without --fleet)")
    .option('--role-arn <arn>', 'role to assume for the cluster (without --fleet)')
    .option('--workflow-id <id>', "release only this workflow's holds (default: every fleetwave hold)")
    .option(
      '--terms <original|pinned|keep>',
      "Karpenter EC2NodeClasses: restore the user's terms, the AMIs pinned before the hop, or keep the terms as they are",
      'original',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: ReleaseHoldsOptions) => {
      const terms = TERMS.find((t) => t === opts.terms);
      if (!terms) throw new InvalidInputError(`--terms must be one of ${TERMS.join(', ')}`);
      const cluster = await clusterRef(opts);
      const activities = createActivityParts(
        deps ??
          createDefaultDeps({
            endpoint: process.env.FLEETWAVE_AWS_ENDPOINT || undefined,
            eksEndpoint: process.env.AWS_ENDPOINT_URL_EKS || undefined,
          }),
      );
      // NodePools of Auto Mode and Karpenter alike, and Karpenter's EC2NodeClass pins (none elsewhere).
      const { released, nodeClasses } = await activities.releaseKarpenterHolds({
        cluster,
        terms,
        ...(opts.workflowId ? { workflowId: opts.workflowId } : {}),
      });
      const unpinned = nodeClasses.map((n) => n.nodeClass);
      if (opts.json)
        io.out(
          `${JSON.stringify({ cluster: cluster.name, released, ...(nodeClasses.length > 0 ? { nodeClasses } : {}) })}\n`,
        );
      else if (released.length === 0 && unpinned.length === 0)
        io.out(`${cluster.name}: no NodePool held and no EC2NodeClass pinned by fleetwave\n`);
      else
        io.out(
          `${cluster.name}: released ${released.join(', ') || 'no NodePool'}${unpinned.length > 0 ? `; EC2NodeClass pins removed (${terms} terms): ${unpinned.join(', ')}` : ''}\n`,
        );
    });
}
