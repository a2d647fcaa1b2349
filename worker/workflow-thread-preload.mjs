/**
 * Loaded with --import into each thread of the worker process when FLEETWAVE_WORKFLOW_STACK_TRACES
 * is off (worker/start-settings.ts adds the flag at start; Node.js runs --import modules in every
 * worker thread too). Plain JavaScript, so that the same file serves the checkout and dist/.
 *
 * In the Temporal SDK's workflow thread it keeps the SDK from installing its promise hook: a hook
 * on every promise the workflows create that records a stack trace (an Error, its frames mapped
 * through the bundle's source map) for the __stack_trace query behind the Web UI's Stack Trace tab.
 * At 500 clusters that hook took 40 % of the workflow thread's CPU (bench/README.md, "The workflow
 * thread's promise hook"). The SDK's own switch for runtimes without promise hooks is used: its
 * global handlers count as installed, so the query answers that stack traces are not enabled. The
 * source-mapped stack traces of errors stay: that part of the handlers is installed here.
 *
 * The handlers are SDK internals (@temporalio/worker/lib/workflow/vm-shared): when they are not as
 * expected, nothing is changed and the thread says so on stderr (stack traces stay on).
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (!isMainThread) {
  const require = createRequire(import.meta.url);
  let problem;
  try {
    const { globalHandlers } = require('@temporalio/worker/lib/workflow/vm-shared');
    if (
      globalHandlers &&
      globalHandlers.installed === false &&
      typeof globalHandlers.install === 'function' &&
      typeof globalHandlers.overridePrepareStackTrace === 'function'
    ) {
      globalHandlers.overridePrepareStackTrace();
      globalHandlers.installed = true;
    } else {
      problem = 'the SDK global handlers are not as expected';
    }
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  if (problem) {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', msg: 'workflow stack traces stay on (FLEETWAVE_WORKFLOW_STACK_TRACES=off not applied)', problem })}\n`,
    );
  }
}
