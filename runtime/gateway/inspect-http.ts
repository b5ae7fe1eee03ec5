/**
 * The inspector's HTTP side, on the gateway's own server:
 *
 *   GET  /inspect          the page, for a request whose token `authenticate` accepts (an
 *                          `Authorization: Bearer` header, or the session cookie); otherwise
 *                          401 and a sign-in form, and no inspector
 *   POST /inspect/login    the form's token: if `authenticate` accepts it, an HttpOnly,
 *                          SameSite=Strict cookie holds it and the browser goes to /inspect;
 *                          a post from a page of another origin than the gateway's public
 *                          origin is refused (403)
 *   GET  /inspect/logout   clears the cookie
 *   GET  /inspect/app.js   the page's script (dist/troupe-inspector.js, `npm run build:client`)
 *
 * The page's WebSocket carries no token of its own: the gateway takes the cookie's, and only
 * from a page of its public origin (`publicOrigin`, runtime/gateway/options.ts; never judged
 * from the Host header). Every request the page makes then goes through `authorize` like any
 * client's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspectorPage, signInPage } from '../inspector/page.ts';
import type { Principal } from './options.ts';

export const SESSION_COOKIE = 'troupe_session';
/** Largest sign-in form accepted. */
const MAX_FORM_BYTES = 8 * 1024;

const INSPECTOR_BUNDLE_URL = new URL('../../dist/troupe-inspector.js', import.meta.url);

export interface InspectorHost {
  authenticate(
    token: string | null,
    req: IncomingMessage,
  ): Principal | null | Promise<Principal | null>;
  /** The request's Origin is the gateway's public origin. */
  sameOrigin(req: IncomingMessage): boolean;
  /** The gateway's public origin, or null when it has none. */
  publicOrigin(): string | null;
  clientUrl(): string;
  endpoint(): string;
  secure(): boolean;
  logError(message: string, error: unknown): void;
}

/** The session cookie's token, or null. */
export function sessionToken(req: IncomingMessage): string | null {
  const cookie = req.headers.cookie;
  if (cookie === undefined) return null;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    try {
      const v = decodeURIComponent(part.slice(eq + 1).trim());
      return v.length === 0 ? null : v;
    } catch {
      return null;
    }
  }
  return null;
}

function bearer(req: IncomingMessage): string | null {
  const m = /^Bearer ([^\s].*)$/i.exec(req.headers.authorization ?? '');
  return m === null ? null : m[1]!;
}

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

function html(res: ServerResponse, status: number, body: string, nonce: string | null): void {
  res.writeHead(status, {
    ...HTML_HEADERS,
    'content-security-policy': `default-src 'self'; script-src 'self'${nonce === null ? '' : ` 'nonce-${nonce}'`}; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'`,
  });
  res.end(body);
}

async function accepted(
  host: InspectorHost,
  token: string | null,
  req: IncomingMessage,
): Promise<boolean> {
  if (token === null) return false;
  try {
    const p = await host.authenticate(token, req);
    return p !== null && p !== undefined && typeof p.id === 'string';
  } catch (e) {
    host.logError('troupe: the gateway’s authenticate threw (inspector)', e);
    return false;
  }
}

function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > MAX_FORM_BYTES) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', () => resolve(null));
  });
}

export async function serveInspector(
  host: InspectorHost,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/inspect' && (method === 'GET' || method === 'HEAD')) {
    const token = bearer(req) ?? sessionToken(req);
    if (!(await accepted(host, token, req))) return html(res, 401, signInPage(null), null);
    const nonce = randomBytes(16).toString('base64');
    return html(res, 200, inspectorPage(host.clientUrl(), host.endpoint(), nonce), nonce);
  }
  if (path === '/inspect/login' && method === 'POST') {
    // a sign-in posted by another site's page would plant its token here
    if (req.headers.origin !== undefined && !host.sameOrigin(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        host.publicOrigin() === null
          ? 'sign-in refused: the gateway has no public origin (set options.gateway.publicOrigin to the origin of this page)\n'
          : 'cross-origin sign-in refused\n',
      );
      return;
    }
    const form = await readForm(req);
    const token = form?.get('token') ?? null;
    if (!(await accepted(host, token, req)))
      return html(res, 401, signInPage('that token is not accepted'), null);
    res.writeHead(303, {
      location: '/inspect',
      'cache-control': 'no-store',
      'set-cookie': `${SESSION_COOKIE}=${encodeURIComponent(token!)}; HttpOnly; SameSite=Strict; Path=/${host.secure() ? '; Secure' : ''}`,
    });
    res.end();
    return;
  }
  if (path === '/inspect/logout') {
    res.writeHead(303, {
      location: '/inspect',
      'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`,
    });
    res.end();
    return;
  }
  if (
    (path === '/inspect/app.js' || path === '/inspect/troupe-inspector.js.map') &&
    method === 'GET'
  ) {
    const file =
      path === '/inspect/app.js'
        ? INSPECTOR_BUNDLE_URL
        : new URL('troupe-inspector.js.map', INSPECTOR_BUNDLE_URL);
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type':
          path === '/inspect/app.js' ? 'text/javascript; charset=utf-8' : 'application/json',
        'cache-control': 'no-cache',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('the inspector is not built: run `npm run build:client`\n');
    }
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}
