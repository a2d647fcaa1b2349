/**
 * The environment that points a `fleetwave worker` process at a local Temporal server, the
 * simulator and, when there is one, Prometheus: what the demo and the benchmark stack both run.
 */
export interface SimulatorWorkerEnvOptions {
  temporal: { address: string; namespace: string };
  simulatorUrl: string;
  /** `host:port` of the worker's metrics endpoint. */
  metricsAddress: string;
  prometheusUrl?: string;
  /** The simulator's time scale: the worker's waits look that much more often (FLEETWAVE_WAIT_TIME_SCALE). */
  timeScale?: number;
}

export function simulatorWorkerEnv(o: SimulatorWorkerEnvOptions): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: o.temporal.address,
    TEMPORAL_NAMESPACE: o.temporal.namespace,
    FLEETWAVE_AWS_ENDPOINT: o.simulatorUrl,
    AWS_REGION: 'us-east-1',
    // The AWS SDK's default chain reads these; they only ever reach the local simulator.
    AWS_ACCESS_KEY_ID: 'AKIDSIMULATOR',
    AWS_SECRET_ACCESS_KEY: 'simulator-only-not-a-secret',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FLEETWAVE_METRICS_ADDRESS: o.metricsAddress,
    FLEETWAVE_SHUTDOWN_GRACE: '5s',
    ...(o.prometheusUrl ? { FLEETWAVE_PROMETHEUS_URL: o.prometheusUrl } : {}),
    ...(o.timeScale && o.timeScale > 1 ? { FLEETWAVE_WAIT_TIME_SCALE: String(o.timeScale) } : {}),
  };
}
