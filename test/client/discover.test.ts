/**
 * `fleetwave discover` against the simulator, run as users run it (bin/fleetwave.mjs in a child
 * process, the AWS SDK's default credential chain from the environment): three accounts in two
 * regions through Organizations ListAccounts and a role name, a fourth account whose role STS
 * refuses, the fleet file `fleetwave plan` then accepts, `--diff` and `--json`. The label rules and
 * the diff are also checked as plain functions.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import {
  createDiscoveryAws,
  discoverFleet,
  labelsFromTags,
  parseLabelRule,
  type DiscoveryProblem,
} from '../../client/discover';
import { type diffFleets } from '../../client/fleet-diff';
import { planFromFiles } from '../../client/plan';
import { fleetSchema, type ClusterInventory } from '../../domain/fleet';
import { parseFleet } from '../../domain/load';
import { startSimulator, type Simulator } from '../../simulator/index';
import { REPO_ROOT } from '../helpers/bundle';
import { runCli } from '../helpers/cli';

const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const CLOSED = '444444444444';

/** Two clusters per account, one in each region, with each node model EKS APIs show. */
function threeAccountFleet(): ClusterInventory[] {
  const addons = (minor: string) => [
    { name: 'vpc-cni', version: 'v1.19.2-eksbuild.1' },
    { name: 'kube-proxy', version: minor === '1.30' ? 'v1.30.9-eksbuild.3' : 'v1.31.3-eksbuild.2' },
  ];
  const clusters: ClusterInventory[] = [];
  ACCOUNTS.forEach((account, i) => {
    for (const region of ['us-east-1', 'eu-west-1']) {
      const minor = region === 'us-east-1' ? '1.30' : '1.31';
      clusters.push({
        name: `acct${i + 1}-${region}`,
        region,
        account,
        labels: { env: i === 2 ? 'prod' : 'dev', Team: `team-${i + 1}` },
        version: minor,
        nodegroups: [{ name: 'general', nodes: 2 + i, maxUnavailable: 1 }],
        addons: addons(minor),
        pdbs: [],
        ...(i === 0 && region === 'us-east-1' ? { fargateProfiles: [{ name: 'serverless', pods: 2 }] } : {}),
        ...(i === 1 && region === 'eu-west-1' ? { autoMode: true } : {}),
        ...(i === 2 && region === 'us-east-1' ? { selfManagedGroups: [{ name: 'legacy', nodes: 3 }] } : {}),
      });
    }
  });
  // The closed account has a cluster: discovery cannot see it, and must say so.
  clusters.push({
    name: 'closed-use1',
    region: 'us-east-1',
    account: CLOSED,
    labels: {},
    version: '1.31',
    nodegroups: [{ name: 'general', nodes: 2, maxUnavailable: 1 }],
    addons: [],
    pdbs: [],
  });
  return clusters;
}

let sim: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  sim = await startSimulator({
    fleet: threeAccountFleet(),
    port: 0,
    organization: { denyAssumeRole: [CLOSED] },
  });
  dir = await mkdtemp(path.join(tmpdir(), 'fleetwave-discover-'));
  // Static credentials in the environment: the default chain stops there, as it would in CI.
  env = {
    FLEETWAVE_AWS_ENDPOINT: sim.url,
    AWS_ACCESS_KEY_ID: 'AKIDSIMULATOR',
    AWS_SECRET_ACCESS_KEY: 'simulator-secret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
});

afterAll(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Each test runs the CLI through tsx in a child process (a few seconds each on a busy machine).
describe('fleetwave discover against the simulator', { timeout: 120_000 }, () => {
  it('writes a fleet file of every cluster of three accounts in two regions, reporting the account whose role is refused', async () => {
    const out = path.join(dir, 'fleet.yaml');
    const run = await runCli(
      ['discover', '--region', 'us-east-1', '--region', 'eu-west-1', '--role-name', 'fleetwave-discovery', '-o', out],
      { env },
    );
    expect(run.stderr).not.toMatch(/^error:/m);
    // Partial failure: the others were listed, so the exit code is 0 and the problem is on stderr.
    expect(run.code).toBe(0);
    // Management account + three + the closed one, × two regions.
    expect(run.stderr).toContain('discovering 5 account(s) × 2 region(s): 10 to list');
    expect(run.stderr.match(/^\[\d+\/10\] /gm)).toHaveLength(10);
    expect(run.stderr).toContain(`${CLOSED} us-east-1: not listed`);
    expect(run.stderr).toMatch(
      new RegExp(
        `^problem: ${CLOSED}: AssumeRole AccessDenied: arn:aws:iam::${CLOSED}:role/fleetwave-discovery: User: .* is not authorized to perform: sts:AssumeRole`,
        'm',
      ),
    );

    const parsed = parseFleet(await readFile(out, 'utf8'));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const discovered = parsed.value.clusters;
    // Exactly the simulator's clusters outside the closed account, as DescribeCluster and friends show them.
    const state = sim.state();
    const visible = state.clusters.filter((c) => c.account !== CLOSED);
    expect(discovered.map((c) => c.name)).toEqual(visible.map((c) => c.name).sort());
    for (const c of discovered) {
      const s = visible.find((x) => x.name === c.name);
      expect(c).toMatchObject({
        region: s?.region,
        account: s?.account,
        labels: s?.labels,
        version: s?.version,
        platformVersion: s?.platformVersion,
      });
      expect(c.nodegroups.map((ng) => [ng.name, ng.version, ng.releaseVersion, ng.nodes, ng.amiType])).toEqual(
        (s?.nodegroups ?? []).map((ng) => [ng.name, ng.version, ng.releaseVersion, ng.nodes, ng.amiType]),
      );
      expect(c.addons).toEqual((s?.addons ?? []).map((a) => ({ name: a.name, version: a.version })));
    }
    const byName = new Map(discovered.map((c) => [c.name, c]));
    expect(byName.get('acct1-us-east-1')?.fargateProfiles?.map((f) => f.name)).toEqual(['serverless']);
    expect(byName.get('acct2-eu-west-1')?.autoMode).toBe(true);
    expect(byName.get('acct3-us-east-1')?.selfManagedGroups).toEqual([{ name: 'legacy', nodes: 3 }]);

    // `fleetwave plan` takes it (its plan function, reading the file), with the example campaign.
    const plan = await planFromFiles(path.join(REPO_ROOT, 'examples/campaign.yaml'), out);
    expect(plan.campaign.fleetSize).toBe(discovered.length);
  });

  it('maps tags to labels by rule, lists explicit role ARNs, and diffs against a file as JSON', async () => {
    const fileFleet = fleetSchema.parse({
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'Fleet',
      clusters: threeAccountFleet()
        .filter((c) => c.account === ACCOUNTS[0] || c.account === CLOSED)
        .map((c) => ({
          ...c,
          labels: { team: c.labels.Team ?? '' },
          version: c.name === 'acct1-eu-west-1' ? '1.30' : c.version,
        })),
    });
    const file = path.join(dir, 'old-fleet.yaml');
    await writeFile(file, JSON.stringify(fileFleet));
    const run = await runCli(
      [
        'discover',
        '--region',
        'us-east-1,eu-west-1',
        '--role-arn',
        `arn:aws:iam::${ACCOUNTS[0]}:role/fleetwave-discovery`,
        '--role-arn',
        `arn:aws:iam::${CLOSED}:role/fleetwave-discovery`,
        '--label',
        'team=tag:Team',
        '--diff',
        file,
        '--json',
      ],
      { env },
    );
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      diff: ReturnType<typeof diffFleets>;
      problems: DiscoveryProblem[];
      cells: { account: string; region: string; ok: boolean }[];
    };
    expect(out.cells.filter((c) => c.ok).map((c) => c.account)).toEqual([ACCOUNTS[0], ACCOUNTS[0]]);
    expect(out.problems).toEqual([
      expect.objectContaining({ account: CLOSED, stage: 'AssumeRole', error: 'AccessDenied' }),
    ]);
    // The closed account's cluster is "removed" from what AWS shows, and the problem says why.
    expect(out.diff.removed).toEqual(['closed-use1']);
    expect(out.diff.added).toEqual([]);
    expect(out.diff.changed).toEqual([
      {
        cluster: 'acct1-eu-west-1',
        changes: [
          { path: 'nodegroups[general].version', file: '1.30', discovered: '1.31' },
          { path: 'version', file: '1.30', discovered: '1.31' },
        ],
      },
    ]);
    expect(out.diff.unchanged).toBe(1);
  });

  it('exits 1 when nothing could be listed', async () => {
    const run = await runCli(
      ['discover', '--region', 'us-east-1', '--role-arn', `arn:aws:iam::${CLOSED}:role/fleetwave-discovery`],
      { env },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: no account × region could be listed');
    expect(run.stderr).toContain(`problem: ${CLOSED}: AssumeRole AccessDenied`);
  });

  it('exits 2 for bad arguments, before calling AWS', async () => {
    const badRegion = await runCli(['discover', '--region', 'moon-1'], { env });
    expect(badRegion.code).toBe(2);
    expect(badRegion.stderr).toContain('error: --region: "moon-1" is not an AWS region such as us-east-1');
    const both = await runCli(
      ['discover', '--region', 'us-east-1', '--role-name', 'x', '--role-arn', 'arn:aws:iam::111111111111:role/x'],
      { env },
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('error: give --role-name or role ARNs, not both');
  });

  it('rejects when ListAccounts is refused (a member account is not the management account)', async () => {
    const member = fromTemporaryCredentials({
      params: { RoleArn: `arn:aws:iam::${ACCOUNTS[0]}:role/fleetwave-discovery`, RoleSessionName: 'test' },
      masterCredentials: { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'x' },
      clientConfig: { endpoint: sim.url, region: 'us-east-1' },
    });
    const aws = createDiscoveryAws({ endpoint: sim.url, credentials: member });
    await expect(
      discoverFleet(aws, {
        regions: ['us-east-1'],
        accounts: { kind: 'organization', roleName: 'fleetwave-discovery' },
      }),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Its own account, with its own credentials, it can list.
    const own = await discoverFleet(aws, { regions: ['us-east-1', 'eu-west-1'], accounts: { kind: 'caller' } });
    expect(own.accounts).toEqual([{ account: ACCOUNTS[0] }]);
    expect(own.fleet.clusters.map((c) => c.name)).toEqual(['acct1-eu-west-1', 'acct1-us-east-1']);
    expect(own.problems).toEqual([]);
  });
});

describe('discoverFleet: per-cluster failures', () => {
  it('reports a cluster EKS cannot describe, with its account and region, and keeps the rest', async () => {
    sim.injectFaults('acct2-us-east-1', { serverErrorRate: 1 });
    try {
      const aws = createDiscoveryAws({
        endpoint: sim.url,
        credentials: { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'x' },
        maxAttempts: 1,
      });
      const result = await discoverFleet(aws, {
        regions: ['us-east-1'],
        accounts: { kind: 'roles', roleArns: [`arn:aws:iam::${ACCOUNTS[1]}:role/fleetwave-discovery`] },
      });
      expect(result.fleet.clusters).toEqual([]);
      expect(result.cells).toEqual([{ account: ACCOUNTS[1], region: 'us-east-1', clusters: 0, ok: true }]);
      expect(result.problems).toEqual([
        expect.objectContaining({
          account: ACCOUNTS[1],
          region: 'us-east-1',
          cluster: 'acct2-us-east-1',
          stage: 'DescribeCluster',
          error: 'ServerException',
        }),
      ]);
    } finally {
      sim.injectFaults('acct2-us-east-1', { serverErrorRate: null });
    }
  });
});

describe('examples/discovery: the demo fleet', { timeout: 120_000 }, () => {
  it('finds every cluster of examples/fleet.yaml but the closed account, with the label map, and plan takes it', async () => {
    const demo = parseFleet(await readFile(path.join(REPO_ROOT, 'examples/fleet.yaml'), 'utf8'));
    if (!demo.ok) throw new Error('examples/fleet.yaml is invalid');
    const closed = '555566667777';
    const demoSim = await startSimulator({
      fleet: demo.value,
      port: 0,
      organization: { denyAssumeRole: [closed] },
    });
    try {
      const demoEnv = { ...env, FLEETWAVE_AWS_ENDPOINT: demoSim.url };
      const out = path.join(dir, 'discovered.yaml');
      const common = ['discover', '--region', 'us-east-1,eu-west-1', '--role-name', 'fleetwave-discovery'];
      const run = await runCli([...common, '--label-map', 'examples/discovery/labels.yaml', '-o', out], {
        env: demoEnv,
      });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`problem: ${closed}: AssumeRole AccessDenied`);
      const diff = await runCli([...common, '--diff', 'examples/fleet.yaml'], { env: demoEnv });
      const missing = demo.value.clusters.filter((c) => c.account === closed).map((c) => c.name);
      expect(diff.stdout).toBe(
        `${missing.map((n) => `- ${n}  (in the file, not discovered)\n`).join('')}0 added, ${missing.length} removed, 0 changed, ${demo.value.clusters.length - missing.length} unchanged\n`,
      );
      const plan = await planFromFiles(path.join(REPO_ROOT, 'examples/campaign.yaml'), out);
      expect(plan.campaign.fleetSize).toBe(demo.value.clusters.length - missing.length);
    } finally {
      await demoSim.stop();
    }
  });
});

describe('discovery rules', () => {
  it('maps tags by LABEL=tag:TAG, reporting a tag value that cannot be a label value', () => {
    expect(parseLabelRule('env=tag:Environment')).toEqual({ label: 'env', tag: 'Environment' });
    expect(parseLabelRule('env=Environment')).toMatch(/must be LABEL=tag:TAG/);
    expect(parseLabelRule('bad key=tag:X')).toMatch(/must be LABEL=tag:TAG/);
    const invalid: string[] = [];
    const rules = [
      { label: 'env', tag: 'Environment' },
      { label: 'owner', tag: 'Owner' },
    ];
    expect(
      labelsFromTags(rules, { Environment: 'prod', Owner: 'Jane Doe', Other: 'x' }, (r) => invalid.push(r.label)),
    ).toEqual({ env: 'prod' });
    expect(invalid).toEqual(['owner']);
    // Without rules: every tag that is a valid label, as the inventory activity keeps them.
    expect(labelsFromTags([], { env: 'prod', 'aws:cloudformation:stack-name': 's' })).toEqual({ env: 'prod' });
  });
});
