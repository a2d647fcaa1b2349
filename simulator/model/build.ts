/** Building the simulated clusters from the fleet inventory. */
import type { ClusterInventory } from '../../domain/fleet';
import {
  OLDER_MINORS,
  PLATFORM_VERSIONS,
  SIM_MINORS,
  isRunnableMinor,
  oldestRelease,
  releaseMinor,
} from '../catalogue';
import { createRng, hash32, hexOf, unit, uuidOf } from '../random';
import { buildNodePools } from './automode';
import type { SimCluster, SimNodegroup, SimAddon } from './types';

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A simulated cluster from its inventory entry, with every seeded draw taken from `seed`. */
export function buildCluster(inv: ClusterInventory, seed: number, now: number): SimCluster {
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
    const releaseVersion = ngInv.releaseVersion ?? oldestRelease(version) ?? '';
    if (releaseMinor(releaseVersion) !== version) {
      throw new Error(
        `cluster ${name}, node group ${ngInv.name}: releaseVersion ${releaseVersion} is not a release of Kubernetes ${version}`,
      );
    }
    const declared = ngInv.launchTemplate !== undefined;
    const ltName = ngInv.launchTemplate?.name ?? `${name}-${ngInv.name}`;
    const ltVersion = ngInv.launchTemplate?.version ?? '1';
    const numeric = Number.parseInt(ltVersion, 10);
    const history = new Map<string, { version: string; releaseVersion: string }>([
      [ltVersion, { version, releaseVersion }],
    ]);
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
      launchTemplate: { name: ltName, id: `lt-0${hexOf(16, seed, name, ngInv.name, 'lt')}`, version: ltVersion },
      launchTemplateHistory: history,
      nextLaunchTemplateVersion: Number.isFinite(numeric) ? numeric + 1 : 2,
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
    nodePools: buildNodePools(inv, seed, now),
    version: inv.version,
    platformVersion: PLATFORM_VERSIONS[inv.version] ?? 'eks.1',
    status: 'ACTIVE',
    createdAt,
    nodegroups,
    nodegroupByName: new Map(nodegroups.map((ng) => [ng.name, ng])),
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
