/**
 * `fleetwave sim --fleet fleet.yaml [--port N] [--time-scale N] [--seed S] [--generate N]`:
 * runs the simulator in the foreground until SIGINT or SIGTERM. Its own argument parsing (the
 * `fleetwave` CLI passes everything after `sim` through), so it also runs as
 * `tsx simulator/main.ts ...`.
 */
import { readFile } from 'node:fs/promises';
import { formatIssue, parseFleet } from '../domain/load';
import type { Fleet } from '../domain/fleet';
import { generateFleet, startSimulator } from './index';

const USAGE = `usage: fleetwave sim (--fleet FILE | --generate N) [options]

  --fleet FILE        fleet inventory YAML (kind: Fleet)
  --generate N        generate N clusters instead (deterministic for --seed)
  --port N            port to listen on; 0 picks a free one (default 9797)
  --host ADDR         address to listen on (default 127.0.0.1)
  --time-scale N      simulated seconds per real second (default 1: real EKS durations)
  --seed S            seed for durations, IDs and signals (default 1)
  --advertise-url URL base URL that DescribeCluster endpoints point at (default: the listen URL)
  --org-account ID[=NAME]   a member account of the simulated organization besides the fleet's (repeatable)
  --deny-assume-role ID     STS refuses AssumeRole into this account's roles (AccessDenied; repeatable)
  --verbose           log every request
  -h, --help          this help
`;

/** Default port of `fleetwave sim`. */
export const DEFAULT_SIM_PORT = 9797;

interface CliOptions {
  fleet?: string;
  generate?: number;
  port: number;
  host: string;
  timeScale: number;
  seed: number;
  advertiseUrl?: string;
  orgAccounts: { id: string; name?: string }[];
  denyAssumeRole: string[];
  verbose: boolean;
  help: boolean;
}

/** Parses the simulator's arguments; returns an error text for bad input. */
export function parseSimulatorArgs(argv: readonly string[]): CliOptions | string {
  const opts: CliOptions = {
    port: DEFAULT_SIM_PORT,
    host: '127.0.0.1',
    timeScale: 1,
    seed: 1,
    orgAccounts: [],
    denyAssumeRole: [],
    verbose: false,
    help: false,
  };
  const args = [...argv];
  const number = (
    flag: string,
    text: string | undefined,
    check: (n: number) => boolean,
    what: string,
  ): number | string => {
    const n = Number(text);
    if (text === undefined || text === '' || !Number.isFinite(n) || !check(n))
      return `${flag}: must be ${what}, got "${text ?? ''}"`;
    return n;
  };
  while (args.length > 0) {
    const raw = args.shift() as string;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => inline ?? args.shift();
    let n: number | string;
    switch (flag) {
      case '--fleet':
      case '-f':
        opts.fleet = value();
        if (!opts.fleet) return '--fleet: needs a file';
        break;
      case '--generate':
        n = number(flag, value(), (x) => Number.isInteger(x) && x >= 1 && x <= 100_000, 'an integer from 1 to 100000');
        if (typeof n === 'string') return n;
        opts.generate = n;
        break;
      case '--port':
        n = number(flag, value(), (x) => Number.isInteger(x) && x >= 0 && x <= 65535, 'a port from 0 to 65535');
        if (typeof n === 'string') return n;
        opts.port = n;
        break;
      case '--host':
        opts.host = value() ?? '';
        if (!opts.host) return '--host: needs an address';
        break;
      case '--time-scale':
        n = number(flag, value(), (x) => x > 0 && x <= 1_000_000, 'a number > 0 and <= 1000000');
        if (typeof n === 'string') return n;
        opts.timeScale = n;
        break;
      case '--seed':
        n = number(flag, value(), (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
        if (typeof n === 'string') return n;
        opts.seed = n;
        break;
      case '--advertise-url':
        opts.advertiseUrl = value();
        if (!opts.advertiseUrl || !/^https?:\/\//.test(opts.advertiseUrl))
          return '--advertise-url: must be an http(s) URL';
        break;
      case '--org-account': {
        const m = /^(\d{12})(?:=(.+))?$/.exec(value() ?? '');
        if (!m) return '--org-account: must be a 12-digit account ID, optionally =NAME';
        opts.orgAccounts.push({ id: m[1] as string, ...(m[2] ? { name: m[2] } : {}) });
        break;
      }
      case '--deny-assume-role': {
        const id = value() ?? '';
        if (!/^\d{12}$/.test(id)) return '--deny-assume-role: must be a 12-digit account ID';
        opts.denyAssumeRole.push(id);
        break;
      }
      case '--verbose':
      case '-v':
        opts.verbose = true;
        break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      default:
        return `unknown argument "${raw}"`;
    }
  }
  if (!opts.help) {
    if (opts.fleet && opts.generate !== undefined) return 'give either --fleet or --generate, not both';
    if (!opts.fleet && opts.generate === undefined) return 'give --fleet FILE or --generate N';
  }
  return opts;
}

/**
 * Runs the simulator until SIGINT/SIGTERM. Resolves to the process exit code: 0 after a clean
 * stop, 2 for bad arguments or an invalid fleet file, 1 when it cannot start.
 */
export async function runSimulatorCli(argv: readonly string[]): Promise<number> {
  const opts = parseSimulatorArgs(argv);
  if (typeof opts === 'string') {
    process.stderr.write(`fleetwave sim: ${opts}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let fleet: Fleet;
  if (opts.fleet) {
    let text: string;
    try {
      text = await readFile(opts.fleet, 'utf8');
    } catch (err) {
      process.stderr.write(`fleetwave sim: cannot read ${opts.fleet}: ${(err as Error).message}\n`);
      return 2;
    }
    const parsed = parseFleet(text);
    if (!parsed.ok) {
      for (const issue of parsed.issues) process.stderr.write(`${formatIssue(issue, opts.fleet)}\n`);
      return 2;
    }
    fleet = parsed.value;
  } else {
    fleet = generateFleet({ count: opts.generate as number, seed: opts.seed });
  }

  let sim;
  try {
    sim = await startSimulator({
      fleet,
      port: opts.port,
      host: opts.host,
      timeScale: opts.timeScale,
      seed: opts.seed,
      ...(opts.advertiseUrl ? { advertiseUrl: opts.advertiseUrl } : {}),
      organization: { accounts: opts.orgAccounts, denyAssumeRole: opts.denyAssumeRole },
      ...(opts.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    });
  } catch (err) {
    process.stderr.write(`fleetwave sim: ${(err as Error).message}\n`);
    return (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 1 : 2;
  }
  process.stdout.write(
    `fleetwave simulator listening on ${sim.url} (${sim.clusterCount} clusters, time-scale ${sim.timeScale})\n`,
  );
  const running = sim;
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await running.stop();
  return 0;
}
