import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isDockerAvailable } from '../../support/services.js';

// A fake engine on a unix socket stands in for Docker: the detection must say yes only to a real /_ping answer.
describe('isDockerAvailable', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function tempSocketPath(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-docker-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return path.join(dir, 'docker.sock');
  }

  it('is true when the socket answers GET /_ping with 200', async () => {
    const socketPath = tempSocketPath();
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/_ping' ? 200 : 404).end('OK');
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    cleanups.push(() => server.close());
    expect(await isDockerAvailable({ DOCKER_HOST: `unix://${socketPath}` })).toBe(true);
  });

  it('is false when the socket file does not exist', async () => {
    expect(await isDockerAvailable({ DOCKER_HOST: `unix://${tempSocketPath()}` })).toBe(false);
  });

  it('is false when the engine answers with an error', async () => {
    const socketPath = tempSocketPath();
    const server = http.createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => server.listen(socketPath, r));
    cleanups.push(() => server.close());
    expect(await isDockerAvailable({ DOCKER_HOST: `unix://${socketPath}` })).toBe(false);
  });

  it('gives up on a socket that accepts but never answers', async () => {
    const socketPath = tempSocketPath();
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(socketPath, r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    expect(await isDockerAvailable({ DOCKER_HOST: `unix://${socketPath}` }, 200)).toBe(false);
  });
});
