// Debian's Prometheus and Alertmanager as child processes on loopback ports, and a webhook receiver, for tests
// that check dashboards and alert rules against a live Vigil. Every process started here is killed when the
// test process exits.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export const PROMETHEUS_BIN = 'prometheus';
export const ALERTMANAGER_BIN = 'prometheus-alertmanager';

export function installed(bin: string): boolean {
  return spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Daemon {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startDaemon(
  bin: string,
  args: string[],
  url: string,
  ready: string,
  dir: string,
): Promise<Daemon> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let text = '';
  const keep = (c: Buffer) => {
    text = (text + c.toString('utf8')).slice(-32_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${bin} exited at start:\n${text}`);
    const ok = await fetch(url + ready).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${bin} did not answer ${url}${ready}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    output: () => text,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrometheusOptions {
  /** host:port of each Vigil metrics endpoint, scraped as job "vigil". */
  readonly targets: readonly string[];
  /** Rule files (their text), loaded in order. */
  readonly rules?: readonly string[];
  /** Alertmanager host:port to send alerts to. */
  readonly alertmanager?: string;
  /** Scrape and rule evaluation interval. Default 1s. */
  readonly interval?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<Daemon> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-prometheus-'));
  const ruleFiles = (options.rules ?? []).map((text, i) => {
    const file = path.join(dir, `rules-${i}.yaml`);
    writeFileSync(file, text);
    return file;
  });
  const interval = options.interval ?? '1s';
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: ruleFiles,
      ...(options.alertmanager === undefined
        ? {}
        : { alerting: { alertmanagers: [{ static_configs: [{ targets: [options.alertmanager] }] }] } }),
      scrape_configs: [{ job_name: 'vigil', static_configs: [{ targets: options.targets }] }],
    }),
  );
  const port = await freePort();
  return startDaemon(
    PROMETHEUS_BIN,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    `http://127.0.0.1:${port}`,
    '/-/ready',
    dir,
  );
}

export async function startAlertmanager(webhookUrl: string): Promise<Daemon> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-alertmanager-'));
  writeFileSync(
    path.join(dir, 'alertmanager.yml'),
    stringify({
      route: {
        receiver: 'test',
        group_by: ['alertname'],
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
      },
      receivers: [{ name: 'test', webhook_configs: [{ url: webhookUrl, send_resolved: false }] }],
    }),
  );
  const port = await freePort();
  return startDaemon(
    ALERTMANAGER_BIN,
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    `http://127.0.0.1:${port}`,
    '/-/ready',
    dir,
  );
}

/** One alert as Alertmanager's webhook delivers it. */
export interface WebhookAlert {
  readonly status: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export interface Webhook {
  readonly url: string;
  readonly alerts: WebhookAlert[];
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const alerts: WebhookAlert[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      try {
        alerts.push(...(JSON.parse(body) as { alerts: WebhookAlert[] }).alerts);
      } catch {
        // Not an Alertmanager payload; nothing to record.
      }
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    alerts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Series {
  readonly metric: Record<string, string>;
  readonly values: [number, string][];
}

/** query_range over [start, end] (seconds), step in seconds; throws on a query error. */
export async function queryRange(
  base: string,
  expr: string,
  start: number,
  end: number,
  step = 1,
): Promise<Series[]> {
  const params = new URLSearchParams({
    query: expr,
    start: String(start),
    end: String(end),
    step: String(step),
  });
  const res = await fetch(`${base}/api/v1/query_range?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`query_range ${expr}: ${body.error}`);
  return body.data!.result;
}

/** An instant query; throws on a query error. */
export async function query(
  base: string,
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
  return body.data!.result;
}

/**
 * The production rule file, made to fire within a test: every `for` becomes 0s and every range window 20s
 * (Prometheus scrapes every second here). The expressions themselves are unchanged.
 */
export function testRules(): string {
  const file = path.resolve(import.meta.dirname, '../../helm/vigil/rules/vigil.rules.yaml');
  return readFileSync(file, 'utf8')
    .replace(/^(\s+)for: \S+$/gm, '$1for: 0s')
    .replace(/\[(\d+)(m|h)\]/g, '[20s]');
}

/** Polls `probe` every 500 ms until it returns a value; throws naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
