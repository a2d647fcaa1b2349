/**
 * The campaign spec: a Kubernetes-style YAML document validated once at the edge.
 *
 * Every field documents itself and its default with `.describe()`, so the README's spec
 * reference is generated from this file (see `scripts/spec-reference.ts`). Durations are
 * strings ("30m", "1h30m"); use `durationMs()` to read them.
 *
 * This module uses zod and is for the edge (CLI, client library, activities). Workflows
 * import only its types.
 */
import { z } from 'zod';
import { parseDuration } from './duration';
import { CLAIM_LIMITS } from './signed-actions';
import { NOTIFY_EVENTS } from './notify';

export const API_VERSION = 'fleetwave.io/v1alpha1';

/** A duration string such as "30s", "15m", "1h30m" or "7d". */
export const durationString = (what: string) =>
  z
    .string()
    .refine((s) => parseDuration(s) !== undefined, {
      message: `must be a duration such as "30s", "15m", "1h30m" (units ms, s, m, h, d)`,
    })
    .describe(what);

const positiveDuration = (what: string) =>
  durationString(what).refine((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be greater than 0' });

/** Reads a validated duration string as milliseconds. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`invalid duration "${text}"`);
  return ms;
}

/** Minor Kubernetes version as EKS names it: "1.31". */
export const minorVersion = z
  .string()
  .regex(/^1\.\d{1,2}$/, { message: 'must be a Kubernetes minor version such as "1.31"' });

const labelKey = z
  .string()
  .min(1, { message: 'must not be empty' })
  .max(317, { message: 'must be at most 317 characters' })
  .regex(/^([a-zA-Z0-9.-]+\/)?[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/, { message: 'must be a valid label key' });

const labelValue = z.string().max(63, { message: 'must be at most 63 characters' });

export const labelSelectorSchema = z
  .strictObject({
    matchLabels: z
      .record(labelKey, labelValue)
      .optional()
      .describe('Labels a cluster must carry with exactly these values. Default: none.'),
    matchExpressions: z
      .array(
        z
          .strictObject({
            key: labelKey.describe('The label key the expression tests.'),
            operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('In, NotIn, Exists or DoesNotExist.'),
            values: z
              .array(labelValue)
              .max(1000)
              .optional()
              .describe('Values for In / NotIn (required there, must be empty for Exists / DoesNotExist).'),
          })
          .superRefine((expr, ctx) => {
            const needsValues = expr.operator === 'In' || expr.operator === 'NotIn';
            if (needsValues && (!expr.values || expr.values.length === 0)) {
              ctx.addIssue({
                code: 'custom',
                path: ['values'],
                message: `must list at least one value for ${expr.operator}`,
              });
            }
            if (!needsValues && expr.values && expr.values.length > 0) {
              ctx.addIssue({ code: 'custom', path: ['values'], message: `must be empty for ${expr.operator}` });
            }
          }),
      )
      .max(100)
      .optional()
      .describe('Set-based requirements, all of which must hold. Default: none.'),
  })
  .describe('Kubernetes-style label selector over the fleet inventory. An empty selector selects every cluster.');

export type LabelSelector = z.infer<typeof labelSelectorSchema>;

const percentString = z
  .string()
  .regex(/^\d{1,3}(\.\d+)?%$/, { message: 'must be a count such as 2 or a percentage such as "10%"' })
  // Only a well-formed percentage can be too large; "lots" gets the format message alone.
  .refine((s) => !(Number.parseFloat(s) > 100), { message: 'must be at most 100%' });

/**
 * What a count-or-percentage that matches neither form is told (zod's union says only "Invalid
 * input" when every option stops at its type): a fraction, NaN or an infinity by name.
 */
function countOrPercentError(issue: { input?: unknown }): string {
  const v = issue.input;
  if (typeof v === 'number' && !Number.isFinite(v)) {
    return `must be a finite whole number (expected number, got ${String(v)}) or a percentage such as "10%"`;
  }
  if (typeof v === 'number') return 'must be a whole number (or a percentage such as "10%")';
  return 'must be a count such as 2 or a percentage such as "10%" (expected number or "N%")';
}

/**
 * A limit of at least 1, as a count or a percentage ("25%") of the wave's (maxParallel) or the
 * campaign's selected clusters (caps): rounded down, but at least 1 (domain/freezes.ts
 * resolveCountOrPercent), so a small wave still makes progress.
 */
const limitOrPercent = (max: number) =>
  z.union(
    [
      z
        .number()
        .int({ message: 'must be a whole number' })
        .min(1, { message: 'must be >= 1' })
        .max(max, { message: `must be <= ${max}` }),
      percentString.refine((s) => !(Number.parseFloat(s) <= 0), { message: 'must be more than 0%' }),
    ],
    { error: countOrPercentError },
  );

const countOrPercent = z.union(
  [
    z
      .number()
      .int({ message: 'must be a whole number' })
      .min(0, { message: 'must be >= 0' })
      .max(100_000, { message: 'must be <= 100000' }),
    percentString,
  ],
  { error: countOrPercentError },
);

const amiId = z
  .string()
  .regex(/^ami-[0-9a-f]{8,17}$/, { message: 'must be an AMI ID such as "ami-0123456789abcdef0"' });

/** spec.target.customAmis: where CUSTOM node groups get their image from. */
export const customAmisSchema = z.union([
  z.strictObject({
    images: z
      .record(
        z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as "us-east-1"' }),
        z.strictObject({
          x86_64: amiId.optional().describe('AMI for x86_64 node groups.'),
          arm64: amiId.optional().describe('AMI for arm64 (Graviton) node groups.'),
        }),
      )
      .describe(
        'AMI per region and architecture, built for the target minor (in a patch-only campaign: for the minor the node groups run). AMI IDs are per region.',
      ),
  }),
  z.strictObject({
    namePattern: z
      .string()
      .min(1)
      .max(128)
      .refine((p) => p.includes('{minor}'), { message: 'must contain {minor}' })
      .describe(
        'EC2 image name pattern with {minor} (e.g. 1.31) and {arch} (x86_64 or arm64) placeholders and EC2 wildcards (* and ?), e.g. "my-eks-node-{minor}-{arch}-*". The newest available image by CreationDate matching it, per region, architecture and minor.',
      ),
    owners: z
      .array(z.string().min(1))
      .min(1)
      .default(['self'])
      .describe('Image owners to search (account IDs, "self", "amazon"). Default: ["self"].'),
  }),
]);

export type CustomAmisSpec = z.output<typeof customAmisSchema>;

export const targetSchema = z
  .strictObject({
    kubernetesVersion: minorVersion
      .optional()
      .describe(
        'Kubernetes minor version to reach ("1.31"). The control plane moves one minor per hop, then add-ons, then node groups. Omit for a patch-only campaign.',
      ),
    nodegroupRelease: z
      .string()
      .min(1)
      .default('latest')
      .describe(
        'Node group AMI release version: "latest" (resolved once at campaign start, per region and per amiType in use, and pinned for every wave) or a pinned Amazon Linux release such as "1.31.0-20241024". A pinned release applies to the Amazon Linux amiTypes (AL2_*, AL2023_*), which share release versions; Bottlerocket and Windows node groups take "latest" of their own family, since their releases are numbered differently; CUSTOM node groups take spec.target.customAmis. Default: "latest".',
      ),
    customAmis: customAmisSchema
      .optional()
      .describe(
        'AMIs for node groups whose launch template names its own AMI (amiType CUSTOM): either `images` (per region and architecture) or `namePattern` (+ `owners`). Resolved once at campaign start; each such node group gets a new launch-template version with only the image changed. Default: none (a cluster with a CUSTOM node group is then refused at preflight).',
      ),
    addons: z
      .union([z.enum(['default', 'latest']), z.record(z.string().min(1), z.string().min(1))])
      .default('default')
      .describe(
        'Add-on versions: "default" (EKS default for the target version), "latest" (newest compatible), or a map of add-on name to pinned version. Resolved once at campaign start. Default: "default".',
      ),
    skipAddons: z.boolean().default(false).describe('Leave add-ons untouched. Default: false.'),
    skipNodegroups: z.boolean().default(false).describe('Leave node groups untouched. Default: false.'),
  })
  .describe('What the campaign upgrades to.');

export const waveSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
        message: 'must be lowercase letters, digits and dashes (at most 63)',
      })
      .describe('Unique wave name (lowercase, digits, dashes).'),
    selector: labelSelectorSchema
      .optional()
      .describe('Clusters of this wave, among those selected by spec.selector and not placed in an earlier wave.'),
    count: z
      .number()
      .int({ message: 'must be a whole number' })
      .min(1, { message: 'must be >= 1' })
      .max(100_000, { message: 'must be <= 100000' })
      .optional()
      .describe('Take this many of the clusters not yet placed (stable order by name), after the selector if any.'),
    percent: z
      .number()
      .gt(0, { message: 'must be > 0' })
      .max(100, { message: 'must be <= 100' })
      .optional()
      .describe('Take this percentage (rounded up) of the clusters not yet placed, after the selector if any.'),
    maxParallel: limitOrPercent(1000)
      .default(1)
      .describe(
        'Clusters of this wave upgrading at once (sliding window): a count, or "N%" of the wave\'s clusters (rounded down, at least 1). Default: 1.',
      ),
    failureBudget: countOrPercent
      .default(0)
      .describe(
        'Failed or rolled-back clusters this wave tolerates (a count, or "N%" of the wave, rounded down). Within it the cluster is quarantined and the wave goes on. Default: 0.',
      ),
    onBudgetExceeded: z
      .enum(['pause', 'abort'])
      .default('pause')
      .describe('What happens when the budget is exceeded: pause for a human, or abort the campaign. Default: pause.'),
    soak: durationString(
      'Time to watch the wave after its last cluster finished: every soak-phase gate of every upgraded cluster is measured each interval for the whole soak (a soak of 0s takes one look). A Failed gate rolls that cluster back (node groups and add-ons) and counts it against the failure budget; no data or query errors pause the campaign before approval. Default: "0s".',
    ).default('0s'),
    approval: z
      .enum(['required', 'auto'])
      .default('required')
      .describe(
        'Promotion to the next wave: "required" waits for approvals (spec.approvers), "auto" promotes after a green soak. Default: required (auto for the last wave, which has nothing to promote to).',
      ),
  })
  .superRefine((wave, ctx) => {
    if (wave.count !== undefined && wave.percent !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['percent'], message: 'use either count or percent, not both' });
    }
  })
  .describe('One wave of the campaign.');

export type WaveSpec = z.infer<typeof waveSchema>;

export const pacingSchema = z
  .strictObject({
    maxInFlight: z
      .number()
      .int({ message: 'must be a whole number' })
      .min(1, { message: 'must be >= 1' })
      .max(1000, { message: 'must be <= 1000' })
      .default(10)
      .describe('Cluster upgrades in flight at once across the whole campaign. Default: 10.'),
    rateLimit: z
      .strictObject({
        starts: z
          .number()
          .int({ message: 'must be a whole number' })
          .min(1, { message: 'must be >= 1' })
          .max(10_000, { message: 'must be <= 10000' })
          .describe('Cluster upgrades that may start per window.'),
        per: positiveDuration('The window, e.g. "10m".'),
      })
      .optional()
      .describe('At most `starts` cluster upgrades started per `per` (token bucket). Default: unlimited.'),
    caps: z
      .array(
        z.strictObject({
          labelKey: labelKey.describe('Label whose values are capped, e.g. region or account.'),
          max: limitOrPercent(1000).describe(
            'Upgrades in flight at once per value of the label: a count, or "N%" of the campaign\'s selected clusters (rounded down, at least 1).',
          ),
        }),
      )
      .max(20)
      .default([])
      .describe('Per-label-value caps within this campaign (e.g. at most 3 per region). Default: none.'),
    sharedCaps: z
      .array(
        z.strictObject({
          labelKey: labelKey.describe('Label whose values are capped fleet-wide, e.g. account.'),
          max: z
            .number()
            .int({ message: 'must be a whole number' })
            .min(1, { message: 'must be >= 1' })
            .max(1000, { message: 'must be <= 1000' })
            .describe('Upgrades in flight at once per value, across every campaign that declares the same cap.'),
        }),
      )
      .max(10)
      .default([])
      .describe(
        'Fleet-wide caps shared with concurrent campaigns (held by a lease workflow per label value). Default: none.',
      ),
  })
  .default({ maxInFlight: 10, caps: [], sharedCaps: [] })
  .describe('How fast the campaign may go.');

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof DAYS)[number];
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be a time such as "22:00"' });

export const maintenanceWindowSchema = z
  .strictObject({
    name: z.string().min(1).optional().describe('A name shown in status and the UI.'),
    selector: labelSelectorSchema.optional().describe('Clusters this window applies to. Default: every cluster.'),
    days: z
      .array(z.enum(DAYS))
      .min(1, { message: 'must list at least one day' })
      .default([...DAYS])
      .describe('Days the window opens (Mon..Sun), in its timezone. Default: every day.'),
    start: clockTime.describe('Opening time, "HH:MM" in the timezone.'),
    end: clockTime.describe('Closing time, "HH:MM"; earlier than start means the window crosses midnight.'),
    timezone: z
      .string()
      .default('UTC')
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { message: 'must be an IANA timezone such as "Europe/Berlin"' },
      )
      .describe('IANA timezone. Default: UTC.'),
  })
  .superRefine((w, ctx) => {
    if (w.start === w.end) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must differ from start' });
  })
  .describe(
    'Upgrades of matching clusters start only inside the window, and only if the estimated upgrade fits before it closes.',
  );

export type MaintenanceWindow = z.infer<typeof maintenanceWindowSchema>;

export const GATE_PHASES = ['baseline', 'postStep', 'bake', 'soak'] as const;
export type GatePhase = (typeof GATE_PHASES)[number];

export const conditionString = z
  .string()
  .regex(/^\s*(<=|>=|==|!=|<|>)\s*-?(\d+(\.\d+)?([eE][-+]?\d+)?)\s*$/, {
    message: 'must be a comparison such as "< 0.01" or ">= 0.99"',
  })
  // "< 1e999" is well-formed but reads as Infinity: a threshold no finite value can be measured against.
  .refine((s) => Number.isFinite(Number(s.replace(/^\s*[<>=!]+\s*/, ''))), {
    message: 'the threshold must be a finite number',
  });

/** `{{cluster}}` (spaces inside the braces allowed), the placeholder gates put a cluster's name in with. */
export const CLUSTER_PLACEHOLDER = /\{\{\s*cluster\s*\}\}/g;

const cloudWatchName = (what: string) =>
  z
    .string()
    .min(1, { message: 'must not be empty' })
    .max(255, { message: 'must be at most 255 characters' })
    .describe(what);

/**
 * The CloudWatch API reference (MetricStat, `Period`): "1, 5, 10, 20, 30, 60, or any multiple of 60"
 * seconds; the short ones only return data for high-resolution metrics.
 */
const cloudWatchPeriod = durationString(
  'Granularity of the data points: 1s, 5s, 10s, 20s, 30s (high-resolution metrics only) or a multiple of 60s. Default: "1m".',
).refine(
  (s) => {
    const ms = parseDuration(s) ?? 0;
    return ms % 1000 === 0 && ([1, 5, 10, 20, 30].includes(ms / 1000) || (ms > 0 && ms % 60_000 === 0));
  },
  { message: 'must be 1s, 5s, 10s, 20s, 30s or a multiple of 60s (CloudWatch MetricStat Period)' },
);

/** The CloudWatch statistics GetMetricData accepts: the five basic ones and percentiles (p99, p99.9). */
const cloudWatchStat = z.string().regex(/^(Average|Sum|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d{1,10})?|p100)$/, {
  message: 'must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99',
});

const cloudWatchDimensions = z
  .record(cloudWatchName('Dimension name.'), z.string().min(1).max(255))
  .refine((d) => Object.keys(d).length <= 30, { message: 'must have at most 30 dimensions (CloudWatch Metric)' })
  .describe('Dimension name → value; {{cluster}} in a value is replaced by the cluster name. Default: none.');

/** One metric of a CloudWatch gate: the gate's own, or a variable of its `expression`. */
export const cloudWatchMetricSchema = z.strictObject({
  namespace: cloudWatchName('CloudWatch namespace, e.g. "ContainerInsights".'),
  metricName: cloudWatchName('Metric name, e.g. "cluster_failed_node_count".'),
  dimensions: cloudWatchDimensions.optional(),
  stat: cloudWatchStat.default('Average').describe('Statistic. Default: "Average".'),
});

export const cloudWatchGateSchema = z
  .strictObject({
    namespace: cloudWatchName('CloudWatch namespace of the metric (not with `expression`).').optional(),
    metricName: cloudWatchName('Metric name (not with `expression`).').optional(),
    dimensions: cloudWatchDimensions.optional(),
    stat: cloudWatchStat.optional().describe('Statistic of the metric (not with `expression`). Default: "Average".'),
    expression: z
      .string()
      .min(1, { message: 'must not be empty' })
      .max(2048, { message: 'must be at most 2048 characters' })
      .optional()
      .describe(
        'A CloudWatch metric-math expression over the ids of `metrics`, e.g. "100 * errors / requests" (instead of namespace and metricName).',
      ),
    metrics: z
      .record(z.string(), cloudWatchMetricSchema)
      .optional()
      .describe('With `expression`: the metrics it uses, by the id it names them with.'),
    period: cloudWatchPeriod.default('1m'),
    lookback: positiveDuration(
      'How far back a measurement looks for the newest data point; none in it is "no data" (inconclusive). Default: "5m".',
    ).default('5m'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'must be an AWS region such as "us-east-1"' })
      .optional()
      .describe(
        "Region to read the metric in. Default: the cluster's region. The account is always the cluster's (its role).",
      ),
  })
  .superRefine((cw, ctx) => {
    const single = cw.namespace !== undefined || cw.metricName !== undefined;
    if (cw.expression === undefined) {
      if (cw.namespace === undefined)
        ctx.addIssue({ code: 'custom', path: ['namespace'], message: 'is required (or an expression)' });
      if (cw.metricName === undefined)
        ctx.addIssue({ code: 'custom', path: ['metricName'], message: 'is required (or an expression)' });
      if (cw.metrics !== undefined)
        ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'is only for an expression' });
      return;
    }
    if (single)
      ctx.addIssue({
        code: 'custom',
        path: ['expression'],
        message: 'cannot be combined with namespace or metricName',
      });
    if (cw.dimensions !== undefined || cw.stat !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['expression'],
        message: 'cannot be combined with dimensions or stat: give them per metric',
      });
    }
    const ids = Object.keys(cw.metrics ?? {});
    if (ids.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'must name at least one metric the expression uses' });
    }
    if (ids.length > 100) ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'must have at most 100 metrics' });
    for (const id of ids) {
      // CloudWatch API reference, MetricDataQuery Id: "The first character must be a lowercase letter."
      if (!/^[a-z][a-zA-Z0-9_]{0,254}$/.test(id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['metrics', id],
          message: 'must start with a lowercase letter, then letters, digits and underscores (CloudWatch query Id)',
        });
      }
    }
  })
  .describe("Read the gate value from Amazon CloudWatch (GetMetricData) in the cluster's account, with its role.");

export const webhookGateSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, message: 'must be an http or https URL' })
      .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), {
        message: 'must not carry credentials: put a URL with a secret in the worker environment and use urlFromEnv',
      })
      .optional()
      .describe('Endpoint to POST to (no secrets: this is kept in workflow histories).'),
    urlFromEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name such as GATE_WEBHOOK_URL' })
      .optional()
      .describe('Name of a worker environment variable holding the URL (for URLs with tokens): never in histories.'),
    timeout: positiveDuration(
      'Time one call may take; longer is an error. timeout × (retries + 1) is at most 30s. Default: "10s".',
    ).default('10s'),
    retries: z
      .number()
      .int()
      .min(0, { message: 'must be >= 0' })
      .max(5, { message: 'must be <= 5' })
      .default(1)
      .describe(
        'Calls repeated within one measurement after an error (network, timeout, non-2xx, bad answer). Default: 1.',
      ),
  })
  .superRefine((w, ctx) => {
    if ((w.url === undefined) === (w.urlFromEnv === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of url and urlFromEnv' });
    }
    // The gate loops give one measurement at most 30 s (a query's longest timeout), so that a look
    // at a batch fits its activity's timeouts: every call of a measurement together must fit too.
    const totalMs = (parseDuration(w.timeout) ?? 0) * (w.retries + 1);
    if (totalMs > 30_000) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: `times (retries + 1) must be at most 30s, the longest one measurement may take (here ${totalMs / 1000}s)`,
      });
    }
  })
  .describe(
    'POST {cluster, wave, campaign, gate, phase} as JSON; the answer {"result": "pass" | "fail" | "inconclusive", "reason": "..."} is the measurement. Non-2xx, another body or a timeout is an error.',
  );

export const GATE_PROVIDERS = ['prometheus', 'cloudwatch', 'webhook'] as const;
export type GateProviderKind = (typeof GATE_PROVIDERS)[number];

export const gateProviderSchema = z
  .strictObject({
    prometheus: z.strictObject({}).optional().describe("PromQL over the worker's Prometheus (`query`). The default."),
    cloudwatch: cloudWatchGateSchema.optional(),
    webhook: webhookGateSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const given = GATE_PROVIDERS.filter((k) => p[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `must name exactly one provider (prometheus, cloudwatch or webhook)${given.length ? `, not ${given.join(' and ')}` : ''}`,
      });
    }
  })
  .describe("Where the gate's measurements come from: one of prometheus, cloudwatch, webhook. Default: prometheus.");

export type GateProviderSpec = z.infer<typeof gateProviderSchema>;

/** The provider a gate names; absent (every gate written before providers existed) is prometheus. */
export function gateProviderOf(gate: { provider?: GateProviderSpec | undefined }): GateProviderKind {
  const p = gate.provider;
  if (p?.cloudwatch) return 'cloudwatch';
  if (p?.webhook) return 'webhook';
  return 'prometheus';
}

/**
 * What a gate needs besides its provider: prometheus a `query`, a provider with numbers a
 * `condition`; webhook answers pass or fail itself, so it takes neither. Paths are relative to the gate.
 */
export function gateFieldIssues(gate: {
  provider?: GateProviderSpec | undefined;
  query?: string | undefined;
  condition?: string | undefined;
}): { path: string; message: string }[] {
  // A provider block that names none or several is reported on its own; what it needs is unknown.
  if (gate.provider && GATE_PROVIDERS.filter((k) => gate.provider?.[k] !== undefined).length !== 1) return [];
  const kind = gateProviderOf(gate);
  const issues: { path: string; message: string }[] = [];
  if (kind === 'prometheus' && gate.query === undefined) {
    issues.push({ path: 'query', message: 'is required for a prometheus gate (the default provider)' });
  }
  if (kind !== 'prometheus' && gate.query !== undefined) {
    issues.push({ path: 'query', message: `is only for prometheus gates; a ${kind} gate takes no query` });
  }
  if (kind !== 'webhook' && gate.condition === undefined) {
    issues.push({ path: 'condition', message: `is required for a ${kind} gate` });
  }
  if (kind === 'webhook' && gate.condition !== undefined) {
    issues.push({ path: 'condition', message: 'is not for webhook gates: the webhook answers pass or fail itself' });
  }
  return issues;
}
/**
 * Prometheus refuses a range query of more than 11,000 points per series ("exceeded maximum
 * resolution of 11,000 points per timeseries", prometheus/web/api/v1/api.go).
 */
const MAX_RANGE_POINTS = 11_000;

export const gateCompareSchema = z
  .strictObject({
    baseline: z
      .strictObject({
        window: positiveDuration(
          'Length of each window: the baseline window ends when the cluster\'s upgrade started, the current window ends at the measurement and starts no earlier than the end of the upgrade. Default: "1h".',
        ).default('1h'),
        step: positiveDuration(
          'Time between the samples of both windows (Prometheus query_range step). Samples closer than the query\'s own smoothing window (a rate over 5m) repeat each other, so choose at least that. Default: "1m".',
        ).default('1m'),
        direction: z
          .enum(['increase', 'decrease'])
          .default('increase')
          .describe('Which change is bad: increase (errors, latency) or decrease (throughput). Default: increase.'),
        minEffect: z
          .number()
          .min(0, { message: 'must be >= 0' })
          .default(0.2)
          .describe(
            'Smallest change of the median, in the bad direction, that counts as a regression; see effect. Default: 0.2.',
          ),
        effect: z
          .enum(['relative', 'absolute'])
          .default('relative')
          .describe(
            'relative: minEffect is a fraction of the baseline median (0.2 = 20 %); absolute: in the metric units. Default: relative.',
          ),
        alpha: z
          .number()
          .gt(0, { message: 'must be > 0' })
          .max(0.5, { message: 'must be <= 0.5' })
          .default(0.05)
          .describe('One-sided significance level of the Mann-Whitney U test. Default: 0.05.'),
      })
      .optional()
      .describe(
        "Compare the cluster with its own values before its upgrade (domain/baseline.ts): fail on a change of at least minEffect that a one-sided Mann-Whitney U test finds significant at alpha; pass on a change below minEffect; otherwise, and with too few samples for the test to ever reach alpha, or no data, inconclusive. Runs in the phases after the change (postStep, bake, soak) and after the gate's condition passes; in the baseline phase only the condition applies.",
      ),
    cohort: z
      .strictObject({
        labels: z
          .array(z.string().min(1))
          .min(1, { message: 'must name at least one label' })
          .max(10)
          .default(['env'])
          .describe(
            'Label keys whose values the control clusters must share with the wave (every cluster of the wave must agree). Default: [env].',
          ),
        window: positiveDuration(
          'Each cluster\'s value is the median of the query over this window up to the measurement. Default: "1h".',
        ).default('1h'),
        step: positiveDuration('Time between samples within the window. Default: "1m".').default('1m'),
        direction: z
          .enum(['increase', 'decrease'])
          .default('increase')
          .describe('Which change is bad. Default: increase.'),
        minEffect: z
          .number()
          .min(0, { message: 'must be >= 0' })
          .default(0.2)
          .describe('Smallest difference of the medians of the two groups that counts. Default: 0.2.'),
        effect: z.enum(['relative', 'absolute']).default('relative').describe('As in baseline. Default: relative.'),
        alpha: z
          .number()
          .gt(0, { message: 'must be > 0' })
          .max(0.5, { message: 'must be <= 0.5' })
          .default(0.05)
          .describe('One-sided significance level. Default: 0.05.'),
      })
      .optional()
      .describe(
        'Wave gates only: compare the wave\'s upgraded clusters with a control cohort, the campaign\'s clusters not yet upgraded with the same labels, one value per cluster, by the same rule as baseline (so a wave of 2 clusters against 3 controls is inconclusive: too few samples). The query must return one series per cluster with a cluster label over {{clusters}}, e.g. max by (cluster) (x{cluster=~"{{clusters}}"}). No matching control cluster: refused (inconclusive), never compared across environments. Default: none.',
      ),
  })
  .describe('Compare the gate query with a baseline or a control cohort, on top of its condition. Default: none.');

export type GateCompareSpec = z.infer<typeof gateCompareSchema>;

export const healthGateSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'must be lowercase letters, digits and dashes' })
      .describe('Unique gate name.'),
    provider: gateProviderSchema.optional(),
    query: z
      .string()
      .min(1, { message: 'must not be empty' })
      .max(4000, { message: 'must be at most 4000 characters' })
      .optional()
      .describe(
        'PromQL returning one sample; {{cluster}} is replaced by the cluster name. Required for prometheus gates, not allowed with other providers.',
      ),
    condition: conditionString
      .optional()
      .describe(
        'Pass condition on the value, e.g. "< 0.01". Required for prometheus and cloudwatch gates; webhook gates answer pass or fail themselves.',
      ),
    interval: positiveDuration('Time between measurements. Default: "30s".').default('30s'),
    initialDelay: durationString(
      'Wait before the first measurement. Default: "0s"; in the postStep and bake phases at least one interval, so the first sample postdates the change (keep interval at or above the scrape interval).',
    ).default('0s'),
    consecutiveSuccesses: z
      .number()
      .int()
      .min(1, { message: 'must be >= 1' })
      .max(1000, { message: 'must be <= 1000' })
      .default(1)
      .describe('Passing measurements in a row that make the gate pass. Default: 1.'),
    failureLimit: z
      .number()
      .int()
      .min(0, { message: 'must be >= 0' })
      .max(1000, { message: 'must be <= 1000' })
      .default(0)
      .describe('Failed measurements tolerated; one more fails the gate. Default: 0.'),
    inconclusiveLimit: z
      .number()
      .int()
      .min(0, { message: 'must be >= 0' })
      .max(1000, { message: 'must be <= 1000' })
      .default(3)
      .describe(
        '"No data" or NaN measurements tolerated; one more makes the gate inconclusive (not a pass). Default: 3.',
      ),
    consecutiveErrorLimit: z
      .number()
      .int()
      .min(0, { message: 'must be >= 0' })
      .max(1000, { message: 'must be <= 1000' })
      .default(4)
      .describe('Query errors (Prometheus down, bad response) in a row tolerated. Default: 4.'),
    timeout: positiveDuration('Give up (not a pass) after this long. Default: "10m".').default('10m'),
    phases: z
      .array(z.enum(GATE_PHASES))
      .min(1, { message: 'must list at least one phase' })
      .default(['baseline', 'postStep', 'bake', 'soak'])
      .describe('Where the gate runs: baseline (before a cluster starts), postStep, bake, soak. Default: all.'),
    scope: z
      .enum(['cluster', 'wave'])
      .optional()
      .describe(
        "cluster: measured on each cluster, with {{cluster}} in the query. wave: in the soak and the watch after promotion, measured once per interval over the wave's upgraded clusters, with {{clusters}} (a regex alternation of their names, for =~) and {{wave}} in the query; a failure holds the wave (no single cluster is rolled back). A wave gate needs phases: [soak]. Default: cluster.",
      ),
    compare: gateCompareSchema.optional(),
  })
  .superRefine((gate, ctx) => {
    // Wave scope and comparisons are PromQL: {{clusters}} and range queries have no CloudWatch or webhook form here.
    const kind = gateProviderOf(gate);
    if (kind !== 'prometheus') {
      if (gate.scope === 'wave')
        ctx.addIssue({ code: 'custom', path: ['scope'], message: `wave scope is for prometheus gates, not ${kind}` });
      if (gate.compare)
        ctx.addIssue({
          code: 'custom',
          path: ['compare'],
          message: `comparisons are for prometheus gates, not ${kind}`,
        });
    }
    if (gate.scope === 'wave' && gate.phases.some((p) => p !== 'soak')) {
      ctx.addIssue({
        code: 'custom',
        path: ['phases'],
        message: 'a wave-scope gate runs only in the soak (and the watch after promotion): set phases: [soak]',
      });
    }
    if (gate.compare?.cohort && gate.scope !== 'wave') {
      ctx.addIssue({
        code: 'custom',
        path: ['compare', 'cohort'],
        message: 'a cohort comparison compares a wave with its control clusters: it needs scope: wave',
      });
    }
    if (gate.compare && !gate.compare.baseline && !gate.compare.cohort) {
      ctx.addIssue({ code: 'custom', path: ['compare'], message: 'must name baseline or cohort' });
    }
    const baseline = gate.compare?.baseline;
    if (!baseline) return;
    const windowMs = parseDuration(baseline.window) ?? 0;
    const stepMs = parseDuration(baseline.step) ?? 1;
    if (windowMs / stepMs > MAX_RANGE_POINTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['compare', 'baseline', 'step'],
        message: `window / step must be at most ${MAX_RANGE_POINTS} samples (Prometheus refuses longer query_range answers)`,
      });
    }
  })
  .describe('A PromQL health gate in Argo Rollouts terms.');

export type HealthGateSpec = z.infer<typeof healthGateSchema>;

export const kubernetesChecksSchema = z
  .strictObject({
    nodesReady: z.boolean().default(true).describe('All nodes Ready. Default: true.'),
    kubeletVersionsMatch: z
      .boolean()
      .default(true)
      .describe('Every node of an upgraded node group runs the target kubelet minor. Default: true.'),
    noNewCrashLoops: z
      .boolean()
      .default(true)
      .describe('No pod crash-looping that was not crash-looping in the baseline. Default: true.'),
    workloadsAvailable: z
      .boolean()
      .default(true)
      .describe(
        'Every Deployment and StatefulSet has its replicas available and every DaemonSet its desired pods available, and no pod is stuck Pending (unschedulable, or Pending 5 minutes), leaving out workloads already short in the baseline. Default: true (campaigns started before it existed: off).',
      ),
  })
  .default({ nodesReady: true, kubeletVersionsMatch: true, noNewCrashLoops: true, workloadsAvailable: true })
  .describe('Kubernetes-native checks; they need no Prometheus.');

export const rollbackSchema = z
  .strictObject({
    onGateFailure: z.boolean().default(true).describe('Roll back reversible steps when a gate fails. Default: true.'),
    onUpdateFailure: z
      .boolean()
      .default(true)
      .describe('Roll back reversible steps when an EKS update fails. Default: true.'),
    controlPlane: z
      .boolean()
      .default(false)
      .describe('Also roll the control plane back (EKS VersionRollback) where EKS allows it. Default: false.'),
    controlPlaneBake: positiveDuration(
      "After the last control-plane hop and before add-ons and nodes move, the cluster's bake-phase and postStep gates must pass for this long, so a rollback then needs the control plane only (EKS's rollback best practice). On an EKS Auto Mode cluster the custom NodePools' drift is held meanwhile; the built-in NodePools cannot be held. The gates make the bake last: without bake-phase or postStep gates only the Kubernetes checks run, once. Default: none.",
    ).optional(),
    afterPromotion: z
      .strictObject({
        mode: z
          .enum(['propose', 'auto'])
          .default('propose')
          .describe(
            'What a gate failure during spec.watchAfterPromotion does: `propose` pauses the campaign and proposes `fleetwave rollback NAME --wave W`; `auto` (an explicit opt-in) also starts that rollback of the whole wave at once, still paused. Default: propose.',
          ),
        controlPlane: z
          .boolean()
          .default(false)
          .describe(
            "A rollback of a promoted wave (`fleetwave rollback`, or `auto`) also rolls each cluster's control plane back one minor by EKS VersionRollback, which EKS allows only within 7 days of the upgrade and while the cluster's rollback-readiness insights pass; refused, the control plane stays and the rollback says why. Default: false (node groups and add-ons only).",
          ),
      })
      .optional()
      .describe(
        'Undoing a promoted wave (`fleetwave rollback NAME --wave W`). Absent: propose only, and the control plane stays.',
      ),
  })
  .default({ onGateFailure: true, onUpdateFailure: true, controlPlane: false })
  .describe(
    'Automatic rollback: add-ons to their previous version, custom-AMI node groups to their previous launch-template version; node groups whose AMI EKS picks stay (EKS cannot roll them back; domain/node-models.ts).',
  );

export const approversSchema = z
  .strictObject({
    users: z
      .array(z.string().min(1).max(CLAIM_LIMITS.actor))
      .max(100)
      .default([])
      .describe(
        "Who may approve a wave, by principal name. Empty (and no groups): anyone the worker's fleet approval policy accepts. Each name at most once. Default: empty.",
      ),
    groups: z
      .array(z.string().min(1).max(CLAIM_LIMITS.actor))
      .max(100)
      .optional()
      .describe(
        "Groups of the worker's fleet approval policy whose members may approve, in addition to users. Only narrows what the policy allows; needs a worker with a policy (without one nobody is in a group). Default: none.",
      ),
    minApprovals: z
      .number()
      .int()
      .min(1, { message: 'must be >= 1' })
      .max(100, { message: 'must be <= 100' })
      .default(1)
      .describe('Distinct approvers a wave needs (N of M). Default: 1.'),
    expiresAfter: positiveDuration(
      'An approval older than this (workflow clock) no longer counts toward minApprovals and is dropped, with an audit entry. Default: none (approvals never expire).',
    ).optional(),
  })
  .default({ users: [], minApprovals: 1 })
  .superRefine((a, ctx) => {
    const seen = new Map<string, number>();
    a.users.forEach((user, i) => {
      const prev = seen.get(user);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['users', i],
          message: `duplicates spec.approvers.users[${prev}] "${user}" (each approver counts once)`,
        });
      } else seen.set(user, i);
    });
    if (a.users.length > 0 && !a.groups?.length && a.minApprovals > seen.size) {
      ctx.addIssue({
        code: 'custom',
        path: ['minApprovals'],
        message: `must be <= the number of users (${seen.size})`,
      });
    }
  })
  .describe(
    'Who approves promotions and how many must. Who may sign is decided by the fleet approval policy on the worker; the spec can only narrow it.',
  );

export const nodegroupsSchema = z
  .strictObject({
    maxParallel: z
      .number()
      .int()
      .min(1, { message: 'must be >= 1' })
      .max(20, { message: 'must be <= 20' })
      .default(1)
      .describe('Node groups of one cluster updated at once. Default: 1.'),
    force: z
      .boolean()
      .default(false)
      .describe('Force node group updates past pods that cannot be drained (PDBs). Default: false.'),
  })
  .default({ maxParallel: 1, force: false })
  .describe('How node groups are updated.');

/** Tools whose next sync or apply reverts a change fleetwave makes to what they own. */
export const OWNER_TOOLS = ['argocd', 'flux', 'helm', 'terraform'] as const;
export type OwnerTool = (typeof OWNER_TOOLS)[number];

export const nodesSchema = z
  .strictObject({
    karpenter: z
      .strictObject({
        budget: z
          .string()
          .regex(/^(\d+|\d+%)$/, { message: 'must be a count or a percentage such as "10%"' })
          .default('10%')
          .describe(
            'Nodes of one NodePool that Karpenter may disrupt at once for drift during the node step (a Drifted budget beside the NodePool\'s own budgets: Karpenter applies the most restrictive, so those still cap it). Default: "10%".',
          ),
        pdbTimeout: positiveDuration(
          'The node step fails when evictions stay blocked by a PodDisruptionBudget this long. Default: "30m".',
        ).default('30m'),
        timeout: positiveDuration(
          'The node step fails when not every NodeClaim runs the pinned AMI after this long. Default: "6h".',
        ).default('6h'),
      })
      .default({ budget: '10%', pdbTimeout: '30m', timeout: '6h' })
      .describe("Karpenter: AMI pin, drift hold and release (self-installed Karpenter only; Auto Mode is EKS's)."),
    selfManaged: z
      .strictObject({
        minHealthyPercentage: z
          .number()
          .int()
          .min(0)
          .max(100)
          .default(90)
          .describe('Instance refresh MinHealthyPercentage. Default: 90.'),
        checkpoints: z
          .array(z.number().int().min(1).max(100))
          .max(10)
          .default([50, 100])
          .describe(
            'Instance refresh CheckpointPercentages; at each one fleetwave checks Kubernetes readiness. Default: [50, 100].',
          ),
        drainTimeout: positiveDuration(
          'Drain of one node before its instance terminates; a PodDisruptionBudget blocking longer fails the step. Default: "15m".',
        ).default('15m'),
      })
      .default({ minHealthyPercentage: 90, checkpoints: [50, 100], drainTimeout: '15m' })
      .describe("Self-managed node groups (Auto Scaling groups): instance refresh with fleetwave's own drains."),
    fargate: z
      .enum(['report', 'restart'])
      .default('report')
      .describe(
        'Fargate pods keep their kubelet until recreated. report: list the pods still on an old kubelet; restart: restart their owners in the node step (PDBs honoured). Default: report.',
      ),
    allowOwnedBy: z
      .array(z.enum(OWNER_TOOLS))
      .default([])
      .describe(
        'Change NodePools, EC2NodeClasses, node groups and self-managed groups (Auto Scaling groups) that these tools own (their next sync may revert it). Default: none (preflight refuses, naming the owner).',
      ),
  })
  .default({
    karpenter: { budget: '10%', pdbTimeout: '30m', timeout: '6h' },
    selfManaged: { minHealthyPercentage: 90, checkpoints: [50, 100], drainTimeout: '15m' },
    fargate: 'report',
    allowOwnedBy: [],
  })
  .describe('Node models besides managed node groups: Karpenter, self-managed groups, Fargate; and ownership.');

export const estimatesSchema = z
  .strictObject({
    controlPlaneHop: positiveDuration('Assumed duration of one control-plane hop. Default: "20m".').default('20m'),
    addon: positiveDuration(
      'Assumed duration of one add-on update, and of the add-on step (the add-ons of a cluster are updated together). Default: "2m".',
    ).default('2m'),
    nodeBatch: positiveDuration('Assumed duration of replacing one batch of nodes. Default: "5m".').default('5m'),
  })
  .default({ controlPlaneHop: '20m', addon: '2m', nodeBatch: '5m' })
  .describe('Duration assumptions for the plan ETA and the maintenance-window fit check.');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { message: 'must be an environment variable name' });
const k8sName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: 'must be a Kubernetes object name' });

export const notifySinkSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
        message: 'must be lowercase letters, digits and dashes, at most 63 characters',
      })
      .describe('Names the sink in status and logs.'),
    kind: z
      .enum(['slack', 'cloudevents'])
      .describe(
        '"slack": a Slack-compatible incoming webhook (Block Kit message with campaign, wave, cluster, reason and the Web UI link). "cloudevents": a JSON webhook receiving CloudEvents 1.0 in structured mode (application/cloudevents+json).',
      ),
    urlFromEnv: envName
      .optional()
      .describe(
        'Environment variable of the worker holding the webhook URL. The URL never enters the campaign, its history or the logs. Exactly one of urlFromEnv and urlFromSecret.',
      ),
    urlFromSecret: z
      .strictObject({
        namespace: k8sName.describe('Namespace of the Secret.'),
        name: k8sName.describe('Name of the Secret.'),
        key: z.string().min(1).max(253).describe('Key in the Secret whose value is the webhook URL.'),
      })
      .optional()
      .describe(
        'A Kubernetes Secret in the cluster the worker runs in (its in-cluster service account, or its kubeconfig), read at each delivery.',
      ),
    events: z
      .array(z.enum(NOTIFY_EVENTS))
      .min(1)
      .optional()
      .describe(`Events sent to this sink. Default: all (${NOTIFY_EVENTS.join(', ')}).`),
  })
  .superRefine((sink, ctx) => {
    if ((sink.urlFromEnv === undefined) === (sink.urlFromSecret === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'needs exactly one of urlFromEnv and urlFromSecret' });
    }
  });
export type NotifySink = z.output<typeof notifySinkSchema>;

export const notifySchema = z
  .array(notifySinkSchema)
  .max(10, { message: 'must list at most 10 sinks' })
  .default([])
  .superRefine((sinks, ctx) => {
    const seen = new Map<string, number>();
    sinks.forEach((sink, i) => {
      const prev = seen.get(sink.name);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicates spec.notify[${prev}].name "${sink.name}"`,
        });
      } else seen.set(sink.name, i);
    });
  })
  .describe(
    'Where the campaign sends notifications, each delivered by a detached workflow with retries: a failing sink never delays or fails the campaign and shows in status. Default: none.',
  );

export const campaignSpecSchema = z
  .strictObject({
    target: targetSchema,
    selector: labelSelectorSchema.default({}),
    waves: z
      .array(waveSchema)
      .min(1, { message: 'must list at least one wave' })
      .max(100, { message: 'must list at most 100 waves' })
      .describe('Ordered waves; each runs after the previous one is promoted.'),
    pacing: pacingSchema,
    maintenanceWindows: z.array(maintenanceWindowSchema).max(100).default([]).describe('Default: none (any time).'),
    healthGates: z
      .array(healthGateSchema)
      .max(50)
      .default([])
      .describe('Health gates: PromQL (the default), CloudWatch or webhook. Default: none.'),
    kubernetesChecks: kubernetesChecksSchema,
    rollback: rollbackSchema,
    approvers: approversSchema,
    nodegroups: nodegroupsSchema,
    nodes: nodesSchema,
    bake: durationString(
      'After its last step, a cluster must pass its bake-phase gates for this long before it counts as done. Default: "5m".',
    ).default('5m'),
    estimates: estimatesSchema,
    watchAfterPromotion: durationString(
      'After a wave is promoted, its clusters stay watched by the soak-phase gates for this long while the next waves run; a Failed gate then pauses the campaign and proposes `fleetwave rollback NAME --wave W` (undone automatically only with spec.rollback.afterPromotion.mode `auto`); no data or query errors say nothing about the promoted clusters: status shows them and the watch goes on. "0s" turns it off. Default: "1h". Campaigns started before this field existed are not watched.',
    ).default('1h'),
    notify: notifySchema,
  })
  .superRefine((spec, ctx) => {
    const seen = new Map<string, number>();
    spec.waves.forEach((w, i) => {
      const prev = seen.get(w.name);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['waves', i, 'name'],
          message: `duplicates spec.waves[${prev}].name "${w.name}"`,
        });
      } else seen.set(w.name, i);
    });
    const gates = new Map<string, number>();
    spec.healthGates.forEach((g, i) => {
      for (const issue of gateFieldIssues(g)) {
        ctx.addIssue({ code: 'custom', path: ['healthGates', i, issue.path], message: issue.message });
      }
      const prev = gates.get(g.name);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['healthGates', i, 'name'],
          message: `duplicates spec.healthGates[${prev}].name "${g.name}"`,
        });
      } else gates.set(g.name, i);
    });
    if (!spec.target.kubernetesVersion && spec.target.skipAddons && spec.target.skipNodegroups) {
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: 'has nothing to upgrade: set kubernetesVersion or leave add-ons or node groups in',
      });
    }
  });

export const campaignSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, { message: `must be "${API_VERSION}"` }).describe(`Always "${API_VERSION}".`),
  kind: z.literal('UpgradeCampaign', { message: 'must be "UpgradeCampaign"' }).describe('Always "UpgradeCampaign".'),
  metadata: z.strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
        message: 'must be lowercase letters, digits and dashes, at most 63 characters',
      })
      .describe('Campaign name; the workflow ID is campaign/<name>.'),
    labels: z.record(labelKey, labelValue).optional().describe('Free-form labels for the campaign itself.'),
  }),
  spec: campaignSpecSchema,
});

/** The campaign as the YAML author wrote it (defaults optional). */
export type CampaignInput = z.input<typeof campaignSchema>;
/** The validated campaign with every default filled in. */
export type Campaign = z.output<typeof campaignSchema>;
export type CampaignSpec = Campaign['spec'];
