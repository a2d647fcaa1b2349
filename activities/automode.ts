/**
 * EKS Auto Mode nodes: waiting for them to follow the control plane, and holding custom NodePools
 * while the control plane bakes.
 *
 * - awaitAutoModeNodes: after the control plane moved, EKS replaces every NodeClaim on the old
 *   minor (Drifted) at the pace of its NodePool's disruption budgets ("Update the Kubernetes Version
 *   of an EKS Auto Mode cluster", docs.aws.amazon.com/eks/latest/userguide/auto-upgrade.html,
 *   which does not say how soon: the wait has its own deadline). The
 *   activity counts the NodeClaims whose node is Ready on the target minor, and waits as every wait
 *   does (activities/waiting.ts): one look per attempt, parked in between, the count in the
 *   heartbeat ("12/20 on 1.31") whenever it changed.
 * - holdNodePools / releaseNodePoolHolds: a zero Drifted budget and an annotation on each custom
 *   NodePool (domain/nodepool-hold.ts), placed with a JSON patch that tests the resourceVersion it
 *   read, so a concurrent writer (a GitOps sync) makes the patch fail and the read happen again.
 *   The built-in pools are EKS's and are left alone. A release restores the recorded budgets; it
 *   releases only the holds of the workflow it is given, or every hold when none is given (the
 *   recovery command).
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import {
  BUILT_IN_NODE_POOLS,
  HOLD_ANNOTATION,
  describeNodeClaimCount,
  holdBudget,
  parseHold,
  type HoldRecord,
  type NodeClaimCount,
  type NodePoolBudget,
} from '../domain/nodepool-hold';
import { toMinor } from '../domain/versions';
import { nextLookDelayMs } from '../domain/waits';
import { activityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import { KARPENTER, createKarpenterAccess, escapeKey } from './nodepools';
import { LookLater, park, parks } from './waiting';
import type {
  AutoModeNodesProgress,
  AwaitAutoModeNodesInput,
  AwaitAutoModeNodesResult,
  HoldNodePoolsInput,
  HoldNodePoolsResult,
  ReleaseNodePoolHoldsInput,
  ReleaseNodePoolHoldsResult,
} from './types';

/** The Auto Mode wait gives up after this long unless the workflow says otherwise. */
export const AUTO_MODE_NODES_TIMEOUT_MS = 6 * 3600_000;

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, read by field name */
type Obj = any;

function isProgress(v: unknown, input: AwaitAutoModeNodesInput): v is AutoModeNodesProgress {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<AutoModeNodesProgress>;
  return p.cluster === input.cluster.name && p.target === input.targetVersion && typeof p.startedAtMs === 'number';
}

function isReady(o: Obj): boolean {
  return (o?.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
}

/** NodeClaims (not being deleted) whose node is Ready on `target`, out of all of them. */
export function countNodeClaims(claims: Obj[], nodes: Obj[], target: string): NodeClaimCount {
  const kubelet = new Map<string, string | undefined>(
    nodes.map((n) => [n.metadata?.name as string, toMinor(String(n.status?.nodeInfo?.kubeletVersion ?? ''))]),
  );
  const live = claims.filter((c) => !c.metadata?.deletionTimestamp);
  const onTarget = live.filter((c) => {
    const node = nodes.find((n) => n.metadata?.name === c.status?.nodeName);
    return node !== undefined && isReady(node) && kubelet.get(c.status?.nodeName) === target;
  }).length;
  return { onTarget, total: live.length, target };
}

export function createAutoModeActivities(deps: ResolvedDeps) {
  const { kubeConfig, read, listNodePools, patchNodePool, withRetries } = createKarpenterAccess(deps);

  async function awaitAutoModeNodes(input: AwaitAutoModeNodesInput): Promise<AwaitAutoModeNodesResult> {
    const r = activityRuntime(deps.logger);
    const resumed = isProgress(r.heartbeatDetails, input) ? r.heartbeatDetails : undefined;
    const progress: AutoModeNodesProgress = resumed
      ? structuredClone(resumed)
      : {
          cluster: input.cluster.name,
          target: input.targetVersion,
          onTarget: 0,
          total: 0,
          startedAtMs: deps.now().getTime(),
        };
    const kc = await kubeConfig(input.cluster);
    const api = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    for (;;) {
      const claims = await read(`list NodeClaims of ${input.cluster.name}`, () =>
        api.listClusterCustomObject({ ...KARPENTER, plural: 'nodeclaims' }),
      );
      const nodes = await read(`list nodes of ${input.cluster.name}`, () =>
        core.listNode({ labelSelector: 'karpenter.sh/nodepool' }),
      );
      const count = countNodeClaims(claims?.items ?? [], nodes.items, input.targetVersion);
      progress.onTarget = count.onTarget;
      progress.total = count.total;
      if (count.onTarget === count.total) {
        r.log.info('Auto Mode nodes on the target minor', {
          cluster: input.cluster.name,
          nodes: describeNodeClaimCount(count),
        });
        return count;
      }
      const elapsed = deps.now().getTime() - progress.startedAtMs;
      if (elapsed > input.timeoutMs) {
        throw ApplicationFailure.create({
          type: 'AutoModeNodesTimeout',
          nonRetryable: true,
          message: `Auto Mode nodes of ${input.cluster.name} did not all reach ${input.targetVersion} in ${Math.round(input.timeoutMs / 60_000)} min: ${describeNodeClaimCount(count)}`,
          details: [count],
        });
      }
      const delay = nextLookDelayMs('nodepools', elapsed, deps.waits);
      const later = new LookLater(delay, `Auto Mode nodes of ${input.cluster.name}: ${describeNodeClaimCount(count)}`);
      if (parks(deps, r)) throw park(r, later, progress, resumed);
      r.heartbeat(structuredClone(progress));
      await r.sleep(delay);
    }
  }

  async function holdNodePools(input: HoldNodePoolsInput): Promise<HoldNodePoolsResult> {
    const r = activityRuntime(deps.logger);
    const api = (await kubeConfig(input.cluster)).makeApiClient(CustomObjectsApi);
    const result: HoldNodePoolsResult = { held: [], builtIn: [] };
    const pools = await listNodePools(api, input.cluster.name);
    for (const name of pools.map((p) => p.metadata.name as string)) {
      if (BUILT_IN_NODE_POOLS.includes(name) && isAutoModePool(pools.find((p) => p.metadata.name === name))) {
        result.builtIn.push(name);
        continue;
      }
      await withRetries(input.cluster.name, `hold NodePool ${name}`, async () => {
        const pool = (await listNodePools(api, input.cluster.name)).find((p) => p.metadata.name === name);
        if (!pool) return;
        const existing = parseHold(pool.metadata.annotations);
        // Read before write: this workflow's hold is already there (a retried attempt).
        if (existing?.workflowId === input.workflowId && existing.runId === input.runId) return;
        // The schedule is read by the cluster's clock; an accelerated simulator runs `timeScale`
        // times faster than the worker's, so the hold must last that much longer there.
        const now = (deps.clusterClock ?? deps.now)().getTime();
        const forMs = input.forMs * Math.max(1, deps.waits.timeScale);
        const budgets: NodePoolBudget[] | undefined = existing ? existing.budgets : pool.spec?.disruption?.budgets;
        const record: HoldRecord = {
          workflowId: input.workflowId,
          runId: input.runId,
          since: new Date(now).toISOString(),
          until: new Date(now + forMs).toISOString(),
          ...(budgets ? { budgets } : {}),
        };
        const hold = holdBudget(now, forMs);
        await patchNodePool(api, pool, [
          ...(pool.metadata.annotations ? [] : [{ op: 'add', path: '/metadata/annotations', value: {} }]),
          { op: 'add', path: `/metadata/annotations/${escapeKey(HOLD_ANNOTATION)}`, value: JSON.stringify(record) },
          { op: 'add', path: '/spec/disruption/budgets', value: [...(budgets ?? [{ nodes: '10%' }]), hold] },
        ]);
      });
      result.held.push(name);
    }
    r.log.info('NodePools held', { cluster: input.cluster.name, held: result.held, builtIn: result.builtIn });
    return result;
  }

  async function releaseNodePoolHolds(input: ReleaseNodePoolHoldsInput): Promise<ReleaseNodePoolHoldsResult> {
    const r = activityRuntime(deps.logger);
    const api = (await kubeConfig(input.cluster)).makeApiClient(CustomObjectsApi);
    const released: string[] = [];
    const pools = await listNodePools(api, input.cluster.name);
    for (const name of pools.map((p) => p.metadata.name as string)) {
      await withRetries(input.cluster.name, `release NodePool ${name}`, async () => {
        const pool = (await listNodePools(api, input.cluster.name)).find((p) => p.metadata.name === name);
        const hold = parseHold(pool?.metadata?.annotations);
        if (!pool || !hold || (input.workflowId !== undefined && hold.workflowId !== input.workflowId)) return;
        await patchNodePool(api, pool, [
          { op: 'remove', path: `/metadata/annotations/${escapeKey(HOLD_ANNOTATION)}` },
          hold.budgets
            ? { op: 'add', path: '/spec/disruption/budgets', value: hold.budgets }
            : { op: 'remove', path: '/spec/disruption/budgets' },
        ]);
        released.push(name);
      });
    }
    r.log.info('NodePool holds released', { cluster: input.cluster.name, released });
    return { released };
  }

  return { awaitAutoModeNodes, holdNodePools, releaseNodePoolHolds };
}

/** A built-in pool of Auto Mode references the EKS NodeClass (a Karpenter pool may share the name). */
function isAutoModePool(pool: Obj): boolean {
  return pool?.spec?.template?.spec?.nodeClassRef?.group === 'eks.amazonaws.com';
}

/* eslint-enable @typescript-eslint/no-explicit-any */
