/**
 * `fleetwave setup [--check] [--cloud|--no-cloud] [--no-worker-check] [--json]`: registers fleetwave's search
 * attributes on the namespace and checks the namespace and the task queue's worker (client/setup.ts).
 * Exits 1 while something is missing, so a deploy pipeline can run it after the worker starts.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { checkSetup, formatSetupReport } from '../setup';
import { printJson, withClient } from './support';

/** The `setup` command. */
export function setupCommand(io: CliIO): Command {
  return new Command('setup')
    .description('register the search attributes on the namespace; check the namespace and that a worker polls')
    .option('--check', 'only report; register nothing')
    .option(
      '--cloud',
      'treat the server as Temporal Cloud (print tcld commands); detected from the address or an API key',
    )
    .option('--no-cloud', 'a self-hosted server, even with an API key')
    .option('--no-worker-check', 'a missing worker is not a failure (setup before the first worker starts)')
    .option('--json', 'print the report as JSON')
    .action((opts: { check?: boolean; cloud?: boolean; workerCheck: boolean; json?: boolean }) =>
      withClient(async (fw) => {
        const report = await checkSetup(fw, {
          register: !opts.check,
          ...(opts.cloud === undefined ? {} : { cloud: opts.cloud }),
        });
        if (!opts.workerCheck) {
          report.missing = report.missing.filter((line) => !line.startsWith('no worker polls'));
          report.ok = report.missing.length === 0;
        }
        if (opts.json) printJson(io, report);
        else io.out(formatSetupReport(report));
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
