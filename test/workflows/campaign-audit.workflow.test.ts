/**
 * `fleetwave audit`'s reading of the whole trail (client/audit.ts): a campaign that continues as
 * new on a dev server whose suggestContinueAsNew limit is tiny, with decisions taken in several
 * runs (accepted and refused), read back from Temporal's histories and the newest run's status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCampaignAudit } from '../../client/audit';
import { formatAuditTrail } from '../../client/format';
import {
  approveSignal,
  approveWaveUpdate,
  pauseSignal,
  resumeSignal,
  retryClusterUpdate,
} from '../../workflows/definitions';
import { runCli, type CliRun } from '../helpers/cli';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import { startDedicatedTestTemporal, type DedicatedTestTemporal } from '../helpers/temporal';
import { makeCampaign, resultWithin, startCampaign, uniqueTag, waitForStatus, withWorker } from './campaign-harness';

describe('campaign audit across continue-as-new', () => {
  let dedicated: DedicatedTestTemporal;

  beforeAll(async () => {
    dedicated = await startDedicatedTestTemporal({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } });
  }, 120_000);

  afterAll(async () => {
    await dedicated?.teardown();
  });

  it('lists every decision of every run, refusals included', { timeout: 180_000 }, async () => {
    const tag = uniqueTag();
    const names = Array.from({ length: 12 }, (_, i) => `aud-${tag}-${String(i).padStart(2, '0')}`);
    const fake = createFakeActivities({
      clusters: names.map((n) => fakeCluster(n)),
      beforeCall: (call) =>
        call.name === 'awaitUpdate' ? new Promise((resolve) => setTimeout(resolve, 100)) : undefined,
    });
    const campaign = makeCampaign(`aud-${tag}`, {
      waves: [
        { name: 'first', count: 3, maxParallel: 3, approval: 'required' },
        { name: 'rest', maxParallel: 3 },
      ],
      approvers: { users: ['carol'], minApprovals: 1 },
    });
    const taskQueue = dedicated.taskQueue('audit');
    let cli: { json: CliRun; table: CliRun } | undefined;
    const audit = await withWorker(dedicated, taskQueue, fake.activities, async () => {
      const handle = await startCampaign(
        dedicated,
        taskQueue,
        campaign,
        names.map((n) => fake.member(n)),
      );
      // Run 1: a pause, a refused retry (the cluster has not failed), a resume.
      await handle.signal(pauseSignal, { by: 'alice', reason: 'first look' });
      await waitForStatus(handle, (s) => s.state === 'paused', 30_000, 'paused');
      await expect(
        handle.executeUpdate(retryClusterUpdate, { args: [{ by: 'alice', cluster: names[0] as string }] }),
      ).rejects.toThrow();
      await handle.signal(resumeSignal, { by: 'alice' });
      // A refused approval (not an approver) and an accepted one, whichever run is current then.
      await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 120_000, 'awaiting approval');
      await handle.signal(approveSignal, { wave: 'first', approver: 'mallory' });
      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 'first', approver: 'carol' }] });
      // A later run: another pause and resume.
      const later = await waitForStatus(handle, (s) => s.runs >= 2, 120_000, 'a second run');
      await handle.signal(pauseSignal, { by: 'bob' });
      await waitForStatus(handle, (s) => s.state === 'paused', 30_000, 'paused again');
      await handle.signal(resumeSignal, { by: 'bob' });
      const result = await resultWithin(handle, 150_000);
      expect(result.state).toBe('completed');
      expect(later.runs).toBeGreaterThanOrEqual(2);
      // The real CLI, as an operator or a SIEM shipper runs it (the worker answers the status query).
      const env = { TEMPORAL_ADDRESS: dedicated.server.address, TEMPORAL_NAMESPACE: dedicated.namespace };
      cli = {
        json: await runCli(['audit', campaign.metadata.name, '--json'], { env }),
        table: await runCli(['audit', campaign.metadata.name], { env }),
      };
      return readCampaignAudit(dedicated.client, campaign.metadata.name);
    });
    expect(cli?.json.code).toBe(0);
    const lines = (cli?.json.stdout ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(audit.records.length);
    expect(lines[0]).toMatchObject({ campaign: campaign.metadata.name, run: 1, kind: 'paused', by: 'alice' });
    expect(cli?.table.code).toBe(0);
    expect(cli?.table.stdout).toContain(
      `campaign ${campaign.metadata.name}: ${audit.records.length} decision(s) over ${audit.runs} run(s)`,
    );
    console.log(formatAuditTrail(audit));
    expect(audit.runs).toBeGreaterThan(1);
    expect(audit.warnings).toEqual([]);
    const line = (kind: string, by: string) => audit.records.filter((r) => r.kind === kind && r.by === by);
    expect(line('paused', 'alice')).toHaveLength(1);
    expect(line('action-refused', 'alice')).toHaveLength(1);
    expect(line('action-refused', 'alice')[0]?.detail).toMatch(/^retry refused/);
    expect(line('resumed', 'alice')).toHaveLength(1);
    expect(line('approval-refused', 'mallory')).toHaveLength(1);
    expect(line('approval', 'carol')).toHaveLength(1);
    expect(line('paused', 'bob')).toHaveLength(1);
    expect(line('resumed', 'bob')).toHaveLength(1);
    // Taken in the first run and in a later one; nothing came from the history alone (all kept).
    expect(line('paused', 'alice')[0]?.run).toBe(1);
    expect(line('paused', 'bob')[0]?.run).toBeGreaterThanOrEqual(2);
    expect(audit.records.every((r) => r.source === 'state')).toBe(true);
  });
});
