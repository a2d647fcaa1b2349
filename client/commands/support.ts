/**
 * What the operator commands share: connecting and always closing, the exit code of an
 * awaited campaign, JSON output and argument checks. Errors are thrown as FleetwaveErrors and
 * turned into one line and an exit code by `main()` in client/cli.ts.
 *
 * Exit codes: 0 ok, 1 runtime failure (Temporal unreachable, no worker answered, unexpected
 * error), 2 bad input (usage, invalid spec or fleet, unknown campaign, refused approval / skip /
 * retry), 3 an awaited campaign ended failed or aborted.
 */
import { Command } from 'commander';
import type { ActionClaim, SignedActionKind, SignedClaim } from '../../domain/signed-actions';
import type { CampaignResult, ClusterStatus } from '../../workflows/definitions';
import type { CliIO } from '../cli';
import { ExitCode, InvalidInputError } from '../errors';
import { connectTemporal, currentUser, type FleetwaveClient, type OperatorOptions } from '../library';
import {
  claimTimes,
  signClaim,
  signingPlan,
  withSigningOptions,
  type SigningFlags,
  type SigningPlan,
} from '../signing';

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

/**
 * Signs one operator action on campaign `name` with the key of `plan`: the claim names the
 * campaign's run chain (looked up through `fw` unless given), the action's own fields, and a
 * validity window starting now.
 */
export async function signOperatorAction(
  fw: FleetwaveClient | undefined,
  name: string,
  plan: SigningPlan,
  fields: Pick<ActionClaim, 'action' | 'actor' | 'wave' | 'cluster' | 'comment'>,
  runChain?: string,
): Promise<SignedClaim> {
  const chain = runChain ?? (await (fw as FleetwaveClient).campaignRunChain(name));
  const claim: ActionClaim = {
    action: fields.action,
    campaign: name,
    runChain: chain,
    ...(fields.wave ? { wave: fields.wave } : {}),
    ...(fields.cluster ? { cluster: fields.cluster } : {}),
    actor: fields.actor,
    ...(fields.comment ? { comment: fields.comment } : {}),
    ...claimTimes(plan),
  };
  return signClaim(claim, plan.keyFile);
}

/**
 * The operator input of a command: who (`--as`, else the OS user), why, and, with `--sign-key`,
 * the action signed. The signing flags are checked before anything is contacted.
 */
async function operatorInput(
  fw: FleetwaveClient,
  name: string,
  action: SignedActionKind,
  plan: SigningPlan | undefined,
  opts: { as?: string; reason?: string; cluster?: string },
): Promise<OperatorOptions> {
  const by = opts.as?.trim() || currentUser();
  const signed = plan
    ? await signOperatorAction(fw, name, plan, { action, actor: by, cluster: opts.cluster, comment: opts.reason })
    : undefined;
  return { by, reason: opts.reason, ...(signed ? { signed } : {}) };
}

/** The words of an operator command: its name, description and the help of `--as` and `--reason`. */
export interface OperatorCommandText {
  /** The command's name, which is also the action a signature names. */
  name: SignedActionKind;
  description: string;
  /** Help of `--as <who>`. */
  as: string;
  /** Help of `--reason <text>`. */
  reason: string;
}

/** `fleetwave <name> NAME [--as WHO] [--reason R]`: `send` signals the campaign, the command says so. */
export function campaignSignalCommand(
  io: CliIO,
  text: OperatorCommandText,
  send: (fw: FleetwaveClient, name: string, opts: OperatorOptions) => Promise<void>,
): Command {
  return withSigningOptions(
    new Command(text.name)
      .description(text.description)
      .argument('<name>', 'campaign name')
      .option('--as <who>', text.as)
      .option('--reason <text>', text.reason),
  ).action((name: string, opts: { as?: string; reason?: string } & SigningFlags) => {
    const plan = signingPlan(opts);
    return withClient(async (fw) => {
      await send(fw, name, await operatorInput(fw, name, text.name, plan, opts));
      io.out(`${text.name} sent to campaign ${name}${plan ? ' (signed)' : ''}\n`);
    });
  });
}

/**
 * `fleetwave <name> NAME --cluster C [--as WHO] [--reason R] [--json]`: `act` sends the campaign an
 * Update about one cluster and the command prints the cluster's status it answers with (`describe`
 * adds to the line).
 */
export function clusterActionCommand(
  io: CliIO,
  text: OperatorCommandText & { cluster: string },
  act: (fw: FleetwaveClient, name: string, opts: OperatorOptions & { cluster: string }) => Promise<ClusterStatus>,
  describe: (status: ClusterStatus) => string = () => '',
): Command {
  return withSigningOptions(
    new Command(text.name)
      .description(text.description)
      .argument('<name>', 'campaign name')
      .requiredOption('--cluster <cluster>', text.cluster)
      .option('--as <who>', text.as)
      .option('--reason <text>', text.reason),
  )
    .option('--json', 'print the cluster status as JSON')
    .action(
      async (name: string, opts: { cluster: string; as?: string; reason?: string; json?: boolean } & SigningFlags) => {
        const cluster = requireText(opts.cluster, '--cluster');
        const plan = signingPlan(opts);
        await withClient(async (fw) => {
          const input = await operatorInput(fw, name, text.name, plan, { ...opts, cluster });
          const status = await act(fw, name, { ...input, cluster });
          if (opts.json) printJson(io, status);
          else io.out(`cluster ${status.name} of campaign ${name}: ${status.state}${describe(status)}\n`);
        });
      },
    );
}
