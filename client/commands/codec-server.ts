/**
 * `fleetwave codec-server`: serves fleetwave's payload codec to the Temporal Web UI (see
 * client/codec-server.ts), so payloads gzipped for size read as JSON there. Runs until SIGINT or
 * SIGTERM (exit 0); a bad option exits 2, a port in use 1.
 */
import { Command } from 'commander';
import type { CliIO } from '../cli';
import { FleetwaveError, ExitCode, InvalidInputError } from '../errors';
import { printJson } from './support';

/** The Web UI of `temporal server start-dev` (port 8233), by either name of the loopback host. */
const DEFAULT_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];

interface CodecServerOptions {
  host: string;
  port: string;
  corsOrigin?: string[];
  json?: boolean;
}

/** The `codec-server` command. */
export function codecServerCommand(io: CliIO): Command {
  return new Command('codec-server')
    .description('serve the payload codec to the Temporal Web UI, so large (gzipped) payloads read as JSON there')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '8888')
    .option(
      '--cors-origin <origin...>',
      `Web UI origins allowed to call it from the browser, or * (default: ${DEFAULT_ORIGINS.join(', ')})`,
    )
    .option('--json', 'print {"url": ...} as JSON once listening')
    .action(async (opts: CodecServerOptions) => {
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65_535) {
        throw new InvalidInputError(`--port: must be a port number from 0 to 65535, got "${opts.port}"`);
      }
      const origins = opts.corsOrigin ?? DEFAULT_ORIGINS;
      for (const origin of origins) {
        if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
          throw new InvalidInputError(`--cors-origin: "${origin}" is not an origin such as http://127.0.0.1:8233`);
        }
      }
      const { startCodecServer } = await import('../codec-server');
      let server: Awaited<ReturnType<typeof startCodecServer>>;
      try {
        server = await startCodecServer({ host: opts.host, port, corsOrigins: origins });
      } catch (err) {
        throw new FleetwaveError(
          `codec server on ${opts.host}:${opts.port}: ${err instanceof Error ? err.message : String(err)}`,
          ExitCode.runtimeFailure,
        );
      }
      if (opts.json) printJson(io, { url: server.url, corsOrigins: origins });
      else {
        io.out(`codec server ${server.url} (POST /decode, /encode), allowing ${origins.join(', ')}\n`);
        io.out(`point the Web UI at it: temporal server start-dev --ui-codec-endpoint ${server.url}\n`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });
}
