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

const countOrPercent = z.union([
  z
    .number()
    .int({ message: 'must be a whole number' })
    .min(0, { message: 'must be >= 0' })
    .max(100_000, { message: 'must be <= 100000' }),
  percentString,
]);

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
    maxParallel: z
      .number()
      .int({ message: 'must be a whole number' })
      .min(1, { message: 'must be >= 1' })
      .max(1000, { message: 'must be <= 1000' })
      .default(1)
      .describe('Clusters of this wave upgrading at once (sliding window). Default: 1.'),
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
          max: z
            .number()
            .int({ message: 'must be a whole number' })
            .min(1, { message: 'must be >= 1' })
            .max(1000, { message: 'must be <= 1000' })
            .describe('Upgrades in flight at once per value of the label.'),
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

export const healthGateSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'must be lowercase letters, digits and dashes' })
      .describe('Unique gate name.'),
    query: z
      .string()
      .min(1, { message: 'must not be empty' })
      .max(4000, { message: 'must be at most 4000 characters' })
      .describe('PromQL returning one sample; {{cluster}} is replaced by the cluster name.'),
    condition: conditionString.describe('Pass condition on the value, e.g. "< 0.01".'),
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
    healthGates: z.array(healthGateSchema).max(50).default([]).describe('PromQL gates. Default: none.'),
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
      'After a wave is promoted, its clusters stay watched by the soak-phase gates for this long while the next waves run; a failure then pauses the campaign and proposes `fleetwave rollback NAME --wave W` (undone automatically only with spec.rollback.afterPromotion.mode `auto`). "0s" turns it off. Default: "1h". Campaigns started before this field existed are not watched.',
    ).default('1h'),
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
