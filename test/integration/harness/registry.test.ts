// The schema registry the harness provides: Confluent API reachable, BACKWARD compatibility enforced and
// reported, and registryctl.sh status agreeing when the registry is the local one.
import { describe, expect, inject, it } from 'vitest';
import { registryUrl, uniqueName } from '../../support/kafka.js';
import { REGISTRYCTL, runCtl } from '../../support/services.js';

const CONTENT_TYPE = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

function record(fields: object[]): string {
  return JSON.stringify({ type: 'record', name: 'Reading', namespace: 'vigil.it', fields });
}

async function register(subject: string, schema: string): Promise<Response> {
  return fetch(`${registryUrl()}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: CONTENT_TYPE,
    body: JSON.stringify({ schema }),
  });
}

describe('schema registry', () => {
  it('refuses a backward-incompatible change and accepts a compatible one', async () => {
    const subject = `${uniqueName('it-registry')}-value`;
    const v1 = await register(subject, record([{ name: 'value', type: 'double' }]));
    expect(v1.status).toBe(200);
    expect(await v1.json()).toMatchObject({ id: expect.any(Number) });

    // A new field without a default: readers of v2 cannot read v1 data.
    const breaking = await register(
      subject,
      record([
        { name: 'value', type: 'double' },
        { name: 'unit', type: 'string' },
      ]),
    );
    expect(breaking.status).toBe(409);

    const compatible = await register(
      subject,
      record([
        { name: 'value', type: 'double' },
        { name: 'unit', type: 'string', default: 'C' },
      ]),
    );
    expect(compatible.status).toBe(200);
    const versions = await (await fetch(`${registryUrl()}/subjects/${subject}/versions`)).json();
    expect(versions).toEqual([1, 2]);
  });

  it('reports the global compatibility it enforces', async () => {
    const config = await (await fetch(`${registryUrl()}/config`)).json();
    expect(config).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  const local = inject('vigilRegistry').local;
  it('registryctl.sh status reports the local registry running', async (ctx) => {
    ctx.skip(!local, 'the registry comes from REGISTRY_URL, not registryctl.sh');
    const result = await runCtl(REGISTRYCTL, ['status'], {
      ...process.env,
      REGISTRY_PORT: String(local!.port),
      REGISTRY_STATE_DIR: local!.stateDir,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`running \\(pid ${local!.pid}\\)`));
    expect(result.stdout).toContain(`REGISTRY_CCOMPAT_URL=${registryUrl()}\n`);
  });
});
