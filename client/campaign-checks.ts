/**
 * Campaign checks beyond the schema that need no network: gate queries that are not PromQL
 * (client/promql.ts) and a pinned node release that cannot be one of the target. `plan`,
 * `start` and the client library's `startCampaign` all run them; the live check of pinned
 * versions against EKS is client/version-check.ts.
 */
import type { ValidationIssue } from '../domain/load';
import type { Campaign } from '../domain/spec';
import { promqlIssues } from './promql';

/** An EKS optimized AMI release version: Kubernetes patch version, dash, build date. */
export const AMI_RELEASE = /^(1\.\d{1,2})\.\d{1,3}-(\d{8})$/;

/** Issues the pinned node release shows without asking EKS: its format, and its minor against the target. */
export function pinnedVersionIssues(campaign: Campaign): ValidationIssue[] {
  const t = campaign.spec.target;
  if (t.skipNodegroups || t.nodegroupRelease === 'latest') return [];
  const path = 'spec.target.nodegroupRelease';
  const match = AMI_RELEASE.exec(t.nodegroupRelease);
  if (!match) {
    return [
      {
        path,
        message: `"${t.nodegroupRelease}" is not an EKS optimized AMI release version such as "1.31.5-20250304" (or "latest")`,
      },
    ];
  }
  if (t.kubernetesVersion && match[1] !== t.kubernetesVersion) {
    return [
      {
        path,
        message: `${t.nodegroupRelease} is a release of Kubernetes ${match[1]}, not of the target ${t.kubernetesVersion}`,
      },
    ];
  }
  return [];
}

/** Every issue of this module, pinned release first, then gate queries in order. */
export function campaignIssuesBeyondSchema(campaign: Campaign): ValidationIssue[] {
  return [...pinnedVersionIssues(campaign), ...promqlIssues(campaign)];
}
