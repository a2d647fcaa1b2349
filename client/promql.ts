/**
 * PromQL checked before a campaign starts, with the Prometheus project's own grammar
 * (`@prometheus-io/lezer-promql`, the parser behind the Prometheus UI's editor). A gate whose
 * query cannot parse would otherwise fail its first measurement, minutes into a campaign.
 *
 * The grammar is syntax only: it knows PromQL's functions and operators, not which metrics
 * exist. Lezer recovers from errors by inserting error nodes (`⚠`) into the tree; the first one
 * is the column reported.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { renderQuery } from '../domain/gates';
import type { ValidationIssue } from '../domain/load';
import type { Campaign } from '../domain/spec';

/** The cluster name a query is rendered with before parsing: `{{cluster}}` must land in a string. */
const DUMMY_CLUSTER = 'fleetwave-check';

/** Where a query stops being PromQL: 1-based line and column of the source the author wrote. */
export interface PromqlSyntaxError {
  line: number;
  column: number;
  /** Up to 20 characters from the error on, for the message. */
  near: string;
}

/**
 * The first syntax error of `query` after `{{cluster}}` is rendered, or undefined when it
 * parses. Positions are mapped back to the unrendered query, so they point at what the author
 * wrote.
 */
export function promqlSyntaxError(query: string): PromqlSyntaxError | undefined {
  const rendered = renderQuery(query, DUMMY_CLUSTER);
  let errorAt: number | undefined;
  if (rendered.trim() === '') errorAt = 0;
  else {
    parser.parse(rendered).iterate({
      enter: (node) => {
        if (errorAt !== undefined) return false;
        if (node.type.isError) errorAt = node.from;
        return undefined;
      },
    });
  }
  if (errorAt === undefined) return undefined;
  const offset = toSourceOffset(query, errorAt);
  const before = query.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return { line, column, near: query.slice(offset, offset + 20).split('\n')[0] ?? '' };
}

/** Maps an offset in the rendered query back to the source: placeholders before it change length. */
function toSourceOffset(query: string, renderedOffset: number): number {
  let shift = 0;
  for (const match of query.matchAll(/\{\{\s*cluster\s*\}\}/g)) {
    const start = (match.index ?? 0) + shift;
    if (start >= renderedOffset) break;
    const renderedEnd = start + DUMMY_CLUSTER.length;
    // An error inside the rendered name points at the placeholder itself.
    if (renderedOffset < renderedEnd) return match.index ?? 0;
    shift += DUMMY_CLUSTER.length - match[0].length;
  }
  return renderedOffset - shift;
}

/** One issue per health gate whose query does not parse: `spec.healthGates[1].query: PromQL syntax error at column 17`. */
export function promqlIssues(campaign: Campaign): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  campaign.spec.healthGates.forEach((gate, i) => {
    // Only prometheus gates have a query; the spec refuses one on the others.
    if (gate.query === undefined) return;
    const error = promqlSyntaxError(gate.query);
    if (!error) return;
    const where = error.line > 1 ? `line ${error.line} of the query, column ${error.column}` : `column ${error.column}`;
    const near = error.near ? ` (near ${JSON.stringify(error.near)})` : ' (the query ends too early)';
    issues.push({ path: `spec.healthGates[${i}].query`, message: `PromQL syntax error at ${where}${near}` });
  });
  return issues;
}
