import { createHash } from 'node:crypto';

/**
 * Anomaly event ids are name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1) of the scored record's coordinates
 * and the model that judged it, so replaying the same record through the same model after a crash yields the
 * same id: downstream consumers de-duplicate on it, and feedback (analyst labels) can be keyed by it.
 *
 * The name is the UTF-8 JSON text of `[topic, partition, offset, modelId, modelVersion]` (JSON, so no choice of
 * separator can make two different tuples collide); the namespace is VIGIL_EVENT_NAMESPACE. Any other system can
 * recompute an id with a standard UUIDv5 function.
 */
export const VIGIL_EVENT_NAMESPACE = '4a2669f7-92c0-4770-bed3-add540f12b70';

export interface EventIdParts {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly modelId: string;
  readonly modelVersion: string;
}

export function anomalyEventId(parts: EventIdParts): string {
  const name = JSON.stringify([
    parts.topic,
    parts.partition,
    parts.offset,
    parts.modelId,
    parts.modelVersion,
  ]);
  return uuidV5(name, VIGIL_EVENT_NAMESPACE);
}

const NAMESPACE_CACHE = new Map<string, Buffer>();

/** A version-5 UUID of `name` (UTF-8) in `namespace` (a UUID string). */
export function uuidV5(name: string, namespace: string): string {
  let ns = NAMESPACE_CACHE.get(namespace);
  if (ns === undefined) {
    const hex = namespace.replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`namespace is not a UUID: ${namespace}`);
    ns = Buffer.from(hex, 'hex');
    NAMESPACE_CACHE.set(namespace, ns);
  }
  const b = createHash('sha1').update(ns).update(name, 'utf8').digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
