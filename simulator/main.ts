/** Entry point: `tsx simulator/main.ts --fleet fleet.yaml` (what `fleetwave sim` runs). */
import { runSimulatorCli } from './cli';

process.exitCode = await runSimulatorCli(process.argv.slice(2));
