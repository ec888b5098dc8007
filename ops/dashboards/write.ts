// npm run dashboards: regenerates helm/vigil/dashboards/*.json and removes files no dashboard produces.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DASHBOARD_DIR, renderDashboards } from './index.js';

const dir = path.resolve(import.meta.dirname, '../..', DASHBOARD_DIR);
const files = renderDashboards();
for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
for (const name of readdirSync(dir))
  if (name.endsWith('.json') && !files.has(name)) rmSync(path.join(dir, name));
console.log(`wrote ${[...files.keys()].map((n) => `${DASHBOARD_DIR}/${n}`).join(', ')}`);
