/**
 * PodDisruptionBudgets that allow no disruption, as a risk of a cluster upgrade. Pure: the CLI's
 * plan and the cluster-upgrade workflow's preflight decide with the same function.
 *
 * Decision inputs of {@link assessBlockingPdbs}:
 * - pdbs         — namespace/name of every PDB that allows no disruption now;
 * - drainsNodes  — whether node groups will be updated (and so their nodes drained);
 * - force        — spec.nodegroups.force: drains evict pods regardless of PDBs.
 * Such a PDB makes every node drain fail (PodEvictionFailure after the drain timeout, then a
 * rollback). So it blocks the cluster when nodes are drained without force, is a warning with
 * force, and does not matter when no node is drained.
 */
import { listNames } from './waves';

/** PDBs named one by one; the rest are counted. */
const MAX_LISTED = 5;

/** What blocking PDBs mean for one cluster: blockers stop it before anything is touched. */
export interface PdbAssessment {
  blockers: string[];
  warnings: string[];
}

/** Blockers and warnings from the PDBs that allow no disruption; see the module header. */
export function assessBlockingPdbs(input: {
  pdbs: readonly string[] | undefined;
  drainsNodes: boolean;
  force: boolean;
}): PdbAssessment {
  const { pdbs, drainsNodes, force } = input;
  if (!drainsNodes || !pdbs || pdbs.length === 0) return { blockers: [], warnings: [] };
  if (force) {
    const verb = pdbs.length > 1 ? 'allow' : 'allows';
    return {
      blockers: [],
      warnings: [
        `PDB ${listNames(pdbs, MAX_LISTED)} ${verb} no disruption: node drains will be forced (spec.nodegroups.force)`,
      ],
    };
  }
  const more = pdbs.length - MAX_LISTED;
  return {
    blockers: [
      ...pdbs
        .slice(0, MAX_LISTED)
        .map(
          (pdb) =>
            `PDB ${pdb} allows no disruption: node drains would fail with PodEvictionFailure; fix the PDB or set spec.nodegroups.force`,
        ),
      ...(more > 0 ? [`${more} more PDBs allow no disruption`] : []),
    ],
    warnings: [],
  };
}
