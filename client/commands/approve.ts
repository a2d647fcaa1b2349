/**
 * `fleetwave approve NAME --wave W --as WHO [--comment C]`: approves a wave's promotion through
 * an Update, so a refusal (wrong wave, not an approver, campaign not waiting) is known at once:
 * it prints the workflow's reason and exits 2 (the request was invalid; nothing changed).
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { printJson, requireText, withClient } from './support';

interface ApproveOptions {
  wave: string;
  as: string;
  comment?: string;
  json?: boolean;
}

/** The `approve` command. */
export function approveCommand(io: CliIO): Command {
  return new Command('approve')
    .description("approve the promotion of a campaign's wave (exit 2 with the reason when refused)")
    .argument('<name>', 'campaign name')
    .requiredOption('--wave <wave>', 'the wave whose promotion you approve')
    .requiredOption('--as <approver>', 'who approves (checked against spec.approvers.users)')
    .option('--comment <text>', 'why: kept in the audit trail')
    .option('--json', 'print the ApproveResult as JSON')
    .action(async (name: string, opts: ApproveOptions) => {
      const wave = requireText(opts.wave, '--wave');
      const approver = requireText(opts.as, '--as');
      await withClient(async (fw) => {
        const result = await fw.approveWave(name, { wave, approver, comment: opts.comment });
        if (opts.json) printJson(io, result);
        else {
          io.out(
            `approved wave ${result.wave} of ${name} as ${approver} (${result.approvals}/${result.needed})` +
              `${result.promoted ? ': promoted, the next wave starts' : ''}\n`,
          );
        }
      });
    });
}
