/** `fleetwave skip NAME --cluster C [--as WHO] [--reason R]`: skips a pending, waiting or failed cluster. */
import type { Command } from 'commander';
import type { CliIO } from '../cli';
import { clusterActionCommand } from './support';

/** The `skip` command. */
export function skipCommand(io: CliIO): Command {
  return clusterActionCommand(
    io,
    {
      name: 'skip',
      description: 'skip a pending, waiting or failed cluster (exit 2 with the reason when refused)',
      cluster: 'cluster to skip',
      as: 'who skips it (default: your OS user)',
      reason: 'why, kept in the audit trail',
    },
    (fw, name, opts) => fw.skipCluster(name, opts),
  );
}
