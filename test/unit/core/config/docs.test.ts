import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { renderConfigDocs } from '../../../../core/config/docs.js';
import { ConfigSchema } from '../../../../core/config/schema.js';

const DOC = fileURLToPath(new URL('../../../../docs/configuration.md', import.meta.url));

interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, Node>;
  items?: Node & { oneOf?: Node[] };
  required?: string[];
}

/** Every setting (leaf) of the schema, with the path it has in the docs. */
function leaves(
  node: Node,
  path: string,
  out: [string, Node, boolean][],
  required = false,
): [string, Node, boolean][] {
  if (node.properties !== undefined) {
    for (const [k, child] of Object.entries(node.properties)) {
      leaves(child, path === '' ? k : `${path}.${k}`, out, node.required?.includes(k) ?? false);
    }
  } else {
    out.push([path, node, required]);
    for (const option of node.items?.oneOf ?? []) {
      for (const [k, child] of Object.entries(option.properties ?? {})) {
        if (k !== 'kind') out.push([`${path}[].${k}`, child, option.required?.includes(k) ?? false]);
      }
    }
  }
  return out;
}

describe('docs/configuration.md', () => {
  it('is what renderConfigDocs() produces (run `npx tsx core/config/write-docs.ts` after changing the schema)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('lists every setting of the schema', () => {
    const text = renderConfigDocs();
    const all = leaves(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Node, '', []);
    expect(all.length).toBeGreaterThan(60);
    for (const [path] of all) {
      const shown = path.includes('[].') ? path.slice(path.indexOf('[].') + 3) : path;
      expect(text, path).toContain(`| \`${shown}\` |`);
    }
  });
});

describe('the config schema', () => {
  it('gives every setting a description, and an example', () => {
    const all = leaves(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Node, '', []);
    const undocumented = all
      .filter(([p, n]) => !p.endsWith('[].kind') && (n.description ?? '').length < 10)
      .map(([p]) => p);
    expect(undocumented).toEqual([]);
    const noExample = all
      .filter(([p, n]) => !p.endsWith('[].kind') && n.examples === undefined)
      .map(([p]) => p);
    expect(noExample).toEqual([]);
  });

  it('gives every optional scalar setting a default, or says what leaving it out means', () => {
    const all = leaves(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Node, '', []);
    // Optional without a default on purpose: absent means "not used" (each one's description says so).
    const intentionallyOptional = new Set([
      'kafka.security.ssl.caLocation',
      'kafka.security.ssl.certificateLocation',
      'kafka.security.ssl.keyLocation',
      'kafka.security.ssl.keyPassword',
      'input.schema',
      'features.preset',
      'features.entityKey',
      // Unset: the preset's derivations, else delta and spread (the description says which).
      'features.temporal.derive',
      'model.threshold.value',
      'output.scoresTopic',
      // Unset: an id per process (rdkafka) or exactly-once refused (kafkajs); unset sizes: the broker's defaults.
      'kafka.instanceId',
      'output.createTopics.partitions',
      'output.createTopics.replicationFactor',
      'features.fields[].name',
      'features.fields[].fill',
      'features.fields[].categories',
      // Unset: every retained record is a cold-start training candidate (newest maxRecords kept).
      'model.registry.coldStart.maxAgeMs',
      // Unset: no per-entity cap, the trainer's epochs, a temp dir, no feedback read (each says so).
      'model.lifecycle.reservoir.perEntity',
      'model.lifecycle.retrain.epochs',
      'model.lifecycle.retrain.workDir',
      'model.lifecycle.feedback.topic',
    ]);
    const missing = all
      .filter(([p, n, required]) => !required && n.default === undefined && !intentionallyOptional.has(p))
      .map(([p]) => p);
    expect(missing).toEqual([]);
  });
});
