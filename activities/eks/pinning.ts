/**
 * Pinning a campaign's versions once, before any cluster starts: the AMI release of each EKS
 * amiType in use, per region and minor (SSM public parameters, as each AMI family publishes them),
 * the custom AMIs of node groups whose launch template names one (spec.target.customAmis, EC2),
 * and the add-on versions EKS lists for each minor (DescribeAddonVersions).
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { CustomAmisSpec } from '../../domain/spec';
import { LAST_AL2_MINOR, amiTypeInfo, type AmiType, type Architecture } from '../../domain/node-models';
import { compareMinor, toMinor } from '../../domain/versions';
import { activityRuntime } from '../context';
import { mapLimit, type AwsTarget, type ResolvedDeps } from '../deps';
import { describeImage, ec2Client, newestImage } from '../ec2';
import { awsErrorName, nonRetryable, toActivityFailure } from '../failures';
import { FailureTypes, type PinnedVersions, type ResolveTargetVersionsInput } from '../types';
import { compatibleAddonVersions } from './read';

/**
 * Where the newest release of an amiType for a minor is published:
 * - `release`: an SSM parameter whose value is the release version EKS takes as `releaseVersion`
 *   (Amazon Linux: `release_version`; Bottlerocket: `image_version`, e.g. "1.26.1-7c3e9198").
 * - `windows`: Windows publishes only `image_id`; the release is the end of the AMI's name
 *   ("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2024.11.12" → "1.31-2024.11.12"), the
 *   "k8s_major.k8s_minor-release_date" form the Windows AMI versions page gives.
 * - `none`: the family publishes nothing for that minor.
 *
 * Sources: docs.aws.amazon.com/eks/latest/userguide/retrieve-ami-id.html (Amazon Linux),
 * retrieve-ami-id-bottlerocket.html, retrieve-windows-ami-id.html, eks-ami-versions-windows.html,
 * al2023.html (no AL2 AMI after 1.32).
 */
export type AmiReleaseSource =
  | { kind: 'release'; parameter: string }
  | { kind: 'windows'; parameter: string; namePrefix: string }
  | { kind: 'none'; reason: string };

/** The SSM parameter that publishes the newest release of `amiType` for `minor` (see {@link AmiReleaseSource}). */
export function amiReleaseSource(amiType: AmiType, minor: string): AmiReleaseSource {
  const { family, arch } = amiTypeInfo(amiType);
  const eks = `/aws/service/eks/optimized-ami/${minor}`;
  switch (family) {
    case 'al2': {
      if (compareMinor(minor, LAST_AL2_MINOR) > 0) {
        return { kind: 'none', reason: `Amazon Linux 2 AMIs end with Kubernetes ${LAST_AL2_MINOR}` };
      }
      const variant = amiType === 'AL2_ARM_64' ? '-arm64' : amiType === 'AL2_x86_64_GPU' ? '-gpu' : '';
      return { kind: 'release', parameter: `${eks}/amazon-linux-2${variant}/recommended/release_version` };
    }
    case 'al2023': {
      const flavor = /NVIDIA$/.test(amiType) ? 'nvidia' : /NEURON$/.test(amiType) ? 'neuron' : 'standard';
      return {
        kind: 'release',
        parameter: `${eks}/amazon-linux-2023/${arch ?? 'x86_64'}/${flavor}/recommended/release_version`,
      };
    }
    case 'bottlerocket': {
      const flavor = /NVIDIA$/.test(amiType) ? '-nvidia' : /FIPS$/.test(amiType) ? '-fips' : '';
      return {
        kind: 'release',
        parameter: `/aws/service/bottlerocket/aws-k8s-${minor}${flavor}/${arch ?? 'x86_64'}/latest/image_version`,
      };
    }
    case 'windows': {
      const m = /^WINDOWS_(CORE|FULL)_(\d{4})_/.exec(amiType);
      const option = m?.[1] === 'FULL' ? 'Full' : 'Core';
      const namePrefix = `Windows_Server-${m?.[2] ?? '2022'}-English-${option}-EKS_Optimized-`;
      return {
        kind: 'windows',
        parameter: `/aws/service/ami-windows-latest/${namePrefix}${minor}/image_id`,
        namePrefix,
      };
    }
    case 'custom':
      return { kind: 'none', reason: 'a custom AMI comes from spec.target.customAmis, not from EKS' };
  }
}

/** One SSM parameter's value; undefined when it does not exist (ParameterNotFound). */
export async function ssmValue(deps: ResolvedDeps, target: AwsTarget, name: string, signal?: AbortSignal) {
  if (!deps.ssm) {
    throw nonRetryable(
      FailureTypes.InvalidRequest,
      `nodegroupRelease "latest" needs an SSM client (ActivityDeps.ssm) to read ${name}`,
    );
  }
  try {
    const out = await deps.ssm(target).send(new GetParameterCommand({ Name: name }), { abortSignal: signal });
    return out.Parameter?.Value || undefined;
  } catch (err) {
    if (awsErrorName(err) === 'ParameterNotFound') return undefined;
    throw toActivityFailure(err, `SSM GetParameter ${name}`);
  }
}

function nothingPublished(amiType: AmiType, minor: string, region: string, why: string) {
  return nonRetryable(
    FailureTypes.InvalidRequest,
    `no ${amiType} AMI for Kubernetes ${minor} in ${region}: ${why}; move its node groups to an amiType that has one (EKS cannot change a node group's amiType: create a new node group)`,
  );
}

/** The newest release of `amiType` for `minor` in a region, as the node groups' `releaseVersion`. */
export async function latestAmiTypeRelease(
  deps: ResolvedDeps,
  target: AwsTarget,
  amiType: AmiType,
  minor: string,
  signal?: AbortSignal,
): Promise<string> {
  const source = amiReleaseSource(amiType, minor);
  if (source.kind === 'none') throw nothingPublished(amiType, minor, target.region, source.reason);
  const value = await ssmValue(deps, target, source.parameter, signal);
  if (!value) throw nothingPublished(amiType, minor, target.region, `SSM has no parameter ${source.parameter}`);
  if (source.kind === 'release') return value;
  const image = await describeImage(ec2Client(deps, target, `the ${amiType} release`), value, signal);
  const name = image?.Name ?? '';
  if (!name.startsWith(source.namePrefix)) {
    throw nonRetryable(
      FailureTypes.InvalidRequest,
      `${source.parameter} names ${value}, whose name "${name}" does not start with ${source.namePrefix}: cannot tell its release version`,
    );
  }
  return name.slice(source.namePrefix.length);
}

/**
 * The AMI release of a minor as campaigns started before per-family pins asked for it (an input
 * without `amis`): AL2 where it exists, else AL2023 x86_64 standard.
 */
async function legacyAmiRelease(
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

/** Amazon Linux families share release versions ("1.31.0-20241024"), so a pinned release applies to them only. */
function takesPinnedRelease(amiType: AmiType): boolean {
  const { family } = amiTypeInfo(amiType);
  return family === 'al2' || family === 'al2023';
}

/**
 * The release of every amiType in use, per region and minor it is needed for. A pinned
 * `nodegroupRelease` applies to the Amazon Linux types on its own minor; everything else takes the
 * newest its family publishes (see the field's description in domain/spec.ts).
 */
async function pinAmiReleases(
  deps: ResolvedDeps,
  needs: NonNullable<ResolveTargetVersionsInput['amis']>,
  release: string,
  signal?: AbortSignal,
): Promise<NonNullable<PinnedVersions['amis']>> {
  const lookups: { region: string; amiType: AmiType; minor: string }[] = [];
  const out: NonNullable<PinnedVersions['amis']> = {};
  for (const region of Object.keys(needs).sort()) {
    const perType: Partial<Record<AmiType, Record<string, string>>> = {};
    for (const amiType of (Object.keys(needs[region] ?? {}) as AmiType[]).sort()) {
      if (amiType === 'CUSTOM') continue;
      const perMinor: Record<string, string> = {};
      for (const minor of [...new Set(needs[region]?.[amiType] ?? [])].sort(compareMinor)) {
        if (release !== 'latest' && takesPinnedRelease(amiType)) {
          // A pinned release covers its own minor; node groups of other minors are left alone (as before per-family pins).
          if (toMinor(release) === minor) perMinor[minor] = release;
        } else lookups.push({ region, amiType, minor });
      }
      perType[amiType] = perMinor;
    }
    out[region] = perType;
  }
  // A fleet in many regions with many AMI types asks SSM a few hundred times: a few at once.
  const found = await mapLimit(lookups, deps.describeConcurrency, (l) =>
    latestAmiTypeRelease(deps, { region: l.region }, l.amiType, l.minor, signal),
  );
  lookups.forEach((l, i) => {
    const perMinor = out[l.region]?.[l.amiType];
    if (perMinor) perMinor[l.minor] = found[i] as string;
  });
  return out;
}

const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/**
 * The custom AMI of every region, architecture and minor CUSTOM node groups need, from
 * spec.target.customAmis: the map as given, or the newest image matching the name pattern. An
 * architecture without an image is left out: only a node group of that architecture needs one,
 * and preflight refuses that cluster naming the field.
 */
async function pinCustomAmis(
  deps: ResolvedDeps,
  needs: NonNullable<ResolveTargetVersionsInput['amis']>,
  spec: CustomAmisSpec | undefined,
  signal?: AbortSignal,
): Promise<NonNullable<PinnedVersions['customAmis']>> {
  const out: NonNullable<PinnedVersions['customAmis']> = {};
  if (!spec) return out;
  for (const region of Object.keys(needs).sort()) {
    const minors = [...new Set(needs[region]?.CUSTOM ?? [])].sort(compareMinor);
    if (minors.length === 0) continue;
    const perArch: Partial<Record<Architecture, Record<string, string>>> = {};
    for (const arch of ARCHITECTURES) {
      const perMinor: Record<string, string> = {};
      for (const minor of minors) {
        if ('images' in spec) {
          const image = spec.images[region]?.[arch];
          if (image) perMinor[minor] = image;
        } else {
          const pattern = spec.namePattern.replaceAll('{minor}', minor).replaceAll('{arch}', arch);
          const client = ec2Client(deps, { region }, 'spec.target.customAmis.namePattern');
          const image = await newestImage(client, pattern, arch, spec.owners ?? ['self'], signal);
          if (image?.ImageId) perMinor[minor] = image.ImageId;
        }
      }
      if (Object.keys(perMinor).length > 0) perArch[arch] = perMinor;
    }
    out[region] = perArch;
  }
  return out;
}

/**
 * The resolveTargetVersions activity: the AMI release of every amiType in use per region and
 * minor, the custom AMIs, and per minor of the campaign the version of every add-on (pinned,
 * EKS's default, or the newest, as the target asks).
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

  let amis: PinnedVersions['amis'];
  let customAmis: PinnedVersions['customAmis'];
  if (!target.skipNodegroups) {
    const release = target.nodegroupRelease ?? 'latest';
    if (release !== 'latest' && target.kubernetesVersion && toMinor(release) !== target.kubernetesVersion) {
      throw nonRetryable(
        FailureTypes.InvalidRequest,
        `nodegroupRelease ${release} is for Kubernetes ${toMinor(release) ?? '?'}, not the target ${target.kubernetesVersion}`,
      );
    }
    if (input.amis) {
      amis = await pinAmiReleases(deps, input.amis, release, r.signal);
      customAmis = await pinCustomAmis(deps, input.amis, target.customAmis, r.signal);
      // What campaigns pinned before per-family pins read: the first region's AL2023 x86_64 standard release.
      for (const minor of minors) {
        const pinned = amis[input.region]?.AL2023_x86_64_STANDARD?.[minor];
        if (pinned) nodegroupRelease[minor] = pinned;
      }
    } else if (release === 'latest') {
      for (const minor of minors)
        nodegroupRelease[minor] = await legacyAmiRelease(deps, { region: input.region }, minor, r.signal);
    } else {
      const wanted = target.kubernetesVersion ? [target.kubernetesVersion] : minors;
      for (const minor of wanted) if (toMinor(release) === minor) nodegroupRelease[minor] = release;
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

  r.log.info('Resolved target versions', { region: input.region, minors, nodegroupRelease, amis, customAmis, addons });
  return {
    ...(target.kubernetesVersion ? { kubernetesVersion: target.kubernetesVersion } : {}),
    nodegroupRelease,
    ...(amis ? { amis } : {}),
    ...(customAmis && Object.keys(customAmis).length > 0 ? { customAmis } : {}),
    addons,
    resolvedAt: deps.now().toISOString(),
  };
}
