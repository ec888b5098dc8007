// Output subjects that another client registered first, against the real registry (Apicurio, global rule
// BACKWARD). Issue #10: `vigil run` refused to start with "REGISTRY_UNAVAILABLE: … Compatibility does not match
// the configuration (BACKWARD != NONE)" because the client library insists on its own compatibility level; an
// existing compatible subject must simply be used, and an incompatible one named as such.
import { describe, expect, it } from 'vitest';
import { confluentOutputCodec } from '../../../connector/pipeline/output-codec.js';
import { isVigilError } from '../../../core/errors.js';
import { loadSchema, schemaJson } from '../../../schemas/catalog.js';
import { RegistryClient } from '../../../schemas/registry-client.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import { registryUrl, uniqueName } from '../../support/kafka.js';

const CONTENT_TYPE = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

/** What another client (a Python producer, an operator with curl) does: plain HTTP to the Confluent API. */
async function http(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${registryUrl()}${path}`, {
    method,
    headers: CONTENT_TYPE,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function registerByHand(subject: string, schema: unknown): Promise<number> {
  const r = await http('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(schema) });
  expect(r.status).toBe(200);
  return (r.json as { id: number }).id;
}

const versions = async (subject: string) => (await http('GET', `/subjects/${subject}/versions`)).json;
const subjectLevel = async (subject: string) => http('GET', `/config/${subject}`);

describe('output subjects registered first by another client', () => {
  it('uses the existing version of the same schema, leaving the subject and its NONE rule as they are', async () => {
    const anomalies = uniqueName('reg-anom');
    const dead = uniqueName('reg-dlq');
    const theirAnomalyId = await registerByHand(`${anomalies}-value`, schemaJson('anomaly_event'));
    const theirDeadId = await registerByHand(`${dead}-value`, schemaJson('dead_letter'));
    const set = await http('PUT', `/config/${anomalies}-value`, { compatibility: 'NONE' });
    expect(set.status).toBe(200);
    const before = await subjectLevel(`${anomalies}-value`);

    const client = new RegistryClient({ url: registryUrl(), timeoutMs: 5_000 });
    const codec = await confluentOutputCodec(client, { anomalies, deadLetters: dead });

    expect(codec.format).toBe('confluent');
    expect(await versions(`${anomalies}-value`)).toEqual([1]);
    expect(await versions(`${dead}-value`)).toEqual([1]);
    expect(await subjectLevel(`${anomalies}-value`)).toEqual(before);
    // What Vigil writes carries the other client's ids, so their readers decode it.
    const event = sampleEvent();
    const bytes = codec.anomaly(event);
    expect(bytes.readUInt32BE(1)).toBe(theirAnomalyId);
    expect(loadSchema('anomaly_event').fromBuffer(bytes.subarray(5))).toEqual(event);
    expect(client.cache.has(theirDeadId)).toBe(true);
  });

  it('adds a version to a subject holding an older compatible schema', async () => {
    const anomalies = uniqueName('reg-anom-old');
    const subject = `${anomalies}-value`;
    const current = schemaJson('anomaly_event') as unknown as { fields: { name: string }[] };
    const older = { ...current, fields: current.fields.filter((f) => f.name !== 'attributes') };
    const olderId = await registerByHand(subject, older);

    const id = await new RegistryClient({ url: registryUrl() }).register(
      subject,
      schemaJson('anomaly_event'),
    );
    expect(id).not.toBe(olderId);
    expect(await versions(subject)).toEqual([1, 2]);
  });

  it('names an incompatible subject as SCHEMA_INCOMPATIBLE with its rule, not as an unavailable registry', async () => {
    const anomalies = uniqueName('reg-anom-clash');
    const subject = `${anomalies}-value`;
    await registerByHand(subject, {
      type: 'record',
      name: 'SomethingElse',
      namespace: 'other.team',
      fields: [{ name: 'reading', type: 'double' }],
    });
    const level = await subjectLevel(subject);

    const err = await new RegistryClient({ url: registryUrl() })
      .register(subject, schemaJson('anomaly_event'))
      .catch((e: unknown) => e);
    expect(isVigilError(err, 'SCHEMA_INCOMPATIBLE')).toBe(true);
    expect((err as Error).message).toContain(`subject ${subject}`);
    const reported = (err as { details: { compatibility: string | null } }).details.compatibility;
    if (level.status === 200) {
      expect(reported).toBe((level.json as { compatibilityLevel: string }).compatibilityLevel.toUpperCase());
    } else expect(reported).toBeNull();
    expect(await versions(subject)).toEqual([1]);
  });
});

function sampleEvent(): AnomalyEvent {
  const type = loadSchema('anomaly_event');
  return type.fromBuffer(type.toBuffer(type.random())) as AnomalyEvent;
}
