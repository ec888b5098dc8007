import { describe, expect, it } from 'vitest';
import { uniqueName } from '../../support/kafka.js';

describe('uniqueName', () => {
  it('gives a distinct, topic-safe name on every call', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueName('t')));
    expect(names.size).toBe(200);
    for (const n of names) expect(n).toMatch(/^t-[0-9a-z]+-[0-9a-f]{8}$/);
  });

  it('replaces characters Kafka refuses in topic and group names', () => {
    expect(uniqueName('my topic/ä')).toMatch(/^my-topic---[0-9a-z]+-[0-9a-f]{8}$/);
    expect(uniqueName('')).toMatch(/^vigil-/);
  });
});
