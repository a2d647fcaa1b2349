/**
 * The secret scanner on positive and negative samples. Sample secrets are assembled at run time
 * (or are AWS's documented examples) so this file itself never looks like a leak to a scanner.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeFindings, scanForSecrets } from './secret-scan';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const b64url = (text: string) => Buffer.from(text).toString('base64url');
/** 40 base64 characters, as an AWS secret access key looks. */
const SECRET_KEY = ['Zq8r', 'Tn2vXw5yB7uC0dE3fG6hJ9kL1mN4pQ', 'sT/+aB'].join('');
const ACCESS_KEY = ['AK', 'IA', 'Q3EXAMPLEFAKE0042'].join('').slice(0, 20);
const TEMP_KEY = ['AS', 'IA', 'Z7EXAMPLEFAKE0099'].join('').slice(0, 20);
const PEM =
  ['-----BEGIN', 'RSA PRIVATE KEY-----'].join(' ') + '\nMIIEpAIBAAKCAQEA7fake\n-----END RSA PRIVATE KEY-----\n';
const EKS_TOKEN = `k8s-aws-v1.${b64url(`https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=${TEMP_KEY}`)}`;

function rules(text: string, literals?: string[]): string[] {
  return [...new Set(scanForSecrets(text, { literals }).map((f) => f.rule))].sort();
}

describe('scanForSecrets finds', () => {
  it.each([
    ['an AKIA access key ID', `"accessKeyId":"${ACCESS_KEY}"`, 'aws-access-key-id'],
    [
      'an ASIA temporary key ID',
      `X-Amz-Credential=${TEMP_KEY}/20250101/us-east-1/sts/aws4_request`,
      'aws-access-key-id',
    ],
    ['a simulator-issued key ID', 'ASIASIM111122223333A1B2C3D4', 'aws-access-key-id'],
    ['a 40-character secret next to a secret word', `aws secret = ${SECRET_KEY}`, 'aws-secret-access-key'],
    ['a secret key in a JSON field', `{"secretAccessKey":"${SECRET_KEY}"}`, 'credential-field'],
    ['an env-style secret', `AWS_SECRET_ACCESS_KEY=${SECRET_KEY}`, 'credential-field'],
    ['an STS session token (IQoJ… prefix)', `token IQoJb3JpZ2luX2VjEJr${'a'.repeat(60)}`, 'aws-session-token'],
    ['a session token field', `"sessionToken": "FwoGZXIvYXdzEB${'x'.repeat(40)}"`, 'credential-field'],
    ['a presigned security token', `&X-Amz-Security-Token=${'IQoJ'.padEnd(64, 'b')}&X-Amz-Date=1`, 'aws-session-token'],
    [
      'the simulator STS session token',
      b64('fleetwave-simulator:arn:aws:sts::111122223333:assumed-role/x/y'),
      'aws-session-token',
    ],
    ['an STS XML credential', `<SessionToken>${'c'.repeat(30)}</SessionToken>`, 'credential-field'],
    ['an EKS bearer token', `"token":"${EKS_TOKEN}"`, 'eks-bearer-token'],
    ['an Authorization header', `Authorization: Bearer ${'abc123'.repeat(5)}`, 'authorization-header'],
    ['a header map', `{"authorization":"Basic ${b64('admin:hunter22')}"}`, 'authorization-header'],
    ['a bearer token in a log line', `sent Bearer eyJhbGciOiJSUzI1NiJ9.${'e'.repeat(30)}`, 'bearer-token'],
    ['a PEM private key', PEM, 'pem-private-key'],
    ['an OpenSSH private key', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn==', 'pem-private-key'],
    ['kubeconfig client-key-data', `    client-key-data: ${b64(PEM)}`, 'credential-field'],
    ['a kubeconfig static token', `users:\n- name: x\n  user:\n    token: ${'q'.repeat(24)}\n`, 'kubeconfig-token'],
    ['client-node keyData', `{"keyData":"${b64(PEM)}"}`, 'credential-field'],
    ['a Temporal API key variable', `TEMPORAL_API_KEY=${'k'.repeat(32)}`, 'credential-field'],
    ['the fake key of the simulator tests', 'AKIDSIMULATOR', 'fake-test-credential'],
    ['the demo secret', '{"secret":"simulator-only-not-a-secret"}', 'fake-test-credential'],
    ['the simulator tests secret', 'signed with simulator-secret', 'fake-test-credential'],
    ['the activity tests credentials', 'AKIDFLEETWAVETEST fleetwave-test-secret', 'fake-test-credential'],
    ['the docker-compose secret', 'fleetwave-simulator-not-a-secret', 'fake-test-credential'],
  ])('%s', (_what, text, rule) => {
    expect(rules(text)).toContain(rule);
  });

  it('finds secrets inside base64 (a payload encoded again, client-key-data without its key)', () => {
    const findings = scanForSecrets(`{"data":"${b64(JSON.stringify({ accessKeyId: ACCESS_KEY }))}"}`);
    expect(findings).toEqual([expect.objectContaining({ rule: 'aws-access-key-id', inBase64: true })]);
    expect(rules(`blob ${b64(PEM)}`)).toEqual(['pem-private-key']);
    // One level deep: the token inside is found, the key ID inside the token's own base64url is not needed.
    expect(rules(b64url(`x ${EKS_TOKEN} y`))).toContain('eks-bearer-token');
  });

  it('finds literals the caller adds, and masks every match', () => {
    expect(rules('credentials: my-own-worker-secret-1', ['my-own-worker-secret-1'])).toEqual(['fake-test-credential']);
    const findings = scanForSecrets(`key ${ACCESS_KEY} and ${SECRET_KEY} secret`);
    const printed = describeFindings(findings, 'history');
    expect(printed).toMatch(
      new RegExp(`^history: aws-access-key-id at 4: AKIA…${ACCESS_KEY.slice(-4)} \\(20 chars\\)$`, 'm'),
    );
    expect(printed).not.toContain(ACCESS_KEY);
    expect(printed).not.toContain(SECRET_KEY);
  });
});

describe('scanForSecrets stays quiet on', () => {
  it.each([
    [
      'UUIDs and request IDs',
      '{"requestId":"9f1c2a4e-6b3d-4e8f-a1b2-c3d4e5f60718","runId":"0191f3c2-7d4e-7a8b-9c0d-1e2f3a4b5c6d"}',
    ],
    ['a git commit hash', 'build 3a3b14e9fb528e0c7e1d2f4a5b6c7d8e9f0a1b2c'],
    [
      'ARNs of clusters and roles',
      'arn:aws:eks:us-east-1:111122223333:cluster/prod-1 arn:aws:iam::111122223333:role/fleetwave',
    ],
    ['EKS idempotency tokens', '{"clientRequestToken":"fleetwave-k8s-131-prod-euw1-01-cp-1.31-a1b2c3d4e5f6a7b8c9d0"}'],
    [
      'the cluster CA (a certificate is public)',
      `{"certificateAuthority":{"data":"${b64('-----BEGIN CERTIFICATE-----\nMIIC5zCCAc+gAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n')}"}}`,
    ],
    [
      'rate-limit tokens and the token bucket',
      '{"tokens":2,"bucket":{"tokens":1.5}} the token bucket refills; token: 3',
    ],
    [
      'prose about tokens and secrets',
      'No tokens, kubeconfigs or secrets cross this boundary; a Bearer token is minted per call (k8s-aws-v1.)',
    ],
    ['a Kubernetes secretKeyRef', '{"secretKeyRef":{"name":"temporal-cloud","key":"api-key"},"existingSecret":""}'],
    ['an empty or placeholder credential field', '{"apiKey":"","password":"<from secret x>","sessionToken":null}'],
    [
      'a PromQL gate query',
      'sum(rate(http_errors_total{cluster="prod-euw1-01"}[5m])) / sum(rate(http_requests_total[5m]))',
    ],
    [
      'a Temporal search attribute payload',
      '{"metadata":{"encoding":"json/plain","type":"Keyword"},"data":"\\"campaign-k8s-131\\""}',
    ],
  ])('%s', (_what, text) => {
    const findings = scanForSecrets(text);
    expect(findings, describeFindings(findings)).toEqual([]);
  });

  it('the example campaign, fleet and spec reference', () => {
    for (const file of ['examples/campaign.yaml', 'examples/fleet.yaml', 'docs/campaign-spec.md']) {
      const findings = scanForSecrets(readFileSync(file, 'utf8'));
      expect(findings, describeFindings(findings, file)).toEqual([]);
    }
  });

  it('scans a few megabytes in well under a second', () => {
    const chunk = JSON.stringify({
      eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
      result: { payloads: [{ metadata: { encoding: 'json/plain' }, data: { cluster: 'prod-1', version: '1.31' } }] },
      blob: b64('x'.repeat(200)),
    });
    const text = chunk.repeat(Math.ceil(4_000_000 / chunk.length));
    const started = performance.now();
    expect(scanForSecrets(text)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
