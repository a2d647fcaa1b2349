/**
 * The fleet inventory: which clusters exist, where, with which labels and (for offline
 * planning and the simulator) which versions they run now. The same schema is produced by
 * EKS discovery (ListClusters + tags), so a plan made from a file and one made from
 * discovery agree.
 */
import { z } from 'zod';
import { ACCESS_POLICIES } from './access';
import {
  AMI_TYPES,
  DEFAULT_AMI_TYPE,
  LAST_AL2_MINOR,
  amiTypeInfo,
  type AmiType,
  type NodeModelsSummary,
} from './node-models';
import { API_VERSION, OWNER_TOOLS, minorVersion, type OwnerTool } from './spec';
import { compareMinor } from './versions';

const clusterName = z.string().regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, {
  message: 'must be an EKS cluster name (letters, digits, - and _, at most 100, starting alphanumeric)',
});

/** Temporal accepts any non-empty name; this keeps them readable in logs, Helm values and the Web UI. */
const taskQueueName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, { message: 'must be a task queue name (letters, digits, . _ -)' });

const managedBy = z
  .enum(OWNER_TOOLS)
  .optional()
  .describe(
    'The tool that owns it (simulator: the annotations, labels or tags that tool sets); fleetwave then changes it only under spec.nodes.allowOwnedBy. Default: none.',
  );

export const nodegroupInventorySchema = z.strictObject({
  name: z
    .string()
    .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/, { message: 'must be a node group name (at most 63)' })
    .describe('Node group name.'),
  version: minorVersion.optional().describe('Kubelet minor version. Default: the cluster version.'),
  releaseVersion: z.string().optional().describe('AMI release version, e.g. "1.29.3-20240531".'),
  nodes: z
    .number()
    .int()
    .min(0)
    .max(1000, { message: 'must be <= 1000' })
    .default(3)
    .describe('Node count. Default: 3.'),
  maxUnavailable: z
    .number()
    .int()
    .min(1, { message: 'must be >= 1' })
    .max(100)
    .default(1)
    .describe('Nodes replaced per batch. Default: 1.'),
  amiType: z
    .enum(AMI_TYPES)
    .optional()
    .describe(
      'EKS amiType (AL2023_x86_64_STANDARD, BOTTLEROCKET_ARM_64, WINDOWS_CORE_2022_x86_64, ...). CUSTOM when the launch template names its own AMI (launchTemplate.imageId). Default: AL2023_x86_64_STANDARD, or CUSTOM with launchTemplate.imageId.',
    ),
  managedBy,
  launchTemplate: z
    .strictObject({
      name: z.string().min(1),
      version: z.string().min(1),
      imageId: z
        .string()
        .regex(/^ami-[0-9a-f]{8,17}$/, { message: 'must be an AMI ID such as "ami-0123456789abcdef0"' })
        .optional()
        .describe('The custom AMI this launch-template version names (the node group then has amiType CUSTOM).'),
    })
    .optional()
    .describe('Launch template, if the node group uses one.'),
});

export const nodePoolInventorySchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'must be a Kubernetes object name' }),
  nodes: z.number().int().min(0).max(1000).default(2).describe('Nodes (NodeClaims) the pool runs now. Default: 2.'),
  budgetNodes: z
    .string()
    .regex(/^(\d+|\d+%)$/, { message: 'must be a count or a percentage such as "10%"' })
    .default('10%')
    .describe('The NodePool disruption budget (spec.disruption.budgets[0].nodes). Default: "10%".'),
  expireAfter: z
    .string()
    .regex(/^(Never|(\d+(h|m|s))+)$/, { message: 'must be a duration such as "720h" or "Never"' })
    .optional()
    .describe(
      'spec.template.spec.expireAfter of a Karpenter NodePool: nodes older than this are replaced regardless of budgets. Default: "720h".',
    ),
  managedBy,
});

export const selfManagedGroupInventorySchema = z.strictObject({
  name: z.string().min(1).max(255).describe('Auto Scaling group name.'),
  version: minorVersion.optional().describe('Kubelet minor of its nodes. Default: the cluster version.'),
  nodes: z.number().int().min(0).max(1000).default(3).describe('Instances. Default: 3.'),
  amiType: z
    .enum(AMI_TYPES)
    .optional()
    .describe('The AMI family its launch template uses, as an EKS amiType. Default: AL2023_x86_64_STANDARD.'),
  managedBy,
});

export const fargateProfileInventorySchema = z.strictObject({
  name: z.string().min(1).max(100).describe('Fargate profile name.'),
  pods: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(2)
    .describe('Pods running on Fargate under this profile. Default: 2.'),
  version: minorVersion
    .optional()
    .describe(
      'Kubelet minor its pods started on (a Fargate pod keeps it until recreated). Default: the cluster version.',
    ),
});

export const addonInventorySchema = z.strictObject({
  name: z.string().min(1).describe('Add-on name, e.g. vpc-cni.'),
  version: z.string().min(1).describe('Installed version, e.g. "v1.18.1-eksbuild.1".'),
});

export const pdbInventorySchema = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  /** Disruptions the PDB allows now; 0 blocks every drain. */
  allowedDisruptions: z.number().int().min(0).default(1),
});

/** Simulator-only fault injection; ignored by planning. */
export const faultSchema = z
  .strictObject({
    controlPlaneUpdateFails: z.boolean().optional().describe('The next control-plane update fails.'),
    nodegroupUpdateFails: z
      .enum(['PodEvictionFailure', 'NodeCreationFailure'])
      .optional()
      .describe('Node group version updates fail with this error code.'),
    addonUpdateFails: z.boolean().optional().describe('Add-on updates fail.'),
    degradeAtVersion: minorVersion
      .optional()
      .describe('Workload error ratio rises once every node of the cluster runs this minor; falls after rollback.'),
    insightsError: z.boolean().optional().describe('An UPGRADE_READINESS insight reports ERROR for the next version.'),
    throttleRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Fraction of EKS calls answered with ThrottlingException.'),
    serverErrorRate: z.number().min(0).max(1).optional().describe('Fraction of EKS calls answered with 500.'),
    slowFactor: z.number().min(0.01).max(100).optional().describe('Multiplies update durations.'),
    crashLoopAfterUpgrade: z.boolean().optional().describe('Pods crash-loop once node groups are upgraded.'),
  })
  .describe('Faults the simulator injects for this cluster.');

export type ClusterFaults = z.infer<typeof faultSchema>;

export const clusterInventorySchema = z.strictObject({
  name: clusterName.describe('EKS cluster name, unique in the fleet.'),
  region: z
    .string()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as "us-east-1"' })
    .describe('AWS region.'),
  account: z
    .string()
    .regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account ID' })
    .describe('AWS account ID.'),
  roleArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, { message: 'must be an IAM role ARN' })
    .optional()
    .describe('Role to assume for this cluster (per-account access). Default: the worker credentials.'),
  taskQueue: taskQueueName
    .optional()
    .describe(
      'Task queue of the worker that reaches this cluster (its cluster-upgrade workflow and activities run there). Default: from the fleet-level taskQueues, else the campaign task queue.',
    ),
  labels: z.record(z.string().min(1), z.string()).default({}).describe('Labels for selectors (env, team, tier...).'),
  version: minorVersion.describe('Control-plane minor version.'),
  platformVersion: z
    .string()
    .regex(/^eks\.\d+$/, { message: 'must be an EKS platform version such as "eks.16"' })
    .optional()
    .describe(
      'EKS platform version as `fleetwave discover` saw it (DescribeCluster platformVersion). A record only: EKS chooses it, so planning and the simulator ignore it. Default: none.',
    ),
  autoMode: z
    .boolean()
    .optional()
    .describe(
      'EKS Auto Mode (simulator): DescribeCluster reports computeConfig enabled, and a control-plane rollback first rolls the Auto Mode nodes back, when CancelUpdate can stop it. Default: false.',
    ),
  nodegroups: z.array(nodegroupInventorySchema).default([]),
  nodePools: z
    .array(nodePoolInventorySchema)
    .optional()
    .describe(
      'Custom NodePools (karpenter.sh/v1): Auto Mode pools on an autoMode cluster, Karpenter pools where karpenter is set. The built-in Auto Mode pools (system, general-purpose) are implied. Default: none.',
    ),
  karpenter: z
    .strictObject({
      version: z.string().regex(/^\d+\.\d+\.\d+$/, { message: 'must be a Karpenter version such as "1.5.0"' }),
      amiSelector: z
        .union([
          z.strictObject({
            alias: z.string().regex(/^(al2|al2023|bottlerocket|windows2019|windows2022)@(latest|v[0-9][0-9.a-z-]*)$/, {
              message: 'must be an alias such as "al2023@latest" or "al2023@v20250304"',
            }),
          }),
          z.strictObject({
            id: z
              .string()
              .regex(/^ami-[0-9a-f]{8,17}$/, { message: 'must be an AMI ID such as "ami-0123456789abcdef0"' }),
          }),
        ])
        .optional()
        .describe(
          'The EC2NodeClass amiSelectorTerms (one term): an alias such as "al2023@v20250304", or an AMI id. Default: { alias: "al2023@latest" }.',
        ),
      managedBy: managedBy.describe(
        'The tool that owns the EC2NodeClass (simulator: the annotations or labels that tool sets). Default: none.',
      ),
    })
    .optional()
    .describe('A self-installed Karpenter controller and its version. Default: none.'),
  selfManagedGroups: z
    .array(selfManagedGroupInventorySchema)
    .optional()
    .describe('Self-managed node groups (Auto Scaling groups whose nodes join the cluster). Default: none.'),
  fargateProfiles: z.array(fargateProfileInventorySchema).optional().describe('Fargate profiles. Default: none.'),
  addons: z.array(addonInventorySchema).default([]),
  pdbs: z
    .array(pdbInventorySchema)
    .default([])
    .describe('PodDisruptionBudgets (simulator; a plan warns on blocking ones).'),
  faults: faultSchema.optional(),
  accessPolicy: z
    .enum([...ACCESS_POLICIES, 'none'])
    .optional()
    .describe(
      "Simulator: the EKS access policy associated with every caller's access entry (none: no access entry, so the Kubernetes API answers 401). Default: AmazonEKSClusterAdminPolicy.",
    ),
});

export type ClusterInventory = z.output<typeof clusterInventorySchema>;

/**
 * Which worker reaches which cluster. Private EKS endpoints answer only inside their VPC (or a peered
 * one), so a worker runs in each network and polls a task queue of its own; the cluster-upgrade
 * workflow of a cluster (with its activities, local ones included) runs on that queue.
 */
export const taskQueuesSchema = z
  .strictObject({
    label: z
      .string()
      .min(1)
      .describe(
        'The cluster label whose value picks the task queue, e.g. "network" (region and account count as labels).',
      ),
    map: z
      .record(z.string().min(1), taskQueueName)
      .optional()
      .describe('Task queue per label value. Default: a value not listed names its task queue itself.'),
    default: taskQueueName
      .optional()
      .describe('Task queue of clusters without the label. Default: the campaign task queue.'),
  })
  .describe(
    "Task queue per cluster, from a label. A cluster's own taskQueue wins. Default: every cluster on the campaign task queue.",
  );

export type TaskQueues = z.output<typeof taskQueuesSchema>;

export const fleetSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION, { message: `must be "${API_VERSION}"` }),
    kind: z.literal('Fleet', { message: 'must be "Fleet"' }),
    taskQueues: taskQueuesSchema.optional(),
    clusters: z.array(clusterInventorySchema).max(100_000),
  })
  .superRefine((fleet, ctx) => {
    const seen = new Map<string, number>();
    fleet.clusters.forEach((c, i) => {
      const prev = seen.get(c.name);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `duplicates clusters[${prev}].name "${c.name}"`,
        });
      } else seen.set(c.name, i);
      c.nodegroups.forEach((ng, j) => {
        const at = ['clusters', i, 'nodegroups', j];
        if (ng.version && compareMinor(ng.version, c.version) > 0) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'version'],
            message: `is newer than the control plane (${c.version})`,
          });
        }
        // EKS reports amiType CUSTOM exactly when the launch template names its own AMI.
        const imageId = ng.launchTemplate?.imageId;
        if (ng.amiType === 'CUSTOM' && !imageId) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'launchTemplate', 'imageId'],
            message: 'is required with amiType CUSTOM (the launch template names the AMI)',
          });
        }
        if (imageId && ng.amiType !== undefined && ng.amiType !== 'CUSTOM') {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'amiType'],
            message: `must be CUSTOM (or left out) when launchTemplate.imageId names a custom AMI, not ${ng.amiType}`,
          });
        }
        if (imageId && ng.releaseVersion !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'releaseVersion'],
            message: 'must be left out for a custom AMI: EKS reports the image ID as its release',
          });
        }
        const minor = ng.version ?? c.version;
        if (ng.amiType && amiTypeInfo(ng.amiType).family === 'al2' && compareMinor(minor, LAST_AL2_MINOR) > 0) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'amiType'],
            message: `EKS publishes no Amazon Linux 2 AMI after Kubernetes ${LAST_AL2_MINOR}: use an AL2023 amiType for ${minor}`,
          });
        }
      });
      (c.selfManagedGroups ?? []).forEach((g, j) => {
        const at = ['clusters', i, 'selfManagedGroups', j];
        if (g.version && compareMinor(g.version, c.version) > 0) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'version'],
            message: `is newer than the control plane (${c.version})`,
          });
        }
        if (
          g.amiType &&
          amiTypeInfo(g.amiType).family === 'al2' &&
          compareMinor(g.version ?? c.version, LAST_AL2_MINOR) > 0
        ) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'amiType'],
            message: `EKS publishes no Amazon Linux 2 AMI after Kubernetes ${LAST_AL2_MINOR}`,
          });
        }
      });
      (c.fargateProfiles ?? []).forEach((f, j) => {
        if (f.version && compareMinor(f.version, c.version) > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['clusters', i, 'fargateProfiles', j, 'version'],
            message: `is newer than the control plane (${c.version})`,
          });
        }
      });
    });
  });

export type Fleet = z.output<typeof fleetSchema>;

/**
 * The slice of a cluster the workflows carry: small enough that 5,000 of them fit in a
 * workflow input. Labels include `region` and `account` so selectors and caps can use them.
 */
export interface FleetMember {
  name: string;
  region: string;
  account: string;
  roleArn?: string;
  /**
   * Task queue of the worker that reaches the cluster: its cluster-upgrade workflow runs there.
   * Absent (and in campaigns started before it existed): the campaign's own task queue.
   */
  taskQueue?: string;
  labels: Record<string, string>;
  version: string;
  /** Lowest kubelet minor across node groups; equals `version` when there are none. */
  oldestNodeVersion: string;
  /**
   * `amiType`: how EKS gets the node group its AMI (CUSTOM: the launch template names one). Absent
   * in campaigns started before AMI types were carried; read as the AL2023 x86_64 standard AMI.
   */
  nodegroups: { name: string; version: string; nodes: number; maxUnavailable: number; amiType?: AmiType }[];
  addons: string[];
  /** PDBs that allow no disruption: a drain risk the plan reports. */
  blockingPdbs: string[];
  /** Node models besides managed node groups (Auto Mode, NodePools, Karpenter, self-managed, Fargate); absent when none. */
  nodeModels?: NodeModelsSummary;
  /** What the fleet file says a tool owns (`managedBy`); absent when nothing. */
  owners?: MemberOwner[];
}

/** A node group, NodePool or self-managed group of a member and the tool that owns it (fleet file `managedBy`). */
export interface MemberOwner {
  kind: 'node group' | 'NodePool' | 'self-managed group';
  name: string;
  tool: OwnerTool;
}

/** The cluster-level node models of an inventory entry, as counts; undefined when it has none. */
export function nodeModelsSummary(c: ClusterInventory): NodeModelsSummary | undefined {
  const summary: NodeModelsSummary = {
    ...(c.autoMode ? { autoMode: true as const } : {}),
    ...(c.nodePools?.length ? { nodePools: c.nodePools.length } : {}),
    ...(c.karpenter ? { karpenter: c.karpenter.version } : {}),
    ...(c.selfManagedGroups?.length
      ? {
          selfManagedGroups: c.selfManagedGroups.length,
          selfManagedAmiTypes: [...new Set(c.selfManagedGroups.map((g) => g.amiType ?? DEFAULT_AMI_TYPE))].sort(),
        }
      : {}),
    ...(c.fargateProfiles?.length ? { fargateProfiles: c.fargateProfiles.length } : {}),
  };
  return Object.keys(summary).length > 0 ? summary : undefined;
}

/**
 * A node group's amiType as the fleet file gives it: its own, else CUSTOM when its launch template
 * names an image, else what EKS gives a node group created without one.
 */
export function nodegroupAmiType(
  ng: Pick<ClusterInventory['nodegroups'][number], 'amiType' | 'launchTemplate'>,
): AmiType {
  return ng.amiType ?? (ng.launchTemplate?.imageId ? 'CUSTOM' : DEFAULT_AMI_TYPE);
}

/**
 * The task queue of a cluster: its own `taskQueue`, else the fleet's `taskQueues` rule applied to
 * its labels (with region and account), else undefined (the campaign task queue).
 */
export function clusterTaskQueue(c: ClusterInventory, rule: TaskQueues | undefined): string | undefined {
  if (c.taskQueue) return c.taskQueue;
  if (!rule) return undefined;
  const labels: Record<string, string> = { region: c.region, account: c.account, ...c.labels };
  const value = labels[rule.label];
  if (value === undefined || value === '') return rule.default;
  return rule.map?.[value] ?? value;
}

/** The members of a validated fleet file, each with its task queue. */
export function toFleetMembers(fleet: Pick<Fleet, 'clusters' | 'taskQueues'>): FleetMember[] {
  return fleet.clusters.map((c) => {
    const member = toFleetMember(c);
    const taskQueue = clusterTaskQueue(c, fleet.taskQueues);
    return taskQueue ? { ...member, taskQueue } : member;
  });
}

/** Projects a validated inventory entry onto what planning and workflows need (its task queue: toFleetMembers). */
export function toFleetMember(c: ClusterInventory): FleetMember {
  const nodegroups = c.nodegroups.map((ng) => ({
    name: ng.name,
    version: ng.version ?? c.version,
    nodes: ng.nodes,
    maxUnavailable: ng.maxUnavailable,
    amiType: nodegroupAmiType(ng),
  }));
  const nodeModels = nodeModelsSummary(c);
  const owners: MemberOwner[] = [
    ...c.nodegroups.map((x) => ({ kind: 'node group' as const, name: x.name, tool: x.managedBy })),
    ...(c.nodePools ?? []).map((x) => ({ kind: 'NodePool' as const, name: x.name, tool: x.managedBy })),
    ...(c.selfManagedGroups ?? []).map((x) => ({
      kind: 'self-managed group' as const,
      name: x.name,
      tool: x.managedBy,
    })),
  ].filter((o): o is MemberOwner => o.tool !== undefined);
  const oldestNodeVersion = nodegroups.reduce(
    (oldest, ng) => (compareMinor(ng.version, oldest) < 0 ? ng.version : oldest),
    c.version,
  );
  return {
    name: c.name,
    region: c.region,
    account: c.account,
    ...(c.roleArn ? { roleArn: c.roleArn } : {}),
    labels: { region: c.region, account: c.account, ...c.labels },
    version: c.version,
    oldestNodeVersion,
    nodegroups,
    addons: c.addons.map((a) => a.name),
    blockingPdbs: c.pdbs.filter((p) => p.allowedDisruptions === 0).map((p) => `${p.namespace}/${p.name}`),
    ...(nodeModels ? { nodeModels } : {}),
    ...(owners.length > 0 ? { owners } : {}),
  };
}
