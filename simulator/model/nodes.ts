/** Names of simulated nodes: EC2 instance IDs and private DNS names, stable per seed. */
import { hash32, hexOf } from '../random';
import type { SimCluster, SimNodegroup } from './types';

/** EC2 instance ID of a node. */
export function instanceId(cluster: string, nodegroup: string, generation: number, index: number): string {
  return `i-0${hexOf(16, cluster, nodegroup, generation, index)}`;
}

/**
 * A node's name, `ip-10-A-X-Y.<region>.compute.internal`. The address is unique within the
 * cluster for 16 node groups of up to 2,048 nodes: the node group picks a /20, the parity of
 * the generation one half of it, so old and new nodes of a rolling update never collide.
 * (Host part from 1, so no address ends in .0.)
 */
export function nodeName(c: SimCluster, ng: Pick<SimNodegroup, 'index'>, generation: number, index: number): string {
  const second = hash32(c.name) % 256;
  const counter = ((ng.index % 16) * 4096 + (generation % 2) * 2048 + (index % 2047) + 1) % 65536;
  const region = c.region === 'us-east-1' ? 'ec2' : `${c.region}.compute`;
  return `ip-10-${second}-${counter >> 8}-${counter & 255}.${region}.internal`;
}

/**
 * A Fargate pod's node, `fargate-ip-10-A-X-Y.<region>.compute.internal`, in a /16 of its own per
 * profile slot; the parity of the pod-template generation picks one half of the slot, so the node
 * of a restarted pod never takes the name of the one it replaces.
 */
export function fargateNodeName(c: SimCluster, slot: number, index: number, generation = 0): string {
  const second = (hash32(c.name) + 128) % 256;
  const counter = ((slot % 16) * 4096 + (generation % 2) * 2048 + (index % 2047) + 1) % 65536;
  return `fargate-ip-10-${second}-${counter >> 8}-${counter & 255}.${c.region}.compute.internal`;
}
