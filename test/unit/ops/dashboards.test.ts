// The committed dashboards are what ops/dashboards generates (edit specs.ts and run `npm run dashboards`), and
// each has what Grafana provisioning needs to be stable across installs: a fixed uid, the `$datasource`
// variable on every query, the generated note, and panels that do not overlap.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_DIR,
  DASHBOARDS,
  LAYOUT_DIR,
  renderDashboards,
  renderLayouts,
} from '../../../ops/dashboards/index.js';
import { DATASOURCE, GENERATED_NOTE } from '../../../ops/dashboards/panels.js';

const dir = path.resolve(import.meta.dirname, '../../..', DASHBOARD_DIR);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { refId?: string; expr: string; datasource?: { uid: string } }[];
}

describe('Grafana dashboards', () => {
  const rendered = renderDashboards();

  it('the committed JSON equals the generator output (run `npm run dashboards` after editing specs.ts)', () => {
    const committed = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [name, text] of rendered) expect(readFileSync(path.join(dir, name), 'utf8'), name).toBe(text);
  });

  it('the layout pictures in the docs are drawn from the generated JSON (run `npm run dashboards`)', () => {
    const layouts = renderLayouts();
    expect([...layouts.keys()].sort()).toEqual(DASHBOARDS.map((d) => `dashboard-${d.uid}.svg`).sort());
    for (const [name, text] of layouts) {
      expect(readFileSync(path.resolve(dir, '../../..', LAYOUT_DIR, name), 'utf8'), name).toBe(text);
      // One box per panel, each titled.
      const d = JSON.parse(rendered.get(name.replace(/^dashboard-/, '').replace(/\.svg$/, '.json'))!) as {
        panels: Panel[];
      };
      expect(text.match(/<rect x=/g)?.length).toBe(d.panels.length);
    }
  });

  it.each(DASHBOARDS.map((d) => [d.uid]))('%s: fixed uid, $datasource variable, generated note', (uid) => {
    const d = JSON.parse(rendered.get(`${uid}.json`)!) as {
      uid: string;
      description: string;
      templating: { list: { type: string; name: string; query: string }[] };
      panels: Panel[];
    };
    expect(d.uid).toBe(uid);
    expect(d.description).toContain(GENERATED_NOTE);
    expect(d.templating.list).toContainEqual(
      expect.objectContaining({ type: 'datasource', name: 'datasource', query: 'prometheus' }),
    );
    const panels = d.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(3);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE.uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.refId, p.title).toMatch(/^[A-Z]$/);
        expect(t.datasource?.uid, p.title).toBe(DATASOURCE.uid);
      }
    }
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    // No two panels share a grid cell, and none runs past the 24 columns.
    const cells = new Set<string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
    }
  });
});
