/**
 * worker/logger.ts dropBelowLevel: the Temporal runtime's collector logger takes every level; the
 * wrapper lets through only what pino writes at LOG_LEVEL, through every entry point the SDK uses.
 */
import { LoggerWithComposedMetadata, type LogLevel } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { STILL_WAITING_FAILURE } from '../../activities/types';
import { dropBelowLevel } from '../../worker/logger';

/** A logger like the runtime's collector (DefaultLogger at TRACE) that records what reaches it. */
function collector(): { logger: DefaultLogger; seen: string[] } {
  const seen: string[] = [];
  const logger = new DefaultLogger('TRACE', (entry: LogEntry) => seen.push(`${entry.level} ${entry.message}`));
  return { logger, seen };
}

const parked = { error: { type: STILL_WAITING_FAILURE } };

describe('dropBelowLevel', () => {
  it('lets through only the levels pino writes, whichever method the SDK calls', () => {
    const { logger, seen } = collector();
    dropBelowLevel(logger, 'info');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.log('DEBUG', 'ld');
    logger.log('WARN', 'lw');
    // The SDK logs through loggers composed with its own metadata (workflow and activity info).
    const composed = LoggerWithComposedMetadata.compose(logger, { sdkComponent: 'worker' });
    composed.debug('cd');
    composed.info('ci');
    expect(seen).toEqual(['INFO i', 'WARN w', 'ERROR e', 'WARN lw', 'INFO ci']);
  });

  it('drops a parked look with debug, as PinoTemporalLogger writes it', () => {
    const { logger, seen } = collector();
    dropBelowLevel(logger, 'info');
    logger.warn('Activity failed', parked);
    logger.warn('Activity failed', { error: { type: 'EksUpdateFailed' } });
    expect(seen).toEqual(['WARN Activity failed']);

    const debug = collector();
    dropBelowLevel(debug.logger, 'debug');
    debug.logger.warn('Activity failed', parked);
    debug.logger.trace('t');
    expect(debug.seen).toEqual(['WARN Activity failed']);
  });

  it('keeps every level at trace', () => {
    const { logger, seen } = collector();
    dropBelowLevel(logger, 'trace');
    for (const level of ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as LogLevel[]) logger.log(level, level);
    expect(seen).toHaveLength(5);
  });
});
