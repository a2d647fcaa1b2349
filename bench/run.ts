/**
 * `npm run bench`: fleetwave end to end at 50 and 500 simulated clusters (and 5,000 on demand),
 * each on a stack of its own (Temporal dev server, simulator, Prometheus, worker process).
 * Writes bench/results/<scenario>.json and regenerates bench/results/summary.md from every
 * result there. Figures only: it exits 0 whatever the targets say, and non-zero only when a
 * scenario could not run.
 *
 *   npm run bench                          # 50 and 500
 *   npm run bench -- --scenario 5000       # the big one (about an hour on 2 cores)
 *   npm run bench -- --all                 # 50, 500 and 5000
 *   npm run bench -- --scenario 50 --keep  # keep logs and worker.log under .fleetwave/bench/
 *   npm run bench -- --worker source       # the worker from the TypeScript sources (tsx), not dist/
 *
 * The worker runs as the image runs it: the compiled dist/, which the bench builds first
 * (`npm run build`, about a minute). `--worker source` runs it through tsx instead, as
 * bin/fleetwave.mjs does in a checkout: its figures include tsx's loader thread and source maps.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { compactJson } from './lib/measured';
import { consoleReport, writeSummary } from './lib/report';
import { runScenario } from './lib/scenario';
import type { WorkerEntry } from './lib/worker-process';
import { SCENARIOS } from './scenarios';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, 'bench/results');
const DEFAULT_SCENARIOS = ['50', '500'];

interface Options {
  scenario: string[];
  all: boolean;
  keep: boolean;
  worker: WorkerEntry;
}

async function main(): Promise<number> {
  const program = new Command('bench')
    .description('end-to-end benchmark on simulated clusters')
    .option('--scenario <name...>', `scenario(s) to run: ${Object.keys(SCENARIOS).join(', ')}`, DEFAULT_SCENARIOS)
    .option('--all', 'run every scenario', false)
    .option('--keep', 'keep the logs of each run under .fleetwave/bench/<scenario>', false)
    .addOption(
      new Option('--worker <entry>', 'the worker from dist/ (built first) or from the TypeScript sources (tsx)')
        .choices(['built', 'source'])
        .default('built'),
    )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(process.argv);
  const opts = program.opts<Options>();
  const names = opts.all ? Object.keys(SCENARIOS) : opts.scenario;
  const unknown = names.filter((n) => !SCENARIOS[n]);
  if (unknown.length > 0) {
    process.stderr.write(
      `error: unknown scenario ${unknown.join(', ')} (known: ${Object.keys(SCENARIOS).join(', ')})\n`,
    );
    return 2;
  }

  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s`;
  const log = (line: string) => process.stdout.write(`[${elapsed()}] ${line}\n`);
  // The worker applies its heap settings to its main thread by restarting itself with process.execve
  // (worker/start-settings.ts): without it the worker keeps V8's 4 GiB defaults there.
  if (typeof (process as { execve?: unknown }).execve !== 'function') {
    log(
      `warning: Node.js ${process.version} has no process.execve: the worker's heap settings cannot reach its main thread, so its RSS is not what a supported Node.js gives (bench/README.md, "Profiling the worker")`,
    );
  }
  if (opts.worker === 'built') {
    log('building dist/ (npm run build): the worker runs from it, as in the image');
    const build = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/build-lib.ts')], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (build.status !== 0) {
      process.stderr.write('error: npm run build failed; `--worker source` runs the worker without dist/\n');
      return 1;
    }
  }
  let failures = 0;
  for (const name of names) {
    const def = SCENARIOS[name];
    if (!def) continue;
    const dir = path.join(root, '.fleetwave/bench', name);
    rmSync(dir, { recursive: true, force: true });
    try {
      const result = await runScenario(def, dir, log, opts.worker);
      writeFileSync(path.join(resultsDir, `${name}.json`), `${compactJson(result)}\n`);
      process.stdout.write(`${consoleReport(result)}\n\n`);
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      failures++;
      process.stderr.write(
        `scenario ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)} (logs in ${dir})\n`,
      );
    }
  }

  writeSummary(resultsDir);
  log(`wrote ${path.relative(root, resultsDir)}/{${names.join(',')}}.json and summary.md`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
