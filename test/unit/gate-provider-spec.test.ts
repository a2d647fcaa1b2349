/**
 * The `provider` of a health gate in the campaign spec: absent is prometheus (older campaigns read
 * as before); each provider's own fields; and errors that name the field at fault.
 */
import { describe, expect, it } from 'vitest';
import { parseCampaign } from '../../domain/load';
import { gateProviderOf } from '../../domain/spec';

const campaign = (gate: string) => `apiVersion: fleetwave.io/v1alpha1
kind: UpgradeCampaign
metadata:
  name: t
spec:
  target:
    kubernetesVersion: "1.31"
  waves:
    - name: all
  healthGates:
    - name: g
${gate
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;

const issues = (gate: string) => {
  const r = parseCampaign(campaign(gate));
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
};

describe('gate providers in the campaign spec', () => {
  it('a gate without provider is a prometheus gate, read exactly as before', () => {
    const r = parseCampaign(campaign(`query: up{cluster="{{cluster}}"}\ncondition: "> 0"`));
    expect(r.ok).toBe(true);
    if (r.ok) {
      const gate = r.value.spec.healthGates[0]!;
      expect(gate.provider).toBeUndefined();
      expect(gateProviderOf(gate)).toBe('prometheus');
    }
  });

  it('accepts one gate of each provider, with the defaults filled in', () => {
    const cw = parseCampaign(
      campaign(`
provider:
  cloudwatch:
    namespace: ContainerInsights
    metricName: cluster_failed_node_count
    dimensions: { ClusterName: "{{cluster}}" }
condition: "== 0"`),
    );
    expect(cw.ok).toBe(true);
    if (cw.ok) {
      expect(cw.value.spec.healthGates[0]?.provider?.cloudwatch).toMatchObject({ period: '1m', lookback: '5m' });
    }
    const hook = parseCampaign(campaign(`provider:\n  webhook:\n    urlFromEnv: CHECKOUT_GATE_URL`));
    expect(hook.ok).toBe(true);
    if (hook.ok) {
      expect(hook.value.spec.healthGates[0]?.provider?.webhook).toEqual({
        urlFromEnv: 'CHECKOUT_GATE_URL',
        timeout: '10s',
        retries: 1,
      });
    }
    expect(issues(`provider: { prometheus: {} }\nquery: up\ncondition: "> 0"`)).toEqual([]);
  });

  it('prometheus requires a query and a condition', () => {
    expect(issues(`condition: "> 0"`)).toEqual([
      'spec.healthGates[0].query: is required for a prometheus gate (the default provider)',
    ]);
    expect(issues(`query: up`)).toEqual(['spec.healthGates[0].condition: is required for a prometheus gate']);
  });

  it('a cloudwatch gate takes no query, needs a condition and a metric or an expression', () => {
    expect(
      issues(`
provider:
  cloudwatch: { namespace: ContainerInsights, metricName: cluster_node_count }
query: up
condition: "> 0"`),
    ).toEqual(['spec.healthGates[0].query: is only for prometheus gates; a cloudwatch gate takes no query']);
    expect(issues(`provider:\n  cloudwatch: { namespace: ContainerInsights, metricName: cluster_node_count }`)).toEqual(
      ['spec.healthGates[0].condition: is required for a cloudwatch gate'],
    );
    expect(issues(`provider:\n  cloudwatch: { namespace: ContainerInsights }\ncondition: "> 0"`)).toEqual([
      'spec.healthGates[0].provider.cloudwatch.metricName: is required (or an expression)',
    ]);
    expect(
      issues(`provider:\n  cloudwatch: { expression: "a / b", namespace: X, metricName: Y }\ncondition: "> 0"`),
    ).toEqual([
      'spec.healthGates[0].provider.cloudwatch.expression: cannot be combined with namespace or metricName',
      'spec.healthGates[0].provider.cloudwatch.metrics: must name at least one metric the expression uses',
    ]);
  });

  it('a cloudwatch period is what the MetricStat Period allows, and metric ids are CloudWatch query ids', () => {
    expect(issues(`provider:\n  cloudwatch: { namespace: X, metricName: Y, period: 45s }\ncondition: "> 0"`)).toEqual([
      'spec.healthGates[0].provider.cloudwatch.period: must be 1s, 5s, 10s, 20s, 30s or a multiple of 60s (CloudWatch MetricStat Period)',
    ]);
    expect(
      issues(`
provider:
  cloudwatch:
    expression: "Errors / 2"
    metrics: { Errors: { namespace: X, metricName: Y } }
condition: "> 0"`),
    ).toEqual([
      'spec.healthGates[0].provider.cloudwatch.metrics.Errors: must start with a lowercase letter, then letters, digits and underscores (CloudWatch query Id)',
    ]);
  });

  it('a webhook gate takes neither query nor condition, and exactly one of url and urlFromEnv', () => {
    expect(issues(`provider:\n  webhook: { url: "https://checks.example.com/gate" }\ncondition: "> 0"`)).toEqual([
      'spec.healthGates[0].condition: is not for webhook gates: the webhook answers pass or fail itself',
    ]);
    expect(issues(`provider:\n  webhook: { url: "https://checks.example.com/gate" }\nquery: up`)).toEqual([
      'spec.healthGates[0].query: is only for prometheus gates; a webhook gate takes no query',
    ]);
    expect(issues(`provider:\n  webhook: { timeout: 5s }`)).toEqual([
      'spec.healthGates[0].provider.webhook.url: give exactly one of url and urlFromEnv',
    ]);
    expect(issues(`provider:\n  webhook: { url: "https://user:token@checks.example.com/gate" }`)).toEqual([
      'spec.healthGates[0].provider.webhook.url: must not carry credentials: put a URL with a secret in the worker environment and use urlFromEnv',
    ]);
    expect(issues(`provider:\n  webhook: { urlFromEnv: X, timeout: 20s, retries: 1 }`)).toEqual([
      'spec.healthGates[0].provider.webhook.timeout: times (retries + 1) must be at most 30s, the longest one measurement may take (here 40s)',
    ]);
    expect(issues(`provider:\n  webhook: { urlFromEnv: "gate-url" }`)).toEqual([
      'spec.healthGates[0].provider.webhook.urlFromEnv: must be an environment variable name such as GATE_WEBHOOK_URL',
    ]);
  });

  it('a gate names exactly one provider', () => {
    expect(issues(`provider:\n  prometheus: {}\n  webhook: { urlFromEnv: X }\nquery: up\ncondition: "> 0"`)).toEqual([
      'spec.healthGates[0].provider: must name exactly one provider (prometheus, cloudwatch or webhook), not prometheus and webhook',
    ]);
    expect(issues(`provider: {}\nquery: up\ncondition: "> 0"`)).toEqual([
      'spec.healthGates[0].provider: must name exactly one provider (prometheus, cloudwatch or webhook)',
    ]);
  });
});
