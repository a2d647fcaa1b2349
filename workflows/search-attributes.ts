/**
 * Fleetwave's custom search attributes: the one list that the workflows upsert, the
 * client queries by, and the dev server registers at start. Kept free of Node built-ins
 * because workflow code imports it.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import type { CampaignState } from './definitions';

/** Name of the campaign (also on each cluster-upgrade child, so one query finds both). */
export const CampaignNameKey = defineSearchAttributeKey('CampaignName', SearchAttributeType.KEYWORD);
/** Campaign lifecycle state, e.g. `running`, `paused`, `awaiting-approval`, `done`. */
export const CampaignStateKey = defineSearchAttributeKey('CampaignState', SearchAttributeType.KEYWORD);
/** Name of the wave the campaign is currently working on. */
export const CurrentWaveKey = defineSearchAttributeKey('CurrentWave', SearchAttributeType.KEYWORD);
/** Kubernetes version the campaign or cluster upgrade is heading to, e.g. `1.31`. */
export const TargetVersionKey = defineSearchAttributeKey('TargetVersion', SearchAttributeType.KEYWORD);
/** Clusters that finished their upgrade successfully. */
export const ClustersDoneKey = defineSearchAttributeKey('ClustersDone', SearchAttributeType.INT);
/** Clusters whose upgrade failed (rolled back or not). */
export const ClustersFailedKey = defineSearchAttributeKey('ClustersFailed', SearchAttributeType.INT);
/** Clusters selected by the campaign. */
export const ClustersTotalKey = defineSearchAttributeKey('ClustersTotal', SearchAttributeType.INT);
/** True while the campaign waits for a human to approve a wave promotion. */
export const AwaitingApprovalKey = defineSearchAttributeKey('AwaitingApproval', SearchAttributeType.BOOL);
/** Cluster a cluster-upgrade workflow works on. */
export const ClusterNameKey = defineSearchAttributeKey('ClusterName', SearchAttributeType.KEYWORD);
/** Step a cluster-upgrade workflow is in, e.g. `preflight`, `control-plane`, `node-groups`. */
export const UpgradeStepKey = defineSearchAttributeKey('UpgradeStep', SearchAttributeType.KEYWORD);

/** Every fleetwave search attribute, as `{ name, type }`, for registering them on a server. */
export const SEARCH_ATTRIBUTES: readonly SearchAttributeKey<SearchAttributeType>[] = [
  CampaignNameKey,
  CampaignStateKey,
  CurrentWaveKey,
  TargetVersionKey,
  ClustersDoneKey,
  ClustersFailedKey,
  ClustersTotalKey,
  AwaitingApprovalKey,
  ClusterNameKey,
  UpgradeStepKey,
];

/**
 * The search attributes a campaign workflow is started with: its name and target, and every
 * published attribute as it stands while planning, so the first run has nothing to upsert until
 * its state changes (and list queries such as `ClustersFailed = 0` match from the start).
 */
export function campaignStartAttributes(
  name: string,
  targetVersion: string | undefined,
  clustersTotal: number,
): SearchAttributePair[] {
  return [
    { key: CampaignNameKey, value: name },
    { key: CampaignStateKey, value: 'planning' satisfies CampaignState },
    ...(targetVersion ? [{ key: TargetVersionKey, value: targetVersion }] : []),
    { key: CurrentWaveKey, value: '' },
    { key: AwaitingApprovalKey, value: false },
    { key: ClustersTotalKey, value: clustersTotal },
    { key: ClustersDoneKey, value: 0 },
    { key: ClustersFailedKey, value: 0 },
  ];
}
