/**
 * Errors of the client library, each carrying the CLI exit code it maps to:
 * 1 runtime failure (Temporal unreachable, no worker answered), 2 bad input (invalid spec,
 * unknown campaign, refused approval), 3 an awaited campaign ended failed or aborted.
 */
import type { ValidationIssue } from '../domain/load';
import { formatIssue } from '../domain/load';

/** Exit codes of the fleetwave CLI. */
export const ExitCode = {
  ok: 0,
  runtimeFailure: 1,
  badInput: 2,
  campaignFailed: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: every fleetwave client error says which exit code it deserves. */
export class FleetwaveError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The campaign or fleet (or another argument) is invalid; nothing was started. */
export class InvalidInputError extends FleetwaveError {
  constructor(
    message: string,
    readonly issues: ValidationIssue[] = [],
  ) {
    super(message, ExitCode.badInput);
  }

  /** One error listing every issue, each naming its path (`spec.waves[1].maxParallel: must be >= 1`). */
  static fromIssues(what: string, issues: ValidationIssue[], file?: string): InvalidInputError {
    const lines = issues.map((issue) => formatIssue(issue, file));
    return new InvalidInputError(`${what} is invalid:\n  ${lines.join('\n  ')}`, issues);
  }
}

/** The Temporal frontend did not answer within the connect timeout. */
export class TemporalUnreachableError extends FleetwaveError {
  constructor(
    readonly address: string,
    readonly addressSource: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot reach Temporal at ${address} (from ${addressSource}); start one with: npm run demo, or temporal server start-dev`,
      ExitCode.runtimeFailure,
      options,
    );
  }
}

/** `campaign/<name>` is already running. */
export class CampaignAlreadyRunningError extends FleetwaveError {
  constructor(
    readonly campaign: string,
    readonly workflowId: string,
  ) {
    super(
      `campaign "${campaign}" is already running (workflow ${workflowId}); watch it with: fleetwave status ${campaign}, or abort it first`,
      ExitCode.badInput,
    );
  }
}

/** No campaign workflow with that name exists (in this namespace). */
export class CampaignNotFoundError extends FleetwaveError {
  constructor(readonly campaign: string) {
    super(`no campaign "${campaign}" (workflow campaign/${campaign} not found)`, ExitCode.badInput);
  }
}

/** The campaign workflow's validator refused an update (wrong wave, not an approver, not waiting...). */
export class UpdateRefusedError extends FleetwaveError {
  constructor(
    readonly update: string,
    readonly reason: string,
  ) {
    super(`${update} refused: ${reason}`, ExitCode.badInput);
  }
}

/** No worker answered a query or update (none polls the task queue, or none answered in time). */
export class NoWorkerError extends FleetwaveError {
  constructor(taskQueue: string, what: string) {
    super(
      `no worker answered the ${what} on task queue "${taskQueue}"; is one running (fleetwave worker)?`,
      ExitCode.runtimeFailure,
    );
  }
}
