// A picture of a dashboard's layout for the docs (docs/img/dashboard-<uid>.svg): every panel where Grafana
// puts it (its gridPos on the 24-column grid), with its title and type, rows as section bands. Drawn from the
// generated JSON, so the picture cannot drift from the dashboard; `npm run dashboards` writes both.
import { escapeHtml } from '../../model/eval/report.js';

interface GridPanel {
  readonly type: string;
  readonly title: string;
  readonly gridPos: { x: number; y: number; w: number; h: number };
}

interface DashboardJson {
  readonly title: string;
  readonly panels: readonly GridPanel[];
}

const COLUMN = 40;
const ROW = 30;
const MARGIN = 16;
const HEADER = 40;

const FILL: Record<string, string> = {
  stat: '#e8f1fb',
  timeseries: '#eef7ee',
  heatmap: '#fdf1e4',
  table: '#f3eefa',
  bargauge: '#fbeef0',
};

/** Cuts a title to what fits in `width` px at about 7 px a character. */
function clip(text: string, width: number): string {
  const max = Math.max(4, Math.floor((width - 12) / 7));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function renderLayoutSvg(dashboard: DashboardJson): string {
  const bottom = Math.max(0, ...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const width = 24 * COLUMN + 2 * MARGIN;
  const height = HEADER + bottom * ROW + 2 * MARGIN;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" role="img">`,
    `<title>${escapeHtml(dashboard.title)} — panel layout</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="${MARGIN + 18}" font-size="18" font-weight="bold" fill="#1f2937">${escapeHtml(dashboard.title)} — panel layout</text>`,
  ];
  for (const p of dashboard.panels) {
    const x = MARGIN + p.gridPos.x * COLUMN;
    const y = MARGIN + HEADER + p.gridPos.y * ROW;
    const w = p.gridPos.w * COLUMN;
    const h = p.gridPos.h * ROW;
    if (p.type === 'row') {
      out.push(
        `<rect x="${x}" y="${y}" width="${w}" height="${h - 4}" fill="#1f2937"/>`,
        `<text x="${x + 8}" y="${y + h / 2 + 2}" font-size="13" fill="#ffffff" dominant-baseline="middle">${escapeHtml(p.title)}</text>`,
      );
      continue;
    }
    out.push(
      `<rect x="${x + 2}" y="${y + 2}" width="${w - 4}" height="${h - 4}" rx="4" fill="${FILL[p.type] ?? '#f3f4f6'}" stroke="#9ca3af"/>`,
      `<text x="${x + 10}" y="${y + 20}" font-size="12" font-weight="bold" fill="#111827">${escapeHtml(clip(p.title, w))}</text>`,
      `<text x="${x + 10}" y="${y + 38}" font-size="11" fill="#6b7280">${escapeHtml(p.type)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
