/** Building the simulated clusters from the fleet inventory. */
import type { ClusterInventory } from '../../domain/fleet';
import type { OwnerTool } from '../../domain/spec';
import { DEFAULT_AMI_TYPE, amiTypeInfo, type AmiType } from '../../domain/node-models';
import { amiImageIdOf, isReleaseOf, releasesOf } from '../ami-catalogue';
import { OLDER_MINORS, PLATFORM_VERSIONS, SIM_MINORS, isRunnableMinor } from '../catalogue';
import { createRng, hash32, hexOf, unit, uuidOf } from '../random';
import { launchInstance, type SimAsg } from './asg';
import { buildNodePools } from './automode';
import type { Ec2State } from './ec2';
import type { LaunchTemplateVersion, SimCluster, SimNodegroup, SimAddon } from './types';

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A simulated cluster from its inventory entry, with every seeded draw taken from `seed`. */
export function buildCluster(inv: ClusterInventory, seed: number, now: number, ec2: Ec2State): SimCluster {
  const name = inv.name;
  const runnable = `${OLDER_MINORS[0]}–${SIM_MINORS[SIM_MINORS.length - 1]}`;
  if (!isRunnableMinor(inv.version)) {
    throw new Error(`cluster ${name}: version ${inv.version} is outside the simulator's catalogue (${runnable})`);
  }
  const rng = createRng(hash32(seed, 'cluster', name));
  // Clusters were created some weeks before the simulation starts.
  const createdAt = now - Math.floor(unit(seed, name, 'created') * 200 + 30) * 86_400_000;
  const nodegroups = inv.nodegroups.map((ngInv, index): SimNodegroup => {
    const version = ngInv.version ?? inv.version;
    if (!isRunnableMinor(version)) {
      throw new Error(
        `cluster ${name}, node group ${ngInv.name}: version ${version} is outside the simulator's catalogue (${runnable})`,
      );
    }
    const imageId = ngInv.launchTemplate?.imageId;
    const amiType: AmiType = imageId ? 'CUSTOM' : (ngInv.amiType ?? DEFAULT_AMI_TYPE);
    const arch = amiTypeInfo(amiType).arch ?? 'x86_64';
    let releaseVersion: string;
    if (imageId) {
      releaseVersion = imageId;
      ec2.declareImage({
        imageId,
        name: `acme-eks-${version}-${arch}-${imageId.slice(4, 12)}`,
        region: inv.region,
        owner: inv.account,
        arch,
        minor: version,
        createdAt,
        tags: { 'kubernetes-version': version },
      });
    } else {
      if (releasesOf(amiType, version).length === 0) {
        throw new Error(
          `cluster ${name}, node group ${ngInv.name}: EKS publishes no ${amiType} AMI for Kubernetes ${version}`,
        );
      }
      releaseVersion = ngInv.releaseVersion ?? releasesOf(amiType, version)[0] ?? '';
      if (!isReleaseOf(amiType, releaseVersion, version)) {
        throw new Error(
          `cluster ${name}, node group ${ngInv.name}: releaseVersion ${releaseVersion} is not a release of Kubernetes ${version} for ${amiType}`,
        );
      }
    }
    const declared = ngInv.launchTemplate !== undefined;
    const ltName = ngInv.launchTemplate?.name ?? `${name}-${ngInv.name}`;
    const parsed = Number.parseInt(ngInv.launchTemplate?.version ?? '1', 10);
    const current = Number.isFinite(parsed) && parsed >= 1 ? parsed : 1;
    const ltCreated = createdAt + Math.floor(unit(seed, name, ngInv.name, 'lt-created') * 5) * 86_400_000;
    // Earlier versions of a declared template name the same AMI: the fleet file does not say what they held.
    const versions = new Map<number, LaunchTemplateVersion>();
    for (let v = 1; v <= current; v++) {
      versions.set(v, { number: v, ...(imageId ? { imageId } : {}), createdAt: ltCreated + (v - 1) * 86_400_000 });
    }
    const template = {
      id: `lt-0${hexOf(16, seed, name, ngInv.name, 'lt')}`,
      name: ltName,
      region: inv.region,
      account: inv.account,
      createdAt: ltCreated,
      versions,
      defaultVersion: 1,
      latestVersion: current,
      tokens: new Map<string, number>(),
    };
    ec2.addTemplate(template);
    const ngCreated = createdAt + Math.floor(unit(seed, name, ngInv.name, 'created') * 10) * 86_400_000;
    return {
      name: ngInv.name,
      index,
      version,
      releaseVersion,
      desiredSize: ngInv.nodes,
      minSize: Math.min(ngInv.nodes, 1),
      maxSize: Math.max(ngInv.nodes * 2, 1),
      maxUnavailable: ngInv.maxUnavailable,
      updateStrategy: 'DEFAULT',
      amiType,
      arch,
      ...(imageId ? { imageId } : {}),
      launchTemplate: { name: ltName, id: template.id, version: String(current) },
      template,
      declaredLaunchTemplate: declared,
      originalRelease: releaseVersion,
      generation: 0,
      nodesSince: now - Math.floor(unit(seed, name, ngInv.name, 'nodes') * 20 + 1) * 86_400_000,
      labels: {},
      tags: ngInv.managedBy ? ownerTags(ngInv.managedBy) : {},
      taints: [],
      status: 'ACTIVE',
      createdAt: ngCreated,
      modifiedAt: ngCreated,
      uid: uuidOf(seed, name, ngInv.name),
    };
  });
  const addons = inv.addons.map((a): SimAddon => ({
    name: a.name,
    version: a.version,
    status: 'ACTIVE',
    createdAt,
    modifiedAt: createdAt,
    rolledBack: false,
    tags: {},
    uid: uuidOf(seed, name, a.name),
  }));
  const baseErrorRatio = 0.001 + 0.003 * unit(seed, name, 'error-ratio');
  const c: SimCluster = {
    name,
    region: inv.region,
    account: inv.account,
    ...(inv.roleArn ? { roleArn: inv.roleArn } : {}),
    labels: { ...inv.labels },
    arn: `arn:aws:eks:${inv.region}:${inv.account}:cluster/${name}`,
    autoMode: inv.autoMode ?? false,
    nodePools: buildNodePools(inv, seed, now, () => ec2.customImages(inv.region)),
    version: inv.version,
    platformVersion: PLATFORM_VERSIONS[inv.version] ?? 'eks.1',
    status: 'ACTIVE',
    createdAt,
    nodegroups,
    nodegroupByName: new Map(nodegroups.map((ng) => [ng.name, ng])),
    selfManagedGroups: (inv.selfManagedGroups ?? []).map((g) => ({
      name: g.name,
      version: g.version ?? inv.version,
      nodes: g.nodes,
      amiType: g.amiType ?? DEFAULT_AMI_TYPE,
    })),
    asgs: [],
    fargateProfiles: (inv.fargateProfiles ?? []).map((f) => ({
      name: f.name,
      pods: f.pods,
      version: f.version ?? inv.version,
      createdAt: createdAt + Math.floor(unit(seed, name, f.name, 'fargate') * 10) * 86_400_000,
      generation: 0,
    })),
    addons,
    addonByName: new Map(addons.map((a) => [a.name, a])),
    pdbs: inv.pdbs.map((p) => ({ name: p.name, namespace: p.namespace, allowedDisruptions: p.allowedDisruptions })),
    faults: { ...(inv.faults ?? {}) },
    accessPolicy: inv.accessPolicy ?? 'AmazonEKSClusterAdminPolicy',
    updates: [],
    active: [],
    tokens: new Map(),
    rng,
    faultRng: createRng(hash32(seed, 'faults', name)),
    baseErrorRatio,
    baseLatencyP99: 0.12 + 0.18 * unit(seed, name, 'latency'),
    degradedErrorRatio: 0.05 + 0.03 * unit(seed, name, 'degraded'),
    apiRate: 20 + 40 * unit(seed, name, 'api-rate'),
    counters: {
      requests: Math.floor(unit(seed, name, 'requests') * 1e6),
      errors: Math.floor(unit(seed, name, 'errors') * 100),
      restarts: Math.floor(unit(seed, name, 'restarts') * 20),
      at: now,
    },
    metricLabels: `cluster="${escapeLabel(name)}",region="${escapeLabel(inv.region)}"`,
  };
  c.asgs = c.selfManagedGroups.map((g, j) => buildAsg(c, inv, g, j, seed, ec2));
  return c;
}

/**
 * The AWS tags a node group owned by `tool` carries. EKS sets no tag naming who created a node
 * group, and neither Terraform nor a GitOps tool tags it by itself: these are the conventions teams
 * configure. Terraform as the terraform-aws-modules examples tag everything (`Terraform = "true"`,
 * github.com/terraform-aws-modules/terraform-aws-eks, examples), the others as a `ManagedBy` tag,
 * which is what a node group created through a GitOps tool (with ACK or Crossplane doing the AWS
 * calls) carries when its manifests add one.
 */
export function ownerTags(tool: OwnerTool): Record<string, string> {
  return tool === 'terraform' ? { Terraform: 'true', Environment: 'fleet' } : { ManagedBy: tool };
}

/**
 * The Auto Scaling group of a self-managed group: a launch template of its own at version 1 naming
 * the oldest EKS optimized AMI of its family and minor, instances launched from it, and the tags
 * the usual tools set. `kubernetes.io/cluster/<name>=owned` is the tag self-managed nodes must carry
 * (EKS userguide/worker.html; the guides' CloudFormation templates add it); the owner tool's tag follows domain/ownership.ts: `Terraform=true` (the
 * terraform-aws-modules examples) or `ManagedBy=<tool>`.
 */
function buildAsg(
  c: SimCluster,
  inv: ClusterInventory,
  g: SimCluster['selfManagedGroups'][number],
  j: number,
  seed: number,
  ec2: Ec2State,
): SimAsg {
  const managedBy = inv.selfManagedGroups?.[j]?.managedBy;
  const release = releasesOf(g.amiType, g.version)[0] ?? '';
  const imageId = g.amiType === 'CUSTOM' ? '' : amiImageIdOf(g.amiType, g.version, release, c.region);
  const ltCreated = c.createdAt + 86_400_000;
  const template = {
    id: `lt-0${hexOf(16, seed, c.name, 'asg', g.name, 'lt')}`,
    name: `${c.name}-${g.name}`,
    region: c.region,
    account: c.account,
    createdAt: ltCreated,
    versions: new Map<number, LaunchTemplateVersion>([[1, { number: 1, imageId, createdAt: ltCreated }]]),
    defaultVersion: 1,
    latestVersion: 1,
    tokens: new Map<string, number>(),
  };
  ec2.addTemplate(template);
  const tags: Record<string, string> = {
    Name: `${c.name}-${g.name}`,
    [`kubernetes.io/cluster/${c.name}`]: 'owned',
    ...(managedBy ? ownerTags(managedBy) : {}),
  };
  const asg: SimAsg = {
    name: g.name,
    arn: `arn:aws:autoscaling:${c.region}:${c.account}:autoScalingGroup:${uuidOf(seed, c.name, 'asg', g.name)}:autoScalingGroupName/${g.name}`,
    cluster: c.name,
    region: c.region,
    account: c.account,
    slot: c.nodegroups.length + j,
    amiType: g.amiType,
    createdAt: ltCreated,
    desired: g.nodes,
    min: Math.min(g.nodes, 1),
    max: Math.max(g.nodes * 2, 1),
    healthCheckGracePeriod: 60,
    template,
    version: '1',
    tags,
    instances: [],
    nextSeq: 0,
    hooks: new Map(),
    refreshes: [],
    terminations: [],
  };
  for (let i = 0; i < g.nodes; i++) {
    const instance = launchInstance(asg, 1, ltCreated);
    instance.state = 'InService';
  }
  return asg;
}
