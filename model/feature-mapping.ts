/**
 * Which feature mapping a model was trained with, and the check that the mapping a service runs with is that
 * one. A model sees only columns: the same width with the columns reordered, a category added or a transform
 * changed would score garbage without any error, so the artifact records the column names and the resolved
 * mapping with its fingerprint (schemas/features/extractor.ts computes both), and the composition root refuses
 * a service whose mapping differs, naming the first feature that does.
 *
 * model/ never imports schemas/: the mapping travels here as plain JSON data.
 */
import { VigilError } from '../core/errors.js';

/** The resolved feature mapping a model was trained with, as stored in its artifact. */
export interface FeatureMapping {
  /** SHA-256 (hex) of the resolved mapping (FeatureExtractor.fingerprint). */
  readonly fingerprint: string;
  /** The resolved mapping itself (FeatureExtractor.spec): entity key, event time, fields. */
  readonly spec: ResolvedMappingJson;
}

/** FeatureExtractor.spec as plain JSON: only what the comparison needs to name a field. */
export interface ResolvedMappingJson {
  readonly entityKey?: string;
  readonly eventTime?: unknown;
  /** Per-entity temporal features (window, derivations), when on. */
  readonly temporal?: unknown;
  readonly fields: readonly ({ readonly path: string; readonly name?: string } & Record<string, unknown>)[];
}

/** What the service's extractor offers: its columns, fingerprint and resolved mapping. */
export interface MappingInUse {
  readonly featureNames: readonly string[];
  readonly fingerprint: string;
  readonly spec: ResolvedMappingJson;
}

/** What the model offers: its columns and, for artifacts written since mappings are stored, the mapping. */
export interface ModelColumns {
  readonly featureNames: readonly string[];
  readonly featureMapping?: FeatureMapping | undefined;
}

/**
 * `verified`: same columns and same fingerprint. `names-only`: same columns, but the model records no mapping
 * (an artifact written before mappings were stored, or a CSV-trained model), so a changed transform or
 * category order cannot be seen.
 */
export type MappingCheck = 'verified' | 'names-only';

function mismatch(message: string, details: Record<string, unknown>): never {
  throw new VigilError(
    'MODEL_FEATURE_MISMATCH',
    `${message}. Retrain with this config (vigil train --config …) or serve the model with the mapping it was trained with.`,
    { details },
  );
}

const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/**
 * Throws MODEL_FEATURE_MISMATCH unless the model's columns and mapping are those of the mapping in use. The
 * message names the first differing column (or mapping entry) and what each side has there.
 */
export function checkFeatureMapping(model: ModelColumns, inUse: MappingInUse): MappingCheck {
  const a = model.featureNames;
  const b = inUse.featureNames;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i <= n; i++) {
    if (i < n && a[i] === b[i]) continue;
    if (i === n && a.length === b.length) break;
    const widths =
      a.length === b.length
        ? `both have ${a.length} features`
        : `the model expects ${a.length} features, the feature mapping yields ${b.length}`;
    const where =
      i === n
        ? a.length > b.length
          ? `the model's column ${i + 1} "${a[i]}" is not in the mapping`
          : `the mapping's column ${i + 1} "${b[i]}" is not in the model`
        : `column ${i + 1} is "${a[i]}" in the model but "${b[i]}" in the feature mapping`;
    const elsewhere =
      i < n && b.includes(a[i]!) ? ` ("${a[i]}" is column ${b.indexOf(a[i]!) + 1} there)` : '';
    mismatch(`the model does not fit the feature mapping: ${widths}; ${where}${elsewhere}`, {
      column: i + 1,
      model: a[i] ?? null,
      mapping: b[i] ?? null,
      modelWidth: a.length,
      mappingWidth: b.length,
    });
  }
  const stored = model.featureMapping;
  if (stored === undefined) return 'names-only';
  if (stored.fingerprint === inUse.fingerprint) return 'verified';
  const diff = firstDifference(stored.spec, inUse.spec);
  mismatch(
    `the model was trained with a different feature mapping (same ${a.length} columns, fingerprint ${stored.fingerprint.slice(0, 12)} ≠ ${inUse.fingerprint.slice(0, 12)}): ${diff.text}`,
    { feature: diff.feature, model: diff.model, mapping: diff.mapping },
  );
}

interface Difference {
  readonly feature: string;
  readonly model: unknown;
  readonly mapping: unknown;
  readonly text: string;
}

/** The first mapping entry that differs: entity key, event time, then the fields in order. */
export function firstDifference(model: ResolvedMappingJson, inUse: ResolvedMappingJson): Difference {
  const same = (x: unknown, y: unknown) => canonical(x) === canonical(y);
  if (!same(model.entityKey, inUse.entityKey)) {
    return {
      feature: 'entityKey',
      model: model.entityKey,
      mapping: inUse.entityKey,
      text: `entityKey is ${show(model.entityKey)} in the model, ${show(inUse.entityKey)} in the feature mapping`,
    };
  }
  if (!same(model.eventTime, inUse.eventTime)) {
    return {
      feature: 'eventTime',
      model: model.eventTime,
      mapping: inUse.eventTime,
      text: `eventTime is ${show(model.eventTime)} in the model, ${show(inUse.eventTime)} in the feature mapping`,
    };
  }
  if (!same(model.temporal, inUse.temporal)) {
    return {
      feature: 'temporal',
      model: model.temporal,
      mapping: inUse.temporal,
      text: `temporal features are ${show(model.temporal)} in the model, ${show(inUse.temporal)} in the feature mapping`,
    };
  }
  const fa = model.fields ?? [];
  const fb = inUse.fields ?? [];
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    const x = fa[i];
    const y = fb[i];
    if (same(x, y)) continue;
    const feature = y?.name ?? y?.path ?? x?.name ?? x?.path ?? `fields[${i}]`;
    return {
      feature,
      model: x,
      mapping: y,
      text: `feature "${feature}" (fields[${i}]) is ${show(x)} in the model, ${show(y)} in the feature mapping`,
    };
  }
  return {
    feature: '',
    model: undefined,
    mapping: undefined,
    text: 'the mappings read the same but hash differently (a different Vigil version?)',
  };
}

function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
