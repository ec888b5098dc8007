// Runs the CLI from source, without a build: `npx tsx cli/entry.ts run --config vigil.yaml`, or
// `node --import tsx cli/entry.ts …` where the signal must reach Vigil itself and not an npx wrapper (tests that
// SIGKILL it). bin/vigil.js is the same launcher for the compiled dist/.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
// main() has released what it opened; a handle a library leaves behind (a socket, a worker, a retry timer) must
// not keep a failed start, or a finished command, running. The grace lets stdout and stderr drain.
setTimeout(() => process.exit(), 1_000).unref();
