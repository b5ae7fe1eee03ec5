/**
 * The client SDK in a real browser: Debian's Chromium (/usr/bin/chromium, driven by
 * playwright-core) loads a page from the gateway's own server that imports the freshly built
 * bundle from `/troupe/client.js`, subscribes to a board and renders its `n`, and sends `inc`
 * from a button. A change made from Node shows on the page live; a click changes the actor.
 * A page with a wrong token never gets state (the browser cannot see the 401, so the SDK keeps
 * retrying), and a page from another origin is refused (403). Without /usr/bin/chromium
 * (`apt-get install -y chromium`; .ci/run installs it) the suite is skipped with a warning.
 * The screenshot of the board is written to test-output/browser/board.png.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ActorRef, Gateway } from '../../index.ts';
import { buildClientBundle } from '../../protocol/client/build.ts';
import { board, type BoardMsg } from '../fixtures/gateway-behaviours.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`test/e2e/browser.test.ts skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

const SCREENSHOT = fileURLToPath(new URL('../../test-output/browser/board.png', import.meta.url));

type View = { n: number; value: unknown; at: number };

/**
 * The page: `n` in #n (… until the first snapshot), the connection's state in #state, and a
 * button (enabled at the first snapshot) that sends `inc`; #inc's data-sent counts the sends
 * the gateway accepted. `window.troupe` is the client.
 */
function pageHtml(o: { bundle: string; gateway: string; token: string }): string {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>troupe board</title></head>
<body>
<p>n = <output id="n">…</output></p>
<p>connection: <span id="state">connecting</span></p>
<button id="inc" disabled>inc</button>
<script type="module">
  import { connect } from ${JSON.stringify(o.bundle)};
  const client = connect(${JSON.stringify(o.gateway)}, { token: ${JSON.stringify(o.token)} });
  window.troupe = client;
  const $ = (id) => document.getElementById(id);
  client.on('state', (c) => { $('state').textContent = c.state; });
  client.subscribe('/user/board', (view, info) => {
    $('n').textContent = String(view.n);
    $('n').dataset.version = String(info.version);
    $('inc').disabled = false;
  });
  $('inc').addEventListener('click', () => {
    client.send('/user/board', { type: 'inc' }).then(
      () => { $('inc').dataset.sent = String(Number($('inc').dataset.sent ?? 0) + 1); },
      (e) => { $('inc').dataset.error = String(e); },
    );
  });
</script>
</body>
</html>
`;
}

const html =
  (body: string) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(body);
  };

const js =
  (body: Buffer) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
    });
    res.end(body);
  };

/** Waits until the page's #n reads `text`. */
async function shows(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    `document.getElementById('n').textContent === ${JSON.stringify(text)}`,
    undefined,
    { timeout: 5_000 },
  );
}

const refused = (gateway: Gateway, status: number): number => gateway.stats().refused[status] ?? 0;

describe.skipIf(!hasChromium)('the client SDK in Chromium', () => {
  let dir: string | undefined;
  let harness: GatewayHarness | undefined;
  let gateway: Gateway;
  let boardRef: ActorRef<BoardMsg, unknown>;
  let other: Server | undefined;
  let otherOrigin: string;
  let browser: Browser | undefined;
  let base: string;
  const pageErrors: string[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    // the bundle is built here, from the sources: the test needs no prior `npm run build:client`
    dir = await mkdtemp(join(tmpdir(), 'troupe-browser-'));
    const bundle = await readFile(await buildClientBundle(join(dir, 'troupe-client.js')));
    harness = await startGateway();
    gateway = harness.system.gateway!;
    boardRef = harness.system.spawn(board, { name: 'board' }) as ActorRef<BoardMsg, unknown>;
    base = `http://127.0.0.1:${gateway.port}`;
    // routes come before the gateway's own /troupe/client.js (dist/, maybe stale or absent)
    gateway.route('/troupe/client.js', js(bundle));
    gateway.route(
      '/',
      html(pageHtml({ bundle: '/troupe/client.js', gateway: '/troupe', token: 'alice' })),
    );
    gateway.route(
      '/wrong-token',
      html(pageHtml({ bundle: '/troupe/client.js', gateway: '/troupe', token: 'mallory' })),
    );
    // another origin: its own server serves the page and the bundle, and dials the gateway
    const otherPage = html(
      pageHtml({ bundle: '/client.js', gateway: gateway.url, token: 'alice' }),
    );
    const otherBundle = js(bundle);
    other = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') return otherPage(req, res);
      if (path === '/client.js') return otherBundle(req, res);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => other!.listen(0, '127.0.0.1', resolve));
    otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (other !== undefined) {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other!.close(() => resolve()));
    }
    await harness?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  // each test starts with no page open and no connection left
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close()));
    pageErrors.length = 0;
    if (harness !== undefined) await until(() => gateway.stats().connections === 0);
  });

  async function open(url: string): Promise<Page> {
    const page = await browser!.newPage();
    pages.push(page);
    page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
    await page.goto(url);
    return page;
  }

  it('shows the board live, and its button changes the actor', async () => {
    const page = await open(`${base}/`);
    await shows(page, '0');
    expect(await page.textContent('#state')).toBe('open');
    expect(gateway.stats().connections).toBe(1);

    // a change made from Node reaches the page
    boardRef.tell({ type: 'inc' });
    await shows(page, '1');

    // a click sends inc through the gateway: the actor's n is 2, and the page shows it
    await page.click('#inc');
    await page.waitForSelector('#inc[data-sent="1"]', { timeout: 5_000 });
    expect(await page.getAttribute('#inc', 'data-error')).toBeNull();
    expect(await boardRef.ask({ type: 'get' })).toMatchObject({ n: 2 });
    await shows(page, '2');

    // and an ask from the page answers the actor's view
    const asked = (await page.evaluate(
      `window.troupe.ask('/user/board', { type: 'get' })`,
    )) as View;
    expect(asked.n).toBe(2);

    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('gives a page with a wrong token no state: refused (401), it keeps retrying', async () => {
    const before = refused(gateway, 401);
    const page = await open(`${base}/wrong-token`);
    // the browser cannot see the 401, so the SDK dials again after its backoff
    await until(() => refused(gateway, 401) >= before + 2, 5_000);
    expect(await page.textContent('#n')).toBe('…');
    expect(await page.textContent('#state')).toBe('reconnecting');
    expect(await page.isDisabled('#inc')).toBe(true);
    expect(gateway.stats().connections).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a page from another origin (403) and gives it no state', async () => {
    const before = refused(gateway, 403);
    const page = await open(`${otherOrigin}/`);
    await until(() => refused(gateway, 403) >= before + 1, 5_000);
    // by then the page has its bundle: it would have rendered a snapshot had it been let in
    await page.waitForFunction(`window.troupe !== undefined`, undefined, { timeout: 5_000 });
    expect(await page.textContent('#n')).toBe('…');
    expect(await page.textContent('#state')).not.toBe('open');
    expect(await page.isDisabled('#inc')).toBe(true);
    expect(gateway.stats().connections).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
