/**
 * The health-check rounds of a cluster upgrade (baseline, after a step, verify and bake): which
 * gates and Kubernetes checks a round runs, with how many passes, and how long it may take.
 * Each round is one checkClusterHealth activity. Pure: unit-tested without Temporal.
 */
import { parseDuration } from '../../domain/duration';
import { GATE_TIMEOUT_MARGIN_MS, gateWorstCaseMs } from '../../domain/gates';
import type { CampaignSpec, GatePhase, HealthGateSpec } from '../../domain/spec';
import type { ClusterUpgradeInput } from '../definitions';
import type { KubernetesChecks } from '../../activities/types';
import type { UpgradePlan } from './plan';

/** One checkClusterHealth call, without what every call shares (cluster, spec.kubernetesChecks, baseline). */
export interface CheckRun {
  phase: GatePhase;
  gates: HealthGateSpec[];
  requiredSuccessesByGate?: Record<string, number>;
  runKubernetesChecks: boolean;
  expectedKubeletMinor?: Record<string, string>;
}

/** What the Kubernetes checks may add after the gates (a few list calls of at most 30 s each). */
export const KUBERNETES_CHECKS_MS = 2 * 60_000;

/** The spec's gates that run in `phase`, in spec order. */
export function gatesFor(spec: Pick<CampaignSpec, 'healthGates'>, phase: GatePhase): HealthGateSpec[] {
  return spec.healthGates.filter((g) => g.phases.includes(phase));
}

/** Whether spec.kubernetesChecks asks for anything (kubelet versions only where a minor is expected). */
export function kubernetesChecksApply(
  checks: KubernetesChecks,
  expectedKubeletMinor?: Record<string, string>,
): boolean {
  return checks.nodesReady || checks.noNewCrashLoops || (checks.kubeletVersionsMatch && !!expectedKubeletMinor);
}

/** Whether a round would run anything at all. */
export function hasChecks(run: CheckRun): boolean {
  return run.gates.length > 0 || run.runKubernetesChecks;
}

/**
 * The final round: bake-phase gates with `max(consecutiveSuccesses, ceil(bake / interval))` passes,
 * postStep-only gates with their own (reported as phase bake), then the Kubernetes checks with the
 * kubelet minor expected per node group: the planned minor, or for a node group the plan leaves
 * alone the final minor (a version upgrade) or its own (patch only). It also stands in for the
 * last step's postStep check.
 */
export function verifyRun(input: ClusterUpgradeInput, plan: UpgradePlan): CheckRun {
  const { spec } = input;
  const bakeMs = parseDuration(spec.bake) ?? 0;
  const gates: HealthGateSpec[] = [];
  const requiredSuccessesByGate: Record<string, number> = {};
  for (const gate of spec.healthGates) {
    if (gate.phases.includes('bake')) {
      const intervalMs = Math.max(1, parseDuration(gate.interval) ?? 30_000);
      gates.push(gate);
      requiredSuccessesByGate[gate.name] = Math.max(gate.consecutiveSuccesses, Math.ceil(bakeMs / intervalMs));
    } else if (gate.phases.includes('postStep')) {
      gates.push(gate);
    }
  }
  let kubelets: Record<string, string> | undefined;
  if (!spec.target.skipNodegroups && plan.state.nodegroups.length > 0) {
    const planned = new Map(plan.nodegroups.map((ng) => [ng.previous.name, ng.minor]));
    kubelets = Object.fromEntries(
      plan.state.nodegroups.map((ng) => [
        ng.name,
        planned.get(ng.name) ?? (input.targetVersion ? plan.finalMinor : ng.version),
      ]),
    );
  }
  return {
    phase: 'bake',
    gates,
    requiredSuccessesByGate,
    runKubernetesChecks: kubernetesChecksApply(spec.kubernetesChecks, kubelets),
    ...(kubelets ? { expectedKubeletMinor: kubelets } : {}),
  };
}

/**
 * The control-plane bake (spec.rollback.controlPlaneBake): after the last hop, before add-ons and
 * nodes, every bake-phase and postStep gate passes for the bake's length
 * (`max(consecutiveSuccesses, ceil(bake / interval))` passes, as verify counts the final bake), then
 * the Kubernetes checks without kubelet expectations (nodes are still on the previous minor).
 */
export function controlPlaneBakeRun(
  spec: Pick<CampaignSpec, 'healthGates'> & { kubernetesChecks: KubernetesChecks },
  bakeMs: number,
): CheckRun {
  const gates: HealthGateSpec[] = [];
  const requiredSuccessesByGate: Record<string, number> = {};
  for (const gate of spec.healthGates) {
    if (!gate.phases.includes('bake') && !gate.phases.includes('postStep')) continue;
    const intervalMs = Math.max(1, parseDuration(gate.interval) ?? 30_000);
    gates.push(gate);
    requiredSuccessesByGate[gate.name] = Math.max(gate.consecutiveSuccesses, Math.ceil(bakeMs / intervalMs));
  }
  return {
    phase: 'bake',
    gates,
    requiredSuccessesByGate,
    runKubernetesChecks: kubernetesChecksApply(spec.kubernetesChecks),
  };
}

/** How long one round of checks may take: the slowest gate's own worst case, a margin, the Kubernetes checks. */
export function checkTimeoutMs(run: CheckRun): number {
  const slowestGateMs = Math.max(
    0,
    ...run.gates.map((gate) => gateWorstCaseMs(gate, run.requiredSuccessesByGate?.[gate.name])),
  );
  return slowestGateMs + GATE_TIMEOUT_MARGIN_MS + (run.runKubernetesChecks ? KUBERNETES_CHECKS_MS : 0);
}

/** "verify checks (bake): error-rate 10× every 30s, latency 10× every 30s; kubernetes", for the Web UI. */
export function checksSummary(label: string, run: CheckRun): string {
  const gates = run.gates.map(
    (g) => `${g.name} ${run.requiredSuccessesByGate?.[g.name] ?? g.consecutiveSuccesses}× every ${g.interval}`,
  );
  const parts = [...(gates.length > 0 ? [gates.join(', ')] : []), ...(run.runKubernetesChecks ? ['kubernetes'] : [])];
  return `${label} checks (${run.phase}): ${parts.join('; ')}`;
}
