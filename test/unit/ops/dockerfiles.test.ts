// The CPU and GPU Dockerfiles, held to what the chart and the service expect. No base image can be pulled here,
// so the images are not built in the suite (docs/operations.md says how to build and check one); this reads the
// instructions: multi-stage with a runtime stage that carries no build tools, a numeric non-root USER, node
// as PID 1 in exec form (SIGTERM reaches Vigil, whose shutdown test/integration/ops/prometheus.test.ts
// checks), no HEALTHCHECK (the chart probes), the metrics port and config path the chart uses, and COPY
// sources that exist.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema } from '../../../core/config/schema.js';

const root = path.resolve(import.meta.dirname, '../../..');

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Instructions by stage, with line continuations joined and comments dropped. */
function stages(file: string): { from: string; name?: string; body: Instruction[] }[] {
  const text = readFileSync(path.join(root, file), 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const out: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, op, args] = m as unknown as [string, string, string];
    if (op === 'FROM') {
      const [from, as, name] = args.trim().split(/\s+/);
      out.push({ from: from!, ...(as?.toUpperCase() === 'AS' ? { name: name! } : {}), body: [] });
    } else if (out.length > 0) out.at(-1)!.body.push({ op, args: args.trim() });
  }
  return out;
}

const values = parse(readFileSync(path.join(root, 'helm/vigil/values.yaml'), 'utf8')) as {
  podSecurityContext: { runAsUser: number };
  service: { port: number };
  config: { input: { schema: string } };
};

describe.each(['Dockerfile', 'Dockerfile.gpu'])('%s', (file) => {
  const all = stages(file);
  const runtime = all.at(-1)!;
  const ops = (op: string) => runtime.body.filter((i) => i.op === op);

  it('is multi-stage: the runtime stage copies the build from a builder and installs no compiler', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    const copiesFromBuild = ops('COPY').filter((c) => c.args.startsWith('--from=build'));
    expect(copiesFromBuild.map((c) => c.args)).toEqual(
      expect.arrayContaining(['--from=build /app/node_modules node_modules', '--from=build /app/dist dist']),
    );
    const runs = ops('RUN')
      .map((r) => r.args)
      .join(' ');
    expect(runs).not.toMatch(/build-essential|gcc|g\+\+|libzstd-dev|npm (ci|install)/);
    // Dev dependencies are pruned in the builder before node_modules is copied.
    const build = all.find((s) => s.name === 'build')!;
    expect(build.body.some((i) => i.op === 'RUN' && /npm prune --omit=dev/.test(i.args))).toBe(true);
  });

  it('runs as the numeric non-root user the chart expects', () => {
    const user = ops('USER').at(-1)?.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).not.toBe(0);
    expect(Number(user!.split(':')[0])).toBe(values.podSecurityContext.runAsUser);
  });

  it('starts node itself in exec form, so SIGTERM reaches Vigil; no HEALTHCHECK', () => {
    const entry = JSON.parse(ops('ENTRYPOINT').at(-1)!.args) as string[];
    expect(entry).toEqual(['node', 'bin/vigil.js']);
    const cmd = JSON.parse(ops('CMD').at(-1)!.args) as string[];
    expect(cmd).toEqual(['run', '--config', '/etc/vigil/vigil.yaml']);
    expect(all.flatMap((s) => s.body).some((i) => i.op === 'HEALTHCHECK')).toBe(false);
    expect(all.flatMap((s) => s.body).some((i) => i.op === 'STOPSIGNAL' && i.args !== 'SIGTERM')).toBe(false);
  });

  it('exposes the default metrics port, which is the chart service port', () => {
    const port = ConfigSchema.shape.metrics.parse({}).port;
    expect(ops('EXPOSE').map((e) => Number(e.args))).toEqual([port]);
    expect(values.service.port).toBe(port);
  });

  it('carries the Avro schemas where the chart default config reads them, and copies only files that exist', () => {
    expect(ops('WORKDIR').at(-1)?.args).toBe('/app');
    expect(values.config.input.schema.startsWith('/app/schemas/')).toBe(true);
    expect(existsSync(path.join(root, values.config.input.schema.replace('/app/', '')))).toBe(true);
    for (const stage of all)
      for (const c of stage.body.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        const sources = c.args.split(/\s+/).slice(0, -1);
        for (const s of sources) {
          const dir = s.includes('*') ? path.dirname(s) : s;
          expect(existsSync(path.join(root, dir)), `${file}: COPY ${s}`).toBe(true);
        }
      }
  });
});

describe('Dockerfile.gpu', () => {
  it('adds the WebGPU backend and the Vulkan loader on a CUDA base', () => {
    const text = readFileSync(path.join(root, 'Dockerfile.gpu'), 'utf8');
    expect(text).toMatch(/ARG CUDA_IMAGE=nvidia\/cuda:/);
    expect(text).toMatch(/webgpu@\d/);
    expect(text).toMatch(/@tensorflow\/tfjs-backend-webgpu@\d/);
    expect(text).toMatch(/libvulkan1/);
    expect(text).toMatch(/NVIDIA_DRIVER_CAPABILITIES=[^\n]*graphics/);
  });
});
