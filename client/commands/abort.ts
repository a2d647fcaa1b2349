/** `fleetwave abort NAME --reason R [--as WHO]`: stops the campaign; in-flight clusters roll back per the spec. */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { currentUser } from '../library';
import { signingPlan, withSigningOptions, type SigningFlags } from '../signing';
import { requireText, signOperatorAction, withClient } from './support';

/** The `abort` command. */
export function abortCommand(io: CliIO): Command {
  return withSigningOptions(
    new Command('abort')
      .description('abort a campaign: clusters in flight stop at a safe point and roll back what the spec says')
      .argument('<name>', 'campaign name')
      .requiredOption('--reason <text>', 'why (required: kept in the audit trail)')
      .option('--as <who>', 'who aborts it (default: your OS user)'),
  ).action(async (name: string, opts: { as?: string; reason: string } & SigningFlags) => {
    const reason = requireText(opts.reason, '--reason');
    const by = opts.as?.trim() || currentUser();
    const plan = signingPlan(opts);
    await withClient(async (fw) => {
      const signed = plan
        ? await signOperatorAction(fw, name, plan, { action: 'abort', actor: by, comment: reason })
        : undefined;
      await fw.abortCampaign(name, { by, reason, signed });
      io.out(`abort sent to campaign ${name}${signed ? ' (signed)' : ''}\n`);
    });
  });
}
