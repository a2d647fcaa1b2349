/** `fleetwave pause NAME [--as WHO] [--reason R]`: running cluster steps finish, nothing new starts. */
import type { Command } from 'commander';
import type { CliIO } from '../cli';
import { campaignSignalCommand } from './support';

/** The `pause` command. */
export function pauseCommand(io: CliIO): Command {
  return campaignSignalCommand(
    io,
    {
      name: 'pause',
      description: 'pause a campaign: clusters in flight finish their current step, nothing new starts',
      as: 'who pauses it (default: your OS user)',
      reason: 'why, shown in status and the audit trail',
    },
    (fw, name, opts) => fw.pauseCampaign(name, opts),
  );
}
