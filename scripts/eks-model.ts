/**
 * The official EKS service model, as AWS ships it in botocore: the JSON description of every
 * operation, shape, enum and error that the SDKs are generated from. The simulator's conformance
 * test (test/simulator/service-model.test.ts) validates raw responses against it, so that the
 * expectations are AWS's and not the project's.
 *
 * `pip download botocore==<BOTOCORE_VERSION> --no-deps` fetches the wheel from PyPI once; the
 * newest `botocore/data/eks/<date>/service-2.json.gz` inside it is unpacked to
 * ~/.cache/fleetwave/botocore-<version>/eks-service-2.json, renamed into place only when complete.
 * Later calls find the file and do nothing. EKS_SERVICE_MODEL points at a service-2.json instead
 * (a machine without PyPI).
 *
 *   npx tsx scripts/eks-model.ts        # ensures the model, prints its path (CI does this)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** botocore release whose EKS model the conformance test checks against (2026-11-20, EKS API 2017-11-01). */
export const BOTOCORE_VERSION = '1.44.8';

type Env = Record<string, string | undefined>;

/** Where the unpacked model is cached. */
export function cachedModelPath(env: Env = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'fleetwave', `botocore-${BOTOCORE_VERSION}`, 'eks-service-2.json');
}

function run(cmd: string, args: string[], env: Env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.join('') }));
  });
}

/** A Python that has pip, or undefined. */
async function findPython(env: Env): Promise<string | undefined> {
  for (const candidate of ['python3', 'python']) {
    try {
      const { code } = await run(candidate, ['-m', 'pip', '--version'], env);
      if (code === 0) return candidate;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}

// Unpacks the newest EKS model from the wheel; Python reads the zip so no unzip tool is needed.
const EXTRACT = `
import gzip, re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
names = [n for n in z.namelist() if re.match(r"botocore/data/eks/[0-9-]+/service-2\\.json(\\.gz)?$", n)]
if not names:
    sys.exit("no botocore/data/eks/<date>/service-2.json in " + wheel)
name = sorted(names)[-1]
data = z.read(name)
if name.endswith(".gz"):
    data = gzip.decompress(data)
open(out, "wb").write(data)
print(name)
`;

/**
 * Returns the path of the EKS service-2.json, downloading botocore from PyPI when it is not
 * cached yet. Throws one error naming what to do when neither the model nor pip is there.
 */
export async function ensureEksModel(opts: { env?: Env; log?: (line: string) => void } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const explicit = env.EKS_SERVICE_MODEL;
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`EKS_SERVICE_MODEL=${explicit} does not exist`);
    return explicit;
  }
  const target = cachedModelPath(env);
  if (fs.existsSync(target)) return target;
  const python = await findPython(env);
  if (!python) {
    throw new Error(
      `EKS service model not cached at ${target} and no pip to fetch it: install python3-pip, or set ` +
        `EKS_SERVICE_MODEL to botocore/data/eks/<date>/service-2.json of botocore ${BOTOCORE_VERSION}`,
    );
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(target), '.download-'));
  const started = Date.now();
  log(`eks-model: pip download botocore==${BOTOCORE_VERSION}`);
  try {
    const download = await run(
      python,
      ['-m', 'pip', 'download', `botocore==${BOTOCORE_VERSION}`, '--no-deps', '--only-binary=:all:', '-d', work],
      env,
    );
    if (download.code !== 0) throw new Error(`pip download botocore==${BOTOCORE_VERSION} failed:\n${download.output}`);
    const wheel = fs.readdirSync(work).find((f) => f.startsWith('botocore-') && f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip download left no botocore wheel in ${work}`);
    const partial = path.join(work, 'eks-service-2.json');
    const extract = await run(python, ['-c', EXTRACT, path.join(work, wheel), partial], env);
    if (extract.code !== 0) throw new Error(`extracting the EKS model from ${wheel} failed:\n${extract.output}`);
    JSON.parse(fs.readFileSync(partial, 'utf8'));
    fs.renameSync(partial, target);
    log(
      `eks-model: ${extract.output.trim()} from ${wheel} -> ${target} in ${Math.round((Date.now() - started) / 1000)}s`,
    );
    return target;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  ensureEksModel().then(
    (p) => process.stdout.write(`${p}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
