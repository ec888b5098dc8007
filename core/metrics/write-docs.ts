/** Writes docs/metrics.md from VigilMetrics: `npm run docs:metrics`. Kept apart so core/metrics/docs.ts has no I/O. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMetricsDocs } from './docs.js';

const target = fileURLToPath(new URL('../../docs/metrics.md', import.meta.url));
writeFileSync(target, renderMetricsDocs());
console.log(`wrote ${target}`);
