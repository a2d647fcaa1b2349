/**
 * A heap snapshot of a running worker's main thread, through its inspector, and what is in it:
 * for memory figures of runs too long to stop (a snapshot collects garbage first, so it holds
 * what is live).
 *
 *   kill -USR1 <worker pid>                                    # opens the inspector on 127.0.0.1:9229
 *   npx tsx bench/heap-snapshot.ts take /tmp/prof/main.heapsnapshot [port]
 *   npx tsx bench/heap-snapshot.ts summary /tmp/prof/main.heapsnapshot [top]     # self size by kind, strings by prefix
 *   npx tsx bench/heap-snapshot.ts retainers /tmp/prof/main.heapsnapshot '{"kind":"PodList"' [n]
 *
 * `retainers` prints, for the first n strings starting with the prefix, a shortest path to them
 * from the GC roots (weak edges left out): what keeps them alive.
 */
import { createWriteStream, readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

async function take(out: string, port: string): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const target = targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const file = createWriteStream(out);
  await new Promise((resolve) => (ws.onopen = resolve));
  await new Promise<void>((resolve) => {
    ws.onmessage = (event: MessageEvent) => {
      const msg = JSON.parse(String(event.data)) as { id?: number; method?: string; params?: { chunk: string } };
      if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') file.write(msg.params?.chunk ?? '');
      else if (msg.id === 2) file.end(() => resolve());
    };
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.enable' }));
    ws.send(JSON.stringify({ id: 2, method: 'HeapProfiler.takeHeapSnapshot', params: { reportProgress: false } }));
  });
  ws.close();
  process.stdout.write(`wrote ${out}\n`);
}

function load(file: string) {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const N = nf.length;
  const at = {
    type: nf.indexOf('type'),
    name: nf.indexOf('name'),
    self: nf.indexOf('self_size'),
    edges: nf.indexOf('edge_count'),
  };
  const types = s.snapshot.meta.node_types[0];
  const node = (n: number) => ({
    type: types[s.nodes[n * N + at.type] as number] as string,
    name: s.strings[s.nodes[n * N + at.name] as number] as string,
    self: s.nodes[n * N + at.self] as number,
  });
  return { s, N, at, node, count: s.nodes.length / N };
}

const isString = (type: string) => type === 'string' || type === 'concatenated string' || type === 'sliced string';

function summary(file: string, top: number): void {
  const { node, count } = load(file);
  const kinds = new Map<string, [number, number]>();
  const strings = new Map<string, [number, number]>();
  let total = 0;
  const add = (m: Map<string, [number, number]>, k: string, size: number) => {
    const a = m.get(k) ?? [0, 0];
    a[0] += size;
    a[1]++;
    m.set(k, a);
  };
  for (let n = 0; n < count; n++) {
    const { type, name, self } = node(n);
    total += self;
    if (isString(type)) {
      add(kinds, 'strings', self);
      add(strings, name.slice(0, 40).replace(/\s+/g, ' '), self);
    } else {
      add(
        kinds,
        type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 50)}` : type,
        self,
      );
    }
  }
  const print = (title: string, m: Map<string, [number, number]>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, [size, n]] of [...m].sort((a, b) => b[1][0] - a[1][0]).slice(0, top)) {
      process.stdout.write(`${(size / 2 ** 20).toFixed(2).padStart(9)} MiB ${String(n).padStart(8)}  ${k}\n`);
    }
  };
  process.stdout.write(`${file}: ${(total / 2 ** 20).toFixed(1)} MiB live\n`);
  print('self size by kind', kinds);
  print('strings by their first 40 characters', strings);
}

function retainers(file: string, prefix: string, shown: number): void {
  const { s, N, at, node, count } = load(file);
  const ef = s.snapshot.meta.edge_fields;
  const E = ef.length;
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const back: [number, string][][] = Array.from({ length: count }, () => []);
  let e = 0;
  for (let n = 0; n < count; n++) {
    const edges = s.nodes[n * N + at.edges] as number;
    for (let k = 0; k < edges; k++, e += E) {
      const type = edgeTypes[s.edges[e + eType] as number] as string;
      if (type === 'weak') continue;
      const name =
        type === 'element' || type === 'hidden'
          ? String(s.edges[e + eName])
          : (s.strings[s.edges[e + eName] as number] as string);
      back[(s.edges[e + eTo] as number) / N]?.push([n, `${type}:${name}`]);
    }
  }
  const label = (n: number) => {
    const { type, name } = node(n);
    return `${type} ${name.slice(0, 50).replace(/\s+/g, ' ')}`;
  };
  let found = 0;
  for (let n = 0; n < count && found < shown; n++) {
    const { type, name, self } = node(n);
    if (!isString(type) || !name.startsWith(prefix)) continue;
    found++;
    // Breadth first from the string back to node 0, the snapshot's root.
    const via = new Map<number, [number, string] | null>([[n, null]]);
    const queue = [n];
    while (queue.length > 0 && !via.has(0)) {
      const x = queue.shift() as number;
      for (const [from, edge] of back[x] ?? []) {
        if (!via.has(from)) {
          via.set(from, [x, edge]);
          queue.push(from);
        }
      }
    }
    process.stdout.write(`\n${label(n)} (${self} bytes)\n`);
    if (!via.has(0)) {
      process.stdout.write('  not reachable from the roots\n');
      continue;
    }
    for (let x = 0; x !== n;) {
      const [to, edge] = via.get(x) as [number, string];
      process.stdout.write(`  ${label(x)} -${edge}->\n`);
      x = to;
    }
  }
}

async function main(): Promise<void> {
  const [command, file, arg, more] = process.argv.slice(2);
  if (!file) throw new Error('usage: heap-snapshot.ts take|summary|retainers FILE ...');
  if (command === 'take') await take(file, arg ?? '9229');
  else if (command === 'summary') summary(file, Number(arg ?? 25));
  else if (command === 'retainers') retainers(file, arg ?? '', Number(more ?? 2));
  else throw new Error(`unknown command ${command}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
