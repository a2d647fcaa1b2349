/** `fleetwave retry NAME --cluster C [--as WHO] [--reason R]`: retries a cluster on the pinned versions. */
import type { Command } from 'commander';
import type { CliIO } from '../cli';
import { clusterActionCommand } from './support';

/** The `retry` command. */
export function retryCommand(io: CliIO): Command {
  return clusterActionCommand(
    io,
    {
      name: 'retry',
      description: "retry a failed, rolled-back, blocked or skipped cluster with the campaign's pinned versions",
      cluster: 'cluster to retry',
      as: 'who retries it (default: your OS user)',
      reason: 'why, kept in the audit trail',
    },
    (fw, name, opts) => fw.retryCluster(name, opts),
    (status) => ` (attempt ${status.attempts})`,
  );
}
