/**
 * Production wiring: real AWS and Kubernetes clients with the AWS default credential chain,
 * a role assumed per cluster (`ClusterRef.roleArn`, one session per role and region),
 * clients cached per region and role, and endpoint overrides for the simulator.
 *
 * Credentials never leave this module except inside SDK clients and the in-memory
 * KubeConfig of one activity call.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { ActivityLogger } from './context';
import type { ActivityDeps, AwsTarget, ClusterAccess, PollingOptions } from './deps';
import { createEksToken } from './eks-token';
import type { ClusterRef } from './types';

/** A pino-style logger (`info(obj, msg)`), as the worker process has. */
export interface PinoLikeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: object): unknown;
}

export interface DefaultDepsConfig {
  /** Region for STS when assuming roles without a cluster region. Default: AWS_REGION, else us-east-1. */
  region?: string;
  /**
   * Endpoint for every AWS service fleetwave calls (EKS, SSM, EC2, STS, CloudWatch): the simulator's URL.
   * Default: the real AWS endpoints (and the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables).
   */
  endpoint?: string;
  /** Alias of `endpoint`. */
  awsEndpoint?: string;
  /** EKS endpoint only. Default: `endpoint`, else AWS_ENDPOINT_URL_EKS. */
  eksEndpoint?: string;
  /** Base credentials. Default: the AWS default credential chain (env, SSO, profile, web identity, IMDS...). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** RoleSessionName for assumed roles. Default: "fleetwave". */
  roleSessionName?: string;
  /** SDK attempts per call (throttling and 5xx are retried by the SDK first). Default: 3. */
  maxAttempts?: number;
  prometheusUrl?: string;
  fetch?: typeof fetch;
  /** For use outside an activity context; Temporal-style (`info(msg, meta)`) or pino-style. */
  logger?: ActivityLogger | PinoLikeLogger;
  /** Spacing of the waits' looks (domain/waits.ts); `timeScale` when the fleet is an accelerated simulator. */
  waits?: ActivityDeps['waits'];
  polling?: Partial<PollingOptions>;
  gateQueryTimeoutMs?: number;
  /** Prometheus queries in flight at once (FLEETWAVE_PROMETHEUS_MAX_CONCURRENT). */
  prometheusMaxConcurrent?: number;
  describeConcurrency?: number;
  /** The fleet approval policy file (FLEETWAVE_APPROVAL_POLICY). Default: none. */
  approvalPolicyFile?: string;
}

/** Refresh cached credentials this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;

function memoizeCredentials(
  provider: AwsCredentialIdentity | AwsCredentialIdentityProvider,
): AwsCredentialIdentityProvider {
  if (typeof provider !== 'function') return async () => provider;
  let cached: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    const current = cached;
    if (current) {
      try {
        const creds = await current;
        if (!creds.expiration || creds.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS) return creds;
      } catch {
        // A failed fetch is not cached: fall through and ask again.
      }
    }
    const next = provider();
    cached = next;
    next.catch(() => {
      if (cached === next) cached = undefined;
    });
    return next;
  };
}

function isPino(logger: ActivityLogger | PinoLikeLogger): logger is PinoLikeLogger {
  return typeof (logger as PinoLikeLogger).child === 'function' && 'levels' in (logger as object);
}

/** Adapts a pino-style logger to `(message, meta)`. */
export function toActivityLogger(logger: ActivityLogger | PinoLikeLogger | undefined): ActivityLogger | undefined {
  if (!logger || !isPino(logger)) return logger as ActivityLogger | undefined;
  return {
    debug: (msg, meta) => logger.debug(meta ?? {}, msg),
    info: (msg, meta) => logger.info(meta ?? {}, msg),
    warn: (msg, meta) => logger.warn(meta ?? {}, msg),
    error: (msg, meta) => logger.error(meta ?? {}, msg),
  };
}

/**
 * A KubeConfig in memory for one cluster, with a bearer token. TLS is always verified against the
 * cluster CA from DescribeCluster. A plain-HTTP endpoint would carry the token in clear text: it is
 * refused (non-retryable) unless `allowPlainHttp` is set, which only tests with a bare HTTP server do.
 */
export function kubeConfigFor(
  cluster: ClusterRef,
  access: ClusterAccess,
  token: string,
  options: { allowPlainHttp?: boolean } = {},
): KubeConfig {
  const plainHttp = access.endpoint.startsWith('http://');
  if (plainHttp && !options.allowPlainHttp) {
    throw ApplicationFailure.create({
      message: `the Kubernetes endpoint of ${cluster.name} is not HTTPS (${access.endpoint}): an EKS token is never sent in clear text`,
      type: 'KubernetesInsecureEndpoint',
      nonRetryable: true,
    });
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: cluster.name,
        server: access.endpoint,
        ...(access.certificateAuthority ? { caData: access.certificateAuthority } : {}),
        // No TLS to verify on a plain-HTTP endpoint (tests only, see above); HTTPS always verifies.
        skipTLSVerify: plainHttp,
      },
    ],
    users: [{ name: 'fleetwave', token }],
    contexts: [{ name: 'fleetwave', cluster: cluster.name, user: 'fleetwave' }],
    currentContext: 'fleetwave',
  });
  return kc;
}

/** Real clients for {@link ActivityDeps}; see {@link DefaultDepsConfig}. */
export function createDefaultDeps(config: DefaultDepsConfig = {}): ActivityDeps {
  const endpoint = config.endpoint ?? config.awsEndpoint;
  const eksEndpoint = config.eksEndpoint ?? endpoint ?? process.env.AWS_ENDPOINT_URL_EKS;
  const defaultRegion = config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const maxAttempts = config.maxAttempts ?? 3;
  const base = memoizeCredentials(config.credentials ?? fromNodeProviderChain());
  const credentialCache = new Map<string, AwsCredentialIdentityProvider>();
  const credentialsFor = (target: AwsTarget): AwsCredentialIdentityProvider => {
    if (!target.roleArn) return base;
    const region = target.region || defaultRegion;
    const key = `${target.roleArn}|${region}`;
    let provider = credentialCache.get(key);
    if (!provider) {
      provider = memoizeCredentials(
        fromTemporaryCredentials({
          params: { RoleArn: target.roleArn, RoleSessionName: config.roleSessionName ?? 'fleetwave' },
          masterCredentials: base,
          clientConfig: { region, maxAttempts, ...(endpoint ? { endpoint } : {}) },
        }),
      );
      credentialCache.set(key, provider);
    }
    return provider;
  };

  /**
   * One client per region and role for a service, made on first use: a client holds its
   * connections, credentials and endpoint resolution, so every activity call reuses them.
   */
  const cachedClient = <C>(
    make: (config: {
      region: string;
      credentials: AwsCredentialIdentityProvider;
      maxAttempts: number;
      endpoint?: string;
    }) => C,
    serviceEndpoint: string | undefined = endpoint,
  ): ((target: AwsTarget) => C) => {
    const cache = new Map<string, C>();
    return (target) => {
      const key = `${target.region}|${target.roleArn ?? ''}`;
      let client = cache.get(key);
      if (!client) {
        client = make({
          region: target.region || defaultRegion,
          credentials: credentialsFor(target),
          maxAttempts,
          ...(serviceEndpoint ? { endpoint: serviceEndpoint } : {}),
        });
        cache.set(key, client);
      }
      return client;
    };
  };

  return {
    eks: cachedClient((c) => new EKSClient(c), eksEndpoint),
    ssm: cachedClient((c) => new SSMClient(c)),
    ec2: cachedClient((c) => new EC2Client(c)),
    autoScaling: cachedClient((c) => new AutoScalingClient(c)),
    cloudWatch: cachedClient((c) => new CloudWatchClient(c)),
    sts: cachedClient((c) => new STSClient(c)),
    kube: async (cluster, access) => {
      const credentials = await credentialsFor(cluster)();
      const { token } = await createEksToken({
        clusterName: cluster.name,
        region: cluster.region || defaultRegion,
        credentials,
      });
      return kubeConfigFor(cluster, access, token);
    },
    ...(config.prometheusUrl ? { prometheusUrl: config.prometheusUrl } : {}),
    ...(config.fetch ? { fetch: config.fetch } : {}),
    ...(config.logger ? { logger: toActivityLogger(config.logger) } : {}),
    ...(config.polling ? { polling: config.polling } : {}),
    ...(config.waits ? { waits: config.waits } : {}),
    ...(config.gateQueryTimeoutMs !== undefined ? { gateQueryTimeoutMs: config.gateQueryTimeoutMs } : {}),
    ...(config.describeConcurrency !== undefined ? { describeConcurrency: config.describeConcurrency } : {}),
    ...(config.prometheusMaxConcurrent !== undefined
      ? { prometheusMaxConcurrent: config.prometheusMaxConcurrent }
      : {}),
    ...(config.approvalPolicyFile !== undefined ? { approvalPolicyFile: config.approvalPolicyFile } : {}),
  };
}
