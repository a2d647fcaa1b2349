/** `fleetwave list [--all] [--json]`: running campaigns (or all), from Temporal's visibility store. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { formatCampaignList } from '../format';
import { printJson, withClient } from './support';

/** The `list` command. */
export function listCommand(io: CliIO): Command {
  return new Command('list')
    .description('list running campaigns (with --all, ended ones too)')
    .option('--all', 'include campaigns that ended')
    .option('--json', 'print the campaigns as JSON')
    .action((opts: { all?: boolean; json?: boolean }) =>
      withClient(async (fw) => {
        const campaigns = await fw.listCampaigns({ running: !opts.all });
        if (opts.json) printJson(io, campaigns);
        else io.out(formatCampaignList(campaigns));
      }),
    );
}
