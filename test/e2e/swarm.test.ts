import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { buildClientBundle, buildInspectorBundle } from '../../protocol/client/build.ts';

/**
 * `npm start`'s swarm (examples/swarm/main.ts, scripted models) end to end in Debian's
 * Chromium: it runs to the approval; the test approves in the inspector; the swarm finishes
 * and the published brief shows; worker-2's crash and restart show in the tree and the feed;
 * Ctrl-C stops it cleanly. The screenshot of the inspector mid-run (the approval) is the
 * README's: docs/inspector.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const MAIN = new URL('../../examples/swarm/main.ts', import.meta.url).pathname;
const SCREENSHOT = new URL('../../docs/inspector.png', import.meta.url).pathname;

if (!existsSync(CHROMIUM))
  console.warn(`test/e2e/swarm.test.ts skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

declare const document: {
  querySelector(s: string): { textContent: string | null } | null;
  querySelectorAll(s: string): Iterable<{ textContent: string | null }>;
};

describe.skipIf(!existsSync(CHROMIUM))('npm start: the swarm', () => {
  let child: ChildProcess;
  let browser: Browser;
  let url = '';
  let token = '';
  let output = '';

  beforeAll(async () => {
    await Promise.all([buildClientBundle(), buildInspectorBundle()]);
    child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: '0', NODE_OPTIONS: '--no-node-snapshot' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 15_000);
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        const m = /troupe-swarm (\{.*\})/.exec(output);
        if (m === null) return;
        clearTimeout(t);
        ({ url, token } = JSON.parse(m[1]!) as { url: string; token: string });
        resolve();
      });
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  });

  it(
    'runs to the approval, is approved in the inspector, publishes, and shows the crash and the restart',
    { timeout: 90_000 },
    async () => {
      expect(output).toContain('What to look at');
      const page = await browser.newPage({ viewport: { width: 1440, height: 860 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.fill('#token', token);
      await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
      await page.waitForSelector('.row[data-path="/user/swarm"]');
      await page.click('.row[data-path="/user/swarm"] .tog');
      await page.waitForSelector('.row[data-path="/user/swarm/planner"]');
      // the planner comes to its approval
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('.row[data-path="/user/swarm/planner"] span')].some(
            (s) => s.textContent === 'awaitingApproval',
          ),
        null,
        { timeout: 30_000 },
      );
      // worker-2 crashed once and was restarted: the row and the feed say so
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('.row[data-path="/user/swarm/worker-2"] .num')][2]
            ?.textContent === '1',
      );
      await page.waitForFunction(() =>
        [...document.querySelectorAll('#feed-body .feedrow')].some(
          (r) => r.textContent!.includes('child-restarted') && r.textContent!.includes('worker-2'),
        ),
      );
      await page.click('.row[data-path="/user/swarm/planner"]');
      await page.waitForSelector('#approve');
      expect(await page.locator('#approval').textContent()).toContain('publish(');
      await page.waitForTimeout(600);
      mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      await page.click('#approve');
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('.row[data-path="/user/swarm/planner"] span')].some(
            (s) => s.textContent === 'done',
          ),
        null,
        { timeout: 30_000 },
      );
      // the published brief
      await page.click('.row[data-path="/user/swarm/board"]');
      await page.waitForFunction(() =>
        document.querySelector('#snapshot')?.textContent?.includes('Agents as supervised actors'),
      );
      const board = await page.locator('#snapshot').textContent();
      expect(board).toContain('worker-4');
      expect(board).toContain('Sent worker-3 back');
      // the task again, from the page: the planner starts over and comes back to an approval
      await page.click('.row[data-path="/user/swarm/planner"]');
      await page.fill('#message', '{ "type": "task", "input": "Once more, shorter" }');
      await page.click('#send');
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('.row[data-path="/user/swarm/planner"] span')].some(
            (s) => s.textContent === 'awaitingApproval',
          ),
        null,
        { timeout: 30_000 },
      );
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  it('stops cleanly on Ctrl-C', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('stopping the swarm');
  });
});
