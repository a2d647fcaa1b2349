/**
 * A secret scanner for text that must never hold credentials: workflow histories, logs, CLI
 * output. It looks for what a leak of fleetwave's credentials would look like: AWS access key
 * IDs, secret keys and session tokens, EKS bearer tokens (`k8s-aws-v1.`), Authorization
 * headers, PEM private keys, kubeconfig `client-key-data` / `token:` fields, credential
 * key-value pairs, and the fake credentials the tests, the demo and the simulator use, so a
 * test credential that reaches a history is caught like a real one would be.
 *
 * Base64 is no hiding place: every base64 run of 24+ characters that decodes to text is
 * decoded and scanned too (one level deep), so `client-key-data` without its key, or a
 * payload encoded twice, is still found.
 *
 * Findings never repeat the secret: {@link Finding.excerpt} masks all but its ends.
 */

/** One suspected secret. */
export interface Finding {
  /** Which rule matched, e.g. `aws-access-key-id`. */
  rule: string;
  /** Offset of the match in the scanned text, or of the base64 run it was decoded from. */
  index: number;
  /** The match with its middle masked, safe to print: `AKIA…MPLE (20 chars)`. */
  excerpt: string;
  /** True when the match was inside a base64 run that the scanner decoded. */
  inBase64?: boolean;
}

export interface ScanOptions {
  /** More literal strings that must not appear (e.g. the credentials a test handed the worker). */
  literals?: readonly string[];
  /** Decode base64 runs and scan their text too. Default: true. */
  decodeBase64?: boolean;
}

/**
 * Fake credentials that tests, the demo and the simulator hand to AWS clients and workers
 * (grep the repo for accessKeyId / AWS_SECRET_ACCESS_KEY when adding one). Too specific to be
 * anything but a leak when found in a history. AWS's own documentation examples are here too.
 */
export const FAKE_TEST_CREDENTIALS: readonly string[] = [
  'AKIDSIMULATOR', // test/simulator/helpers.ts, scripts/demo.ts
  'simulator-secret', // test/simulator/helpers.ts, test/client/cli-simulator.test.ts
  'simulator-only-not-a-secret', // scripts/demo.ts
  'fleetwave-simulator-not-a-secret', // docker-compose.yml
  'AKIDFLEETWAVETEST', // test/activities/sim-harness.ts
  'fleetwave-test-secret', // test/activities/sim-harness.ts
  'AKIDEXAMPLE', // test/activities/activities-unit.test.ts (SigV4 test-suite key)
  'AKIAIOSFODNN7EXAMPLE', // AWS documentation
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', // AWS documentation
];

interface Rule {
  name: string;
  pattern: RegExp;
}

/** Key names whose value is a credential whatever it looks like. */
const CREDENTIAL_KEYS = [
  'secretAccessKey',
  'secret_access_key',
  'SecretAccessKey',
  'AWS_SECRET_ACCESS_KEY',
  'aws_secret_access_key',
  'sessionToken',
  'session_token',
  'SessionToken',
  'AWS_SESSION_TOKEN',
  'aws_session_token',
  'TEMPORAL_API_KEY',
  'apiKey',
  'api_key',
  'password',
  'passwd',
  'clientSecret',
  'client_secret',
  'keyData', // @kubernetes/client-node's KubeConfig user
  'client-key-data',
];

/** First 24 base64 characters of any session token the simulator's STS issues (`fleetwave-simulator:<arn>`). */
const SIMULATOR_SESSION_TOKEN_PREFIX = Buffer.from('fleetwave-simulato').toString('base64');

const RULES: readonly Rule[] = [
  // AKIA (long-term) and ASIA (temporary) key IDs: 16 more characters for AWS, more for the simulator's ASIASIM….
  { name: 'aws-access-key-id', pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16,}\b/g },
  // A 40-character base64 string shortly after a "secret" word: how AWS secret keys appear in config and env.
  {
    name: 'aws-secret-access-key',
    pattern: /secret[\s\S]{0,40}?(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/gi,
  },
  // STS session tokens: the prefixes AWS issues, the simulator's, and the presigned-URL parameter.
  {
    name: 'aws-session-token',
    pattern: new RegExp(
      `(?:\\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{20,}|${SIMULATOR_SESSION_TOKEN_PREFIX}[A-Za-z0-9/+=]*|X-Amz-Security-Token=[^&\\s"']{8,})`,
      'g',
    ),
  },
  // The EKS bearer token aws-iam-authenticator and fleetwave mint: k8s-aws-v1.<base64url presigned URL>.
  { name: 'eks-bearer-token', pattern: /k8s-aws-v1\.[A-Za-z0-9_-]{8,}/g },
  {
    name: 'authorization-header',
    pattern: /authorization["']?\s*[:=]\s*["']?(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  },
  // A bearer token anywhere else; 20+ characters so prose ("Bearer tokens are...") does not match.
  { name: 'bearer-token', pattern: /\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*/g },
  { name: 'pem-private-key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g },
  // A kubeconfig user's static token (`token: ...`); the key must be exactly "token" (not clientRequestToken).
  { name: 'kubeconfig-token', pattern: /(?<![\w-])token["']?\s*:\s*["']?(?![<"'\s,}])[^\s"',}]{8,}/g },
  {
    name: 'credential-field',
    pattern: new RegExp(
      `(?<![\\w-])(?:${CREDENTIAL_KEYS.map(escapeRegExp).join('|')})["']?\\s*[:=]\\s*["']?(?![<"'\\s,}]|(?:null|true|false)\\b)[^\\s"',}<]{4,}` +
        `|<(?:SecretAccessKey|SessionToken)>[^<]+</`,
      'g',
    ),
  },
];

const BASE64_RUN = /[A-Za-z0-9+/_-]{24,}={0,2}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `AKIAIOSFODNN7EXAMPLE` → `AKIA…MPLE (20 chars)`; short matches keep less. */
function mask(match: string): string {
  const flat = match.replace(/\s+/g, ' ');
  const keep = flat.length >= 16 ? 4 : flat.length >= 8 ? 2 : 0;
  return `${flat.slice(0, keep)}…${keep ? flat.slice(-keep) : ''} (${flat.length} chars)`;
}

function literalRule(literals: readonly string[]): Rule | undefined {
  const unique = [...new Set(literals.filter((l) => l.length >= 4))].sort((a, b) => b.length - a.length);
  if (unique.length === 0) return undefined;
  return { name: 'fake-test-credential', pattern: new RegExp(unique.map(escapeRegExp).join('|'), 'g') };
}

function applyRules(text: string, rules: readonly Rule[], offset: number | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const rule of rules) {
    for (const m of text.matchAll(rule.pattern)) {
      findings.push({
        rule: rule.name,
        index: offset ?? m.index,
        excerpt: mask(m[0]),
        ...(offset !== undefined ? { inBase64: true } : {}),
      });
    }
  }
  return findings;
}

/** The text a base64 (or base64url) run stands for, when it is text at all. */
function decodeBase64Text(run: string): string | undefined {
  const bytes = Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < 16) return undefined;
  const text = bytes.toString('utf8');
  let printable = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 9 || code === 10 || code === 13 || (code >= 32 && code !== 0xfffd)) printable++;
  }
  return printable / text.length >= 0.9 ? text : undefined;
}

/**
 * Scans `text` for credentials and returns what it found (empty when clean). Deterministic and
 * linear in the text; a multi-megabyte history takes milliseconds.
 */
export function scanForSecrets(text: string, options: ScanOptions = {}): Finding[] {
  const literal = literalRule([...FAKE_TEST_CREDENTIALS, ...(options.literals ?? [])]);
  const rules = literal ? [...RULES, literal] : RULES;
  const findings = applyRules(text, rules, undefined);
  if (options.decodeBase64 ?? true) {
    for (const m of text.matchAll(BASE64_RUN)) {
      const decoded = decodeBase64Text(m[0]);
      if (decoded !== undefined) findings.push(...applyRules(decoded, rules, m.index));
    }
  }
  return findings.sort((a, b) => a.index - b.index || a.rule.localeCompare(b.rule));
}

/** One line per finding, for assertion messages: `aws-access-key-id at 1234: AKIA…MPLE (20 chars)`. */
export function describeFindings(findings: readonly Finding[], where = ''): string {
  return findings
    .map((f) => `${where ? `${where}: ` : ''}${f.rule} at ${f.index}${f.inBase64 ? ' (base64)' : ''}: ${f.excerpt}`)
    .join('\n');
}
