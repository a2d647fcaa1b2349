/**
 * What the operator commands share: connecting and always closing, the exit code of an
 * awaited campaign, JSON output and argument checks. Errors are thrown as FleetwaveErrors and
 * turned into one line and an exit code by `main()` in client/cli.ts.
 *
 * Exit codes: 0 ok, 1 runtime failure (Temporal unreachable, no worker answered, unexpected
 * error), 2 bad input (usage, invalid spec or fleet, unknown campaign, refused approval / skip /
 * retry), 3 an awaited campaign ended failed or aborted.
 */
import type { CampaignResult } from '../../workflows/definitions';
import type { CliIO } from '../cli';
import { ExitCode, InvalidInputError } from '../errors';
import { connectTemporal, type FleetwaveClient } from '../library';

/** Connects (fast, one-line failure when unreachable), runs `fn`, and always closes the connection. */
export async function withClient<T>(fn: (fw: FleetwaveClient) => Promise<T>): Promise<T> {
  const fw = await connectTemporal();
  try {
    return await fn(fw);
  } finally {
    await fw.close();
  }
}

/** Writes a value as pretty JSON. */
export function printJson(io: CliIO, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Exit code for an awaited campaign: 0 completed; 0 with a warning line for
 * completed-with-failures (the campaign did what its failure budgets allow: the failed clusters
 * are in its result and status, and `retry` can take them again); 3 failed or aborted.
 */
export function exitCodeForResult(io: CliIO, result: CampaignResult): number {
  switch (result.state) {
    case 'completed':
      return ExitCode.ok;
    case 'completed-with-failures': {
      const failed = [...result.failed, ...result.rolledBack, ...(result.blocked ?? [])];
      io.err(
        `warning: campaign ${result.name} completed with failures within its failure budgets: ` +
          `${failed.join(', ') || 'see fleetwave status'}\n`,
      );
      return ExitCode.ok;
    }
    default:
      return ExitCode.campaignFailed;
  }
}

/** Sets the process exit code a command ends with (main() returns it). */
export function setExitCode(code: number): void {
  process.exitCode = code;
}

/** A non-empty trimmed string option, or bad input naming the option. */
export function requireText(value: string | undefined, option: string): string {
  const text = value?.trim();
  if (!text) throw new InvalidInputError(`${option}: must not be empty`);
  return text;
}
