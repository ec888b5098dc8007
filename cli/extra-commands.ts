import type { Command } from 'commander';
import type { Logger } from '../core/logger.js';
import { createModelCommands } from '../model/eval/cli.js';

/** Commands contributed by the model tooling (train, score, evaluate); mounted by main.ts. */
export function extraCommands(logger: Logger, env: Readonly<Record<string, string | undefined>>): Command[] {
  return createModelCommands({ logger, env });
}
