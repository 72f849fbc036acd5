// Time from navigation to the web map's first complete render (style, every
// tile and glyph it needs, not moving; the browser test's own wait, looked at
// on every frame) in Debian's headless Chromium (software GL), three ways, for
// each of STARTS browser starts:
//   in use — a browser that has drawn an ordinary page first (a person opening
//            the map from another site), the map in a new context, its tab
//            drawn blank before the address is typed;
//   again  — the map opened again in that browser the same way (no HTTP
//            cache; its GPU process has drawn the map once);
//   cold   — the first page of a browser launched a moment before, as the
//            browser test's first page (the browser's own start inside).
// Start a server first, e.g.
//   target/release/ess-map --data data --state target/bench-state serve --listen 127.0.0.1:8931
// Usage: node bench/first_render.mjs http://127.0.0.1:8931 [STARTS] [PATH]
//        V=1 lists each resource's start and end (ms since navigation).
import { launchBrowser, openPage, showOrdinaryPage } from '../tests/browser/support.mjs';

const [base, starts = '5', view = '/?lon=2.35313&lat=48.88699&z=14'] = process.argv.slice(2);
if (!base) throw new Error('usage: node bench/first_render.mjs BASE_URL [STARTS] [PATH]');

/** The map opened in a new context (no HTTP cache); `settled`: in a tab that has drawn its blank page. */
async function render(browser, settled) {
  const { page, context, renderMs } = await openPage(browser, base + view, undefined, { settled });
  if (process.env.V) {
    const timings = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((r) => [r.name.replace(location.origin, ''), Math.round(r.startTime), Math.round(r.responseEnd)]));
    for (const t of timings) console.log('  ', t.join(' '));
  }
  await context.close();
  return renderMs;
}

const figures = { 'in use': [], again: [], cold: [] };
for (let i = 0; i < Number(starts); i++) {
  const used = await launchBrowser();
  await showOrdinaryPage(used);
  figures['in use'].push(await render(used, true));
  figures.again.push(await render(used, true), await render(used, true));
  await used.close();
  const fresh = await launchBrowser();
  figures.cold.push(await render(fresh, false));
  await fresh.close();
  console.log(`start ${i + 1}: in use ${figures['in use'].at(-1)} ms, again ${figures.again.slice(-2).join(' / ')} ms, cold ${figures.cold.at(-1)} ms`);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [name, xs] of Object.entries(figures)) {
  console.log(`${name}: median ${median(xs)} ms, ${Math.min(...xs)}–${Math.max(...xs)} ms (${xs.length} pages)`);
}
