/**
 * checkClusterHealth: one activity per health-check phase of a cluster upgrade (baseline, after a
 * step, bake), so that a phase costs the workflow one activity instead of one per gate plus one
 * for the Kubernetes checks.
 *
 * - Every gate of the phase runs at once, each with the same loop as evaluateHealthGate
 *   (prometheus.ts). The first gate that ends anything but Successful (Failed, Inconclusive,
 *   Error) stops the others: the phase is unhealthy whatever they would say.
 * - The Kubernetes checks run after every gate passed, not alongside: a crash loop needs a few
 *   restarts before it shows as CrashLoopBackOff, so a snapshot taken at the end of the
 *   observation window (the bake) catches what one taken at its start would miss. They take
 *   seconds, so running them last costs no time worth having.
 * - Progress (every gate's tally, and the results of gates already decided) is heartbeated as
 *   one {@link ClusterHealthProgress}; a retried attempt continues each gate's tally and does not
 *   run a decided gate again. The Kubernetes checks heartbeat on a timer while they run.
 */
import { CancelledFailure } from '@temporalio/common';
import { gateErrorResult } from '../domain/gates';
import type { ActivityRuntime } from './context';
import { activityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import type { GateProgress, GateRunOptions } from './prometheus';
import { isGateProgress } from './prometheus';
import type {
  CheckClusterHealthInput,
  CheckClusterHealthResult,
  EvaluateHealthGateInput,
  EvaluateHealthGatesInput,
  EvaluateHealthGatesResult,
  GateResult,
  KubernetesHealthInput,
  KubernetesHealthResult,
} from './types';

/** Heartbeat interval while the Kubernetes checks run (their calls have 30 s timeouts each). */
const KUBERNETES_HEARTBEAT_MS = 10_000;

/** Heartbeat details of checkClusterHealth. */
export interface ClusterHealthProgress {
  cluster: string;
  phase: string;
  /** One slot per gate of the input, in its order. */
  gates: { gate: string; progress?: GateProgress; result?: GateResult }[];
}

/** Heartbeat details of evaluateHealthGates: one slot per input item, keyed `cluster/gate`. */
export interface GateBatchProgress {
  phase: string;
  slots: { key: string; progress?: GateProgress; result?: GateResult }[];
}

/** Pairs of one evaluateHealthGates call evaluated at once by default. */
const DEFAULT_BATCH_CONCURRENCY = 20;

export interface HealthParts {
  runGate: (
    rt: ActivityRuntime,
    input: EvaluateHealthGateInput,
    opts: GateRunOptions,
  ) => Promise<GateResult | undefined>;
  checkKubernetesHealth: (input: KubernetesHealthInput) => Promise<KubernetesHealthResult>;
}

function isHealthProgress(value: unknown, input: CheckClusterHealthInput): value is ClusterHealthProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<ClusterHealthProgress>;
  return v.cluster === input.cluster.name && v.phase === input.phase && Array.isArray(v.gates);
}

/** "gate latency (postStep): Failed: 2 failures (limit 0)", without repeating the gate's own prefix. */
export function describeGateFailure(result: GateResult, cluster: string): string {
  let message = result.message;
  const prefix = `gate ${result.gate} (${result.phase}) on ${cluster}: `;
  if (message.startsWith(prefix)) message = message.slice(prefix.length);
  if (message.startsWith(`${result.outcome}: `)) message = message.slice(result.outcome.length + 2);
  return `gate ${result.gate} (${result.phase}): ${result.outcome}: ${message}`;
}

export function createHealthActivities(deps: ResolvedDeps, parts: HealthParts) {
  async function checkClusterHealth(input: CheckClusterHealthInput): Promise<CheckClusterHealthResult> {
    const rt = activityRuntime(deps.logger);
    return runClusterHealth(rt, input, { resumed: rt.heartbeatDetails, report: (p) => rt.heartbeat(p) });
  }

  /**
   * checkClusterHealth's work on a given runtime, resuming from `resumed` when it is this phase's
   * progress; `report` gets the progress to heartbeat (a composite step nests it in its own
   * heartbeat details).
   */
  async function runClusterHealth(
    rt: ActivityRuntime,
    input: CheckClusterHealthInput,
    opts: { resumed?: unknown; report: (progress: ClusterHealthProgress) => void },
  ): Promise<CheckClusterHealthResult> {
    const cluster = input.cluster.name;
    const resumed = opts.resumed && isHealthProgress(opts.resumed, input) ? opts.resumed : undefined;
    const progress: ClusterHealthProgress = {
      cluster,
      phase: input.phase,
      gates: input.gates.map((gate, i) => {
        const slot = resumed?.gates[i];
        return slot?.gate === gate.name ? { ...slot } : { gate: gate.name };
      }),
    };
    const beat = (): void => opts.report({ ...progress, gates: progress.gates.map((g) => ({ ...g })) });
    if (resumed) rt.log.info('Resuming health checks', { cluster, phase: input.phase });

    const failed = (r: GateResult | undefined): boolean => r !== undefined && r.outcome !== 'Successful';
    const stop = new AbortController();
    if (progress.gates.some((g) => failed(g.result))) stop.abort();

    const runs = input.gates.map(async (gate, i) => {
      const slot = progress.gates[i] as ClusterHealthProgress['gates'][number];
      if (slot.result || stop.signal.aborted) return;
      const required = input.requiredSuccessesByGate?.[gate.name] ?? input.requiredSuccesses;
      const gateInput: EvaluateHealthGateInput = {
        cluster: input.cluster,
        gate,
        phase: input.phase,
        ...(required !== undefined ? { requiredSuccesses: required } : {}),
        ...(input.context ? { context: input.context } : {}),
      };
      try {
        const result = await parts.runGate(rt, gateInput, {
          ...(slot.progress && isGateProgress(slot.progress, gateInput) ? { resumed: slot.progress } : {}),
          report: (p) => {
            slot.progress = p;
            beat();
          },
          stop: stop.signal,
        });
        if (!result) return;
        slot.result = result;
        delete slot.progress;
        beat();
        if (failed(result)) stop.abort();
      } catch (err) {
        stop.abort();
        throw err;
      }
    });
    // Wait for every gate to end (a failure stops the rest quickly), then report the first error.
    const settled = await Promise.allSettled(runs);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;

    const gates = progress.gates.flatMap((g) => (g.result ? [g.result] : []));
    const failures = gates.filter((g) => failed(g)).map((g) => describeGateFailure(g, cluster));
    let kubernetes: KubernetesHealthResult | undefined;
    if (failures.length === 0 && input.runKubernetesChecks) {
      const ticker = setInterval(beat, KUBERNETES_HEARTBEAT_MS);
      try {
        kubernetes = await parts.checkKubernetesHealth({
          cluster: input.cluster,
          checks: input.checks,
          ...(input.expectedKubeletMinor ? { expectedKubeletMinor: input.expectedKubeletMinor } : {}),
          ...(input.baseline ? { baseline: input.baseline } : {}),
        });
      } finally {
        clearInterval(ticker);
      }
      if (!kubernetes.healthy) failures.push(`kubernetes checks: ${kubernetes.failures.join('; ')}`);
    }
    rt.log.info('Cluster health', {
      cluster,
      phase: input.phase,
      healthy: failures.length === 0,
      gates: gates.length,
      failures: failures.length,
    });
    return { healthy: failures.length === 0, gates, ...(kubernetes ? { kubernetes } : {}), failures };
  }

  /**
   * A batch of cluster × gate pairs (a wave's soak gates), `concurrency` at a time, each with the
   * gate loop of evaluateHealthGate. Every pair is evaluated (a failure does not stop the others:
   * the operator sees every result before deciding). A pair whose evaluation throws is an Error
   * result, never a pass. Decided results and running tallies are heartbeated, so a retried
   * attempt evaluates only what was not decided and continues each running tally.
   */
  async function evaluateHealthGates(input: EvaluateHealthGatesInput): Promise<EvaluateHealthGatesResult> {
    const rt = activityRuntime(deps.logger);
    const keys = input.items.map((item) => `${item.cluster.name}/${item.gate.name}`);
    const previous = rt.heartbeatDetails as Partial<GateBatchProgress> | undefined;
    const resumed =
      previous && previous.phase === input.phase && Array.isArray(previous.slots) ? previous.slots : undefined;
    const progress: GateBatchProgress = {
      phase: input.phase,
      slots: keys.map((key, i) => {
        const slot = resumed?.[i];
        return slot?.key === key ? { ...slot } : { key };
      }),
    };
    const beat = (): void => rt.heartbeat({ phase: progress.phase, slots: progress.slots.map((s) => ({ ...s })) });
    if (resumed) {
      rt.log.info('Resuming gate batch', {
        phase: input.phase,
        decided: progress.slots.filter((s) => s.result).length,
        total: keys.length,
      });
    }

    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < input.items.length; i = next++) {
        const slot = progress.slots[i] as GateBatchProgress['slots'][number];
        if (slot.result) continue;
        const item = input.items[i] as EvaluateHealthGatesInput['items'][number];
        const gateInput: EvaluateHealthGateInput = {
          cluster: item.cluster,
          gate: item.gate,
          phase: input.phase,
          ...(item.context ? { context: item.context } : {}),
        };
        let result: GateResult | undefined;
        try {
          result = await parts.runGate(rt, gateInput, {
            ...(slot.progress && isGateProgress(slot.progress, gateInput) ? { resumed: slot.progress } : {}),
            report: (p) => {
              slot.progress = p;
              beat();
            },
          });
        } catch (err) {
          if (err instanceof CancelledFailure) throw err;
          const message = err instanceof Error ? err.message : String(err);
          result = gateErrorResult(
            item.gate.name,
            input.phase,
            `gate ${item.gate.name} (${input.phase}) on ${item.cluster.name}: evaluation failed: ${message}`,
          );
        }
        if (!result) continue;
        slot.result = result;
        delete slot.progress;
        beat();
      }
    };
    const lanes = Math.max(1, Math.min(input.concurrency ?? DEFAULT_BATCH_CONCURRENCY, input.items.length));
    await Promise.all(Array.from({ length: lanes }, lane));
    const results = progress.slots.map((s) => s.result as GateResult);
    rt.log.info('Gate batch', {
      phase: input.phase,
      pairs: results.length,
      successful: results.filter((r) => r.outcome === 'Successful').length,
    });
    return { results };
  }

  return { checkClusterHealth, evaluateHealthGates, runClusterHealth };
}
