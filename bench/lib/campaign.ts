/**
 * Generated, time-compressed campaigns for benchmarks and resilience tests.
 *
 * The campaign is written as an operator would write it for real EKS (soaks of an hour, a rate
 * limit per ten minutes, caps per region and account), then compressed by the simulator's time
 * scale: every duration the simulator also compresses (soak, rate-limit window, the estimates)
 * is divided by `timeScale`. Gate intervals cannot follow (Prometheus scrapes once a second), so
 * gates measure once a second and need one passing measurement; bake is one interval.
 */
import { API_VERSION, type CampaignInput, type LabelSelector } from '../../domain/spec';
import { formatDuration } from '../../domain/duration';

/** One wave as the bench describes it. */
export interface BenchWave {
  name: string;
  /** `count` clusters, or `percent` of the rest; neither: all the rest. */
  count?: number;
  percent?: number;
  maxParallel: number;
  /** Real-world soak, compressed by the time scale. */
  soakRealMs: number;
  approval: 'required' | 'auto';
  failureBudget?: number | string;
  /** Clusters of this wave (before count/percent). Default: any not yet placed. */
  selector?: LabelSelector;
}

/** Options for {@link benchCampaign}. */
export interface BenchCampaignOptions {
  name: string;
  /** Simulated seconds per real second. */
  timeScale: number;
  targetVersion: string;
  waves: BenchWave[];
  maxInFlight: number;
  /** Real-world rate limit: `starts` per `perRealMs`, compressed by the time scale. */
  rateLimit?: { starts: number; perRealMs: number };
  caps?: { labelKey: string; max: number }[];
  /** Health gates on Prometheus (the simulator's error ratio and latency). Default: true. */
  promGates?: boolean;
  /** Seconds between gate measurements (wall clock). Default 1. */
  gateIntervalSec?: number;
  /** How long a gate may take to pass (spec duration). Default "1m". */
  gateTimeout?: string;
  /** More health gates (spec shape), after the two standard ones. Default: none. */
  extraGates?: Record<string, unknown>[];
  /** Label selector of the campaign. Default: every cluster. */
  selector?: CampaignInput['spec']['selector'];
  approvers?: { users: string[]; minApprovals: number };
  /** Force node group drains past blocking PodDisruptionBudgets. Default: false (those clusters roll back). */
  forceNodegroups?: boolean;
  /** Real-world spec.watchAfterPromotion, compressed by the time scale. Default: an hour (the spec's default). */
  watchAfterPromotionRealMs?: number;
}

/** Simulator's shortest durations (simulator/README.md "Time"): the plan's lower bound uses them. */
export const SIM_MIN_DURATIONS = { controlPlaneHopMs: 10 * 60_000, addonMs: 40_000, nodeBatchMs: 3 * 60_000 };

/** A compressed duration as a spec string ("1500ms", "3s"), never below 1 ms. */
export function compressed(realMs: number, timeScale: number): string {
  const ms = Math.max(1, Math.round(realMs / timeScale));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The campaign document (validated later by the client, like a YAML file). */
export function benchCampaign(o: BenchCampaignOptions): CampaignInput {
  const interval = `${o.gateIntervalSec ?? 1}s`;
  const timeout = o.gateTimeout ?? '1m';
  const gates =
    (o.promGates ?? true)
      ? [
          {
            name: 'workload-error-ratio',
            query: 'max(fleetwave_sim_workload_error_ratio{cluster="{{cluster}}"})',
            condition: '< 0.02',
            interval,
            consecutiveSuccesses: 1,
            failureLimit: 0,
            inconclusiveLimit: 3,
            consecutiveErrorLimit: 4,
            timeout,
          },
          {
            name: 'workload-latency-p99',
            query: 'max(fleetwave_sim_workload_latency_p99_seconds{cluster="{{cluster}}"})',
            condition: '< 1',
            interval,
            consecutiveSuccesses: 1,
            failureLimit: 0,
            timeout,
            phases: ['bake', 'soak'],
          },
        ]
      : [];
  gates.push(...((o.extraGates ?? []) as typeof gates));
  return {
    apiVersion: API_VERSION,
    kind: 'UpgradeCampaign',
    metadata: { name: o.name },
    spec: {
      target: {
        kubernetesVersion: o.targetVersion,
        nodegroupRelease: 'latest',
        addons: 'default',
        // Generated fleets have custom-AMI node groups; the simulator's accounts own images named so.
        customAmis: { namePattern: 'acme-eks-{minor}-{arch}-*', owners: ['self'] },
      },
      ...(o.selector ? { selector: o.selector } : {}),
      waves: o.waves.map((w) => ({
        name: w.name,
        ...(w.selector ? { selector: w.selector } : {}),
        ...(w.count !== undefined ? { count: w.count } : {}),
        ...(w.percent !== undefined ? { percent: w.percent } : {}),
        maxParallel: w.maxParallel,
        failureBudget: w.failureBudget ?? '10%',
        onBudgetExceeded: 'pause',
        soak: compressed(w.soakRealMs, o.timeScale),
        approval: w.approval,
      })),
      pacing: {
        maxInFlight: o.maxInFlight,
        ...(o.rateLimit
          ? { rateLimit: { starts: o.rateLimit.starts, per: compressed(o.rateLimit.perRealMs, o.timeScale) } }
          : {}),
        caps: o.caps ?? [],
      },
      healthGates: gates,
      watchAfterPromotion: compressed(o.watchAfterPromotionRealMs ?? 3_600_000, o.timeScale),
      bake: interval,
      rollback: { onGateFailure: true, onUpdateFailure: true, controlPlane: false },
      approvers: o.approvers ?? { users: ['alice', 'bob', 'carol'], minApprovals: 2 },
      nodegroups: { maxParallel: 2, force: o.forceNodegroups ?? false },
      estimates: {
        controlPlaneHop: compressed(SIM_MIN_DURATIONS.controlPlaneHopMs, o.timeScale),
        addon: compressed(SIM_MIN_DURATIONS.addonMs, o.timeScale),
        nodeBatch: compressed(SIM_MIN_DURATIONS.nodeBatchMs, o.timeScale),
      },
    },
  } as CampaignInput;
}

/** "1h (3s compressed)" for reports. */
export function describeCompressed(realMs: number, timeScale: number): string {
  return `${formatDuration(realMs)} (${compressed(realMs, timeScale)} at ×${timeScale})`;
}
