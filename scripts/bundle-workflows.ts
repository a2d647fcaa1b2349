/**
 * `npm run check:workflows`: bundles workflows/index.ts on its own, the way the worker does,
 * so a stray Node built-in or SDK import fails CI instead of the worker at start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workflowsPath = path.resolve(repoRoot, process.argv[2] ?? 'workflows/index.ts');

if (!fs.existsSync(workflowsPath)) {
  process.stderr.write(
    `check:workflows: ${path.relative(repoRoot, workflowsPath)} does not exist; ` +
      'it must export every workflow the worker registers.\n',
  );
  process.exit(1);
}

const started = Date.now();
try {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  const kib = Math.round(Buffer.byteLength(code) / 1024);
  process.stdout.write(
    `check:workflows: bundled ${path.relative(repoRoot, workflowsPath)} (${kib} KiB) in ${Date.now() - started} ms\n`,
  );
} catch (err) {
  process.stderr.write(`check:workflows: bundling ${path.relative(repoRoot, workflowsPath)} failed:\n`);
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
