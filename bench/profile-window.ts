/**
 * A CPU profile of a window of a running worker, through its inspector: for runs too long to
 * profile whole (`--cpu-prof` writes only when the process exits, and costs the whole run).
 *
 *   kill -USR1 <worker pid>                                  # opens the inspector on 127.0.0.1:9229
 *   npx tsx bench/profile-window.ts 90 /tmp/prof/window.cpuprofile [port] [thread]
 *   npx tsx bench/profile-summary.ts /tmp/prof/window.cpuprofile
 *
 * `thread` is `main` (the default) or a word in a worker thread's title or URL (the Temporal
 * SDK's workflow thread: `workflow`): that thread is reached through the main thread's
 * NodeWorker domain, and profiled on its own. `all` profiles the main thread and every worker
 * thread over the same window, one file each (`<out>` and `<out>.<thread id>`).
 */
import { writeFileSync } from 'node:fs';

interface Target {
  webSocketDebuggerUrl: string;
}

interface WorkerInfo {
  workerId: string;
  type: string;
  title: string;
  url: string;
}

type Send = (method: string, params?: object) => Promise<unknown>;

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
}

/** Request/response over one inspector channel: `post` delivers a message, `deliver` takes one in. */
function channel(post: (msg: string) => void): { send: Send; deliver: (msg: Message) => void } {
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  return {
    send: (method, params = {}) =>
      new Promise<unknown>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        post(JSON.stringify({ id, method, params }));
      }),
    deliver: (msg) => {
      const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!waiter || msg.id === undefined) return;
      pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(JSON.stringify(msg.error)));
      else waiter.resolve(msg.result);
    },
  };
}

async function startProfile(send: Send): Promise<void> {
  await send('Profiler.enable');
  // 1 ms between samples, as `--cpu-prof` takes them.
  await send('Profiler.setSamplingInterval', { interval: 1000 });
  await send('Profiler.start');
}

async function main(): Promise<void> {
  const [secs = '60', out = 'window.cpuprofile', port = '9229', thread = 'main'] = process.argv.slice(2);
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
  const target = targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const workerChannels = new Map<string, ReturnType<typeof channel>>();
  const attached: { sessionId: string; info: WorkerInfo }[] = [];
  const main = channel((msg) => ws.send(msg));
  ws.onmessage = (event: MessageEvent) => {
    const msg = JSON.parse(String(event.data)) as Message;
    if (msg.method === 'NodeWorker.attachedToWorker') {
      const p = msg.params as { sessionId: string; workerInfo: WorkerInfo };
      attached.push({ sessionId: p.sessionId, info: p.workerInfo });
    } else if (msg.method === 'NodeWorker.receivedMessageFromWorker') {
      const p = msg.params as { sessionId: string; message: string };
      workerChannels.get(p.sessionId)?.deliver(JSON.parse(p.message) as Message);
    } else {
      main.deliver(msg);
    }
  };
  await new Promise((resolve) => (ws.onopen = resolve));

  const profiled: { name: string; send: Send }[] = [];
  if (thread === 'main' || thread === 'all') profiled.push({ name: 'main', send: main.send });
  if (thread !== 'main') {
    await main.send('NodeWorker.enable', { waitForDebuggerOnStart: false });
    // Attached workers are announced right after enable.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const chosen = attached.filter(
      ({ info }) => thread === 'all' || info.title.includes(thread) || info.url.includes(thread),
    );
    if (chosen.length === 0) {
      throw new Error(
        `no worker thread matches "${thread}"; threads: ${attached.map(({ info }) => `${info.workerId} ${info.title} ${info.url}`).join('; ') || 'none'}`,
      );
    }
    for (const { sessionId, info } of chosen) {
      const ch = channel((message) => {
        void main.send('NodeWorker.sendMessageToWorker', { sessionId, message });
      });
      workerChannels.set(sessionId, ch);
      profiled.push({ name: `thread ${info.workerId} (${info.title || info.url})`, send: ch.send });
    }
  }
  for (const p of profiled) await startProfile(p.send);
  await new Promise((resolve) => setTimeout(resolve, Number(secs) * 1000));
  for (const [i, p] of profiled.entries()) {
    const { profile } = (await p.send('Profiler.stop')) as { profile: unknown };
    const file = i === 0 ? out : `${out}.${i}`;
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write(`wrote ${file}: ${p.name}\n`);
  }
  ws.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
