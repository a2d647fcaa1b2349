/**
 * `npm run demo`: the embedded default stack in one command.
 *
 *   Temporal dev server (Web UI, SQLite file under .fleetwave/demo/)
 *   fleet simulator (examples/fleet.yaml: 30 clusters, one of which degrades on 1.31)
 *   Prometheus scraping the simulator (an installed `prometheus`, else one built with Go and cached)
 *   the fleetwave worker (real activities against the simulator)
 * then starts examples/campaign-fast.yaml, prints the UI link and the approve command, and
 * shows live progress until the campaign ends. Ctrl-C stops everything it started.
 *
 *   npm run demo                      # approve waves yourself (fleetwave approve ...)
 *   npm run demo -- --auto-approve    # unattended: approves each wave as alice and bob
 *   npm run demo -- --help
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { parseCampaign, parseFleet, formatIssue } from '../domain/load';
import type { Campaign } from '../domain/spec';
import type { Fleet } from '../domain/fleet';
import { startDevServer, findFreePort, type DevServer } from './dev-server';
import { startPrometheus, type TestPrometheus } from './prometheus';
import { findOrBuildPrometheus, findPrometheus, PROMETHEUS_VERSION } from './prometheus-build';
import { type FleetwaveClient, connectTemporal } from '../client/library';
import { watchCampaign } from '../client/commands/watch';
import type { CampaignResult, CampaignStatus } from '../workflows/definitions';
import { simulatorWorkerEnv } from '../simulator/worker-env';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface DemoOptions {
  campaign: string;
  fleet: string;
  autoApprove: boolean;
  timeScale: number;
  uiPort: number;
  dir: string;
  keep: boolean;
}

type Stoppable = { name: string; stop: () => Promise<unknown> };

function step(text: string): void {
  process.stdout.write(`\x1b[1m==>\x1b[0m ${text}\n`);
}

function readOrExit<T>(
  file: string,
  parse: (text: string) => ReturnType<typeof parseCampaign> | ReturnType<typeof parseFleet>,
): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`error: cannot read ${file}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const parsed = parse(text);
  if (!parsed.ok) {
    for (const issue of parsed.issues) process.stderr.write(`error: ${formatIssue(issue, file)}\n`);
    process.exit(2);
  }
  return parsed.value as T;
}

/**
 * Runs `fleetwave worker` as its own process, as users run it, and resolves once it logs
 * "worker ready". Its JSON logs go to the demo's worker.log.
 */
async function startWorkerProcess(
  env: Record<string, string>,
  logFile: string,
): Promise<{ pid: number; stop: () => Promise<void> }> {
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [path.join(root, 'bin/fleetwave.mjs'), 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered = (buffered + chunk.toString()).slice(-10_000);
      if (buffered.includes('worker ready')) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`the worker exited with code ${code} before it was ready; see ${logFile}`)),
    );
  });
  return {
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Approves every wave that waits for approval, as the spec's first approvers, until the campaign ends. */
async function autoApprove(fw: FleetwaveClient, campaign: Campaign, isDone: () => boolean): Promise<void> {
  const users = campaign.spec.approvers.users.length > 0 ? campaign.spec.approvers.users : ['demo'];
  const needed = campaign.spec.approvers.minApprovals;
  const approvers = users.slice(0, Math.max(needed, 1));
  while (!isDone()) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    let status: CampaignStatus;
    try {
      status = await fw.getStatus(campaign.metadata.name);
    } catch {
      continue;
    }
    const wave = status.waves.find((w) => w.state === 'awaiting-approval');
    if (status.state !== 'awaiting-approval' || !wave) continue;
    for (const approver of approvers) {
      if (wave.approvals.some((a) => a.approver === approver)) continue;
      try {
        await fw.approveWave(campaign.metadata.name, {
          wave: wave.name,
          approver,
          comment: 'auto-approved by npm run demo -- --auto-approve',
        });
        process.stdout.write(`   approved wave ${wave.name} as ${approver}\n`);
      } catch (err) {
        process.stdout.write(`   approval of ${wave.name} as ${approver} refused: ${(err as Error).message}\n`);
      }
    }
  }
}

function summarize(result: CampaignResult, status: CampaignStatus | undefined, uiUrl: string): string {
  const lines = [
    '',
    `campaign ${result.name}: ${result.state}${result.reason ? ` (${result.reason})` : ''}`,
    `  upgraded:    ${result.upgraded.length}`,
    `  rolled back: ${result.rolledBack.length}${result.rolledBack.length ? ` (${result.rolledBack.join(', ')})` : ''}`,
    `  failed:      ${result.failed.length}${result.failed.length ? ` (${result.failed.join(', ')})` : ''}`,
    `  blocked:     ${(result.blocked ?? []).length}${result.blocked?.length ? ` (${result.blocked.join(', ')})` : ''}`,
    `  skipped:     ${result.skipped.length}`,
  ];
  if (status) {
    for (const name of [...result.rolledBack, ...(result.blocked ?? [])]) {
      const c = status.clusters.find((x) => x.name === name);
      if (c?.reason) lines.push(`  ${name}: ${c.reason}`);
    }
    lines.push(`  approvals:   ${status.waves.reduce((n, w) => n + w.approvals.length, 0)}`);
  }
  lines.push(`  Temporal UI: ${uiUrl}`);
  return lines.join('\n');
}

async function runDemo(opts: DemoOptions): Promise<number> {
  const campaign = readOrExit<Campaign>(opts.campaign, parseCampaign);
  const fleet = readOrExit<Fleet>(opts.fleet, parseFleet);
  const started: Stoppable[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const s of started.reverse()) {
      await s.stop().catch((err: unknown) => process.stderr.write(`stopping ${s.name}: ${String(err)}\n`));
    }
  };
  const onSignal = () => {
    process.stdout.write('\nstopping everything the demo started...\n');
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    mkdirSync(opts.dir, { recursive: true });
    const dbFile = path.join(opts.dir, 'temporal.db');
    const workerLog = path.join(opts.dir, 'worker.log');
    if (!opts.keep) rmSync(dbFile, { force: true });

    // The Web UI decodes payloads the codec gzipped (a big fleet) through this server.
    const { startCodecServer } = await import('../client/codec-server');
    const codec = await startCodecServer({ port: 0 });
    started.push({ name: 'codec server', stop: () => codec.stop() });

    step('Temporal dev server (finds the Temporal CLI, builds it with Go the first time: several minutes)');
    const server: DevServer = await startDevServer({
      dbFilename: dbFile,
      uiPort: opts.uiPort,
      uiCodecEndpoint: codec.url,
      // Progress of the starter (CLI build, readiness), not the server's own log lines.
      log: (line) => {
        if (!/^dev-server\[\d+\]/.test(line) && !line.includes('start-dev --ip')) process.stdout.write(`   ${line}\n`);
      },
    });
    started.push({ name: 'Temporal dev server', stop: () => server.stop() });
    const uiBase = server.uiUrl ?? `http://127.0.0.1:${opts.uiPort}`;
    for (const host of ['127.0.0.1', 'localhost']) codec.corsOrigins.add(uiBase.replace('127.0.0.1', host));
    process.env.TEMPORAL_ADDRESS = server.address;
    process.env.TEMPORAL_NAMESPACE = server.namespace;
    process.env.FLEETWAVE_TEMPORAL_UI = uiBase;
    process.stdout.write(
      `   gRPC ${server.address}, Web UI ${uiBase} (payload codec server ${codec.url}), database ${path.relative(root, dbFile)}\n`,
    );

    step(
      `fleet simulator: ${fleet.clusters.length} clusters from ${path.relative(root, opts.fleet)}, time-scale ${opts.timeScale}`,
    );
    const { startSimulator } = await import('../simulator/index');
    const sim = await startSimulator({ fleet, port: 0, timeScale: opts.timeScale, seed: 1 });
    started.push({ name: 'simulator', stop: () => sim.stop() });
    process.stdout.write(`   ${sim.url}  (state: ${sim.url}/sim/state, metrics: ${sim.url}/metrics)\n`);

    let prom: TestPrometheus | undefined;
    let spec = campaign;
    // Without PromQL gates the degraded cluster would not be caught, and showing that rollback is
    // what the demo is for: a machine without Prometheus gets one built with Go (once, cached).
    let promBinary = findPrometheus();
    if (!promBinary) {
      step(
        `Prometheus is not installed: building Prometheus ${PROMETHEUS_VERSION} with Go from the module proxy ` +
          '(the first time only; cached in ~/.cache/fleetwave)',
      );
      try {
        promBinary = await findOrBuildPrometheus({ log: (line) => process.stdout.write(`   ${line}\n`) });
      } catch (err) {
        process.stdout.write(`   ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    if (promBinary) {
      step(`Prometheus scraping the simulator every second (${promBinary})`);
      prom = await startPrometheus({
        scrapeTargets: [new URL(sim.url).host],
        scrapeInterval: '1s',
        binary: promBinary,
      });
      started.push({ name: 'Prometheus', stop: () => prom!.stop() });
      await prom.waitForQuery('fleetwave_sim_workload_error_ratio', 30_000);
      process.stdout.write(`   ${prom.url}\n`);
    } else {
      step(
        'No Prometheus (not installed, and it could not be built): PromQL gates are left out, ' +
          'only the Kubernetes-native checks guard this run, so the degraded cluster will NOT be caught',
      );
      spec = { ...campaign, spec: { ...campaign.spec, healthGates: [] } };
    }

    step(`fleetwave worker (real activities against the simulator), logs in ${path.relative(root, workerLog)}`);
    const metricsPort = await findFreePort();
    const worker = await startWorkerProcess(
      simulatorWorkerEnv({
        temporal: server,
        simulatorUrl: sim.url,
        metricsAddress: `127.0.0.1:${metricsPort}`,
        ...(prom ? { prometheusUrl: prom.url } : {}),
        timeScale: opts.timeScale,
      }),
      workerLog,
    );
    started.push({ name: 'worker', stop: () => worker.stop() });
    process.stdout.write(`   pid ${worker.pid}, metrics http://127.0.0.1:${metricsPort}/metrics\n`);

    const fw = await connectTemporal();
    started.push({ name: 'client', stop: () => fw.close() });
    const members = fleet.clusters.length;
    step(`starting campaign ${campaign.metadata.name} over ${members} clusters`);
    const startedCampaign = await fw.startCampaign({ campaign: spec, fleet, startedBy: 'npm run demo' });
    const uiUrl = fw.uiUrl(campaign.metadata.name);
    process.stdout.write(`   workflow ${startedCampaign.workflowId}\n`);
    process.stdout.write(`   Temporal UI: ${uiUrl}\n`);
    if (!opts.autoApprove) {
      process.stdout.write(
        `   approve a waiting wave from another terminal with:\n` +
          `     TEMPORAL_ADDRESS=${server.address} npx fleetwave approve ${campaign.metadata.name} --wave <wave> --as alice\n` +
          `     TEMPORAL_ADDRESS=${server.address} npx fleetwave approve ${campaign.metadata.name} --wave <wave> --as bob\n` +
          `   or signal it from the UI / temporal CLI:\n` +
          `     temporal workflow signal --address ${server.address} --workflow-id ${startedCampaign.workflowId} --name approve --input '{"wave":"<wave>","approver":"carol"}'\n`,
      );
    }

    let done = false;
    const approving = opts.autoApprove ? autoApprove(fw, campaign, () => done) : Promise.resolve();
    const result = await watchCampaign(
      { out: (s: string) => process.stdout.write(s), err: (s: string) => process.stderr.write(s) },
      fw,
      campaign.metadata.name,
      { tty: Boolean(process.stdout.isTTY), rows: process.stdout.rows ?? 40 },
    ).finally(() => {
      done = true;
    });
    await approving;
    const status = await fw.getStatus(campaign.metadata.name).catch(() => undefined);
    process.stdout.write(`${summarize(result, status, uiUrl)}\n`);
    return result.state === 'completed' || result.state === 'completed-with-failures' ? 0 : 3;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
}

async function main(): Promise<void> {
  const program = new Command('demo')
    .description('run the example campaign on the embedded default stack')
    .option('--auto-approve', 'approve each wave automatically (unattended run)', false)
    .option('-f, --campaign <file>', 'campaign spec', path.join(root, 'examples/campaign-fast.yaml'))
    .option('--fleet <file>', 'fleet inventory', path.join(root, 'examples/fleet.yaml'))
    .addOption(new Option('--time-scale <n>', 'simulated seconds per real second').default(300).argParser(Number))
    .addOption(
      new Option('--ui-port <port>', 'Temporal Web UI port (0: any free port)').default(8233).argParser(Number),
    )
    .option('--dir <dir>', 'where the database and logs go', path.join(root, '.fleetwave/demo'))
    .option('--keep', 'keep the database of the previous demo run', false)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(process.argv);
  const o = program.opts<DemoOptions>();
  if (!Number.isFinite(o.timeScale) || o.timeScale <= 0) {
    process.stderr.write('error: --time-scale must be a number > 0\n');
    process.exit(2);
  }
  const code = await runDemo(o);
  process.exit(code);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
