/**
 * Bundles workflow code once per test file (Vitest isolates files, so "once per suite")
 * and hands the same bundle to every `Worker.create({ workflowBundle })`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** Repository root, for building absolute paths in tests. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The workflows entry point that the worker registers. */
export const WORKFLOWS_PATH = path.join(REPO_ROOT, 'workflows/index.ts');

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** The bundle of `workflowsPath` (default: workflows/index.ts), built on first use. */
export function getWorkflowBundle(workflowsPath: string = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  const key = path.resolve(workflowsPath);
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath: key, logger: new DefaultLogger('WARN') });
    // A failed bundle is not cached, so a fixed file can be retried in watch mode.
    void bundle.catch(() => bundles.delete(key));
    bundles.set(key, bundle);
  }
  return bundle;
}
