// npm run dashboards: regenerates helm/vigil/dashboards/*.json (removing files no dashboard produces) and the
// layout pictures docs/img/dashboard-*.svg.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DASHBOARD_DIR, LAYOUT_DIR, renderDashboards, renderLayouts } from './index.js';

const dir = path.resolve(import.meta.dirname, '../..', DASHBOARD_DIR);
const files = renderDashboards();
for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
for (const name of readdirSync(dir))
  if (name.endsWith('.json') && !files.has(name)) rmSync(path.join(dir, name));
const layoutDir = path.resolve(import.meta.dirname, '../..', LAYOUT_DIR);
const layouts = renderLayouts();
for (const [name, text] of layouts) writeFileSync(path.join(layoutDir, name), text);
console.log(`wrote ${[...layouts.keys()].map((n) => `${LAYOUT_DIR}/${n}`).join(', ')}`);
console.log(`wrote ${[...files.keys()].map((n) => `${DASHBOARD_DIR}/${n}`).join(', ')}`);
