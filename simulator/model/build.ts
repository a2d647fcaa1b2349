/** Building the simulated clusters from the fleet inventory. */
import type { ClusterInventory } from '../../domain/fleet';
import { DEFAULT_AMI_TYPE, amiTypeInfo, type AmiType } from '../../domain/node-models';
import { isReleaseOf, releasesOf } from '../ami-catalogue';
import { OLDER_MINORS, PLATFORM_VERSIONS, SIM_MINORS, isRunnableMinor } from '../catalogue';
import { createRng, hash32, hexOf, unit, uuidOf } from '../random';
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
      tags: {},
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
    fargateProfiles: (inv.fargateProfiles ?? []).map((f) => ({
      name: f.name,
      pods: f.pods,
      version: inv.version,
      createdAt: createdAt + Math.floor(unit(seed, name, f.name, 'fargate') * 10) * 86_400_000,
    })),
    addons,
    addonByName: new Map(addons.map((a) => [a.name, a])),
    pdbs: inv.pdbs.map((p) => ({ name: p.name, namespace: p.namespace, allowedDisruptions: p.allowedDisruptions })),
    faults: { ...(inv.faults ?? {}) },
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
  return c;
}
