/**
 * The fleetwave CLI. `bin/fleetwave.mjs` (or `npx tsx client/cli.ts`) runs {@link main}.
 *
 * Adding a command: put it in its own module under client/commands/ exporting a factory that
 * returns a commander `Command` (see commands/plan.ts), and add one line to COMMANDS below.
 * A command reports failure by throwing a FleetwaveError (client/errors.ts), whose exitCode
 * main() returns, or by setting process.exitCode itself; main() prints thrown errors as
 * `error: <message>` (one line per message line). Usage errors exit 2, help and --version 0.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad input, 3 an awaited campaign failed (errors.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, FleetwaveError } from './errors';
import { abortCommand } from './commands/abort';
import { approveCommand } from './commands/approve';
import { auditCommand } from './commands/audit';
import { codecServerCommand } from './commands/codec-server';
import { discoverCommand } from './commands/discover';
import { doctorCommand } from './commands/doctor';
import { freezeCommand, paceCommand } from './commands/freeze';
import { listCommand } from './commands/list';
import { pauseCommand } from './commands/pause';
import { planCommand } from './commands/plan';
import { releaseHoldsCommand } from './commands/release-holds';
import { resumeCommand } from './commands/resume';
import { setupCommand } from './commands/setup';
import { simCommand } from './commands/sim';
import { retryCommand } from './commands/retry';
import { rollbackCommand } from './commands/rollback';
import { skipCommand } from './commands/skip';
import { startCommand } from './commands/start';
import { statusCommand } from './commands/status';
import { watchCommand } from './commands/watch';
import { workerCommand } from './commands/worker';

/** Where a command writes; the process streams by default, buffers in tests. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** The process's stdout and stderr. */
export const processIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Every subcommand, in help order. One line per command module. */
const COMMANDS: ReadonlyArray<(io: CliIO) => Command> = [
  planCommand,
  startCommand,
  statusCommand,
  watchCommand,
  auditCommand,
  approveCommand,
  pauseCommand,
  resumeCommand,
  abortCommand,
  skipCommand,
  retryCommand,
  rollbackCommand,
  releaseHoldsCommand,
  freezeCommand,
  paceCommand,
  listCommand,
  discoverCommand,
  doctorCommand,
  setupCommand,
  workerCommand,
  codecServerCommand,
  simCommand,
];

function packageVersion(): string {
  // ../package.json from client/cli.ts, ../../package.json from the build's dist/client/cli.js.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'fleetwave') return pkg.version ?? '0.0.0';
    } catch {
      // not there: try the next place
    }
  }
  return '0.0.0';
}

/**
 * Makes commander throw instead of calling process.exit, on the command and all its
 * subcommands (addCommand does not pass the setting on), and routes its output to `io`.
 */
function configureTree(command: Command, io: CliIO): void {
  command.exitOverride();
  command.configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const sub of command.commands) configureTree(sub, io);
}

/** The program with every command registered, not yet parsed. */
export function buildProgram(io: CliIO = processIO): Command {
  const program = new Command('fleetwave')
    .description('upgrade fleets of EKS clusters in waves, durably, on Temporal')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError();
  for (const make of COMMANDS) program.addCommand(make(io));
  configureTree(program, io);
  return program;
}

/** Maps what a command threw to an exit code, printing it unless commander already did. */
function exitCodeFor(err: unknown, io: CliIO): number {
  if (err instanceof CommanderError) {
    // Commander printed its message (or the help) already.
    return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
      ? ExitCode.ok
      : ExitCode.badInput;
  }
  const message = err instanceof Error ? err.message : String(err);
  for (const line of message.split('\n')) io.err(`error: ${line}\n`);
  if (err instanceof FleetwaveError) return err.exitCode;
  if (process.env.FLEETWAVE_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
  return ExitCode.runtimeFailure;
}

/** Parses `argv` (node-style: [node, script, ...args]) and runs the command; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv, io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return exitCodeFor(err, io);
  }
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) process.exitCode = await main();
