// Importing a file in the browser, for admins: the file (CSV, XLSX, ODS,
// GeoJSON) is sent for a dry run first; the detected column of each field is
// shown and can be changed, with what the import would do (new, updated,
// unchanged, gone, merged with another source's record, queued as possible
// duplicates, rows refused and why); « Importer » then writes it, and the
// row-by-row report can be downloaded. The scheduled imports (a URL
// re-imported when due) are listed with their latest runs, and can be run
// at once.
import { $, escapeHtml, fmt } from './util.js';
import { can, messageOf, onSession, send, session } from './account.js';
import { reloadInitiatives } from './layers.js';

/** The fields a column can give, as the server names them, with their labels. */
const FIELDS = {
  name: 'Nom', brand: 'Enseigne', id: 'Identifiant dans la source', siret: 'SIRET', category: 'Catégorie',
  kind: 'Type de structure (source)', legal_form: 'Forme juridique', address: 'Adresse', postcode: 'Code postal',
  commune: 'Commune', insee_code: 'Code INSEE', lon: 'Longitude', lat: 'Latitude', website: 'Site web',
  description: 'Description', opening_hours: 'Horaires', source_date: 'Date de mise à jour', hints: 'Mots d’activité',
};

/** The last analysis: the file's columns and the mapping shown. */
let analysed = null;

function say(text) { $('import-etat').textContent = text; }

/** A TOML string, quoted. */
const toml = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The mapping chosen in the table, as the server reads it. */
function mappingToml() {
  const lines = ['[columns]'];
  for (const select of document.querySelectorAll('#import-colonnes select')) {
    if (select.value) lines.push(`${select.dataset.field} = ${toml(select.value)}`);
  }
  return lines.join('\n');
}

/** Sends the file; the upload's progress shown as it goes. */
function upload(dryRun, withMapping) {
  const form = new FormData();
  form.append('source', $('import-source').value.trim());
  form.append('dry_run', dryRun ? 'true' : 'false');
  if (withMapping) form.append('mapping', mappingToml());
  form.append('file', $('import-fichier').files[0]);
  const bar = $('import-progression');
  bar.hidden = false;
  bar.removeAttribute('value');
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/import');
    if (session.csrf) xhr.setRequestHeader('x-csrf-token', session.csrf);
    xhr.upload.addEventListener('progress', (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      say(e.loaded < e.total ? `Envoi : ${Math.round((100 * e.loaded) / e.total)} %` : 'Fichier envoyé ; lecture, géocodage et comparaison en cours…');
    });
    xhr.addEventListener('loadend', () => {
      bar.hidden = true;
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, json });
    });
    xhr.send(form);
  });
}

function showMapping(summary) {
  const columns = summary.columns ?? [];
  const body = $('import-colonnes').tBodies[0];
  body.innerHTML = Object.entries(FIELDS).map(([field, label]) => {
    const chosen = summary.mapping?.[field] ?? '';
    const options = ['<option value="">— aucune —</option>']
      .concat(columns.map((c) => `<option value="${escapeHtml(c)}"${c === chosen ? ' selected' : ''}>${escapeHtml(c)}</option>`));
    return `<tr><th scope="row"><label for="import-champ-${field}">${label}</label></th>
      <td><select id="import-champ-${field}" data-field="${field}">${options.join('')}</select></td></tr>`;
  }).join('');
}

function showSummary(summary) {
  const counts = [
    ['Lignes lues', summary.read], ['Valides', summary.valid], ['Refusées', summary.skipped],
    ['Nouvelles', summary.new], ['Mises à jour', summary.updated], ['Inchangées', summary.unchanged],
    ['Disparues du fichier (gardées)', summary.removed.length],
    ['Déjà sur la carte (même SIRET) : fusionnées', summary.merged],
    ['Doublons possibles à décider', summary.duplicates_queued],
    ['Placées au centre de la commune', summary.placed_at_commune_centre], ['Sans position', summary.not_placed],
  ];
  $('import-compte').innerHTML = counts.map(([label, n]) => `<div><dt>${label}</dt><dd data-count="${escapeHtml(label)}">${fmt.format(n ?? 0)}</dd></div>`).join('');
  const lines = summary.lines ?? [];
  $('import-lignes').tBodies[0].innerHTML = lines.length
    ? lines.map((l) => `<tr><td>${escapeHtml(l.position)}</td><td>${escapeHtml(l.field)}</td><td>${escapeHtml(l.reason)}</td><td>${escapeHtml(l.action)}</td></tr>`).join('')
    : '<tr><td colspan="4">Aucune.</td></tr>';
  const report = $('import-rapport');
  report.href = summary.report;
  report.hidden = false;
  $('import-resultat').hidden = false;
}

async function analyse(withMapping) {
  if (!$('import-fichier').files[0]) { say('Choisissez un fichier.'); return; }
  $('import-confirmer').disabled = true;
  const r = await upload(true, withMapping);
  if (!r.ok) { say(`Analyse impossible : ${messageOf(r)}.`); return; }
  analysed = r.json;
  showMapping(analysed);
  showSummary(analysed);
  $('import-confirmer').disabled = false;
  say(`Analyse à blanc : ${fmt.format(analysed.new)} nouvelles, ${fmt.format(analysed.updated)} mises à jour, ${fmt.format(analysed.skipped)} refusées. Rien n’a été écrit.`);
}

async function confirm() {
  if (!analysed) return;
  $('import-confirmer').disabled = true;
  const r = await upload(false, true);
  if (!r.ok) { say(`Import impossible : ${messageOf(r)}.`); $('import-confirmer').disabled = false; return; }
  showSummary(r.json);
  analysed = null;
  reloadInitiatives();
  say(`Importé : ${fmt.format(r.json.new)} nouvelles, ${fmt.format(r.json.updated)} mises à jour, ${fmt.format(r.json.merged)} fusionnées avec une fiche déjà sur la carte.`);
}

function runText(run) {
  const when = new Date(run.started_at).toLocaleString('fr-FR');
  if (run.outcome === 'failed') return `${when} : échec — ${escapeHtml(run.error ?? '')}`;
  const x = run.summary ?? {};
  const report = run.report_id ? ` <a href="/api/import/reports/${run.report_id}">rapport</a>` : '';
  return `${when} : importé — ${fmt.format(x.new ?? 0)} nouvelles, ${fmt.format(x.updated ?? 0)} mises à jour, ${fmt.format(x.unchanged ?? 0)} inchangées, ${fmt.format(x.merged ?? 0)} fusionnées${report}`;
}

async function showSchedules() {
  const r = await send('GET', '/api/import/runs');
  if (!r.ok) return;
  const { schedules, runs } = r.json;
  $('import-planifies').hidden = schedules.length === 0;
  $('import-planifies-liste').innerHTML = schedules.map((s) => {
    const own = runs.filter((x) => x.source === s.source).slice(0, 3);
    return `<li data-source="${escapeHtml(s.source)}"><h3>${escapeHtml(s.source)}</h3>
      <p class="small">${escapeHtml(s.url)}, toutes les ${fmt.format(s.every_hours)} h${s.running ? ' — en cours' : ''}</p>
      <ul class="runs">${own.length ? own.map((x) => `<li data-outcome="${escapeHtml(x.outcome)}">${runText(x)}</li>`).join('') : '<li>Pas encore de passage.</li>'}</ul>
      <div class="decide"><button type="button" data-run="${escapeHtml(s.source)}">Lancer maintenant</button></div></li>`;
  }).join('');
}

async function runNow(e) {
  const source = e.target.closest('button[data-run]')?.dataset.run;
  if (!source) return;
  const r = await send('POST', `/api/import/runs/${encodeURIComponent(source)}`);
  say(r.ok ? `Import « ${source} » lancé.` : `Lancement impossible : ${messageOf(r)}.`);
  // The run's outcome shows as soon as it is kept.
  for (let i = 0; i < 30 && r.ok; i += 1) {
    await new Promise((done) => setTimeout(done, 1000));
    await showSchedules();
    if (!$('import-planifies-liste').textContent.includes('en cours')) break;
  }
}

export function buildImporting() {
  $('import-planifies-liste').addEventListener('click', runNow);
  onSession(() => { $('import-ouvrir').hidden = !can('admin'); });
  $('import-ouvrir').addEventListener('click', () => {
    $('import-resultat').hidden = true;
    say('');
    $('import').showModal();
    showSchedules();
  });
  $('import-form').addEventListener('submit', (e) => { e.preventDefault(); analyse(false); });
  $('import-fichier').addEventListener('change', () => { analysed = null; $('import-resultat').hidden = true; });
  $('import-reanalyser').addEventListener('click', () => analyse(true));
  $('import-confirmer').addEventListener('click', confirm);
  $('import-fermer').addEventListener('click', () => $('import').close());
}
