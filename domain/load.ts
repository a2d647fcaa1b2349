/**
 * Parsing YAML documents into validated campaigns and fleets, with errors that name the
 * field path and, where the YAML has it, the line: `spec.waves[1].maxParallel (line 23): must be >= 1`.
 */
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { campaignSchema, type Campaign } from './spec';
import { fleetSchema, type Fleet } from './fleet';

export interface ValidationIssue {
  /** Dotted path with indexes: `spec.waves[1].maxParallel`; empty for the document root. */
  path: string;
  message: string;
  line?: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** Refuse documents that would expand into something huge (YAML alias bombs). */
const MAX_ALIAS_COUNT = 100;
const MAX_DOCUMENT_BYTES = 20 * 1024 * 1024;

/** Formats an issue for a terminal line. */
export function formatIssue(issue: ValidationIssue, file?: string): string {
  const where = [file, issue.line !== undefined ? `line ${issue.line}` : undefined].filter(Boolean).join(':');
  const path = issue.path || '(document)';
  return `${path}${where ? ` (${where})` : ''}: ${issue.message}`;
}

/** `['spec', 'waves', 1, 'maxParallel']` → `spec.waves[1].maxParallel` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    // An empty key would otherwise vanish into a trailing dot.
    else if (part === '') out += '[""]';
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function parseYaml(text: string): {
  data?: unknown;
  issues: ValidationIssue[];
  locate: (path: PropertyKey[]) => number | undefined;
} {
  if (text.length > MAX_DOCUMENT_BYTES) {
    return {
      issues: [{ path: '', message: `document is larger than ${MAX_DOCUMENT_BYTES} bytes` }],
      locate: () => undefined,
    };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  // A mapping entry is reported at its key's line: for a nested block (`waves:` followed by
  // its items) the value starts a line later than where the reader looks.
  const lineOf = (path: PropertyKey[]): number | undefined => {
    const last = path[path.length - 1];
    if (path.length > 0 && typeof last === 'string') {
      const parent = doc.getIn(path.slice(0, -1) as (string | number)[], true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
        if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
      }
    }
    const node = path.length === 0 ? doc.contents : doc.getIn(path as (string | number)[], true);
    return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
  const locate = (path: PropertyKey[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const line = lineOf(path.slice(0, n));
      if (line !== undefined) return line;
    }
    return undefined;
  };
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        // A repeated key is well-formed enough to name: `spec.waves[1].maxParallel`.
        path: e.code === 'DUPLICATE_KEY' ? formatPath(pathAt(doc.contents, e.pos[0])) : '',
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
      locate,
    };
  }
  try {
    const data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return { data, issues: [], locate };
  } catch (err) {
    return { issues: [{ path: '', message: `YAML: ${(err as Error).message}` }], locate };
  }
}

/** Path of the innermost mapping entry or sequence item that spans `offset` in the source. */
function pathAt(root: unknown, offset: number): (string | number)[] {
  const rangeOf = (node: unknown) => (isNode(node) && node.range ? node.range : undefined);
  const spans = (from: unknown, to: unknown): boolean => {
    const start = rangeOf(from)?.[0];
    const end = rangeOf(to)?.[2] ?? rangeOf(from)?.[2];
    return start !== undefined && end !== undefined && start <= offset && offset < end;
  };
  const path: (string | number)[] = [];
  let node = root;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => spans(p.key, p.value));
      if (!pair || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => spans(item, item));
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else return path;
  }
}

function toIssues(error: z.ZodError, locate: (path: PropertyKey[]) => number | undefined): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        issues.push({ path: formatPath(path), message: 'unknown field', line: locate(path) });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = 'is required';
    issues.push({ path: formatPath(issue.path), message, line: locate(issue.path as PropertyKey[]) });
  }
  return issues;
}

function parseWith<S extends z.ZodType>(schema: S, text: string): ParseResult<z.output<S>> {
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) return { ok: false, issues: parsed.issues };
  if (parsed.data === null || typeof parsed.data !== 'object' || Array.isArray(parsed.data)) {
    return { ok: false, issues: [{ path: '', message: 'must be a YAML mapping (object)' }] };
  }
  const result = schema.safeParse(parsed.data);
  if (!result.success) return { ok: false, issues: toIssues(result.error, parsed.locate) };
  return { ok: true, value: result.data };
}

/** Parses and validates a campaign YAML document. */
export function parseCampaign(text: string): ParseResult<Campaign> {
  return parseWith(campaignSchema, text);
}

/** Parses and validates a fleet inventory YAML document. */
export function parseFleet(text: string): ParseResult<Fleet> {
  return parseWith(fleetSchema, text);
}

/** Validates an already-parsed campaign object (the client library's entry point). */
export function validateCampaign(data: unknown): ParseResult<Campaign> {
  const result = campaignSchema.safeParse(data);
  if (!result.success) return { ok: false, issues: toIssues(result.error, () => undefined) };
  return { ok: true, value: result.data };
}
