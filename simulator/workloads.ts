/**
 * What runs inside a simulated cluster, derived on demand from the node groups and the update
 * in progress: nodes (with surge, cordon and drain during a rolling update), pods and
 * PodDisruptionBudgets. Nothing is stored per node or pod, so a 5,000-cluster fleet costs memory
 * only for the clusters, and a listing is a pure function of the state and the simulated time.
 */
import { amiTypeInfo, type AmiType, type Architecture } from '../domain/node-models';
import { amiImageIdOf, kubernetesPatchOf, publicAmis, releasesOf } from './ami-catalogue';
import { ASG_NODE_JOIN_MS, ASG_NODE_READY_MS, advanceAsg, type AsgInstance, type SimAsg } from './model/asg';
import { DURATIONS, latestRelease, releaseKubernetesVersion } from './catalogue';
import {
  APP_WORKLOADS,
  fargateNodeName,
  fargatePodPhase,
  instanceId,
  isUpgradedRelease,
  nodeName,
  type SimCluster,
  type SimNodegroup,
  type SimUpdate,
} from './model';
import { hash32, hexOf, podSuffix, unit } from './random';

export interface NodeView {
  name: string;
  /** The managed node group; undefined for self-managed and Fargate nodes. */
  nodegroup?: SimNodegroup;
  /** Who runs the node: a managed node group, a self-managed group (an Auto Scaling group), or Fargate. */
  kind: 'managed' | 'self-managed' | 'fargate';
  /** The managed or self-managed group's name, or the Fargate profile's. */
  group: string;
  amiType: AmiType;
  arch: Architecture;
  /** The AMI the instance runs (the public one of its release, or the custom one). */
  imageId: string;
  kubeletVersion: string;
  index: number;
  generation: number;
  /** Kubelet minor. */
  version: string;
  releaseVersion: string;
  launchTemplateVersion: string;
  createdAt: number;
  ready: boolean;
  /** Cordoned for a drain: `spec.unschedulable`. */
  cordoned: boolean;
  /** A surge node still launching: it runs only DaemonSet pods. */
  launching: boolean;
  zone: string;
  instanceId: string;
}

interface RolloutPosition {
  /** Batch in progress (batches before it are done). */
  batch: number;
  phase: 'launch' | 'drain';
}

/** Where a node-group version update stands at `now`; undefined during setup or when it is not one. */
export function rolloutPosition(u: SimUpdate | undefined, now: number): RolloutPosition | undefined {
  if (!u || u.effect.kind !== 'nodegroup-version' || !u.phases || u.status !== 'InProgress') return undefined;
  const p = u.phases;
  if (p.length < 2 || now < (p[0] as number)) return undefined;
  const batches = Math.ceil((p.length - 1) / 2);
  // First batch whose end (terminate old nodes) is still ahead; a failing update may have no end.
  let lo = 0;
  let hi = batches;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const end = p[2 + 2 * mid] ?? Infinity;
    if (now < end) hi = mid;
    else lo = mid + 1;
  }
  if (lo >= batches) return undefined;
  const launchEnd = p[1 + 2 * lo] as number;
  return { batch: lo, phase: now < launchEnd ? 'launch' : 'drain' };
}

/** Node and Ready counts without building the node list (for /metrics over 5,000 clusters). */
export function nodeCounts(c: SimCluster, now: number): { total: number; ready: number } {
  let total = 0;
  let ready = 0;
  for (const ng of c.nodegroups) {
    const pos = rolloutPosition(ng.active, now);
    if (!pos || !ng.active) {
      total += ng.desiredSize;
      ready += ng.desiredSize;
      continue;
    }
    const n = ng.active.nodeCount ?? ng.desiredSize;
    const m = ng.active.batchSize ?? 1;
    const surge = Math.max(0, Math.min(m, n - pos.batch * m));
    total += n + surge;
    ready += n + (pos.phase === 'drain' ? surge : 0);
  }
  return { total, ready };
}

function zoneOf(c: SimCluster, index: number): string {
  return `${c.region}${'abc'.charAt(index % 3)}`;
}

/** Every node of the cluster at `now`, node group by node group. */
export function nodesOf(c: SimCluster, now: number): NodeView[] {
  const out: NodeView[] = [];
  for (const ng of c.nodegroups) {
    const u = ng.active;
    const pos = rolloutPosition(u, now);
    const oldImage = nodeImage(c, ng.amiType, ng.version, ng.releaseVersion, ng.imageId);
    const old = (index: number, cordoned: boolean): NodeView => ({
      name: nodeName(c, ng, ng.generation, index),
      nodegroup: ng,
      kind: 'managed',
      group: ng.name,
      amiType: ng.amiType,
      arch: ng.arch,
      ...oldImage,
      index,
      generation: ng.generation,
      version: ng.version,
      releaseVersion: ng.releaseVersion,
      launchTemplateVersion: ng.launchTemplate.version,
      createdAt: ng.nodesSince,
      ready: true,
      cordoned,
      launching: false,
      zone: zoneOf(c, index),
      instanceId: instanceId(c.name, ng.name, ng.generation, index),
    });
    if (!pos || !u || u.effect.kind !== 'nodegroup-version' || !u.phases) {
      for (let i = 0; i < ng.desiredSize; i++) out.push(old(i, false));
      continue;
    }
    const effect = u.effect;
    const phases = u.phases;
    const n = u.nodeCount ?? ng.desiredSize;
    const m = u.batchSize ?? 1;
    const freshImage = nodeImage(c, ng.amiType, effect.version, effect.releaseVersion, effect.imageId);
    const fresh = (index: number, batch: number, ready: boolean, launching: boolean): NodeView => ({
      name: nodeName(c, ng, ng.generation + 1, index),
      nodegroup: ng,
      kind: 'managed',
      group: ng.name,
      amiType: ng.amiType,
      arch: ng.arch,
      ...freshImage,
      index,
      generation: ng.generation + 1,
      version: effect.version,
      releaseVersion: effect.releaseVersion,
      launchTemplateVersion: effect.launchTemplateVersion,
      createdAt:
        batch === 0 ? (phases[0] as number) : ((phases[2 * batch] as number | undefined) ?? (phases[0] as number)),
      ready,
      cordoned: false,
      launching,
      zone: zoneOf(c, index),
      instanceId: instanceId(c.name, ng.name, ng.generation + 1, index),
    });
    for (let i = 0; i < n; i++) {
      const batch = Math.floor(i / m);
      if (batch < pos.batch) out.push(fresh(i, batch, true, false));
      else if (batch === pos.batch) {
        out.push(old(i, pos.phase === 'drain'));
        out.push(fresh(i, batch, pos.phase === 'drain', pos.phase === 'launch'));
      } else out.push(old(i, false));
    }
  }
  selfManagedNodes(c, now, out);
  fargateNodes(c, out, now);
  return out;
}

/**
 * Nodes of self-managed groups: one per instance of the group's Auto Scaling group that has
 * registered (from ASG_NODE_JOIN_MS after launch, Ready from ASG_NODE_READY_MS) until it is
 * terminated. Kubelet labels only, as a node an Auto Scaling group launched carries (no
 * eks.amazonaws.com/* label; its group shows only in the EC2 instance's `aws:autoscaling:groupName`
 * tag). The kubelet is the one of the instance's AMI.
 */
function selfManagedNodes(c: SimCluster, now: number, out: NodeView[]): void {
  c.asgs.forEach((asg, j) => {
    advanceAsg(c, asg, now);
    const g = c.selfManagedGroups[j];
    if (!g) return;
    const arch = amiTypeInfo(g.amiType).arch ?? 'x86_64';
    for (const i of asg.instances) {
      if (i.state === 'Terminated' || now < i.launchedAt + ASG_NODE_JOIN_MS) continue;
      const ami = publicAmis(c.region).get(i.imageId);
      const minor = ami?.minor ?? g.version;
      const release = ami?.release ?? releasesOf(g.amiType, minor)[0] ?? latestRelease(minor) ?? `${minor}.0-00000000`;
      const image = nodeImage(c, g.amiType, minor, release, i.imageId || undefined);
      out.push({
        name: asgNodeName(c, asg, i),
        kind: 'self-managed',
        group: g.name,
        amiType: g.amiType,
        arch,
        ...image,
        index: i.seq,
        generation: 0,
        version: minor,
        releaseVersion: release,
        launchTemplateVersion: String(i.ltVersion),
        createdAt: i.launchedAt + ASG_NODE_JOIN_MS,
        ready: now >= i.launchedAt + ASG_NODE_READY_MS,
        cordoned: false,
        launching: now < i.launchedAt + ASG_NODE_READY_MS,
        zone: zoneOf(c, i.seq),
        instanceId: i.id,
      });
    }
  });
}

/** The node name of an Auto Scaling group's instance: its launch order picks the address. */
export function asgNodeName(c: SimCluster, asg: SimAsg, i: AsgInstance): string {
  return nodeName(c, { index: asg.slot }, Math.floor(i.seq / 2047), i.seq % 2047);
}

/**
 * One node per Fargate pod, `fargate-ip-…`, labelled eks.amazonaws.com/compute-type=fargate. A
 * pod keeps the kubelet of the minor it started on until it is recreated (userguide/fargate-pod-patching.html);
 * a rollout restart replaces them one at a time (model/fargate.ts), the new node not Ready until its pod starts.
 */
function fargateNodes(c: SimCluster, out: NodeView[], now: number): void {
  c.fargateProfiles.forEach((f, j) => {
    const node = (index: number, generation: number, version: string, createdAt: number, ready: boolean): NodeView => {
      const release = latestRelease(version) ?? `${version}.0-00000000`;
      return {
        name: fargateNodeName(c, j, index, generation),
        kind: 'fargate',
        group: f.name,
        amiType: 'AL2023_x86_64_STANDARD',
        arch: 'x86_64',
        imageId: '',
        kubeletVersion: `v${releaseKubernetesVersion(release)}-eks-${hexOf(7, 'fargate', version)}`,
        index,
        generation,
        version,
        releaseVersion: release,
        launchTemplateVersion: '',
        createdAt,
        ready,
        cordoned: false,
        launching: !ready,
        zone: zoneOf(c, index),
        instanceId: '',
      };
    };
    for (let i = 0; i < f.pods; i++) {
      const at = fargatePodPhase(f, i, now);
      if (at.phase !== 'new') out.push(node(i, f.generation, f.version, f.createdAt, true));
      if (at.phase !== 'old' && f.rollout) {
        out.push(node(i, f.generation + 1, f.rollout.version, at.since, at.phase === 'new'));
      }
    }
  });
}

/** The Deployment whose pods a Fargate profile runs, in `default`. */
export function fargateDeploymentName(profile: string): string {
  return `fargate-${profile.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
}

/**
 * The pod-template hash of a Fargate Deployment's generation: the ReplicaSet's name suffix and its
 * pods' `pod-template-hash` label, as the Deployment controller names them.
 */
export function fargateTemplateHash(c: SimCluster, deployment: string, generation: number): string {
  return generation === 0
    ? podSuffix(10, c.name, 'default', deployment)
    : podSuffix(10, c.name, 'default', deployment, 'template', generation);
}

/** The AMI a node runs and its kubelet version: "v1.31.5-eks-1a2b3c4", the patch from the release. */
export function nodeImage(
  c: SimCluster,
  amiType: AmiType,
  minor: string,
  release: string,
  customImageId?: string,
): { imageId: string; kubeletVersion: string } {
  if (amiType === 'CUSTOM') {
    const id = customImageId ?? release;
    return { imageId: id, kubeletVersion: kubeletVersionOf(latestRelease(minor) ?? `${minor}.0-00000000`, id) };
  }
  return {
    imageId: amiImageIdOf(amiType, minor, release, c.region),
    kubeletVersion: `v${kubernetesPatchOf(amiType, minor, release)}-eks-${hexOf(7, 'kubelet', release)}`,
  };
}

export interface PodView {
  name: string;
  namespace: string;
  nodeName: string;
  labels: Record<string, string>;
  ownerKind: 'DaemonSet' | 'ReplicaSet';
  ownerName: string;
  containers: string[];
  createdAt: number;
  restartCount: number;
  crashLooping: boolean;
  ip: string;
}

/**
 * Pods on the given nodes: DaemonSets (aws-node, kube-proxy, ebs-csi-node when the add-on is
 * installed) on every node; coredns twice; three application pods (web, api, worker) per
 * node; and for each PodDisruptionBudget one replica per node group (a spread deployment, so a
 * blocking PDB blocks the drain of every node group).
 */
export function podsOf(c: SimCluster, nodes: readonly NodeView[], now: number): PodView[] {
  const out: PodView[] = [];
  const hasEbs = c.addonByName.has('aws-ebs-csi-driver');
  let corednsPlaced = 0;
  const pdbPlaced = new Set<string>();
  const podIp = (node: NodeView, k: number) => {
    const h = hash32(node.name, k);
    return `10.${hash32(c.name) % 256}.${(h >>> 8) % 256}.${h % 254 || 1}`;
  };
  const base = (
    node: NodeView,
    k: number,
    name: string,
    namespace: string,
  ): Omit<PodView, 'labels' | 'ownerKind' | 'ownerName' | 'containers'> => {
    const restarts = unit(c.name, name, 'restarts') < 0.1 ? 1 + Math.floor(unit(c.name, name, 'count') * 3) : 0;
    return {
      name,
      namespace,
      nodeName: node.name,
      createdAt: node.createdAt + 20_000 + k * 1000,
      restartCount: restarts,
      crashLooping: false,
      ip: podIp(node, k),
    };
  };
  for (const node of nodes) {
    let k = 0;
    if (node.kind === 'fargate') {
      // A Fargate node runs exactly the one pod it was made for, and no DaemonSet pods.
      const deployment = fargateDeploymentName(node.group);
      const hash = fargateTemplateHash(c, deployment, node.generation);
      const rs = `${deployment}-${hash}`;
      out.push({
        ...base(node, k++, `${rs}-${podSuffix(5, c.name, node.name, deployment)}`, 'default'),
        labels: { app: deployment, 'eks.amazonaws.com/fargate-profile': node.group, 'pod-template-hash': hash },
        ownerKind: 'ReplicaSet',
        ownerName: rs,
        containers: ['app'],
      });
      continue;
    }
    const daemon = (ds: string, containers: string[], labels: Record<string, string>) => {
      const name = `${ds}-${podSuffix(5, c.name, node.name, ds)}`;
      out.push({ ...base(node, k++, name, 'kube-system'), labels, ownerKind: 'DaemonSet', ownerName: ds, containers });
    };
    daemon('aws-node', ['aws-node', 'aws-eks-nodeagent'], { 'k8s-app': 'aws-node' });
    daemon('kube-proxy', ['kube-proxy'], { 'k8s-app': 'kube-proxy' });
    if (hasEbs)
      daemon('ebs-csi-node', ['ebs-plugin', 'node-driver-registrar', 'liveness-probe'], { app: 'ebs-csi-node' });
    if (node.launching) continue;

    const replica = (
      deployment: string,
      namespace: string,
      labels: Record<string, string>,
      containers: string[],
      app: boolean,
    ) => {
      const rs = `${deployment}-${podSuffix(10, c.name, namespace, deployment)}`;
      const name = `${rs}-${podSuffix(5, c.name, node.name, deployment)}`;
      const pod: PodView = {
        ...base(node, k++, name, namespace),
        labels,
        ownerKind: 'ReplicaSet',
        ownerName: rs,
        containers,
      };
      if (
        app &&
        c.faults.crashLoopAfterUpgrade &&
        node.nodegroup &&
        isUpgradedRelease(node.nodegroup, node.releaseVersion)
      ) {
        pod.crashLooping = true;
        pod.restartCount += 1 + Math.floor(Math.max(0, now - node.createdAt) / DURATIONS.crashLoopPeriodMs);
      }
      out.push(pod);
    };
    if (corednsPlaced < 2 && node.ready && !node.cordoned) {
      corednsPlaced++;
      replica(
        'coredns',
        'kube-system',
        { 'k8s-app': 'kube-dns', 'eks.amazonaws.com/component': 'coredns' },
        ['coredns'],
        false,
      );
    }
    for (const wl of APP_WORKLOADS) replica(wl, 'default', { app: wl }, [wl], true);
    for (const pdb of c.pdbs) {
      const key = `${pdb.namespace}/${pdb.name}/${node.group}`;
      if (pdbPlaced.has(key)) continue;
      pdbPlaced.add(key);
      replica(pdb.name, pdb.namespace, { app: pdb.name }, [pdb.name], true);
    }
  }
  return out;
}

export interface PdbView {
  name: string;
  namespace: string;
  maxUnavailable: number;
  expectedPods: number;
  /** Pods of the budget that are up: all of them, unless clients evicted some (k8s-state.ts). */
  currentHealthy: number;
  /** Healthy pods the budget requires: expected less maxUnavailable. */
  desiredHealthy: number;
  disruptionsAllowed: number;
  createdAt: number;
}

/** PodDisruptionBudgets with the replica count the pod layout gives them. */
export function pdbsOf(c: SimCluster): PdbView[] {
  const expected =
    c.nodegroups.filter((ng) => ng.desiredSize > 0).length + c.selfManagedGroups.filter((g) => g.nodes > 0).length;
  return c.pdbs.map((p) => ({
    name: p.name,
    namespace: p.namespace,
    maxUnavailable: p.allowedDisruptions,
    expectedPods: expected,
    currentHealthy: expected,
    desiredHealthy: Math.max(0, expected - p.allowedDisruptions),
    disruptionsAllowed: Math.min(p.allowedDisruptions, expected),
    createdAt: c.createdAt + 3600_000,
  }));
}

/** The kubelet version string of an AMI release: "1.31.4-20250123" → "v1.31.4-eks-1a2b3c4". */
export function kubeletVersionOf(release: string, build: string = release): string {
  return `v${releaseKubernetesVersion(release)}-eks-${hexOf(7, 'kubelet', build)}`;
}

/** The AMI ID an AMI release resolves to in a region. */
export function amiIdOf(release: string, region: string): string {
  return `ami-0${hexOf(16, 'ami', release, region)}`;
}

const INSTANCE_TYPES = ['m6i.large', 'm6i.xlarge', 'c6i.xlarge', 'r6i.large'] as const;

/** The instance type of a node group (deterministic by name). */
export function instanceTypeOf(c: SimCluster, group: string, arch: Architecture = 'x86_64'): string {
  const type = INSTANCE_TYPES[Number.parseInt(hexOf(2, c.name, group, 'type'), 16) % INSTANCE_TYPES.length] as string;
  // Graviton instances for arm64 AMIs (m6i → m6g, …).
  return arch === 'arm64' ? type.replace('i.', 'g.') : type;
}
