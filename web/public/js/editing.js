// Editing on the map, for editors signed in: add an initiative (by address,
// with the geocoder's suggestions, or by a click on the map), correct it,
// move it by dragging, delete it, read its history as differences and
// restore a version. Every correction is conditional (`If-Match`): when
// someone changed the record meanwhile, both versions are shown side by side,
// never overwritten silently.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { $, escapeHtml, frenchDate } from './util.js';
import { map, categories, categoryById } from './context.js';
import { can, messageOf, onSession, send, session } from './account.js';
import { closePopup, openInitiative, popupHooks } from './panel.js';
import { reloadInitiatives } from './layers.js';

/** The fields the form edits, as the API names them, with their labels. */
const FIELDS = {
  name: 'Nom', category: 'Catégorie', address: 'Adresse', postcode: 'Code postal', commune: 'Commune',
  insee_code: 'Code INSEE', siret: 'SIRET', website: 'Site web', opening_hours: 'Horaires', description: 'Description',
  lon: 'Longitude', lat: 'Latitude',
};
const FORM_FIELDS = ['name', 'category', 'address', 'postcode', 'commune', 'siret', 'website', 'opening_hours', 'description'];

/** What the form edits: `null` for a new initiative, else its id, record and ETag. */
let editing = null;
/** The position chosen (a suggestion or a click), and the INSEE code of a suggestion. */
let chosen = { lon: null, lat: null, insee_code: null };

const value = (v) => (v === undefined || v === null || v === '' ? null : v);
const shown = (field, v) => {
  if (v === null || v === undefined || v === '') return '—';
  if (field === 'category') return categoryById[v]?.label ?? v;
  return String(v);
};

/** The record of a Feature as the API gives it. */
function recordOf(feature) {
  const p = feature.properties;
  const [lon, lat] = feature.geometry?.coordinates ?? [null, null];
  return { ...Object.fromEntries(Object.keys(FIELDS).map((f) => [f, value(p[f])])), lon, lat };
}

function say(text) { $('edition-etat').textContent = text; }

function fillForm(record) {
  for (const f of FORM_FIELDS) $(`edition-${f}`).value = record?.[f] ?? '';
  if (!record) $('edition-category').value = categories[0]?.id ?? '';
  chosen = { lon: null, lat: null, insee_code: null };
  $('edition-adresse-recherche').value = '';
  $('edition-position').textContent = record?.lon != null ? `Position actuelle : ${record.lat.toFixed(5)}, ${record.lon.toFixed(5)}` : '';
  $('edition-conflit').hidden = true;
  say('');
}

/** The form's values that differ from `record` (all given ones for a new initiative). */
function changes(record) {
  const out = {};
  for (const f of FORM_FIELDS) {
    const v = value($(`edition-${f}`).value.trim());
    if (!record ? v !== null : v !== value(record[f])) out[f] = v;
  }
  if (chosen.lon !== null) {
    out.lon = chosen.lon;
    out.lat = chosen.lat;
    if (chosen.insee_code && (!record || chosen.insee_code !== record.insee_code)) out.insee_code = chosen.insee_code;
  }
  return out;
}

function afterWrite(id, lngLat) {
  reloadInitiatives();
  if (id && lngLat) openInitiative(id, lngLat);
}

async function save(e) {
  e.preventDefault();
  if (!editing) {
    const body = changes(null);
    const r = await send('POST', '/api/initiatives', body);
    if (!r.ok) { say(`Enregistrement impossible : ${messageOf(r)}.`); return; }
    $('edition').close();
    afterWrite(r.json.properties.id, r.json.geometry?.coordinates);
    return;
  }
  const body = changes(editing.record);
  if (Object.keys(body).length === 0) { $('edition').close(); return; }
  await patch(body, editing.etag);
}

async function patch(body, etag) {
  const r = await send('PATCH', `/api/initiatives/${encodeURIComponent(editing.id)}`, body, { 'if-match': etag });
  if (r.status === 412) { await showConflict(body); return; }
  if (!r.ok) { say(`Enregistrement impossible : ${messageOf(r)}.`); return; }
  $('edition').close();
  afterWrite(editing.id, r.json.geometry?.coordinates);
}

/** Someone saved meanwhile: my changes beside what is stored now. */
async function showConflict(mine) {
  const now = await send('GET', `/api/initiatives/${encodeURIComponent(editing.id)}`);
  if (!now.ok) { say(`Cette initiative a changé ou disparu : ${messageOf(now)}.`); return; }
  const stored = recordOf(now.json);
  const fields = Object.keys(FIELDS).filter((f) => f in mine || value(stored[f]) !== value(editing.record[f]));
  $('conflit-table').tBodies[0].innerHTML = fields.map((f) => `<tr${f in mine && value(mine[f]) !== value(stored[f]) ? ' class="differ"' : ''}>
    <th scope="row">${FIELDS[f]}</th><td>${escapeHtml(shown(f, f in mine ? mine[f] : editing.record[f]))}</td><td>${escapeHtml(shown(f, stored[f]))}</td></tr>`).join('');
  $('edition-conflit').hidden = false;
  say('Choisissez : enregistrer votre version par-dessus, ou reprendre la version enregistrée.');
  $('conflit-garder').onclick = () => {
    editing = { ...editing, record: stored, etag: now.etag };
    $('edition-conflit').hidden = true;
    patch(mine, now.etag);
  };
  $('conflit-reprendre').onclick = () => {
    editing = { ...editing, record: stored, etag: now.etag };
    fillForm(stored);
    say('Version enregistrée reprise : corrigez-la si besoin.');
  };
}

async function openEditor(id) {
  if (id) {
    const r = await send('GET', `/api/initiatives/${encodeURIComponent(id)}`);
    if (!r.ok) return;
    editing = { id, record: recordOf(r.json), etag: r.etag };
    $('edition-titre').textContent = `Corriger « ${editing.record.name} »`;
  } else {
    editing = null;
    $('edition-titre').textContent = 'Ajouter une initiative';
  }
  fillForm(editing?.record ?? null);
  $('edition').showModal();
  $('edition-name').focus();
}

// ---------- address suggestions ----------

let suggestTimer = null;
let suggestions = [];
function showSuggestions(list) {
  suggestions = list;
  const ul = $('edition-suggestions');
  ul.innerHTML = list.map((s, i) => `<li role="option" id="suggestion-${i}" data-i="${i}">${escapeHtml(s.label)}</li>`).join('');
  ul.hidden = list.length === 0;
  $('edition-adresse-recherche').setAttribute('aria-expanded', String(list.length > 0));
}
function pick(s) {
  showSuggestions([]);
  $('edition-adresse-recherche').value = s.label;
  if (s.kind !== 'municipality' && s.name) $('edition-address').value = s.name;
  if (s.postcode) $('edition-postcode').value = s.postcode;
  if (s.city) $('edition-commune').value = s.city;
  chosen = { lon: s.lon, lat: s.lat, insee_code: s.citycode ?? null };
  $('edition-position').textContent = `Position : ${s.label} (${s.lat.toFixed(5)}, ${s.lon.toFixed(5)})`;
}
function buildSuggestions() {
  const input = $('edition-adresse-recherche');
  let active = -1;
  input.addEventListener('input', () => {
    clearTimeout(suggestTimer);
    const q = input.value.trim();
    if (q.length < 3) { showSuggestions([]); return; }
    suggestTimer = setTimeout(async () => {
      const r = await send('GET', `/api/adresses?q=${encodeURIComponent(q)}`);
      if (input.value.trim() !== q) return;
      active = -1;
      showSuggestions(r.ok ? r.json.suggestions : []);
      if (r.ok && r.json.message) $('edition-position').textContent = `${r.json.message[0].toUpperCase()}${r.json.message.slice(1)}.`;
    }, 200);
  });
  input.addEventListener('keydown', (e) => {
    if (!suggestions.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      active = (active + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
      $('edition-suggestions').querySelectorAll('li').forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
      input.setAttribute('aria-activedescendant', `suggestion-${active}`);
    } else if (e.key === 'Enter' && active >= 0) {
      e.preventDefault();
      pick(suggestions[active]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      showSuggestions([]);
    }
  });
  $('edition-suggestions').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-i]');
    if (li) pick(suggestions[Number(li.dataset.i)]);
  });
}

let picking = false;
/** Whether the next click on the map is a position being chosen. */
export const pickingPosition = () => picking;

/** The dialog steps aside; the next click on the map is the position. */
function chooseOnMap() {
  $('edition').close();
  map.getCanvas().style.cursor = 'crosshair';
  picking = true;
  map.once('click', (e) => {
    map.getCanvas().style.cursor = '';
    setTimeout(() => { picking = false; }, 0);
    chosen = { lon: Number(e.lngLat.lng.toFixed(6)), lat: Number(e.lngLat.lat.toFixed(6)), insee_code: null };
    $('edition').showModal();
    $('edition-position').textContent = `Position choisie sur la carte : ${chosen.lat.toFixed(5)}, ${chosen.lon.toFixed(5)}`;
  });
}

// ---------- move, delete, history ----------

let moving = null;
async function startMove(id, lngLat) {
  const r = await send('GET', `/api/initiatives/${encodeURIComponent(id)}`);
  if (!r.ok) return;
  closePopup();
  moving?.marker.remove();
  const marker = new maplibregl.Marker({ draggable: true, color: '#a50f15' }).setLngLat(lngLat).addTo(map);
  marker.getElement().setAttribute('aria-label', 'Repère à déplacer');
  moving = { id, etag: r.etag, marker, from: lngLat };
  $('deplacement').hidden = false;
  $('deplacement-enregistrer').focus();
}
function endMove() {
  moving?.marker.remove();
  moving = null;
  $('deplacement').hidden = true;
}
async function saveMove() {
  const at = moving.marker.getLngLat();
  const id = moving.id;
  const r = await send('PATCH', `/api/initiatives/${encodeURIComponent(id)}`,
    { lon: Number(at.lng.toFixed(6)), lat: Number(at.lat.toFixed(6)) }, { 'if-match': moving.etag });
  if (!r.ok) {
    $('deplacement').querySelector('span').textContent = r.status === 412
      ? 'Quelqu’un a modifié cette initiative entre-temps : rouvrez-la pour voir sa version.'
      : `Déplacement impossible : ${messageOf(r)}.`;
    return;
  }
  endMove();
  $('deplacement').querySelector('span').textContent = 'Glissez le repère à la bonne place.';
  afterWrite(id, r.json.geometry.coordinates);
}

async function askDelete(id, name) {
  const r = await send('GET', `/api/initiatives/${encodeURIComponent(id)}`);
  if (!r.ok) return;
  $('suppression-texte').textContent = `« ${name} » disparaîtra de la carte, des listes et de l'analyse des manques. L'historique la garde.`;
  $('suppression-etat').textContent = '';
  $('suppression-confirmer').onclick = async () => {
    const done = await send('DELETE', `/api/initiatives/${encodeURIComponent(id)}`, undefined, { 'if-match': r.etag });
    if (!done.ok) {
      $('suppression-etat').textContent = done.status === 412
        ? 'Quelqu’un a modifié cette initiative entre-temps : rouvrez-la avant de la supprimer.'
        : `Suppression impossible : ${messageOf(done)}.`;
      return;
    }
    $('suppression').close();
    closePopup();
    reloadInitiatives();
  };
  $('suppression').showModal();
  $('suppression-annuler').focus();
}

const ACTIONS = { create: 'Création', update: 'Correction', delete: 'Suppression', import: 'Import' };
function differences(before, after) {
  const fields = Object.keys(FIELDS).filter((f) => value(before?.[f]) !== value(after?.[f]));
  return fields.map((f) => `<li>${FIELDS[f]} : <del>${escapeHtml(shown(f, before?.[f]))}</del> → <ins>${escapeHtml(shown(f, after?.[f]))}</ins></li>`).join('');
}

async function showHistory(id, lngLat, message = '') {
  const [h, now] = await Promise.all([
    send('GET', `/api/initiatives/${encodeURIComponent(id)}/history`),
    send('GET', `/api/initiatives/${encodeURIComponent(id)}`),
  ]);
  $('historique-etat').textContent = message;
  const list = $('historique-liste');
  if (!h.ok) {
    list.innerHTML = '';
    $('historique-etat').textContent = messageOf(h);
  } else {
    const entries = h.json.history.map((e, i) => ({ ...e, i })).reverse();
    list.innerHTML = entries.length ? entries.map((e) => `<li>
      <strong>${ACTIONS[e.action] ?? e.action}</strong> le ${escapeHtml(frenchDate(e.at.slice(0, 10)))} à ${escapeHtml(e.at.slice(11, 16))} UTC, par ${escapeHtml(e.actor)}
      <ul class="diff">${differences(e.before, e.after) || '<li>aucun champ changé</li>'}</ul>
      ${e.after && e.i < h.json.history.length - 1 && now.ok ? `<button type="button" data-i="${e.i}">Restaurer cette version</button>` : ''}</li>`).join('')
      : '<li>Aucune modification depuis les données ouvertes.</li>';
    list.querySelectorAll('button[data-i]').forEach((b) => b.addEventListener('click', async () => {
      const version = h.json.history[Number(b.dataset.i)].after;
      const current = recordOf(now.json);
      const body = {};
      for (const f of Object.keys(FIELDS)) if (value(version[f]) !== value(current[f])) body[f] = value(version[f]);
      // A position is one: both coordinates, or neither.
      if ('lon' in body || 'lat' in body) Object.assign(body, { lon: value(version.lon), lat: value(version.lat) });
      const r = await send('PATCH', `/api/initiatives/${encodeURIComponent(id)}`, body, { 'if-match': now.etag });
      if (!r.ok) {
        $('historique-etat').textContent = r.status === 412
          ? 'Quelqu’un a modifié cette initiative entre-temps : rouvrez l’historique.'
          : `Restauration impossible : ${messageOf(r)}.`;
        return;
      }
      reloadInitiatives();
      showHistory(id, r.json.geometry?.coordinates ?? lngLat, 'Version restaurée.');
    }));
  }
  if (!$('historique').open) $('historique').showModal();
}

/** « Vérifiée le … »: checked against the field today. */
async function markVerified(id, lngLat, bar) {
  const r = await send('POST', `/api/initiatives/${encodeURIComponent(id)}/verified`);
  if (!r.ok) {
    bar.insertAdjacentHTML('afterend', `<p class="small" role="alert">${escapeHtml(messageOf(r))}</p>`);
    return;
  }
  openInitiative(id, lngLat);
}

/** The popup's buttons for an editor. */
function popupActions(properties, element, lngLat) {
  if (!can('editor')) return;
  const bar = document.createElement('div');
  bar.className = 'edit-actions';
  bar.innerHTML = `<button type="button" data-do="modifier">Modifier</button><button type="button" data-do="deplacer">Déplacer</button>
    <button type="button" data-do="historique">Historique</button><button type="button" data-do="verifier">Marquer vérifiée</button>
    <button type="button" data-do="supprimer">Supprimer</button>`;
  bar.addEventListener('click', (e) => {
    const what = e.target.closest('button')?.dataset.do;
    if (what === 'modifier') openEditor(properties.id);
    else if (what === 'deplacer') startMove(properties.id, lngLat);
    else if (what === 'historique') showHistory(properties.id, lngLat);
    else if (what === 'supprimer') askDelete(properties.id, properties.name);
    else if (what === 'verifier') markVerified(properties.id, lngLat, bar);
  });
  element.querySelector('.popup')?.append(bar);
}

export function buildEditing() {
  for (const c of categories) $('edition-category').append(new Option(c.label, c.id));
  onSession(() => {
    $('ajouter').hidden = !can('editor');
    if (!session.account) endMove();
  });
  popupHooks.push(popupActions);
  $('ajouter').addEventListener('click', () => openEditor(null));
  $('edition-form').addEventListener('submit', save);
  $('edition-fermer').addEventListener('click', () => $('edition').close());
  $('edition-sur-carte').addEventListener('click', chooseOnMap);
  buildSuggestions();
  $('deplacement-enregistrer').addEventListener('click', saveMove);
  $('deplacement-annuler').addEventListener('click', endMove);
  $('historique-fermer').addEventListener('click', () => $('historique').close());
  $('suppression-annuler').addEventListener('click', () => $('suppression').close());
}
