// Runs the CLI from source, without a build: `npx tsx cli/entry.ts run --config vigil.yaml`, or
// `node --import tsx cli/entry.ts …` where the signal must reach Vigil itself and not an npx wrapper (tests that
// SIGKILL it). bin/vigil.js is the same launcher for the compiled dist/.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
