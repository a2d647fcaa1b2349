/** `fleetwave resume NAME [--as WHO] [--reason R]`: resumes a paused campaign. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { withClient } from './support';

/** The `resume` command. */
export function resumeCommand(io: CliIO): Command {
  return new Command('resume')
    .description('resume a paused campaign (also acknowledges an exceeded failure budget)')
    .argument('<name>', 'campaign name')
    .option('--as <who>', 'who resumes it (default: your OS user)')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action((name: string, opts: { as?: string; reason?: string }) =>
      withClient(async (fw) => {
        await fw.resumeCampaign(name, { by: opts.as, reason: opts.reason });
        io.out(`resume sent to campaign ${name}\n`);
      }),
    );
}
