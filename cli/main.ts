import { Command, CommanderError, Option } from 'commander';
import { renderConfigDocs } from '../core/config/docs.js';
import { loadConfigFile } from '../core/config/load.js';
import { isVigilError, VigilError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createGenerateCommand } from '../synth/cli.js';
import { startService } from './compose.js';
import { DEMO_DEFAULTS, runDemo } from './demo.js';
import { DEMO_STREAMS, type DemoStreamName } from './demo-streams.js';
import { extraCommands } from './extra-commands.js';
import { stopWithin } from './shutdown.js';

/**
 * The composition root: the only module that reads argv and the environment. Every command validates its
 * input once, builds what it needs, and returns an exit code; errors are printed as one line with their code.
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const logger = createLogger({ level: env['VIGIL_LOG_LEVEL'] ?? 'info' });
  let exitCode = 0;
  const program = new Command('vigil')
    .description('Streaming anomaly detection for Kafka.')
    .version(process.env['npm_package_version'] ?? '0.1.0')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('Run the detector: consume, score, produce anomaly events, until SIGTERM/SIGINT.')
    .option('-c, --config <file>', 'vigil.yaml (environment overrides: VIGIL__SECTION__KEY=value)')
    .option('--ui', 'serve the live view on the metrics server (ui.enabled: true)')
    .action(async (opts: { config?: string; ui?: boolean }) => {
      // The flag is one more override, validated with the rest (ui.enabled needs metrics.enabled).
      const withUi = opts.ui === true ? { ...env, VIGIL__UI__ENABLED: 'true' } : env;
      exitCode = await runService(opts.config, withUi, logger);
    });

  program
    .command('demo')
    .description(
      'Local broker, synthetic sensor or transaction stream, training, live anomalies, precision/recall per kind, metrics.',
    )
    .option('--port <n>', 'local broker port', String(DEMO_DEFAULTS.port))
    .addOption(
      new Option('--stream <s>', 'sensor fleet or card transactions')
        .choices([...DEMO_STREAMS])
        .default(DEMO_DEFAULTS.stream),
    )
    .option('--records <n>', 'records in the live stream', String(DEMO_DEFAULTS.records))
    .option('--rate <n>', 'records per second', String(DEMO_DEFAULTS.rate))
    .option('--devices <n>', 'sensor units or cards (default 50 units, 500 cards)')
    .option('--anomaly-rate <f>', 'share of injected anomalous readings', String(DEMO_DEFAULTS.anomalyRate))
    .option('--warmup <n>', 'normal readings to train on', String(DEMO_DEFAULTS.warmup))
    .option('--seed <n>', 'seed', String(DEMO_DEFAULTS.seed))
    .option('--seeds <list>', 'run once per seed (e.g. 1,2,3) and report the mean and the worst seed')
    .option('--metrics-port <n>', 'Prometheus endpoint port', String(DEMO_DEFAULTS.metricsPort))
    .addOption(
      new Option('--transport <t>', 'Kafka client').choices(['kafkajs', 'rdkafka']).default('kafkajs'),
    )
    .option('--show <n>', 'anomalies printed in full', String(DEMO_DEFAULTS.show))
    .option('--no-ui', 'do not serve the live view')
    .option('--hold', 'after the summary, keep the detector and its live view up until Ctrl-C')
    .action(async (opts: Record<string, string>) => {
      const num = (k: string) => Number(opts[k]);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        exitCode = await runDemo(
          {
            port: num('port'),
            stream: opts['stream'] as DemoStreamName,
            records: num('records'),
            rate: num('rate'),
            ...(opts['devices'] !== undefined ? { devices: num('devices') } : {}),
            anomalyRate: num('anomalyRate'),
            warmup: num('warmup'),
            seed: num('seed'),
            ...(opts['seeds'] !== undefined ? { seeds: parseSeeds(opts['seeds']) } : {}),
            metricsPort: num('metricsPort'),
            transport: opts['transport'] as 'kafkajs' | 'rdkafka',
            show: num('show'),
            ui: (opts['ui'] as unknown) !== false,
            hold: (opts['hold'] as unknown) === true,
          },
          logger.child({ component: 'demo' }),
          controller.signal,
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program.addCommand(createGenerateCommand({ logger }));
  for (const cmd of extraCommands(logger, env)) program.addCommand(cmd);

  const config = program.command('config').description('Configuration tools.');
  config
    .command('check')
    .description('Validate a config file (with environment overrides) and print the result.')
    .requiredOption('-c, --config <file>', 'vigil.yaml')
    .action(async (opts: { config: string }) => {
      const cfg = await loadConfigFile(opts.config, { env });
      process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
    });
  config
    .command('docs')
    .description('Print the configuration reference (Markdown), generated from the schema.')
    .action(() => {
      process.stdout.write(renderConfigDocs());
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isVigilError(err)) {
      process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`vigil: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    logger.flush?.();
  }
}

async function runService(
  configPath: string | undefined,
  env: NodeJS.ProcessEnv,
  root: Logger,
): Promise<number> {
  const config = await loadConfigFile(configPath, { env });
  const logger = root.child({});
  logger.level = config.logging.level;
  // Signals are handled from the start: a SIGTERM while still starting (kafkajs waits for its first assignment)
  // stops the service as soon as it is up, under the same deadline, instead of killing it mid-join.
  // Aborted by a signal: a start-up waiting for a first promoted model (model.registry) stops waiting.
  const abortStart = new AbortController();
  const starting = startService(config, logger, { signal: abortStart.signal });
  starting.catch(() => {});
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(130);
    }
    signalled = true;
    abortStart.abort();
    const deadlineMs = config.lifecycle.shutdownTimeoutMs;
    logger.info(
      { signal, deadlineMs },
      'shutting down: stop fetching, drain, flush, commit, leave the group',
    );
    // Exit on our own terms before the orchestrator's SIGKILL: what is not committed by then is replayed.
    void stopWithin(
      () => starting.then((service) => service.stop()),
      deadlineMs,
      () => {
        logger.error(
          { deadlineMs },
          'shutdown did not finish within lifecycle.shutdownTimeoutMs: exiting; uncommitted records will be read again',
        );
        logger.flush?.();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  let service: Awaited<typeof starting>;
  try {
    service = await starting;
  } catch (err) {
    if (signalled && isVigilError(err, 'SHUTDOWN')) {
      logger.info('stopped before a model was served');
      return 0;
    }
    throw err;
  }
  try {
    await service.pipeline.closed;
    await service.stop();
    logger.info(service.pipeline.stats, 'stopped');
    return 0;
  } catch (err) {
    logger.error({ err }, 'the pipeline stopped on an error');
    await service.stop().catch(() => {});
    return 1;
  }
}

/** `--seeds 1,2,3`: integers, at least one. */
export function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((x) => Number(x.trim()));
  if (seeds.length === 0 || seeds.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new VigilError(
      'CONFIG_INVALID',
      `--seeds takes a comma-separated list of integers, got "${text}".`,
    );
  }
  return seeds;
}
