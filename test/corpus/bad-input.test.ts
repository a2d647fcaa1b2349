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
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../client/cli';
import type { PlannedCampaign } from '../../domain/plan';
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
const BIN_CASES = [
  'campaigns/03-duplicate-key.yaml',
  'campaigns/08-billion-laughs.yaml',
  'campaigns/19-maxparallel-zero-second-wave.yaml',
  'campaigns/57-downgrade-target.yaml',
  'fleets/15-nodegroup-newer-than-control-plane.yaml',
];

interface Outcome {
  file: string;
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

beforeAll(async () => {
  const temporal = await getTestTemporal();
  client = temporal.client;
  scratch = mkdtempSync(path.join(tmpdir(), 'fleetwave-corpus-'));
  env = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    // Neither a developer's temporal.toml nor a real worker's task queue may take part.
    TEMPORAL_CONFIG_FILE: path.join(scratch, 'no-temporal.toml'),
    FLEETWAVE_TASK_QUEUE: temporal.taskQueue('corpus-no-worker'),
  };
  // main() runs in this process and reads the process environment (this file has its own fork).
  for (const [key, value] of Object.entries(env)) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
});

afterAll(() => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

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

/** `<path> (line N): ...<message>` at the start of an error line or after the file name. */
function namesField(expectation: BadInput): RegExp {
  const shown = expectation.path === '' ? '(document)' : expectation.path;
  return new RegExp(`(^error: |: )${escapeRegExp(shown)}( \\(line \\d+\\))?: .*${expectation.message}`, 'm');
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
  it('has an expectation for every file (and at least 40 cases)', () => {
    const files = [...listFiles('campaigns'), ...listFiles('fleets')];
    expect(Object.keys(badInputs).sort()).toEqual(files);
    expect(files.length).toBeGreaterThanOrEqual(40);
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

  it.each(Object.entries(badInputs))('refuses %s with exit 2 naming the field', async (file, expectation) => {
    const run = await cliInProcess(startArgs(file, expectation));
    outcomes.push({ file, ...run });
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
    for (const e of Object.values(badInputs)) byCategory.set(e.category, (byCategory.get(e.category) ?? 0) + 1);
    console.log(
      `bad-input corpus: ${outcomes.length} cases, ${refused} refused with exit 2, ${startedBad.length} workflows started` +
        ` (${[...byCategory].map(([c, n]) => `${c} ${n}`).join(', ')}; slowest ${slowest.file} ${Math.round(slowest.ms)} ms;` +
        ` ${BIN_CASES.length} also through bin/fleetwave.mjs; ${warnNames.length} dangerous-but-valid inputs warned)`,
    );
    expect(outcomes.length).toBe(Object.keys(badInputs).length);
    expect(refused).toBe(outcomes.length);
  });
});
