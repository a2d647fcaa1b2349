/**
 * EKS bearer tokens made in-process, the way `aws eks get-token` and aws-iam-authenticator
 * make them: `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity URL
 * whose signed headers include `x-k8s-aws-id: <cluster>`. No aws CLI, no exec plugin.
 *
 * The token is a credential: it lives only in memory, inside the KubeConfig of one activity
 * call, and never appears in an activity input, result or log line.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header aws-iam-authenticator requires among the signed headers. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** What `aws eks get-token` uses; STS accepts the URL for 15 minutes after its X-Amz-Date anyway. */
const EXPIRES_IN_SECONDS = 60;

export interface EksTokenInput {
  clusterName: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Signing time (tests); default now. */
  signingDate?: Date;
}

export interface EksToken {
  token: string;
  /** When the API server stops accepting it (X-Amz-Date + 15 min, less a minute of margin). */
  expiresAt: Date;
}

/** The STS host for a region, in its partition. */
export function stsHostname(region: string): string {
  if (region.startsWith('cn-')) return `sts.${region}.amazonaws.com.cn`;
  return `sts.${region}.amazonaws.com`;
}

/** Creates an EKS bearer token for `clusterName` with the given credentials. */
export async function createEksToken(input: EksTokenInput): Promise<EksToken> {
  const hostname = stsHostname(input.region);
  const signer = new SignatureV4({
    service: 'sts',
    region: input.region,
    credentials: input.credentials,
    sha256: Sha256,
    applyChecksum: false,
  });
  const signingDate = input.signingDate ?? new Date();
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, [CLUSTER_ID_HEADER]: input.clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: EXPIRES_IN_SECONDS, signingDate });
  const query = Object.entries(signed.query ?? {})
    .flatMap(([key, value]) => (Array.isArray(value) ? value.map((v) => [key, v] as const) : [[key, value] as const]))
    .filter((entry): entry is readonly [string, string] => typeof entry[1] === 'string')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  const token = EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
  return { token, expiresAt: new Date(signingDate.getTime() + 14 * 60_000) };
}
