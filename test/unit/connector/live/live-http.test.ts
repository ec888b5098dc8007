import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRoutes } from '../../../../connector/live/live-http.js';
import { LiveView } from '../../../../connector/live/live-view.js';
import { anomaly, batch } from './fixtures.js';

describe('liveRoutes', () => {
  let server: Server;
  let base: string;
  const view = new LiveView({ historySeconds: 60, maxAnomalies: 5 });

  beforeAll(async () => {
    const routes = liveRoutes(view, '/live');
    server = createServer((req, res) => {
      if (routes(req, res)) return;
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves the page, which polls the data URL under the same path', async () => {
    const res = await fetch(`${base}/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('var DATA_URL = "/live/data";');
    expect(html).toContain('data-testid="chart"');
  });

  it('serves the snapshot as JSON, with what the feed was given', async () => {
    view.onScores(batch([0.5, 4], 1), Date.now());
    view.onAnomaly(anomaly('pump-9', Date.now(), 4, ['temp']));
    const res = await fetch(`${base}/live/data?t=1`);
    expect(res.status).toBe(200);
    const snap = (await res.json()) as ReturnType<LiveView['snapshot']>;
    expect(snap.threshold).toBe(1);
    expect(snap.series.at(-1)).toMatchObject({ n: 2, anomalies: 1 });
    expect(snap.anomalies[0]).toMatchObject({ entity: 'pump-9' });
  });

  it('leaves every other URL to the caller', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/livex`)).status).toBe(404);
    expect((await fetch(`${base}/live`, { method: 'POST' })).status).toBe(404);
  });
});
