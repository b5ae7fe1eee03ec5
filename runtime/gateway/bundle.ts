/**
 * The client SDK's browser bundle, served by the gateway under its path: `<path>/client.js`
 * and its source map, when `npm run build:client` has written them (dist/). A page of an
 * allowed origin may load it as a module script: the answer then carries CORS headers for
 * that origin only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';

/** Where the browser bundle is written by `npm run build:client`. */
export const CLIENT_BUNDLE_URL = new URL('../../dist/troupe-client.js', import.meta.url);

/** The bundle's file for a request path under `gatewayPath`, or null for another path. */
export function bundleFile(path: string, gatewayPath: string): URL | null {
  if (path === `${gatewayPath}/client.js`) return CLIENT_BUNDLE_URL;
  if (path === `${gatewayPath}/troupe-client.js.map`)
    return new URL('troupe-client.js.map', CLIENT_BUNDLE_URL);
  return null;
}

/** Answers a GET or HEAD of `file`; `corsOrigin` is an allowed page's origin, or null. */
export function serveBundle(
  file: URL,
  req: IncomingMessage,
  res: ServerResponse,
  corsOrigin: string | null,
): void {
  const cors: Record<string, string> =
    corsOrigin === null ? {} : { 'access-control-allow-origin': corsOrigin, vary: 'Origin' };
  void readFile(file).then(
    (body) => {
      res.writeHead(200, {
        'content-type':
          file === CLIENT_BUNDLE_URL
            ? 'text/javascript; charset=utf-8'
            : 'application/json; charset=utf-8',
        'content-length': body.byteLength,
        'cache-control': 'no-cache',
        ...cors,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...cors });
      res.end('the client bundle is not built: run `npm run build:client`\n');
    },
  );
}
