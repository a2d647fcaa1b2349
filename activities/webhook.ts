/**
 * The webhook gate provider: a team's own check behind an HTTP endpoint.
 *
 * Each measurement POSTs `{cluster, wave, campaign, gate, phase}` as JSON (`wave` and `campaign`
 * are null when the activity does not know them) and reads the answer
 * `{"result": "pass" | "fail" | "inconclusive", "reason": "..."}`:
 * - pass / fail → that measurement; inconclusive → inconclusive (never a pass);
 * - a non-2xx status, a body that is not that JSON, no answer within `timeout`, or a network
 *   failure → error, after `retries` more calls within the same measurement.
 *
 * The URL is the gate's `url`, or the worker environment variable `urlFromEnv` names: a URL with
 * a token stays on the worker and never enters a workflow history. It is never logged either;
 * notes name the gate's host at most.
 */
import { CancelledFailure } from '@temporalio/common';
import { durationMs } from '../domain/spec';
import type { ResolvedDeps } from './deps';
import type { GateMeasurement, GateProvider, MeasureRequest } from './gate-provider';

const MAX_REASON_TEXT = 200;
const RESULTS = ['pass', 'fail', 'inconclusive'] as const;

/** The JSON body a webhook receives. */
export interface WebhookGateRequest {
  cluster: string;
  wave: string | null;
  campaign: string | null;
  gate: string;
  phase: string;
}

/** Reads a webhook's answer; undefined when it is not `{result: pass|fail|inconclusive, reason?: string}`. */
export function parseWebhookAnswer(text: string): { result: (typeof RESULTS)[number]; reason?: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { result, reason } = body as { result?: unknown; reason?: unknown };
  if (typeof result !== 'string' || !(RESULTS as readonly string[]).includes(result)) return undefined;
  if (reason !== undefined && typeof reason !== 'string') return undefined;
  return {
    result: result as (typeof RESULTS)[number],
    ...(reason ? { reason: reason.slice(0, MAX_REASON_TEXT) } : {}),
  };
}

export function createWebhookProvider(deps: ResolvedDeps): GateProvider {
  const env = deps.env ?? process.env;

  function urlOf(gate: MeasureRequest['gate']): string | undefined {
    const w = gate.provider?.webhook;
    if (!w) return undefined;
    return w.url ?? (w.urlFromEnv ? env[w.urlFromEnv] : undefined) ?? undefined;
  }

  /** One call; an error measurement for anything but a readable answer. */
  async function call(req: MeasureRequest, url: string, timeoutMs: number): Promise<GateMeasurement> {
    const { rt, stop } = req;
    const payload: WebhookGateRequest = {
      cluster: req.cluster.name,
      wave: req.context.wave ?? null,
      campaign: req.context.campaign ?? null,
      gate: req.gate.name,
      phase: req.phase,
    };
    const signals = [AbortSignal.timeout(timeoutMs), ...(rt.signal ? [rt.signal] : []), ...(stop ? [stop] : [])];
    let status: number;
    let text: string;
    try {
      const res = await deps.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.any(signals),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (rt.signal?.aborted) throw new CancelledFailure('health gate cancelled');
      if (stop?.aborted) return { kind: 'error', note: 'stopped' };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (err as Error).message);
      return { kind: 'error', note: `webhook unreachable: ${why}` };
    }
    if (status < 200 || status > 299) return { kind: 'error', note: `webhook HTTP ${status}` };
    const answer = parseWebhookAnswer(text);
    if (!answer) {
      return { kind: 'error', note: 'webhook answered something other than {"result": "pass"|"fail"|"inconclusive"}' };
    }
    return {
      kind: answer.result,
      ...(answer.reason ? { note: answer.reason } : answer.result === 'inconclusive' ? { note: 'no data' } : {}),
    };
  }

  async function measure(req: MeasureRequest): Promise<GateMeasurement> {
    const w = req.gate.provider?.webhook;
    const url = urlOf(req.gate);
    if (!w || !url) {
      return {
        kind: 'error',
        note: `webhook URL not set (environment variable ${w?.urlFromEnv ?? '?'} on the worker)`,
      };
    }
    const timeoutMs = durationMs(w.timeout ?? '10s');
    let m = await call(req, url, timeoutMs);
    for (let retry = 0; m.kind === 'error' && retry < (w.retries ?? 1); retry++) {
      if (req.stop?.aborted) break;
      m = await call(req, url, timeoutMs);
    }
    return m;
  }

  return {
    measure,
    unavailable: (gate) =>
      urlOf(gate)
        ? undefined
        : `webhook URL not set: the worker has no environment variable ${gate.provider?.webhook?.urlFromEnv ?? '?'}`,
  };
}
