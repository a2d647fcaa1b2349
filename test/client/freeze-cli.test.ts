/**
 * `fleetwave freeze` and `fleetwave pace`: bad arguments exit 2 naming the problem before any
 * connection (in process, through main()); and the real CLI adds, lists and removes a freeze on
 * the test server, served by a worker in this process.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../client/cli';
import { freezeInputFromOptions, paceFromOptions } from '../../client/commands/freeze';
import { InvalidInputError } from '../../client/errors';
import { runCli } from '../helpers/cli';
import { getWorkflowBundle } from '../helpers/bundle';
import { getTestTemporal, testTemporalAddress, type TestTemporal } from '../helpers/temporal';
import { withWorker } from '../workflows/campaign-harness';

function buffers(): { io: CliIO; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

/** Runs the CLI in process; TEMPORAL_ADDRESS points nowhere, so reaching Temporal would fail with exit 1. */
async function run(args: string[]): Promise<{ code: number; err: string }> {
  const b = buffers();
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const code = await main(['node', 'fleetwave', ...args], b.io);
    return { code, err: b.err() };
  } finally {
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  }
}

describe('fleetwave freeze add: argument errors exit 2 and connect to nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['no reason', ['--for', '4h'], /--reason: a freeze needs a reason/],
    ['no range or window', ['--reason', 'x'], /give --until, --for or --weekly/],
    [
      'until and for',
      ['--reason', 'x', '--until', '2099-01-01T00:00:00Z', '--for', '4h'],
      /--until or --for, not both/,
    ],
    ['bad until', ['--reason', 'x', '--until', 'next tuesday'], /until "next tuesday" is not an ISO date-time/],
    ['until in the past', ['--reason', 'x', '--until', '2001-01-01T00:00:00Z'], /until is in the past/],
    [
      'until before from',
      ['--reason', 'x', '--from', '2099-01-02T00:00:00Z', '--until', '2099-01-01T00:00:00Z'],
      /until must be later than from/,
    ],
    ['bad duration', ['--reason', 'x', '--for', 'forever'], /--for "forever": must be a duration/],
    [
      'weekly and a range',
      ['--reason', 'x', '--weekly', '--start', '18:00', '--end', '06:00', '--for', '4h'],
      /--weekly cannot be combined/,
    ],
    ['weekly flags without --weekly', ['--reason', 'x', '--days', 'Fri', '--for', '4h'], /need --weekly/],
    ['weekly without start', ['--reason', 'x', '--weekly', '--end', '06:00'], /--weekly needs --start/],
    [
      'bad day',
      ['--reason', 'x', '--weekly', '--days', 'Fri,Caturday', '--start', '18:00', '--end', '06:00'],
      /unknown day\(s\) Cat/,
    ],
    ['bad time', ['--reason', 'x', '--weekly', '--start', '25:00', '--end', '06:00'], /start "25:00" must be a time/],
    [
      'bad timezone',
      ['--reason', 'x', '--weekly', '--start', '18:00', '--end', '06:00', '--timezone', 'Mars/Base'],
      /timezone "Mars\/Base"/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await run(['freeze', 'add', ...args]);
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/^error: freeze add: /m);
      expect(r.code).toBe(2);
    });
  }

  it('freeze remove needs a freeze id', async () => {
    const r = await run(['freeze', 'remove', 'holiday']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('"holiday" is not a freeze id');
  });

  it('pace set checks the rate and the burst', async () => {
    expect((await run(['pace', 'set'])).err).toContain('--rate is required');
    expect((await run(['pace', 'set', '--rate', 'fast'])).err).toContain('must look like 10/h');
    const r = await run(['pace', 'set', '--rate', '10/h', '--burst', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--burst "0": must be a whole number >= 1');
  });

  it('builds ranges and weekly windows from the flags', () => {
    const now = Date.parse('2026-12-03T06:00:00Z');
    expect(freezeInputFromOptions({ reason: 'incident', for: '4h', timezone: 'UTC', as: 'ops' }, now)).toEqual({
      reason: 'incident',
      addedBy: 'ops',
      until: '2026-12-03T10:00:00.000Z',
    });
    expect(
      freezeInputFromOptions(
        {
          reason: 'weekend',
          weekly: true,
          days: 'fri,sat',
          start: '18:00',
          end: '06:00',
          timezone: 'Europe/Berlin',
          as: 'ops',
        },
        now,
      ).weekly,
    ).toEqual({ days: ['Fri', 'Sat'], start: '18:00', end: '06:00', timezone: 'Europe/Berlin' });
    expect(paceFromOptions({ rate: '10/h', burst: '3' })).toEqual({ starts: 10, per: '1h', burst: 3 });
    expect(paceFromOptions({ rate: '3/10m' })).toEqual({ starts: 3, per: '10m' });
    expect(() => freezeInputFromOptions({ reason: ' ', for: '1h', timezone: 'UTC' }, now)).toThrow(InvalidInputError);
  });
});

describe('fleetwave freeze: the real CLI against the test server', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await getTestTemporal();
    await getWorkflowBundle();
  });

  it('adds, lists and removes a freeze; a removed id is refused', { timeout: 120_000 }, async () => {
    const taskQueue = temporal.taskQueue('freeze-cli');
    const env = { TEMPORAL_ADDRESS: testTemporalAddress().address, FLEETWAVE_TASK_QUEUE: taskQueue };
    await withWorker(temporal, taskQueue, {}, async () => {
      const empty = await runCli(['freeze', 'list'], { env });
      expect(empty.stdout).toContain('no freezes');
      const added = await runCli(['freeze', 'add', '--reason', 'payments incident', '--for', '2h', '--as', 'ops'], {
        env,
      });
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      expect(added.stdout).toMatch(/^added f1: .* payments incident/);
      const weekly = await runCli(
        ['freeze', 'add', '--reason', 'weekend', '--weekly', '--days', 'Sat,Sun', '--start', '00:00', '--end', '23:59'],
        { env },
      );
      expect(weekly.stdout).toMatch(/^added f2: weekly Sat,Sun 00:00-23:59 UTC/);
      const paced = await runCli(['pace', 'set', '--rate', '10/h', '--burst', '3'], { env });
      expect(paced.stdout).toContain('fleet-wide pace: 10 start(s) per 1h, burst 3');
      const listed = await runCli(['freeze', 'list'], { env });
      console.log(listed.stdout);
      expect(listed.stdout).toMatch(/^frozen: payments incident until \d{4}-/);
      expect(listed.stdout).toContain('f1  ');
      expect(listed.stdout).toContain('f2  weekly Sat,Sun');
      const removed = await runCli(['freeze', 'remove', 'f1'], { env });
      expect(removed.code).toBe(0);
      const again = await runCli(['freeze', 'remove', 'f1'], { env });
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('freeze remove refused: no freeze f1 (freezes: f2)');
      const json = await runCli(['freeze', 'list', '--json'], { env });
      const view = JSON.parse(json.stdout) as { freezes: { id: string }[]; pace?: { starts: number } };
      expect(view.freezes.map((f) => f.id)).toEqual(['f2']);
      expect(view.pace?.starts).toBe(10);
    });
  });
});
