/**
 * A self-installed Karpenter's nodes through an upgrade (domain/karpenter.ts has the rules).
 *
 * - holdKarpenterNodes (before the control-plane hop, a local activity): each EC2NodeClass's
 *   amiSelectorTerms become the AMI ids Karpenter resolved for the current minor (status.amis), the
 *   user's terms remembered in an annotation, and drift is held on every NodePool exactly as on Auto
 *   Mode (activities/automode.ts holdNodePools: a zero Drifted budget, the budgets remembered).
 * - driftKarpenterNodes (the node step, one activity): sets the target terms, replaces the zero
 *   budget by spec.nodes.karpenter.budget for Drifted beside the user's own budgets, and waits as
 *   every wait does (activities/waiting.ts): one look per attempt, parked in between, the count
 *   (drifted/replaced/total) in the heartbeat. Karpenter replaces the drifted NodeClaims under the
 *   budgets, evicting through PodDisruptionBudgets (karpenter.sh/docs/concepts/disruption/,
 *   "Drift" and "NodePool Disruption Budgets"). When nothing moves for pdbTimeout while a PDB allows
 *   no disruption, the step fails naming it.
 * - releaseKarpenterHolds (every exit path, a local activity; also `fleetwave release-holds`):
 *   restores the NodePools' budgets and the terms the caller asks for, and removes the annotations.
 *
 * Every write is a JSON patch guarded by the resourceVersion it was computed from, made only when
 * the object differs from what it should be (read before write): a retried attempt writes nothing
 * twice.
 */
import { CustomObjectsApi, PolicyV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import {
  PIN_ANNOTATION,
  describeDriftCount,
  driftBudget,
  parsePin,
  pinnedTerms,
  type AmiSelectorTerm,
  type KarpenterDriftCount,
  type PinRecord,
} from '../domain/karpenter';
import { parseHold, type NodePoolBudget } from '../domain/nodepool-hold';
import { nextLookDelayMs } from '../domain/waits';
import { activityRuntime } from './context';
import type { ResolvedDeps } from './deps';
import { KARPENTER, KARPENTER_AWS, createKarpenterAccess, escapeKey, type Obj } from './nodepools';
import { LookLater, park, parks } from './waiting';
import type {
  DriftKarpenterNodesInput,
  DriftKarpenterNodesResult,
  HoldKarpenterNodesInput,
  HoldKarpenterNodesResult,
  HoldNodePoolsInput,
  HoldNodePoolsResult,
  KarpenterDriftProgress,
  ReleaseKarpenterHoldsInput,
  ReleaseKarpenterHoldsResult,
  ReleaseNodePoolHoldsInput,
  ReleaseNodePoolHoldsResult,
} from './types';

/** What the Karpenter activities borrow from the Auto Mode ones: the NodePool hold and its release. */
export interface NodePoolHolds {
  holdNodePools(input: HoldNodePoolsInput): Promise<HoldNodePoolsResult>;
  releaseNodePoolHolds(input: ReleaseNodePoolHoldsInput): Promise<ReleaseNodePoolHoldsResult>;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function condition(o: Obj, type: string): boolean {
  return (o?.status?.conditions ?? []).some((c: Obj) => c.type === type && c.status === 'True');
}

function isProgress(v: unknown, input: DriftKarpenterNodesInput): v is KarpenterDriftProgress {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<KarpenterDriftProgress>;
  return p.cluster === input.cluster.name && typeof p.startedAtMs === 'number' && Array.isArray(p.claims);
}

/**
 * The NodeClaims of the planned EC2NodeClasses against the AMIs each class resolves now: on target
 * (Ready, its image among the class's status.amis, not Drifted), drifted, and replaced by the step
 * (created after it started, on target).
 */
export function countDrift(
  claims: readonly Obj[],
  classes: readonly Obj[],
  names: readonly string[],
  startedAtMs: number,
): KarpenterDriftCount & { live: { name: string; drifted: boolean; createdAtMs: number }[] } {
  const amis = new Map<string, Set<string>>(
    classes.map((nc) => [nc.metadata?.name, new Set((nc.status?.amis ?? []).map((a: Obj) => a.id))]),
  );
  const ours = claims.filter(
    (c) =>
      !c.metadata?.deletionTimestamp &&
      c.spec?.nodeClassRef?.group === KARPENTER_AWS.group &&
      names.includes(c.spec?.nodeClassRef?.name),
  );
  let onTarget = 0;
  let drifted = 0;
  let replaced = 0;
  const live = ours.map((c) => {
    const isDrifted = condition(c, 'Drifted');
    const createdAtMs = Date.parse(c.metadata?.creationTimestamp ?? '') || 0;
    const on =
      !isDrifted && condition(c, 'Ready') && (amis.get(c.spec.nodeClassRef.name)?.has(c.status?.imageID) ?? false);
    if (on) onTarget++;
    if (isDrifted) drifted++;
    if (on && createdAtMs >= startedAtMs) replaced++;
    return { name: c.metadata?.name as string, drifted: isDrifted, createdAtMs };
  });
  return { onTarget, drifted, replaced, total: ours.length, live };
}

/**
 * Whether Karpenter has resolved a class's AMIs for its current spec: the AMIsReady condition
 * observed the current generation (Karpenter v1 status conditions carry observedGeneration); a
 * condition without one is taken as current.
 */
function amisResolved(nc: Obj): boolean {
  const c = (nc.status?.conditions ?? []).find((x: Obj) => x.type === 'AMIsReady');
  if (!c) return (nc.status?.amis ?? []).length > 0;
  return c.status === 'True' && (c.observedGeneration === undefined || c.observedGeneration >= nc.metadata?.generation);
}

export function createKarpenterActivities(deps: ResolvedDeps, holds: NodePoolHolds) {
  const access = createKarpenterAccess(deps);
  const { read, listObjects, listNodePools, patchObject, patchNodePool, withRetries } = access;
  const listNodeClasses = (api: CustomObjectsApi, cluster: string) =>
    listObjects(api, KARPENTER_AWS, 'ec2nodeclasses', cluster);

  /**
   * Sets `terms` on one EC2NodeClass and the pin annotation (a record placed by an earlier run keeps
   * its `original`: the user's terms are the ones before fleetwave's first pin).
   */
  async function pinNodeClass(
    api: CustomObjectsApi,
    cluster: string,
    name: string,
    record: (existing: PinRecord | undefined, nc: Obj) => PinRecord,
    terms: (nc: Obj, rec: PinRecord) => AmiSelectorTerm[] | undefined,
  ): Promise<void> {
    await withRetries(cluster, `pin EC2NodeClass ${name}`, async () => {
      const nc = (await listNodeClasses(api, cluster)).find((x) => x.metadata?.name === name);
      if (!nc) return;
      const existing = parsePin(nc.metadata?.annotations);
      const rec = record(existing, nc);
      const want = terms(nc, rec);
      const ops: Obj[] = [];
      if (!sameJson(existing, rec)) {
        if (!nc.metadata.annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
        ops.push({ op: 'add', path: `/metadata/annotations/${escapeKey(PIN_ANNOTATION)}`, value: JSON.stringify(rec) });
      }
      if (want && !sameJson(nc.spec?.amiSelectorTerms, want)) {
        ops.push({ op: 'add', path: '/spec/amiSelectorTerms', value: want });
      }
      if (ops.length > 0) await patchObject(api, KARPENTER_AWS, 'ec2nodeclasses', nc, ops);
    });
  }

  async function holdKarpenterNodes(input: HoldKarpenterNodesInput): Promise<HoldKarpenterNodesResult> {
    const r = activityRuntime(deps.logger);
    const api = (await access.kubeConfig(input.cluster)).makeApiClient(CustomObjectsApi);
    const pinned: { nodeClass: string; amis: string[] }[] = [];
    const unresolved: string[] = [];
    const sinceMs = (deps.clusterClock ?? deps.now)().getTime();
    for (const nc of await listNodeClasses(api, input.cluster.name)) {
      const name = nc.metadata.name as string;
      const amis = ((nc.status?.amis ?? []) as Obj[]).map((a) => a.id as string).filter(Boolean);
      if (amis.length === 0) {
        // Nothing resolved: Karpenter launches nothing from this class now, and a pin would not change that.
        unresolved.push(name);
        continue;
      }
      const now = new Date(sinceMs).toISOString();
      await pinNodeClass(
        api,
        input.cluster.name,
        name,
        (existing, current) =>
          existing?.workflowId === input.workflowId && existing.runId === input.runId
            ? existing
            : {
                workflowId: input.workflowId,
                runId: input.runId,
                since: now,
                original: existing ? existing.original : (current.spec?.amiSelectorTerms ?? []),
                pinned: pinnedTerms(amis),
              },
        (_nc, rec) => rec.pinned,
      );
      pinned.push({ nodeClass: name, amis: [...new Set(amis)].sort() });
    }
    const held = await holds.holdNodePools(input);
    r.log.info('Karpenter pinned and held', { cluster: input.cluster.name, pinned, held: held.held });
    return { pinned, unresolved, held: held.held, sinceMs };
  }

  /**
   * The node step's setup: the pools held by this run (a patch-only campaign placed no hold before),
   * their Drifted budget, then the target terms. Budgets first: nodes start drifting the moment the
   * terms change, and must find the step's budget in place.
   */
  async function releaseDrift(api: CustomObjectsApi, input: DriftKarpenterNodesInput): Promise<void> {
    const now = (deps.clusterClock ?? deps.now)().toISOString();
    await holds.holdNodePools({
      cluster: input.cluster,
      workflowId: input.workflowId,
      runId: input.runId,
      forMs: input.timeoutMs,
    });
    for (const pool of await listNodePools(api, input.cluster.name)) {
      const name = pool.metadata.name as string;
      await withRetries(input.cluster.name, `release drift on NodePool ${name}`, async () => {
        const fresh = (await listNodePools(api, input.cluster.name)).find((p) => p.metadata.name === name);
        const hold = parseHold(fresh?.metadata?.annotations);
        if (!fresh || hold?.workflowId !== input.workflowId) return;
        const want: NodePoolBudget[] = [...(hold.budgets ?? []), driftBudget(input.budget)];
        if (sameJson(fresh.spec?.disruption?.budgets, want)) return;
        await patchNodePool(api, fresh, [{ op: 'add', path: '/spec/disruption/budgets', value: want }]);
      });
    }
    for (const plan of input.nodeClasses) {
      await pinNodeClass(
        api,
        input.cluster.name,
        plan.name,
        (existing, current) =>
          existing?.workflowId === input.workflowId
            ? existing
            : {
                workflowId: input.workflowId,
                runId: input.runId,
                since: now,
                original: existing ? existing.original : (current.spec?.amiSelectorTerms ?? []),
              },
        () => plan.to,
      );
    }
  }

  /** PodDisruptionBudgets that allow no disruption now: what keeps drifted nodes from draining. */
  async function blockingPdbs(kc: KubeConfig, cluster: string): Promise<string[]> {
    const list = await read(`list PodDisruptionBudgets of ${cluster}`, () =>
      kc.makeApiClient(PolicyV1Api).listPodDisruptionBudgetForAllNamespaces(),
    );
    return list.items
      .filter((p) => p.status?.disruptionsAllowed === 0 && p.status?.expectedPods !== 0)
      .map((p) => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? '?'}`)
      .sort();
  }

  async function driftKarpenterNodes(input: DriftKarpenterNodesInput): Promise<DriftKarpenterNodesResult> {
    const r = activityRuntime(deps.logger);
    const resumed = isProgress(r.heartbeatDetails, input) ? r.heartbeatDetails : undefined;
    const nowMs = () => deps.now().getTime();
    const clusterNowMs = () => (deps.clusterClock ?? deps.now)().getTime();
    const progress: KarpenterDriftProgress = resumed
      ? structuredClone(resumed)
      : {
          cluster: input.cluster.name,
          startedAtMs: nowMs(),
          clusterStartedAtMs: clusterNowMs(),
          configured: false,
          onTarget: 0,
          drifted: 0,
          replaced: 0,
          total: 0,
          lastChangeAtMs: nowMs(),
          claims: [],
          gone: [],
        };
    const kc = await access.kubeConfig(input.cluster);
    const api = kc.makeApiClient(CustomObjectsApi);
    const names = input.nodeClasses.map((n) => n.name);
    if (!progress.configured) {
      await releaseDrift(api, input);
      progress.configured = true;
    }
    for (;;) {
      const [claims, classes] = await Promise.all([
        listObjects(api, KARPENTER, 'nodeclaims', input.cluster.name),
        listNodeClasses(api, input.cluster.name),
      ]);
      const planned = classes.filter((nc) => names.includes(nc.metadata?.name));
      const count = countDrift(claims, planned, names, progress.clusterStartedAtMs);
      // A claim gone without having drifted was not replaced by this step: expired, consolidated or deleted.
      const liveNames = new Set(count.live.map((c) => c.name));
      for (const seen of progress.claims) {
        if (!liveNames.has(seen.name) && !seen.drifted && !progress.gone.includes(seen.name))
          progress.gone.push(seen.name);
      }
      const changed =
        count.onTarget !== progress.onTarget || count.drifted !== progress.drifted || count.total !== progress.total;
      if (changed) progress.lastChangeAtMs = nowMs();
      Object.assign(progress, {
        onTarget: count.onTarget,
        drifted: count.drifted,
        replaced: count.replaced,
        total: count.total,
        claims: count.live.map((c) => ({ name: c.name, drifted: c.drifted })),
      });
      const resolved = planned.length === names.length && planned.every(amisResolved);
      if (resolved && count.onTarget === count.total) {
        const launchedDuringHold = input.holdSinceMs
          ? count.live.filter(
              (c) => c.createdAtMs >= (input.holdSinceMs as number) && c.createdAtMs < progress.clusterStartedAtMs,
            ).length
          : 0;
        const result: DriftKarpenterNodesResult = {
          onTarget: count.onTarget,
          drifted: 0,
          replaced: count.replaced,
          total: count.total,
          goneWithoutDrift: [...progress.gone],
          launchedDuringHold,
        };
        r.log.info('Karpenter nodes on the target AMIs', {
          cluster: input.cluster.name,
          nodes: describeDriftCount(result),
        });
        return result;
      }
      const elapsed = nowMs() - progress.startedAtMs;
      if (elapsed > input.timeoutMs) {
        throw ApplicationFailure.create({
          type: 'KarpenterDriftTimeout',
          nonRetryable: true,
          message: `Karpenter nodes of ${input.cluster.name} not all on the target AMIs after ${Math.round(input.timeoutMs / 60_000)} min: ${describeDriftCount(count)}`,
          details: [count],
        });
      }
      if (count.drifted > 0 && nowMs() - progress.lastChangeAtMs > input.pdbTimeoutMs) {
        const pdbs = await blockingPdbs(kc, input.cluster.name);
        if (pdbs.length > 0) {
          throw ApplicationFailure.create({
            type: 'KarpenterDriftBlocked',
            nonRetryable: true,
            message: `Karpenter drift of ${input.cluster.name} made no progress for ${Math.round(input.pdbTimeoutMs / 60_000)} min: PodDisruptionBudget ${pdbs.join(', ')} allows no disruption (${describeDriftCount(count)})`,
            details: [{ ...count, pdbs }],
          });
        }
      }
      const delay = nextLookDelayMs('nodepools', elapsed, deps.waits);
      const later = new LookLater(delay, `Karpenter nodes of ${input.cluster.name}: ${describeDriftCount(count)}`);
      if (parks(deps, r)) throw park(r, later, progress, resumed);
      r.heartbeat(structuredClone(progress));
      await r.sleep(delay);
    }
  }

  async function releaseKarpenterHolds(input: ReleaseKarpenterHoldsInput): Promise<ReleaseKarpenterHoldsResult> {
    const r = activityRuntime(deps.logger);
    const api = (await access.kubeConfig(input.cluster)).makeApiClient(CustomObjectsApi);
    const nodeClasses: { nodeClass: string; terms: AmiSelectorTerm[] }[] = [];
    for (const nc of await listNodeClasses(api, input.cluster.name)) {
      const name = nc.metadata.name as string;
      await withRetries(input.cluster.name, `release EC2NodeClass ${name}`, async () => {
        const fresh = (await listNodeClasses(api, input.cluster.name)).find((x) => x.metadata?.name === name);
        const pin = parsePin(fresh?.metadata?.annotations);
        if (!fresh || !pin || (input.workflowId !== undefined && pin.workflowId !== input.workflowId)) return;
        const terms =
          input.terms === 'original'
            ? pin.original
            : input.terms === 'pinned'
              ? (pin.pinned ?? pin.original)
              : (fresh.spec?.amiSelectorTerms as AmiSelectorTerm[]);
        await patchObject(api, KARPENTER_AWS, 'ec2nodeclasses', fresh, [
          { op: 'remove', path: `/metadata/annotations/${escapeKey(PIN_ANNOTATION)}` },
          ...(sameJson(fresh.spec?.amiSelectorTerms, terms)
            ? []
            : [{ op: 'add', path: '/spec/amiSelectorTerms', value: terms }]),
        ]);
        nodeClasses.push({ nodeClass: name, terms });
      });
    }
    const pools = await holds.releaseNodePoolHolds({
      cluster: input.cluster,
      ...(input.workflowId !== undefined ? { workflowId: input.workflowId } : {}),
    });
    r.log.info('Karpenter holds released', { cluster: input.cluster.name, nodeClasses, pools: pools.released });
    return { nodeClasses, released: pools.released };
  }

  return { holdKarpenterNodes, driftKarpenterNodes, releaseKarpenterHolds };
}
