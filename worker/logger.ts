/**
 * JSON logs on stdout (pino), and an adapter that makes the same logger the Temporal SDK's
 * runtime logger, so the SDK's own lines (worker state, workflow and activity logs, forwarded
 * Core logs) come out as the same JSON, filtered by the same LOG_LEVEL. An attempt that parks a
 * wait is logged at debug, not as the SDK's "Activity failed" warning.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import pino from 'pino';
import { STILL_WAITING_FAILURE } from '../activities/types';
import { LOG_LEVELS, type LogLevelName } from './config';

/** The pino logger the worker process writes with. */
export type ProcessLogger = pino.Logger;

/** Temporal's level names (DefaultLogger's) mapped to pino's. */
const PINO_LEVEL: Record<LogLevel, LogLevelName> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Temporal's level for a pino level name, e.g. for the Core log filter. */
export function temporalLogLevel(level: LogLevelName): LogLevel {
  return level.toUpperCase() as LogLevel;
}

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LogLevelName;
  /** Fields on every line. Default: `{ service: 'fleetwave-worker' }`. */
  base?: Record<string, unknown>;
  /** Where lines go. Default: stdout. */
  destination?: pino.DestinationStream;
}

/** A pino logger writing one JSON object per line; `err` and `error` fields are serialized with stacks. */
export function createLogger(opts: CreateLoggerOptions): ProcessLogger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: opts.base ?? { service: 'fleetwave-worker' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/**
 * A Temporal `Logger` backed by pino, for `Runtime.install({ logger })`. It accepts the
 * `DefaultLogger` levels (TRACE … ERROR); pino does the filtering. Symbol-keyed metadata
 * (the SDK's internal timestamp) is dropped: JSON cannot carry it.
 */
export class PinoTemporalLogger implements Logger {
  constructor(private readonly logger: ProcessLogger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = pinoLevel(level, message, meta);
    if (!this.logger.isLevelEnabled(method)) return;
    const fields = meta ? plainFields(meta) : undefined;
    if (fields) this.logger[method](fields, message);
    else this.logger[method](message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }

  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }

  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }

  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }

  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** The pino level a Temporal log line is written at. */
function pinoLevel(level: LogLevel, message: string, meta: LogMetadata | undefined): LogLevelName {
  return isStillWaiting(message, meta) ? 'debug' : (PINO_LEVEL[level] ?? 'info');
}

/**
 * Makes the Temporal runtime's own logger drop what pino would drop, before it queues it.
 *
 * With `forward` logging the runtime logs through a collector that takes every level, TRACE
 * included: each call from the SDK (a workflow task, an activity attempt, its start and end) is
 * timestamped by a native call, queued and sorted, and handed to {@link PinoTemporalLogger} 100 ms
 * later, which then drops most of it at LOG_LEVEL info. Pass `Runtime.install(...).logger`: its
 * levels go through `log`, so wrapping that one method filters them all. Core's own lines come from
 * Rust, filtered by the runtime's filter string, and are not affected.
 */
export function dropBelowLevel(sdkLogger: Logger, level: LogLevelName): void {
  const threshold = LOG_LEVELS.indexOf(level);
  const log = sdkLogger.log.bind(sdkLogger);
  sdkLogger.log = (lvl, message, meta) => {
    if (LOG_LEVELS.indexOf(pinoLevel(lvl, message, meta)) >= threshold) log(lvl, message, meta);
  };
}

/**
 * The SDK's "Activity failed" warning for an attempt that ended with FleetwaveStillWaiting: that is
 * how a wait parks until its next look (activities/waiting.ts), not a failure. At warn it was a
 * line of about 2 KB with a stack per look, most of the worker's log and a good part of its CPU.
 */
function isStillWaiting(message: string, meta: LogMetadata | undefined): boolean {
  if (message !== 'Activity failed' || !meta) return false;
  const error = meta.error as { type?: unknown } | undefined;
  return error?.type === STILL_WAITING_FAILURE;
}

function plainFields(meta: LogMetadata): Record<string, unknown> | undefined {
  const keys = Object.keys(meta);
  if (keys.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = meta[key];
  return out;
}
