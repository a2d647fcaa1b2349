/**
 * fleetwave's client library: a small, typed API for scripts and the CLI.
 *
 * ```ts
 * const fw = await connectTemporal();
 * try {
 *   const { workflowId } = await fw.startCampaign({ campaign, fleet, startedBy: 'ci' });
 *   await fw.approveWave('k8s-131', { wave: 'canary', approver: 'alice' });
 *   const result = await fw.waitForCampaign('k8s-131');
 * } finally {
 *   await fw.close();
 * }
 * ```
 *
 * It imports only the shared contract (workflows/definitions.ts, search attributes) and
 * domain/ validation; never the workflow or activity code.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { ClusterAccessReport } from '../domain/access';
import {
  Client,
  Connection,
  isGrpcDeadlineError,
  isGrpcServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { toFleetMembers, fleetSchema, type FleetMember } from '../domain/fleet';
import { buildPlan, type PlannedCampaign } from '../domain/plan';
import { validateCampaign, formatPath, type ValidationIssue } from '../domain/load';
import type { SignedClaim } from '../domain/signed-actions';
import type { Campaign, CampaignInput } from '../domain/spec';
import {
  abortSignal,
  approveWaveUpdate,
  campaignWorkflowId,
  DEFAULT_TASK_QUEUE,
  doctorWorkflowId,
  type ClusterAccessCheckInput,
  pauseSignal,
  resumeSignal,
  retryClusterUpdate,
  rollbackWaveUpdate,
  skipClusterUpdate,
  statusQuery,
  WorkflowTypes,
  type ApproveInput,
  type ApproveResult,
  type CampaignResult,
  type CampaignStatus,
  type CampaignWorkflowInput,
  type ClusterStatus,
  type OperatorInput,
  type RollbackWaveInput,
  type RollbackWaveResult,
} from '../workflows/definitions';
import {
  AwaitingApprovalKey,
  campaignStartAttributes,
  CampaignNameKey,
  CampaignStateKey,
  ClustersDoneKey,
  ClustersFailedKey,
  ClustersTotalKey,
  ClusterNameKey,
  CurrentWaveKey,
  TargetVersionKey,
  UpgradeStepKey,
} from '../workflows/search-attributes';
import {
  CampaignAlreadyRunningError,
  CampaignNotFoundError,
  FleetwaveError,
  InvalidInputError,
  NoWorkerError,
  TemporalUnreachableError,
  UpdateRefusedError,
  ExitCode,
} from './errors';
import { readCampaignAudit, type CampaignAudit } from './audit';
import { probeEndpoint, speaksTls } from './endpoint-probe';
import { HOST_PORT, loadTemporalConnectConfig } from './temporal-env';
import { campaignIssuesBeyondSchema } from './campaign-checks';
import { fleetwaveDataConverter } from './payload-codec';

/** Default Temporal Web UI of `temporal server start-dev` (and of `npm run demo`). */
export const DEFAULT_TEMPORAL_UI = 'http://127.0.0.1:8233';

const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const DEFAULT_UPDATE_TIMEOUT_MS = 30_000;

type Env = Record<string, string | undefined>;

/** Options for {@link connectTemporal}. */
export interface ConnectOptions {
  /** Environment to read TEMPORAL_* and FLEETWAVE_TASK_QUEUE from. Default: `process.env`. */
  env?: Env;
  /** Give up connecting after this long. Default: 3 s. */
  connectTimeoutMs?: number;
  /** Task queue campaigns start on. Default: FLEETWAVE_TASK_QUEUE, else `fleetwave`. */
  taskQueue?: string;
}

/**
 * Connects to Temporal the way the `temporal` CLI would (`@temporalio/envconfig`: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and temporal.toml).
 * Fails within the connect timeout with {@link TemporalUnreachableError} (one line: where it
 * tried, why that address, how to start a server). Close the returned client when done.
 */
export async function connectTemporal(opts: ConnectOptions = {}): Promise<FleetwaveClient> {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  const config = loadTemporalConnectConfig(env, problems);
  if (!config) throw new InvalidInputError(problems.join('\n'));
  let connection: Connection;
  try {
    connection = await Connection.connect({
      ...config.connection,
      connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
  } catch (err) {
    throw await connectFailure(config.connection.address, config.addressSource, config.connection.tls, err);
  }
  const client = new Client({ connection, namespace: config.namespace, dataConverter: fleetwaveDataConverter });
  return new FleetwaveClient({
    client,
    taskQueue: opts.taskQueue ?? (env.FLEETWAVE_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE),
    address: config.connection.address,
    uiBase: env.FLEETWAVE_TEMPORAL_UI,
    close: () => connection.close(),
  });
}

/** How long the probe after a failed connect waits for an answer. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * Why a connect failed, blaming the right thing: an endpoint that answers in another protocol
 * (an HTTP server, the Web UI port, TLS where the settings say plain text) is a setting to fix
 * (exit 2, naming where the address came from); anything else is an unreachable server (exit 1).
 */
async function connectFailure(
  address: string,
  addressSource: string,
  tls: unknown,
  err: unknown,
): Promise<FleetwaveError> {
  const unreachable = new TemporalUnreachableError(address, addressSource, { cause: err });
  const hostPort = HOST_PORT.exec(address);
  if (!hostPort) return unreachable;
  const host = hostPort[1] as string;
  const port = Number(hostPort[2]);
  let kind = await probeEndpoint(host, port, PROBE_TIMEOUT_MS);
  // A TLS port hangs up on a plain-text preface; a handshake tells it apart.
  if (kind === 'closed' && (await speaksTls(host, port, PROBE_TIMEOUT_MS))) kind = 'tls';
  const setting = addressSource === 'default' ? 'the default address' : addressSource;
  const notFrontend = (why: string) =>
    new InvalidInputError(
      `${setting}: ${address} is not a Temporal frontend (${why}); point it at the frontend's gRPC port (7233 by default), not the Web UI or an HTTP API`,
    );
  if (kind === 'http1') return notFrontend('it answers HTTP/1, Temporal answers gRPC over HTTP/2');
  if (kind === 'other') return notFrontend('it answers, but not in HTTP/2');
  if (kind === 'closed' && !tls) return notFrontend('it closes the connection without an HTTP/2 answer');
  if (kind === 'tls' && !tls) {
    return new InvalidInputError(
      `${setting}: ${address} answers with TLS, but no TLS is configured; set TEMPORAL_TLS=true (or TEMPORAL_API_KEY, or a profile's tls)`,
    );
  }
  return unreachable;
}

/**
 * Link to a workflow in the Temporal Web UI. The UI is FLEETWAVE_TEMPORAL_UI when set, Temporal
 * Cloud's for a `*.tmprl.cloud` address, else the dev server's {@link DEFAULT_TEMPORAL_UI}.
 */
export function temporalUiUrl(
  address: string | undefined,
  namespace: string,
  workflowId: string,
  env: Env = process.env,
): string {
  const explicit = env.FLEETWAVE_TEMPORAL_UI?.trim();
  const base =
    explicit || (address && /\.tmprl\.cloud(:\d+)?$/.test(address) ? 'https://cloud.temporal.io' : DEFAULT_TEMPORAL_UI);
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** What {@link FleetwaveClient.startCampaign} takes. */
export interface StartCampaignInput {
  /** The campaign document (parsed YAML or an object); validated again here. */
  campaign: CampaignInput | Campaign | unknown;
  /** The fleet: a Fleet document (validated here) or members already projected (e.g. from discovery). */
  fleet: unknown;
  /** Who starts it, for the audit trail. Default: the OS user. */
  startedBy?: string;
}

/** What {@link FleetwaveClient.startCampaign} returns. */
export interface StartedCampaign {
  name: string;
  workflowId: string;
  runId: string;
  /** Clusters of the fleet the campaign's selector matched. */
  clustersTotal: number;
  /** Link to the campaign in the Temporal Web UI. */
  uiUrl: string;
}

/** One line of {@link FleetwaveClient.listCampaigns}. */
export interface CampaignSummary {
  name: string;
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, CANCELLED, TIMED_OUT, CONTINUED_AS_NEW. */
  executionStatus: string;
  /** The campaign's own state from its search attribute, when set. */
  state?: string;
  targetVersion?: string;
  currentWave?: string;
  clustersTotal?: number;
  clustersDone?: number;
  clustersFailed?: number;
  awaitingApproval?: boolean;
  startTime: string;
  closeTime?: string;
}

/** Who does an operator action and why. */
export interface OperatorOptions {
  /** Default: the OS user. */
  by?: string;
  reason?: string;
  /** The action signed with the operator's SSH key (client/signing.ts), for a fleet policy that wants it. */
  signed?: SignedClaim;
}

/** Options for {@link FleetwaveClient} built around an existing Temporal client (tests, embedding). */
export interface FleetwaveClientOptions {
  client: Client;
  /** Default: `fleetwave`. */
  taskQueue?: string;
  /** Temporal frontend address, for UI links and messages. */
  address?: string;
  /** Temporal Web UI base URL. Default: see {@link temporalUiUrl}. */
  uiBase?: string;
  /** Called by {@link FleetwaveClient.close} (closes the connection {@link connectTemporal} opened). */
  close?: () => Promise<void>;
  /** How long a status query may take before it fails with {@link NoWorkerError}. Default: 10 s. */
  queryTimeoutMs?: number;
  /** How long an update (approve, skip, retry) may take. Default: 30 s. */
  updateTimeoutMs?: number;
}

/** A connected fleetwave client: start, inspect and steer campaigns. */
export class FleetwaveClient {
  /** The underlying Temporal client, for anything this API does not cover. */
  readonly client: Client;
  readonly taskQueue: string;
  readonly namespace: string;
  readonly address?: string;
  private readonly uiBase?: string;
  private readonly closeFn?: () => Promise<void>;
  private readonly queryTimeoutMs: number;
  private readonly updateTimeoutMs: number;

  constructor(opts: FleetwaveClientOptions) {
    this.client = opts.client;
    this.taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.namespace = opts.client.options.namespace;
    this.address = opts.address;
    this.uiBase = opts.uiBase;
    this.closeFn = opts.close;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.updateTimeoutMs = opts.updateTimeoutMs ?? DEFAULT_UPDATE_TIMEOUT_MS;
  }

  /** Link to campaign `name` in the Temporal Web UI. */
  uiUrl(name: string): string {
    const env = this.uiBase ? { FLEETWAVE_TEMPORAL_UI: this.uiBase } : process.env;
    return temporalUiUrl(this.address, this.namespace, campaignWorkflowId(name), env);
  }

  /**
   * `fleetwave doctor`: checks every cluster of the fleet (a fleet file's content or members) from
   * the worker that will serve it (workflows/doctor.ts), and returns one report per cluster. Needs a
   * worker on this client's task queue and one on each cluster's queue; a queue nobody polls is
   * reported after `scheduleToStartTimeout` (default one minute).
   */
  async checkClusterAccess(
    fleet: unknown,
    opts: { scheduleToStartTimeout?: string } = {},
  ): Promise<ClusterAccessReport[]> {
    const members = toMembers(fleet);
    const input: ClusterAccessCheckInput = {
      clusters: members.map((m) => ({
        cluster: { name: m.name, region: m.region, account: m.account, ...(m.roleArn ? { roleArn: m.roleArn } : {}) },
        ...(m.taskQueue ? { taskQueue: m.taskQueue } : {}),
      })),
      ...(opts.scheduleToStartTimeout ? { scheduleToStartTimeout: opts.scheduleToStartTimeout } : {}),
    };
    return this.client.workflow.execute(WorkflowTypes.clusterAccessCheck, {
      workflowId: doctorWorkflowId(randomUUID()),
      taskQueue: this.taskQueue,
      args: [input],
      staticSummary: `doctor: ${members.length} cluster${members.length === 1 ? '' : 's'}`,
    });
  }

  /**
   * Validates the campaign and fleet, then starts `campaign/<name>` with its search attributes
   * (CampaignName, CampaignState, TargetVersion, ClustersTotal) and a summary for the Web UI.
   * Throws {@link InvalidInputError} (nothing started) or {@link CampaignAlreadyRunningError}.
   */
  async startCampaign(input: StartCampaignInput): Promise<StartedCampaign> {
    const { campaign, fleet, plan } = validateStartInput(input);
    const name = campaign.metadata.name;
    const workflowId = campaignWorkflowId(name);
    const startedBy = input.startedBy?.trim() || currentUser();
    const target = campaign.spec.target.kubernetesVersion;
    const clustersTotal = plannedClusters(plan);
    const workflowInput: CampaignWorkflowInput = { campaign, fleet, startedBy };
    try {
      const handle = await this.client.workflow.start(WorkflowTypes.campaign, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [workflowInput],
        typedSearchAttributes: campaignStartAttributes(name, target, clustersTotal),
        staticSummary: campaignSummary(plan, startedBy),
      });
      return { name, workflowId, runId: handle.firstExecutionRunId, clustersTotal, uiUrl: this.uiUrl(name) };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CampaignAlreadyRunningError(name, workflowId);
      throw err;
    }
  }

  /**
   * The campaign's status (its `status` query), with the live step of each upgrading cluster read
   * from the `UpgradeStep` search attribute of its cluster-upgrade run. Children do not signal
   * every step to the campaign, which keeps the campaign's history small; visibility carries it.
   */
  async getStatus(name: string, opts: { liveSteps?: boolean } = {}): Promise<CampaignStatus> {
    const handle = this.handle(name);
    const status = await this.call(name, 'status query', this.queryTimeoutMs, () => handle.query(statusQuery));
    if ((opts.liveSteps ?? true) && status.clusters.some((c) => c.state === 'upgrading')) {
      const steps = await this.liveClusterSteps(name).catch(() => new Map<string, string>());
      for (const cluster of status.clusters) {
        const step = cluster.state === 'upgrading' ? steps.get(cluster.name) : undefined;
        if (step) cluster.step = step;
      }
    }
    return status;
  }

  /** ClusterName → UpgradeStep of the running cluster-upgrade runs of campaign `name`. */
  async liveClusterSteps(name: string): Promise<Map<string, string>> {
    const query =
      `WorkflowType = '${WorkflowTypes.clusterUpgrade}' AND ExecutionStatus = 'Running' ` +
      `AND ${CampaignNameKey.name} = '${name}'`;
    const steps = new Map<string, string>();
    for await (const info of this.client.workflow.list({ query })) {
      const cluster = info.typedSearchAttributes.get(ClusterNameKey);
      const step = info.typedSearchAttributes.get(UpgradeStepKey);
      if (cluster && step) steps.set(cluster, step);
    }
    return steps;
  }

  /**
   * Approves the promotion of `wave`. The workflow validates it at once: a refusal (wrong wave,
   * not an approver, campaign not waiting) throws {@link UpdateRefusedError} with its reason.
   */
  async approveWave(
    name: string,
    approval: { wave: string; approver?: string; comment?: string; signed?: SignedClaim },
  ): Promise<ApproveResult> {
    const handle = this.handle(name);
    const args: ApproveInput = {
      wave: approval.wave,
      approver: approval.approver?.trim() || currentUser(),
      ...(approval.comment ? { comment: approval.comment } : {}),
      ...(approval.signed ? { signed: approval.signed } : {}),
    };
    return this.call(name, 'approval', this.updateTimeoutMs, () =>
      handle.executeUpdate(approveWaveUpdate, { args: [args] }),
    );
  }

  /**
   * The run chain of campaign `name`: the first run ID of its newest workflow, the same across
   * continue-as-new. A signed claim names it, so a signature never counts for another campaign of
   * the same name.
   */
  async campaignRunChain(name: string): Promise<string> {
    const description = await this.call(name, 'describe', this.queryTimeoutMs, () => this.handle(name).describe());
    const firstRunId = description.raw.workflowExecutionInfo?.firstRunId;
    if (!firstRunId)
      throw new FleetwaveError(`campaign "${name}": Temporal did not report its first run ID`, ExitCode.runtimeFailure);
    return firstRunId;
  }

  /**
   * The campaign's whole audit trail across its continue-as-new runs (client/audit.ts). Throws
   * {@link CampaignNotFoundError} when no campaign has that name.
   */
  async readAudit(name: string): Promise<CampaignAudit> {
    try {
      return await readCampaignAudit(this.client, name, { queryTimeoutMs: this.queryTimeoutMs });
    } catch (err) {
      throw this.translate(name, 'audit', err);
    }
  }

  /** Pauses the campaign: running cluster steps finish, nothing new starts (a Signal). */
  async pauseCampaign(name: string, opts: OperatorOptions = {}): Promise<void> {
    const handle = this.handle(name);
    await this.call(name, 'pause', this.queryTimeoutMs, () => handle.signal(pauseSignal, operator(opts)));
  }

  /** Resumes a paused campaign (a Signal). */
  async resumeCampaign(name: string, opts: OperatorOptions = {}): Promise<void> {
    const handle = this.handle(name);
    await this.call(name, 'resume', this.queryTimeoutMs, () => handle.signal(resumeSignal, operator(opts)));
  }

  /** Aborts the campaign: in-flight clusters stop at a safe point and roll back what the spec says (a Signal). */
  async abortCampaign(name: string, opts: OperatorOptions & { reason: string }): Promise<void> {
    const handle = this.handle(name);
    await this.call(name, 'abort', this.queryTimeoutMs, () => handle.signal(abortSignal, operator(opts)));
  }

  /** Skips a pending, waiting or failed cluster (an Update: refusals throw {@link UpdateRefusedError}). */
  async skipCluster(name: string, opts: OperatorOptions & { cluster: string }): Promise<ClusterStatus> {
    const handle = this.handle(name);
    const args = { ...operator(opts), cluster: opts.cluster };
    return this.call(name, 'skip', this.updateTimeoutMs, () =>
      handle.executeUpdate(skipClusterUpdate, { args: [args] }),
    );
  }

  /** Retries a failed, rolled-back, blocked or skipped cluster on the campaign's pinned versions (an Update). */
  async retryCluster(name: string, opts: OperatorOptions & { cluster: string }): Promise<ClusterStatus> {
    const handle = this.handle(name);
    const args = { ...operator(opts), cluster: opts.cluster };
    return this.call(name, 'retry', this.updateTimeoutMs, () =>
      handle.executeUpdate(retryClusterUpdate, { args: [args] }),
    );
  }

  /**
   * Rolls back a promoted wave, or one cluster of it (an Update): starts the clusters'
   * rollback-only runs and answers what each is to undo and what stays. A refusal (wave not
   * promoted, nothing upgraded left, a signature the fleet policy refuses) throws
   * {@link UpdateRefusedError} with its reason. The runs' ends show in the campaign's status.
   */
  async rollbackWave(
    name: string,
    opts: OperatorOptions & { wave: string; cluster?: string },
  ): Promise<RollbackWaveResult> {
    const handle = this.handle(name);
    const args: RollbackWaveInput = {
      ...operator(opts),
      wave: opts.wave,
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
    };
    return this.call(name, 'rollback', this.updateTimeoutMs, () =>
      handle.executeUpdate(rollbackWaveUpdate, { args: [args] }),
    );
  }

  /**
   * Campaigns in this namespace, newest first, from Temporal's visibility store (search attributes,
   * no workflow is queried). `running: true` lists only running ones. Visibility lags a second or so.
   */
  async listCampaigns(opts: { running?: boolean; limit?: number } = {}): Promise<CampaignSummary[]> {
    let query = `WorkflowType = '${WorkflowTypes.campaign}'`;
    if (opts.running) query += ` AND ExecutionStatus = 'Running'`;
    const limit = opts.limit ?? 1000;
    const out: CampaignSummary[] = [];
    for await (const info of this.client.workflow.list({ query })) {
      out.push(toSummary(info));
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Waits for the campaign to close (across continue-as-new) and returns its result. A workflow that
   * failed, was terminated or cancelled yields a result with state `failed` or `aborted` and the reason.
   */
  async waitForCampaign(name: string): Promise<CampaignResult> {
    const handle = this.handle(name);
    try {
      return (await handle.result()) as CampaignResult;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CampaignNotFoundError(name);
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause;
        const cancelled = cause?.name === 'CancelledFailure' || cause?.name === 'TerminatedFailure';
        return {
          name,
          state: cancelled ? 'aborted' : 'failed',
          upgraded: [],
          rolledBack: [],
          failed: [],
          skipped: [],
          reason: cause?.message ?? err.message,
        };
      }
      throw err;
    }
  }

  /** Whether campaign `name`'s newest run is still running; throws {@link CampaignNotFoundError}. */
  async isRunning(name: string): Promise<boolean> {
    try {
      const description = await this.handle(name).describe();
      return description.status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CampaignNotFoundError(name);
      throw err;
    }
  }

  /** Closes the connection opened by {@link connectTemporal}. Safe to call twice. */
  async close(): Promise<void> {
    await this.closeFn?.().catch(() => undefined);
  }

  private handle(name: string): WorkflowHandle {
    return this.client.workflow.getHandle(campaignWorkflowId(name));
  }

  /** Runs one call on campaign `name` under a deadline and turns SDK errors into fleetwave's. */
  private async call<T>(name: string, what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + timeoutMs, fn);
    } catch (err) {
      throw this.translate(name, what, err);
    }
  }

  private translate(name: string, what: string, err: unknown): unknown {
    if (err instanceof FleetwaveError) return err;
    if (err instanceof WorkflowNotFoundError) {
      return /already completed|already finished/i.test(err.message)
        ? new FleetwaveError(`campaign "${name}" has already ended; ${what} not sent`, ExitCode.badInput)
        : new CampaignNotFoundError(name);
    }
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      const reason = cause instanceof ApplicationFailure || cause instanceof Error ? cause.message : err.message;
      return new UpdateRefusedError(what, reason);
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(err) || isNoPoller(err)) {
      return new NoWorkerError(this.taskQueue, what);
    }
    return err;
  }
}

function isDeadlineExceeded(err: unknown): boolean {
  return isGrpcDeadlineError(err) || (err instanceof Error && /deadline exceeded/i.test(err.message));
}

/** The server refuses a query at once when no worker polled the task queue lately (FAILED_PRECONDITION). */
function isNoPoller(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return isGrpcServiceError(cause) && cause.code === FAILED_PRECONDITION && /no poller/i.test(cause.details);
}

/** gRPC status FAILED_PRECONDITION. */
const FAILED_PRECONDITION = 9;

/**
 * Validates the campaign and fleet and plans the campaign the way `fleetwave plan` does. Throws
 * {@link InvalidInputError} naming each bad field, or when no wave takes a single cluster (nothing
 * to start); returns the campaign with defaults, the fleet as workflow members, and the plan.
 */
export function validateStartInput(input: StartCampaignInput): {
  campaign: Campaign;
  fleet: FleetMember[];
  plan: PlannedCampaign;
} {
  const campaign = validateCampaign(input.campaign);
  if (!campaign.ok) throw InvalidInputError.fromIssues('campaign', campaign.issues);
  const beyond = campaignIssuesBeyondSchema(campaign.value);
  if (beyond.length > 0) throw InvalidInputError.fromIssues('campaign', beyond);
  const fleet = toMembers(input.fleet);
  const plan = buildPlan(campaign.value, fleet);
  if (plannedClusters(plan) === 0) {
    const issue = nothingToUpgrade(campaign.value, plan);
    const message = `campaign ${campaign.value.metadata.name} has no cluster to upgrade: ${issue.message}; see fleetwave plan`;
    throw new InvalidInputError(`${issue.path}: ${message}`, [{ path: issue.path, message }]);
  }
  return { campaign: campaign.value, fleet, plan };
}

/**
 * Why a plan has nothing to do, naming the field to fix: the fleet is empty, spec.selector
 * matches nothing, the version rules refuse or skip every selected cluster (the target), or
 * no wave takes any of the upgradable ones (the waves).
 */
function nothingToUpgrade(campaign: Campaign, plan: PlannedCampaign): ValidationIssue {
  const { selected, fleetSize } = plan.campaign;
  if (fleetSize === 0) return { path: 'clusters', message: 'the fleet lists no cluster' };
  if (selected === 0) return { path: 'spec.selector', message: `selects none of the ${fleetSize} fleet clusters` };
  if (plan.unplaced.length > 0) {
    return { path: 'spec.waves', message: `no wave takes any of the ${plan.unplaced.length} upgradable clusters` };
  }
  const reasons = [
    plan.refused.length > 0
      ? `${plan.refused.length} refused by the version rules (${plan.refused[0]?.cluster}: ${plan.refused[0]?.reason})`
      : undefined,
    plan.skipped.length > 0 ? `${plan.skipped.length} already at target` : undefined,
  ].filter(Boolean);
  return {
    path: campaign.spec.target.kubernetesVersion !== undefined ? 'spec.target.kubernetesVersion' : 'spec.target',
    message: `of ${selected} selected clusters, ${reasons.join(' and ')}`,
  };
}

function plannedClusters(plan: PlannedCampaign): number {
  return plan.waves.reduce((sum, wave) => sum + wave.clusters.length, 0);
}

function toMembers(fleet: unknown): FleetMember[] {
  if (Array.isArray(fleet)) {
    const issues: ValidationIssue[] = [];
    const seen = new Set<string>();
    fleet.forEach((m: Partial<FleetMember>, i) => {
      if (!m || typeof m.name !== 'string' || !m.name)
        issues.push({ path: formatPath([i, 'name']), message: 'is required' });
      else if (seen.has(m.name)) issues.push({ path: formatPath([i, 'name']), message: `duplicates "${m.name}"` });
      else seen.add(m.name);
    });
    if (issues.length > 0) throw InvalidInputError.fromIssues('fleet', issues);
    return fleet as FleetMember[];
  }
  const parsed = fleetSchema.safeParse(fleet);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
    throw InvalidInputError.fromIssues('fleet', issues);
  }
  return toFleetMembers(parsed.data);
}

function campaignSummary(plan: PlannedCampaign, startedBy: string): string {
  const { campaign, waves, estimate } = plan;
  const clusters = plannedClusters(plan);
  return (
    `Upgrade ${clusters} cluster${clusters === 1 ? '' : 's'} to ${campaign.targetDescription} in ${waves.length} ` +
    `wave${waves.length === 1 ? '' : 's'} (ETA ≥ ${estimate.human}; started by ${startedBy})`
  );
}

function operator(opts: OperatorOptions): OperatorInput {
  return {
    by: opts.by?.trim() || currentUser(),
    ...(opts.reason ? { reason: opts.reason } : {}),
    ...(opts.signed ? { signed: opts.signed } : {}),
  };
}

/** The OS user, for `startedBy` / `by` when the caller names no one. */
export function currentUser(): string {
  try {
    return os.userInfo().username || process.env.USER || 'unknown';
  } catch {
    return process.env.USER || 'unknown';
  }
}

function toSummary(info: WorkflowExecutionInfo): CampaignSummary {
  const sa = info.typedSearchAttributes;
  const name = sa.get(CampaignNameKey) ?? info.workflowId.replace(/^campaign\//, '');
  return {
    name,
    workflowId: info.workflowId,
    runId: info.runId,
    executionStatus: info.status.name,
    state: sa.get(CampaignStateKey),
    targetVersion: sa.get(TargetVersionKey),
    currentWave: sa.get(CurrentWaveKey),
    clustersTotal: sa.get(ClustersTotalKey),
    clustersDone: sa.get(ClustersDoneKey),
    clustersFailed: sa.get(ClustersFailedKey),
    awaitingApproval: sa.get(AwaitingApprovalKey),
    startTime: info.startTime.toISOString(),
    ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
  };
}
