import type { IncomingMessage, ServerResponse } from 'node:http';
import { livePage } from './live-page.js';
import type { LiveView } from './live-view.js';

/**
 * The live view's routes on the service's HTTP server (the one serving /metrics): `<path>` answers the page,
 * `<path>/data` the JSON snapshot it polls. Returns false for any other URL, so the caller answers it.
 */
export function liveRoutes(
  view: Pick<LiveView, 'snapshot'>,
  path: string,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const base = path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path;
  const dataPath = `${base === '/' ? '' : base}/data`;
  const page = livePage(dataPath);
  return (req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (url === base || url === `${base}/`) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Self-contained: nothing but its own inline script and style, and its data from the same origin.
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      res.end(page);
      return true;
    }
    if (url === dataPath) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(view.snapshot()));
      return true;
    }
    return false;
  };
}
