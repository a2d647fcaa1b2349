/**
 * Pinning a campaign's versions once, before any cluster starts: the EKS optimized AMI release
 * of each minor (SSM) and the add-on versions EKS lists for each minor (DescribeAddonVersions).
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { compareMinor, toMinor } from '../../domain/versions';
import { activityRuntime } from '../context';
import type { AwsTarget, ResolvedDeps } from '../deps';
import { awsErrorName, nonRetryable, toActivityFailure } from '../failures';
import { FailureTypes, type PinnedVersions, type ResolveTargetVersionsInput } from '../types';
import { compatibleAddonVersions } from './read';

/** The recommended EKS optimized AMI release of a minor, from SSM public parameters. */
async function latestAmiRelease(
  deps: ResolvedDeps,
  target: AwsTarget,
  minor: string,
  signal?: AbortSignal,
): Promise<string> {
  if (!deps.ssm) {
    throw nonRetryable(
      FailureTypes.InvalidRequest,
      `nodegroupRelease "latest" needs an SSM client (ActivityDeps.ssm) to look up ${minor}`,
    );
  }
  const ssm = deps.ssm(target);
  // Amazon Linux 2 AMIs end with 1.32; later minors publish only Amazon Linux 2023.
  const names = [
    `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2/recommended/release_version`,
    `/aws/service/eks/optimized-ami/${minor}/amazon-linux-2023/x86_64/standard/recommended/release_version`,
  ];
  for (const name of names) {
    try {
      const out = await ssm.send(new GetParameterCommand({ Name: name }), { abortSignal: signal });
      if (out.Parameter?.Value) return out.Parameter.Value;
    } catch (err) {
      if (awsErrorName(err) === 'ParameterNotFound') continue;
      throw toActivityFailure(err, `SSM GetParameter ${name}`);
    }
  }
  throw nonRetryable(
    FailureTypes.InvalidRequest,
    `no EKS optimized AMI release published for Kubernetes ${minor} in ${target.region}`,
  );
}

/**
 * The resolveTargetVersions activity: per minor of the campaign, the node-group AMI release and
 * the version of every add-on (pinned, EKS's default, or the newest, as the target asks).
 */
export async function resolveTargetVersions(
  deps: ResolvedDeps,
  input: ResolveTargetVersionsInput,
): Promise<PinnedVersions> {
  const r = activityRuntime(deps.logger);
  const target = input.target;
  const client = deps.eks({ region: input.region });
  const minors = [...new Set(input.minors)].sort(compareMinor);
  const nodegroupRelease: Record<string, string> = {};
  const addons: Record<string, Record<string, string>> = {};

  if (!target.skipNodegroups) {
    const release = target.nodegroupRelease ?? 'latest';
    if (release === 'latest') {
      for (const minor of minors)
        nodegroupRelease[minor] = await latestAmiRelease(deps, { region: input.region }, minor, r.signal);
    } else {
      const releaseMinor = toMinor(release);
      const wanted = target.kubernetesVersion ? [target.kubernetesVersion] : minors;
      if (target.kubernetesVersion && releaseMinor !== target.kubernetesVersion) {
        throw nonRetryable(
          FailureTypes.InvalidRequest,
          `nodegroupRelease ${release} is for Kubernetes ${releaseMinor ?? '?'}, not the target ${target.kubernetesVersion}`,
        );
      }
      for (const minor of wanted) if (releaseMinor === minor) nodegroupRelease[minor] = release;
    }
  }

  if (!target.skipAddons) {
    const mode = target.addons ?? 'default';
    // A pinned map applies where the campaign ends up: the target minor, or every minor of a patch-only campaign.
    const pinnedMinors = new Set(target.kubernetesVersion ? [target.kubernetesVersion] : minors);
    for (const minor of minors) {
      const perMinor: Record<string, string> = {};
      for (const addonName of [...new Set(input.addonNames)].sort()) {
        const compatible = await compatibleAddonVersions(client, minor, addonName, r.signal);
        if (compatible.length === 0) {
          throw nonRetryable(
            FailureTypes.InvalidRequest,
            `add-on ${addonName} has no version compatible with Kubernetes ${minor} in ${input.region}`,
          );
        }
        const newest = (compatible[0] as { version: string }).version;
        const defaultVersion = compatible.find((v) => v.isDefault)?.version ?? newest;
        const pinned = typeof mode === 'object' ? mode[addonName] : undefined;
        if (pinned !== undefined) {
          const ok = compatible.some((v) => v.version === pinned);
          if (ok) perMinor[addonName] = pinned;
          else if (pinnedMinors.has(minor)) {
            throw nonRetryable(
              FailureTypes.InvalidRequest,
              `add-on ${addonName} ${pinned} is not compatible with Kubernetes ${minor} (compatible: ${compatible
                .slice(0, 5)
                .map((v) => v.version)
                .join(', ')})`,
            );
          } else perMinor[addonName] = defaultVersion;
        } else {
          perMinor[addonName] = mode === 'latest' ? newest : defaultVersion;
        }
      }
      addons[minor] = perMinor;
    }
  }

  r.log.info('Resolved target versions', { region: input.region, minors, nodegroupRelease, addons });
  return {
    ...(target.kubernetesVersion ? { kubernetesVersion: target.kubernetesVersion } : {}),
    nodegroupRelease,
    addons,
    resolvedAt: deps.now().toISOString(),
  };
}
