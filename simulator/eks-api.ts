/**
 * The EKS REST-JSON API as `@aws-sdk/client-eks` speaks it: routes, pagination, shapes
 * (timestamps as epoch seconds), and errors with `x-amzn-errortype`. The region comes from
 * the SigV4 credential scope, so one port serves every region; credentials issued by the
 * simulated STS AssumeRole see only their account's clusters.
 */
import {
  CONTROL_PLANE_PATCH,
  PLATFORM_VERSIONS,
  SIM_MINORS,
  VERSION_CALENDAR,
  compareMinor,
  isMinorString,
  versionSupportAt,
  type AddonCatalogue,
} from './catalogue';
import {
  EksError,
  insightsFor,
  type CallerScope,
  type InsightModel,
  type SimAddon,
  type SimCluster,
  type SimFleet,
  type SimNodegroup,
  type SimUpdate,
} from './model';
import { tagResource, tagTarget, untagResource } from './model/tags';
import { hexOf, uuidOf } from './random';
import { instanceTypeOf } from './workloads';

export interface EksRequest {
  method: string;
  /** Decoded path segments. */
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  scope: CallerScope;
  /** The caller's IAM principal (an assumed role's role ARN): the one access entry it has (k8s-access.ts). */
  principal?: string;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Where a cluster's Kubernetes API is, as DescribeCluster reports it. */
export interface KubernetesAccess {
  /** `https://host:port` of the cluster's API server (its port is open before DescribeCluster answers). */
  endpointOf(cluster: string): string;
  /** base64 of the PEM of the CA that signed the API server's certificate. */
  caData: string;
}

const seconds = (ms: number) => ms / 1000;

function badRequest(message: string): EksError {
  return new EksError('InvalidParameterException', 400, message);
}

/** Offset-based pagination with opaque tokens, as EKS's list operations page. */
function paginate<T>(
  items: readonly T[],
  query: { maxResults?: unknown; nextToken?: unknown },
  max: number,
  def: number,
) {
  let limit = def;
  if (query.maxResults !== undefined && query.maxResults !== null && query.maxResults !== '') {
    const n = Number(query.maxResults);
    if (!Number.isInteger(n) || n < 1 || n > max) throw badRequest(`maxResults must be between 1 and ${max}`);
    limit = n;
  }
  let offset = 0;
  if (typeof query.nextToken === 'string' && query.nextToken !== '') {
    const decoded = Buffer.from(query.nextToken, 'base64url').toString('utf8');
    const match = /^o:(\d+)$/.exec(decoded);
    if (!match) throw badRequest('The nextToken provided is invalid.');
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + limit);
  const end = offset + page.length;
  return {
    page,
    nextToken: end < items.length ? Buffer.from(`o:${end}`).toString('base64url') : undefined,
  };
}

function renderUpdate(u: SimUpdate) {
  return {
    id: u.id,
    status: u.status,
    type: u.type,
    params: u.params,
    createdAt: seconds(u.createdAt),
    errors: u.errors,
    ...(u.cancellation ? { cancellation: u.cancellation } : {}),
  };
}

function renderCluster(c: SimCluster, k8s: KubernetesAccess, status: SimCluster['status']) {
  const vpc = `vpc-0${hexOf(16, c.name, 'vpc')}`;
  return {
    name: c.name,
    arn: c.arn,
    createdAt: seconds(c.createdAt),
    version: c.version,
    endpoint: k8s.endpointOf(c.name),
    roleArn: `arn:aws:iam::${c.account}:role/${c.name}-cluster-role`,
    resourcesVpcConfig: {
      subnetIds: [0, 1, 2].map((i) => `subnet-0${hexOf(16, c.name, 'subnet', i)}`),
      securityGroupIds: [`sg-0${hexOf(16, c.name, 'sg')}`],
      clusterSecurityGroupId: `sg-0${hexOf(16, c.name, 'cluster-sg')}`,
      vpcId: vpc,
      endpointPublicAccess: true,
      endpointPrivateAccess: true,
      publicAccessCidrs: ['0.0.0.0/0'],
    },
    kubernetesNetworkConfig: {
      serviceIpv4Cidr: '172.20.0.0/16',
      ipFamily: 'ipv4',
      ...(c.autoMode ? { elasticLoadBalancing: { enabled: true } } : {}),
    },
    // Auto Mode turns on its compute, block storage and load balancing capabilities together.
    ...(c.autoMode
      ? {
          computeConfig: {
            enabled: true,
            nodePools: ['general-purpose', 'system'],
            nodeRoleArn: `arn:aws:iam::${c.account}:role/${c.name}-auto-node-role`,
          },
          storageConfig: { blockStorage: { enabled: true } },
        }
      : {}),
    logging: {
      clusterLogging: [{ types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'], enabled: false }],
    },
    identity: {
      oidc: { issuer: `https://oidc.eks.${c.region}.amazonaws.com/id/${hexOf(32, c.name, 'oidc').toUpperCase()}` },
    },
    status,
    certificateAuthority: { data: k8s.caData },
    platformVersion: c.platformVersion,
    tags: { ...c.labels },
    health: { issues: [] },
    accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
    upgradePolicy: { supportType: 'EXTENDED' },
  };
}

function renderNodegroup(c: SimCluster, ng: SimNodegroup) {
  return {
    nodegroupName: ng.name,
    nodegroupArn: `arn:aws:eks:${c.region}:${c.account}:nodegroup/${c.name}/${ng.name}/${ng.uid}`,
    clusterName: c.name,
    version: ng.version,
    releaseVersion: ng.releaseVersion,
    createdAt: seconds(ng.createdAt),
    modifiedAt: seconds(ng.modifiedAt),
    status: ng.status,
    capacityType: 'ON_DEMAND',
    scalingConfig: { minSize: ng.minSize, maxSize: ng.maxSize, desiredSize: ng.desiredSize },
    instanceTypes: [instanceTypeOf(c, ng.name, ng.arch)],
    subnets: [0, 1, 2].map((i) => `subnet-0${hexOf(16, c.name, 'subnet', i)}`),
    amiType: ng.amiType,
    nodeRole: `arn:aws:iam::${c.account}:role/${c.name}-node-role`,
    labels: { ...ng.labels },
    taints: ng.taints.map((t) => ({
      key: t.key,
      ...(t.value !== undefined ? { value: t.value } : {}),
      effect: t.effect,
    })),
    resources: { autoScalingGroups: [{ name: `eks-${ng.name}-${ng.uid}` }] },
    health: { issues: [] },
    updateConfig: {
      ...(ng.maxUnavailablePercentage !== undefined
        ? { maxUnavailablePercentage: ng.maxUnavailablePercentage }
        : { maxUnavailable: ng.maxUnavailable ?? 1 }),
      updateStrategy: ng.updateStrategy,
    },
    launchTemplate: { ...ng.launchTemplate },
    tags: { ...ng.tags },
  };
}

/** A Fargate profile: one selector, the default namespace and a label naming the profile, which its pods carry. */
function renderFargateProfile(c: SimCluster, f: SimCluster['fargateProfiles'][number]) {
  return {
    fargateProfileName: f.name,
    fargateProfileArn: `arn:aws:eks:${c.region}:${c.account}:fargateprofile/${c.name}/${f.name}/${uuidOf(c.name, 'fargate', f.name)}`,
    clusterName: c.name,
    createdAt: seconds(f.createdAt),
    podExecutionRoleArn: `arn:aws:iam::${c.account}:role/${c.name}-fargate-pod-execution`,
    subnets: [0, 1].map((i) => `subnet-0${hexOf(16, c.name, 'subnet', i)}`),
    selectors: [{ namespace: 'default', labels: { 'eks.amazonaws.com/fargate-profile': f.name } }],
    status: 'ACTIVE',
    tags: {},
    health: { issues: [] },
  };
}

function renderAddon(c: SimCluster, a: SimAddon) {
  return {
    addonName: a.name,
    clusterName: c.name,
    status: a.status,
    addonVersion: a.version,
    health: { issues: [] },
    addonArn: `arn:aws:eks:${c.region}:${c.account}:addon/${c.name}/${a.name}/${a.uid}`,
    createdAt: seconds(a.createdAt),
    modifiedAt: seconds(a.modifiedAt),
    tags: { ...a.tags },
  };
}

function insightSummary(i: InsightModel) {
  return {
    id: i.id,
    name: i.name,
    category: i.category,
    kubernetesVersion: i.kubernetesVersion,
    lastRefreshTime: seconds(i.lastRefreshTime),
    lastTransitionTime: seconds(i.lastTransitionTime),
    description: i.description,
    insightStatus: { status: i.status, reason: i.reason },
  };
}

function insightDetail(i: InsightModel) {
  return {
    ...insightSummary(i),
    recommendation: i.recommendation,
    additionalInfo: {
      EKS: 'https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html',
    },
    resources: i.resources ?? [],
    categorySpecificSummary: {
      deprecationDetails: (i.deprecationDetails ?? []).map((d) => ({
        ...d,
        clientStats: d.clientStats.map((s) => ({ ...s, lastRequestTime: seconds(s.lastRequestTime) })),
      })),
      addonCompatibilityDetails: i.addonCompatibilityDetails ?? [],
    },
  };
}

function describeAddonVersions(catalogue: AddonCatalogue, query: URLSearchParams) {
  const k8s = query.get('kubernetesVersion') ?? undefined;
  if (k8s !== undefined && !isMinorString(k8s))
    throw badRequest(`kubernetesVersion must be a minor version such as "1.31"`);
  const name = query.get('addonName') ?? undefined;
  const types = query.getAll('types');
  const publishers = query.getAll('publishers');
  const owners = query.getAll('owners');
  const infos = catalogue
    .all()
    .filter(
      (a) =>
        (name === undefined || a.name === name) &&
        (types.length === 0 || types.includes(a.type)) &&
        (publishers.length === 0 || publishers.includes('eks')) &&
        (owners.length === 0 || owners.includes('aws')),
    )
    .map((a) => ({
      addonName: a.name,
      type: a.type,
      publisher: 'eks',
      owner: 'aws',
      addonVersions: a.versions
        .filter((v) => k8s === undefined || v.compatible.includes(k8s))
        .slice()
        .reverse()
        .map((v) => ({
          addonVersion: v.version,
          architecture: ['amd64', 'arm64'],
          computeTypes: ['ec2'],
          compatibilities: v.compatible.map((m) => ({
            clusterVersion: m,
            platformVersions: ['*'],
            defaultVersion: v.defaultFor.includes(m),
          })),
          requiresConfiguration: false,
          requiresIamPermissions: a.name === 'aws-ebs-csi-driver',
        })),
    }))
    .filter((a) => a.addonVersions.length > 0);
  const { page, nextToken } = paginate(
    infos,
    { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
    100,
    100,
  );
  return { addons: page, ...(nextToken ? { nextToken } : {}) };
}

const VERSION_STATUSES = ['UNSUPPORTED', 'STANDARD_SUPPORT', 'EXTENDED_SUPPORT'] as const;
/** The deprecated `status` field and filter spell the same statuses in lower case with dashes. */
const legacyStatus = (v: string) => v.toLowerCase().replace('_', '-');
const daySeconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

/**
 * DescribeClusterVersions (docs.aws.amazon.com/eks/latest/APIReference/API_DescribeClusterVersions.html)
 * from the release calendar (catalogue.ts VERSION_CALENDAR), newest first.
 * Without `includeAll`, versions past the end of extended support are left out unless a filter
 * names them (`clusterVersions`, or `versionStatus=UNSUPPORTED`); the API reference does not say
 * what the default omits, and this is what its "Include all available versions" flag implies.
 * The default version is the newest minor the simulator upgrades to.
 */
function describeClusterVersions(query: URLSearchParams, now: number) {
  const bool = (name: string) => {
    const v = query.get(name);
    if (v === null) return undefined;
    if (v !== 'true' && v !== 'false') throw badRequest(`${name} must be true or false`);
    return v === 'true';
  };
  const includeAll = bool('includeAll') ?? false;
  const defaultOnly = bool('defaultOnly') ?? false;
  const clusterType = query.get('clusterType');
  const wanted = query.getAll('clusterVersions');
  let versionStatus = query.get('versionStatus') ?? undefined;
  const legacy = query.get('status');
  if (versionStatus !== undefined && !(VERSION_STATUSES as readonly string[]).includes(versionStatus))
    throw badRequest(`versionStatus must be one of ${VERSION_STATUSES.join(', ')}`);
  if (legacy !== null) {
    const match = VERSION_STATUSES.find((v) => legacyStatus(v) === legacy);
    if (!match) throw badRequest(`status must be one of ${VERSION_STATUSES.map(legacyStatus).join(', ')}`);
    versionStatus ??= match;
  }
  const defaultMinor = SIM_MINORS[SIM_MINORS.length - 1];
  const rows = VERSION_CALENDAR.map((e) => ({ e, support: versionSupportAt(e, now) })).filter(
    ({ e, support }) =>
      (clusterType === null || clusterType === 'eks') &&
      (wanted.length === 0 || wanted.includes(e.minor)) &&
      (!defaultOnly || e.minor === defaultMinor) &&
      (versionStatus === undefined || support === versionStatus) &&
      (includeAll || support !== 'UNSUPPORTED' || wanted.length > 0 || versionStatus === 'UNSUPPORTED'),
  );
  const { page, nextToken } = paginate(
    rows,
    { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
    100,
    100,
  );
  return {
    clusterVersions: page.map(({ e, support }) => ({
      clusterVersion: e.minor,
      clusterType: 'eks',
      defaultPlatformVersion: PLATFORM_VERSIONS[e.minor] ?? 'eks.1',
      defaultVersion: e.minor === defaultMinor,
      releaseDate: daySeconds(e.eksRelease),
      endOfStandardSupportDate: daySeconds(e.endOfStandardSupport),
      endOfExtendedSupportDate: daySeconds(e.endOfExtendedSupport),
      status: legacyStatus(support),
      versionStatus: support,
      kubernetesPatchVersion: CONTROL_PLANE_PATCH[e.minor] ?? `${e.minor}.0`,
    })),
    ...(nextToken ? { nextToken } : {}),
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The cluster named by an EKS request path, for fault injection before routing. */
export function targetClusterName(segments: string[]): string | undefined {
  if (segments[0] === 'clusters' && segments[1]) return segments[1];
  if (segments[0] === 'tags' && segments[1]) {
    const match = /^arn:aws[a-z-]*:eks:[^:]+:\d+:(?:cluster|nodegroup|addon)\/([^/]+)/.exec(segments[1]);
    return match?.[1];
  }
  return undefined;
}

/**
 * ListAccessEntries, DescribeAccessEntry and ListAssociatedAccessPolicies
 * (https://docs.aws.amazon.com/eks/latest/APIReference/API_ListAccessEntries.html,
 * API_DescribeAccessEntry.html, API_ListAssociatedAccessPolicies.html). The simulator's one entry
 * per caller carries the cluster's access policy at cluster scope (k8s-access.ts); `none`: no entry.
 * `rest` is the path after `access-entries`; undefined for a path these do not serve.
 */
function accessEntries(
  c: SimCluster,
  rest: string[],
  query: URLSearchParams,
  principal: string | undefined,
): Record<string, unknown> | undefined {
  const entries = c.accessPolicy === 'none' || !principal ? [] : [principal];
  const policyArn = `arn:aws:eks::aws:cluster-access-policy/${c.accessPolicy}`;
  if (rest.length === 0) {
    const filter = query.get('associatedPolicyArn');
    const matching = filter && filter !== policyArn ? [] : entries;
    const { page, nextToken } = paginate(
      matching,
      { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
      100,
      100,
    );
    return { accessEntries: page, ...(nextToken ? { nextToken } : {}) };
  }
  const principalArn = rest[0] as string;
  if (!entries.includes(principalArn)) {
    throw new EksError('ResourceNotFoundException', 404, `The specified principalArn could not be found.`, {
      clusterName: c.name,
    });
  }
  const at = seconds(c.createdAt);
  if (rest.length === 1) {
    const username = principalArn.replace(
      /^arn:aws[a-z-]*:iam::(\d{12}):role\/(.+)$/,
      'arn:aws:sts::$1:assumed-role/$2/{{SessionName}}',
    );
    return {
      accessEntry: {
        clusterName: c.name,
        principalArn,
        kubernetesGroups: [],
        accessEntryArn: `arn:aws:eks:${c.region}:${c.account}:access-entry/${c.name}/${hexOf(8, principalArn)}`,
        createdAt: at,
        modifiedAt: at,
        tags: {},
        username,
        type: 'STANDARD',
      },
    };
  }
  if (rest.length === 2 && rest[1] === 'access-policies') {
    return {
      clusterName: c.name,
      principalArn,
      associatedAccessPolicies: [
        { policyArn, accessScope: { type: 'cluster', namespaces: [] }, associatedAt: at, modifiedAt: at },
      ],
    };
  }
  return undefined;
}

/**
 * Answers one EKS call. `clientRequestToken` is always present on the SDK's mutating calls;
 * a request without one (curl) gets a fresh token, so it is never a replay.
 */
export function handleEks(
  fleet: SimFleet,
  req: EksRequest,
  k8s: KubernetesAccess,
  newToken: () => string,
): JsonResponse {
  const { method, segments: s, query, scope } = req;
  const body = objectBody(req.body);
  const token = str(body.clientRequestToken) ?? newToken();
  const ok = (b: unknown): JsonResponse => ({ status: 200, body: b });

  if (s[0] === 'addons' && s[1] === 'supported-versions' && s.length === 2 && method === 'GET') {
    return ok(describeAddonVersions(fleet.addonCatalogue, query));
  }
  if (s[0] === 'cluster-versions' && s.length === 1 && method === 'GET') {
    return ok(describeClusterVersions(query, fleet.now()));
  }
  if (s[0] === 'tags' && s.length === 2) {
    const target = tagTarget(s[1] as string, scope, (name) => fleet.byName.get(name));
    fleet.settle(target.cluster);
    if (method === 'GET') return ok({ tags: { ...target.tags } });
    if (method === 'POST') {
      tagResource(target, objectBody(body.tags));
      return ok({});
    }
    if (method === 'DELETE') {
      untagResource(target, query.getAll('tagKeys'));
      return ok({});
    }
  }
  if (s[0] !== 'clusters')
    throw new EksError('UnknownOperationException', 404, `No EKS operation for ${method} /${s.join('/')}`);

  if (s.length === 1 && method === 'GET') {
    const names = fleet.visible(scope).map((c) => c.name);
    const { page, nextToken } = paginate(
      names,
      { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
      100,
      100,
    );
    return ok({ clusters: page, ...(nextToken ? { nextToken } : {}) });
  }
  const c = fleet.cluster(s[1] as string, scope);
  const sub = s[2];

  if (s.length === 2 && method === 'GET') return ok({ cluster: renderCluster(c, k8s, fleet.clusterStatus(c)) });

  if (sub === 'updates') {
    if (s.length === 3 && method === 'POST') {
      const u = fleet.updateClusterVersion(c, {
        version: str(body.version),
        clientRequestToken: token,
        force: body.force === true,
        ...(body.rollbackConfig !== undefined ? { rollbackConfig: objectBody(body.rollbackConfig) } : {}),
      });
      return ok({ update: renderUpdate(u) });
    }
    const scopeOf = () => ({
      nodegroupName: query.get('nodegroupName') ?? undefined,
      addonName: query.get('addonName') ?? undefined,
    });
    if (s.length === 3 && method === 'GET') {
      const ids = fleet.listUpdates(c, scopeOf());
      const { page, nextToken } = paginate(
        ids,
        { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
        100,
        50,
      );
      return ok({ updateIds: page, ...(nextToken ? { nextToken } : {}) });
    }
    if (s.length === 4 && method === 'GET')
      return ok({ update: renderUpdate(fleet.findUpdate(c, s[3] as string, scopeOf())) });
    if (s.length === 5 && s[4] === 'cancel-update' && method === 'POST') {
      return ok({ update: renderUpdate(fleet.cancelUpdate(c, s[3] as string, token)) });
    }
  }

  if (sub === 'fargate-profiles' && method === 'GET') {
    if (s.length === 3) {
      const { page, nextToken } = paginate(
        c.fargateProfiles.map((f) => f.name),
        { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
        100,
        100,
      );
      return ok({ fargateProfileNames: page, ...(nextToken ? { nextToken } : {}) });
    }
    if (s.length === 4) {
      const f = c.fargateProfiles.find((p) => p.name === s[3]);
      if (!f) {
        throw new EksError('ResourceNotFoundException', 404, `No Fargate Profile found with name: ${s[3] as string}.`, {
          clusterName: c.name,
          fargateProfileName: s[3] as string,
        });
      }
      return ok({ fargateProfile: renderFargateProfile(c, f) });
    }
  }

  if (sub === 'node-groups') {
    if (s.length === 3 && method === 'GET') {
      const names = c.nodegroups.map((ng) => ng.name);
      const { page, nextToken } = paginate(
        names,
        { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
        100,
        100,
      );
      return ok({ nodegroups: page, ...(nextToken ? { nextToken } : {}) });
    }
    const ng = fleet.nodegroup(c, s[3] as string);
    if (s.length === 4 && method === 'GET') return ok({ nodegroup: renderNodegroup(c, ng) });
    if (s.length === 5 && s[4] === 'update-version' && method === 'POST') {
      const lt = objectBody(body.launchTemplate);
      const u = fleet.updateNodegroupVersion(c, ng, {
        version: str(body.version),
        releaseVersion: str(body.releaseVersion),
        ...(body.launchTemplate !== undefined
          ? { launchTemplate: { name: str(lt.name), id: str(lt.id), version: str(lt.version) } }
          : {}),
        force: body.force === true,
        clientRequestToken: token,
      });
      return ok({ update: renderUpdate(u) });
    }
    if (s.length === 5 && s[4] === 'update-config' && method === 'POST') {
      const u = fleet.updateNodegroupConfig(c, ng, {
        ...(body.updateConfig !== undefined ? { updateConfig: objectBody(body.updateConfig) } : {}),
        ...(body.scalingConfig !== undefined ? { scalingConfig: objectBody(body.scalingConfig) } : {}),
        ...(body.labels !== undefined ? { labels: objectBody(body.labels) } : {}),
        ...(body.taints !== undefined ? { taints: objectBody(body.taints) } : {}),
        clientRequestToken: token,
      } as Parameters<SimFleet['updateNodegroupConfig']>[2]);
      return ok({ update: renderUpdate(u) });
    }
  }

  if (sub === 'addons') {
    if (s.length === 3 && method === 'GET') {
      const names = c.addons.map((a) => a.name);
      const { page, nextToken } = paginate(
        names,
        { maxResults: query.get('maxResults'), nextToken: query.get('nextToken') },
        100,
        100,
      );
      return ok({ addons: page, ...(nextToken ? { nextToken } : {}) });
    }
    const a = fleet.addon(c, s[3] as string);
    if (s.length === 4 && method === 'GET') return ok({ addon: renderAddon(c, a) });
    if (s.length === 5 && s[4] === 'update' && method === 'POST') {
      const u = fleet.updateAddon(c, a, {
        addonVersion: str(body.addonVersion),
        resolveConflicts: str(body.resolveConflicts),
        configurationValues: str(body.configurationValues),
        clientRequestToken: token,
      });
      return ok({ update: renderUpdate(u) });
    }
  }

  if (sub === 'access-entries' && method === 'GET') {
    const answer = accessEntries(c, s.slice(3), query, req.principal);
    if (answer) return ok(answer);
  }

  if (sub === 'insights') {
    const all = insightsFor(c, fleet.now(), fleet.addonCatalogue);
    if (s.length === 3 && method === 'POST') {
      const filter = objectBody(body.filter);
      const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
      const categories = list(filter.categories);
      const versions = list(filter.kubernetesVersions);
      const statuses = list(filter.statuses);
      const matching = all.filter(
        (i) =>
          (categories.length === 0 || categories.includes(i.category)) &&
          (versions.length === 0 || versions.some((v) => compareMinor(v, i.kubernetesVersion) === 0)) &&
          (statuses.length === 0 || statuses.includes(i.status)),
      );
      const { page, nextToken } = paginate(
        matching,
        { maxResults: body.maxResults, nextToken: body.nextToken },
        100,
        100,
      );
      return ok({ insights: page.map(insightSummary), ...(nextToken ? { nextToken } : {}) });
    }
    if (s.length === 4 && method === 'GET') {
      const found = all.find((i) => i.id === s[3]);
      if (!found)
        throw new EksError('ResourceNotFoundException', 404, `No insight found for ID: ${s[3]}`, {
          clusterName: c.name,
        });
      return ok({ insight: insightDetail(found) });
    }
  }

  throw new EksError('UnknownOperationException', 404, `No EKS operation for ${method} /${s.join('/')}`);
}
