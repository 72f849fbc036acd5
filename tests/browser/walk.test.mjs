// « Manques » on foot (issue 24), in headless Chromium against the real
// binary on the Monaco fixture (tests/walk/fixture, the OpenStreetMap
// extract fetched from PyPI by tests/walk/monaco_extract.py): choosing « à
// pied » colours the QPV from the walking analysis, names the nearest
// initiative in minutes and flags the « coupure » under the Rocher; the
// chosen QPV's walkable area is drawn; without a network, the map says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, openPage, startServer, waitIdle } from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const fixture = path.join(root, 'tests/walk/fixture');
let browser; let dir; const servers = [];

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ess-map-walk-'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A server on the fixture, with the Monaco network or without. */
async function serve(name, withNetwork) {
  const state = path.join(dir, name);
  mkdirSync(state);
  const config = path.join(state, 'ess-map.toml');
  let text = '';
  if (withNetwork) {
    const extract = path.join(root, 'target/walk-fixtures/monaco.osm.pbf');
    mkdirSync(path.dirname(extract), { recursive: true });
    const fetched = spawnSync('python3', [path.join(root, 'tests/walk/monaco_extract.py'), extract], { encoding: 'utf8' });
    assert.equal(fetched.status, 0, fetched.stderr);
    text = `osm = [${JSON.stringify(extract)}]\n`;
  }
  writeFileSync(config, text);
  const { server, base } = await startServer(state,
    ['--config', config, '--manifest', path.join(fixture, 'manifest.toml'), '--geocoder', 'none'], 0, fixture);
  servers.push(server);
  if (withNetwork) {
    // Built in the background: 503 until ready.
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${base}/api/qpv/QN00601M/isochrone`);
      if (r.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return base;
}

test('à pied : colours, minutes, coupure and the walkable area of the chosen QPV', async () => {
  const base = await serve('reseau', true);
  const view = 'lon=7.4205&lat=43.7350&z=14';
  const { page, context, errors } = await openPage(browser, `${base}/?${view}&mode=manques&qpv=QN00601M`);
  // The choice is offered beside the radii.
  const choice = page.getByLabel('Distance aux quartiers');
  await choice.selectOption('marche-10');
  await page.waitForFunction(() => /à pied/.test(document.getElementById('manques-resume').textContent));
  assert.match(page.url(), /gm=10/);
  // Within 10 minutes: the recyclerie on the Rocher, 8–9 min away: served.
  const row = page.locator('#manques-table tbody tr[data-code="QN00601M"]');
  assert.match(await row.innerText(), /\d+,\d min/);
  assert.match(await page.locator('#manques-legende').innerText(), /non vérifiable à pied/);
  // The panel says the walking figures and the map draws the area.
  await page.waitForFunction(() => /% des rues du quartier/.test(document.getElementById('quartier-marche').textContent));
  assert.match(await page.locator('#quartier-marche').innerText(), /Recyclerie du Rocher, à \d+,\d min/);
  // The area comes by its own request, after the panel's figures; the
  // GeoJSON source then takes a moment in its worker.
  const drawn = await page.waitForFunction(() => window.essMap.map.querySourceFeatures('walk').length, null, { timeout: 20_000 })
    .then((h) => h.jsonValue(), () => 0);
  assert.ok(drawn > 0, 'the walkable area is drawn');
  // Five minutes is not offered; the URL's `gm=10` comes back as chosen, and
  // 20 minutes changes the answer. A shared link keeps it.
  await choice.selectOption('marche-20');
  await page.waitForFunction(() => /20 min/.test(document.getElementById('manques-resume').textContent));
  assert.match(await page.locator('#legende').innerText(), /Zone accessible à pied en 20 min/);
  // Back to the radius: the walkable area goes.
  await choice.selectOption('500');
  await page.waitForFunction(() => !/à pied/.test(document.getElementById('manques-resume').textContent));
  assert.equal(await page.locator('#quartier-marche').isHidden(), true);
  await context.close();
  // A link with its own walk opens on it: within 5 minutes nothing is
  // reached from La Condamine, though the recyclerie is 170 m away as the
  // crow flies: a « coupure » (the Rocher's cliff), said in the table, the
  // summary and the panel.
  const shared = await openPage(browser, `${base}/?${view}&mode=manques&gm=5&qpv=QN00601M`);
  await shared.page.waitForFunction(() => /à pied/.test(document.getElementById('manques-resume').textContent));
  assert.equal(await shared.page.getByLabel('Distance aux quartiers').inputValue(), 'marche-5');
  assert.match(await shared.page.locator('#manques-resume').innerText(), /1 coupure : une initiative à moins de 500 m à vol d'oiseau, mais pas à 5 min à pied/);
  assert.match(await shared.page.locator('#manques-table tbody tr[data-code="QN00601M"]').innerText(), /coupure : 1\d\d m à vol d'oiseau/);
  await shared.page.waitForFunction(() => /coupure/.test(document.getElementById('quartier-marche').textContent));
  await shared.context.close();
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('without a network, « à pied » says why instead of drawing straight lines', async () => {
  const base = await serve('sans-reseau', false);
  const { page, context } = await openPage(browser, `${base}/?lon=7.4205&lat=43.7350&z=14&mode=manques`);
  await page.getByLabel('Distance aux quartiers').selectOption('marche-15');
  await page.waitForFunction(() => /aucun réseau piéton chargé/.test(document.getElementById('manques-resume').textContent));
  assert.equal(await page.locator('#manques-table tbody tr').count(), 0);
  await context.close();
});
