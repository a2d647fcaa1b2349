/**
 * What every resilience test shares, on top of bench/lib (stack, driver, verification): a
 * directory and log per test, a small generated fleet, and a compressed campaign in two or three
 * waves. The chaos itself lives in each test.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { validateStartInput } from '../../client/library';
import type { Fleet } from '../../domain/fleet';
import type { Campaign } from '../../domain/spec';
import { generateFleet } from '../../simulator/index';
import { benchCampaign, type BenchCampaignOptions, type BenchWave } from '../../bench/lib/campaign';
import { startStack, type Stack } from '../../bench/lib/stack';
import { startWorkerProcess, type WorkerProcess } from '../../bench/lib/worker-process';
import { findFreePort } from '../../scripts/dev-server';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Simulated seconds per real second in these tests: a cluster takes a few seconds. */
export const TIME_SCALE = 1200;
const HOUR = 3_600_000;

/**
 * A fresh directory test-output/<area>/<name> and a logger that writes there (and to stderr with
 * <AREA>_VERBOSE=1, e.g. RESILIENCE_VERBOSE).
 */
export function testWorkspace(name: string, area = 'resilience'): { dir: string; log: (line: string) => void } {
  const dir = path.join(root, 'test-output', area, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const verbose = process.env[`${area.toUpperCase()}_VERBOSE`];
  const log = (line: string) => {
    const text = `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`;
    appendFileSync(path.join(dir, 'test.log'), text);
    if (verbose) process.stderr.write(`${name} ${text}`);
  };
  return { dir, log };
}

/** `count` generated clusters (seed fixed per test), optionally with faults or extra labels. */
export function smallFleet(count: number, seed: number, edit?: (fleet: Fleet) => void): Fleet {
  const fleet = generateFleet({ count, seed });
  edit?.(fleet);
  return fleet;
}

/** Waves: a canary needing approval, then the rest. */
export function canaryThenRest(canary: number, restParallel: number, extra: Partial<BenchWave> = {}): BenchWave[] {
  return [
    { name: 'canary', count: canary, maxParallel: canary, soakRealMs: HOUR, approval: 'required', failureBudget: 1 },
    { name: 'rest', maxParallel: restParallel, soakRealMs: HOUR, approval: 'auto', failureBudget: '20%', ...extra },
  ];
}

/** A validated campaign for the fleet (throws like `fleetwave start` would on bad input). */
export function testCampaign(
  fleet: Fleet,
  opts: Omit<BenchCampaignOptions, 'timeScale' | 'targetVersion'> & { targetVersion?: string },
): { campaign: Campaign; planned: number } {
  const doc = benchCampaign({ targetVersion: '1.32', timeScale: TIME_SCALE, ...opts });
  const { campaign, plan } = validateStartInput({ campaign: doc, fleet });
  return { campaign, planned: plan.waves.reduce((n, w) => n + w.clusters.length, 0) };
}

/** The approvers the driver uses for a campaign: the first `minApprovals` users. */
export function approversOf(campaign: Campaign): string[] {
  return campaign.spec.approvers.users.slice(0, campaign.spec.approvers.minApprovals);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The SDK's default worker identity: `<pid>@<hostname>`. */
export const identityOf = (pid: number) => `${pid}@${os.hostname()}`;

/**
 * A stack with two `fleetwave worker` processes on one task queue: `stack.worker` (the one a test
 * kills) and a survivor. Both load one prebuilt workflow bundle, as an image does: bundling twice
 * would cost a minute of CPU.
 */
export async function startTwoWorkers(opts: {
  fleet: Fleet;
  seed: number;
  dir: string;
  log: (line: string) => void;
}): Promise<{ stack: Stack; survivor: WorkerProcess; victimId: string; survivorId: string }> {
  const bundle = path.join(opts.dir, 'workflow-bundle.js');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/bundle-workflows.ts', '--out', bundle], {
    cwd: root,
  });
  const stack = await startStack({ ...opts, timeScale: TIME_SCALE, workerEnv: { FLEETWAVE_WORKFLOW_BUNDLE: bundle } });
  const survivor = await startWorkerProcess({
    env: { ...stack.workerEnv, FLEETWAVE_METRICS_ADDRESS: `127.0.0.1:${await findFreePort()}` },
    logFile: path.join(opts.dir, 'worker-survivor.log'),
  }).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  const victimId = identityOf(stack.worker.pid);
  const survivorId = identityOf(survivor.pid);
  opts.log(`workers: victim ${victimId}, survivor ${survivorId}`);
  return { stack, survivor, victimId, survivorId };
}
