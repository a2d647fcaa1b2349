/**
 * The bad-input corpus: every file under test/corpus/campaigns/ and test/corpus/fleets/ is a
 * malformed or dangerous campaign or fleet. `fleetwave start` must refuse each one with exit 2
 * and a message naming the field recorded in expectations.json, within a few seconds, and
 * start nothing: no workflow `campaign/<name>` exists afterwards (describe, then the visibility
 * list). Campaign cases run with base/fleet.yaml, fleet cases with base/campaign.yaml; the base
 * pair itself plans cleanly, so each case is refused for its own defect.
 *
 * test/corpus/warnings/ holds the dangerous-but-valid inputs (a wave that selects nothing,
 * overlapping waves, a gate without {{cluster}}, some clusters refused...): `start` accepts
 * them and prints the warning. They are started on a task queue no worker polls, which also
 * proves that the visibility list used below does see campaigns this file starts.
 *
 * Most cases run in-process through `main()` (the CLI's own entry point); a handful run through
 * the real bin/fleetwave.mjs as a child process to prove the exit code of the binary.
 *
 * Every case has a class (`category`). Cases that are not a YAML file live in runs.json: a FIFO,
 * a device or a 1 GiB sparse file given as the campaign, fleet, temporal.toml or TLS file, and
 * connection settings (out-of-range ports, missing TLS files named by variable or profile field,
 * an HTTP server or a TLS port where a Temporal frontend should be). Pinned versions are checked
 * live against the simulator, which answers the EKS and SSM calls `start` makes. The test prints
 * one line per class: cases, refused with exit 2, workflows started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { main, type CliIO } from '../../client/cli';
import type { PlannedCampaign } from '../../domain/plan';
import type { Fleet } from '../../domain/fleet';
import { startSimulator, type Simulator } from '../../simulator';
import { campaignWorkflowId, WorkflowTypes } from '../../workflows/definitions';
import { REPO_ROOT } from '../helpers/bundle';
import { getTestTemporal } from '../helpers/temporal';

const CORPUS = path.join(REPO_ROOT, 'test/corpus');
const BASE_CAMPAIGN = path.join(CORPUS, 'base/campaign.yaml');
const BASE_FLEET = path.join(CORPUS, 'base/fleet.yaml');
/** A refusal must come fast: validation never waits on the network. */
const REFUSAL_BUDGET_MS = 5_000;
/** The real binary pays for node + tsx start-up on a busy 2-core machine. */
const BIN_BUDGET_MS = 15_000;

interface BadInput {
  category: string;
  /** Field path the message must name; '' for the whole document, printed as "(document)". */
  path: string;
  /** Regex source the message must match after the path. */
  message: string;
  /** Campaign name whose workflow must not exist. */
  campaign: string;
  /** The test appends a comment of this many bytes first (a huge document, not committed). */
  padBytes?: number;
  /** The check this case waits for, made on another branch: listed and counted, not yet run. */
  awaits?: string;
}

/** A case of runs.json: arguments and environment rather than a YAML file. */
interface RunInput {
  category: string;
  /** Default: `start -f {campaign} --fleet {fleet}`. Placeholders: {campaign} {fleet} {scratch} {http} {tlsServer}. */
  args?: string[];
  /** Variables set for this run only (same placeholders). */
  env?: Record<string, string>;
  /** A temporal.toml written for this run and named by TEMPORAL_CONFIG_FILE (same placeholders). */
  toml?: string;
  /** Run without TEMPORAL_ADDRESS, so the profile's address counts. */
  unsetAddress?: boolean;
  /** Made in the scratch directory before the runs: a FIFO (and a symlink to it) or a 1 GiB sparse file. */
  setup?: 'fifo' | 'sparse';
  /** Regex source an `error:` line must match: it names the file, variable or profile field. */
  expect: string;
}

interface WarnInput {
  kind: 'campaign' | 'fleet';
  campaign: string;
  /** Regex source of the warning `plan` and `start` must print. */
  warning: string;
}

const badInputs = JSON.parse(readFileSync(path.join(CORPUS, 'expectations.json'), 'utf8')) as Record<string, BadInput>;
const warnInputs = JSON.parse(readFileSync(path.join(CORPUS, 'warnings/expectations.json'), 'utf8')) as Record<
  string,
  WarnInput
>;
const runInputs = JSON.parse(readFileSync(path.join(CORPUS, 'runs.json'), 'utf8')) as Record<string, RunInput>;
const runnable = Object.entries(badInputs).filter(([, e]) => !e.awaits);
const awaiting = Object.entries(badInputs).filter(([, e]) => e.awaits);
const BIN_CASES = [
  'campaigns/03-duplicate-key.yaml',
  'campaigns/08-billion-laughs.yaml',
  'campaigns/19-maxparallel-zero-second-wave.yaml',
  'campaigns/57-downgrade-target.yaml',
  'fleets/15-nodegroup-newer-than-control-plane.yaml',
];

interface Outcome {
  file: string;
  category?: string;
  /** A workflow exists for the case's campaign afterwards (must never be true). */
  started?: boolean;
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
}

const outcomes: Outcome[] = [];
let scratch: string;
let client: Client;
let env: Record<string, string>;
const savedEnv: Record<string, string | undefined> = {};
let simulator: Simulator;
/** Not a Temporal frontend: an HTTP/1 server, and a TLS server, each on a port of its own. */
let httpServer: http.Server;
let tlsServer: tls.Server;

function listening(server: http.Server | tls.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}
let httpAddress: string;
let tlsAddress: string;

beforeAll(async () => {
  const temporal = await getTestTemporal();
  client = temporal.client;
  scratch = mkdtempSync(path.join(tmpdir(), 'fleetwave-corpus-'));
  execFileSync('mkfifo', [path.join(scratch, 'pipe')]);
  symlinkSync(path.join(scratch, 'pipe'), path.join(scratch, 'pipe-link'));
  // 1 GiB that takes no disk: only a size check before reading keeps it out of memory.
  writeFileSync(path.join(scratch, 'sparse.yaml'), '');
  truncateSync(path.join(scratch, 'sparse.yaml'), 1024 ** 3);
  const baseFleet = parseYaml(readFileSync(BASE_FLEET, 'utf8')) as Fleet;
  simulator = await startSimulator({ fleet: baseFleet });
  httpServer = http.createServer((_req, res) => res.end('not temporal\n'));
  httpAddress = await listening(httpServer);
  // A TLS server without a certificate answers any handshake, or plain text, with an alert.
  tlsServer = tls.createServer({});
  tlsServer.on('tlsClientError', () => undefined);
  tlsAddress = await listening(tlsServer);
  env = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    // Neither a developer's temporal.toml nor a real worker's task queue may take part.
    TEMPORAL_CONFIG_FILE: path.join(scratch, 'no-temporal.toml'),
    FLEETWAVE_TASK_QUEUE: temporal.taskQueue('corpus-no-worker'),
    // Pinned versions are checked against the simulator, as `start` asks EKS and SSM.
    FLEETWAVE_AWS_ENDPOINT: simulator.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIACORPUS',
    AWS_SECRET_ACCESS_KEY: 'corpus',
  };
  // main() runs in this process and reads the process environment (this file has its own fork).
  for (const [key, value] of Object.entries(env)) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
});

afterAll(async () => {
  await simulator?.stop();
  httpServer?.close();
  tlsServer?.close();
  printClassSummary();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/**
 * One line per class: how many cases it has, how many were refused with exit 2, how many
 * workflows were started for them (checked one by one with describe), and those that await a
 * check from another branch.
 */
function printClassSummary(): void {
  const classes = new Map<string, { cases: number; refused: number; started: number; awaiting: number }>();
  const of = (c: string) => {
    let row = classes.get(c);
    if (!row) classes.set(c, (row = { cases: 0, refused: 0, started: 0, awaiting: 0 }));
    return row;
  };
  for (const o of outcomes) {
    const row = of(o.category ?? 'unknown');
    row.cases++;
    if (o.code === 2) row.refused++;
    if (o.started) row.started++;
  }
  for (const [, e] of awaiting) of(e.category).awaiting++;
  const lines = [...classes].map(
    ([c, r]) =>
      `  ${c.padEnd(14)} ${String(r.cases).padStart(3)} cases, ${String(r.refused).padStart(3)} refused with exit 2, ` +
      `${r.started} started${r.awaiting ? ` (+${r.awaiting} awaiting another branch's check)` : ''}`,
  );
  const total = outcomes.length;
  const refused = outcomes.filter((o) => o.code === 2).length;
  console.log(`bad-input corpus by class (${total} cases run, ${refused} refused with exit 2):\n${lines.join('\n')}`);
}

/** `fleetwave <args>` in-process, as the bin runs it. */
async function cliInProcess(args: string[]): Promise<Omit<Outcome, 'file'>> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { out: (t) => void (stdout += t), err: (t) => void (stderr += t) };
  const started = performance.now();
  const code = await main(['node', 'fleetwave', ...args], io);
  return { code, ms: performance.now() - started, stdout, stderr };
}

/** `node bin/fleetwave.mjs <args>` as a child process. */
function cliBinary(args: string[]): Promise<Omit<Outcome, 'file'>> {
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fleetwave.mjs'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: performance.now() - started, stdout, stderr });
    });
  });
}

/** The start arguments of a case: campaign cases with the base fleet, fleet cases with the base campaign. */
function startArgs(file: string, expectation: BadInput): string[] {
  let casePath = path.join(CORPUS, file);
  if (expectation.padBytes) {
    casePath = path.join(scratch, path.basename(file));
    writeFileSync(casePath, `${readFileSync(path.join(CORPUS, file), 'utf8')}#${'x'.repeat(expectation.padBytes)}\n`);
  }
  return file.startsWith('fleets/')
    ? ['start', '-f', BASE_CAMPAIGN, '--fleet', casePath]
    : ['start', '-f', casePath, '--fleet', BASE_FLEET];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `<path> (line N): ...<message>` at the start of an error line or after the file name. A
 * whole-document problem is named `(document)`, or by the file itself when it is refused before
 * it is read (its size).
 */
function namesField(expectation: BadInput): RegExp {
  const shown = expectation.path === '' ? '(\\(document\\)|\\S+\\.yaml)' : escapeRegExp(expectation.path);
  return new RegExp(`(^error: |: )${shown}( \\(line \\d+\\))?: .*${expectation.message}`, 'm');
}

/** Whether `campaign/<name>` exists (describe answers), for the per-class count of started workflows. */
async function workflowExists(name: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(campaignWorkflowId(name)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function expectNoWorkflow(name: string): Promise<void> {
  await expect(client.workflow.getHandle(campaignWorkflowId(name)).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
}

function listFiles(dir: string): string[] {
  return readdirSync(path.join(CORPUS, dir))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${dir}/${f}`)
    .sort();
}

describe('bad-input corpus', () => {
  it('has an expectation for every file (and at least 150 cases)', () => {
    const files = [...listFiles('campaigns'), ...listFiles('fleets')];
    expect(Object.keys(badInputs).sort()).toEqual(files);
    expect(files.length + Object.keys(runInputs).length).toBeGreaterThanOrEqual(150);
    expect(Object.keys(warnInputs).sort()).toEqual(listFiles('warnings'));
  });

  it('starts from a base campaign and fleet that plan cleanly', async () => {
    const run = await cliInProcess(['plan', '-f', BASE_CAMPAIGN, '--fleet', BASE_FLEET, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as PlannedCampaign;
    expect(plan.campaign.toUpgrade).toBe(4);
    expect(plan.warnings).toEqual([]);
    expect([...plan.refused, ...plan.skipped]).toEqual([]);
    expect(plan.waves.flatMap((w) => w.clusters.flatMap((c) => c.warnings ?? []))).toEqual([]);
  });

  it.each(runnable)('refuses %s with exit 2 naming the field', async (file, expectation) => {
    const run = await cliInProcess(startArgs(file, expectation));
    const outcome: Outcome = { file, category: expectation.category, ...run };
    outcomes.push(outcome);
    outcome.started = await workflowExists(expectation.campaign);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(namesField(expectation));
    expect(run.stderr).not.toMatch(/^warning:/m);
    expect(run.ms).toBeLessThan(REFUSAL_BUDGET_MS);
    await expectNoWorkflow(expectation.campaign);
  });

  it.each(BIN_CASES)('refuses %s through the real bin/fleetwave.mjs with exit 2', async (file) => {
    const expectation = badInputs[file] as BadInput;
    const run = await cliBinary(startArgs(file, expectation));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(namesField(expectation));
    expect(run.ms).toBeLessThan(BIN_BUDGET_MS);
    await expectNoWorkflow(expectation.campaign);
  });
});

describe('bad files and connection settings', () => {
  function fill(text: string, campaign: string): string {
    return text
      .replaceAll('{campaign}', campaign)
      .replaceAll('{fleet}', BASE_FLEET)
      .replaceAll('{scratch}', scratch)
      .replaceAll('{http}', httpAddress)
      .replaceAll('{tlsServer}', tlsAddress);
  }

  it.each(Object.entries(runInputs))('refuses %s with exit 2 naming the file or setting', async (name, input) => {
    const campaignName = `corpus-run-${name.replace(/[^a-z0-9]+/g, '-')}`;
    const campaign = path.join(scratch, `${campaignName}.yaml`);
    writeFileSync(campaign, readFileSync(BASE_CAMPAIGN, 'utf8').replace('name: corpus-base', `name: ${campaignName}`));
    const overlay: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(input.env ?? {})) overlay[key] = fill(value, campaign);
    if (input.toml) {
      const toml = path.join(scratch, `${campaignName}.temporal.toml`);
      writeFileSync(toml, fill(input.toml, campaign));
      overlay.TEMPORAL_CONFIG_FILE = toml;
    }
    if (input.unsetAddress) overlay.TEMPORAL_ADDRESS = undefined;
    const before: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(overlay)) {
      before[key] = process.env[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    let run: Omit<Outcome, 'file'>;
    try {
      run = await cliInProcess(
        (input.args ?? ['start', '-f', '{campaign}', '--fleet', '{fleet}']).map((a) => fill(a, campaign)),
      );
    } finally {
      for (const [key, value] of Object.entries(before)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    const outcome: Outcome = { file: name, category: input.category, ...run };
    outcomes.push(outcome);
    outcome.started = await workflowExists(campaignName);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^error: .*${input.expect}`, 'm'));
    expect(run.ms).toBeLessThan(REFUSAL_BUDGET_MS);
    expect(outcome.started).toBe(false);
  });
});

describe('dangerous but valid inputs warn', () => {
  const started: string[] = [];

  afterAll(async () => {
    await Promise.all(
      started.map((name) =>
        client.workflow
          .getHandle(campaignWorkflowId(name))
          .terminate('corpus: warnings checked')
          .catch(() => undefined),
      ),
    );
  });

  /** A warnings/ fleet case runs with a copy of the base campaign named after the case. */
  function warnArgs(file: string, input: WarnInput): string[] {
    if (input.kind === 'campaign') return ['-f', path.join(CORPUS, file), '--fleet', BASE_FLEET];
    const campaign = path.join(scratch, `${input.campaign}.yaml`);
    writeFileSync(
      campaign,
      readFileSync(BASE_CAMPAIGN, 'utf8').replace('name: corpus-base', `name: ${input.campaign}`),
    );
    return ['-f', campaign, '--fleet', path.join(CORPUS, file)];
  }

  it.each(Object.entries(warnInputs))('%s: plan and start warn, start goes ahead', async (file, input) => {
    const args = warnArgs(file, input);
    const plan = await cliInProcess(['plan', ...args]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(input.warning));

    const start = await cliInProcess(['start', ...args]);
    expect(start.code, start.stderr).toBe(0);
    started.push(input.campaign);
    expect(start.stderr).toMatch(new RegExp(`^warning: .*${input.warning}`, 'm'));
    expect(start.stdout).toMatch(new RegExp(`^started campaign ${input.campaign} `));
    const description = await client.workflow.getHandle(campaignWorkflowId(input.campaign)).describe();
    expect(description.status.name).toBe('RUNNING');
  });

  it('started no workflow for any bad input (checked in the visibility list, which shows the warned ones)', async () => {
    const badNames = new Set(Object.values(badInputs).map((e) => campaignWorkflowId(e.campaign)));
    const warnNames = Object.values(warnInputs).map((e) => campaignWorkflowId(e.campaign));
    let listed: string[] = [];
    const deadline = Date.now() + 20_000;
    // Visibility lags a moment behind a start: wait until the warned campaigns show, then look for bad ones.
    while (Date.now() < deadline) {
      listed = [];
      for await (const info of client.workflow.list({ query: `WorkflowType = '${WorkflowTypes.campaign}'` })) {
        listed.push(info.workflowId);
      }
      if (warnNames.every((id) => listed.includes(id))) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(listed).toEqual(expect.arrayContaining(warnNames));
    const startedBad = listed.filter((id) => badNames.has(id));
    expect(startedBad).toEqual([]);

    const refused = outcomes.filter((o) => o.code === 2).length;
    const slowest = outcomes.reduce((max, o) => (o.ms > max.ms ? o : max), outcomes[0] as Outcome);
    const byCategory = new Map<string, number>();
    for (const o of outcomes) byCategory.set(o.category ?? '?', (byCategory.get(o.category ?? '?') ?? 0) + 1);
    console.log(
      `bad-input corpus: ${outcomes.length} cases, ${refused} refused with exit 2, ${startedBad.length} workflows started` +
        ` (${[...byCategory].map(([c, n]) => `${c} ${n}`).join(', ')}; slowest ${slowest.file} ${Math.round(slowest.ms)} ms;` +
        ` ${BIN_CASES.length} also through bin/fleetwave.mjs; ${warnNames.length} dangerous-but-valid inputs warned)`,
    );
    expect(outcomes.length).toBe(runnable.length + Object.keys(runInputs).length);
    expect(refused).toBe(outcomes.length);
    expect(outcomes.filter((o) => o.started)).toEqual([]);
  });
});
