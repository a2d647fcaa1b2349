/**
 * Error classification: every error that leaves an activity is an `ApplicationFailure`
 * whose type the workflows can branch on and whose `nonRetryable` flag tells Temporal
 * whether another attempt can help.
 *
 * - Throttling, 5xx, network and timeouts: retryable, typed with the AWS error name (or
 *   `NetworkError`), so Temporal's retry policy backs off and tries again.
 * - InvalidParameterException / InvalidRequestException / ClientException: non-retryable
 *   `EksInvalidRequest`; ResourceNotFoundException: non-retryable `EksResourceNotFound`.
 * - Access denied and unknown credentials: non-retryable `AwsAccessDenied`; another
 *   attempt with the same identity gets the same answer.
 * - Any other 4xx: non-retryable, typed with the AWS error name.
 *
 * Messages carry the AWS error name and message, never request headers or credentials.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from './types';

/** Failure types raised here that are not part of the shared contract's FailureTypes. */
export const ExtraFailureTypes = {
  AccessDenied: 'AwsAccessDenied',
  KubernetesUnauthorized: 'KubernetesUnauthorized',
  KubernetesUntrustedCertificate: 'KubernetesUntrustedCertificate',
  NetworkError: 'NetworkError',
} as const;

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'EC2ThrottledException',
]);

const TRANSIENT = new Set([
  'ServerException',
  'ServiceUnavailableException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
  'IDPCommunicationError',
]);

const INVALID = new Set([
  'InvalidParameterException',
  'InvalidRequestException',
  'ClientException',
  'UnsupportedAvailabilityZoneException',
]);

const ACCESS_DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'NotAuthorizedException',
  'CredentialsProviderError',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

interface AwsLikeError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  cause?: unknown;
}

/** What kind of failure an error is, independent of Temporal. */
export type ErrorClass =
  'throttling' | 'transient' | 'network' | 'invalid' | 'not-found' | 'in-use' | 'access-denied' | 'client' | 'unknown';

/** Name of an AWS SDK error (`ResourceInUseException`) or undefined. */
export function awsErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const name = (err as AwsLikeError).name;
  return typeof name === 'string' && name !== 'Error' ? name : undefined;
}

function networkCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const e = err as AwsLikeError;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  return networkCode(e.cause, depth + 1);
}

/** Classifies an AWS SDK (or network) error. */
export function classifyError(err: unknown): ErrorClass {
  if (typeof err !== 'object' || err === null) return 'unknown';
  const e = err as AwsLikeError;
  const name = awsErrorName(err) ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || e.$retryable?.throttling || status === 429) return 'throttling';
  if (name === 'ResourceNotFoundException') return 'not-found';
  if (name === 'ResourceInUseException') return 'in-use';
  if (INVALID.has(name)) return 'invalid';
  if (ACCESS_DENIED.has(name)) return 'access-denied';
  if (networkCode(err)) return 'network';
  if (TRANSIENT.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500)) return 'transient';
  if (e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500)) return 'client';
  if (err instanceof TypeError && /fetch failed|network/i.test(e.message ?? '')) return 'network';
  return 'unknown';
}

/** True for errors another attempt may get past (throttling, 5xx, network, in-use). */
export function isRetryableError(err: unknown): boolean {
  const c = classifyError(err);
  return c === 'throttling' || c === 'transient' || c === 'network' || c === 'in-use' || c === 'unknown';
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const name = awsErrorName(err);
    const code = networkCode(err);
    return [name, code, err.message].filter(Boolean).join(': ');
  }
  return String(err);
}

/**
 * Turns any error from an AWS call into an `ApplicationFailure` with a type the workflows
 * can branch on. `what` says what was being done ("DescribeCluster prod-1").
 * An `ApplicationFailure` passes through unchanged.
 */
export function toActivityFailure(err: unknown, what: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = `${what}: ${describe(err)}`;
  const name = awsErrorName(err);
  switch (classifyError(err)) {
    case 'invalid':
      return ApplicationFailure.create({
        message,
        type: FailureTypes.InvalidRequest,
        nonRetryable: true,
        details: [{ awsError: name }],
      });
    case 'not-found':
      return ApplicationFailure.create({
        message,
        type: FailureTypes.NotFound,
        nonRetryable: true,
        details: [{ awsError: name }],
      });
    case 'access-denied':
      return ApplicationFailure.create({
        message,
        type: ExtraFailureTypes.AccessDenied,
        nonRetryable: true,
        details: [{ awsError: name }],
      });
    case 'client':
      return ApplicationFailure.create({ message, type: name ?? 'ClientError', nonRetryable: true });
    case 'network':
      return ApplicationFailure.create({ message, type: ExtraFailureTypes.NetworkError, nonRetryable: false });
    case 'throttling':
    case 'transient':
    case 'in-use':
      return ApplicationFailure.create({ message, type: name ?? 'TransientError', nonRetryable: false });
    default:
      return ApplicationFailure.create({ message, type: name ?? 'UnknownError', nonRetryable: false });
  }
}

/** Runs an AWS call and converts its errors with {@link toActivityFailure}. */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toActivityFailure(err, what);
  }
}

/**
 * A non-retryable failure with `context` merged into its first details entry (its type, message
 * and cause kept): which resource of a multi-resource step failed and what the step changed.
 * Any other error comes back as it is (a retry will run the step again).
 */
export function withFailureContext(err: unknown, context: Record<string, unknown>): unknown {
  if (!(err instanceof ApplicationFailure) || !err.nonRetryable) return err;
  const own = err.details?.[0];
  return ApplicationFailure.create({
    type: err.type ?? undefined,
    message: err.message,
    nonRetryable: true,
    details: [{ ...(typeof own === 'object' && own !== null ? own : {}), ...context }],
    ...(err.cause ? { cause: err.cause } : {}),
  });
}

/** A non-retryable failure of one of the contract's types. */
export function nonRetryable(type: string, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}

/** Converts an error from @kubernetes/client-node (ApiException or network) into an ApplicationFailure. */
export function toKubernetesFailure(err: unknown, what: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'number') {
    const message = `${what}: Kubernetes API answered HTTP ${code}`;
    if (code === 401 || code === 403) {
      return ApplicationFailure.create({ message, type: ExtraFailureTypes.KubernetesUnauthorized, nonRetryable: true });
    }
    if (code === 404) return ApplicationFailure.create({ message, type: 'KubernetesNotFound', nonRetryable: true });
    return ApplicationFailure.create({
      message,
      type: 'KubernetesApiError',
      nonRetryable: code >= 400 && code < 500 && code !== 429 && code !== 408,
    });
  }
  const message = `${what}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  if (typeof code === 'string' && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    // The API server's certificate does not verify against the CA DescribeCluster gave. Retrying
    // with the same CA changes nothing, and a certificate that no longer matches the cluster's CA
    // may be an interception: a person has to look. (A session reused with a CA that was current
    // minutes ago is retried once with a fresh DescribeCluster before this surfaces.)
    return ApplicationFailure.create({
      message: `${message} (the certificate of the API server is not signed by the cluster's CA from DescribeCluster)`,
      type: ExtraFailureTypes.KubernetesUntrustedCertificate,
      nonRetryable: true,
    });
  }
  return ApplicationFailure.create({ message, type: ExtraFailureTypes.NetworkError, nonRetryable: false });
}

/** Node's TLS verification failures (OpenSSL's X509_V_ERR names), as `err.code`. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
