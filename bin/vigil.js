#!/usr/bin/env node
// Thin launcher: the compiled composition root lives in dist/ (`npm run build`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error(
    `vigil: ${entry} is missing; run \`npm run build\` first (or run from source: \`npx tsx cli/entry.ts …\`).`,
  );
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
// A handle a library leaves behind must not keep a failed start, or a finished command, running (see cli/entry.ts).
setTimeout(() => process.exit(), 1_000).unref();
