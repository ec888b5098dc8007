/**
 * TensorFlow.js backend selection. Vigil prefers native TensorFlow (tfjs-node-gpu, then tfjs-node) when one is
 * installed, then WebAssembly with SIMD (tfjs-backend-wasm, a dependency), then the pure-JS cpu backend. None
 * of the optional packages is a dependency: they are imported by a computed name so a missing one is a
 * logged fallback, not a crash or a type error.
 *
 * WebGPU (`webgpu` npm package = Dawn, + @tensorflow/tfjs-backend-webgpu) is opt-in only: it is never in the
 * `auto` order because for the small dense models Vigil runs, per-dispatch latency makes it slower than
 * wasm until batches reach tens of thousands of rows, and without a GPU Dawn finds no adapter.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { VigilError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = 'auto' | BackendName | readonly BackendName[];

/** The order tried for `auto`. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendOptions {
  /** A backend, an ordered list to try, or `auto`. Default `auto`. */
  preference?: BackendPreference;
  /**
   * When the preferred backends all fail: fall through to the next in AUTO_ORDER (default true) or fail with
   * BACKEND_UNAVAILABLE (false, for deployments that must not silently run 20× slower).
   */
  allowFallback?: boolean;
  /** wasm: number of XNNPACK threads where the runtime supports wasm threads (browsers). Node runs one. */
  wasmThreads?: number;
  logger?: Logger;
}

export interface BackendInfo {
  /** Vigil's name for the backend in use. */
  readonly name: BackendName;
  /** tf.getBackend() once selected. */
  readonly tfBackend: string;
  readonly tfjsVersion: string;
  /** wasm only: whether the SIMD binary was loaded. */
  readonly simd?: boolean;
  /** Backends tried first that could not be used, with why. */
  readonly skipped: readonly { readonly name: BackendName; readonly reason: string }[];
}

const TF_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

let current: BackendInfo | undefined;
let wasmPathsSet = false;

/** The backend chosen by the last successful initBackend, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/** Import a package that may not be installed, by a computed name so TypeScript does not resolve it. */
async function optionalImport(specifier: string): Promise<unknown> {
  return import(specifier);
}

function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return (
    path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + path.sep + 'dist' + path.sep
  );
}

async function prepare(name: BackendName, options: BackendOptions): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
      await optionalImport('@tensorflow/tfjs-node-gpu');
      return;
    case 'tensorflow':
      await optionalImport('@tensorflow/tfjs-node');
      return;
    case 'webgpu': {
      // Dawn's Node binding provides navigator.gpu; it must exist before the backend module registers.
      const dawn = (await optionalImport('webgpu')) as {
        create: (flags: string[]) => unknown;
        globals: Record<string, unknown>;
      };
      Object.assign(globalThis, dawn.globals);
      const g = globalThis as { navigator?: { gpu?: unknown } };
      if (g.navigator === undefined) {
        Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
      }
      if (g.navigator!.gpu === undefined) {
        Object.defineProperty(g.navigator!, 'gpu', { value: dawn.create([]), configurable: true });
      }
      await optionalImport('@tensorflow/tfjs-backend-webgpu');
      return;
    }
    case 'wasm':
      // In Node the wasm binaries must be read from node_modules; the default prefix is the bundle's URL.
      if (!wasmPathsSet) {
        tfwasm.setWasmPaths(wasmDistDir());
        wasmPathsSet = true;
      }
      if (options.wasmThreads !== undefined) tfwasm.setThreadsCount(options.wasmThreads);
      return;
    case 'cpu':
      return;
  }
}

function orderFor(options: BackendOptions): BackendName[] {
  const pref = options.preference ?? 'auto';
  const wanted: BackendName[] =
    pref === 'auto' ? [...AUTO_ORDER] : typeof pref === 'string' ? [pref] : [...pref];
  for (const name of wanted) {
    if (!BACKEND_NAMES.includes(name)) {
      throw new VigilError(
        'CONFIG_INVALID',
        `Unknown backend "${name}"; expected one of auto, ${BACKEND_NAMES.join(', ')}.`,
        { details: { backend: name } },
      );
    }
  }
  if (options.allowFallback ?? true) {
    for (const name of AUTO_ORDER) if (!wanted.includes(name)) wanted.push(name);
  }
  return wanted;
}

/**
 * Select and initialise a backend. Idempotent in effect: calling again with the backend already active
 * returns its info. Resolves once the backend is ready for synchronous use.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const logger = options.logger ?? silentLogger();
  // Production mode: no debug checks, and no console banner urging tfjs-node (the choice is logged below).
  tf.env().set('PROD', true);
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of orderFor(options)) {
    if (current?.name === name && tf.getBackend() === TF_NAME[name]) {
      current = { ...current, skipped };
      return current;
    }
    try {
      await prepare(name, options);
      if (tf.findBackendFactory(TF_NAME[name]) === null) throw new Error('backend did not register');
      const ok = await tf.setBackend(TF_NAME[name]);
      if (!ok) throw new Error('backend failed to initialise');
      await tf.ready();
      const info: BackendInfo = {
        name,
        tfBackend: tf.getBackend(),
        tfjsVersion: tf.version.tfjs,
        ...(name === 'wasm' ? { simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') } : {}),
        skipped,
      };
      current = info;
      logger.info(
        { backend: name, simd: info.simd, skipped: skipped.map((s) => `${s.name}: ${s.reason}`) },
        'tensorflow.js backend selected',
      );
      return info;
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      skipped.push({ name, reason });
      logger.debug({ backend: name, reason }, 'tensorflow.js backend unavailable');
    }
  }
  throw new VigilError(
    'BACKEND_UNAVAILABLE',
    `No usable TensorFlow.js backend: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`,
    { details: { skipped } },
  );
}
