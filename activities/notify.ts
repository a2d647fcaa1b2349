/**
 * Delivering one campaign notification to one sink (spec.notify): resolves the webhook URL on the
 * worker (its environment, or a Kubernetes Secret in the cluster the worker runs in), renders the
 * sink's message (domain/notify.ts) and posts it. The URL stays on the worker: it is never in an
 * input, a result, an error message or a log line, because those land in histories and logs.
 *
 * Each sink kind is a {@link SinkRenderer}; the notify workflow (workflows/notify.ts) knows none of
 * them by name. Retries and their bound are the workflow's activity options; one attempt is one POST.
 *
 * Workflows import this module with `import type` only.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { cloudEvent, slackMessage, type Notification } from '../domain/notify';
import type { NotifySink } from '../domain/spec';

export interface DeliverNotificationInput {
  sink: NotifySink;
  notification: Notification;
}

/** One sink kind: the body it posts and its content type. */
export interface SinkRenderer {
  contentType: string;
  render(n: Notification, uiUrl: string): unknown;
}

/** The renderers by sink kind. */
export const SINK_RENDERERS: Record<NotifySink['kind'], SinkRenderer> = {
  // Slack incoming webhooks take a JSON body: https://api.slack.com/messaging/webhooks
  slack: { contentType: 'application/json', render: slackMessage },
  // CloudEvents HTTP binding, structured content mode: the media type names the event format.
  cloudevents: { contentType: 'application/cloudevents+json; charset=utf-8', render: cloudEvent },
};

export interface NotifyDeps {
  /** Where `urlFromEnv` is looked up. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** The Web UI link of a workflow (client/library.ts temporalUiUrl in the worker). */
  uiUrl: (workflowId: string, namespace: string) => string;
  /** Reads one key of a Secret; default: the worker's own cluster (in-cluster or its kubeconfig). */
  readSecret?: (ref: NonNullable<NotifySink['urlFromSecret']>) => Promise<string | undefined>;
  /** One POST's limit, below the activity's start-to-close timeout. Default: 8 s. */
  requestTimeoutMs?: number;
}

export interface NotifyActivities {
  deliverNotification(input: DeliverNotificationInput): Promise<void>;
}

/** The notification activities over `deps`. */
export function createNotifyActivities(deps: NotifyDeps): NotifyActivities {
  const env = deps.env ?? process.env;
  const readSecret = deps.readSecret ?? readSecretFromOwnCluster;
  return {
    async deliverNotification({ sink, notification }) {
      const url = await resolveUrl(sink, env, readSecret);
      const renderer = SINK_RENDERERS[sink.kind];
      const namespace = activityNamespace();
      const body = JSON.stringify(renderer.render(notification, deps.uiUrl(notification.workflowId, namespace)));
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': renderer.contentType, 'user-agent': 'fleetwave' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(deps.requestTimeoutMs ?? 8_000),
        });
      } catch (err) {
        // The cause names the error class only: fetch's messages can carry the URL.
        throw ApplicationFailure.retryable(
          `sink ${sink.name}: webhook not reached (${err instanceof Error ? err.name : 'error'})`,
          'NotifySinkUnreachable',
        );
      }
      await response.body?.cancel().catch(() => undefined);
      if (!response.ok) {
        throw ApplicationFailure.retryable(
          `sink ${sink.name}: webhook answered HTTP ${response.status}`,
          'NotifySinkRefused',
        );
      }
    },
  };
}

async function resolveUrl(
  sink: NotifySink,
  env: Record<string, string | undefined>,
  readSecret: NonNullable<NotifyDeps['readSecret']>,
): Promise<string> {
  let raw: string | undefined;
  let where: string;
  if (sink.urlFromEnv) {
    where = `environment variable ${sink.urlFromEnv} of the worker`;
    raw = env[sink.urlFromEnv];
  } else if (sink.urlFromSecret) {
    const ref = sink.urlFromSecret;
    where = `key ${ref.key} of Secret ${ref.namespace}/${ref.name}`;
    raw = await readSecret(ref).catch((err: unknown) => {
      throw ApplicationFailure.retryable(
        `sink ${sink.name}: ${where} not readable (${err instanceof Error ? err.message : String(err)})`,
        'NotifySinkUnconfigured',
      );
    });
  } else {
    throw ApplicationFailure.nonRetryable(`sink ${sink.name}: no URL source`, 'NotifySinkUnconfigured');
  }
  const url = raw?.trim();
  if (!url) throw ApplicationFailure.retryable(`sink ${sink.name}: ${where} is not set`, 'NotifySinkUnconfigured');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw ApplicationFailure.nonRetryable(`sink ${sink.name}: ${where} is not a URL`, 'NotifySinkUnconfigured');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw ApplicationFailure.nonRetryable(
      `sink ${sink.name}: ${where} is not an http(s) URL`,
      'NotifySinkUnconfigured',
    );
  }
  return url;
}

function activityNamespace(): string {
  try {
    return Context.current().info.workflowNamespace ?? Context.current().info.activityNamespace;
  } catch {
    return 'default';
  }
}

/**
 * Reads one key of a Secret with the worker's own credentials (KUBECONFIG, ~/.kube/config, or the
 * in-cluster service account, in client-node's order). Secret data is base64
 * (https://kubernetes.io/docs/concepts/configuration/secret/). A refusal is rethrown as
 * {@link secretReadFailure} words it.
 */
async function readSecretFromOwnCluster(ref: NonNullable<NotifySink['urlFromSecret']>): Promise<string | undefined> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  let secret;
  try {
    secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
  } catch (err) {
    throw new Error(secretReadFailure(err));
  }
  const value = secret.data?.[ref.key];
  return value === undefined ? secret.stringData?.[ref.key] : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * Why a Secret could not be read, fit for a history: the API server's status and reason (NotFound,
 * Forbidden, Unauthorized) or the network error's code. client-node's own messages carry the
 * response headers and, for network errors, the API server's address, so they are not repeated.
 */
function secretReadFailure(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof e?.code === 'number') {
    let reason: unknown;
    try {
      reason = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body)?.reason;
    } catch {
      reason = undefined;
    }
    return `HTTP ${e.code}${typeof reason === 'string' && /^[A-Za-z]+$/.test(reason) ? ` ${reason}` : ''}`;
  }
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return code && /^[A-Z_]+$/.test(code) ? code : err instanceof Error ? err.name : 'error';
}
