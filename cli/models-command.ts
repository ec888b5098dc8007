/**
 * `vigil models list | show | publish | promote | reject | rollback`: the model registry of `model.registry`
 * from the command line. Every replica following the registry swaps to what is promoted here within seconds.
 *
 * There is one champion at a time: promote retires the one it replaces ("superseded by …"), rollback rejects
 * the champion and promotes again the version it superseded (or the one named with --to).
 */
import { Command } from 'commander';
import { ModelRegistry, registryTopicSpec } from '../connector/registry/model-registry.js';
import type { RegistryEntry } from '../connector/registry/registry-records.js';
import { createTransport } from '../connector/transport/index.js';
import type { Transport } from '../connector/transport/types.js';
import { loadConfigFile } from '../core/config/load.js';
import type { VigilConfig } from '../core/config/schema.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { transportOptions } from './compose.js';

export interface ModelsCommandDeps {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where results go (default process.stdout). */
  readonly stdout?: (text: string) => void;
}

type Print = (text: string) => void;

export function createModelsCommand(deps: ModelsCommandDeps): Command {
  const print: Print = deps.stdout ?? ((t) => process.stdout.write(t));
  const cmd = new Command('models').description(
    'The model registry (model.registry.topic): list, show, publish, promote, reject, rollback.',
  );
  const withRegistry = (
    name: string,
    description: string,
    configure: (c: Command) => Command,
    run: (registry: ModelRegistry, args: string[], opts: Record<string, string | boolean>) => Promise<void>,
  ) => {
    configure(
      cmd
        .command(name)
        .description(description)
        .requiredOption('-c, --config <file>', 'vigil.yaml with model.registry.topic and kafka'),
    ).action(async (...all: unknown[]) => {
      const c = all[all.length - 1] as Command;
      const opts = c.opts() as Record<string, string | boolean>;
      const config = await loadConfigFile(String(opts['config']), { env: deps.env });
      await withOpenRegistry(config, deps.logger, (registry) => run(registry, c.args, opts));
    });
  };

  withRegistry(
    'list',
    'Every version, oldest first: status, when, model, training rows, fingerprint, reason.',
    (c) => c,
    async (registry) => {
      print(formatList(await registry.list()));
    },
  );
  withRegistry(
    'show',
    'One version in full (manifest: digest, sizes, lineage, evaluation; status and reason), as JSON.',
    (c) => c.argument('<version>'),
    async (registry, [version]) => {
      print(`${JSON.stringify(await entry(registry, version!), null, 2)}\n`);
    },
  );
  withRegistry(
    'publish',
    'Publish an artifact directory (vigil train --out) as a new candidate version.',
    (c) =>
      c
        .argument('<dir>')
        // Not --version: the root program's --version (print Vigil's own) takes that flag before a subcommand sees it.
        .option('--as <version>', 'version id (default: from the artifact id and version, made unique)')
        .option('--parent <v>', 'the version it was retrained from')
        .option('--promote', 'promote it at once')
        .option('--reason <text>', 'reason recorded with --promote', 'published and promoted by hand'),
    async (registry, [dir], opts) => {
      const version = await registry.publish(dir!, {
        ...(typeof opts['as'] === 'string' ? { version: opts['as'] } : {}),
        ...(typeof opts['parent'] === 'string' ? { parentVersion: opts['parent'] } : {}),
      });
      print(`published ${version} (candidate) to ${registry.topic}\n`);
      if (opts['promote'] === true) await promote(registry, version, String(opts['reason']), print);
    },
  );
  withRegistry(
    'promote',
    'Make a version the champion every replica serves; the previous champion is retired.',
    (c) => c.argument('<version>').option('--reason <text>', 'why', 'promoted by hand'),
    async (registry, [version], opts) => {
      await promote(registry, version!, String(opts['reason']), print);
    },
  );
  withRegistry(
    'reject',
    'Mark a version rejected, with the reason; a rejected champion stops being served.',
    (c) => c.argument('<version>').requiredOption('--reason <text>', 'why'),
    async (registry, [version], opts) => {
      const e = await entry(registry, version!);
      await registry.setStatus(e.version, 'rejected', String(opts['reason']));
      print(`rejected ${e.version} (was ${e.status}): ${String(opts['reason'])}\n`);
    },
  );
  withRegistry(
    'rollback',
    'Reject the champion and promote again the version it superseded (or --to <version>).',
    (c) =>
      c
        .option('--to <version>', 'the version to serve instead')
        .option('--reason <text>', 'why', 'rolled back by hand'),
    async (registry, _args, opts) => {
      const all = await registry.list();
      const champion = latestPromoted(all);
      if (champion === undefined) {
        throw new VigilError('INPUT_INVALID', `registry ${registry.topic}: no promoted version to roll back`);
      }
      const to =
        typeof opts['to'] === 'string'
          ? await entry(registry, opts['to'])
          : all
              .filter((e) => e.version !== champion.version && e.status === 'retired')
              .sort((a, b) => (a.statusAt < b.statusAt ? 1 : a.statusAt > b.statusAt ? -1 : 0))[0];
      if (to === undefined) {
        throw new VigilError(
          'INPUT_INVALID',
          `registry ${registry.topic}: no earlier champion (a retired version) to roll back to; name one with --to`,
        );
      }
      const reason = String(opts['reason']);
      // Promote first: there is never a moment with no champion for a replica starting meanwhile.
      await registry.setStatus(to.version, 'promoted', `rollback from ${champion.version}: ${reason}`);
      await registry.setStatus(champion.version, 'rejected', `rolled back to ${to.version}: ${reason}`);
      print(`rolled back: ${to.version} promoted, ${champion.version} rejected (${reason})\n`);
    },
  );
  return cmd;
}

async function withOpenRegistry(
  config: VigilConfig,
  logger: Logger,
  work: (registry: ModelRegistry) => Promise<void>,
): Promise<void> {
  const rc = config.model.registry;
  if (rc === undefined) {
    throw new VigilError('CONFIG_INVALID', 'model.registry.topic: vigil models needs the registry topic', {
      details: { key: 'model.registry.topic' },
    });
  }
  const transport: Transport = createTransport(config.kafka.transport, transportOptions(config), logger);
  const registry = new ModelRegistry(transport, { topic: rc.topic, chunkBytes: rc.chunkBytes }, logger);
  try {
    const admin = transport.admin();
    try {
      if (!(await admin.listTopics()).includes(rc.topic)) {
        if (!rc.create) {
          throw new VigilError('TOPIC_NOT_FOUND', `model.registry.topic: "${rc.topic}" does not exist`, {
            details: { key: 'model.registry.topic', topic: rc.topic },
          });
        }
        await admin.createTopics([registryTopicSpec(rc.topic)]);
      }
    } finally {
      await admin.close();
    }
    await work(registry);
  } finally {
    await registry.close();
    await transport.close();
  }
}

async function entry(registry: ModelRegistry, version: string): Promise<RegistryEntry> {
  const e = (await registry.list()).find((x) => x.version === version);
  if (e === undefined) {
    throw new VigilError('INPUT_INVALID', `registry ${registry.topic} has no version ${version}`, {
      details: { version, topic: registry.topic },
    });
  }
  return e;
}

function latestPromoted(all: readonly RegistryEntry[]): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  for (const e of all) {
    if (e.status !== 'promoted') continue;
    if (
      best === undefined ||
      e.statusAt > best.statusAt ||
      (e.statusAt === best.statusAt && e.version > best.version)
    )
      best = e;
  }
  return best;
}

async function promote(
  registry: ModelRegistry,
  version: string,
  reason: string,
  print: Print,
): Promise<void> {
  const all = await registry.list();
  const target = all.find((e) => e.version === version);
  if (target === undefined) {
    throw new VigilError('INPUT_INVALID', `registry ${registry.topic} has no version ${version}`, {
      details: { version, topic: registry.topic },
    });
  }
  const previous = all.filter((e) => e.status === 'promoted' && e.version !== version);
  await registry.setStatus(version, 'promoted', reason);
  for (const p of previous) await registry.setStatus(p.version, 'retired', `superseded by ${version}`);
  print(
    `promoted ${version}` +
      (previous.length > 0 ? `; retired ${previous.map((p) => p.version).join(', ')}` : '') +
      `: ${reason}\n`,
  );
}

/** The `list` table: one line per version, columns padded. */
export function formatList(entries: readonly RegistryEntry[]): string {
  if (entries.length === 0) return 'no versions\n';
  const champion = latestPromoted(entries)?.version;
  const rows = entries.map((e) => {
    const summary = e.manifest.lineage.dataSummary as { n?: unknown } | null;
    return [
      (e.version === champion ? '* ' : '  ') + e.version,
      e.status,
      e.statusAt,
      `${e.manifest.modelId}@${e.manifest.artifactVersion}`,
      typeof summary?.n === 'number' ? String(summary.n) : '-',
      e.manifest.lineage.featureMappingFingerprint?.slice(0, 12) ?? '-',
      e.manifest.lineage.parentVersion ?? '-',
      e.reason,
    ];
  });
  const head = ['  VERSION', 'STATUS', 'SINCE', 'MODEL', 'ROWS', 'FEATURES', 'PARENT', 'REASON'];
  const all = [head, ...rows];
  const widths = head.map((_, j) => Math.max(...all.map((r) => r[j]!.length)));
  return `${all
    .map((r) =>
      r
        .map((c, j) => (j === r.length - 1 ? c : c.padEnd(widths[j]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
