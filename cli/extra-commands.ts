import type { Command } from 'commander';
import type { Logger } from '../core/logger.js';

/** Commands contributed by the model tooling (train, score, evaluate); mounted by main.ts. */
export function extraCommands(_logger: Logger): Command[] {
  return [];
}
