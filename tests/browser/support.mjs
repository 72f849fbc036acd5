// What the browser test files share: the real ess-map binary on loopback
// (ESS_MAP_BIN, ESS_MAP_DATA, passed by tests/tests/browser.rs), Debian's
// headless Chromium, a page that records its requests and console errors,
// and the wait for a complete render.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** A loopback port free right now. */
export async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `ess-map serve` on a loopback port (a free one unless given), on the
 * shipped data unless another directory is given: its process and address. */
export async function startServer(state, args = ['--geocoder', 'none'], port = 0, data = process.env.ESS_MAP_DATA) {
  const server = spawn(process.env.ESS_MAP_BIN,
    ['--data', data, '--state', state, ...args, 'serve', '--listen', `127.0.0.1:${port}`],
    // A debug build on a loaded machine may need more than the product's 10 s per analysis.
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ESS_MAP_ANALYSIS_TIMEOUT_S: '120', ...process.env, RUST_LOG: 'warn' } });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`ess-map exited with ${code}`)));
  });
  return { server, base: line.replace('ess-map listening on ', '').trim() };
}

/** The `[smtp]` section of a configuration sending through the test's SMTP server. */
export function smtpConfig() {
  return `[smtp]\nurl = "smtp://127.0.0.1:${process.env.ESS_MAP_SMTP_PORT}"\nfrom = "Carte ESS <ne-pas-repondre@carte.example.org>"\n`;
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-features=Translate'],
  });
}

/** The screen the pages are opened on unless a test says otherwise. */
const DESKTOP = { width: 1280, height: 800 };

/** A page that records every request and every console error. `settled`:
 * the new tab draws its blank page first, as a tab a person types an address
 * in has (else the tab's own start falls within the time measured). */
export async function openPage(browser, url, viewport = DESKTOP, { settled = false } = {}) {
  const context = await browser.newContext({ viewport, locale: 'fr-FR' });
  const page = await context.newPage();
  if (settled) await drawn(page);
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const started = Date.now();
  await page.goto(url);
  await waitIdle(page);
  return { page, context, requests, errors, renderMs: Date.now() - started };
}

/** Until the map has loaded every tile and glyph it needs and stopped moving,
 * looked at on every animation frame (a 100 ms poll added 0–100 ms to the
 * time of the first complete render). */
export async function waitIdle(page) {
  await page.waitForFunction(() => {
    const m = document.documentElement.dataset.ready === 'true' && window.essMap.map;
    return m && m.loaded() && m.areTilesLoaded() && !m.isMoving();
  }, null, { timeout: 60_000, polling: 'raf' });
}

/** Makes `browser` one in use: it has drawn an ordinary page (text, a link,
 * form controls) in a context of its own, closed since — as when a person
 * opens the map from a search or another site. A browser launched a moment
 * before has drawn nothing: its GPU process compiles the drawing of text and
 * controls for the first page it shows, whatever the page (~0.45 s with
 * software GL here). */
export async function showOrdinaryPage(browser) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'fr-FR' });
  const page = await context.newPage();
  await page.setContent(`<!doctype html><html lang="fr"><title>Accueil</title><h1>Une page ordinaire</h1>
    <p>${'Du texte, <a href="#">un lien</a>, des contrôles de formulaire. '.repeat(30)}</p>
    <form><input type="search" placeholder="Rechercher"> <select><option>Un choix</option></select>
    <label><input type="checkbox" checked> case</label> <label><input type="radio" checked> bouton radio</label>
    <button type="button">Valider</button></form>`);
  await drawn(page);
  await context.close();
}

/** Once the page's frames are made and the GPU process has had time to draw them. */
async function drawn(page) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  await page.waitForTimeout(500);
}
