/**
 * The Deployments of Fargate profiles in a cluster's Kubernetes API: how they look during a rollout
 * restart, and the PATCH that starts one. `kubectl rollout restart` sends a strategic merge patch
 * setting the pod template's `kubectl.kubernetes.io/restartedAt` annotation (kubectl
 * pkg/polymorphichelpers/objectrestarter.go); @kubernetes/client-node can send the same as a merge
 * patch. A patch that leaves the template as it was starts nothing, as the Deployment controller
 * starts a rollout only for a changed pod template ("Updating a Deployment": "A Deployment's rollout
 * is triggered if and only if the Deployment's Pod template (that is, .spec.template) is changed",
 * kubernetes.io/docs/concepts/workloads/controllers/deployment/).
 *
 * Only the restart annotation of a Fargate profile's Deployment is writable here; any other change
 * is refused with 422 (a limit of the simulator, said in the message).
 */
import { fargatePodPhase, fargateRolloutEnd, restartFargate, type SimCluster, type SimFargateProfile } from './model';
import { fargateDeploymentName } from './workloads';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Answer {
  status: number;
  body: unknown;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered API objects and client JSON, read by field name */
type Json = any;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function failure(code: number, reason: string, message: string): Answer {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

/** The Fargate profile whose Deployment this is, if it is one. */
export function fargateProfileOf(c: SimCluster, namespace: string, name: string): SimFargateProfile | undefined {
  if (namespace !== 'default') return undefined;
  return c.fargateProfiles.find((f) => fargateDeploymentName(f.name) === name);
}

/**
 * A Fargate profile's Deployment as the Deployment controller reports it at `now`: generation one
 * more per pod-template change, the restart annotation on the template, the rolling-update strategy
 * that paces a restart (one pod at a time), and replicas counted over both ReplicaSets.
 */
export function decorateFargateDeployment(c: SimCluster, dep: Json, now: number): Json {
  const f = fargateProfileOf(c, dep.metadata.namespace, dep.metadata.name);
  if (!f) return dep;
  const generation = 1 + f.generation + (f.rollout ? 1 : 0);
  const newest = f.rollout ? f.generation + 1 : f.generation;
  const done = !f.rollout || now >= (fargateRolloutEnd(f) ?? 0);
  const { 'pod-template-hash': _hash, ...labels } = dep.metadata.labels ?? {};
  void _hash;
  const podsNow: number = dep.status.replicas;
  let updatedReplicas = 0;
  for (let i = 0; i < f.pods; i++) if (!f.rollout || fargatePodPhase(f, i, now).phase !== 'old') updatedReplicas++;
  return {
    ...dep,
    metadata: {
      ...dep.metadata,
      labels,
      generation,
      annotations: { 'deployment.kubernetes.io/revision': String(newest + 1) },
    },
    spec: {
      ...dep.spec,
      replicas: f.pods,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, ...(f.restartedAt ? { annotations: { [RESTARTED_AT]: f.restartedAt } } : {}) },
        spec: dep.spec.template.spec,
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    },
    status: {
      ...dep.status,
      observedGeneration: generation,
      replicas: podsNow,
      updatedReplicas,
      readyReplicas: f.pods,
      availableReplicas: f.pods,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        {
          type: 'Progressing',
          status: 'True',
          reason: done ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        },
      ],
    },
  };
}

/**
 * The restart annotation a patch sets, or the refusal of anything else. Merge and strategic-merge patches read alike here.
 */
function restartFrom(contentType: string | undefined, body: unknown): string | Answer {
  const type = (contentType ?? '').split(';')[0]?.trim();
  if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
    return failure(
      415,
      'UnsupportedMediaType',
      `the simulator accepts application/strategic-merge-patch+json and application/merge-patch+json for a Deployment, not ${type || 'none'}`,
    );
  }
  const only = failure(
    422,
    'Invalid',
    `the simulator patches only spec.template.metadata.annotations["${RESTARTED_AT}"] of a Deployment (kubectl rollout restart)`,
  );
  if (!isObject(body)) return failure(400, 'BadRequest', 'the patch is not a JSON object');
  const { spec, metadata, ...rest } = body;
  if (
    Object.keys(rest).length > 0 ||
    (metadata !== undefined && !(isObject(metadata) && Object.keys(metadata).length === 0))
  )
    return only;
  if (!isObject(spec) || Object.keys(spec).some((k) => k !== 'template')) return only;
  const template = spec.template;
  if (!isObject(template) || Object.keys(template).some((k) => k !== 'metadata')) return only;
  const meta = template.metadata;
  if (!isObject(meta) || Object.keys(meta).some((k) => k !== 'annotations')) return only;
  const annotations = meta.annotations;
  if (!isObject(annotations) || Object.keys(annotations).some((k) => k !== RESTARTED_AT)) return only;
  const value = annotations[RESTARTED_AT];
  return typeof value === 'string' ? value : only;
}

/**
 * PATCH of a Deployment: a Fargate profile's one restarts its pods when the restart annotation
 * changes. Answers undefined when the path is not a Deployment.
 */
export function patchDeployment(
  c: SimCluster,
  now: number,
  s: string[],
  req: { method: string; contentType?: string; body: unknown; dryRun: boolean },
  render: (namespace: string, name: string) => Json | undefined,
): Answer | undefined {
  if (!(s[0] === 'apis' && s[1] === 'apps' && s[2] === 'v1' && s[3] === 'namespaces' && s[5] === 'deployments'))
    return undefined;
  if (s.length !== 7 || req.method !== 'PATCH') return undefined;
  const namespace = s[4] as string;
  const name = s[6] as string;
  const current = render(namespace, name);
  if (!current) return failure(404, 'NotFound', `deployments.apps "${name}" not found`);
  const f = fargateProfileOf(c, namespace, name);
  if (!f) {
    return failure(
      422,
      'Invalid',
      `the simulator restarts only the Deployments of Fargate profiles (fargate-<profile> in default), not ${namespace}/${name}`,
    );
  }
  const restartedAt = restartFrom(req.contentType, req.body);
  if (typeof restartedAt !== 'string') return restartedAt;
  if (restartedAt !== f.restartedAt && !req.dryRun) restartFargate(c, f, restartedAt, now);
  return { status: 200, body: render(namespace, name) };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
