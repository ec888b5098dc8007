// The dashboards as files: helm/vigil/dashboards/<uid>.json, rendered from specs.ts. `npm run dashboards`
// writes them; test/unit/ops/dashboards.test.ts fails when the committed files differ from this output.
import { buildDashboard, type DashboardSpec, type Query } from './panels.js';
import { DASHBOARDS } from './specs.js';

export { DASHBOARDS };

export const DASHBOARD_DIR = 'helm/vigil/dashboards';

/** File name (under DASHBOARD_DIR) → file text, for every dashboard. */
export function renderDashboards(): Map<string, string> {
  const files = new Map<string, string>();
  for (const spec of DASHBOARDS)
    files.set(`${spec.uid}.json`, `${JSON.stringify(buildDashboard(spec), null, 2)}\n`);
  return files;
}

/** Every panel's queries, with where they come from, for the metric-name and live-Prometheus tests. */
export function panelQueries(
  specs: readonly DashboardSpec[] = DASHBOARDS,
): { dashboard: string; panel: string; query: Query }[] {
  return specs.flatMap((d) =>
    d.rows.flatMap((r) =>
      r.panels.flatMap((p) => p.queries.map((query) => ({ dashboard: d.uid, panel: p.title, query }))),
    ),
  );
}
