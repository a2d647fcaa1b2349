/**
 * `fleetwave start -f campaign.yaml --fleet fleet.yaml [--as NAME] [--wait] [--json]`: validates
 * both files and plans the campaign (as `plan` does), starts `campaign/<name>` and prints its ID
 * and Web UI link. Bad input starts nothing (exit 2). With `--wait` it then waits for the
 * campaign to close: exit 0 completed, 0 with a warning line for completed-with-failures,
 * 3 failed or aborted.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { currentUser } from '../library';
import { readCampaignFile, readFleetFile } from '../plan';
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
      // Both files are read and validated before anything connects.
      const campaign = await readCampaignFile(opts.file);
      const fleet = await readFleetFile(opts.fleet);
      await withClient(async (fw) => {
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
