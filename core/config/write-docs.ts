/**
 * Writes docs/configuration.md from the config schema: `npx tsx core/config/write-docs.ts`.
 * A script of its own (a composition root in miniature) so core/config/docs.ts stays free of I/O.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from './docs.js';

const target = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
writeFileSync(target, renderConfigDocs());
console.log(`wrote ${target}`);
