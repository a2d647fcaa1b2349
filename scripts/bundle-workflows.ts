/**
 * `npm run check:workflows`: bundles workflows/index.ts on its own, the way the worker does,
 * so a stray Node built-in or SDK import fails CI instead of the worker at start.
 *
 * `tsx scripts/bundle-workflows.ts --out FILE` also writes the bundle: the worker runs this in a
 * child process at start (webpack's few hundred MiB then never count against the worker's
 * memory), and an image can build it once (FLEETWAVE_WORKFLOW_BUNDLE).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : undefined;
if (outIndex >= 0) args.splice(outIndex, 2);
if (outIndex >= 0 && !out) {
  process.stderr.write('check:workflows: --out needs a file path\n');
  process.exit(2);
}
// The compiled copy in dist/scripts/ bundles dist/workflows/index.js.
const defaultEntry = import.meta.url.endsWith('.ts') ? 'workflows/index.ts' : 'workflows/index.js';
const workflowsPath = path.resolve(repoRoot, args[0] ?? defaultEntry);

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
  if (out) {
    // Written next to its final name and renamed, so a reader never sees half a bundle.
    const tmp = `${out}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, out);
  }
  process.stdout.write(
    `check:workflows: bundled ${path.relative(repoRoot, workflowsPath)} (${kib} KiB) in ${Date.now() - started} ms${out ? ` to ${out}` : ''}\n`,
  );
} catch (err) {
  process.stderr.write(`check:workflows: bundling ${path.relative(repoRoot, workflowsPath)} failed:\n`);
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
