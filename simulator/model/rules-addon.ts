/** EKS's rules for an add-on update: to a catalogued version compatible with the cluster's minor. */
import { compareAddonVersions } from '../../domain/versions';
import { DURATIONS } from '../catalogue';
import { invalidParameter, inUse } from './errors';
import type { SimCluster, SimAddon, SimUpdate, UpdateError, UpdateHost } from './types';

/** UpdateAddon's request body. */
export interface AddonUpdateRequest {
  addonVersion?: string;
  resolveConflicts?: string;
  configurationValues?: string;
  clientRequestToken: string;
}

/** UpdateAddon: to a catalogued version compatible with the cluster's minor. */
export function startAddonUpdate(host: UpdateHost, c: SimCluster, a: SimAddon, req: AddonUpdateRequest): SimUpdate {
  const key = `UpdateAddon|${a.name}|${req.clientRequestToken}`;
  const replayed = host.replay(c, key);
  if (replayed) return replayed;
  const extra = { clusterName: c.name, addonName: a.name };
  host.requireQuiet(c);
  if (a.active) throw inUse(`Addon ${a.name} is currently being updated (update ${a.active.id}).`, extra);
  if (req.resolveConflicts !== undefined && !['NONE', 'OVERWRITE', 'PRESERVE'].includes(req.resolveConflicts)) {
    throw invalidParameter(
      `resolveConflicts must be NONE, OVERWRITE or PRESERVE, not "${req.resolveConflicts}"`,
      extra,
    );
  }
  const to = req.addonVersion ?? a.version;
  if (req.addonVersion !== undefined) {
    if (!host.addonCatalogue.versionEntry(a.name, to)) {
      throw invalidParameter(`Addon version specified is not supported: ${a.name} ${to}`, extra);
    }
    if (!host.addonCatalogue.compatible(a.name, to, c.version)) {
      throw invalidParameter(
        `Addon version ${to} of ${a.name} is not compatible with Kubernetes ${c.version} (see DescribeAddonVersions).`,
        extra,
      );
    }
  }
  const now = host.now();
  const duration = host.slow(c, c.rng.between(DURATIONS.addonMinMs, DURATIONS.addonMaxMs));
  const forward = compareAddonVersions(to, a.version) > 0;
  let failAt: number | undefined;
  let failure: UpdateError | undefined;
  if (forward && c.faults.addonUpdateFails) {
    failAt = now + Math.round(duration * 0.7);
    failure = {
      errorCode: 'ConfigurationConflict',
      errorMessage: `Conflicts found when trying to apply ${a.name} ${to}. Will not continue due to resolve conflicts mode (simulated fault addonUpdateFails).`,
      resourceIds: [`kube-system/${a.name}`],
    };
  }
  const params = [{ type: 'AddonVersion', value: to }];
  if (req.resolveConflicts) params.push({ type: 'ResolveConflicts', value: req.resolveConflicts });
  if (req.configurationValues !== undefined)
    params.push({ type: 'ConfigurationValues', value: req.configurationValues });
  host.integrate(c, now);
  a.status = 'UPDATING';
  a.modifiedAt = now;
  const update = host.begin(c, key, req.clientRequestToken, 'UpdateAddon', to, {
    createdAt: now,
    addon: a.name,
    type: 'AddonUpdate',
    params,
    endsAt: now + duration,
    ...(failAt !== undefined ? { failAt, failure } : {}),
    effect: { kind: 'addon', from: a.version, to },
  });
  a.active = update;
  return update;
}
