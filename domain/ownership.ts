/**
 * Which GitOps or infrastructure-as-code tool owns an object, from what that tool really leaves on
 * it. Pure: activities read the Kubernetes metadata or the EKS tags, preflight decides.
 *
 * A tool that owns an object reverts fleetwave's change at its next sync or apply, so preflight
 * refuses to change an owned object unless `spec.nodes.allowOwnedBy` names the tool. The marks, in
 * the order they are trusted:
 * - Argo CD's annotation tracking writes `argocd.argoproj.io/tracking-id` (the default since
 *   Argo CD 3.0; argo-cd.readthedocs.io/en/stable/user-guide/resource_tracking/). It names its owner
 *   without ambiguity, so it wins over every other mark.
 * - Flux labels what it applies with `kustomize.toolkit.fluxcd.io/name` (kustomize-controller) or
 *   `helm.toolkit.fluxcd.io/name` (helm-controller; fluxcd.io/flux/components/helm/helmreleases/).
 *   A HelmRelease also leaves Helm's own marks, so Flux is checked before Helm.
 * - `helm install` and `helm upgrade` annotate every object with `meta.helm.sh/release-name` and
 *   `meta.helm.sh/release-namespace` (the marks Helm checks before adopting an object), and charts
 *   label them `app.kubernetes.io/managed-by: Helm` (helm.sh/docs/chart_best_practices/labels).
 * - Terraform sets no automatic tag on AWS resources; teams tag by convention (`Terraform = "true"`
 *   as in the terraform-aws-modules examples, `ManagedBy = "terraform"`), which is what is
 *   recognised. On Kubernetes objects the hashicorp/kubernetes provider applies as field manager
 *   `Terraform` (its `defaultFieldManagerName`), visible in `metadata.managedFields`.
 * - AWS resources (an EKS node group) carry no mark of a GitOps tool either: a `ManagedBy`-style tag
 *   naming the tool (`ManagedBy = "argocd"`) is the only evidence there is, and is recognised for
 *   every tool.
 * - Argo CD's label tracking (the default before 3.0, still a choice) writes
 *   `app.kubernetes.io/instance`. Helm charts set that label too (Argo CD's resource-tracking page
 *   names the clash), so it counts for Argo CD only without Helm's release annotation: Argo CD
 *   renders charts with `helm template`, which leaves `managed-by: Helm` but never the release
 *   annotations that only `helm install` writes.
 */

import type { OwnerTool } from './spec';

/** What an object carries: Kubernetes labels, annotations and field managers, or AWS tags. */
export interface OwnershipMarks {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  tags?: Record<string, string>;
  /** `metadata.managedFields[].manager` of a Kubernetes object. */
  managers?: string[];
}

/** The owning tool and the mark that says so, as `key=value` for the operator to check. */
export interface Ownership {
  tool: OwnerTool;
  evidence: string;
}

const ARGO_TRACKING_ID = 'argocd.argoproj.io/tracking-id';
const INSTANCE_LABEL = 'app.kubernetes.io/instance';
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
const FLUX_LABELS = ['kustomize.toolkit.fluxcd.io/name', 'helm.toolkit.fluxcd.io/name'];
const HELM_RELEASE_ANNOTATION = 'meta.helm.sh/release-name';
const TERRAFORM_FIELD_MANAGER = 'Terraform';
/** Tag keys teams use for the owning tool (compared without case, `-` and `_`). */
const OWNER_TAG_KEYS = new Set(['managedby', 'managed', 'provisionedby', 'createdby', 'iac', 'tool']);

/** The tool that owns an object with these marks, or undefined when none is recognised. */
export function detectOwner(marks: OwnershipMarks): Ownership | undefined {
  const labels = marks.labels ?? {};
  const annotations = marks.annotations ?? {};
  const tags = marks.tags ?? {};

  const trackingId = annotations[ARGO_TRACKING_ID];
  if (trackingId !== undefined) return { tool: 'argocd', evidence: `annotation ${ARGO_TRACKING_ID}=${trackingId}` };

  for (const key of FLUX_LABELS) {
    const value = labels[key];
    if (value !== undefined) return { tool: 'flux', evidence: `label ${key}=${value}` };
  }

  const release = annotations[HELM_RELEASE_ANNOTATION];
  if (release !== undefined) return { tool: 'helm', evidence: `annotation ${HELM_RELEASE_ANNOTATION}=${release}` };

  const terraform = terraformMark(labels, tags, marks.managers ?? []);
  if (terraform !== undefined) return { tool: 'terraform', evidence: terraform };

  const tagged = ownerTag(tags);
  if (tagged !== undefined) return tagged;

  const instance = labels[INSTANCE_LABEL];
  if (instance !== undefined) {
    return { tool: 'argocd', evidence: `label ${INSTANCE_LABEL}=${instance} (Argo CD label tracking)` };
  }
  if (labels[MANAGED_BY_LABEL]?.toLowerCase() === 'helm') {
    return { tool: 'helm', evidence: `label ${MANAGED_BY_LABEL}=${labels[MANAGED_BY_LABEL]}` };
  }
  return undefined;
}

/** Tool names as teams write them in an owner tag's value. */
const TOOL_NAMES: [RegExp, OwnerTool][] = [
  [/^argo[-_ ]?cd\b|^argo$/, 'argocd'],
  [/^flux(cd)?\b/, 'flux'],
  [/^helm\b/, 'helm'],
];

function ownerTag(tags: Record<string, string>): Ownership | undefined {
  for (const [key, value] of Object.entries(tags)) {
    if (!OWNER_TAG_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''))) continue;
    const tool = TOOL_NAMES.find(([pattern]) => pattern.test(value.toLowerCase()))?.[1];
    if (tool) return { tool, evidence: `tag ${key}=${value}` };
  }
  return undefined;
}

function terraformMark(
  labels: Record<string, string>,
  tags: Record<string, string>,
  managers: string[],
): string | undefined {
  for (const [key, value] of Object.entries(tags)) {
    const k = key.toLowerCase().replace(/[-_]/g, '');
    const v = value.toLowerCase();
    if (k === 'terraform' && v !== 'false' && v !== 'no') return `tag ${key}=${value}`;
    if (OWNER_TAG_KEYS.has(k) && v.startsWith('terraform')) return `tag ${key}=${value}`;
  }
  const managedBy = labels[MANAGED_BY_LABEL];
  if (managedBy?.toLowerCase().startsWith('terraform')) return `label ${MANAGED_BY_LABEL}=${managedBy}`;
  if (managers.includes(TERRAFORM_FIELD_MANAGER)) return `field manager ${TERRAFORM_FIELD_MANAGER}`;
  return undefined;
}

/** The refusal preflight gives for an owned object that the campaign would change. */
export function ownedRefusal(what: string, owner: Ownership): string {
  return (
    `${what} is owned by ${owner.tool} (${owner.evidence}); its next sync would revert fleetwave's change. ` +
    `Change it through ${owner.tool}, or let fleetwave change it with spec.nodes.allowOwnedBy: [${owner.tool}]`
  );
}

/** Something the campaign would change, and the tool that owns it. */
export interface OwnedChange {
  /** What it is, as the refusal names it: `node group ng-1`, `NodePool default`, `EC2NodeClass default`. */
  what: string;
  owner: Ownership;
}

/**
 * Preflight's verdict on owned objects the campaign would change: a blocker for each whose tool
 * `allowOwnedBy` does not name, a warning for each it does (the tool's next sync may still revert
 * the change). Objects the campaign leaves alone never appear here: the caller passes only changes.
 */
export function assessOwnership(
  changes: readonly OwnedChange[],
  allowOwnedBy: readonly OwnerTool[] = [],
): { blockers: string[]; warnings: string[] } {
  const blockers: string[] = [];
  const warnings: string[] = [];
  for (const { what, owner } of changes) {
    if (allowOwnedBy.includes(owner.tool)) {
      warnings.push(
        `${what} is owned by ${owner.tool} (${owner.evidence}), changed under spec.nodes.allowOwnedBy: its next sync may revert the change unless its source is changed too`,
      );
    } else blockers.push(ownedRefusal(what, owner));
  }
  return { blockers, warnings };
}
