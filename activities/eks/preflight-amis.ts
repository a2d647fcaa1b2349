/**
 * Preflight's AMI findings for the managed node groups of one cluster: a node group whose AMI
 * family ends before the target (Amazon Linux 2 after 1.32), a node group with a custom AMI and
 * no image pinned for it, and a node group whose amiType the campaign pinned nothing for.
 */
import { DEFAULT_AMI_TYPE } from '../../domain/node-models';
import { nodegroupsWithoutAmi } from '../../domain/versions';
import type { ClusterState, PreflightInput } from '../types';

/** Blockers and warnings about the AMIs the node groups of `state` will move to. */
export function nodegroupAmiFindings(
  state: ClusterState,
  input: PreflightInput,
): { blockers: string[]; warnings: string[] } {
  const blockers: string[] = [];
  const warnings: string[] = [];
  if (input.targetVersion) blockers.push(...nodegroupsWithoutAmi(state.nodegroups, input.targetVersion));
  // Campaigns pinned before per-family pins, or that leave node groups alone, pinned no AMIs.
  const { amis, customAmis } = input.pinned;
  if (!amis) return { blockers, warnings };
  const region = input.cluster.region;
  for (const ng of state.nodegroups) {
    const minor = input.targetVersion ?? ng.version;
    if (ng.amiType === 'CUSTOM') {
      const image = ng.arch ? customAmis?.[region]?.[ng.arch]?.[minor] : undefined;
      if (!image) {
        const where = ng.arch ? `${region} ${ng.arch}` : `${region} (its image's architecture is unknown)`;
        blockers.push(
          `node group ${ng.name} takes its AMI from its launch template, and no custom AMI is pinned for ${where} Kubernetes ${minor}: ` +
            `set spec.target.customAmis (images.${region}.${ng.arch ?? '<arch>'}, or a namePattern matching an image)`,
        );
      }
      continue;
    }
    const amiType = ng.amiType ?? DEFAULT_AMI_TYPE;
    if (amis[region]?.[amiType]?.[minor] === undefined) {
      warnings.push(
        ng.version === minor
          ? `node group ${ng.name} (${amiType}): no AMI release pinned for it in ${region}; it stays at ${ng.releaseVersion ?? 'its release'}`
          : `node group ${ng.name} (${amiType}): no AMI release pinned for it in ${region}; EKS picks its newest ${minor} release when the node group starts`,
      );
    }
  }
  return { blockers, warnings };
}
