import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  name?: string;
}

/**
 * Structured JSON logs (pino) on stderr, so stdout stays free for a command's own output (the demo's
 * anomaly lines, `vigil score`'s results). Only the composition root creates loggers; everything else
 * takes one as a parameter or calls `child`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ name: options.name ?? 'vigil', level: options.level ?? 'info' }, pino.destination(2));
}

/** A logger that drops everything, for tests and library use without a root. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
