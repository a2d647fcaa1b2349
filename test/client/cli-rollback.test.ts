/**
 * `fleetwave rollback`'s argument errors: each exits 2 naming the option, before anything is
 * contacted (an address nothing listens on would otherwise exit 1); a campaign that does not
 * exist exits 2 too.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { testTemporalAddress } from '../helpers/temporal';

/** Nothing listens here: a command that got as far as connecting would exit 1, not 2. */
const NOWHERE = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('fleetwave rollback: bad arguments exit 2 naming the option', () => {
  it('needs --wave', async () => {
    const run = await runCli(['rollback', 'c1'], { env: NOWHERE });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/required option '--wave <wave>' not specified/);
    expect(run.stdout).toBe('');
  });

  it('refuses an empty --wave, --cluster or --as', async () => {
    for (const [args, option] of [
      [['--wave', ' '], '--wave'],
      [['--wave', 'canary', '--cluster', ''], '--cluster'],
      [['--wave', 'canary', '--as', ' '], '--as'],
    ] as const) {
      const run = await runCli(['rollback', 'c1', ...args], { env: NOWHERE });
      expect(run.code, `${option}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(`${option}: must not be empty`);
    }
  });

  it('needs the campaign name', async () => {
    const run = await runCli(['rollback', '--wave', 'canary'], { env: NOWHERE });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing required argument 'name'/);
  });

  it('exits 2 for a campaign that does not exist', async () => {
    const name = `nosuch-rollback-${process.pid}`;
    const run = await runCli(['rollback', name, '--wave', 'canary'], {
      env: { TEMPORAL_ADDRESS: testTemporalAddress().address },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`error: no campaign "${name}" (workflow campaign/${name} not found)`);
  });
});
