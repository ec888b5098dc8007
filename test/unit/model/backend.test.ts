import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { currentBackend, initBackend } from '../../../model/backend.js';

/** Whether an optional package is installed, found the way model/backend.ts looks for it. */
function installed(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

const nativeGpu = installed('@tensorflow/tfjs-node-gpu');
const native = installed('@tensorflow/tfjs-node');
const webgpu = installed('@tensorflow/tfjs-backend-webgpu') && installed('webgpu');

describe('initBackend', () => {
  it('takes the first native backend installed, else falls back to wasm with SIMD, saying why', async () => {
    const info = await initBackend({ preference: 'auto' });
    expect(currentBackend()).toEqual(info);
    if (nativeGpu || native) {
      expect(['tensorflow-gpu', 'tensorflow']).toContain(info.name);
      return;
    }
    expect(info.name).toBe('wasm');
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(info.simd).toBe(true);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('selects cpu when asked, and back to wasm', async () => {
    expect((await initBackend({ preference: 'cpu' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await initBackend({ preference: 'wasm' })).name).toBe('wasm');
  });

  it.skipIf(webgpu)('treats WebGPU as optional: without its packages it falls back, saying so', async () => {
    const info = await initBackend({ preference: ['webgpu', 'wasm'] });
    expect(info.name).toBe('wasm');
    expect(info.skipped[0]!.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('wasm');
  });

  it.skipIf(native)(
    'fails with BACKEND_UNAVAILABLE when fallback is off and the backend is missing',
    async () => {
      const before = await initBackend({ preference: 'wasm' });
      const err = await initBackend({ preference: 'tensorflow', allowFallback: false }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVigilError(err, 'BACKEND_UNAVAILABLE')).toBe(true);
      // The backend in force before the failed switch still serves.
      expect(currentBackend()).toEqual(before);
      expect(tf.getBackend()).toBe('wasm');
    },
  );

  it.runIf(native)('selects tfjs-node when it is installed and asked for without fallback', async () => {
    expect((await initBackend({ preference: 'tensorflow', allowFallback: false })).name).toBe('tensorflow');
  });

  it('refuses an unknown backend name', async () => {
    let err: unknown;
    try {
      await initBackend({ preference: 'tpu' as 'cpu' });
    } catch (e) {
      err = e;
    }
    expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
  });
});
