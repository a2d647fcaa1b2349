/**
 * Gate providers: where a health gate's measurements come from, behind one small interface (as
 * Argo Rollouts' metric providers, `metric/provider.go`). A provider measures once; everything
 * around that is shared and knows no provider by name: the tally and its limits (domain/gates.ts),
 * intervals, initial delays, heartbeats and resumption (runGate in prometheus.ts), phases of many
 * gates at once (health.ts), batches (health.ts) and watches (watch.ts).
 *
 * The contract every provider keeps:
 * - a measurement is `pass` or `fail` only when the source gave a usable answer;
 * - "no data" (an empty result, NaN, a webhook that says it cannot tell) is `inconclusive`,
 *   never a pass;
 * - a source that cannot be reached or answers something unreadable is `error`; a provider does
 *   not throw for that, so the gate's consecutiveErrorLimit decides, as for every provider.
 * A provider throws only for a gate it cannot evaluate at all (InvalidHealthGate, non-retryable)
 * and for the activity's cancellation.
 *
 * A gate without `provider` is a prometheus gate: campaigns written before providers existed
 * read exactly as before.
 */
import { gateProviderOf, type GatePhase, type GateProviderKind, type HealthGateSpec } from '../domain/spec';
import type { MeasurementKind } from '../domain/gates';
import type { ActivityRuntime } from './context';
import type { ClusterRef, GateContext } from './types';
import type { BaselineComparison } from '../domain/baseline';

/** What one measurement of one gate on one cluster said. */
export interface GateMeasurement {
  kind: MeasurementKind;
  /** The value measured (as the source wrote it), if any. */
  value?: string;
  /** Why it was not a plain pass/fail: "no data", "HTTP 503: ...", the webhook's reason. */
  note?: string;
  /** The baseline or cohort comparison behind this measurement (prometheus gates with `compare`). */
  comparison?: BaselineComparison;
}

/** Where the measurement is taken for, beyond the cluster: what a webhook is told. */
export interface GateCallContext {
  /** The campaign, when the activity knows it (gates the campaign workflow runs: soak, watch). */
  campaign?: string;
  /** The wave, when the activity knows it. */
  wave?: string;
}

/** One measurement to take. */
export interface MeasureRequest {
  rt: ActivityRuntime;
  cluster: ClusterRef;
  gate: HealthGateSpec;
  phase: GatePhase;
  /** Longest a query-style call may take (the gate's interval, at most 30 s); a webhook has its own timeout. */
  timeoutMs: number;
  /** Aborted when the answer no longer matters; the provider then returns an error measurement quickly. */
  stop?: AbortSignal;
  context: GateCallContext;
  /** The upgrade's times, the wave's clusters and cohort: what baseline and wave gates need. */
  gateContext?: GateContext;
}

/** A source of gate measurements. */
export interface GateProvider {
  /** Takes one measurement; see the module header for what it may return and when it throws. */
  measure(request: MeasureRequest): Promise<GateMeasurement>;
  /**
   * A gate this provider can never measure (a missing setting of the worker), told before any
   * measurement so the gate ends as an Error at once rather than after its error limit.
   */
  unavailable?(gate: HealthGateSpec): string | undefined;
}

export type GateProviders = Record<GateProviderKind, GateProvider>;

/** The provider a gate names (absent: prometheus). */
export function providerFor(providers: GateProviders, gate: HealthGateSpec): GateProvider {
  return providers[gateProviderOf(gate)];
}

/** The campaign a gate activity runs for, read from its workflow ID (`campaign/<name>`), if it is the campaign's. */
export function callContextOf(workflowId: string | undefined): GateCallContext {
  const campaign = workflowId?.startsWith('campaign/') ? workflowId.slice('campaign/'.length) : undefined;
  return campaign ? { campaign } : {};
}
