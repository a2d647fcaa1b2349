/**
 * `fleetwave approve NAME --wave W --as WHO [--comment C] [--sign-key KEY] [--print-signal]`:
 * approves a wave's promotion through an Update, so a refusal (wrong wave, not an approver, a
 * signature the fleet policy refuses, campaign not waiting) is known at once: it prints the
 * workflow's reason and exits 2 (the request was invalid; nothing changed).
 *
 * With `--sign-key` the approval is signed with an SSH key (client/signing.ts) over a claim naming
 * the campaign's run chain, the wave, the approver, the comment and a validity window.
 * `--print-signal` prints the `approve` Signal's input instead of sending it, to paste into the
 * Temporal Web UI's signal dialog.
 */
import { Command } from 'commander';
import type { ApproveInput } from '../../workflows/definitions';
import type { CliIO } from '../cli';
import { InvalidInputError } from '../errors';
import { signingPlan, withSigningOptions, type SigningFlags } from '../signing';
import { printJson, requireText, signOperatorAction, withClient } from './support';

interface ApproveOptions extends SigningFlags {
  wave: string;
  as: string;
  comment?: string;
  json?: boolean;
  printSignal?: boolean;
  runChain?: string;
}

/** The `approve` command. */
export function approveCommand(io: CliIO): Command {
  return withSigningOptions(
    new Command('approve')
      .description("approve the promotion of a campaign's wave (exit 2 with the reason when refused)")
      .argument('<name>', 'campaign name')
      .requiredOption('--wave <wave>', 'the wave whose promotion you approve')
      .requiredOption('--as <approver>', "who approves (checked against the fleet policy's allowed_signers)")
      .option('--comment <text>', 'why: kept in the audit trail'),
  )
    .option(
      '--print-signal',
      "print the input of the 'approve' Signal (signed with --sign-key) to paste into the Web UI; send nothing",
    )
    .option(
      '--run-chain <run-id>',
      "the campaign's first run ID (the Web UI shows it), so --print-signal needs no connection to Temporal",
    )
    .option('--json', 'print the ApproveResult as JSON')
    .action(async (name: string, opts: ApproveOptions) => {
      const wave = requireText(opts.wave, '--wave');
      const approver = requireText(opts.as, '--as');
      const plan = signingPlan(opts);
      const runChain = opts.runChain === undefined ? undefined : requireText(opts.runChain, '--run-chain');
      if (runChain && !plan) throw new InvalidInputError('--run-chain: only with --sign-key');
      const claim = { action: 'approve' as const, wave, actor: approver, comment: opts.comment };
      const input = (signed: ApproveInput['signed']): ApproveInput => ({
        wave,
        approver,
        ...(opts.comment ? { comment: opts.comment } : {}),
        ...(signed ? { signed } : {}),
      });

      if (opts.printSignal && (runChain || !plan)) {
        const signed = plan && runChain ? await signOperatorAction(undefined, name, plan, claim, runChain) : undefined;
        printJson(io, input(signed));
        return;
      }
      await withClient(async (fw) => {
        const signed = plan ? await signOperatorAction(fw, name, plan, claim, runChain) : undefined;
        if (opts.printSignal) {
          printJson(io, input(signed));
          return;
        }
        const result = await fw.approveWave(name, { wave, approver, comment: opts.comment, signed });
        if (opts.json) printJson(io, result);
        else {
          io.out(
            `approved wave ${result.wave} of ${name} as ${approver}${signed ? ' (signed)' : ''} (${result.approvals}/${result.needed})` +
              `${result.promoted ? ': promoted, the next wave starts' : ''}\n`,
          );
        }
      });
    });
}
