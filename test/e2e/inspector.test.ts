import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { setTimeout } from 'node:timers/promises';
import WebSocket from 'ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { assign, createMachine } from 'xstate';
import {
  createSystem,
  fromMachine,
  fromReceive,
  supervise,
  type ActorRef,
  type ActorSystem,
} from '../../index.ts';
import { SUBPROTOCOL } from '../../protocol/client-protocol.ts';
import { buildClientBundle, buildInspectorBundle } from '../../protocol/client/build.ts';

/**
 * The live inspector (`/inspect`) in Debian's Chromium: a supervisor tree, a counter that
 * changes, a child that fails and is restarted, an event sent from the page; the sign-in
 * and the refusals; and a node with 10,000 actors. Screenshots go to test-output/inspector/.
 */
/** The page's document, inside page.waitForFunction callbacks (they run in the browser). */
declare const document: {
  querySelector(s: string): { textContent: string | null } | null;
  querySelectorAll(s: string): Iterable<{
    textContent: string | null;
    getAttribute(name: string): string | null;
  }>;
};

const CHROMIUM = '/usr/bin/chromium';
const OUT = new URL('../../test-output/inspector/', import.meta.url);
const TOKEN = 'open-sesame';

if (!existsSync(CHROMIUM))
  console.warn(`test/e2e/inspector.test.ts skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

type WorkerMsg = { type: 'work' } | { type: 'fail' };
const worker = fromReceive(0, (n: number, m: WorkerMsg) => {
  if (m.type === 'fail') throw new Error('worker asked to fail');
  return n + 1;
});

const light = createMachine({
  types: {} as { context: { changes: number }; events: { type: 'next' } },
  initial: 'green',
  context: { changes: 0 },
  states: {
    green: {
      on: {
        next: {
          target: 'amber',
          actions: assign({ changes: ({ context }) => context.changes + 1 }),
        },
      },
    },
    amber: {
      on: {
        next: { target: 'red', actions: assign({ changes: ({ context }) => context.changes + 1 }) },
      },
    },
    red: {
      on: {
        next: {
          target: 'green',
          actions: assign({ changes: ({ context }) => context.changes + 1 }),
        },
      },
    },
  },
});

async function signIn(page: Page, base: string): Promise<void> {
  const first = await page.goto(`${base}/inspect`);
  expect(first?.status()).toBe(401);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/inspect`), page.click('button[type=submit]')]);
}

const textOf = (page: Page, selector: string) => page.locator(selector).first().textContent();

describe.skipIf(!existsSync(CHROMIUM))('inspector in Chromium', () => {
  let browser: Browser;
  let system: ActorSystem;
  let base: string;
  let counter: ActorRef<{ type: 'inc' }>;

  beforeAll(async () => {
    // the gateway serves the bundles from dist/ (npm run build:client)
    await Promise.all([buildClientBundle(), buildInspectorBundle()]);
    mkdirSync(OUT, { recursive: true });
    system = createSystem({
      gateway: {
        authenticate: (t) => (t === TOKEN ? { id: 'ops' } : null),
        authorize: () => true,
        inspector: { sampleMs: 200 },
      },
    });
    await system.gateway!.ready;
    base = `http://127.0.0.1:${system.gateway!.port}`;
    system.spawn(
      supervise({
        strategy: 'one-for-one',
        intensity: 10,
        children: [
          { id: 'worker-1', behaviour: worker },
          { id: 'worker-2', behaviour: worker },
          { id: 'light', behaviour: fromMachine(light) },
        ],
      }),
      { name: 'swarm' },
    );
    counter = system.spawn(
      fromReceive(0, (n: number, _m: { type: 'inc' }) => n + 1),
      { name: 'counter' },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.shutdown();
  });

  it('shows the tree live: a state change, a restart in the tree and the feed, an event sent from the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signIn(page, base);
    await page.waitForSelector('.row[data-path="/user/swarm"]');
    await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'open');
    // the supervisor's children
    await page.click('.row[data-path="/user/swarm"] .tog');
    await page.waitForSelector('.row[data-path="/user/swarm/worker-1"]');
    expect(await textOf(page, '.row[data-path="/user/swarm/light"] .kind')).toBe('machine');
    expect(await textOf(page, '.row[data-path="/user/swarm/light"] .st-running')).toBe('green');

    // a counter's state, live
    await page.click('.row[data-path="/user/counter"]');
    await page.waitForFunction(() => document.querySelector('#snapshot')?.textContent === '0');
    counter.tell({ type: 'inc' });
    counter.tell({ type: 'inc' });
    await page.waitForFunction(() => document.querySelector('#snapshot')?.textContent === '2');
    // its recent messages were recorded while it was selected
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#detail-body td')].some((td) => td.textContent === 'inc'),
    );

    // a child fails: the restart shows in the tree and in the feed
    const w1 = system.refOf(
      `troupe://${system.nodeId}/user/swarm/worker-1` as never,
    ) as ActorRef<WorkerMsg>;
    w1.tell({ type: 'fail' });
    // the row's numbers: queued, msgs/s, restarts, dead letters
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('.row[data-path="/user/swarm/worker-1"] .num')][2]
          ?.textContent === '1',
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#feed-body .feedrow')].some(
        (r) =>
          r.textContent!.includes('child-restarted') &&
          r.textContent!.includes('/user/swarm/worker-1'),
      ),
    );
    expect(
      await page.locator('#feed-body .feedrow', { hasText: 'child-failed' }).first().textContent(),
    ).toContain('worker asked to fail');
    // the feed filters by path
    await page.fill('#filter', 'worker-2');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#feed-body .feedrow')].every((r) =>
        r.getAttribute('data-path')!.includes('worker-2'),
      ),
    );
    await page.fill('#filter', '');

    // an event sent from the page changes the machine's state
    await page.click('.row[data-path="/user/swarm/light"]');
    await page.waitForFunction(() =>
      document.querySelector('#snapshot')?.textContent?.includes('"green"'),
    );
    await page.fill('#message', '{ "type": "next" }');
    await page.click('#send');
    await page.waitForFunction(() =>
      document.querySelector('#snapshot')?.textContent?.includes('"amber"'),
    );
    await page.waitForFunction(
      () =>
        document.querySelector('.row[data-path="/user/swarm/light"] .st-running')?.textContent ===
        'amber',
    );
    // and an ask's reply is shown
    await page.click('.row[data-path="/user/counter"]');
    await page.fill('#message', '{ "type": "inc" }');
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('#snapshot')?.textContent === '3');
    await page.screenshot({ path: new URL('inspector.png', OUT).pathname });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses the page and its socket without a token', async () => {
    const res = await fetch(`${base}/inspect`);
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).not.toContain('supervision tree');
    expect(body).toContain('name="token"');
    const wrong = await fetch(`${base}/inspect`, { headers: { cookie: 'troupe_session=nope' } });
    expect(wrong.status).toBe(401);
    const bad = await fetch(`${base}/inspect/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'nope' }),
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    // another site's page cannot sign a browser in
    const csrf = await fetch(`${base}/inspect/login`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
      body: new URLSearchParams({ token: TOKEN }),
    });
    expect(csrf.status).toBe(403);
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${system.gateway!.port}/troupe`, [SUBPROTOCOL], {
          headers,
        });
        ws.on('error', () => undefined);
        ws.on('unexpected-response', (_q, r) => {
          resolve(r.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('upgrade', () => {
          resolve(101);
          ws.terminate();
        });
      });
    const origin = base;
    expect(await status({ origin })).toBe(401);
    expect(await status({ origin, cookie: 'troupe_session=nope' })).toBe(401);
    // the session cookie counts only from a page of the gateway's own origin
    expect(await status({ cookie: `troupe_session=${TOKEN}` })).toBe(401);
    expect(await status({ origin, cookie: `troupe_session=${TOKEN}` })).toBe(101);
    // a browser without the cookie gets the sign-in page, not the inspector
    const page = await browser.newPage();
    const r = await page.goto(`${base}/inspect`);
    expect(r?.status()).toBe(401);
    expect(await page.locator('#rows').count()).toBe(0);
    await page.close();
  });

  it('stays usable with 10,000 actors: the top levels and the counts render and update', async () => {
    const big = createSystem({
      gateway: {
        authenticate: (t) => (t === TOKEN ? { id: 'ops' } : null),
        authorize: () => true,
        inspector: { sampleMs: 500 },
      },
    });
    try {
      await big.gateway!.ready;
      const idle = fromReceive(0, (n: number, _m: unknown) => n + 1);
      for (let i = 0; i < 100; i++) {
        const group = big.spawn(supervise({ strategy: 'one-for-one', children: [] }), {
          name: `group-${i}`,
        });
        void group;
      }
      for (let i = 0; i < 10_000; i++) big.spawn(idle, { name: `agent-${i}` });
      const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
      await signIn(page, `http://127.0.0.1:${big.gateway!.port}`);
      await page.waitForFunction(
        () => Number(document.querySelector('#t-actors')?.textContent?.replace(/,/g, '')) >= 10_100,
        null,
        { timeout: 15_000 },
      );
      // the top of /user is rendered, the rest is a page away; only rows in view are in the DOM
      await page.waitForSelector('.row[data-path="/user/group-0"]');
      expect(await page.locator('.row[data-more="/user"]').count()).toBeLessThanOrEqual(1);
      expect(await page.locator('.row').count()).toBeLessThan(200);
      const rowsNote = await textOf(page, '#tree-note');
      expect(Number(rowsNote!.split(' ')[0])).toBeLessThan(300);
      // and it updates: more actors show in the counts
      for (let i = 0; i < 25; i++) big.spawn(idle, { name: `late-${i}` });
      await page.waitForFunction(
        () => Number(document.querySelector('#t-actors')?.textContent?.replace(/,/g, '')) >= 10_125,
        null,
        { timeout: 15_000 },
      );
      await setTimeout(100);
      await page.screenshot({ path: new URL('inspector-10k.png', OUT).pathname });
      await page.close();
    } finally {
      await big.shutdown();
    }
  });
});
