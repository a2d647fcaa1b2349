/** `fleetwave retry NAME --cluster C [--as WHO] [--reason R]`: retries a cluster on the pinned versions. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { printJson, requireText, withClient } from './support';

/** The `retry` command. */
export function retryCommand(io: CliIO): Command {
  return new Command('retry')
    .description("retry a failed, rolled-back, blocked or skipped cluster with the campaign's pinned versions")
    .argument('<name>', 'campaign name')
    .requiredOption('--cluster <cluster>', 'cluster to retry')
    .option('--as <who>', 'who retries it (default: your OS user)')
    .option('--reason <text>', 'why, kept in the audit trail')
    .option('--json', 'print the cluster status as JSON')
    .action(async (name: string, opts: { cluster: string; as?: string; reason?: string; json?: boolean }) => {
      const cluster = requireText(opts.cluster, '--cluster');
      await withClient(async (fw) => {
        const status = await fw.retryCluster(name, { cluster, by: opts.as, reason: opts.reason });
        if (opts.json) printJson(io, status);
        else io.out(`cluster ${status.name} of campaign ${name}: ${status.state} (attempt ${status.attempts})\n`);
      });
    });
}
