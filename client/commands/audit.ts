/**
 * `fleetwave audit NAME [--json]`: every approval (accepted and refused), pause, resume, abort,
 * skip, retry, budget hold and rollback decision of the campaign across all its continue-as-new
 * runs, read back from Temporal (client/audit.ts). `--json` prints JSON lines, one per decision,
 * for a SIEM.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { formatAuditTrail } from '../format';
import { withClient } from './support';

/** The `audit` command. */
export function auditCommand(io: CliIO): Command {
  return new Command('audit')
    .description('print every decision of a campaign across all its runs (approvals, refusals, pauses, skips...)')
    .argument('<name>', 'campaign name (metadata.name)')
    .option('--json', 'print JSON lines, one decision per line (with campaign, run and source)')
    .action((name: string, opts: { json?: boolean }) =>
      withClient(async (fw) => {
        const audit = await fw.readAudit(name);
        if (opts.json) {
          for (const r of audit.records) io.out(`${JSON.stringify({ campaign: name, ...r })}\n`);
          for (const w of audit.warnings) io.err(`warning: ${w}\n`);
        } else io.out(formatAuditTrail(audit));
      }),
    );
}
