/**
 * Finds or builds the tools that validate the deployment files without a cluster or a Docker
 * engine: `helm` (lint and render deploy/helm/fleetwave-worker) and `compose-spec` (compose-go's
 * validator: the loader Docker Compose v2 itself uses, with the Compose Specification schema).
 *
 * Neither ships in Debian, but both are Go modules: `go install` from the module proxy builds
 * them into ~/.cache/fleetwave/<tool>-<version>/ once (helm: about 3 minutes on 2 cores; compose-spec:
 * seconds). The binary is renamed into place only when complete, so a half-built one is never used.
 *
 *   npx tsx scripts/deploy-tools.ts            # ensures both, prints their paths (CI does this)
 *   npx tsx scripts/deploy-tools.ts helm       # just one
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A Go-built tool: where it comes from and how it is called once cached. */
export interface GoTool {
  /** Name of the cached binary and of the CLI argument. */
  name: 'helm' | 'compose-spec';
  /** Environment variable that points at an existing binary instead. */
  envVar: string;
  /** `go install` package path. */
  goPackage: string;
  version: string;
  /** Name `go install` gives the binary (the last element of the package path). */
  builtName: string;
  ldflags?: string;
}

const HELM_VERSION = 'v3.22.0';

/** helm, with the version and default Kubernetes version that its release builds get from the Makefile. */
export const HELM: GoTool = {
  name: 'helm',
  envVar: 'HELM',
  goPackage: 'helm.sh/helm/v3/cmd/helm',
  version: HELM_VERSION,
  builtName: 'helm',
  ldflags: [
    `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
    // helm's go.mod pins k8s.io/client-go v0.37: release builds default to Kubernetes 1.37 the same way.
    ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`,
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=37`,
    ]),
  ].join(' '),
};

/** compose-go's `cmd`: validates a compose file against the Compose Specification and checks its model. */
export const COMPOSE_SPEC: GoTool = {
  name: 'compose-spec',
  envVar: 'COMPOSE_SPEC',
  goPackage: 'github.com/compose-spec/compose-go/v2/cmd',
  version: 'v2.16.2',
  builtName: 'cmd',
};

const TOOLS = [HELM, COMPOSE_SPEC];

type Env = Record<string, string | undefined>;

/** Where the cached binary of `tool` lives. */
export function cachedToolPath(tool: GoTool, env: Env = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'fleetwave', `${tool.name}-${tool.version}`, tool.name);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The tool's path if it is already there ($ENV_VAR, then the cache), else undefined. Never builds. */
export function findTool(tool: GoTool, env: Env = process.env): string | undefined {
  const explicit = env[tool.envVar];
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  const cached = cachedToolPath(tool, env);
  return isExecutable(cached) ? cached : undefined;
}

function findGo(env: Env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/local/go/bin', '/usr/lib/go/bin'];
  return dirs.map((dir) => path.join(dir, 'go')).find(isExecutable);
}

/**
 * Returns the tool's path, building it with `go install` into the cache when missing.
 * Throws one error naming what to do when neither the tool nor Go is there.
 */
export async function ensureTool(
  tool: GoTool,
  opts: { env?: Env; log?: (line: string) => void } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = findTool(tool, env);
  if (found) return found;
  if (env[tool.envVar]) throw new Error(`${tool.envVar}=${env[tool.envVar]} is not an executable file`);
  const go = findGo(env);
  if (!go) {
    throw new Error(
      `${tool.name} not found: set ${tool.envVar} to a ${tool.name} binary, or install Go so that ` +
        `\`go install ${tool.goPackage}@${tool.version}\` can build it`,
    );
  }
  const target = cachedToolPath(tool, env);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const gobin = fs.mkdtempSync(path.join(path.dirname(target), '.gobin-'));
  const started = Date.now();
  log(`deploy-tools: building ${tool.goPackage}@${tool.version} (helm takes minutes on 2 cores)`);
  try {
    const args = ['install', ...(tool.ldflags ? ['-ldflags', tool.ldflags] : []), `${tool.goPackage}@${tool.version}`];
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, args, { env: { ...env, GOBIN: gobin }, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (chunk: Buffer) => output.push(chunk.toString('utf8'));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0)
      throw new Error(`go install ${tool.goPackage}@${tool.version} failed:\n${output.join('').slice(-4000)}`);
    fs.renameSync(path.join(gobin, tool.builtName), target);
    log(`deploy-tools: built ${target} in ${Math.round((Date.now() - started) / 1000)}s`);
    return target;
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !TOOLS.some((t) => t.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown tool ${unknown.join(', ')}; known: ${TOOLS.map((t) => t.name).join(', ')}\n`);
    process.exitCode = 2;
  } else {
    try {
      for (const tool of TOOLS.filter((t) => wanted.length === 0 || wanted.includes(t.name))) {
        process.stdout.write(`${tool.name}: ${await ensureTool(tool)}\n`);
      }
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
