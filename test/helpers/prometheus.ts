/** The Prometheus starter lives in scripts/ because the demo and benchmarks use it too. */
export * from '../../scripts/prometheus';
