import { beforeAll, describe, expect, it } from 'vitest';
import { scoreInChunks } from '../../../../connector/pipeline/scoring.js';
import type { Detector } from '../../../../model/detector.js';
import { sensorExtractor, sensorRecords, trainSensorDetector } from '../../../support/sensor-fixture.js';

let detector: Detector;
let rows: Float32Array;
let entities: string[];
let n = 0;
let d = 0;
beforeAll(async () => {
  detector = await trainSensorDetector(2000);
  const extractor = sensorExtractor();
  d = extractor.width;
  const records = sensorRecords(1000, 9, 0.05);
  rows = new Float32Array(records.length * d);
  entities = [];
  for (const { record } of records) {
    if (!extractor.extractInto(record, rows, n * d).ok) continue;
    entities.push(record.device_id);
    n++;
  }
}, 180_000);

describe('scoreInChunks', () => {
  it('scores a batch in chunks with a yield between them, as one call would', async () => {
    const whole = detector.score(rows, n, entities, { explain: 'anomalies' });
    let yields = 0;
    const chunked = await scoreInChunks(detector, rows, n, d, entities, {
      explain: 'anomalies',
      chunkRows: 128,
      yieldFn: async () => {
        yields++;
      },
    });
    expect(yields).toBe(Math.ceil(n / 128) - 1);
    expect(chunked.n).toBe(n);
    for (let i = 0; i < n; i++) expect(chunked.scores[i]).toBeCloseTo(whole.scores[i]!, 5);
    expect([...chunked.isAnomaly]).toEqual([...whole.isAnomaly]);
    expect([...chunked.threshold]).toEqual([...whole.threshold]);
    const flagged = whole.isAnomaly.indexOf(1);
    expect(flagged).toBeGreaterThanOrEqual(0);
    for (let j = 0; j < d; j++)
      expect(chunked.contributions[flagged * d + j]).toBeCloseTo(whole.contributions[flagged * d + j]!, 4);
  });

  it('lets timers run between chunks, and calls the scorer once for a batch within one chunk', async () => {
    let calls = 0;
    const counting = {
      identity: detector.identity,
      score: (...args: Parameters<Detector['score']>) => {
        calls++;
        return detector.score(...args);
      },
    };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await scoreInChunks(counting, rows, n, d, entities, { chunkRows: 100 });
    clearInterval(timer);
    expect(calls).toBe(Math.ceil(n / 100));
    expect(ticks).toBeGreaterThan(0);
    calls = 0;
    await scoreInChunks(counting, rows, 50, d, entities.slice(0, 50), { chunkRows: 100 });
    expect(calls).toBe(1);
    await expect(scoreInChunks(counting, rows, 10, d, entities, { chunkRows: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});
