/**
 * Planning from files, for the `plan` command and for scripts: read and validate a campaign and
 * a fleet, build the plan (domain/plan.ts), and render it as text. Nothing here talks to
 * Temporal; AWS only to check pinned versions (client/version-check.ts). A plan never changes anything.
 */
import { formatEstimate } from '../domain/duration';
import { toFleetMembers, type FleetMember } from '../domain/fleet';
import { formatIssue, parseCampaign, parseFleet, type ValidationIssue } from '../domain/load';
import { DEFAULT_AMI_TYPE, memberNodegroupReversibility } from '../domain/node-models';
import { buildPlan, type PlannedCampaign, type PlannedNodeModel } from '../domain/plan';
import { SELF_MANAGED_ROLLBACK } from '../domain/self-managed';
import type { Campaign } from '../domain/spec';
import { ExitCode, FleetwaveError, InvalidInputError } from './errors';
import { readRegularFile, UnreadableFileError } from './files';
import { campaignIssuesBeyondSchema } from './campaign-checks';
import { describePins, findCurrentClusters, resolvePinsLive } from './current-check';
import { checkPinnedVersionsLive, hasPinnedVersions } from './version-check';
import { table } from './format';

/** The largest campaign or fleet file read (the YAML parser refuses larger documents too). */
export const MAX_SPEC_FILE_BYTES = 20 * 1024 * 1024;

/** Reads a UTF-8 regular file, size checked first; an unreadable one is bad input naming the file. */
async function readText(file: string): Promise<string> {
  try {
    return await readRegularFile(file, MAX_SPEC_FILE_BYTES);
  } catch (err) {
    if (err instanceof UnreadableFileError) throw new InvalidInputError(err.message);
    throw err;
  }
}

/** One error whose message has one line per issue: `file: spec.waves[1].maxParallel (line 23): must be >= 1`. */
function invalid(file: string, issues: ValidationIssue[]): InvalidInputError {
  return new InvalidInputError(issues.map((issue) => `${file}: ${formatIssue(issue)}`).join('\n'), issues);
}

/** Reads and validates a campaign YAML file. Throws InvalidInputError (exit code 2) naming file, path and line. */
export async function readCampaignFile(file: string): Promise<Campaign> {
  const parsed = parseCampaign(await readText(file));
  if (!parsed.ok) throw invalid(file, parsed.issues);
  const issues = campaignIssuesBeyondSchema(parsed.value);
  if (issues.length > 0) throw invalid(file, issues);
  return parsed.value;
}

/**
 * The live check of pinned versions (client/version-check.ts) as `plan` and `start` run it:
 * issues become bad input naming the campaign file and field. When EKS cannot be asked, `start`
 * refuses to guess (exit 1, saying why) and `plan`, which may run offline, returns a warning.
 */
export async function checkPinnedVersions(
  file: string,
  campaign: Campaign,
  plan: PlannedCampaign,
  mode: 'start' | 'plan',
): Promise<string | undefined> {
  if (!hasPinnedVersions(campaign)) return undefined;
  let issues: ValidationIssue[];
  try {
    issues = await checkPinnedVersionsLive(campaign, plan);
  } catch (err) {
    const why = `cannot check the pinned versions against EKS (${err instanceof Error ? err.message : String(err)})`;
    if (mode === 'plan') return `${why}; they are checked again when the campaign starts`;
    throw new FleetwaveError(
      `${file}: spec.target: ${why}; fleetwave start checks them with the worker's AWS settings (FLEETWAVE_AWS_ENDPOINT, AWS_REGION, credentials)`,
      ExitCode.runtimeFailure,
    );
  }
  if (issues.length > 0) throw invalid(file, issues);
  return undefined;
}

/** Reads and validates a fleet YAML file into fleet members. Throws InvalidInputError naming file, path and line. */
export async function readFleetFile(file: string): Promise<FleetMember[]> {
  const parsed = parseFleet(await readText(file));
  if (!parsed.ok) throw invalid(file, parsed.issues);
  return toFleetMembers(parsed.value);
}

/**
 * Reads both files and builds the plan. Both files are validated before either error is
 * reported, so one run shows every problem.
 */
export async function planFromFiles(campaignFile: string, fleetFile: string): Promise<PlannedCampaign> {
  const [campaign, fleet] = await Promise.allSettled([readCampaignFile(campaignFile), readFleetFile(fleetFile)]);
  const errors = [campaign, fleet].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (errors.length > 0) {
    if (errors.length === 1 || !errors.every((e) => e.reason instanceof InvalidInputError)) throw errors[0]?.reason;
    const all = errors.map((e) => e.reason as InvalidInputError);
    throw new InvalidInputError(
      all.map((e) => e.message).join('\n'),
      all.flatMap((e) => e.issues),
    );
  }
  const validCampaign = (campaign as PromiseFulfilledResult<Campaign>).value;
  const members = (fleet as PromiseFulfilledResult<FleetMember[]>).value;
  let plan = buildPlan(validCampaign, members);
  const unchecked = await checkPinnedVersions(campaignFile, validCampaign, plan, 'plan');
  if (plan.waves.some((w) => w.clusters.length > 0)) {
    // What "latest" and "default" are today, per region and AMI family: shown, and for a
    // patch-only campaign used to skip the clusters already current. The campaign pins again at start.
    const patchOnly = !validCampaign.spec.target.kubernetesVersion;
    try {
      const inventory = parseFleet(await readText(fleetFile));
      const clusters = inventory.ok ? inventory.value.clusters : [];
      const pinned = await resolvePinsLive(validCampaign, clusters, plan);
      const current = pinned && patchOnly ? findCurrentClusters(validCampaign, clusters, plan, pinned) : new Map();
      if (current.size > 0) plan = buildPlan(validCampaign, members, current);
      if (pinned) plan.amiPins = { regions: describePins(pinned) };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      plan.amiPins = { unavailable: why };
      if (patchOnly) {
        plan.warnings.push(
          `cannot tell which clusters are already current without EKS and SSM (${why}); every selected cluster is planned, and each one's preflight skips it if it has nothing to do`,
        );
      }
    }
  }
  if (unchecked) plan.warnings.push(unchecked);
  return plan;
}

function versionCell(from: string, path: readonly string[]): string {
  return path.length === 0 ? `${from} (nodes/add-ons only)` : [from, ...path].join(' → ');
}

/** What the NODES column says of a model not upgraded now. */
const LATER_NAMES: Record<string, string> = {
  karpenter: 'Karpenter',
  fargate: 'Fargate',
};

/**
 * One cell per cluster: "AL2023_x86_64_STANDARD×2 no undo, CUSTOM×1 undo · Auto Mode · later: Fargate".
 * `undo`/`no undo` is the node-group rollback rule (domain/node-models.ts); the plan's header says why.
 */
export function nodeModelsCell(models: readonly PlannedNodeModel[]): string {
  const parts: string[] = [];
  const managed = models.filter((m) => m.model === 'managed');
  if (managed.length > 0) {
    parts.push(
      managed
        .map(
          (m) =>
            `${m.amiType ?? '?'}×${m.count}${m.reversible === undefined ? '' : m.reversible ? ' undo' : ' no undo'}`,
        )
        .join(', '),
    );
  }
  const auto = models.find((m) => m.model === 'auto-mode');
  if (auto) {
    parts.push(
      auto.action === 'follows the control plane'
        ? `Auto Mode follows${auto.reversible ? ' undo' : ' no undo'}`
        : 'Auto Mode',
    );
  }
  const karpenter = models.find((m) => m.model === 'karpenter' && m.action === 'pinned, held, drifted');
  if (karpenter) parts.push(`Karpenter ${karpenter.version ?? ''} drift undo`.replace('  ', ' '));
  const selfManaged = models.find((m) => m.model === 'self-managed');
  if (selfManaged) {
    parts.push(
      selfManaged.action === 'instance refresh with drains'
        ? `self-managed×${selfManaged.count} refresh undo`
        : `self-managed×${selfManaged.count}`,
    );
  }
  const fargate = models.find(
    (m) => m.model === 'fargate' && m.action !== 'detected only (upgraded in a later release)',
  );
  if (fargate)
    parts.push(
      `Fargate ${fargate.action === 'upgrade' ? 'restart' : fargate.action === 'reported' ? 'report' : 'untouched'}`,
    );
  const later = models
    .filter((m) => LATER_NAMES[m.model] && m.action === 'detected only (upgraded in a later release)')
    .map((m) => LATER_NAMES[m.model] as string);
  if (later.length > 0) parts.push(`later: ${later.join(', ')}`);
  return parts.join(' · ');
}

/** The plan's node-model lines: fleet-wide totals, what fleetwave does to each model, what can be undone. */
export function nodeModelLines(plan: PlannedCampaign): string[] {
  const t = plan.nodeModels;
  const lines: string[] = [];
  const nodegroupsUntouched = plan.campaign.nodegroupRelease === 'untouched';
  if (t.managed.length > 0) {
    lines.push(
      `managed node groups: ${t.managed.map((m) => `${m.nodegroups} ${m.amiType} (${m.clusters} cluster${m.clusters === 1 ? '' : 's'})`).join(', ')}` +
        (nodegroupsUntouched ? ': untouched' : ': upgraded'),
    );
    if (!nodegroupsUntouched) {
      const reversible = t.managed.filter((m) => m.reversible).reduce((n, m) => n + m.nodegroups, 0);
      const rule = memberNodegroupReversibility({ amiType: DEFAULT_AMI_TYPE });
      const undo = [
        `${t.irreversibleNodegroupSteps} node-group step${t.irreversibleNodegroupSteps === 1 ? '' : 's'} cannot be undone (EKS picks the AMI and cannot roll a node group back: ${rule.source.title})`,
      ];
      if (reversible > 0) undo.push(`${reversible} can (custom AMI: previous launch-template version)`);
      lines.push(`node-group rollback: ${undo.join('; ')}`);
    }
  }
  if (plan.amiPins?.regions) {
    lines.push('AMI pins (what EKS and SSM publish now; the campaign pins them again when it starts):');
    lines.push(...plan.amiPins.regions.map((r) => `  ${r}`));
  } else if (plan.amiPins?.unavailable) {
    lines.push(`AMI pins: resolved when the campaign starts, per region and amiType (EKS and SSM not reachable now)`);
  }
  const bake = plan.controlPlaneBake;
  if (bake) {
    const clean = plan.waves.reduce((n, w) => n + w.clusters.filter((cl) => cl.cleanRollbackPath).length, 0);
    lines.push(
      bake.rollsBack
        ? `control-plane bake ${bake.duration}: ${clean} cluster${clean === 1 ? '' : 's'} keep a clean rollback path (gates before add-ons and nodes move; a failure rolls back the control plane alone)`
        : `control-plane bake ${bake.duration}: gates before add-ons and nodes move, but spec.rollback.controlPlane is off, so a failure rolls nothing back`,
    );
  }
  const c = t.clusters;
  if (c.autoMode > 0) {
    lines.push(
      `EKS Auto Mode: ${c.autoMode} cluster${c.autoMode === 1 ? '' : 's'}; nodes follow the control plane under their NodePools' disruption budgets`,
    );
  }
  if (c.selfManaged > 0) {
    lines.push(
      `self-managed groups: ${c.selfManaged} cluster${c.selfManaged === 1 ? '' : 's'}` +
        (nodegroupsUntouched
          ? ': untouched'
          : `; instance refresh to the pinned AMI, fleetwave drains each node first (PDBs honoured); rollback: ${SELF_MANAGED_ROLLBACK}`),
    );
  }
  const karpenterDrifted = plan.waves.reduce(
    (n, w) =>
      n +
      w.clusters.filter((cl) =>
        cl.nodeModels.some((m) => m.model === 'karpenter' && m.action === 'pinned, held, drifted'),
      ).length,
    0,
  );
  if (karpenterDrifted > 0) {
    lines.push(
      `Karpenter: ${karpenterDrifted} cluster${karpenterDrifted === 1 ? '' : 's'}; EC2NodeClasses pinned to the current AMIs and drift held over the hop, then drifted to the pinned AMIs under spec.nodes.karpenter.budget; rollback restores the terms and budgets`,
    );
  }
  const later = [c.karpenter > karpenterDrifted ? `Karpenter on ${c.karpenter - karpenterDrifted}` : ''].filter(
    Boolean,
  );
  if (c.fargate > 0) {
    const restart = plan.waves.some((w) =>
      w.clusters.some((cl) => cl.nodeModels.some((m) => m.model === 'fargate' && m.action === 'upgrade')),
    );
    lines.push(
      `Fargate: ${c.fargate} cluster${c.fargate === 1 ? '' : 's'}; pods keep their kubelet until recreated: ${restart ? 'their owners are restarted in the node step (spec.nodes.fargate: restart)' : 'those on an old kubelet after the hop are reported (spec.nodes.fargate: report)'}`,
    );
  }
  if (later.length > 0)
    lines.push(`detected, not upgraded (upgraded in a later release): ${later.join(', ')} cluster(s)`);
  return lines;
}

function indent(lines: readonly string[], by = '  '): string[] {
  return lines.map((l) => `${by}${l}`);
}

/**
 * The human form of a plan: a header (target, selection, pacing, node models and what can be
 * undone), one table per wave with each cluster's version path, node models and notes, then
 * skips, refusals, warnings and the ETA.
 */
export function renderPlanText(plan: PlannedCampaign): string {
  const c = plan.campaign;
  const lines: string[] = [];
  lines.push(
    `campaign ${c.name}: ${c.targetDescription} (node AMI release ${c.nodegroupRelease}, add-ons ${c.addons})`,
  );
  lines.push(
    `fleet: ${c.fleetSize} clusters, ${c.selected} selected by ${c.selector}; ` +
      `${c.toUpgrade} to upgrade, ${plan.skipped.length} skipped, ${plan.refused.length} refused` +
      (plan.unplaced.length > 0 ? `, ${plan.unplaced.length} in no wave` : ''),
  );
  const pacing = [`at most ${c.maxInFlight} in flight`];
  if (c.rateLimit) pacing.push(`rate limit ${c.rateLimit}`);
  if (c.caps.length > 0) pacing.push(`caps ${c.caps.join(', ')}`);
  lines.push(`pacing: ${pacing.join('; ')}`);
  const approvers = c.approvers.users.length > 0 ? c.approvers.users.join(', ') : 'anyone';
  lines.push(`approvals: ${c.approvers.minApprovals} of ${approvers}`);
  const models = nodeModelLines(plan);
  if (models.length > 0) lines.push('node models of the clusters to upgrade:', ...indent(models));

  plan.waves.forEach((wave, i) => {
    lines.push('');
    lines.push(
      `wave ${i + 1}/${plan.waves.length} ${wave.name}: ${wave.clusters.length} cluster${wave.clusters.length === 1 ? '' : 's'}` +
        ` (${wave.selector}) · maxParallel ${wave.maxParallel} · failure budget ${wave.failureBudget} then ${wave.onBudgetExceeded}` +
        ` · soak ${wave.soak} · approval ${wave.approval} · ETA ≥ ${formatEstimate(wave.estimateMs)}`,
    );
    if (wave.clusters.length === 0) {
      lines.push('  (no clusters)');
      return;
    }
    const rows = [['CLUSTER', 'REGION', 'ACCOUNT', 'ENV', 'VERSION', 'ETA', 'NODES', 'NOTES']];
    for (const cl of wave.clusters) {
      rows.push([
        cl.name,
        cl.labels.region ?? '',
        cl.labels.account ?? '',
        cl.labels.env ?? '',
        versionCell(cl.from, cl.path),
        formatEstimate(cl.estimateMs),
        [nodeModelsCell(cl.nodeModels), ...(cl.owners ? [`owned: ${cl.owners.join(', ')}`] : [])]
          .filter(Boolean)
          .join(' · '),
        (cl.warnings ?? []).join('; '),
      ]);
    }
    lines.push(...indent(table(rows)));
  });

  const section = (title: string, entries: string[]): void => {
    if (entries.length === 0) return;
    lines.push('', `${title} (${entries.length}):`, ...indent(entries));
  };
  section(
    'skipped',
    plan.skipped.map((s) => `${s.cluster}: ${s.reason}`),
  );
  section(
    'refused',
    plan.refused.map((r) => `${r.cluster}: ${r.reason}`),
  );
  section('warnings', plan.warnings);

  lines.push('', `estimated duration: ≥ ${plan.estimate.human} (lower bound, approvals not included)`);
  lines.push(...indent(plan.estimate.assumptions.map((a) => `- ${a}`)));
  return `${lines.join('\n')}\n`;
}
