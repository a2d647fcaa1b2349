/**
 * Memory settings the worker process can take only when it starts: the sizes of V8's heaps
 * (FLEETWAVE_HEAP_SEMI_SPACE_MB, FLEETWAVE_HEAP_OLD_SPACE_MB) and glibc's malloc arenas
 * (MALLOC_ARENA_MAX).
 *
 * Left to themselves they follow the machine, not the worker: on a host with a few GiB free, V8
 * takes a 4 GiB heap limit, grows each young generation to 128 MiB and lets the old generation
 * reach up to four times its live data before collecting it, and glibc gives the worker's many
 * threads (Temporal's Rust core, V8's helpers, libuv's pool) up to eight arenas per core. Measured
 * in the 500-cluster bench (bench/README.md, "Profiling the worker"), that was most of the worker's
 * resident memory, holding garbage.
 *
 * V8 sizes a thread's heap when the thread starts, and glibc reads MALLOC_ARENA_MAX once, so the
 * worker applies what is missing by replacing itself (execve: the same PID, arguments and
 * environment, nothing run yet) with the flags and variable added. A flag already on the command
 * line or in NODE_OPTIONS, and a MALLOC_ARENA_MAX already set, are left alone. Without
 * process.execve (Node.js 22.12 to 22.14) the main thread keeps V8's own sizes; the workflow
 * thread, started later, gets the flags either way ({@link applyToNewThreads}).
 */
import v8 from 'node:v8';
import type { WorkerConfig } from './config';

/** What the process should start with, and what it already has. */
interface StartSettings {
  /** V8 flags (`--name=value`) the process was not started with. */
  missingFlags: string[];
  /** Environment variables glibc reads at start that are not set. */
  missingEnv: Record<string, string>;
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** The flags of `config` as `[name, value]`, without the ones set to 0 (V8's own size). */
function heapFlags(config: WorkerConfig): [string, number][] {
  return (
    [
      ['--max-semi-space-size', config.heapSemiSpaceMb],
      ['--max-old-space-size', config.heapOldSpaceMb],
    ] as [string, number][]
  ).filter(([, mb]) => mb > 0);
}

/** Whether `name` is on this process's command line or in its NODE_OPTIONS. */
function flagGiven(name: string, execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return given.some((arg) => arg === name || arg.startsWith(`${name}=`));
}

/** What of `config`'s start-up settings this process lacks. */
export function missingStartSettings(
  config: WorkerConfig,
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): StartSettings {
  const missingFlags = heapFlags(config)
    .filter(([name]) => !flagGiven(name, execArgv, env))
    .map(([name, mb]) => `${name}=${mb}`);
  const missingEnv: Record<string, string> =
    config.mallocArenaMax > 0 && env.MALLOC_ARENA_MAX === undefined
      ? { MALLOC_ARENA_MAX: String(config.mallocArenaMax) }
      : {};
  return { missingFlags, missingEnv };
}

/**
 * Replaces this process with itself started with the missing settings; returns only when nothing
 * is missing or the platform cannot (no process.execve).
 */
export function restartWithStartSettings(config: WorkerConfig): void {
  const { missingFlags, missingEnv } = missingStartSettings(config);
  if (missingFlags.length === 0 && Object.keys(missingEnv).length === 0) return;
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function') return;
  execve(process.execPath, [process.execPath, ...missingFlags, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    ...missingEnv,
  });
}

/**
 * Sets the heap flags this process was not started with for the threads it starts from now on (the
 * workflow thread): call it before Worker.create. Settings already in force are not repeated.
 */
export function applyToNewThreads(config: WorkerConfig): void {
  for (const flag of missingStartSettings(config).missingFlags) v8.setFlagsFromString(flag);
}
