/**
 * Pinned versions checked before a campaign starts. A pinned node AMI release
 * (`spec.target.nodegroupRelease`) or add-on version (`spec.target.addons.<name>`) that does not
 * exist for the target would otherwise pass `plan` and `start` and fail inside the workflow,
 * when it resolves versions or when it updates the first node group.
 *
 * Two layers:
 * - `pinnedVersionIssues` (client/campaign-checks.ts): what the text alone shows (a release that is not an EKS AMI
 *   release version, or one for another minor than the target). No network.
 * - {@link checkPinnedVersionsLive}: the same EKS and SSM calls the resolveTargetVersions
 *   activity makes (DescribeAddonVersions per add-on and minor; SSM public parameters of the
 *   EKS optimized AMIs), asked from the CLI with its own AWS settings (FLEETWAVE_AWS_ENDPOINT,
 *   AWS_ENDPOINT_URL_EKS, AWS_REGION and the default credential chain, as the worker reads them),
 *   in the region the campaign resolves in: that of its first planned cluster.
 *
 * Only pins are checked: "latest" and "default" are whatever EKS offers when the campaign starts.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { createDefaultDeps } from '../activities/aws';
import type { ActivityDeps } from '../activities/deps';
import { compatibleAddonVersions } from '../activities/eks/read';
import { awsErrorName } from '../activities/failures';
import type { ValidationIssue } from '../domain/load';
import type { PlannedCampaign } from '../domain/plan';
import type { Campaign } from '../domain/spec';
import { toMinor } from '../domain/versions';
import { AMI_RELEASE } from './campaign-checks';

/** How long the live check may take before it gives up (and `start` refuses to guess). */
export const LIVE_CHECK_TIMEOUT_MS = 15_000;

/** True when the campaign pins something the live check can verify. */
export function hasPinnedVersions(campaign: Campaign): boolean {
  const t = campaign.spec.target;
  return (
    (!t.skipNodegroups && t.nodegroupRelease !== 'latest') ||
    (!t.skipAddons && typeof t.addons === 'object' && Object.keys(t.addons).length > 0)
  );
}

/** The minors pins apply to: the target, or the current minors of a patch-only campaign. */
function pinnedMinors(campaign: Campaign, plan: PlannedCampaign): string[] {
  const target = campaign.spec.target.kubernetesVersion;
  if (target) return [target];
  const minors = new Set<string>();
  for (const wave of plan.waves) for (const c of wave.clusters) minors.add(toMinor(c.from) ?? c.from);
  return [...minors].sort();
}

/** The SSM public parameters of one AMI release (Amazon Linux 2023, then Amazon Linux 2, which ends with 1.32). */
function releaseParameters(minor: string, date: string): string[] {
  return [
    `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-${minor}-v${date}/image_id`,
    `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2/amazon-eks-node-${minor}-v${date}/image_id`,
  ];
}

/** Where the live check asks, and with which clients. */
export interface LiveCheckOptions {
  /** Environment for the AWS settings. Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Clients to use instead of those built from the environment (tests, embedding). */
  deps?: ActivityDeps;
  /** Default: {@link LIVE_CHECK_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * The AWS clients the CLI asks with before a campaign starts: the given ones, or clients built from
 * the worker's AWS settings in the environment (FLEETWAVE_AWS_ENDPOINT, AWS_ENDPOINT_URL_EKS, the
 * default credential chain), with two attempts per call.
 */
export function cliAwsDeps(opts: Pick<LiveCheckOptions, 'env' | 'deps'>): ActivityDeps {
  if (opts.deps) return opts.deps;
  const env = opts.env ?? process.env;
  return createDefaultDeps({
    endpoint: env.FLEETWAVE_AWS_ENDPOINT || undefined,
    eksEndpoint: env.AWS_ENDPOINT_URL_EKS || undefined,
    maxAttempts: 2,
  });
}

/**
 * Asks EKS and SSM whether every pinned version exists for the minors it applies to. Resolves to
 * one issue per pin that does not; rejects when EKS or SSM cannot be asked (credentials, network,
 * timeout), which the caller reports as such.
 */
export async function checkPinnedVersionsLive(
  campaign: Campaign,
  plan: PlannedCampaign,
  opts: LiveCheckOptions = {},
): Promise<ValidationIssue[]> {
  const first = plan.waves.flatMap((w) => w.clusters)[0];
  if (!first || !hasPinnedVersions(campaign)) return [];
  const region = first.labels.region;
  if (!region) return [];
  const deps = cliAwsDeps(opts);
  const signal = AbortSignal.timeout(opts.timeoutMs ?? LIVE_CHECK_TIMEOUT_MS);
  const t = campaign.spec.target;
  const minors = pinnedMinors(campaign, plan);
  const issues: ValidationIssue[] = [];

  if (!t.skipAddons && typeof t.addons === 'object') {
    const eks = deps.eks({ region });
    for (const [name, version] of Object.entries(t.addons).sort(([a], [b]) => a.localeCompare(b))) {
      for (const minor of minors) {
        const offered = await compatibleAddonVersions(eks, minor, name, signal);
        if (offered.some((v) => v.version === version)) continue;
        const list = offered
          .slice(0, 5)
          .map((v) => v.version)
          .join(', ');
        issues.push({
          path: `spec.target.addons.${name}`,
          message:
            `${version} is not offered for Kubernetes ${minor} in ${region} (DescribeAddonVersions` +
            `${offered.length > 0 ? `; offered: ${list}` : `; EKS offers no add-on "${name}" for ${minor}`})`,
        });
        break;
      }
    }
  }

  const release = AMI_RELEASE.exec(t.nodegroupRelease);
  if (!t.skipNodegroups && t.nodegroupRelease !== 'latest' && release && deps.ssm) {
    const ssm = deps.ssm({ region });
    const [, minor, date] = release as unknown as [string, string, string];
    let found = false;
    for (const name of releaseParameters(minor, date)) {
      try {
        const out = await ssm.send(new GetParameterCommand({ Name: name }), { abortSignal: signal });
        if (out.Parameter?.Value) found = true;
      } catch (err) {
        if (awsErrorName(err) !== 'ParameterNotFound') throw err;
      }
      if (found) break;
    }
    if (!found) {
      issues.push({
        path: 'spec.target.nodegroupRelease',
        message: `${t.nodegroupRelease} is not a published EKS optimized AMI release for Kubernetes ${minor} in ${region} (SSM /aws/service/eks/optimized-ami/${minor}/...-v${date})`,
      });
    }
  }
  return issues;
}
