/**
 * docker-compose.yml, validated without a Docker engine:
 * - compose-go's validator (the loader of Docker Compose v2: Compose Specification schema,
 *   interpolation, model checks), built from the Go module proxy when missing (scripts/deploy-tools.ts);
 * - our own checks: every image is pinned or built from a Dockerfile that exists, depends_on names
 *   real services with the healthchecks its conditions need, host ports are unique, the worker's
 *   environment is exactly what worker/config.ts reads and accepts, the wiring between worker,
 *   simulator and Prometheus agrees, every fleetwave search attribute is registered, and the
 *   Prometheus config passes `promtool check config` (Debian's prometheus package) when installed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TypedSearchAttributes } from '@temporalio/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TEMPORAL_ENV_VARS } from '../../client/temporal-env';
import { parseDuration } from '../../domain/duration';
import { parseFleet } from '../../domain/load';
import { COMPOSE_SPEC, ensureTool } from '../../scripts/deploy-tools';
import { parseSimulatorArgs } from '../../simulator/cli';
import { loadWorkerConfig, WORKER_ENV_VARS } from '../../worker/config';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { REPO_ROOT } from '../helpers/bundle';

const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

interface Healthcheck {
  test: string[] | string;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Healthcheck;
  restart?: string;
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  expect(found, `service ${name}`).toBeDefined();
  return found as Service;
}

/** `http://host:port/...` → `host:port`. */
function hostPort(url: string): string {
  return new URL(url).host;
}

/** Host and container ports of `- '[ADDRESS:]HOST:CONTAINER'` (ADDRESS may be a `${VAR:-default}`). */
function publishedPorts(svc: Service): { host: number; container: number }[] {
  return (svc.ports ?? []).map((p) => {
    const [host, container] = p
      .replace(/^\$\{[^}]*\}:/, '')
      .split(':')
      .slice(-2)
      .map(Number);
    return { host: host as number, container: container as number };
  });
}

/** Every published port as compose-go resolves it (its loader interpolates with no environment). */
function resolvedPorts(composeSpec: string): { service: string; hostIp?: string; port: string }[] {
  const result = spawnSync(composeSpec, ['-format', 'json', COMPOSE_FILE], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status, result.stderr).toBe(0);
  const model = JSON.parse(result.stdout) as {
    services: Record<string, { ports?: { host_ip?: string; published: string }[] }>;
  };
  return Object.entries(model.services).flatMap(([service, svc]) =>
    (svc.ports ?? []).map((p) => ({ service, ...(p.host_ip ? { hostIp: p.host_ip } : {}), port: p.published })),
  );
}

describe('docker-compose.yml', () => {
  let composeSpec: string;
  beforeAll(async () => {
    composeSpec = await ensureTool(COMPOSE_SPEC);
  }, 10 * 60_000);

  it('is valid for compose-go (the Compose Specification and Docker Compose v2 loader)', () => {
    const result = spawnSync(composeSpec, ['-format', 'json', COMPOSE_FILE], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const model = JSON.parse(result.stdout) as Compose;
    expect(Object.keys(model.services).sort()).toEqual(Object.keys(services).sort());
  });

  it('catches what is wrong in a broken file (the validator is really validating)', () => {
    const broken = fs
      .readFileSync(COMPOSE_FILE, 'utf8')
      .replace('condition: service_completed_successfully', 'condition: service_finished');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fleetwave-compose-')), 'docker-compose.yml');
    try {
      fs.writeFileSync(file, broken);
      const result = spawnSync(composeSpec, [file], { encoding: 'utf8', timeout: 60_000 });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/condition/);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('has the services a user needs', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'codec-server',
        'postgresql',
        'prometheus',
        'simulator',
        'temporal',
        'temporal-setup',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    // The Web UI decodes through the codec server, which allows the UI's origin.
    expect(service('temporal-ui').environment?.TEMPORAL_CODEC_ENDPOINT).toBe('http://127.0.0.1:8888');
    expect(publishedPorts(service('codec-server'))).toEqual([{ host: 8888, container: 8888 }]);
    expect(service('codec-server').command).toEqual([
      'codec-server',
      '--host',
      '0.0.0.0',
      '--port',
      '8888',
      '--cors-origin',
      'http://127.0.0.1:8080',
    ]);
    expect(service('temporal').environment?.DB).toBe('postgres12');
    expect(service('temporal-ui').environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(publishedPorts(service('temporal-ui'))).toEqual([{ host: 8080, container: 8080 }]);
  });

  it('uses pinned images, or builds from a Dockerfile that exists', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.image !== undefined || svc.build !== undefined, `${name}: image or build`).toBe(true);
      if (svc.build) {
        const context = path.resolve(REPO_ROOT, svc.build.context);
        const dockerfile = path.join(context, svc.build.dockerfile ?? 'Dockerfile');
        expect(fs.existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      } else {
        expect(svc.image, `${name}: pinned image tag`).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
        expect(svc.image, `${name}: not :latest`).not.toMatch(/:latest$/);
      }
    }
  });

  it('builds the image the way the worker and simulator commands expect', () => {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}$/m);
    expect(dockerfile).toMatch(/RUN npm ci /);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/fleetwave.mjs"\]$/m);
    expect(fs.existsSync(path.join(REPO_ROOT, 'bin/fleetwave.mjs'))).toBe(true);
    const ignored = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toContain('node_modules');
    expect(ignored).not.toContain('examples');
    expect(service('worker').command).toEqual(['worker']);
    expect(service('simulator').command?.[0]).toBe('sim');
  });

  it('depends only on services that exist, with the healthchecks its conditions need', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(svc.depends_on ?? {})) {
        const target = services[dependency];
        expect(target, `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') expect(target?.healthcheck, `${dependency} healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(target?.restart).toBe('no');
      }
    }
  });

  it('publishes every port on 127.0.0.1 only, unless FLEETWAVE_PUBLISH_ADDRESS opts out', () => {
    const loopback = resolvedPorts(composeSpec);
    const declared = Object.values(services).flatMap((svc) => svc.ports ?? []);
    expect(loopback.length).toBe(declared.length);
    expect(loopback.filter((p) => p.hostIp !== '127.0.0.1')).toEqual([]);
    // The one opt-out, the same variable on every port, and the header tells users about it.
    expect(declared.filter((p) => !p.startsWith('${FLEETWAVE_PUBLISH_ADDRESS:-127.0.0.1}:'))).toEqual([]);
    expect(fs.readFileSync(COMPOSE_FILE, 'utf8')).toContain('FLEETWAVE_PUBLISH_ADDRESS=0.0.0.0 docker compose up');
  });

  it('publishes each host port once', () => {
    const hostPorts = Object.values(services).flatMap((svc) => publishedPorts(svc).map((p) => p.host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('gives the worker exactly the environment worker/config.ts reads, with values it accepts', () => {
    const env = service('worker').environment ?? {};
    const allowed = new Set<string>([
      ...WORKER_ENV_VARS,
      ...TEMPORAL_ENV_VARS,
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ]);
    expect(Object.keys(env).filter((name) => !allowed.has(name))).toEqual([]);
    const config = loadWorkerConfig(env);
    expect(config.temporal.connection.address).toBe('temporal:7233');
    expect(config.aws.endpoint).toBe('http://simulator:9000');
    expect(config.prometheusUrl).toBe('http://prometheus:9090');
    // The dummy credentials exist only for the simulator: the endpoint must not be real AWS.
    expect(env.AWS_ACCESS_KEY_ID).toMatch(/simulator/);
  });

  it('wires worker, simulator and Prometheus to each other', () => {
    const worker = service('worker');
    const config = loadWorkerConfig(worker.environment ?? {});
    const [simHost, simPort] = hostPort(config.aws.endpoint as string).split(':');
    const simulator = service(simHost as string);
    expect(simulator.command).toContain('--port');
    expect(simulator.command?.[(simulator.command?.indexOf('--port') ?? 0) + 1]).toBe(simPort);
    expect(hostPort(config.prometheusUrl as string)).toBe('prometheus:9090');
    expect(worker.depends_on).toMatchObject({
      simulator: { condition: 'service_healthy' },
      prometheus: { condition: 'service_healthy' },
      'temporal-setup': { condition: 'service_completed_successfully' },
    });

    const metricsPort = Number(config.metricsAddress?.split(':')[1]);
    expect(config.metricsAddress).toMatch(/^0\.0\.0\.0:/);
    expect(publishedPorts(worker)).toContainEqual({ host: metricsPort, container: metricsPort });

    const prometheusConfig = parse(fs.readFileSync(path.join(REPO_ROOT, 'docker/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheusConfig.scrape_configs.flatMap((job) => job.static_configs.flatMap((s) => s.targets));
    expect(targets.sort()).toEqual([`simulator:${simPort}`, `worker:${metricsPort}`].sort());
    expect(service('prometheus').volumes).toContain('./docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it('lets the worker drain before Docker kills it', () => {
    const worker = service('worker');
    const config = loadWorkerConfig(worker.environment ?? {});
    const stopGraceMs = parseDuration(worker.stop_grace_period ?? '10s') as number;
    expect(stopGraceMs).toBeGreaterThan(config.shutdownGraceMs);
  });

  it('runs the simulator with arguments it accepts, advertising the address the worker uses', () => {
    const simulator = service('simulator');
    const [command, ...args] = simulator.command ?? [];
    expect(command).toBe('sim');
    const parsed = parseSimulatorArgs(args);
    if (typeof parsed === 'string') throw new Error(`fleetwave sim refuses the compose arguments: ${parsed}`);
    const endpoint = loadWorkerConfig(service('worker').environment ?? {}).aws.endpoint;
    expect(parsed.advertiseUrl).toBe(endpoint);
    expect(parsed.host).toBe('0.0.0.0');
    expect(publishedPorts(simulator)).toContainEqual({ host: parsed.port, container: parsed.port });
  });

  it('runs the simulator on the example fleet, mounted from the repository', () => {
    const simulator = service('simulator');
    const fleetArg = simulator.command?.[(simulator.command?.indexOf('--fleet') ?? 0) + 1] as string;
    const mount = simulator.volumes?.map((v) => v.split(':')).find(([, target]) => fleetArg.startsWith(`${target}/`));
    expect(mount, `a volume holding ${fleetArg}`).toBeDefined();
    const [source, target] = mount as string[];
    const hostFile = path.join(REPO_ROOT, source as string, path.relative(target as string, fleetArg));
    const parsed = parseFleet(fs.readFileSync(hostFile, 'utf8'));
    expect(parsed.ok).toBe(true);
  });

  it('registers every fleetwave search attribute with its type', () => {
    const script = service('temporal-setup').command?.join('\n') ?? '';
    for (const { name, type } of SEARCH_ATTRIBUTES) {
      expect(script, name).toContain(`${name}=${TypedSearchAttributes.toMetadataType(type)}`);
    }
    const declared = [...script.matchAll(/(\w+)=(Keyword|Int|Bool|Text|Double|Datetime|KeywordList)\b/g)].map(
      (m) => m[1],
    );
    expect(declared.sort()).toEqual(SEARCH_ATTRIBUTES.map((a) => a.name).sort());
  });

  it('has a Prometheus config that promtool accepts (when promtool is installed)', () => {
    const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      // Debian's prometheus package brings promtool; without it the parse checks above still ran.
      console.warn('promtool not installed: skipping `promtool check config`');
      return;
    }
    const result = spawnSync('promtool', ['check', 'config', path.join(REPO_ROOT, 'docker/prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });
});
