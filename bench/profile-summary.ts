/**
 * Where a worker's CPU went, from the V8 CPU profiles `node --cpu-prof` writes (one per thread:
 * the main thread runs activities and the SDK's bridge, a worker thread runs the workflows).
 *
 *   FLEETWAVE_BENCH_WORKER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --scenario 500
 *   npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile            # top 30 by self time
 *   npx tsx bench/profile-summary.ts --top 50 --from 20 FILE           # skip the first 20 s (start-up)
 *
 * Prints, per file: self time by package (node_modules/<name>, the project's own folders,
 * node:internal, V8's pseudo-nodes such as "(garbage collector)"), the same with Node.js's own
 * frames charged to the package that called them (a socket write to the HTTP client that made the
 * request), by function (name, file, line), and the functions with the most inclusive time (a
 * frame counted once per sample however deep it recurs). `--callers REGEX` adds who called the
 * matching functions.
 * Time the Rust core spends in its own threads is not in these profiles; /proc/<pid>/task shows it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Milliseconds per key, highest first. */
type Tally = Map<string, number>;

const add = (t: Tally, key: string, ms: number): void => {
  t.set(key, (t.get(key) ?? 0) + ms);
};

/** `file:line` relative to the repository, or the URL's last segments for a dependency. */
function location(url: string, line: number): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  const shown = nm >= 0 ? file.slice(nm + '/node_modules/'.length) : path.relative(process.cwd(), file) || file;
  return `${shown}:${line + 1}`;
}

/** The package a frame belongs to: a dependency's name, a project folder, node's own code, or V8's pseudo-node. */
function packageOf(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const rel = path.relative(process.cwd(), url);
  if (rel.startsWith('..')) return url;
  return rel.includes('/') ? `${rel.split('/')[0]}/` : rel;
}

function summarise(
  file: string,
  fromS: number,
  toS: number,
  callersOf?: RegExp,
): { totalMs: number; self: Tally; pkg: Tally; charged: Tally; incl: Tally; callers: Tally } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self: Tally = new Map();
  const pkg: Tally = new Map();
  const charged: Tally = new Map();
  const incl: Tally = new Map();
  const callers: Tally = new Map();
  let totalMs = 0;
  let at = profile.startTime;
  const fromUs = profile.startTime + fromS * 1e6;
  const toUs = toS > 0 ? profile.startTime + toS * 1e6 : Infinity;
  // Sample i lasts until sample i + 1 (timeDeltas[i + 1]), as Chrome DevTools counts it.
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (at < fromUs || at > toUs || ms <= 0) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)') continue;
    totalMs += ms;
    add(self, `${f.functionName || '(anonymous)'} ${location(f.url, f.lineNumber)}`, ms);
    add(pkg, packageOf(f), ms);
    add(charged, chargedPackage(node.id, byId, parent), ms);
    if (callersOf?.test(f.functionName)) add(callers, stackOf(node.id, byId, parent), ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const cf = (byId.get(id) as ProfileNode).callFrame;
      if (cf.functionName === '(root)') continue;
      const key = `${cf.functionName || '(anonymous)'} ${location(cf.url, cf.lineNumber)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      add(incl, key, ms);
    }
  }
  return { totalMs, self, pkg, charged, incl, callers };
}

/** Node's own frames (HTTP, streams, crypto) and native code, charged to whoever called them. */
const NODE_OWN = new Set(['node:internal', '(native)', '(program)']);

/**
 * The package of the nearest frame at or above a sample that is not Node.js's own: a socket write
 * belongs to the client that made the request. Callbacks with nothing but Node.js above them (a
 * socket's data event, a timer) are "(node: I/O and timers)".
 */
function chargedPackage(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const own = packageOf((byId.get(id) as ProfileNode).callFrame);
  if (own.startsWith('(') && own !== '(native)') return own;
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const cf = (byId.get(at) as ProfileNode).callFrame;
    if (cf.functionName === '(root)') break;
    const pkg = packageOf(cf);
    if (!NODE_OWN.has(pkg)) return pkg;
  }
  return '(node: I/O and timers)';
}

/** The nearest frames of the project or a dependency above a sample, innermost first, skipping node's own. */
function stackOf(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>, depth = 6): string {
  const frames: string[] = [];
  for (let at: number | undefined = id; at !== undefined && frames.length < depth; at = parent.get(at)) {
    const cf = (byId.get(at) as ProfileNode).callFrame;
    if (cf.url.startsWith('node:') || cf.functionName === '(root)') continue;
    frames.push(`${cf.functionName || '(anonymous)'} ${location(cf.url, cf.lineNumber)}`.trim());
  }
  return frames.join(' < ');
}

function printTop(title: string, tally: Tally, totalMs: number, top: number): void {
  process.stdout.write(`\n${title}\n`);
  const rows = [...tally.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, ms] of rows) {
    const pct = ((100 * ms) / Math.max(1, totalMs)).toFixed(1).padStart(5);
    process.stdout.write(`${(ms / 1000).toFixed(2).padStart(9)} s ${pct}%  ${key}\n`);
  }
}

function main(): void {
  const program = new Command('profile-summary')
    .description('sum the self time of V8 CPU profiles by function and by package')
    .argument('<files...>', '.cpuprofile files')
    .option('--top <n>', 'rows per table', '30')
    .option('--from <s>', 'ignore samples before this many seconds into the profile', '0')
    .option('--to <s>', 'ignore samples after this many seconds into the profile (0: to the end)', '0')
    .option('--inclusive <n>', 'rows of the inclusive-time table', '25')
    .option(
      '--callers <regex>',
      'also sum the self time of matching functions by their callers (nearest non-node frames)',
    );
  program.parse(process.argv);
  const opts = program.opts<{ top: string; from: string; to: string; inclusive: string; callers?: string }>();
  const callersOf = opts.callers ? new RegExp(opts.callers) : undefined;
  for (const file of program.args) {
    const { totalMs, self, pkg, charged, incl, callers } = summarise(
      file,
      Number(opts.from),
      Number(opts.to),
      callersOf,
    );
    process.stdout.write(`\n== ${file}: ${(totalMs / 1000).toFixed(1)} s on CPU (idle excluded)\n`);
    printTop('self time by package', pkg, totalMs, Number(opts.top));
    printTop("self time by package, Node.js's own frames charged to their caller", charged, totalMs, Number(opts.top));
    printTop('self time by function', self, totalMs, Number(opts.top));
    printTop('inclusive time by function', incl, totalMs, Number(opts.inclusive));
    if (callersOf) printTop(`self time of /${opts.callers}/ by caller`, callers, totalMs, Number(opts.top));
  }
}

main();
