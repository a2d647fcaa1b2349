/**
 * `fleetwave discover`: the fleet file from what AWS says, across accounts and regions. It runs in
 * the CLI with the caller's AWS credentials (no workflow, no worker):
 *
 * 1. the accounts: AWS Organizations ListAccounts (management account or delegated administrator)
 *    with a role name, one role per account (`arn:aws:iam::<account>:role/<name>`); or the role ARNs
 *    given; or, with neither, the caller's own account with its own credentials;
 * 2. per account, STS AssumeRole once (an AccessDenied is that account's problem, reported);
 * 3. per account × region, EKS ListClusters and the describer the inventory activity uses
 *    (activities/inventory.ts), with tags mapped to labels.
 *
 * Every failure is kept with the account (and region) it belongs to; nothing is left out without
 * a problem saying so. The result goes through the fleet file's schema, so `fleetwave plan` takes it.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient, ListClustersCommand } from '@aws-sdk/client-eks';
import { OrganizationsClient, paginateListAccounts } from '@aws-sdk/client-organizations';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { stringify } from 'yaml';
import { fleetSchema, type ClusterInventory, type Fleet } from '../domain/fleet';
import { formatPath } from '../domain/load';
import { API_VERSION } from '../domain/spec';
import { describeClusterInventory, tagsToLabels } from '../activities/inventory';
import { mapLimit } from '../activities/deps';

/** Where the accounts come from. */
export type AccountSource =
  { kind: 'organization'; roleName: string } | { kind: 'roles'; roleArns: string[] } | { kind: 'caller' };

/** One account to list, and the role to list it with (none: the caller's own credentials). */
export interface DiscoveryAccount {
  account: string;
  roleArn?: string;
}

/** Something discovery could not do, with the account (and region, cluster) it concerns. */
export interface DiscoveryProblem {
  account: string;
  region?: string;
  cluster?: string;
  /** The call or step that failed: ListAccounts, AssumeRole, ListClusters, DescribeCluster, schema, name. */
  stage: string;
  /** The AWS error name (AccessDenied, ...) or `Skipped`. */
  error: string;
  message: string;
}

/** How one account × region went, for progress and the summary. */
export interface DiscoveryCell {
  account: string;
  region: string;
  clusters: number;
  ok: boolean;
}

export interface DiscoveryResult {
  /** The discovered fleet, valid against the fleet schema, clusters sorted by name. */
  fleet: Fleet;
  accounts: DiscoveryAccount[];
  cells: DiscoveryCell[];
  problems: DiscoveryProblem[];
}

/** The AWS clients discovery uses; {@link createDiscoveryAws} builds real ones. */
export interface DiscoveryAws {
  organizations(): OrganizationsClient;
  /** The caller's account (STS GetCallerIdentity). */
  callerAccount(): Promise<string>;
  /** Credentials of a role, fetched on first use and cached. */
  assume(roleArn: string): AwsCredentialIdentityProvider;
  eks(region: string, credentials?: AwsCredentialIdentityProvider): EKSClient;
  autoScaling(region: string, credentials?: AwsCredentialIdentityProvider): AutoScalingClient;
  ec2(region: string, credentials?: AwsCredentialIdentityProvider): EC2Client;
}

/** AWS settings of the CLI: the worker's (FLEETWAVE_AWS_ENDPOINT for the simulator) and the default chain. */
export interface DiscoveryAwsConfig {
  endpoint?: string;
  eksEndpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** RoleSessionName of the assumed roles. Default: "fleetwave-discover". */
  roleSessionName?: string;
  /** SDK attempts per call. Default: 3. */
  maxAttempts?: number;
}

/** Real clients; Organizations and STS are global and asked in us-east-1. */
export function createDiscoveryAws(config: DiscoveryAwsConfig = {}): DiscoveryAws {
  const base = config.credentials ?? fromNodeProviderChain();
  const maxAttempts = config.maxAttempts ?? 3;
  const endpoint = config.endpoint ? { endpoint: config.endpoint } : {};
  const eksEndpoint = config.eksEndpoint ?? config.endpoint;
  const roles = new Map<string, AwsCredentialIdentityProvider>();
  const common = (region: string, credentials?: AwsCredentialIdentityProvider) => ({
    region,
    credentials: credentials ?? base,
    maxAttempts,
  });
  return {
    organizations: () => new OrganizationsClient({ ...common('us-east-1'), ...endpoint }),
    callerAccount: async () => {
      const sts = new STSClient({ ...common('us-east-1'), ...endpoint });
      const out = await sts.send(new GetCallerIdentityCommand({}));
      return out.Account ?? '';
    },
    assume: (roleArn) => {
      let provider = roles.get(roleArn);
      if (!provider) {
        const inner = fromTemporaryCredentials({
          params: { RoleArn: roleArn, RoleSessionName: config.roleSessionName ?? 'fleetwave-discover' },
          masterCredentials: base,
          clientConfig: { region: 'us-east-1', maxAttempts, ...endpoint },
        });
        // One AssumeRole per role for the whole run: discovery finishes well within the session.
        let once: Promise<AwsCredentialIdentity> | undefined;
        provider = () => (once ??= inner());
        roles.set(roleArn, provider);
      }
      return provider;
    },
    eks: (region, credentials) =>
      new EKSClient({ ...common(region, credentials), ...(eksEndpoint ? { endpoint: eksEndpoint } : {}) }),
    autoScaling: (region, credentials) => new AutoScalingClient({ ...common(region, credentials), ...endpoint }),
    ec2: (region, credentials) => new EC2Client({ ...common(region, credentials), ...endpoint }),
  };
}

/** A label taken from a tag: `env=tag:Environment`. */
export interface LabelRule {
  label: string;
  tag: string;
}

const LABEL_RULE_RE = /^([^=\s]+)=tag:(.+)$/;

/** Parses `LABEL=tag:TAG`; returns an error text for anything else. */
export function parseLabelRule(text: string): LabelRule | string {
  const m = LABEL_RULE_RE.exec(text.trim());
  if (!m) return `"${text}": must be LABEL=tag:TAG, e.g. env=tag:Environment`;
  const label = m[1] as string;
  if (Object.keys(tagsToLabels({ [label]: 'x' })).length === 0) return `"${text}": "${label}" is not a label key`;
  return { label, tag: m[2] as string };
}

/**
 * Labels from tags: with no rules, every tag that is a valid label (as the inventory activity does);
 * with rules, exactly the mapped ones. A mapped tag whose value cannot be a label value is reported
 * through `onInvalid`.
 */
export function labelsFromTags(
  rules: readonly LabelRule[],
  tags: Record<string, string>,
  onInvalid: (rule: LabelRule, value: string) => void = () => {},
): Record<string, string> {
  if (rules.length === 0) return tagsToLabels(tags);
  const labels: Record<string, string> = {};
  for (const rule of rules) {
    const value = tags[rule.tag];
    if (value === undefined) continue;
    if (Object.keys(tagsToLabels({ [rule.label]: value })).length === 0) onInvalid(rule, value);
    else labels[rule.label] = value;
  }
  return labels;
}

function errorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: string; type?: string; cause?: unknown };
    // The inventory describer wraps AWS errors (activities/failures.ts): the AWS name is the type.
    if (e.name === 'ApplicationFailure' && typeof e.type === 'string') return e.type;
    if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  }
  return 'Error';
}

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** The accounts to list; a failure of ListAccounts itself is thrown (nothing else can be listed). */
export async function resolveAccounts(
  aws: DiscoveryAws,
  source: AccountSource,
  problems: DiscoveryProblem[],
): Promise<DiscoveryAccount[]> {
  if (source.kind === 'roles') {
    const seen = new Set<string>();
    const out: DiscoveryAccount[] = [];
    for (const roleArn of source.roleArns) {
      const account = /^arn:aws[a-z-]*:iam::(\d{12}):role\/.+$/.exec(roleArn)?.[1];
      if (!account) throw new Error(`${roleArn}: not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`);
      if (seen.has(roleArn)) continue;
      seen.add(roleArn);
      out.push({ account, roleArn });
    }
    return out;
  }
  if (source.kind === 'caller') return [{ account: await aws.callerAccount() }];
  const out: DiscoveryAccount[] = [];
  for await (const page of paginateListAccounts({ client: aws.organizations() }, {})) {
    for (const a of page.Accounts ?? []) {
      if (!a.Id) continue;
      if (a.Status && a.Status !== 'ACTIVE') {
        problems.push({
          account: a.Id,
          stage: 'ListAccounts',
          error: 'Skipped',
          message: `account status ${a.Status}: not listed`,
        });
        continue;
      }
      out.push({ account: a.Id, roleArn: `arn:aws:iam::${a.Id}:role/${source.roleName}` });
    }
  }
  return out.sort((a, b) => a.account.localeCompare(b.account));
}

export interface DiscoverOptions {
  regions: string[];
  accounts: AccountSource;
  labelRules?: LabelRule[];
  /** Written as each cluster's `roleArn` (the role the worker assumes for it). Default: none. */
  clusterRoleName?: string;
  /** Account × region cells in flight. Default: 4. */
  concurrency?: number;
  /** Called once per finished account × region. */
  onCell?: (cell: DiscoveryCell, done: number, total: number) => void;
  /** Called once the accounts are known. */
  onAccounts?: (accounts: DiscoveryAccount[], regions: string[]) => void;
}

async function listClusterNames(eks: EKSClient): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await eks.send(new ListClustersCommand({ nextToken, maxResults: 100 }));
    names.push(...(out.clusters ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  return names;
}

/** Discovers the fleet; see the module comment. Rejects only when the accounts cannot be resolved. */
export async function discoverFleet(aws: DiscoveryAws, opts: DiscoverOptions): Promise<DiscoveryResult> {
  const problems: DiscoveryProblem[] = [];
  const regions = [...new Set(opts.regions)];
  const accounts = await resolveAccounts(aws, opts.accounts, problems);
  opts.onAccounts?.(accounts, regions);
  const rules = opts.labelRules ?? [];

  // AssumeRole once per account, before its regions, so a refusal is reported once, as itself.
  const credentials = new Map<string, AwsCredentialIdentityProvider | undefined>();
  const usable = (
    await mapLimit(accounts, opts.concurrency ?? 4, async (a) => {
      if (!a.roleArn) return a;
      const provider = aws.assume(a.roleArn);
      try {
        await provider();
        credentials.set(a.account, provider);
        return a;
      } catch (err) {
        problems.push({
          account: a.account,
          stage: 'AssumeRole',
          error: errorName(err),
          message: `${a.roleArn}: ${errorMessage(err)}`,
        });
        return undefined;
      }
    })
  ).filter((a): a is DiscoveryAccount => a !== undefined);

  const cells = accounts.flatMap((a) => regions.map((region) => ({ a, region })));
  const total = cells.length;
  let done = 0;
  const finished: DiscoveryCell[] = [];
  const finish = (cell: DiscoveryCell) => {
    finished.push(cell);
    done += 1;
    opts.onCell?.(cell, done, total);
  };
  // Accounts whose role was refused count as failed cells, so progress adds up to accounts × regions.
  for (const { a, region } of cells) {
    if (!usable.includes(a)) finish({ account: a.account, region, clusters: 0, ok: false });
  }

  const found: ClusterInventory[] = [];
  await mapLimit(
    cells.filter(({ a }) => usable.includes(a)),
    opts.concurrency ?? 4,
    async ({ a, region }) => {
      const creds = credentials.get(a.account);
      const eks = aws.eks(region, creds);
      const clients = { eks, autoScaling: aws.autoScaling(region, creds), ec2: aws.ec2(region, creds) };
      let names: string[];
      try {
        names = await listClusterNames(eks);
      } catch (err) {
        problems.push({
          account: a.account,
          region,
          stage: 'ListClusters',
          error: errorName(err),
          message: errorMessage(err),
        });
        finish({ account: a.account, region, clusters: 0, ok: false });
        return;
      }
      let kept = 0;
      await mapLimit(names, 4, async (name) => {
        try {
          const cluster = (await eks.send(new DescribeClusterCommand({ name }))).cluster;
          if (!cluster) throw new Error('DescribeCluster returned no cluster');
          const labels = (tags: Record<string, string>) =>
            labelsFromTags(rules, tags, (rule, value) =>
              problems.push({
                account: a.account,
                region,
                cluster: name,
                stage: 'labels',
                error: 'InvalidLabelValue',
                message: `tag ${rule.tag}="${value}" is not a valid label value: label ${rule.label} left out`,
              }),
            );
          const entry = await describeClusterInventory(clients, region, cluster, { labels });
          found.push({
            ...entry,
            // The account the role belongs to, should the ARN not say (it always does on AWS).
            account: entry.account === '000000000000' ? a.account : entry.account,
            ...(opts.clusterRoleName ? { roleArn: `arn:aws:iam::${a.account}:role/${opts.clusterRoleName}` } : {}),
          });
          kept += 1;
        } catch (err) {
          const schema = err instanceof Error && err.name === 'ZodError';
          problems.push({
            account: a.account,
            region,
            cluster: name,
            stage: schema ? 'schema' : 'DescribeCluster',
            error: schema ? 'DoesNotFitFleetSchema' : errorName(err),
            message: schema ? zodSummary(err) : errorMessage(err),
          });
        }
      });
      finish({ account: a.account, region, clusters: kept, ok: true });
    },
  );

  // EKS names are unique per account and region only; a fleet file needs them unique.
  const byName = new Map<string, ClusterInventory>();
  for (const c of found.sort((x, y) => `${x.account}/${x.region}`.localeCompare(`${y.account}/${y.region}`))) {
    const first = byName.get(c.name);
    if (first) {
      problems.push({
        account: c.account,
        region: c.region,
        cluster: c.name,
        stage: 'name',
        error: 'DuplicateName',
        message: `also in ${first.account} ${first.region}; the fleet file keeps that one`,
      });
    } else byName.set(c.name, c);
  }
  const fleet = fleetSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Fleet',
    clusters: [...byName.values()].sort((x, y) => x.name.localeCompare(y.name)),
  });
  const order = (p: DiscoveryProblem) => `${p.account}/${p.region ?? ''}/${p.cluster ?? ''}`;
  return {
    fleet,
    accounts,
    cells: finished.sort((x, y) => `${x.account}/${x.region}`.localeCompare(`${y.account}/${y.region}`)),
    problems: problems.sort((x, y) => order(x).localeCompare(order(y))),
  };
}

function zodSummary(err: unknown): string {
  const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
  return issues
    .slice(0, 3)
    .map((i) => `${formatPath(i.path)}: ${i.message}`)
    .join('; ');
}

/**
 * The discovered fleet as a fleet file: empty PDB lists left out, and Fargate pod counts too (only
 * the cluster's Kubernetes API knows them; the schema's default is not a finding). Versions come out
 * quoted, so YAML does not read 1.30 as 1.3.
 */
export function renderFleetYaml(fleet: Fleet, header: string[] = []): string {
  const clusters = fleet.clusters.map((c) => {
    const { pdbs, fargateProfiles, ...rest } = c;
    return {
      ...rest,
      ...(fargateProfiles ? { fargateProfiles: fargateProfiles.map((f) => ({ name: f.name })) } : {}),
      ...(pdbs.length > 0 ? { pdbs } : {}),
    };
  });
  const body = stringify(
    { apiVersion: fleet.apiVersion, kind: fleet.kind, clusters },
    { defaultStringType: 'PLAIN', defaultKeyType: 'PLAIN', lineWidth: 120 },
  );
  return `${header.map((l) => `# ${l}`.trimEnd()).join('\n')}${header.length > 0 ? '\n' : ''}${body}`;
}
