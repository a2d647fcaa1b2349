/**
 * The library as its users get it: `npm pack` (its prepack builds dist/), the tarball unpacked
 * into a scratch project in a temporary directory the way `npm install` lays it out, and a short
 * TypeScript script there that imports `fleetwave`, `fleetwave/domain` and `fleetwave/worker` by
 * their package names, type-checks with `tsc` (strict, NodeNext resolution: the declarations and
 * `exports` must hold up without a bundler), plans a campaign and starts it on the test's server.
 *
 * Offline by design: the tarball's dependencies are not installed from a registry but found
 * where Node.js and tsc look next, a `node_modules` one directory up that links to this
 * repository's (nothing writes through that link).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerScript } from '../../bench/lib/worker-process';
import { REPO_ROOT } from '../helpers/bundle';
import { getTestTemporal } from '../helpers/temporal';

const run = promisify(execFile);
let dir: string;
let project: string;

const SCRIPT = `
import { readFileSync } from 'node:fs';
import {
  connectTemporal,
  InvalidInputError,
  parseCampaign,
  parseFleet,
  validateStartInput,
  type FleetwaveClient,
  type StartedCampaign,
} from 'fleetwave';
import type { Campaign, Fleet, PlannedCampaign } from 'fleetwave/domain';
import { createActivities, workflowsPath } from 'fleetwave/worker';

function load<T>(parsed: { ok: true; value: T } | { ok: false; issues: unknown[] }): T {
  if (!parsed.ok) throw new InvalidInputError(JSON.stringify(parsed.issues));
  return parsed.value;
}

const [campaignFile, fleetFile, name] = process.argv.slice(2) as [string, string, string];
const parsed: Campaign = load(parseCampaign(readFileSync(campaignFile, 'utf8')));
const campaign: Campaign = { ...parsed, metadata: { ...parsed.metadata, name } };
const fleet: Fleet = load(parseFleet(readFileSync(fleetFile, 'utf8')));
const { plan }: { plan: PlannedCampaign } = validateStartInput({ campaign, fleet });

const fw: FleetwaveClient = await connectTemporal();
try {
  const started: StartedCampaign = await fw.startCampaign({ campaign, fleet, startedBy: 'packed-library test' });
  console.log(JSON.stringify({
    waves: plan.waves.map((w) => [w.name, w.clusters.length]),
    started,
    worker: { workflowsPath, activities: typeof createActivities },
  }));
} finally {
  await fw.close();
}

// The declarations are real types, not \`any\`: each line below must be a type error.
export function typesAreChecked(client: FleetwaveClient): void {
  // @ts-expect-error startedBy is a string
  void client.startCampaign({ campaign, fleet, startedBy: 42 });
  // @ts-expect-error no such method
  void client.startCampaigns();
  // @ts-expect-error a plan has no such field
  void plan.clusterCount;
}
`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fleetwave-pack-'));
  // npm pack runs prepack (npm run build: dist/) and prints the tarball's name last.
  const packed = await run('npm', ['pack', '--pack-destination', dir, '--silent'], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 2 ** 20,
  });
  const tarball = path.join(dir, packed.stdout.trim().split('\n').pop() ?? '');
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  project = path.join(dir, 'project');
  const installed = path.join(project, 'node_modules', 'fleetwave');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { fleetwave: `file:${tarball}` } }),
  );
  writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        types: ['node'],
        outDir: 'out',
      },
      include: ['plan-and-start.ts'],
    }),
  );
  writeFileSync(path.join(project, 'plan-and-start.ts'), SCRIPT);
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed library', () => {
  it('holds the build, the CLI and the schemas, and none of the sources or tests', () => {
    const files = readdirSync(path.join(project, 'node_modules', 'fleetwave'), { recursive: true }).map(String);
    expect(files).toEqual(
      expect.arrayContaining(['dist/client/index.js', 'dist/client/index.d.ts', 'bin/fleetwave.mjs']),
    );
    expect(files).toEqual(expect.arrayContaining(['dist/worker/index.d.ts', 'dist/domain/index.d.ts']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('test') || f.startsWith('scripts'))).toEqual([]);
  });

  it('imports at run time only its own dependencies and Node.js built-ins (the image installs no dev dependencies)', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const root = path.join(project, 'node_modules', 'fleetwave');
    const imported = new Set<string>();
    for (const file of readdirSync(path.join(root, 'dist'), { recursive: true }).map(String)) {
      if (!file.endsWith('.js')) continue;
      const code = readFileSync(path.join(root, 'dist', file), 'utf8');
      // The compiler's own import scanner: import-like text in comments and strings does not count.
      for (const { fileName: spec } of ts.preProcessFile(code, true, true).importedFiles) {
        if (spec.startsWith('node:') || spec.startsWith('.')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it('type-checks a script in a scratch project (tsc, NodeNext) that plans and starts a campaign', async () => {
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await run(process.execPath, [tsc, '-p', project]).catch((err: { stdout?: string }) => err);
    expect('stdout' in checked ? checked.stdout : '').toBe('');

    const temporal = await getTestTemporal();
    const name = `packed-${randomUUID().slice(0, 8)}`;
    const { stdout } = await run(
      process.execPath,
      [
        path.join(project, 'out', 'plan-and-start.js'),
        path.join(REPO_ROOT, 'examples/campaign-fast.yaml'),
        path.join(REPO_ROOT, 'examples/fleet.yaml'),
        name,
      ],
      {
        cwd: project,
        env: {
          ...process.env,
          TEMPORAL_CONFIG_FILE: '/nonexistent',
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_NAMESPACE: temporal.namespace,
          // Nobody polls it: the campaign waits, started, and no other test's worker picks it up.
          FLEETWAVE_TASK_QUEUE: temporal.taskQueue('packed'),
        },
      },
    );
    const out = JSON.parse(stdout) as {
      waves: [string, number][];
      started: { name: string; workflowId: string; clustersTotal: number };
      worker: { workflowsPath: string; activities: string };
    };
    expect(out.waves.length).toBeGreaterThan(1);
    expect(out.started).toMatchObject({ name, workflowId: `campaign/${name}` });
    expect(out.started.clustersTotal).toBe(out.waves.reduce((n, [, count]) => n + count, 0));
    expect(out.worker).toEqual({
      workflowsPath: path.join(project, 'node_modules', 'fleetwave', 'dist', 'workflows', 'index.js'),
      activities: 'function',
    });

    const handle = temporal.client.workflow.getHandle(out.started.workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('packed-library test done');
  });

  it('runs its CLI from the build', async () => {
    const { stdout } = await run(process.execPath, [
      path.join(project, 'node_modules/fleetwave/bin/fleetwave.mjs'),
      '--version',
    ]);
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).toBe(version);
  });

  it('gives the bench its worker as the image runs it: dist/ through bench/lib/built-worker.mjs, no tsx', async () => {
    // The pack above built the checkout's dist/. The shim registers no TypeScript loader and
    // imports only dist/client/cli.js: with dist/ missing or not runnable on plain Node.js it fails.
    expect(workerScript('built')).toBe(path.join(REPO_ROOT, 'bench/lib/built-worker.mjs'));
    expect(workerScript()).toBe(path.join(REPO_ROOT, 'bin/fleetwave.mjs'));
    const { stdout } = await run(process.execPath, [workerScript('built'), 'worker', '--help'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(stdout).toContain('Usage: fleetwave worker');
  });
});
