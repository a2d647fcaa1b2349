/** `fleetwave abort NAME --reason R [--as WHO]`: stops the campaign; in-flight clusters roll back per the spec. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { requireText, withClient } from './support';

/** The `abort` command. */
export function abortCommand(io: CliIO): Command {
  return new Command('abort')
    .description('abort a campaign: clusters in flight stop at a safe point and roll back what the spec says')
    .argument('<name>', 'campaign name')
    .requiredOption('--reason <text>', 'why (required: kept in the audit trail)')
    .option('--as <who>', 'who aborts it (default: your OS user)')
    .action(async (name: string, opts: { as?: string; reason: string }) => {
      const reason = requireText(opts.reason, '--reason');
      await withClient(async (fw) => {
        await fw.abortCampaign(name, { by: opts.as, reason });
        io.out(`abort sent to campaign ${name}\n`);
      });
    });
}
