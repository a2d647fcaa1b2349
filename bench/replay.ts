/**
 * Recomputes the lower bound and the replays of the picking rules from saved results, without
 * running the stack: per wave, the bound as first computed (max of longest, Σd / m, rate limit),
 * the classic bounds (plus pigeonhole sums), the bound `npm run bench` reports (plus packing
 * proofs), the campaign's picking rules replayed at zero overhead, and the real window.
 *
 *   npx tsx bench/replay.ts                          # every bench/results/<n>.json with cluster rows
 *   npx tsx bench/replay.ts bench/results/500.json   # given files (anywhere)
 *   npx tsx bench/replay.ts --write                  # also update their figures, and summary.md next to them
 *
 * Needs results written with per-cluster rows (makespan.measured, bench/lib/measured.ts); older
 * ones are skipped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { sumWithSoaks } from './lib/bounds';
import { analyseMeasured, compactJson, type MeasuredCampaign } from './lib/measured';
import { boundLabel, readResults, writeSummary } from './lib/report';
import type { ScenarioResult } from './lib/scenario';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

/** Prints the comparison for one result; with `write`, updates its figures in place. */
function replay(file: string, r: ScenarioResult, write: boolean): boolean {
  const m: MeasuredCampaign | undefined = r.makespan.measured;
  if (!m) {
    process.stdout.write(
      `${path.relative(root, file)}: no per-cluster rows (written before they were kept), skipped\n\n`,
    );
    return false;
  }
  const before = analyseMeasured(m, { slots: 'average', replay: false });
  const classic = analyseMeasured(m, { slots: 'classic', replay: false });
  const now = analyseMeasured(m);
  const rows = [
    [
      'wave',
      'clusters',
      'bound before',
      'classic',
      'bound now (by)',
      'replay',
      'clairvoyant',
      'plan order',
      'real window',
    ],
  ];
  now.waves.forEach((w, i) => {
    const real = r.makespan.waves[i];
    rows.push([
      w.name,
      String(w.clusters),
      s(before.waves[i]?.boundMs ?? NaN),
      s(classic.waves[i]?.boundMs ?? NaN),
      `${s(w.boundMs)} (${boundLabel({ ...w, windowMs: 0, gapMs: 0 })})`,
      s(w.simulatedMs),
      s(w.clairvoyantMs),
      s(w.planOrderMs),
      real ? s(real.windowMs) : '-',
    ]);
  });
  const policyMs = sumWithSoaks(now.waves, (w) => Math.round(w.simulatedMs));
  const clairvoyantMs = sumWithSoaks(now.waves, (w) => Math.round(w.clairvoyantMs));
  const ratio = (x: number, b: number) => (x / b).toFixed(3);
  process.stdout.write(
    [
      `== ${r.setup.clusters} clusters (${path.relative(root, file)}), run ${r.startedAt.slice(0, 16)}Z: makespan ${s(r.makespan.ms)}`,
      table(rows),
      `   bound + soaks: before ${s(before.boundMs)}, classic ${s(classic.boundMs)}, now ${s(now.boundMs)}`,
      `   makespan / bound: before ${ratio(r.makespan.ms, before.boundMs)}, now ${ratio(r.makespan.ms, now.boundMs)}; replay + soaks ${s(policyMs)}, replay / bound now ${ratio(policyMs, now.boundMs)}; clairvoyant + soaks ${s(clairvoyantMs)}, / bound ${ratio(clairvoyantMs, now.boundMs)}`,
      '',
      '',
    ].join('\n'),
  );
  if (!write) return false;
  r.makespan.measuredBoundMs = Math.round(now.boundMs);
  r.makespan.ratio = Math.round((r.makespan.ms / now.boundMs) * 1000) / 1000;
  r.makespan.policyMs = policyMs;
  r.makespan.clairvoyantMs = clairvoyantMs;
  r.makespan.waves = r.makespan.waves.map((w, i) => {
    const f = now.waves[i];
    if (!f) return w;
    const { boundMethod: _m, boundDetail: _d, ...rest } = w;
    return {
      ...rest,
      boundBy: f.boundBy,
      ...(f.boundMethod ? { boundMethod: f.boundMethod } : {}),
      ...(f.boundDetail ? { boundDetail: f.boundDetail } : {}),
      boundMs: Math.round(f.boundMs),
      simulatedMs: Math.round(f.simulatedMs),
      planOrderMs: Math.round(f.planOrderMs),
      clairvoyantMs: Math.round(f.clairvoyantMs),
    };
  });
  writeFileSync(file, `${compactJson(r)}\n`);
  return true;
}

function main(): void {
  const program = new Command('replay')
    .description('bound and replays from saved bench results')
    .argument('[files...]', 'result JSONs (default: every bench/results/<n>.json)')
    .option('--write', "update the results' bound and replay figures and regenerate summary.md", false)
    .parse(process.argv);
  const write = program.opts<{ write: boolean }>().write;
  const files = program.args.map((f) => path.resolve(f));
  const results = (
    files.length > 0
      ? files.map((file) => ({ file, result: JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult }))
      : readResults(path.join(root, 'bench/results'))
  ).sort((a, b) => a.result.setup.clusters - b.result.setup.clusters);
  const dirs = new Set<string>();
  for (const { file, result } of results) if (replay(file, result, write)) dirs.add(path.dirname(file));
  for (const dir of dirs) {
    writeSummary(dir);
    process.stdout.write(`updated ${path.relative(root, dir) || '.'}/summary.md\n`);
  }
}

main();
