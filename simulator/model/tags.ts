/**
 * EKS resource tags: ListTagsForResource, TagResource, UntagResource on cluster, node-group and
 * add-on ARNs. A cluster's tags are its fleet-file labels, so tagging a cluster changes the labels
 * DescribeCluster and /sim/state report.
 *
 * Sources: the EKS API reference for TagResource / UntagResource / ListTagsForResource
 * (docs.aws.amazon.com/eks/latest/APIReference/API_TagResource.html; errors: BadRequestException
 * and NotFoundException only, as the service model lists them) and its TagMap documentation: at
 * most 50 tags per resource, keys 1–128 characters, values up to 256, the `aws:` prefix reserved
 * for AWS in keys and values.
 */
import { EksError } from './errors';
import type { CallerScope, SimCluster } from './types';

/** What an ARN names, once found. */
export interface TagTarget {
  cluster: SimCluster;
  /** The tag map to read and change: the cluster's labels, a node group's or an add-on's tags. */
  tags: Record<string, string>;
}

const badRequest = (message: string) => new EksError('BadRequestException', 400, message);
const notFoundArn = (arn: string) => new EksError('NotFoundException', 404, `Resource not found: ${arn}`);

/** The resource an EKS ARN names, for the caller's region and account; NotFoundException otherwise. */
export function tagTarget(
  arn: string,
  scope: CallerScope,
  lookup: (name: string) => SimCluster | undefined,
): TagTarget {
  const match = /^arn:aws[a-z-]*:eks:([^:]+):(\d{12}):(cluster|nodegroup|addon)\/([^/]+)(?:\/([^/]+))?/.exec(arn);
  if (!match) throw badRequest(`Invalid ARN: ${arn}`);
  const [, region, account, kind, clusterName, child] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  const c = lookup(clusterName);
  if (
    !c ||
    region !== scope.region ||
    c.region !== region ||
    c.account !== account ||
    (scope.account !== undefined && scope.account !== account)
  ) {
    throw notFoundArn(arn);
  }
  if (kind === 'cluster') return { cluster: c, tags: c.labels };
  if (kind === 'nodegroup') {
    const ng = c.nodegroupByName.get(child ?? '');
    if (!ng) throw notFoundArn(arn);
    return { cluster: c, tags: ng.tags };
  }
  const a = c.addonByName.get(child ?? '');
  if (!a) throw notFoundArn(arn);
  return { cluster: c, tags: a.tags };
}

const reserved = (s: string) => s.toLowerCase().startsWith('aws:');

/** TagResource: adds or overwrites tags, all or nothing. */
export function tagResource(target: TagTarget, tags: Record<string, unknown>): void {
  const entries = Object.entries(tags);
  if (entries.length === 0) throw badRequest('tags must contain at least one tag');
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw badRequest(`The value of tag ${key} must be a string`);
    if (key.length < 1 || key.length > 128) throw badRequest(`Tag key ${key} must be 1 to 128 characters`);
    if (value.length > 256) throw badRequest(`The value of tag ${key} must be at most 256 characters`);
    if (reserved(key) || reserved(value)) throw badRequest(`Tag ${key}: the aws: prefix is reserved for AWS use`);
  }
  const after = new Set([...Object.keys(target.tags), ...entries.map(([k]) => k)]);
  if (after.size > 50) throw badRequest(`A resource can have at most 50 tags; this would make ${after.size}`);
  for (const [key, value] of entries) target.tags[key] = value as string;
}

/** UntagResource: removes the keys; keys the resource does not have are ignored. */
export function untagResource(target: TagTarget, keys: readonly string[]): void {
  if (keys.length === 0) throw badRequest('tagKeys must name at least one key');
  if (keys.some(reserved)) throw badRequest('Tags with the aws: prefix cannot be removed');
  for (const key of keys) delete target.tags[key];
}
