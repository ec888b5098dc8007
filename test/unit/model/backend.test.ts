import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { currentBackend, initBackend } from '../../../model/backend.js';

describe('initBackend', () => {
  it('falls back from the native backends (not installed here) to wasm with SIMD, saying why', async () => {
    const info = await initBackend({ preference: 'auto' });
    expect(info.name === 'wasm' || info.name === 'tensorflow' || info.name === 'tensorflow-gpu').toBe(true);
    if (info.name === 'wasm') {
      expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
      expect(info.simd).toBe(true);
      expect(tf.getBackend()).toBe('wasm');
    }
    expect(currentBackend()).toEqual(info);
  });

  it('selects cpu when asked, and back to wasm', async () => {
    expect((await initBackend({ preference: 'cpu' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await initBackend({ preference: 'wasm' })).name).toBe('wasm');
  });

  it('treats WebGPU as optional: without the packages (or a GPU) it falls back', async () => {
    const info = await initBackend({ preference: ['webgpu', 'wasm'] });
    if (info.name !== 'webgpu') {
      expect(info.name).toBe('wasm');
      expect(info.skipped[0]!.name).toBe('webgpu');
    }
  });

  it('fails with BACKEND_UNAVAILABLE when fallback is off and the backend is missing', async () => {
    let err: unknown;
    try {
      await initBackend({ preference: 'tensorflow', allowFallback: false });
    } catch (e) {
      err = e;
    }
    // Where tfjs-node is installed this succeeds instead; here it is not.
    if (err !== undefined) expect(isVigilError(err, 'BACKEND_UNAVAILABLE')).toBe(true);
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
