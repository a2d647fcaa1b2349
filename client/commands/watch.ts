/**
 * `fleetwave watch NAME [--interval S]`: live progress per wave and cluster. On a terminal the
 * frame is redrawn in place; otherwise (CI logs, pipes) one line is printed per change. Polls the
 * status query every ~1.5 s and exits when the campaign closes, with the code of `start --wait`:
 * 0 completed (warning line for completed-with-failures), 3 failed or aborted.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { InvalidInputError, NoWorkerError } from '../errors';
import { describeChanges, formatWatchFrame } from '../format';
import type { FleetwaveClient } from '../library';
import type { CampaignResult, CampaignStatus } from '../../workflows/definitions';
import { exitCodeForResult, setExitCode, withClient } from './support';

/** Options for {@link watchCampaign}. */
export interface WatchOptions {
  /** Time between status queries. Default: 1.5 s. */
  intervalMs?: number;
  /** Redraw frames in place (a terminal); otherwise print one line per change. Default: false. */
  tty?: boolean;
  /** Terminal rows, to fit the frame. Default: 40. */
  rows?: number;
}

/** Follows a campaign until it closes and returns its result. */
export async function watchCampaign(
  io: CliIO,
  fw: FleetwaveClient,
  name: string,
  opts: WatchOptions = {},
): Promise<CampaignResult> {
  const out = { write: io.out };
  const tty = opts.tty ?? false;
  const intervalMs = opts.intervalMs ?? 1_500;
  // Fails fast on an unknown name before the loop starts.
  await fw.isRunning(name);

  let result: CampaignResult | undefined;
  let failure: unknown;
  const done = fw.waitForCampaign(name).then(
    (r) => (result = r),
    (err: unknown) => (failure = err),
  );

  let previous: CampaignStatus | undefined;
  let drawnLines = 0;
  let notice: string | undefined;
  const draw = (lines: string[]) => {
    // Cursor up to the first line of the previous frame, then clear to the end of the screen.
    const erase = drawnLines > 0 ? `\x1b[${drawnLines}F\x1b[0J` : '';
    out.write(`${erase}${lines.join('\n')}\n`);
    drawnLines = lines.length;
  };
  const poll = async () => {
    try {
      const status = await fw.getStatus(name);
      notice = undefined;
      if (tty)
        draw(formatWatchFrame(status, { maxClusters: Math.max(5, (opts.rows ?? 40) - status.waves.length - 4) }));
      else for (const line of describeChanges(previous, status)) out.write(`${new Date().toISOString()} ${line}\n`);
      previous = status;
    } catch (err) {
      if (!(err instanceof NoWorkerError)) throw err;
      if (notice !== err.message) {
        notice = err.message;
        if (tty) draw([...(previous ? formatWatchFrame(previous) : []), err.message]);
        else out.write(`${new Date().toISOString()} ${err.message}\n`);
      }
    }
  };

  while (result === undefined && failure === undefined) {
    await poll();
    if (result !== undefined || failure !== undefined) break;
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, intervalMs))]);
  }
  if (failure !== undefined) throw failure;
  // One last frame with the final state (needs a worker to answer the query; skipped if none does).
  await poll().catch(() => undefined);
  const final = result as CampaignResult;
  out.write(`campaign ${final.name} ${final.state}${final.reason ? `: ${final.reason}` : ''}\n`);
  return final;
}

/** The `watch` command. */
export function watchCommand(io: CliIO): Command {
  return new Command('watch')
    .description('follow a campaign live until it ends (exit 3 if it failed or was aborted)')
    .argument('<name>', 'campaign name')
    .option('--interval <seconds>', 'seconds between status queries', '1.5')
    .option('--plain', 'print one line per change even on a terminal')
    .action(async (name: string, opts: { interval: string; plain?: boolean }) => {
      const seconds = Number(opts.interval);
      if (!Number.isFinite(seconds) || seconds < 0.2 || seconds > 600) {
        throw new InvalidInputError(`--interval ${opts.interval}: must be a number of seconds between 0.2 and 600`);
      }
      const tty = !opts.plain && Boolean(process.stdout.isTTY);
      const result = await withClient((fw) =>
        watchCampaign(io, fw, name, { intervalMs: seconds * 1000, tty, rows: process.stdout.rows }),
      );
      setExitCode(exitCodeForResult(io, result));
    });
}
