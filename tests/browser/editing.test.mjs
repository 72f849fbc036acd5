// Editors in the browser (issue 22), in headless Chromium against the real
// binary, with a real addok for address suggestions (ESS_MAP_ADDOK, started
// by tests/tests/browser.rs) and a real SMTP server (aiosmtpd, same): sign
// in, add by address, move by dragging, edit, a conflict shown side by side,
// restore from history, delete, the public changes; an admin invites
// someone by e-mail, who chooses a password, forgets it and resets it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launchBrowser, openPage, smtpConfig, startServer, waitIdle } from './support.mjs';
import { startProvider } from './oidc-provider.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let server; let base; let browser; let state; let provider;

/** `ess-map user create`, the password on standard input. */
function createUser(email, role, password) {
  const out = spawnSync(process.env.ESS_MAP_BIN, ['--state', state, 'user', 'create', email, '--role', role],
    { input: `${password}\n`, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
}

/** A token for a second editor working beside the browser. */
function createToken(name, role) {
  const out = spawnSync(process.env.ESS_MAP_BIN, ['--state', state, 'token', 'create', '--name', name, '--role', role], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim();
}

before(async () => {
  for (const name of ['ESS_MAP_ADDOK', 'ESS_MAP_SMTP_PORT', 'ESS_MAP_MAILDIR', 'ESS_MAP_MAIL_PYTHON']) {
    assert.ok(process.env[name], `${name}: the addok and SMTP server tests/tests/browser.rs starts`);
  }
  state = mkdtempSync(path.join(os.tmpdir(), 'ess-map-editing-'));
  createUser('claire@reseau.fr', 'editor', 'une phrase de passe solide');
  createUser('admin@cress.fr', 'admin', 'administratrice de la CRESS');
  createUser('agathe.martin@ville.example.fr', 'editor', 'un mot de passe jamais servi');
  // A real OpenID provider shaped like ProConnect, which sends people back
  // to this server.
  const [port, providerPort] = [await freePort(), await freePort()];
  provider = await startProvider({
    port: providerPort, clientId: 'ess-map', clientSecret: 'un-secret-partage-avec-le-fournisseur-0123456789',
    redirect: `http://127.0.0.1:${port}/api/session/openid/callback`,
    claims: (login) => ({ email: login === 'agathe' ? 'agathe.martin@ville.example.fr' : `${login}@ailleurs.example.fr`,
      email_verified: true, given_name: 'Agathe', usual_name: 'Martin', siret: '21930066600019' }),
  });
  const config = path.join(state, 'ess-map.toml');
  writeFileSync(config, smtpConfig()
    + `[openid]\nissuer = "${provider.issuer}"\nclient_id = "ess-map"\nclient_secret = "un-secret-partage-avec-le-fournisseur-0123456789"\n`);
  ({ server, base } = await startServer(state, ['--config', config, '--geocoder', process.env.ESS_MAP_ADDOK], port));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  await provider?.close();
  if (state) rmSync(state, { recursive: true, force: true });
});

async function api(p, init) {
  const r = await fetch(`${base}${p}`, init);
  return { status: r.status, etag: r.headers.get('etag'), json: await r.json().catch(() => null) };
}

async function signIn(page, email, password) {
  await page.click('#compte');
  await page.fill('#connexion-email', email);
  await page.fill('#connexion-mot', password);
  await page.click('#connexion-envoyer');
  await page.waitForFunction(() => document.getElementById('compte').textContent !== 'Se connecter'
    || document.getElementById('connexion-etat').textContent !== '', null, { timeout: 10_000 });
}

/** The initiative's popup, with the editor's buttons. */
const popupAction = (page, label) => page.click(`.maplibregl-popup .edit-actions button:text-is("${label}")`);

test('an editor signs in, adds by address, moves by dragging, edits, sees a conflict, restores and deletes', async () => {
  const { page, context, errors } = await openPage(browser, `${base}/?lon=2.3585&lat=48.9345&z=16`);
  assert.equal(await page.textContent('#compte'), 'Se connecter');
  assert.equal(await page.isVisible('#ajouter'), false, 'nothing to edit before signing in');

  // A wrong password: said in French, nothing more.
  await signIn(page, 'claire@reseau.fr', 'pas le bon mot de passe');
  assert.equal(await page.textContent('#connexion-etat'), 'Adresse électronique ou mot de passe incorrect.');
  await page.fill('#connexion-mot', 'une phrase de passe solide');
  await page.click('#connexion-envoyer');
  await page.waitForFunction(() => document.getElementById('compte').textContent === 'claire');
  assert.equal(await page.isVisible('#ajouter'), true);
  const cookies = await context.cookies();
  const cookie = cookies.find((c) => c.name === 'ess_map_session');
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read the session');

  // Add by address: the geocoder's suggestions, chosen by keyboard.
  await page.click('#ajouter');
  await page.fill('#edition-name', 'Recyclerie Gabriel Péri');
  await page.selectOption('#edition-category', 'recyclerie');
  await page.fill('#edition-adresse-recherche', '12 rue gabriel peri saint-denis');
  await page.waitForSelector('#edition-suggestions li', { timeout: 10_000 });
  assert.match(await page.textContent('#edition-suggestions li'), /12 Rue Gabriel Péri 93200 Saint-Denis/);
  await page.press('#edition-adresse-recherche', 'ArrowDown');
  await page.press('#edition-adresse-recherche', 'Enter');
  assert.equal(await page.inputValue('#edition-address'), '12 Rue Gabriel Péri');
  assert.equal(await page.inputValue('#edition-postcode'), '93200');
  assert.equal(await page.inputValue('#edition-commune'), 'Saint-Denis');
  await page.click('#edition-enregistrer');
  await page.waitForSelector('.maplibregl-popup .edit-actions', { timeout: 10_000 });
  assert.match(await page.textContent('.maplibregl-popup h3'), /Recyclerie Gabriel Péri/);
  const found = await api('/api/initiatives?q=recyclerie%20gabriel');
  assert.equal(found.json.features.length, 1);
  const made = found.json.features[0];
  const id = made.properties.id;
  assert.deepEqual(made.geometry.coordinates, [2.35802, 48.93481]);
  assert.equal(made.properties.insee_code, '93066');
  // Drawn on the map, edits visible at once.
  await waitIdle(page);
  const drawn = await page.evaluate((x) => window.essMap.map.queryRenderedFeatures({ layers: ['initiative-points'] })
    .some((f) => f.properties.id === x), id);
  assert.ok(drawn, 'the new initiative is drawn');

  // Checked on the ground today: « vérifiée le … ».
  await popupAction(page, 'Marquer vérifiée');
  await page.waitForSelector('.maplibregl-popup .verified', { timeout: 10_000 });
  const today = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date());
  assert.equal(await page.textContent('.maplibregl-popup .verified'), `Vérifiée sur le terrain le ${today}`);
  assert.ok((await api(`/api/initiatives/${id}`)).json.properties.verified_at.startsWith(new Date().toISOString().slice(0, 10)));

  // Move it by dragging its marker 80 px to the east.
  await popupAction(page, 'Déplacer');
  await page.waitForSelector('#deplacement:not([hidden])');
  const marker = await page.$('.maplibregl-marker');
  const box = await marker.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.click('#deplacement-enregistrer');
  await page.waitForSelector('#deplacement', { state: 'hidden' });
  const moved = await api(`/api/initiatives/${id}`);
  assert.ok(moved.json.geometry.coordinates[0] > 2.35802 + 0.0003, JSON.stringify(moved.json.geometry));
  assert.ok(Math.abs(moved.json.geometry.coordinates[1] - 48.93481) < 0.0002);

  // Edit: a description.
  await page.waitForSelector('.maplibregl-popup .edit-actions', { timeout: 10_000 });
  await popupAction(page, 'Modifier');
  await page.waitForFunction(() => document.getElementById('edition').open);
  assert.equal(await page.inputValue('#edition-name'), 'Recyclerie Gabriel Péri');
  await page.fill('#edition-description', 'Réemploi et ateliers de réparation.');
  await page.fill('#edition-opening_hours', 'Tu-Sa 10:00-18:00');
  await page.click('#edition-enregistrer');
  await page.waitForFunction(() => !document.getElementById('edition').open);
  const edited = (await api(`/api/initiatives/${id}`)).json.properties;
  assert.equal(edited.description, 'Réemploi et ateliers de réparation.');
  assert.equal(edited.opening_hours, 'Tu-Sa 10:00-18:00');
  await page.waitForSelector('.maplibregl-popup .hours', { timeout: 10_000 });
  assert.equal(await page.textContent('.maplibregl-popup .hours'), 'Horaires : Tu-Sa 10:00-18:00');

  // A conflict: another editor renames it while the form is open.
  await page.waitForSelector('.maplibregl-popup .edit-actions', { timeout: 10_000 });
  await popupAction(page, 'Modifier');
  await page.waitForFunction(() => document.getElementById('edition').open);
  const other = createToken('mairie', 'editor');
  const renamed = await api(`/api/initiatives/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Ressourcerie Gabriel Péri' }) });
  assert.equal(renamed.status, 200);
  await page.fill('#edition-description', 'Réemploi, réparation et vente solidaire.');
  await page.click('#edition-enregistrer');
  await page.waitForSelector('#edition-conflit:not([hidden])', { timeout: 10_000 });
  const rows = await page.$$eval('#conflit-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(rows.find((r) => r[0] === 'Nom'), ['Nom', 'Recyclerie Gabriel Péri', 'Ressourcerie Gabriel Péri']);
  assert.deepEqual(rows.find((r) => r[0] === 'Description'),
    ['Description', 'Réemploi, réparation et vente solidaire.', 'Réemploi et ateliers de réparation.']);
  assert.equal((await api(`/api/initiatives/${id}`)).json.properties.description, 'Réemploi et ateliers de réparation.', 'nothing overwritten yet');
  await page.click('#conflit-garder');
  await page.waitForFunction(() => !document.getElementById('edition').open);
  const kept = (await api(`/api/initiatives/${id}`)).json.properties;
  assert.equal(kept.description, 'Réemploi, réparation et vente solidaire.');
  assert.equal(kept.name, 'Ressourcerie Gabriel Péri', 'the other editor’s change kept');

  // History as readable differences; restore the first version.
  await page.waitForSelector('.maplibregl-popup .edit-actions', { timeout: 10_000 });
  await popupAction(page, 'Historique');
  await page.waitForFunction(() => document.getElementById('historique').open);
  const entries = await page.$$eval('#historique-liste > li', (lis) => lis.map((li) => li.textContent.replace(/\s+/g, ' ')));
  assert.equal(entries.length, 5, entries.join('\n'));
  assert.match(entries[0], /Correction .* par claire@reseau\.fr/);
  assert.match(entries[1], /Correction .* par mairie Nom : Recyclerie Gabriel Péri → Ressourcerie Gabriel Péri/);
  assert.match(entries[4], /Création .* par claire@reseau\.fr/);
  await page.click('#historique-liste > li:last-child button');
  await page.waitForFunction(() => document.getElementById('historique-etat').textContent !== '');
  assert.equal(await page.textContent('#historique-etat'), 'Version restaurée.');
  const restored = (await api(`/api/initiatives/${id}`)).json;
  assert.equal(restored.properties.name, 'Recyclerie Gabriel Péri');
  assert.equal(restored.properties.description, null);
  assert.deepEqual(restored.geometry.coordinates, [2.35802, 48.93481]);
  await page.click('#historique-fermer');

  // Delete, with a confirmation.
  await page.evaluate(([x, at]) => window.essMap.openInitiative(x, at), [id, restored.geometry.coordinates]);
  await page.waitForSelector('.maplibregl-popup .edit-actions', { timeout: 10_000 });
  await popupAction(page, 'Supprimer');
  await page.waitForFunction(() => document.getElementById('suppression').open);
  assert.match(await page.textContent('#suppression-texte'), /« Recyclerie Gabriel Péri » disparaîtra/);
  await page.click('#suppression-confirmer');
  await page.waitForFunction(() => !document.getElementById('suppression').open);
  assert.equal((await api(`/api/initiatives/${id}`)).status, 404);

  // What changed, for everyone: the role, not the person.
  await page.click('#modifications-ouvrir');
  await page.waitForSelector('#modifications-liste li');
  const changes = await page.$$eval('#modifications-liste li', (lis) => lis.map((li) => li.textContent.replace(/\s+/g, ' ').trim()));
  assert.match(changes[0], /^Retrait — Recyclerie Gabriel Péri \(Saint-Denis\) le .* par éditeur$/);
  assert.ok(!changes.join(' ').includes('claire'), changes.join('\n'));
  assert.equal(await page.getAttribute('#modifications-atom', 'href'), '/api/changes.atom');
  await page.click('#modifications-fermer');

  // Signing out hides the editing again.
  await page.click('#compte');
  await page.click('#deconnexion');
  await page.waitForFunction(() => document.getElementById('compte').textContent === 'Se connecter');
  assert.equal(await page.isVisible('#ajouter'), false);
  // Only the wrong password (401) and the conflict (412) the test made.
  assert.deepEqual(errors.filter((e) => !/status of (401|412) /.test(e)), []);
  await context.close();
});

/** The messages the real SMTP server received: [to, subject, text]. */
function mails() {
  const out = spawnSync(process.env.ESS_MAP_MAIL_PYTHON, [path.join(here, '..', 'read_maildir.py'), process.env.ESS_MAP_MAILDIR], { encoding: 'utf8' });
  return out.status === 0 ? JSON.parse(out.stdout) : [];
}

async function mailTo(email, subject) {
  for (let i = 0; i < 100; i++) {
    // This server's (the Maildir may hold other runs' messages).
    const found = mails().find(([to, s, text]) => to === email && s.includes(subject) && text.includes(`${base}/?`));
    if (found) return found[2];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no « ${subject} » for ${email}`);
}

test('an admin invites someone by e-mail, who chooses a password from the link, forgets it and resets it', async () => {
  const { page, context } = await openPage(browser, `${base}/?lon=2.3585&lat=48.9345&z=14`);
  await signIn(page, 'admin@cress.fr', 'administratrice de la CRESS');
  await page.click('#compte');
  await page.click('#personnes-ouvrir');
  await page.waitForSelector('#personnes-table tbody tr');
  await page.fill('#inviter-email', 'nadia@reseau.fr');
  await page.selectOption('#inviter-role', 'editor');
  await page.fill('#inviter-departements', '93, 94');
  await page.click('#inviter-form button[type=submit]');
  await page.waitForFunction(() => /invité/.test(document.getElementById('personnes-etat').textContent));
  assert.equal(await page.textContent('#personnes-etat'), "nadia@reseau.fr invité(e) : l'invitation est partie par courriel.");
  assert.equal(await page.isVisible('#inviter-lien'), false);
  const rows = await page.$$eval('#personnes-table tbody tr', (trs) => trs.map((tr) => tr.dataset.email));
  assert.deepEqual(rows, ['admin@cress.fr', 'agathe.martin@ville.example.fr', 'claire@reseau.fr', 'nadia@reseau.fr']);
  await context.close();

  // The invited person opens the link of the message, in another browser.
  const invitation = await mailTo('nadia@reseau.fr', 'Votre accès');
  const link = invitation.match(/http\S*\?invitation=[0-9a-f]+/)[0];
  assert.ok(link.startsWith(`${base}/?invitation=`), link);
  const invited = await browser.newContext({ locale: 'fr-FR' });
  const other = await invited.newPage();
  await other.goto(link);
  await waitIdle(other);
  await other.waitForFunction(() => document.getElementById('mot-de-passe').open);
  await other.fill('#mot-de-passe-1', 'le mot de passe de Nadia');
  await other.fill('#mot-de-passe-2', 'le mot de passe de Nadia');
  await other.click('#mot-de-passe-form button[type=submit]');
  await other.waitForFunction(() => document.getElementById('connexion').open);
  assert.equal(await other.inputValue('#connexion-email'), 'nadia@reseau.fr');
  assert.ok(!other.url().includes('invitation='), 'the link leaves the address bar');
  await other.fill('#connexion-mot', 'le mot de passe de Nadia');
  await other.click('#connexion-envoyer');
  await other.waitForFunction(() => document.getElementById('compte').textContent === 'nadia');
  assert.equal(await other.isVisible('#ajouter'), true);
  await invited.close();

  // Forgotten: « Mot de passe oublié ? » sends a reset link.
  const forgetful = await browser.newContext({ locale: 'fr-FR' });
  const again = await forgetful.newPage();
  await again.goto(`${base}/?lon=2.3585&lat=48.9345&z=14`);
  await waitIdle(again);
  await again.click('#compte');
  await again.fill('#connexion-email', 'nadia@reseau.fr');
  await again.click('#connexion-oubli');
  await again.waitForFunction(() => /Si un compte existe/.test(document.getElementById('connexion-etat').textContent));
  const reset = await mailTo('nadia@reseau.fr', 'Réinitialisation');
  await again.goto(reset.match(/http\S*\?reinitialisation=[0-9a-f]+/)[0]);
  await waitIdle(again);
  await again.waitForFunction(() => document.getElementById('mot-de-passe').open);
  await again.fill('#mot-de-passe-1', 'un tout nouveau mot de passe');
  await again.fill('#mot-de-passe-2', 'un tout nouveau mot de passe');
  await again.click('#mot-de-passe-form button[type=submit]');
  await again.waitForFunction(() => document.getElementById('connexion').open);
  await again.fill('#connexion-mot', 'un tout nouveau mot de passe');
  await again.click('#connexion-envoyer');
  await again.waitForFunction(() => document.getElementById('compte').textContent === 'nadia');
  await forgetful.close();
});

/** Through the provider's own pages: its login (any login there), then its
 * consent. */
async function throughProvider(page, login) {
  await page.waitForSelector('input[name=login]', { timeout: 20_000 });
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'nimporte');
  await page.click('button:text-is("Sign-in")');
  await page.click('button:text-is("Continue")', { timeout: 20_000 });
}

test('single sign-on through a real OpenID provider shaped like ProConnect: an invited agent signs in, a stranger does not', async () => {
  const { page, context, errors } = await openPage(browser, `${base}/?lon=2.3585&lat=48.9345&z=14`);
  await page.click('#compte');
  assert.equal(await page.textContent('#connexion-unique'), 'Se connecter avec ProConnect');
  await page.click('#connexion-unique');
  await throughProvider(page, 'agathe');
  await page.waitForURL(`${base}/**`, { timeout: 20_000 });
  // The provider's own pages asked for web fonts and a favicon (offline
  // here): only the map's page back is checked.
  errors.splice(0);
  await waitIdle(page);
  await page.waitForFunction(() => document.getElementById('compte').textContent === 'agathe.martin');
  assert.ok(!page.url().includes('connexion='), page.url());
  assert.equal(await page.isVisible('#ajouter'), true, 'an editor, as invited');
  const cookie = (await context.cookies()).find((c) => c.name === 'ess_map_session');
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict');
  assert.ok(!(await context.cookies()).some((c) => c.name === 'ess_map_openid'), 'the flow’s cookie is gone');
  assert.deepEqual(errors, []);
  await context.close();

  // Someone the provider knows but the network never invited.
  const stranger = await openPage(browser, `${base}/?lon=2.3585&lat=48.9345&z=14`);
  await stranger.page.click('#compte');
  await stranger.page.click('#connexion-unique');
  await throughProvider(stranger.page, 'inconnu');
  await stranger.page.waitForURL(`${base}/**`, { timeout: 20_000 });
  await stranger.page.waitForFunction(() => document.getElementById('connexion').open, null, { timeout: 20_000 });
  assert.match(await stranger.page.textContent('#connexion-etat'), /Aucun compte pour l'adresse que ProConnect a donnée/);
  assert.equal(await stranger.page.textContent('#compte'), 'Se connecter');
  await stranger.context.close();

  // An answer that does not belong to this browser's flow is refused.
  const forged = await fetch(`${base}/api/session/openid/callback?code=abc&state=xyz`, { redirect: 'manual' });
  assert.equal(forged.status, 303);
  assert.equal(forged.headers.get('location'), '/?connexion=echec');
  assert.ok(!(forged.headers.get('set-cookie') ?? '').includes('ess_map_session='));
});
