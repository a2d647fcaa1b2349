/** `fleetwave status NAME [--json]`: waves with counts and state, clusters in trouble, approvals. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { formatStatus } from '../format';
import { printJson, withClient } from './support';

/** The `status` command. */
export function statusCommand(io: CliIO): Command {
  return new Command('status')
    .description("show a campaign's waves, clusters in trouble and approvals")
    .argument('<name>', 'campaign name (metadata.name)')
    .option('--json', 'print the CampaignStatus as JSON')
    .action((name: string, opts: { json?: boolean }) =>
      withClient(async (fw) => {
        const status = await fw.getStatus(name);
        if (opts.json) printJson(io, status);
        else io.out(formatStatus(status, fw.uiUrl(name)));
      }),
    );
}
