/**
 * Validates raw EKS REST-JSON responses against botocore's service model (scripts/eks-model.ts):
 * the expectations are AWS's, not the project's. What is checked, per the model:
 * - success: the body against the operation's output shape; no member the shape does not
 *   declare, each value of its JSON type (structure → object, list → array, map → object,
 *   string, integer, boolean), enum strings within their enum, required members present,
 *   timestamps as epoch seconds (a JSON number; rest-json's default timestampFormat);
 * - error: `x-amzn-errortype` names an error shape the model lists for that operation, the
 *   HTTP status is that shape's `httpStatusCode`, and the body validates against the shape.
 * Length and range constraints (`min`, `max`) are not checked: the model states them for inputs,
 * and real EKS answers `tags: {}` although TagMap has `min: 1`.
 */
import fs from 'node:fs';

interface Member {
  shape: string;
  location?: string;
  locationName?: string;
}

interface Shape {
  type: string;
  members?: Record<string, Member>;
  required?: string[];
  member?: Member;
  key?: Member;
  value?: Member;
  enum?: string[];
  timestampFormat?: string;
  payload?: string;
  error?: { httpStatusCode?: number };
  exception?: boolean;
}

interface Operation {
  name: string;
  http: { method: string; requestUri: string };
  output?: { shape: string };
  errors?: { shape: string }[];
}

export interface ServiceModel {
  metadata: { protocol: string; apiVersion: string; serviceId: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

export function loadServiceModel(file: string): ServiceModel {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ServiceModel;
}

/** A raw HTTP response as the wire carried it. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Problems of `value` against shape `shapeName`, each prefixed with its JSON path. */
export function validateShape(model: ServiceModel, shapeName: string, value: unknown, at = '$'): string[] {
  const shape = model.shapes[shapeName];
  if (!shape) return [`${at}: model has no shape ${shapeName}`];
  const problems: string[] = [];
  const want = (what: string) => problems.push(`${at}: ${shapeName} wants ${what}, got ${JSON.stringify(value)}`);
  switch (shape.type) {
    case 'structure': {
      if (!isObject(value)) {
        want('an object');
        break;
      }
      const members = shape.members ?? {};
      for (const [key, v] of Object.entries(value)) {
        const member = members[key];
        if (!member || member.location) {
          problems.push(`${at}: ${shapeName} has no body member "${key}"`);
          continue;
        }
        // null is how a JSON encoder writes an absent member; the SDK skips it.
        if (v !== null) problems.push(...validateShape(model, member.shape, v, `${at}.${key}`));
      }
      for (const key of shape.required ?? []) {
        if (members[key]?.location) continue;
        if (value[key] === undefined || value[key] === null) problems.push(`${at}: required member "${key}" missing`);
      }
      break;
    }
    case 'list':
      if (!Array.isArray(value)) want('an array');
      else value.forEach((item, i) => problems.push(...validateShape(model, shape.member!.shape, item, `${at}[${i}]`)));
      break;
    case 'map':
      if (!isObject(value)) want('an object');
      else
        for (const [k, v] of Object.entries(value)) {
          problems.push(...validateShape(model, shape.key!.shape, k, `${at}{key ${k}}`));
          problems.push(...validateShape(model, shape.value!.shape, v, `${at}.${k}`));
        }
      break;
    case 'string':
      if (typeof value !== 'string') want('a string');
      else if (shape.enum && !shape.enum.includes(value)) want(`one of ${shape.enum.join('|')}`);
      break;
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) want('an integer');
      break;
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) want('a number');
      break;
    case 'boolean':
      if (typeof value !== 'boolean') want('a boolean');
      break;
    case 'timestamp':
      // rest-json bodies carry epoch seconds unless the shape names another format.
      if ((shape.timestampFormat ?? 'unixTimestamp') === 'unixTimestamp') {
        if (typeof value !== 'number' || !Number.isFinite(value)) want('epoch seconds (a number)');
        else if (value > 1e11) want('epoch seconds, not milliseconds');
      } else if (typeof value !== 'string') want(`a ${shape.timestampFormat} string`);
      break;
    case 'blob':
      if (typeof value !== 'string') want('a base64 string');
      break;
    default:
      problems.push(`${at}: unhandled shape type ${shape.type} (${shapeName})`);
  }
  return problems;
}

/** The error code of a rest-json error response, as the SDK reads it (header first, then `__type`). */
export function errorCodeOf(res: RawResponse, body: unknown): string | undefined {
  const raw = res.headers['x-amzn-errortype'] ?? (isObject(body) ? (body.__type as string | undefined) : undefined);
  if (!raw) return undefined;
  // "Code:http://internal/..." and "com.amazonaws.eks#Code" both name Code.
  return raw.split(':')[0]!.split('#').pop();
}

/** Problems of one raw response of `operation` against the model; empty when it conforms. */
export function validateResponse(model: ServiceModel, operation: string, res: RawResponse): string[] {
  const op = model.operations[operation];
  if (!op) return [`model has no operation ${operation}`];
  let body: unknown;
  try {
    body = res.body.trim() === '' ? {} : JSON.parse(res.body);
  } catch {
    return [`${operation}: body is not JSON: ${res.body.slice(0, 200)}`];
  }
  if (res.status < 300) {
    if (!op.output) return [];
    const output = model.shapes[op.output.shape];
    if (output?.payload) {
      const member = output.members?.[output.payload];
      return member ? validateShape(model, member.shape, body) : [`${operation}: payload member missing in model`];
    }
    return validateShape(model, op.output.shape, body).map((p) => `${operation} ${res.status}: ${p}`);
  }
  const code = errorCodeOf(res, body);
  if (!code) return [`${operation} ${res.status}: error without x-amzn-errortype or __type`];
  const listed = (op.errors ?? []).map((e) => e.shape);
  if (!listed.includes(code))
    return [`${operation} ${res.status}: error ${code} is not one the model lists (${listed.join(', ')})`];
  const problems: string[] = [];
  const expected = model.shapes[code]?.error?.httpStatusCode;
  if (expected !== undefined && expected !== res.status)
    problems.push(`${operation}: ${code} answered with HTTP ${res.status}, the model says ${expected}`);
  // `__type` is the protocol's own error discriminator, not a member of the shape.
  const members = isObject(body) ? Object.fromEntries(Object.entries(body).filter(([k]) => k !== '__type')) : body;
  problems.push(...validateShape(model, code, members).map((p) => `${operation} ${res.status} ${code}: ${p}`));
  return problems;
}
