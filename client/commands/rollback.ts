/**
 * `fleetwave rollback NAME --wave W [--cluster C] [--as WHO] [--reason R] [--sign-key KEY] [--json]`:
 * undoes a promoted wave (or one cluster of it) through an Update, so a refusal is known at once:
 * it prints the workflow's reason and exits 2 (nothing changed). Accepted, it prints per cluster
 * what is to go back and what stays; the rollback-only runs then go on in the background and
 * their ends show in `fleetwave status` (cluster state `rolled-back`, with what stayed in its reason).
 *
 * What can go back is what EKS allows now: add-ons and custom-AMI node groups by the rollback
 * rules (domain/node-models.ts), and the control plane by VersionRollback only where the spec
 * opts in (spec.rollback.afterPromotion.controlPlane), within 7 days of its upgrade and while its
 * rollback-readiness insights pass (EKS refuses it otherwise, and the control plane stays).
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { currentUser } from '../library';
import { signingPlan, withSigningOptions, type SigningFlags } from '../signing';
import { printJson, requireText, signOperatorAction, withClient } from './support';

interface RollbackOptions extends SigningFlags {
  wave: string;
  cluster?: string;
  as?: string;
  reason?: string;
  json?: boolean;
}

/** The `rollback` command. */
export function rollbackCommand(io: CliIO): Command {
  return withSigningOptions(
    new Command('rollback')
      .description(
        'roll back a promoted wave (or one of its clusters) as far as EKS allows now (exit 2 with the reason when refused)',
      )
      .argument('<name>', 'campaign name')
      .requiredOption('--wave <wave>', 'the promoted wave to undo')
      .option('--cluster <cluster>', 'only this cluster of the wave')
      .option('--as <who>', 'who rolls back (default: your OS user)')
      .option('--reason <text>', 'why, kept in the audit trail'),
  )
    .option('--json', 'print the RollbackWaveResult as JSON')
    .action(async (name: string, opts: RollbackOptions) => {
      const wave = requireText(opts.wave, '--wave');
      const cluster = opts.cluster === undefined ? undefined : requireText(opts.cluster, '--cluster');
      const by = opts.as === undefined ? currentUser() : requireText(opts.as, '--as');
      const plan = signingPlan(opts);
      await withClient(async (fw) => {
        const signed = plan
          ? await signOperatorAction(fw, name, plan, {
              action: 'rollback',
              actor: by,
              wave,
              cluster,
              comment: opts.reason,
            })
          : undefined;
        const result = await fw.rollbackWave(name, {
          by,
          wave,
          ...(cluster ? { cluster } : {}),
          ...(opts.reason ? { reason: opts.reason } : {}),
          ...(signed ? { signed } : {}),
        });
        if (opts.json) {
          printJson(io, result);
          return;
        }
        const started = result.clusters.filter((c) => c.started).length;
        io.out(
          `rolling back wave ${result.wave} of ${name}${signed ? ' (signed)' : ''}: ${started} of ${result.clusters.length} cluster(s) started\n`,
        );
        for (const c of result.clusters) {
          io.out(`  ${c.cluster}: ${c.started ? `goes back: ${c.goesBack.join('; ')}` : 'nothing to undo'}\n`);
          for (const s of c.stays) io.out(`    stays: ${s}\n`);
        }
        io.out(`follow the rollbacks with: fleetwave status ${name}\n`);
      });
    });
}
