/**
 * `fleetwave start -f campaign.yaml --fleet fleet.yaml [--as NAME] [--wait] [--json]`: validates
 * both files and plans the campaign (as `plan` does), prints the plan's warnings (`warning: ...`
 * on stderr), checks pinned versions against EKS (client/version-check.ts), starts `campaign/<name>` and prints its ID and Web UI link. Bad input, or a plan
 * with no cluster to upgrade, starts nothing (exit 2). With `--wait` it then waits for the
 * campaign to close: exit 0 completed, 0 with a warning line for completed-with-failures,
 * 3 failed or aborted.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import type { PlannedCampaign } from '../../domain/plan';
import { listNames } from '../../domain/waves';
import { currentUser, validateStartInput } from '../library';
import { checkPinnedVersions, readCampaignFile, readFleetFile } from '../plan';
import { exitCodeForResult, printJson, setExitCode, withClient } from './support';

interface StartOptions {
  file: string;
  fleet: string;
  as?: string;
  wait?: boolean;
  json?: boolean;
}

/** The `start` command. */
export function startCommand(io: CliIO): Command {
  return new Command('start')
    .description('validate a campaign and start it (workflow campaign/<name>)')
    .requiredOption('-f, --file <campaign.yaml>', 'campaign spec (kind: UpgradeCampaign)')
    .requiredOption('--fleet <fleet.yaml>', 'fleet inventory (kind: Fleet)')
    .option('--as <name>', 'who starts it, for the audit trail (default: your OS user)')
    .option('--wait', 'wait until the campaign ends; exit 3 if it failed or was aborted')
    .option('--json', 'print the started campaign (with --wait, and its result) as JSON')
    .action(async (opts: StartOptions) => {
      // Both files are read, validated and planned before anything connects: bad input exits 2
      // even when Temporal is down, and a plan with nothing to upgrade starts nothing.
      const campaign = await readCampaignFile(opts.file);
      const fleet = await readFleetFile(opts.fleet);
      const { plan } = validateStartInput({ campaign, fleet });
      await checkPinnedVersions(opts.file, campaign, plan, 'start');
      await withClient(async (fw) => {
        // Once connected, so an unreachable Temporal stays a one-line failure.
        for (const warning of planWarnings(plan)) io.err(`warning: ${warning}\n`);
        const started = await fw.startCampaign({ campaign, fleet, startedBy: opts.as ?? currentUser() });
        if (!opts.json) {
          io.out(
            `started campaign ${started.name} (${started.clustersTotal} clusters)\n` +
              `  workflow: ${started.workflowId}\n  ui: ${started.uiUrl}\n`,
          );
        }
        if (!opts.wait) {
          if (opts.json) printJson(io, started);
          return;
        }
        if (!opts.json) io.err(`waiting for ${started.name} to end (Ctrl-C stops waiting, not the campaign)\n`);
        const result = await fw.waitForCampaign(started.name);
        if (opts.json) printJson(io, { ...started, result });
        else io.out(`campaign ${result.name} ${result.state}${result.reason ? `: ${result.reason}` : ''}\n`);
        setExitCode(exitCodeForResult(io, result));
      });
    });
}

/** Per-cluster risks printed one per line before the rest are summed up (`fleetwave plan` lists all). */
const MAX_CLUSTER_WARNINGS = 10;

/**
 * What the operator should read before the campaign runs: the plan's warnings, its refusals in
 * one line, and per-cluster risks (blocking PDBs, maintenance windows too short to ever start).
 */
function planWarnings(plan: PlannedCampaign): string[] {
  const lines = [...plan.warnings];
  if (plan.refused.length > 0) {
    lines.push(
      `${plan.refused.length} selected cluster(s) refused by the version rules and left alone: ` +
        listNames(
          plan.refused.map((r) => `${r.cluster} (${r.reason})`),
          3,
        ),
    );
  }
  const risks = plan.waves.flatMap((w) => w.clusters.flatMap((c) => (c.warnings ?? []).map((r) => `${c.name}: ${r}`)));
  lines.push(...risks.slice(0, MAX_CLUSTER_WARNINGS));
  if (risks.length > MAX_CLUSTER_WARNINGS) {
    lines.push(`${risks.length - MAX_CLUSTER_WARNINGS} more cluster warning(s); see fleetwave plan`);
  }
  return lines;
}
