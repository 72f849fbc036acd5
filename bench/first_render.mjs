// Time from navigation to the web map's first complete render (style, every
// tile and glyph it needs, not moving), as tests/browser/map.test.mjs waits
// for it, in Debian's headless Chromium (software GL): one browser, N fresh
// contexts in a row, so the first page (GPU process and shaders cold) and
// the later ones are told apart. Start a server first, e.g.
//   target/release/ess-map --data data --state target/bench-state serve --listen 127.0.0.1:8931
// Usage: node bench/first_render.mjs http://127.0.0.1:8931 [PAGES] [PATH]
//        V=1 lists each resource's start and end (ms since navigation).
import { chromium } from '../web/node_modules/playwright-core/index.mjs';

const [base, pages = '5', view = '/?lon=2.35313&lat=48.88699&z=14'] = process.argv.slice(2);
if (!base) throw new Error('usage: node bench/first_render.mjs BASE_URL [PAGES] [PATH]');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-features=Translate'],
});
for (let i = 0; i < Number(pages); i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'fr-FR' });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(base + view);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const m = window.essMap.map;
    return m.loaded() && m.areTilesLoaded() && !m.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
  console.log(`page ${i + 1}: ${Date.now() - started} ms`);
  if (process.env.V) {
    const timings = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((r) => [r.name.replace(location.origin, ''), Math.round(r.startTime), Math.round(r.responseEnd)]));
    for (const t of timings) console.log('  ', t.join(' '));
  }
  await context.close();
}
await browser.close();
