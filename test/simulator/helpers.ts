/**
 * Test helpers for the simulator suites: a small fleet, real clients pointed at a simulator,
 * an EKS bearer token made the way aws-iam-authenticator expects, and polling.
 */
import { DescribeUpdateCommand, EKSClient, type Update } from '@aws-sdk/client-eks';
import { Sha256 } from '@aws-crypto/sha256-js';
import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'node:https';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ClusterInventory } from '../../domain/fleet';
import type { Simulator } from '../../simulator/index';

/** Static credentials: the default chain would probe instance metadata and stall. */
export const credentials = { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'simulator-secret' };

/** A small fleet that exercises every behaviour the suites check. */
export function testFleet(): ClusterInventory[] {
  return [
    {
      name: 'alpha',
      region: 'us-east-1',
      account: '111111111111',
      labels: { env: 'prod', team: 'payments' },
      version: '1.30',
      nodegroups: [
        { name: 'general', nodes: 3, maxUnavailable: 1 },
        {
          name: 'templated',
          nodes: 2,
          maxUnavailable: 2,
          releaseVersion: '1.30.8-20250116',
          launchTemplate: { name: 'alpha-templated', version: '4' },
        },
      ],
      addons: [
        { name: 'vpc-cni', version: 'v1.19.2-eksbuild.1' },
        { name: 'coredns', version: 'v1.11.3-eksbuild.1' },
        { name: 'kube-proxy', version: 'v1.30.9-eksbuild.3' },
      ],
      pdbs: [{ name: 'api', namespace: 'payments', allowedDisruptions: 1 }],
    },
    {
      name: 'beta',
      region: 'eu-west-1',
      account: '222222222222',
      roleArn: 'arn:aws:iam::222222222222:role/fleetwave',
      labels: { env: 'staging', team: 'search' },
      version: '1.31',
      nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1 }],
      addons: [{ name: 'kube-proxy', version: 'v1.31.3-eksbuild.2' }],
      pdbs: [],
    },
    {
      name: 'blocked',
      region: 'us-east-1',
      account: '111111111111',
      labels: { env: 'prod', team: 'data' },
      version: '1.31',
      nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1 }],
      addons: [],
      pdbs: [{ name: 'db', namespace: 'data', allowedDisruptions: 0 }],
    },
    {
      name: 'laggard',
      region: 'us-east-1',
      account: '111111111111',
      labels: { env: 'dev', team: 'ml' },
      version: '1.31',
      nodegroups: [{ name: 'old', version: '1.28', nodes: 1, maxUnavailable: 1 }],
      addons: [],
      pdbs: [],
    },
  ];
}

/** An EKS client for a region, pointed at the simulator. */
export function eksClient(sim: Simulator, region = 'us-east-1', extra: Record<string, unknown> = {}): EKSClient {
  return new EKSClient({ endpoint: sim.url, region, credentials, ...extra });
}

/**
 * An EKS bearer token: `k8s-aws-v1.` + base64url of a presigned STS GetCallerIdentity URL that
 * signs `x-k8s-aws-id`. (activities/eks-token.ts is the production version.)
 */
export async function eksToken(cluster: string, region = 'us-east-1', signingDate = new Date()): Promise<string> {
  const hostname = `sts.${region}.amazonaws.com`;
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, 'x-k8s-aws-id': cluster },
  });
  const signed = await signer.presign(request, { expiresIn: 60, signingDate });
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return 'k8s-aws-v1.' + Buffer.from(`https://${hostname}/?${query}`).toString('base64url');
}

/** A KubeConfig in memory for a simulated cluster, trusting the CA DescribeCluster returns (base64 PEM). */
export function kubeConfig(server: string, token: string, caData: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'sim', server, skipTLSVerify: false, caData }],
    users: [{ name: 'sim', token }],
    contexts: [{ name: 'sim', cluster: 'sim', user: 'sim' }],
    currentContext: 'sim',
  });
  return kc;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(40);
  }
}

/** Polls DescribeUpdate until the update leaves InProgress. */
export async function awaitUpdate(
  eks: EKSClient,
  scope: { name: string; nodegroupName?: string; addonName?: string },
  updateId: string,
  timeoutMs = 15_000,
): Promise<Update> {
  return waitFor(
    `update ${updateId}`,
    async () => {
      const { update } = await eks.send(new DescribeUpdateCommand({ ...scope, updateId }));
      return update?.status === 'InProgress' ? undefined : update;
    },
    timeoutMs,
  );
}

/** The error name a rejected SDK call carries. */
export async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).name;
  }
  return 'no error';
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

/** One HTTPS request to a cluster endpoint, trusting `caPem` (fetch has no per-call CA). */
export function rawKubernetes(
  url: string,
  caPem: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, ca: caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
