/**
 * The Temporal Web UI shows a campaign the way operators are told to watch it (issue 6 item 6).
 *
 * A dedicated dev server with its Web UI (the shared test server is headless), the real workflows
 * bundle with fake activities in a worker in this process, and a 3-cluster campaign in 2 waves
 * started by `FleetwaveClient.startCampaign`, left waiting for the approval that promotes it from
 * `canary` to `rest`. Then headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * opens the workflow list filtered by `CampaignName`, clicks the campaign, and reads what the UI
 * renders: the static summary set at start, the current details (the markdown progress table the
 * campaign keeps up to date) and the search attributes. Screenshots go to test-output/ui/. The
 * campaign is then approved and runs to completion.
 *
 * Skipped only where /usr/bin/chromium is missing and CI is unset; .ci/run installs it.
 * Run alone: `FLEETWAVE_TEST_TEMPORAL=off npx vitest run test/ui` (this file needs no shared server).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetwaveClient } from '../../client/library';
import type { CampaignStatus } from '../../workflows/definitions';
import { getWorkflowBundle, REPO_ROOT } from '../helpers/bundle';
import { createFakeActivities, fakeCluster } from '../helpers/fake-activities';
import { startDedicatedTestTemporal, type DedicatedTestTemporal } from '../helpers/temporal';
import { createLeaseActivities } from '../../activities/leases';
import { uniqueTag, waitForStatus, type CampaignHandle } from '../workflows/campaign-harness';

const CHROMIUM_PATH = '/usr/bin/chromium';
/**
 * As root on a machine without network: no sandbox, no GPU, and no background connections (they
 * are refused here, many at a time). playwright-core adds --headless and a fresh --user-data-dir.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-output/ui');
/** The UI's first load compiles and fetches a lot; 2 loaded cores make it slow. */
const UI_TIMEOUT_MS = 60_000;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const skip = !fs.existsSync(CHROMIUM_PATH) && !process.env.CI;

describe.skipIf(skip)('Temporal Web UI (headless Chromium)', () => {
  let temporal: DedicatedTestTemporal;
  let uiUrl: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM_PATH)) {
      throw new Error(`${CHROMIUM_PATH} is missing: install the Debian package chromium (.ci/run does)`);
    }
    temporal = await startDedicatedTestTemporal({ uiPort: 0 });
    if (!temporal.server.uiUrl) throw new Error('the dedicated dev server started without its Web UI');
    uiUrl = temporal.server.uiUrl;
    await waitForHttpOk(uiUrl, UI_TIMEOUT_MS);
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  });

  afterAll(async () => {
    await temporal?.teardown();
  });

  it('shows the campaign awaiting approval: filtered list, summary, current details, search attributes', async () => {
    const tag = uniqueTag();
    const name = `ui-${tag}`;
    const clusters = ['a', 'b', 'c'].map((suffix) => `ui-${tag}-${suffix}`);
    const fake = createFakeActivities({ clusters: clusters.map((cluster) => fakeCluster(cluster)) });
    const taskQueue = temporal.taskQueue('ui');
    const fw = new FleetwaveClient({ client: temporal.client, taskQueue, address: temporal.address, uiBase: uiUrl });
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(),
      // The campaign asks the fleet control before each start round (takeFleetStarts).
      activities: { ...createLeaseActivities({ client: temporal.client, taskQueue }), ...fake.activities },
    });

    await worker.runUntil(async () => {
      const started = await fw.startCampaign({
        campaign: {
          apiVersion: 'fleetwave.io/v1alpha1',
          kind: 'UpgradeCampaign',
          metadata: { name },
          spec: {
            target: { kubernetesVersion: '1.31' },
            bake: '0s',
            approvers: { users: ['alice'] },
            waves: [
              { name: 'canary', count: 1, approval: 'required' },
              { name: 'rest', maxParallel: 2 },
            ],
          },
        },
        fleet: clusters.map((cluster) => fake.member(cluster)),
        startedBy: 'ui-test',
      });
      const handle = temporal.client.workflow.getHandle(started.workflowId) as CampaignHandle;
      const status = await waitForStatus(
        handle,
        (s) => s.state === 'awaiting-approval',
        60_000,
        'canary awaiting approval',
      );
      const expectedWaves = waveRows(status);
      expect(expectedWaves).toEqual([
        ['canary', 'awaiting-approval', '1 of 1'],
        ['rest', 'pending', '0 of 2'],
      ]);
      const canary = status.clusters.find((c) => c.wave === 'canary')?.name;
      expect(canary).toBeDefined();
      const summary = await (await handle.describe()).staticSummary();
      expect(summary).toMatch(/^Upgrade 3 clusters to Kubernetes 1\.31 in 2 waves \(ETA .+; started by ui-test\)$/);

      await withBrowserPage(async (page) => {
        // The list, filtered by our search attribute: the campaign and its canary's cluster-upgrade run.
        const listUrl =
          `${uiUrl}/namespaces/${temporal.namespace}/workflows?query=` + encodeURIComponent(`CampaignName="${name}"`);
        const campaignLink = await openListUntilListed(page, listUrl, [
          started.workflowId,
          `cluster-upgrade/${canary}`,
        ]);
        await page.getByText(`"${name}"`).first().waitFor({ timeout: UI_TIMEOUT_MS });
        await screenshot(page, 'campaign-workflow-list.png');

        // The workflow page, reached by clicking the row, is the page the client library links to.
        await campaignLink.click();
        await page.waitForURL((url) => url.href.startsWith(`${started.uiUrl}/${started.runId}`), {
          timeout: UI_TIMEOUT_MS,
        });
        await page.getByText(started.workflowId, { exact: true }).first().waitFor({ timeout: UI_TIMEOUT_MS });

        // Summary and current details are markdown, each rendered by the UI in an iframe of its own.
        await page.getByRole('tab', { name: 'User Metadata' }).click({ timeout: UI_TIMEOUT_MS });
        await expect
          .poll(async () => (await renderedMarkdown(page)).map((m) => m.text), { timeout: UI_TIMEOUT_MS })
          .toContain(summary);
        const details = await pollDetailsFrame(page, name);
        const detailsText = normalize(await details.locator('body').innerText());
        expect(detailsText).toContain(`Campaign ${name} → Kubernetes 1.31`);
        expect(detailsText).toContain('awaiting-approval · wave canary (1 of 2) · run 1');
        expect(detailsText).toContain('Wave canary awaits approval (0 of 1)');
        expect(detailsText).toContain(`fleetwave approve ${name} --wave canary`);
        // No count turned into a fraction (½, ⅓, ... or a fraction slash) by the UI's renderer.
        expect(detailsText).not.toMatch(/[\u00bc-\u00be\u2044\u2150-\u215f\u2189]/);
        const rows = (await details.locator('tr').allInnerTexts()).map((row) => normalize(row).split('\t'));
        expect(rows[0]?.slice(0, 3)).toEqual(['wave', 'state', 'upgraded']);
        expect(rows.slice(1).map((cells) => cells.slice(0, 3))).toEqual(expectedWaves);
        await screenshot(page, 'campaign-awaiting-approval.png');
        // The panel clips the table (fixed iframe size); the UI's own renderer, full size, shows all of it.
        const rendered = await page.context().newPage();
        await rendered.goto(details.url(), { waitUntil: 'load' });
        await rendered.getByText(`Campaign ${name}`).waitFor();
        await screenshot(rendered, 'campaign-current-details.png');
        await rendered.close();

        await page.getByRole('tab', { name: 'Search Attributes' }).click({ timeout: UI_TIMEOUT_MS });
        const shown = [
          `"AwaitingApproval": true`,
          `"CampaignName": "${name}"`,
          `"CampaignState": "awaiting-approval"`,
          `"CurrentWave": "canary"`,
          `"ClustersTotal": 3`,
          `"TargetVersion": "1.31"`,
        ];
        await expect
          .poll(async () => missingFrom(await page.locator('body').innerText(), shown), { timeout: UI_TIMEOUT_MS })
          .toEqual([]);
        await screenshot(page, 'campaign-search-attributes.png');
      });

      for (const file of [
        'campaign-workflow-list.png',
        'campaign-awaiting-approval.png',
        'campaign-current-details.png',
        'campaign-search-attributes.png',
      ]) {
        const png = fs.readFileSync(path.join(SCREENSHOT_DIR, file));
        expect(png.subarray(0, 8).equals(PNG_SIGNATURE), `${file} is a PNG`).toBe(true);
        expect(png.length, `${file} size`).toBeGreaterThan(10 * 1024);
      }

      await fw.approveWave(name, { wave: 'canary', approver: 'alice', comment: 'the UI shows a green canary' });
      const result = await fw.waitForCampaign(name);
      expect(result.state).toBe('completed');
      expect([...result.upgraded].sort()).toEqual(clusters);
    });
  }, 300_000);
});

/** `[wave, state, "upgraded of total"]` per wave, as the current-details table shows them. */
function waveRows(status: CampaignStatus): string[][] {
  return status.waves.map((w) => [
    w.name,
    w.state,
    `${w.counts.upgraded + w.counts['already-at-target']} of ${w.total}`,
  ]);
}

/**
 * Folds non-breaking spaces, so the text compares with what the workflow wrote. Fractions are not
 * folded back: the UI's markdown renderer would set "1/2" as ½ (or 1⁄2 with a fraction slash), so
 * the workflow writes counts as "1 of 2", and the text must show them as written.
 */
function normalize(text: string): string {
  return text.replace(/\u00a0/g, ' ');
}

function missingFrom(text: string, wanted: string[]): string[] {
  return wanted.filter((w) => !text.includes(w));
}

/** Text of every markdown block the page rendered (the UI's `/render?content=` iframes). */
async function renderedMarkdown(page: Page): Promise<{ frame: Frame; text: string }[]> {
  const out: { frame: Frame; text: string }[] = [];
  for (const frame of page.frames()) {
    if (!new URL(frame.url(), 'http://x').pathname.endsWith('/render')) continue;
    const text = await frame
      .locator('body')
      .innerText({ timeout: 2_000 })
      .catch(() => '');
    out.push({ frame, text: text.trim() });
  }
  return out;
}

/** The iframe that renders the campaign's current details, once it shows the progress table. */
async function pollDetailsFrame(page: Page, name: string): Promise<Frame> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    const blocks = await renderedMarkdown(page);
    const details = blocks.find((b) => b.text.includes(`Campaign ${name}`) && b.text.includes('budget'));
    if (details) return details.frame;
    if (Date.now() > deadline) {
      throw new Error(`no current details for ${name}; rendered: ${JSON.stringify(blocks.map((b) => b.text))}`);
    }
    await page.waitForTimeout(500);
  }
}

/**
 * Opens the list until every workflow ID in `ids` is a link on it (visibility indexes a moment
 * after the fact) and returns the link of the first.
 */
async function openListUntilListed(page: Page, listUrl: string, ids: string[]) {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    await page.goto(listUrl, { waitUntil: 'domcontentloaded', timeout: UI_TIMEOUT_MS });
    try {
      for (const id of ids) {
        await page.getByRole('link', { name: id, exact: true }).waitFor({ state: 'visible', timeout: 10_000 });
      }
      return page.getByRole('link', { name: ids[0], exact: true });
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

async function screenshot(page: Page, file: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, file), fullPage: true });
}

/**
 * Runs `fn` on a page of a fresh headless Chromium and closes it. On failure the page as it was is
 * saved to test-output/ui/failure.png (with the page's own errors in the message) for CI logs.
 */
async function withBrowserPage(fn: (page: Page) => Promise<void>): Promise<void> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-ui-chromium-'));
  let context: BrowserContext | undefined;
  const pageErrors: string[] = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1600, height: 1000 },
      timeout: UI_TIMEOUT_MS,
    });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await fn(page);
    } catch (err) {
      await screenshot(page, 'failure.png').catch(() => undefined);
      if (err instanceof Error && pageErrors.length > 0) {
        err.message += `\n(page errors: ${pageErrors.slice(0, 5).join(' | ')}; screenshot: test-output/ui/failure.png)`;
      }
      throw err;
    }
  } finally {
    await context?.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function waitForHttpOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`Temporal Web UI at ${url} did not answer within ${timeoutMs} ms (${last})`);
}
