import type { Command } from 'commander';
import type { Logger } from '../core/logger.js';
import { createEvaluateCommand } from '../model/eval/cli.js';
import { createModelsCommand } from './models-command.js';
import { createScoreCommand } from './score-command.js';
import { createTrainCommand } from './train-command.js';

/** Commands contributed by the model tooling (train, score, evaluate, models); mounted by main.ts. */
export function extraCommands(logger: Logger, env: Readonly<Record<string, string | undefined>>): Command[] {
  return [
    createTrainCommand({ logger, env }),
    createScoreCommand({ logger, env }),
    createEvaluateCommand({ logger, env }),
    createModelsCommand({ logger, env }),
  ];
}
