/**
 * `fleetwave sim ...`: the simulator's own command line (simulator/cli.ts), loaded only when
 * this command runs so the rest of the CLI starts fast. Every argument after `sim` is passed through.
 */
import { Command } from 'commander';
import { setExitCode } from './support';

/** The `sim` command. */
export function simCommand(): Command {
  return new Command('sim')
    .description('run the EKS fleet simulator (fleetwave sim --help for its options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'simulator arguments')
    .action(async (args: string[]) => {
      const { runSimulatorCli } = await import('../../simulator/cli');
      const code = await runSimulatorCli(args);
      setExitCode(typeof code === 'number' ? code : 0);
    });
}
