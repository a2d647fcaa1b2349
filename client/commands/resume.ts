/** `fleetwave resume NAME [--as WHO] [--reason R]`: resumes a paused campaign. */
import type { Command } from 'commander';
import type { CliIO } from '../cli';
import { campaignSignalCommand } from './support';

/** The `resume` command. */
export function resumeCommand(io: CliIO): Command {
  return campaignSignalCommand(
    io,
    {
      name: 'resume',
      description: 'resume a paused campaign (also acknowledges an exceeded failure budget)',
      as: 'who resumes it (default: your OS user)',
      reason: 'why, kept in the audit trail',
    },
    (fw, name, opts) => fw.resumeCampaign(name, opts),
  );
}
