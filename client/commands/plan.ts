/**
 * `fleetwave plan -f campaign.yaml --fleet fleet.yaml [--json]`: validate both files and show
 * what the campaign would do (waves, version paths, skips, refusals, risks, ETA). Changes
 * nothing and needs no Temporal server.
 */
import { Command } from 'commander';
import { planFromFiles, renderPlanText } from '../plan';
import type { CliIO } from '../cli';

interface PlanOptions {
  file: string;
  fleet: string;
  json?: boolean;
}

/** Builds the `plan` command; output goes to `io` so tests can run it in-process. */
export function planCommand(io: CliIO): Command {
  return new Command('plan')
    .description('show what a campaign would do: waves, version paths, skips, risks and an ETA (changes nothing)')
    .requiredOption('-f, --file <campaign.yaml>', 'campaign spec (kind: UpgradeCampaign)')
    .requiredOption('--fleet <fleet.yaml>', 'fleet inventory (kind: Fleet)')
    .option('--json', 'print the plan as one JSON object')
    .action(async (opts: PlanOptions) => {
      const plan = await planFromFiles(opts.file, opts.fleet);
      io.out(opts.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlanText(plan));
    });
}
