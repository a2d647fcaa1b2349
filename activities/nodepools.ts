/**
 * Reading and writing karpenter.sh/v1 objects of one cluster, shared by the Auto Mode and the
 * Karpenter activities: a KubeConfig from EKS, reads whose errors are classified, a JSON patch
 * guarded by the resourceVersion it was computed from (a concurrent writer, such as a GitOps sync,
 * makes it fail and the change read again), and the retry around it.
 */
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ResolvedDeps } from './deps';
import { clusterAccess, describeClusterRaw } from './eks/read';
import { toKubernetesFailure } from './failures';
import type { ClusterRef } from './types';

export const KARPENTER = { group: 'karpenter.sh', version: 'v1' } as const;
export const KARPENTER_AWS = { group: 'karpenter.k8s.aws', version: 'v1' } as const;
const WRITE_ATTEMPTS = 3;

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, read by field name */
export type Obj = any;

/** RFC 6901: `~` and `/` in a key. */
export function escapeKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function createKarpenterAccess(deps: ResolvedDeps) {
  async function kubeConfig(cluster: ClusterRef): Promise<KubeConfig> {
    const access = clusterAccess(await describeClusterRaw(deps.eks(cluster), cluster.name));
    try {
      return await deps.kube(cluster, access);
    } catch (err) {
      throw toKubernetesFailure(err, `credentials for ${cluster.name}`);
    }
  }

  async function read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toKubernetesFailure(err, what);
    }
  }

  /** Every object of a cluster-scoped custom resource; none when the API server does not serve it. */
  async function listObjects(
    api: CustomObjectsApi,
    gv: { group: string; version: string },
    plural: string,
    cluster: string,
  ): Promise<Obj[]> {
    const list = await read(`list ${plural} of ${cluster}`, async () => {
      try {
        return await api.listClusterCustomObject({ ...gv, plural });
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return { items: [] };
        throw err;
      }
    });
    return (list?.items ?? []) as Obj[];
  }

  /** The cluster's NodePools; none when the API server does not serve them (no Karpenter, no Auto Mode). */
  function listNodePools(api: CustomObjectsApi, cluster: string): Promise<Obj[]> {
    return listObjects(api, KARPENTER, 'nodepools', cluster);
  }

  /** A JSON patch of one object, guarded by the resourceVersion it was computed from. */
  async function patchObject(
    api: CustomObjectsApi,
    gv: { group: string; version: string },
    plural: string,
    obj: Obj,
    ops: Obj[],
  ): Promise<void> {
    const guarded = [{ op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion }, ...ops];
    await api.patchClusterCustomObject(
      { ...gv, plural, name: obj.metadata.name, body: guarded },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }

  function patchNodePool(api: CustomObjectsApi, pool: Obj, ops: Obj[]): Promise<void> {
    return patchObject(api, KARPENTER, 'nodepools', pool, ops);
  }

  /** Runs `change` on fresh reads until its patch lands (a concurrent writer makes it read again). */
  async function withRetries(cluster: string, what: string, change: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await change();
        return;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (attempt < WRITE_ATTEMPTS && (code === 409 || code === 422)) continue;
        throw toKubernetesFailure(err, `${what} of ${cluster}`);
      }
    }
  }

  return { kubeConfig, read, listObjects, listNodePools, patchObject, patchNodePool, withRetries };
}

/* eslint-enable @typescript-eslint/no-explicit-any */
