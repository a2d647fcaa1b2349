/**
 * Heap settings the worker's V8 threads can take only when they start (FLEETWAVE_HEAP_SEMI_SPACE_MB,
 * FLEETWAVE_HEAP_OLD_SPACE_MB, FLEETWAVE_HEAP_GROWING_PERCENT), the workflow thread's preload
 * (FLEETWAVE_WORKFLOW_STACK_TRACES off: an --import flag, which a thread takes only from the
 * process's own command line), and glibc's malloc arenas, read when the process starts
 * (FLEETWAVE_MALLOC_ARENA_MAX).
 *
 * Left to itself V8 sizes its heaps from the machine, not the worker: on a host with a few GiB
 * free it takes a 4 GiB heap limit, grows each young generation to 128 MiB and lets the old
 * generation reach up to four times its live data before collecting it. Measured in the
 * 500-cluster bench (bench/README.md, "Profiling the worker"), that was most of the worker's
 * resident memory, holding garbage.
 *
 * V8 sizes a thread's heap when the thread starts, so the worker applies missing flags to its main
 * thread by replacing itself (execve: the same PID, arguments and environment, nothing run yet)
 * with the flags added, and MALLOC_ARENA_MAX to its environment. A flag already on the command line
 * or in NODE_OPTIONS, and a MALLOC_ARENA_MAX already set, are left alone.
 * Without process.execve (Node.js 22.12 to 22.14) the main thread keeps V8's own sizes; the
 * workflow thread, started later, gets the flags either way ({@link applyToNewThreads}).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { WorkerConfig } from './config';

/**
 * The module that keeps the SDK's promise hook out of the workflow thread when
 * FLEETWAVE_WORKFLOW_STACK_TRACES is off (worker/workflow-thread-preload.mjs, next to this file in
 * the checkout and in dist/). Node.js runs an --import module in every thread it starts.
 */
export const WORKFLOW_THREAD_PRELOAD = fileURLToPath(new URL('./workflow-thread-preload.mjs', import.meta.url));

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** The flags of `config` as `[name, value]`, without the ones set to 0 (V8's own). */
function heapFlags(config: WorkerConfig): [string, number][] {
  return (
    [
      ['--max-semi-space-size', config.heapSemiSpaceMb],
      ['--max-old-space-size', config.heapOldSpaceMb],
      ['--heap-growing-percent', config.heapGrowingPercent],
    ] as [string, number][]
  ).filter(([, value]) => value > 0);
}

/** This process's command-line options and those of its NODE_OPTIONS, one word each. */
function givenArgs(execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
}

/** Whether `name` is on this process's command line or in its NODE_OPTIONS. */
function flagGiven(name: string, execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return givenArgs(execArgv, env).some((arg) => arg === name || arg.startsWith(`${name}=`));
}

/** The heap flags (`--name=value`) of `config` this process was not started with. */
export function missingHeapFlags(
  config: WorkerConfig,
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  return heapFlags(config)
    .filter(([name]) => !flagGiven(name, execArgv, env))
    .map(([name, mb]) => `${name}=${mb}`);
}

/** `--import=<the workflow thread preload>` when `config` turns stack traces off and this process runs without it. */
export function missingPreload(
  config: WorkerConfig,
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (config.workflowStackTraces) return [];
  const url = pathToFileURL(WORKFLOW_THREAD_PRELOAD).href;
  if (givenArgs(execArgv, env).some((arg) => arg.includes(url) || arg.includes(WORKFLOW_THREAD_PRELOAD))) return [];
  return [`--import=${url}`];
}

/** The malloc settings of `config` (as environment variables) that `env` does not already set. */
export function missingMallocEnv(config: WorkerConfig, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return config.mallocArenaMax > 0 && env.MALLOC_ARENA_MAX === undefined
    ? { MALLOC_ARENA_MAX: String(config.mallocArenaMax) }
    : {};
}

/** What this process runs without, as `--flag=value` and `NAME=value`: for a warning when it cannot restart. */
export function missingStartSettings(config: WorkerConfig): string[] {
  const env = Object.entries(missingMallocEnv(config)).map(([name, value]) => `${name}=${value}`);
  return [...missingHeapFlags(config), ...missingPreload(config), ...env];
}

/**
 * Replaces this process with itself started with the missing heap flags and malloc settings;
 * returns only when none is missing or the platform cannot (no process.execve).
 */
export function restartWithStartSettings(config: WorkerConfig): void {
  const missing = [...missingHeapFlags(config), ...missingPreload(config)];
  const env = missingMallocEnv(config);
  const execve = (process as { execve?: Execve }).execve;
  if ((missing.length === 0 && Object.keys(env).length === 0) || typeof execve !== 'function') return;
  execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    ...env,
  });
}

/**
 * Sets the heap flags this process was not started with for the threads it starts from now on (the
 * workflow thread): call it before Worker.create. Settings already in force are not repeated.
 */
export function applyToNewThreads(config: WorkerConfig): void {
  for (const flag of missingHeapFlags(config)) v8.setFlagsFromString(flag);
}
