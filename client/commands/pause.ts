/** `fleetwave pause NAME [--as WHO] [--reason R]`: running cluster steps finish, nothing new starts. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { withClient } from './support';

/** The `pause` command. */
export function pauseCommand(io: CliIO): Command {
  return new Command('pause')
    .description('pause a campaign: clusters in flight finish their current step, nothing new starts')
    .argument('<name>', 'campaign name')
    .option('--as <who>', 'who pauses it (default: your OS user)')
    .option('--reason <text>', 'why, shown in status and the audit trail')
    .action((name: string, opts: { as?: string; reason?: string }) =>
      withClient(async (fw) => {
        await fw.pauseCampaign(name, { by: opts.as, reason: opts.reason });
        io.out(`pause sent to campaign ${name}\n`);
      }),
    );
}
