/**
 * The EC2 reads and the one EC2 write fleetwave makes: images (a Windows AMI's name, custom AMIs
 * by name pattern) and the launch-template versions of node groups whose template names a custom
 * AMI. EKS's own writes live in activities/eks/start.ts.
 */
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type Image,
  type LaunchTemplateVersion,
} from '@aws-sdk/client-ec2';
import type { Architecture } from '../domain/node-models';
import type { AwsTarget, ResolvedDeps } from './deps';
import { awsCall, nonRetryable } from './failures';
import { FailureTypes } from './types';

/** The EC2 client of a region, or a non-retryable refusal saying what needed it. */
export function ec2Client(deps: ResolvedDeps, target: AwsTarget, what: string): EC2Client {
  if (!deps.ec2) {
    throw nonRetryable(FailureTypes.InvalidRequest, `${what} needs an EC2 client (ActivityDeps.ec2)`);
  }
  return deps.ec2(target);
}

/** One image by ID (DescribeImages), undefined when EC2 does not know it in this region. */
export async function describeImage(
  client: EC2Client,
  imageId: string,
  signal?: AbortSignal,
): Promise<Image | undefined> {
  const out = await awsCall(`DescribeImages ${imageId}`, () =>
    client.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: signal }),
  );
  return out.Images?.find((i) => i.ImageId === imageId);
}

/**
 * The newest available image (by CreationDate) whose name matches `namePattern` (EC2 wildcards * and
 * ?), of one architecture, among `owners`. DescribeImages pages through NextToken.
 */
export async function newestImage(
  client: EC2Client,
  namePattern: string,
  arch: Architecture,
  owners: string[],
  signal?: AbortSignal,
): Promise<Image | undefined> {
  let newest: Image | undefined;
  let nextToken: string | undefined;
  do {
    const out = await awsCall(`DescribeImages name=${namePattern}`, () =>
      client.send(
        new DescribeImagesCommand({
          Owners: owners,
          Filters: [
            { Name: 'name', Values: [namePattern] },
            { Name: 'architecture', Values: [arch] },
            { Name: 'state', Values: ['available'] },
          ],
          NextToken: nextToken,
        }),
        { abortSignal: signal },
      ),
    );
    for (const image of out.Images ?? []) {
      // ISO timestamps compare as strings; ties go to the later name so the choice is stable.
      const key = `${image.CreationDate ?? ''}|${image.Name ?? ''}`;
      const best = newest ? `${newest.CreationDate ?? ''}|${newest.Name ?? ''}` : '';
      if (key > best) newest = image;
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return newest;
}

/** Where a node group's launch template is: EKS reports its ID, its name, or both. */
export interface LaunchTemplateRef {
  id?: string;
  name?: string;
}

/** One version of a launch template (DescribeLaunchTemplateVersions). */
export async function describeLaunchTemplateVersion(
  client: EC2Client,
  template: LaunchTemplateRef,
  version: string,
  signal?: AbortSignal,
): Promise<LaunchTemplateVersion> {
  const label = `${template.id ?? template.name ?? '?'} version ${version}`;
  const out = await awsCall(`DescribeLaunchTemplateVersions ${label}`, () =>
    client.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(template.id ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }),
        Versions: [version],
      }),
      { abortSignal: signal },
    ),
  );
  const found = out.LaunchTemplateVersions?.[0];
  if (!found) throw nonRetryable(FailureTypes.NotFound, `launch template ${label}: not found`);
  return found;
}

/**
 * CreateLaunchTemplateVersion from `sourceVersion` with only the image changed. EC2 answers a
 * repeated `clientToken` with the version the first call created, so a retry creates no second one.
 */
export async function createImageVersion(
  client: EC2Client,
  template: LaunchTemplateRef,
  sourceVersion: string,
  imageId: string,
  clientToken: string,
  signal?: AbortSignal,
  opts: { description?: string } = {},
): Promise<LaunchTemplateVersion> {
  const label = `${template.id ?? template.name ?? '?'} from version ${sourceVersion}`;
  const out = await awsCall(`CreateLaunchTemplateVersion ${label}`, () =>
    client.send(
      new CreateLaunchTemplateVersionCommand({
        ...(template.id ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }),
        SourceVersion: sourceVersion,
        LaunchTemplateData: { ImageId: imageId },
        ...(opts.description ? { VersionDescription: opts.description } : {}),
        ClientToken: clientToken,
      }),
      { abortSignal: signal },
    ),
  );
  if (!out.LaunchTemplateVersion?.VersionNumber) {
    throw nonRetryable(FailureTypes.NotFound, `CreateLaunchTemplateVersion ${label}: no version in the answer`);
  }
  return out.LaunchTemplateVersion;
}

/** The versions of a launch template after `afterVersion`, oldest first (DescribeLaunchTemplateVersions, every page). */
export async function launchTemplateVersionsAfter(
  client: EC2Client,
  template: LaunchTemplateRef,
  afterVersion: string,
  signal?: AbortSignal,
): Promise<LaunchTemplateVersion[]> {
  const label = `${template.id ?? template.name ?? '?'} after version ${afterVersion}`;
  const versions: LaunchTemplateVersion[] = [];
  let nextToken: string | undefined;
  do {
    const out = await awsCall(`DescribeLaunchTemplateVersions ${label}`, () =>
      client.send(
        new DescribeLaunchTemplateVersionsCommand({
          ...(template.id ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }),
          MinVersion: String(Number(afterVersion) + 1),
          NextToken: nextToken,
        }),
        { abortSignal: signal },
      ),
    );
    versions.push(...(out.LaunchTemplateVersions ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return versions
    .filter((v) => (v.VersionNumber ?? 0) > Number(afterVersion))
    .sort((a, b) => (a.VersionNumber ?? 0) - (b.VersionNumber ?? 0));
}
