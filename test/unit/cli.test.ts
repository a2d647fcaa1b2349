import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../client/cli';
import type { PlannedCampaign } from '../../domain/plan';

const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await main(['node', 'fleetwave', ...args], io);
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'fleetwave-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example campaign with waves[1].maxParallel set to 0. */
function badCampaign(): string {
  const text = readFileSync('examples/campaign.yaml', 'utf8');
  const lines = text.split('\n');
  const devWave = lines.findIndex((l) => l.trim() === '- name: dev');
  const offset = lines.slice(devWave).findIndex((l) => l.trim().startsWith('maxParallel:'));
  lines[devWave + offset] = '      maxParallel: 0';
  const file = join(dir, 'bad-campaign.yaml');
  writeFileSync(file, lines.join('\n'));
  return file;
}

describe('fleetwave plan', () => {
  it('prints one JSON object with the waves', async () => {
    const r = await cli('plan', '-f', 'examples/campaign.yaml', '--fleet', 'examples/fleet.yaml', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out) as PlannedCampaign;
    expect(plan.waves.length).toBeGreaterThanOrEqual(3);
    expect(plan.campaign.target).toBe('1.31');
    expect(plan.estimate.totalMs).toBeGreaterThan(0);
  });

  it('prints a human plan', async () => {
    const r = await cli('plan', '-f', 'examples/campaign.yaml', '--fleet', 'examples/fleet.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^campaign fleet-to-1-31: Kubernetes 1\.31/);
    expect(r.out).toMatch(/wave 1\/5 dev-canary: 2 clusters/);
    expect(r.out).toMatch(/1\.29 → 1\.30 → 1\.31/);
    expect(r.out).toMatch(/skipped \(1\):\n {2}dev-use1-03: already at target/);
    expect(r.out).toMatch(/refused \(1\):\n {2}dev-euw1-legacy: /);
    expect(r.out).toMatch(/estimated duration: ≥ \d/);
  });

  it('exits 2 naming file, path and line for an invalid spec', async () => {
    const file = badCampaign();
    const r = await cli('plan', '-f', file, '--fleet', 'examples/fleet.yaml');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      new RegExp(
        `^error: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: spec\\.waves\\[1\\]\\.maxParallel \\(line \\d+\\): must be >= 1\\n$`,
      ),
    );
  });

  it('exits 2 for a missing file, and reports both files', async () => {
    const r = await cli('plan', '-f', join(dir, 'nope.yaml'), '--fleet', join(dir, 'nope-fleet.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error: ${join(dir, 'nope.yaml')}: no such file\nerror: ${join(dir, 'nope-fleet.yaml')}: no such file\n`,
    );
  });

  it('exits 2 for bad options, 0 for help', async () => {
    expect((await cli('plan', '-f', 'examples/campaign.yaml')).code).toBe(2);
    const unknown = await cli('plan', '-f', 'examples/campaign.yaml', '--fleet', 'examples/fleet.yaml', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option '--bogus'/);
    expect((await cli('nonsense')).code).toBe(2);
    const help = await cli('plan', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--fleet <fleet.yaml>/);
  });

  it('runs through bin/fleetwave.mjs (tsx registered, no build) with exit code 2 on bad input', async () => {
    const file = badCampaign();
    const failed = await run('node', ['bin/fleetwave.mjs', 'plan', '-f', file, '--fleet', 'examples/fleet.yaml']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/spec\.waves\[1\]\.maxParallel \(line \d+\): must be >= 1/);
    const ok = await run('node', [
      'bin/fleetwave.mjs',
      'plan',
      '-f',
      'examples/campaign.yaml',
      '--fleet',
      'examples/fleet.yaml',
      '--json',
    ]);
    expect((JSON.parse(ok.stdout) as PlannedCampaign).waves.length).toBeGreaterThanOrEqual(3);
  });
});
