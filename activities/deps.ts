/**
 * What the activities are built from. Production wiring is `createDefaultDeps` (aws.ts);
 * tests point the same real clients at the simulator.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_WAIT_SCHEDULE, type WaitSchedule } from '../domain/waits';
import type { ActivityLogger } from './context';
import type { ClusterRef } from './types';

/** The account/region a client talks to: a cluster, or just a region for catalogue calls. */
export type AwsTarget = Pick<ClusterRef, 'region' | 'roleArn'>;

/** How to reach a cluster's Kubernetes API, from DescribeCluster. Not secret. */
export interface ClusterAccess {
  endpoint: string;
  /** Base64 PEM of the cluster CA (`certificateAuthority.data`), which the API server's certificate must verify against. */
  certificateAuthority?: string;
}

/** How the waiting activities space their looks (domain/waits.ts), and whether they park between them. */
export interface WaitOptions extends WaitSchedule {
  /**
   * End the attempt between looks (activities/waiting.ts) instead of sleeping in it. Default true;
   * false keeps one attempt polling with {@link PollingOptions} (scripts that call the activity
   * functions outside a worker, and tests of the in-attempt loop).
   */
  park: boolean;
}

/** Backoff of the DescribeUpdate polls inside one attempt (when waits do not park). */
export interface PollingOptions {
  /** First delay between polls. Default 1 s. */
  initialMs: number;
  /** Largest delay between polls. Default 30 s. */
  maxMs: number;
  /** Growth per poll. Default 1.5. */
  factor: number;
  /** Retryable DescribeUpdate errors in a row tolerated inside one attempt before failing it. Default 5. */
  maxConsecutiveErrors: number;
}

export interface ActivityDeps {
  /** EKS client for a cluster's region and role (cache them: called on every activity). */
  eks: (target: AwsTarget) => EKSClient;
  /** SSM client for a region (AMI release lookup for nodegroupRelease "latest"). */
  ssm?: (target: AwsTarget) => SSMClient;
  /**
   * EC2 client for a region and role: Windows AMI names (release versions), custom AMIs by name
   * pattern, and the launch-template versions of node groups with a custom AMI.
   */
  ec2?: (target: AwsTarget) => EC2Client;
  /** EC2 Auto Scaling client for a region and role: self-managed node groups (activities/self-managed.ts). */
  autoScaling?: (target: AwsTarget) => AutoScalingClient;
  /** CloudWatch client for a region and role: cloudwatch health gates (activities/cloudwatch.ts). */
  cloudWatch?: (target: AwsTarget) => CloudWatchClient;
  /**
   * The worker's environment, where webhook gates find `urlFromEnv` (URLs with tokens stay out of
   * workflow histories). Default: `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** STS client for a cluster's region and role: who the worker is there (activities/access.ts). */
  sts?: (target: AwsTarget) => STSClient;
  /** A KubeConfig for the cluster with a fresh EKS token, built in memory. */
  kube: (cluster: ClusterRef, access: ClusterAccess) => Promise<KubeConfig>;
  /** Prometheus base URL for health gates (`http://prometheus:9090`). Without it every gate is an Error, never a pass. */
  prometheusUrl?: string;
  /** fetch for Prometheus and webhook gates (inject one that signs requests for Amazon Managed Prometheus, adds auth...). */
  fetch?: typeof fetch;
  /** Used outside an activity context only; inside, the worker's activity logger is used. */
  logger?: ActivityLogger;
  polling?: Partial<PollingOptions>;
  /** Spacing of the looks of every wait; `timeScale` for an accelerated simulator. Default {@link DEFAULT_WAIT_SCHEDULE}, parking. */
  waits?: Partial<WaitOptions>;
  /** Timeout of one Prometheus query. Default: min(gate interval, 30 s), at least 1 s. */
  gateQueryTimeoutMs?: number;
  /**
   * Prometheus queries this worker sends at once; the rest wait in the worker (their timeout
   * starts when they are sent). Default {@link DEFAULT_PROMETHEUS_MAX_CONCURRENT}.
   */
  prometheusMaxConcurrent?: number;
  /** Concurrent Describe calls (discovery, describing node groups/add-ons). Default 4. */
  describeConcurrency?: number;
  /** Clock (tests). Default `() => new Date()`. */
  now?: () => Date;
  /**
   * The clusters' clock, for what is written into them as a time (a NodePool hold's UTC schedule,
   * activities/automode.ts): an accelerated simulator's clock in tests. Default: `now`.
   */
  clusterClock?: () => Date;
  /**
   * The fleet approval policy file (FLEETWAVE_APPROVAL_POLICY; activities/approvals.ts): who may
   * approve and act, with which SSH keys. Default: none (name-only approvals, signatures refused).
   */
  approvalPolicyFile?: string;
}

/** ActivityDeps with every default filled in. */
export interface ResolvedDeps extends Omit<
  ActivityDeps,
  'polling' | 'waits' | 'now' | 'fetch' | 'describeConcurrency' | 'prometheusMaxConcurrent'
> {
  prometheusMaxConcurrent: number;
  polling: PollingOptions;
  waits: WaitOptions;
  now: () => Date;
  fetch: typeof fetch;
  describeConcurrency: number;
}

/**
 * Half of Prometheus's own default `--query.max-concurrency` (20): a worker leaves room for the
 * dashboards and rules that share the server.
 */
export const DEFAULT_PROMETHEUS_MAX_CONCURRENT = 10;

export const DEFAULT_POLLING: PollingOptions = {
  initialMs: 1_000,
  maxMs: 30_000,
  factor: 1.5,
  maxConsecutiveErrors: 5,
};

export function resolveDeps(deps: ActivityDeps): ResolvedDeps {
  return {
    ...deps,
    polling: { ...DEFAULT_POLLING, ...deps.polling },
    waits: { ...DEFAULT_WAIT_SCHEDULE, park: true, ...deps.waits },
    now: deps.now ?? (() => new Date()),
    fetch: deps.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args)),
    describeConcurrency: Math.max(1, deps.describeConcurrency ?? 4),
    prometheusMaxConcurrent: Math.max(1, Math.floor(deps.prometheusMaxConcurrent ?? DEFAULT_PROMETHEUS_MAX_CONCURRENT)),
  };
}

/** Maps over items with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
