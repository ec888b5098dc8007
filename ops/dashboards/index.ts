// The dashboards as files: helm/vigil/dashboards/<uid>.json, rendered from specs.ts. `npm run dashboards`
// writes them; test/unit/ops/dashboards.test.ts fails when the committed files differ from this output.
import { renderLayoutSvg } from './layout-svg.js';
import { buildDashboard, type DashboardSpec, type Query } from './panels.js';
import { DASHBOARDS, lifecycle, SERVING_DASHBOARDS } from './specs.js';

export { DASHBOARDS, lifecycle as LIFECYCLE_DASHBOARD, SERVING_DASHBOARDS };

export const DASHBOARD_DIR = 'helm/vigil/dashboards';
/** Where the layout pictures for the docs go (docs/operations.md shows them). */
export const LAYOUT_DIR = 'docs/img';

/** File name (under DASHBOARD_DIR) → file text, for every dashboard. */
export function renderDashboards(): Map<string, string> {
  const files = new Map<string, string>();
  for (const spec of DASHBOARDS)
    files.set(`${spec.uid}.json`, `${JSON.stringify(buildDashboard(spec), null, 2)}\n`);
  return files;
}

/** File name (under LAYOUT_DIR) → SVG text: each dashboard's panel layout, drawn from its generated JSON. */
export function renderLayouts(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, text] of renderDashboards())
    files.set(`dashboard-${name.replace(/\.json$/, '')}.svg`, renderLayoutSvg(JSON.parse(text)));
  return files;
}

/**
 * Every panel's queries of the given dashboards (all by default), with where they come from, for the metric-name
 * and live-Prometheus tests: the live test takes SERVING_DASHBOARDS, the lifecycle dashboard's test its own.
 */
export function panelQueries(
  specs: readonly DashboardSpec[] = DASHBOARDS,
): { dashboard: string; panel: string; query: Query }[] {
  return specs.flatMap((d) =>
    d.rows.flatMap((r) =>
      r.panels.flatMap((p) => p.queries.map((query) => ({ dashboard: d.uid, panel: p.title, query }))),
    ),
  );
}
