// Citizens' proposals and their moderation (issue 23), in headless Chromium
// against the real binary and a real SMTP server (ESS_MAP_SMTP_PORT, started
// by tests/tests/browser.rs): an anonymous visitor proposes an initiative and
// reports an error, neither shown until decided; a moderator accepts the
// proposal with an edit, rejects the report with a reason (both proposers
// told by e-mail), merges a proposal into an initiative already shown, and
// decides a near-match between two sources; past ten proposals an hour the
// visitor is told to wait. An admin imports a file in the browser: the dry
// run, a column mapping changed, the import, the report downloaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, openPage, smtpConfig, startServer } from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let server; let base; let browser; let state; let sheets;

function run(args, input) {
  const out = spawnSync(process.env.ESS_MAP_BIN, ['--data', process.env.ESS_MAP_DATA, '--state', state, ...args],
    { input, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

before(async () => {
  for (const name of ['ESS_MAP_SMTP_PORT', 'ESS_MAP_MAILDIR', 'ESS_MAP_MAIL_PYTHON']) {
    assert.ok(process.env[name], `${name}: the SMTP server tests/tests/browser.rs starts`);
  }
  state = mkdtempSync(path.join(os.tmpdir(), 'ess-map-moderation-'));
  run(['user', 'create', 'moderatrice@cress.fr', '--role', 'moderator'], 'une phrase de passe de modératrice\n');
  run(['user', 'create', 'admin@cress.fr', '--role', 'admin'], 'une phrase de passe administratrice\n');
  // A network's list naming, without SIRET, a SIAE the map already shows
  // (Baluchon, Romainville), a few metres from it: a near-match to decide.
  const list = path.join(state, 'reseau.csv');
  writeFileSync(list, 'name,commune,lon,lat,category\nBaluchon - À table citoyens,Romainville,2.43199,48.88055,insertion_ei\n');
  const summary = JSON.parse(run(['--geocoder', 'none', 'import', list, '--source', 'reseau']));
  assert.equal(summary.duplicates_queued, 1, JSON.stringify(summary));
  // A network's sheet published on the web, re-imported on a schedule.
  sheets = http.createServer((req, res) => {
    res.writeHead(req.url === '/membres.csv' ? 200 : 404, { 'content-type': 'text/csv' });
    res.end(req.url === '/membres.csv' ? 'nom,commune,longitude,latitude\nRessourcerie du Pré,Pantin,2.4101,48.8942\n' : '');
  });
  await new Promise((done) => sheets.listen(0, '127.0.0.1', done));
  const config = path.join(state, 'ess-map.toml');
  writeFileSync(config, smtpConfig()
    + `[[scheduled_import]]\nsource = "planifie"\nurl = "http://127.0.0.1:${sheets.address().port}/membres.csv"\nevery_hours = 24\n`);
  ({ server, base } = await startServer(state, ['--config', config, '--geocoder', 'none']));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  sheets?.close();
  if (state) rmSync(state, { recursive: true, force: true });
});

async function api(p, init) {
  const r = await fetch(`${base}${p}`, init);
  return { status: r.status, json: await r.json().catch(() => null) };
}

function mails() {
  const out = spawnSync(process.env.ESS_MAP_MAIL_PYTHON, [path.join(here, '..', 'read_maildir.py'), process.env.ESS_MAP_MAILDIR], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout);
}

async function mailTo(email, words) {
  for (let i = 0; i < 100; i += 1) {
    const found = mails().find(([to, , text]) => to === email && text.includes(words));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${email} saying « ${words} »`);
}

const say = (page, id) => page.textContent(`#${id}`);

/** Initiatives shown, but the scheduled import's (it may run by itself ten
 * seconds after the start, whatever the test is doing). */
async function shown() {
  const all = (await api('/api/initiatives?limit=1')).json.total;
  return all - (await api('/api/initiatives?source=planifie&limit=1')).json.total;
}

test('a visitor proposes and reports; a moderator accepts with an edit, rejects with a reason, merges, and decides a near-match', async () => {
  const shownBefore = await shown();
  const visitor = await openPage(browser, `${base}/`);
  const v = visitor.page;

  // « Proposer une initiative », no account.
  await v.click('#proposer');
  await v.fill('#proposition-name', 'Atelier vélo des Courtillières');
  await v.selectOption('#proposition-category', 'garage_mobilite');
  await v.fill('#proposition-address', '12 avenue de la Division Leclerc');
  await v.fill('#proposition-postcode', '93500');
  await v.fill('#proposition-commune', 'Pantin');
  await v.fill('#proposition-email', 'habitante@example.org');
  await v.click('#proposition-envoyer');
  await v.waitForFunction(() => document.getElementById('proposition-etat').textContent.startsWith('Merci'), null, { timeout: 10_000 });
  await v.click('#proposition-fermer');
  // Not shown until accepted.
  assert.equal((await api('/api/initiatives?q=courtillieres')).json.total, 0);

  // « Signaler une erreur » from an initiative's popup.
  await v.evaluate(() => {
    window.essMap.map.jumpTo({ center: [1.404621, 43.780732], zoom: 13 });
    return window.essMap.openInitiative('lemarche-siae-99', [1.404621, 43.780732]);
  });
  await v.waitForSelector('.maplibregl-popup button:text-is("Signaler une erreur")', { timeout: 10_000 });
  await v.click('.maplibregl-popup button:text-is("Signaler une erreur")');
  await v.fill('#signalement-message', 'Cette structure a fermé en juin.');
  await v.fill('#signalement-email', 'voisin@example.org');
  await v.click('#signalement-envoyer');
  await v.waitForFunction(() => document.getElementById('signalement-etat').textContent.startsWith('Merci'), null, { timeout: 10_000 });
  await v.click('#signalement-fermer');
  assert.deepEqual(visitor.errors, []);

  // The moderator's queue.
  const moderator = await openPage(browser, `${base}/`);
  const m = moderator.page;
  await m.click('#compte');
  await m.fill('#connexion-email', 'moderatrice@cress.fr');
  await m.fill('#connexion-mot', 'une phrase de passe de modératrice');
  await m.click('#connexion-envoyer');
  await m.waitForSelector('#moderation-ouvrir:not([hidden])', { timeout: 10_000 });
  await m.click('#moderation-ouvrir');
  await m.waitForFunction(() => document.querySelectorAll('#moderation-liste li[data-id]').length === 2, null, { timeout: 10_000 });
  // Filtered by département: the report is on a SIAE of the 31, the proposal in the 93.
  await m.fill('#moderation-departement', '93');
  await m.dispatchEvent('#moderation-departement', 'change');
  await m.waitForFunction(() => document.querySelectorAll('#moderation-liste li[data-id]').length === 1, null, { timeout: 10_000 });
  assert.match(await m.textContent('#moderation-liste li[data-kind="initiative"] h3'), /Atelier vélo des Courtillières/);
  await m.fill('#moderation-departement', '');
  await m.dispatchEvent('#moderation-departement', 'change');
  await m.waitForFunction(() => document.querySelectorAll('#moderation-liste li[data-id]').length === 2, null, { timeout: 10_000 });

  // Accepted with an edit.
  const proposal = '#moderation-liste li[data-kind="initiative"]';
  await m.click(`${proposal} summary`);
  await m.fill(`${proposal} [data-edit="description"]`, 'Réparation de vélos, ateliers le samedi');
  await m.click(`${proposal} button[data-do="accepter"]`);
  await m.waitForFunction(() => /acceptée/.test(document.getElementById('moderation-etat').textContent), null, { timeout: 10_000 });
  const published = (await api('/api/initiatives?q=courtillieres')).json;
  assert.equal(published.total, 1);
  assert.equal(published.features[0].properties.description, 'Réparation de vélos, ateliers le samedi');
  assert.equal(published.features[0].properties.source, 'proposition');
  await mailTo('habitante@example.org', 'acceptée');

  // The report rejected: a reason is asked for, then told.
  const reportItem = '#moderation-liste li[data-kind="report"]';
  await m.click(`${reportItem} button[data-do="rejeter"]`);
  assert.match(await say(m, 'moderation-etat'), /motif du refus/);
  await m.fill(`${reportItem} [data-field="reason"]`, 'Vérifié par téléphone : toujours ouverte');
  await m.click(`${reportItem} button[data-do="rejeter"]`);
  await m.waitForFunction(() => /rejetée/.test(document.getElementById('moderation-etat').textContent), null, { timeout: 10_000 });
  const [, , told] = await mailTo('voisin@example.org', 'Vérifié par téléphone');
  assert.match(told, /refusée/);

  // A proposal of a structure already shown: merged into it, counted once.
  const again = await api('/api/proposals', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Baluchon', commune: 'Romainville', website: 'https://baluchon.example.org' }) });
  assert.equal(again.status, 202);
  await m.click('#moderation-voir-doublons');
  await m.click('#moderation-voir-propositions');
  await m.waitForSelector('#moderation-liste li[data-kind="initiative"]', { timeout: 10_000 });
  await m.fill('#moderation-liste li[data-kind="initiative"] [data-field="merge"]', 'lemarche-siae-1');
  await m.click('#moderation-liste li[data-kind="initiative"] button[data-do="fusionner"]');
  await m.waitForFunction(() => /fusionnée/.test(document.getElementById('moderation-etat').textContent), null, { timeout: 10_000 });

  // The near-match between the network's list and the SIAE.
  await m.click('#moderation-voir-doublons');
  await m.waitForSelector('#doublons-liste li[data-id]', { timeout: 10_000 });
  assert.match(await m.textContent('#doublons-liste li[data-id]'), /Baluchon - À table citoyens[\s\S]*reseau[\s\S]*BALUCHON A TABLE CITOYENS[\s\S]*siae/);
  await m.click('#doublons-liste button[data-do="merge"]');
  await m.waitForFunction(() => /Fusionnées/.test(document.getElementById('moderation-etat').textContent), null, { timeout: 10_000 });
  assert.equal((await api('/api/initiatives?source=reseau&limit=1')).json.total, 0, 'shown once, as the SIAE');
  // As many as at the start: the accepted proposal one more, the
  // network's twin of the SIAE (shown until decided) one less.
  assert.equal(await shown(), shownBefore);
  await m.click('#moderation-fermer');

  // The popup names every source describing it.
  await v.evaluate(() => {
    window.essMap.map.jumpTo({ center: [2.431955, 48.88053], zoom: 13 });
    return window.essMap.openInitiative('lemarche-siae-1', [2.431955, 48.88053]);
  });
  await v.waitForSelector('.maplibregl-popup .sources', { timeout: 10_000 });
  assert.match(await v.textContent('.maplibregl-popup .sources'), /3 sources : siae, reseau, proposition|3 sources : siae, proposition, reseau/);

  // Ten an hour from one address: the form says to wait.
  await v.click('#proposer');
  for (let i = 0; i < 10; i += 1) {
    await v.fill('#proposition-name', `Proposition ${i}`);
    await v.fill('#proposition-commune', 'Pantin');
    await v.click('#proposition-envoyer');
    await v.waitForFunction(() => document.getElementById('proposition-etat').textContent !== '', null, { timeout: 10_000 });
    if ((await say(v, 'proposition-etat')).startsWith('Trop')) break;
    await v.evaluate(() => { document.getElementById('proposition-etat').textContent = ''; });
  }
  assert.match(await say(v, 'proposition-etat'), /Trop de propositions/);
  assert.deepEqual(moderator.errors, []);
  await visitor.context.close();
  await moderator.context.close();
});

test('an admin imports a file in the browser: dry run, a column mapped by hand, import, report', async () => {
  const admin = await openPage(browser, `${base}/`);
  const a = admin.page;
  await a.click('#compte');
  await a.fill('#connexion-email', 'admin@cress.fr');
  await a.fill('#connexion-mot', 'une phrase de passe administratrice');
  await a.click('#connexion-envoyer');
  await a.waitForSelector('#import-ouvrir:not([hidden])', { timeout: 10_000 });
  await a.click('#import-ouvrir');
  // « Lieu » is not a name ess-map knows for the commune; one row has the
  // SIRET of a SIAE already shown; one has no name.
  const csv = 'Nom;Lieu;Adresse;SIRET\nRecyclerie des Quatre-Chemins;Pantin;1 rue Hoche;\n'
    + 'Baluchon;Romainville;Rue Madeleine Odru;80746931700018\n;Pantin;2 rue Denis Papin;\n';
  await a.setInputFiles('#import-fichier', { name: 'membres.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await a.fill('#import-source', 'cress-membres');
  await a.click('#import-analyser');
  await a.waitForSelector('#import-resultat:not([hidden])', { timeout: 20_000 });
  const count = (label) => a.textContent(`#import-compte dd[data-count="${label}"]`);
  assert.equal(await count('Nouvelles'), '2');
  assert.equal(await count('Refusées'), '1');
  assert.equal(await count('Sans position'), '2', 'no commune column detected');
  assert.equal(await a.inputValue('#import-champ-name'), 'Nom');
  assert.equal(await a.inputValue('#import-champ-siret'), 'SIRET');
  assert.equal(await a.inputValue('#import-champ-commune'), '');
  assert.match(await a.textContent('#import-lignes'), /name/);
  assert.match(await say(a, 'import-etat'), /Rien n’a été écrit/);
  assert.equal((await api('/api/initiatives?source=cress-membres&limit=1')).json.total, 0);
  // The commune mapped by hand, then analysed again.
  await a.selectOption('#import-champ-commune', 'Lieu');
  await a.click('#import-reanalyser');
  await a.waitForFunction(() => document.querySelector('#import-compte dd[data-count="Sans position"]')?.textContent === '0', null, { timeout: 20_000 });
  assert.equal(await count('Placées au centre de la commune'), '2');
  assert.equal(await count('Déjà sur la carte (même SIRET) : fusionnées'), '1');
  // Imported for real.
  await a.click('#import-confirmer');
  await a.waitForFunction(() => document.getElementById('import-etat').textContent.startsWith('Importé'), null, { timeout: 20_000 });
  const imported = (await api('/api/initiatives?source=cress-membres')).json;
  assert.equal(imported.total, 1, 'the SIAE\'s twin is merged into it');
  assert.equal(imported.features[0].properties.name, 'Recyclerie des Quatre-Chemins');
  assert.equal(imported.features[0].properties.commune, 'Pantin');
  // The report, downloaded with the session.
  const href = await a.getAttribute('#import-rapport', 'href');
  assert.match(href, /^\/api\/import\/reports\/\d+$/);
  const report = await a.evaluate(async (url) => { const r = await fetch(url); return [r.status, await r.text()]; }, href);
  assert.equal(report[0], 200);
  assert.match(report[1], /même SIRET que « lemarche-siae-1 »/);
  // The scheduled import, run at once, its run listed.
  await a.waitForSelector('#import-planifies:not([hidden]) li[data-source="planifie"]', { timeout: 10_000 });
  await a.click('li[data-source="planifie"] button[data-run]');
  await a.waitForSelector('li[data-source="planifie"] li[data-outcome="imported"]', { timeout: 30_000 });
  assert.match(await a.textContent('li[data-source="planifie"] li[data-outcome="imported"]'), /importé — \d+ nouvelles?/);
  assert.equal((await api('/api/initiatives?source=planifie')).json.total, 1);
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});
