/**
 * Kubernetes label selectors over fleet members. Pure: safe in workflows.
 *
 * Semantics follow k8s.io/apimachinery `LabelSelectorAsSelector`: every matchLabels entry and
 * every matchExpressions requirement must hold; `NotIn` and `DoesNotExist` match a cluster
 * that lacks the key; an absent or empty selector matches every cluster.
 */
import type { LabelSelector } from './spec';

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

function hasKey(labels: Readonly<Record<string, string>>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

function requirementHolds(labels: Readonly<Record<string, string>>, req: Requirement): boolean {
  const present = hasKey(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(labels[req.key] as string);
    case 'NotIn':
      return !present || !values.includes(labels[req.key] as string);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
  }
}

/** True when `labels` satisfy `selector`; an absent or empty selector matches everything. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector?: LabelSelector): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!hasKey(labels, key) || labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    if (!requirementHolds(labels, req)) return false;
  }
  return true;
}

/** True when the selector has no requirement at all (it selects every cluster). */
export function isEmptySelector(selector?: LabelSelector): boolean {
  return (
    !selector ||
    (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)
  );
}

/**
 * The selector in kubectl's string syntax: `env=prod,region in (us-east-1,eu-west-1),!legacy`.
 * Requirements keep their spec order (matchLabels first). An empty selector renders as `(all)`.
 */
export function describeSelector(selector?: LabelSelector): string {
  if (isEmptySelector(selector)) return '(all)';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const req of selector?.matchExpressions ?? []) {
    const values = (req.values ?? []).join(',');
    switch (req.operator) {
      case 'In':
        parts.push(`${req.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${req.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(req.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${req.key}`);
        break;
    }
  }
  return parts.join(',');
}
