/**
 * The two other AWS APIs fleetwave calls, on the simulator's port:
 * - SSM GetParameter / GetParameters / GetParametersByPath (awsJson1_1, `x-amz-target: AmazonSSM.*`)
 *   for the public EKS optimized AMI parameters, which is how "latest release for a minor" is
 *   resolved and how the AWS CLI lists AMI releases;
 * - STS AssumeRole and GetCallerIdentity (awsQuery, form body, XML answers), so that per-account
 *   `roleArn` works against the simulator through `AWS_ENDPOINT_URL_STS` / an endpoint override.
 *
 * Credentials that AssumeRole issues encode the role's account in their access key ID
 * (`ASIASIM<account><8 hex>`), which the EKS API uses to show only that account's clusters.
 */
import { amiTypeInfo, type AmiType } from '../domain/node-models';
import { ALL_MINORS, OPTIMIZED_AMI_TYPES, amiImageIdOf, amiNameOf, releasesOf } from './ami-catalogue';
import { hexOf, uuidOf } from './random';

export interface AwsResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const JSON_11 = 'application/x-amz-json-1.1';

function ssmError(code: string, message: string, status = 400): AwsResponse {
  return {
    status,
    body: JSON.stringify({ __type: code, message }),
    headers: { 'content-type': JSON_11, 'x-amzn-errortype': code },
  };
}

const AMI_ROOT = '/aws/service/eks/optimized-ami';

/** What a published parameter names: one leaf of one AMI release, or the `recommended` JSON. */
interface ParameterSpec {
  amiType: Exclude<AmiType, 'CUSTOM'>;
  minor: string;
  release: string;
  leaf: 'image_id' | 'release_version' | 'image_name' | 'image_version' | 'recommended';
}

/** The parameter directory of an Amazon Linux AMI type: `.../<minor>/amazon-linux-2023/arm64/nvidia`, `.../amazon-linux-2-gpu`. */
function amazonLinuxDir(amiType: AmiType, minor: string): string {
  const { family, arch = 'x86_64' } = amiTypeInfo(amiType);
  if (family === 'al2023') {
    const variant = amiType.endsWith('_NVIDIA') ? 'nvidia' : amiType.endsWith('_NEURON') ? 'neuron' : 'standard';
    return `${AMI_ROOT}/${minor}/amazon-linux-2023/${arch}/${variant}`;
  }
  const suffix = amiType === 'AL2_ARM_64' ? '-arm64' : amiType === 'AL2_x86_64_GPU' ? '-gpu' : '';
  return `${AMI_ROOT}/${minor}/amazon-linux-2${suffix}`;
}

/**
 * Every public AMI parameter the simulator publishes, by name, as each family documents them:
 * - Amazon Linux: `<dir>/recommended/{image_id,image_name,release_version}`, `<dir>/recommended`
 *   (a JSON value) and each release's own `<dir>/<AMI name>/{image_id,release_version}`
 *   (userguide/retrieve-ami-id.html; Systems Manager user guide, "Calling the EKS optimized AMI public parameter");
 * - Bottlerocket: `/aws/service/bottlerocket/aws-k8s-<minor>[-nvidia|-fips]/<x86_64|arm64>/latest/{image_id,image_version}`
 *   (userguide/retrieve-ami-id-bottlerocket.html);
 * - Windows: `/aws/service/ami-windows-latest/Windows_Server-<2019|2022|2025>-English-<Core|Full>-EKS_Optimized-<minor>/image_id`
 *   (userguide/retrieve-windows-ami-id.html).
 */
function publishedParameters(): Map<string, ParameterSpec> {
  const out = new Map<string, ParameterSpec>();
  for (const amiType of OPTIMIZED_AMI_TYPES) {
    const { family, arch = 'x86_64' } = amiTypeInfo(amiType);
    for (const minor of ALL_MINORS) {
      const releases = releasesOf(amiType, minor);
      const latest = releases[releases.length - 1];
      if (latest === undefined) continue;
      const spec = (release: string, leaf: ParameterSpec['leaf']): ParameterSpec => ({ amiType, minor, release, leaf });
      if (family === 'al2' || family === 'al2023') {
        const dir = amazonLinuxDir(amiType, minor);
        out.set(`${dir}/recommended`, spec(latest, 'recommended'));
        for (const leaf of ['image_id', 'image_name', 'release_version'] as const) {
          out.set(`${dir}/recommended/${leaf}`, spec(latest, leaf));
        }
        for (const release of releases) {
          const own = `${dir}/${amiNameOf(amiType, minor, release)}`;
          out.set(`${own}/image_id`, spec(release, 'image_id'));
          out.set(`${own}/release_version`, spec(release, 'release_version'));
        }
      } else if (family === 'bottlerocket') {
        const flavour = amiType.endsWith('_NVIDIA') ? '-nvidia' : amiType.endsWith('_FIPS') ? '-fips' : '';
        const dir = `/aws/service/bottlerocket/aws-k8s-${minor}${flavour}/${arch}/latest`;
        out.set(`${dir}/image_id`, spec(latest, 'image_id'));
        out.set(`${dir}/image_version`, spec(latest, 'image_version'));
      } else {
        const [, edition = 'CORE', year = '2022'] = /^WINDOWS_(CORE|FULL)_(\d{4})_/.exec(amiType) ?? [];
        const name = `Windows_Server-${year}-English-${edition === 'CORE' ? 'Core' : 'Full'}-EKS_Optimized-${minor}`;
        out.set(`/aws/service/ami-windows-latest/${name}/image_id`, spec(latest, 'image_id'));
      }
    }
  }
  return out;
}

let publishedCache: Map<string, ParameterSpec> | undefined;
let publishedNamesCache: string[] | undefined;

function published(): Map<string, ParameterSpec> {
  publishedCache ??= publishedParameters();
  return publishedCache;
}

/** The value of a public AMI parameter in a region, if the simulator publishes it. */
export function amiParameter(name: string, region: string): string | undefined {
  const spec = published().get(name);
  if (!spec) return undefined;
  const imageId = amiImageIdOf(spec.amiType, spec.minor, spec.release, region);
  switch (spec.leaf) {
    case 'image_id':
      return imageId;
    case 'image_name':
      return amiNameOf(spec.amiType, spec.minor, spec.release);
    case 'recommended':
      return JSON.stringify({
        schema_version: '3',
        image_id: imageId,
        image_name: amiNameOf(spec.amiType, spec.minor, spec.release),
        release_version: spec.release,
      });
    default:
      return spec.release;
  }
}

function parameter(name: string, region: string) {
  const value = amiParameter(name, region);
  if (value === undefined) return undefined;
  return {
    Name: name,
    Type: 'String',
    Value: value,
    Version: 1,
    LastModifiedDate: Date.UTC(2025, 2, 4) / 1000,
    ARN: `arn:aws:ssm:${region}::parameter${name}`,
    DataType: name.endsWith('image_id') ? 'aws:ec2:image' : 'text',
  };
}

/**
 * GetParametersByPath over the public EKS AMI parameters, as the Systems Manager API reference
 * (docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html) describes it: the parameters one level under `Path` (every level with `Recursive`), sorted by
 * name, at most `MaxResults` (1–10, default 10) per page with a `NextToken`. `ParameterFilters`
 * supports `Type` (all of these are `String`); `Label` and `KeyId` match nothing here.
 */
function getParametersByPath(input: Record<string, unknown>, region: string): AwsResponse {
  const rawPath = typeof input.Path === 'string' ? input.Path.trim() : '';
  if (!rawPath.startsWith('/')) return ssmError('ValidationException', 'Path must start with a forward slash (/).');
  const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
  const prefix = path === '/' ? '/' : `${path}/`;
  const max = input.MaxResults ?? 10;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10) {
    return ssmError(
      'ValidationException',
      `1 validation error detected: Value '${String(max)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`,
    );
  }
  const filters = Array.isArray(input.ParameterFilters) ? (input.ParameterFilters as Record<string, unknown>[]) : [];
  let typeOk = true;
  for (const f of filters) {
    if (f.Key === 'Type') {
      const values = Array.isArray(f.Values) ? f.Values : [];
      typeOk &&= values.includes('String');
    } else if (f.Key === 'Label' || f.Key === 'KeyId') typeOk = false;
    else
      return ssmError(
        'InvalidFilterKey',
        `The following filter key is not valid for GetParametersByPath: ${String(f.Key)}`,
      );
  }
  publishedNamesCache ??= [...published().keys()].sort();
  const matching = typeOk
    ? publishedNamesCache.filter(
        (n) => n.startsWith(prefix) && (input.Recursive === true || !n.slice(prefix.length).includes('/')),
      )
    : [];
  let offset = 0;
  if (typeof input.NextToken === 'string' && input.NextToken !== '') {
    const m = /^p:(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
    if (!m) return ssmError('InvalidNextToken', 'The specified token is not valid.');
    offset = Number(m[1]);
  }
  const page = matching.slice(offset, offset + max);
  const end = offset + page.length;
  const parameters = page.map((n) => parameter(n, region)).filter((p) => p !== undefined);
  return {
    status: 200,
    body: JSON.stringify({
      Parameters: parameters,
      ...(end < matching.length ? { NextToken: Buffer.from(`p:${end}`).toString('base64url') } : {}),
    }),
    headers: { 'content-type': JSON_11 },
  };
}

/** Answers an awsJson1_1 SSM call (`x-amz-target: AmazonSSM.<Operation>`). */
export function handleSsm(target: string, body: unknown, region: string): AwsResponse {
  const input = (body ?? {}) as Record<string, unknown>;
  const operation = target.slice('AmazonSSM.'.length);
  if (operation === 'GetParameter') {
    const name = typeof input.Name === 'string' ? input.Name : '';
    const p = parameter(name, region);
    if (!p) return ssmError('ParameterNotFound', `Parameter ${name} not found.`);
    return { status: 200, body: JSON.stringify({ Parameter: p }), headers: { 'content-type': JSON_11 } };
  }
  if (operation === 'GetParameters') {
    const names = Array.isArray(input.Names) ? input.Names.filter((n): n is string => typeof n === 'string') : [];
    const found = names.map((n) => parameter(n, region)).filter((p) => p !== undefined);
    const invalid = names.filter((n) => parameter(n, region) === undefined);
    return {
      status: 200,
      body: JSON.stringify({ Parameters: found, InvalidParameters: invalid }),
      headers: { 'content-type': JSON_11 },
    };
  }
  if (operation === 'GetParametersByPath') return getParametersByPath(input, region);
  return ssmError('UnknownOperationException', `The simulator does not implement AmazonSSM.${operation}.`);
}

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

const xmlEscape = (v: string) =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function stsError(code: string, message: string, status = 400): AwsResponse {
  const requestId = uuidOf('sts-error', code, message, Date.now());
  return {
    status,
    body: `<ErrorResponse xmlns="${STS_NS}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>${xmlEscape(code)}</Code>\n    <Message>${xmlEscape(message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
  };
}

/** Account that owns the simulator's base credentials (anything that AssumeRole did not issue). */
export const BASE_ACCOUNT = '000000000000';

/** The account encoded in credentials that the simulated AssumeRole issued, if these are such. */
export function accountOfAccessKey(accessKeyId: string): string | undefined {
  return /^ASIASIM(\d{12})[0-9A-F]{8}$/.exec(accessKeyId)?.[1];
}

interface Identity {
  arn: string;
  userId: string;
  account: string;
}

/** STS state: who each issued access key is (bounded; old sessions are forgotten). */
export class SimSts {
  private readonly sessions = new Map<string, Identity>();

  /** `deniesAssumeRole`: accounts whose roles nobody may assume (organizations.ts). */
  constructor(private readonly deniesAssumeRole: (account: string) => boolean = () => false) {}

  handle(form: URLSearchParams, accessKeyId: string | undefined): AwsResponse {
    const action = form.get('Action');
    const requestId = uuidOf('sts', action ?? '', Date.now(), Math.random());
    if (action === 'AssumeRole') {
      const roleArn = form.get('RoleArn') ?? '';
      const session = form.get('RoleSessionName') ?? '';
      const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
      if (!m) return stsError('ValidationError', `${roleArn} is invalid`);
      if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
        return stsError(
          'ValidationError',
          `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint`,
        );
      }
      const duration = Number(form.get('DurationSeconds') ?? '3600');
      if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
        return stsError(
          'ValidationError',
          `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`,
        );
      }
      const [, account, roleName] = m as unknown as [string, string, string];
      // A role whose trust policy does not name the caller: STS answers 403 AccessDenied
      // (IAM user guide, troubleshoot_roles.html, "I can't assume a role").
      if (this.deniesAssumeRole(account)) {
        return stsError(
          'AccessDenied',
          `User: ${this.identityOf(accessKeyId).arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
          403,
        );
      }
      const keyId = `ASIASIM${account}${hexOf(8, roleArn, session).toUpperCase()}`;
      const roleId = `AROA${hexOf(17, roleArn).toUpperCase()}`;
      const assumedArn = `arn:aws:sts::${account}:assumed-role/${roleName}/${session}`;
      this.remember(keyId, { arn: assumedArn, userId: `${roleId}:${session}`, account });
      // Credentials expire in real time: the SDK refreshes them against the wall clock.
      const expiration = new Date(Date.now() + duration * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const body = `<AssumeRoleResponse xmlns="${STS_NS}">
  <AssumeRoleResult>
    <SourceIdentity></SourceIdentity>
    <AssumedRoleUser>
      <AssumedRoleId>${xmlEscape(`${roleId}:${session}`)}</AssumedRoleId>
      <Arn>${xmlEscape(assumedArn)}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${keyId}</AccessKeyId>
      <SecretAccessKey>${hexOf(40, 'secret', roleArn, session)}</SecretAccessKey>
      <SessionToken>${Buffer.from(`fleetwave-simulator:${assumedArn}`).toString('base64')}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>0</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`;
      return { status: 200, body, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId } };
    }
    if (action === 'GetCallerIdentity') {
      const id = this.identityOf(accessKeyId);
      const body = `<GetCallerIdentityResponse xmlns="${STS_NS}">
  <GetCallerIdentityResult>
    <Arn>${xmlEscape(id.arn)}</Arn>
    <UserId>${xmlEscape(id.userId)}</UserId>
    <Account>${id.account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`;
      return { status: 200, body, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId } };
    }
    return stsError(
      'InvalidAction',
      `Could not find operation ${action ?? '(none)'} for version ${form.get('Version') ?? ''}`,
    );
  }

  /** Who signed with `accessKeyId`: an assumed-role session it issued, else the base user. */
  identityOf(accessKeyId: string | undefined): Identity {
    return (
      (accessKeyId && this.sessions.get(accessKeyId)) || {
        arn: `arn:aws:iam::${BASE_ACCOUNT}:user/simulator`,
        userId: accessKeyId || 'AIDASIMULATOR',
        account: BASE_ACCOUNT,
      }
    );
  }

  private remember(keyId: string, id: Identity): void {
    this.sessions.delete(keyId);
    this.sessions.set(keyId, id);
    if (this.sessions.size > 10_000) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }
}
