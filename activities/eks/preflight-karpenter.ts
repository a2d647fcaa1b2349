/**
 * Preflight of a self-installed Karpenter (not Auto Mode): the controller must support every minor
 * of the control-plane path (domain/karpenter.ts, Karpenter's compatibility matrix), and an
 * EC2NodeClass alias pinned to a version (`al2023@v20250101`) must be published for the target
 * minor, or Karpenter launches nothing after the hop. Custom AMIs (terms by id, name, tags or SSM
 * parameter) are the owner's to move: a warning.
 */
import { aliasParameters, followsClusterMinor, karpenterSupports, parseAlias } from '../../domain/karpenter';
import type { AwsTarget, ResolvedDeps } from '../deps';
import type { ClusterState } from '../types';
import { ssmValue } from './pinning';

export interface KarpenterFindings {
  blockers: string[];
  warnings: string[];
}

/** Blockers and warnings of the Karpenter node model towards `targetMinor` along `path`. */
export async function karpenterFindings(
  deps: ResolvedDeps,
  target: AwsTarget,
  state: ClusterState,
  path: readonly string[],
  targetMinor: string,
  signal?: AbortSignal,
): Promise<KarpenterFindings> {
  const out: KarpenterFindings = { blockers: [], warnings: [] };
  const m = state.nodeModels;
  if (!m || m.autoMode || !m.nodePools.some((p) => !p.autoMode)) return out;
  if (path.length > 0) {
    if (!m.karpenterVersion) {
      out.warnings.push(
        'Karpenter NodePools without a readable controller version (Deployment kube-system/karpenter): check that it supports the target minor',
      );
    } else {
      const supported = karpenterSupports(m.karpenterVersion, path);
      if (!supported.ok) out.blockers.push(supported.reason);
    }
  }
  for (const nc of m.nodeClasses ?? []) {
    if (!followsClusterMinor(nc.terms)) {
      out.warnings.push(
        `EC2NodeClass ${nc.name} selects custom AMIs (by id, name, tags or SSM parameter): fleetwave leaves its terms alone; its nodes keep their AMI`,
      );
    }
    for (const term of nc.terms) {
      const parameters = term.alias ? aliasParameters(term.alias, targetMinor) : undefined;
      if (!parameters || !deps.ssm) continue;
      let found = false;
      for (const name of parameters) {
        if (await ssmValue(deps, target, name, signal)) {
          found = true;
          break;
        }
      }
      if (!found) {
        const family = parseAlias(term.alias as string)?.family ?? '?';
        out.blockers.push(
          `EC2NodeClass ${nc.name}: alias ${term.alias} is not published for Kubernetes ${targetMinor} (SSM has none of its parameters, e.g. ${parameters[0]}): Karpenter would launch no node after the upgrade; use ${family}@latest or a version published for ${targetMinor}`,
        );
      }
    }
  }
  return out;
}
