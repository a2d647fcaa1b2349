/**
 * `fleetwave worker`: runs the worker (configuration from the environment, see worker/config.ts).
 * Exit 0 after a clean drain on SIGTERM/SIGINT, 1 when Temporal is unreachable, 2 for bad
 * configuration (one line per bad variable). The worker module and the Temporal native runtime
 * load only when this command runs, so the other commands start fast.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { setExitCode } from './support';

/** The `worker` command. */
export function workerCommand(io: CliIO): Command {
  return new Command('worker')
    .description('run a fleetwave worker (configured by TEMPORAL_* and FLEETWAVE_* environment variables)')
    .action(async () => {
      const { workerMain } = await import('../../worker/main');
      setExitCode(await workerMain(process.env, (line) => io.err(`${line}\n`)));
    });
}
