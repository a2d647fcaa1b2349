/**
 * Exit codes of the real CLI for what goes wrong before anything runs: bad input exits 2 with a
 * message naming the field and starts nothing; an unreachable Temporal exits 1 with one line,
 * within seconds; a worker with bad configuration exits 2 naming each bad variable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../scripts/dev-server';
import { campaignWorkflowId } from '../../workflows/definitions';
import { runCli } from '../helpers/cli';
import { getTestTemporal, testTemporalAddress } from '../helpers/temporal';

const EXAMPLE_FLEET = 'examples/fleet.yaml';
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-cli-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function campaignYaml(name: string, wave: string): string {
  return [
    'apiVersion: fleetwave.io/v1alpha1',
    'kind: UpgradeCampaign',
    `metadata: { name: ${name} }`,
    'spec:',
    '  target: { kubernetesVersion: "1.31" }',
    '  waves:',
    `    - ${wave}`,
    '',
  ].join('\n');
}

async function expectNotStarted(name: string): Promise<void> {
  const { client } = await getTestTemporal();
  await expect(client.workflow.getHandle(campaignWorkflowId(name)).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
}

describe('fleetwave CLI: bad input exits 2 and starts nothing', () => {
  it('names the invalid field of the campaign, with its line', async () => {
    const name = `bad-spec-${process.pid}`;
    const file = writeFile('bad.yaml', campaignYaml(name, '{ name: canary, maxParallel: 0 }'));
    const run = await runCli(['start', '-f', file, '--fleet', EXAMPLE_FLEET], {
      env: { TEMPORAL_ADDRESS: testTemporalAddress().address },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('spec.waves[0].maxParallel (line 7): must be >= 1');
    expect(run.stdout).toBe('');
    await expectNotStarted(name);
  });

  it('refuses a campaign with no cluster to upgrade', async () => {
    const name = `no-match-${process.pid}`;
    const file = writeFile(
      'nomatch.yaml',
      campaignYaml(name, '{ name: all, selector: { matchLabels: { env: nowhere } } }'),
    );
    const run = await runCli(['start', '-f', file, '--fleet', EXAMPLE_FLEET], {
      env: { TEMPORAL_ADDRESS: testTemporalAddress().address },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/has no cluster to upgrade/);
    await expectNotStarted(name);
  });

  it('exits 2 for a missing option, a missing file or an invalid fleet', async () => {
    const missingOption = await runCli(['start', '--fleet', EXAMPLE_FLEET]);
    expect(missingOption.code).toBe(2);
    expect(missingOption.stderr).toMatch(/required option '-f, --file <campaign.yaml>' not specified/);

    const missingFile = await runCli(['start', '-f', path.join(dir, 'nope.yaml'), '--fleet', EXAMPLE_FLEET]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toMatch(/nope\.yaml: no such file/);

    const fleet = writeFile(
      'fleet.yaml',
      'apiVersion: fleetwave.io/v1alpha1\nkind: Fleet\nclusters:\n  - { name: a, region: moon-1 }\n',
    );
    const badFleet = await runCli(['start', '-f', 'examples/campaign.yaml', '--fleet', fleet]);
    expect(badFleet.code).toBe(2);
    expect(badFleet.stderr).toMatch(/clusters\[0\]\.region \(line 4\): must be an AWS region/);

    const badInterval = await runCli(['watch', 'x', '--interval', 'soon']);
    expect(badInterval.code).toBe(2);
    expect(badInterval.stderr).toMatch(/--interval soon: must be a number of seconds/);
  });

  it('exits 2 for a campaign that does not exist', async () => {
    const run = await runCli(['status', `nosuch-${process.pid}`], {
      env: { TEMPORAL_ADDRESS: testTemporalAddress().address },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `error: no campaign "nosuch-${process.pid}" (workflow campaign/nosuch-${process.pid} not found)`,
    );
  });
});

describe('fleetwave CLI: unreachable Temporal', () => {
  it('prints one line and exits 1 within a few seconds', async () => {
    const port = await findFreePort();
    for (const args of [
      ['start', '-f', 'examples/campaign.yaml', '--fleet', EXAMPLE_FLEET],
      ['list'],
      ['status', 'x'],
    ]) {
      const run = await runCli(args, { env: { TEMPORAL_ADDRESS: `127.0.0.1:${port}` } });
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toBe(
        `error: cannot reach Temporal at 127.0.0.1:${port} (from TEMPORAL_ADDRESS); ` +
          'start one with: npm run demo, or temporal server start-dev\n',
      );
      expect(run.stdout).toBe('');
      // 3 s connect timeout plus the CLI's start-up (tsx) on a busy 2-core machine.
      expect(run.ms).toBeLessThan(12_000);
    }
  });
});

describe('fleetwave worker: bad configuration', () => {
  it('exits 2 naming every bad variable, before connecting anywhere', async () => {
    const port = await findFreePort();
    const run = await runCli(['worker'], {
      env: {
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        FLEETWAVE_MAX_CONCURRENT_ACTIVITIES: 'lots',
        FLEETWAVE_SHUTDOWN_GRACE: '30',
        FLEETWAVE_METRICS_ADDRESS: 'everywhere',
        LOG_LEVEL: 'chatty',
      },
    });
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      'error: FLEETWAVE_MAX_CONCURRENT_ACTIVITIES="lots": must be a whole number',
      'error: FLEETWAVE_METRICS_ADDRESS="everywhere": must be host:port such as "0.0.0.0:9464", or empty to disable metrics',
      'error: FLEETWAVE_SHUTDOWN_GRACE="30": must be a duration such as "30s" or "2m"',
      'error: LOG_LEVEL="chatty": must be one of trace, debug, info, warn, error',
    ]);
    // It failed on the configuration, not on the (closed) Temporal port.
    expect(run.stderr).not.toMatch(/cannot reach/);
  });

  it('exits 1 with one line when Temporal is unreachable', async () => {
    const port = await findFreePort();
    const run = await runCli(['worker'], {
      env: { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, FLEETWAVE_METRICS_ADDRESS: '' },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: cannot reach Temporal at 127.0.0.1:${port} (from TEMPORAL_ADDRESS)`);
  });
});
