/**
 * The simulator's catalogue, generated fleets, seeded time model and command line.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAddonVersionsCommand,
  UpdateAddonCommand,
  UpdateClusterVersionCommand,
  UpdateNodegroupVersionCommand,
} from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import { fleetSchema } from '../../domain/fleet';
import { formatIssue, parseFleet } from '../../domain/load';
import { DEFAULT_AMI_TYPE } from '../../domain/node-models';
import { releasesOf } from '../../simulator/ami-catalogue';
import { ADDONS, AMI_RELEASES, SIM_MINORS, compareReleases } from '../../simulator/catalogue';
import { parseSimulatorArgs } from '../../simulator/cli';
import { generateFleet, startSimulator } from '../../simulator/index';
import { awaitUpdate, eksClient, testFleet, waitFor } from './helpers';

const MINUTE = 60_000;

describe('catalogue', () => {
  it('has exactly one default version per add-on and minor, compatible with the next minor too', () => {
    for (const addon of ADDONS) {
      SIM_MINORS.forEach((minor, i) => {
        const defaults = addon.versions.filter((v) => v.defaultFor.includes(minor));
        expect(defaults, `${addon.name} ${minor}`).toHaveLength(1);
        expect(defaults[0]?.compatible, `${addon.name} ${minor}`).toContain(minor);
        const next = SIM_MINORS[i + 1];
        if (next) expect(defaults[0]?.compatible, `${addon.name} default for ${minor} on ${next}`).toContain(next);
      });
    }
  });

  it('lists a few AMI releases per minor, oldest first, each of its own minor', () => {
    for (const minor of SIM_MINORS) {
      const releases = AMI_RELEASES[minor] ?? [];
      expect(releases.length).toBeGreaterThanOrEqual(3);
      expect(releases.every((r) => r.startsWith(`${minor}.`) && /^\d+\.\d+\.\d+-\d{8}$/.test(r))).toBe(true);
      expect([...releases].sort(compareReleases)).toEqual(releases);
    }
  });
});

describe('fleet files beyond the catalogue', () => {
  it('runs older minors and unlisted add-on versions, and can roll an add-on back to its unlisted version', async () => {
    const sim = await startSimulator({
      port: 0,
      timeScale: 1500,
      fleet: [
        {
          name: 'old',
          region: 'us-east-1',
          account: '111111111111',
          labels: {},
          version: '1.28',
          nodegroups: [
            { name: 'legacy', version: '1.26', releaseVersion: '1.26.12-20240110', nodes: 1, maxUnavailable: 1 },
          ],
          addons: [{ name: 'coredns', version: 'v1.10.1-eksbuild.7' }],
          pdbs: [],
        },
      ],
    });
    try {
      const eks = eksClient(sim);
      const { addons } = await eks.send(
        new DescribeAddonVersionsCommand({ kubernetesVersion: '1.29', addonName: 'coredns' }),
      );
      expect(addons?.[0]?.addonVersions?.map((v) => v.addonVersion)).toContain('v1.10.1-eksbuild.7');
      const up = await eks.send(
        new UpdateAddonCommand({ clusterName: 'old', addonName: 'coredns', addonVersion: 'v1.10.1-eksbuild.13' }),
      );
      expect((await awaitUpdate(eks, { name: 'old', addonName: 'coredns' }, up.update?.id as string)).status).toBe(
        'Successful',
      );
      const back = await eks.send(
        new UpdateAddonCommand({ clusterName: 'old', addonName: 'coredns', addonVersion: 'v1.10.1-eksbuild.7' }),
      );
      expect((await awaitUpdate(eks, { name: 'old', addonName: 'coredns' }, back.update?.id as string)).status).toBe(
        'Successful',
      );

      // The 1.26 node group may move up within its own minor, and blocks a control plane beyond 1.29.
      const ng = await eks.send(
        new UpdateNodegroupVersionCommand({ clusterName: 'old', nodegroupName: 'legacy', version: '1.26' }),
      );
      expect(ng.update?.params).toContainEqual({ type: 'ReleaseVersion', value: '1.26.15-20241024' });
      await awaitUpdate(eks, { name: 'old', nodegroupName: 'legacy' }, ng.update?.id as string);
      const cp = await eks.send(new UpdateClusterVersionCommand({ name: 'old', version: '1.29' }));
      await awaitUpdate(eks, { name: 'old' }, cp.update?.id as string);
      await expect(eks.send(new UpdateClusterVersionCommand({ name: 'old', version: '1.30' }))).rejects.toMatchObject({
        name: 'InvalidRequestException',
      });
    } finally {
      await sim.stop();
    }
  });

  it('starts the example fleet, and refuses a node group whose release is of another minor', async () => {
    const parsed = parseFleet(await readFile('examples/fleet.yaml', 'utf8'));
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => formatIssue(i)).join('\n'));
    const sim = await startSimulator({ fleet: parsed.value, port: 0 });
    expect(sim.clusterCount).toBe(parsed.value.clusters.length);
    await sim.stop();

    const bad = testFleet();
    bad[0]!.nodegroups[0]!.releaseVersion = '1.31.4-20250123';
    await expect(startSimulator({ fleet: bad, port: 0 })).rejects.toThrow(/not a release of Kubernetes 1\.30/);
  });

  it('refuses node-model combinations EKS does not have, naming the path', () => {
    const fleet = (ng: Record<string, unknown>, version = '1.33') => ({
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'Fleet',
      clusters: [
        { name: 'a', region: 'us-east-1', account: '111111111111', version, nodegroups: [{ name: 'ng', ...ng }] },
      ],
    });
    const issues = (f: unknown) =>
      fleetSchema.safeParse(f).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues(fleet({ amiType: 'AL2_ARM_64' }))).toEqual([
      expect.stringMatching(
        /^clusters\.0\.nodegroups\.0\.amiType: EKS publishes no Amazon Linux 2 AMI after Kubernetes 1\.32/,
      ),
    ]);
    expect(issues(fleet({ amiType: 'AL2_ARM_64' }, '1.32'))).toEqual([]);
    expect(issues(fleet({ amiType: 'CUSTOM' }))).toEqual([
      expect.stringMatching(/^clusters\.0\.nodegroups\.0\.launchTemplate\.imageId: is required/),
    ]);
    const lt = { name: 'lt', version: '1', imageId: 'ami-0123456789abcdef0' };
    expect(issues(fleet({ launchTemplate: lt }))).toEqual([]);
    expect(issues(fleet({ amiType: 'BOTTLEROCKET_x86_64', launchTemplate: lt }))).toHaveLength(1);
    expect(issues(fleet({ releaseVersion: '1.33.0-20250519', launchTemplate: lt }))).toHaveLength(1);
  });
});

describe('generateFleet', () => {
  it('generates a valid fleet, the same for the same seed', () => {
    const a = generateFleet({ count: 300, seed: 4 });
    expect(generateFleet({ count: 300, seed: 4 })).toEqual(a);
    expect(generateFleet({ count: 300, seed: 5 })).not.toEqual(a);
    const parsed = fleetSchema.parse(a);
    expect(parsed.clusters).toHaveLength(300);
    expect(new Set(a.clusters.map((c) => c.name)).size).toBe(300);
    for (const c of a.clusters) {
      expect(SIM_MINORS).toContain(c.version);
      expect(c.labels).toMatchObject({ env: expect.any(String), team: expect.any(String), tier: expect.any(String) });
      for (const ng of c.nodegroups) {
        if (ng.launchTemplate?.imageId) expect(ng.releaseVersion).toBeUndefined();
        else expect(releasesOf(ng.amiType ?? DEFAULT_AMI_TYPE, ng.version ?? c.version)).toContain(ng.releaseVersion);
      }
    }
    // A mix of AMI families, mostly AL2023 x86_64, and a few custom-AMI launch templates.
    const types = a.clusters.flatMap((c) =>
      c.nodegroups.map((ng) => (ng.launchTemplate?.imageId ? 'CUSTOM' : (ng.amiType ?? DEFAULT_AMI_TYPE))),
    );
    const share = (t: string) => types.filter((x) => x === t).length / types.length;
    expect(share('AL2023_x86_64_STANDARD')).toBeGreaterThan(0.5);
    for (const t of [
      'AL2023_ARM_64_STANDARD',
      'BOTTLEROCKET_ARM_64',
      'AL2023_x86_64_NVIDIA',
      'WINDOWS_CORE_2022_x86_64',
      'CUSTOM',
    ]) {
      expect(share(t), t).toBeGreaterThan(0);
    }
    expect(new Set(a.clusters.map((c) => c.region)).size).toBeGreaterThan(3);
    expect(a.clusters.some((c) => c.pdbs.some((p) => p.allowedDisruptions === 0))).toBe(true);

    // Without the mix: every node group on the default AMI, everything else the same.
    const plain = generateFleet({ count: 300, seed: 4, mixFamilies: false });
    expect(plain.clusters.flatMap((c) => c.nodegroups).every((ng) => !ng.amiType && !ng.launchTemplate?.imageId)).toBe(
      true,
    );
    expect(plain.clusters.map((c) => [c.name, c.version, c.nodegroups.map((ng) => ng.nodes)])).toEqual(
      a.clusters.map((c) => [c.name, c.version, c.nodegroups.map((ng) => ng.nodes)]),
    );
  });
});

describe('simulated time', () => {
  it('is deterministic for a seed: same update IDs and durations for the same calls', async () => {
    const run = async (seed: number) => {
      const sim = await startSimulator({
        fleet: testFleet(),
        port: 0,
        seed,
        startTime: new Date('2025-06-01T00:00:00Z'),
      });
      try {
        const eks = eksClient(sim);
        await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31', clientRequestToken: 'a' }));
        await eks.send(
          new UpdateNodegroupVersionCommand({
            clusterName: 'blocked',
            nodegroupName: 'general',
            force: true,
            clientRequestToken: 'b',
          }),
        );
        return sim
          .state()
          .clusters.flatMap((c) =>
            c.activeUpdates.map((u) => ({ id: u.id, ms: Date.parse(u.endsAt) - Date.parse(u.createdAt) })),
          );
      } finally {
        await sim.stop();
      }
    };
    const first = await run(21);
    expect(await run(21)).toEqual(first);
    expect(await run(22)).not.toEqual(first);
    const [cp, ng] = first;
    expect(cp?.ms).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(cp?.ms).toBeLessThanOrEqual(25 * MINUTE);
    // Two nodes, one per batch: setup, then two batches of launch and drain.
    expect(ng?.ms).toBeGreaterThanOrEqual(7 * MINUTE);
    expect(ng?.ms).toBeLessThanOrEqual(16 * MINUTE);
  });

  it('stretches durations by slowFactor and compresses them by the time scale', async () => {
    const sim = await startSimulator({ fleet: testFleet(), port: 0, timeScale: 3000, seed: 1 });
    try {
      sim.injectFaults('alpha', { slowFactor: 3 });
      const eks = eksClient(sim);
      const start = Date.now();
      await eks.send(new UpdateClusterVersionCommand({ name: 'alpha', version: '1.31' }));
      const update = sim.state('alpha').clusters[0]?.activeUpdates[0];
      const ms = Date.parse(update?.endsAt ?? '') - Date.parse(update?.createdAt ?? '');
      expect(ms).toBeGreaterThanOrEqual(30 * MINUTE);
      expect(ms).toBeLessThanOrEqual(75 * MINUTE);
      await waitFor('control plane at 1.31', () =>
        sim.state('alpha').clusters[0]?.version === '1.31' ? true : undefined,
      );
      // 30-75 simulated minutes at 3000x: 0.6-1.5 s of wall time.
      expect(Date.now() - start).toBeLessThan(5_000);
    } finally {
      await sim.stop();
    }
  });
});

describe('fleetwave sim command line', () => {
  it('parses its arguments and refuses bad ones', () => {
    expect(parseSimulatorArgs(['--generate', '50', '--seed', '3', '--port=0', '--time-scale', '600'])).toMatchObject({
      generate: 50,
      seed: 3,
      port: 0,
      timeScale: 600,
    });
    expect(parseSimulatorArgs(['--fleet', 'f.yaml'])).toMatchObject({ fleet: 'f.yaml', port: 9797, timeScale: 1 });
    expect(parseSimulatorArgs([])).toBe('give --fleet FILE or --generate N');
    expect(parseSimulatorArgs(['--fleet', 'a', '--generate', '2'])).toBe('give either --fleet or --generate, not both');
    expect(parseSimulatorArgs(['--generate', '2', '--time-scale', '0'])).toMatch(/--time-scale: must be/);
    expect(parseSimulatorArgs(['--generate', '2', '--port', '70000'])).toMatch(/--port: must be/);
    expect(parseSimulatorArgs(['--bogus'])).toBe('unknown argument "--bogus"');
  });

  it('prints its URL, serves until SIGTERM, and names the path of a bad fleet file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetwave-sim-cli-'));
    try {
      const runCli = (args: string[]) =>
        spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts', ...args], { stdio: 'pipe' });
      const child = runCli(['--generate', '3', '--port', '0', '--seed', '2', '--time-scale', '60']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const url = await waitFor(
        'the listening line',
        () =>
          /^fleetwave simulator listening on (http:\/\/127\.0\.0\.1:\d+) \(3 clusters, time-scale 60\)$/m.exec(
            out,
          )?.[1],
        30_000,
      );
      expect(((await (await fetch(`${url}/sim/state`)).json()) as { clusters: unknown[] }).clusters).toHaveLength(3);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const bad = join(dir, 'fleet.yaml');
      await writeFile(
        bad,
        'apiVersion: fleetwave.io/v1alpha1\nkind: Fleet\nclusters:\n  - name: x\n    region: mars-1\n',
      );
      const failing = runCli(['--fleet', bad]);
      let err = '';
      failing.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => failing.on('exit', resolve));
      expect(code).toBe(2);
      expect(err).toContain('clusters[0].region');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
