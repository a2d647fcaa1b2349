/** `fleetwave skip NAME --cluster C [--as WHO] [--reason R]`: skips a pending, waiting or failed cluster. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { printJson, requireText, withClient } from './support';

/** The `skip` command. */
export function skipCommand(io: CliIO): Command {
  return new Command('skip')
    .description('skip a pending, waiting or failed cluster (exit 2 with the reason when refused)')
    .argument('<name>', 'campaign name')
    .requiredOption('--cluster <cluster>', 'cluster to skip')
    .option('--as <who>', 'who skips it (default: your OS user)')
    .option('--reason <text>', 'why, kept in the audit trail')
    .option('--json', 'print the cluster status as JSON')
    .action(async (name: string, opts: { cluster: string; as?: string; reason?: string; json?: boolean }) => {
      const cluster = requireText(opts.cluster, '--cluster');
      await withClient(async (fw) => {
        const status = await fw.skipCluster(name, { cluster, by: opts.as, reason: opts.reason });
        if (opts.json) printJson(io, status);
        else io.out(`cluster ${status.name} of campaign ${name}: ${status.state}\n`);
      });
    });
}
