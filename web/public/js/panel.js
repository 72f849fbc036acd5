import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { $, escapeHtml, fmt, frenchDate, getJson, metres } from './util.js';
import { state, writeUrl } from './state.js';
import { map, categories, categoryById, lastAnalysis, style } from './context.js';
import { markerQpv } from './markers.js';

// ---------- selected QPV ----------
let qpvRequest = 0;
export async function showQpv(code, { fly = true } = {}) {
  const ticket = ++qpvRequest;
  state.qpv = code;
  writeUrl();
  map.setFilter('qpv-selected', ['==', ['get', 'code'], code]);
  // A QPV without outline: its commune's marker is ringed.
  map.setFilter('qpv-communes-selected', ['in', `,${code},`, ['get', 'codes']]);
  let feature;
  try {
    feature = await getJson(`/api/qpv/${encodeURIComponent(code)}`);
  } catch {
    if (ticket !== qpvRequest) return;
    $('quartier').hidden = false;
    $('quartier-nom').textContent = 'Quartier introuvable';
    $('quartier-infos').innerHTML = '';
    $('quartier-resume').textContent = `Aucun quartier prioritaire n’a le code « ${code} ». Cherchez-le par son nom ou sa commune.`;
    $('quartier-liste').innerHTML = '';
    return;
  }
  if (ticket !== qpvRequest) return;
  const p = feature.properties;
  $('quartier').hidden = false;
  $('quartier-nom').textContent = p.name;
  const communes = p.communes.map((c) => c.name).filter(Boolean).join(', ');
  const facts = [
    ['Code', p.code], ['Communes', communes || '—'], ['Département', p.departement],
    ['Génération', String(p.generation)],
    ['Population', p.population != null
      ? `${fmt.format(p.population)} hab.${p.population_as_of ? ` (${frenchDate(p.population_as_of)})` : ''}` : 'non publiée'],
    ['Contour', p.outline_as_of ? frenchDate(p.outline_as_of) : 'non chargé'],
  ];
  $('quartier-infos').innerHTML = facts.map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  ficheLink(p.code);
  // The radius means nothing without an outline: hidden then.
  const outlined = Boolean(feature.geometry);
  $('rayon').hidden = !outlined;
  document.querySelector('label[for="rayon"]').hidden = !outlined;
  if (!outlined) {
    map.getSource('radius').setData({ type: 'FeatureCollection', features: [] });
    $('quartier-liste').innerHTML = '';
    if (fly && p.centre) map.flyTo({ center: p.centre, zoom: 12, duration: 600 });
    await listCommuneInitiatives(p, ticket);
    return;
  }
  if (fly) {
    // The QPV and its ring: the box grown by the radius, in degrees.
    const [w, s, e, n] = feature.bbox;
    const dLat = state.radius / 111_320;
    const dLon = dLat / Math.cos(((s + n) / 2) * Math.PI / 180);
    map.fitBounds([[w - dLon, s - dLat], [e + dLon, n + dLat]], { padding: 40, maxZoom: 16, duration: 600 });
  }
  await listNearby(code, ticket);
}

/** For a QPV without outline: the initiatives of its communes, counted as
 * the gap analysis counts them, and what a person can do about it. */
async function listCommuneInitiatives(p, ticket) {
  const shown = state.categories ?? categories.map((c) => c.id);
  // As the gap analysis counts them: by INSEE code, else commune name.
  const found = shown.length === 0 ? { features: [], total: 0 }
    : await getJson(`/api/qpv/${encodeURIComponent(p.code)}/communes?category=${shown.map(encodeURIComponent).join(',')}&limit=1000`);
  if (ticket !== qpvRequest) return;
  const items = found.features;
  const more = found.total > items.length ? ` (les ${fmt.format(items.length)} premières listées)` : '';
  $('quartier-resume').textContent = `Contour non chargé : on ne sait pas quelles initiatives sont dans ce quartier ou à quelle distance. `
    + `Contour disponible après mise à jour des données par l'administrateur du site. `
    + `Dans ses communes : ${fmt.format(found.total)} initiative${found.total > 1 ? 's' : ''} des catégories cochées${more} (comptées par commune, comme dans « Manques »).`;
  const list = $('quartier-liste');
  list.innerHTML = '';
  for (const f of items) {
    const c = categoryById[f.properties.category];
    const li = document.createElement('li');
    const centred = f.properties.precision === 'municipality' ? '<br><small>placée au centre de la commune, non comptée dans un quartier</small>' : '';
    li.innerHTML = `<button type="button"><span class="swatch" style="background:${escapeHtml(c?.color)}"></span>
      <span>${escapeHtml(f.properties.name)}<br><small class="cat">${escapeHtml(c?.label)}</small>${centred}</span></button>`;
    li.querySelector('button').addEventListener('click', () => {
      if (!f.geometry) return;
      map.flyTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 15) });
      openInitiative(f.id, f.geometry.coordinates);
    });
    list.append(li);
  }
}

/** The printable fiche of the QPV, at the panel's radius. */
function ficheLink(code) {
  $('quartier-fiche').href = `/qpv/${encodeURIComponent(code)}/fiche?radius_m=${state.radius}`;
}

const EMPTY = { type: 'FeatureCollection', features: [] };
/** The chosen QPV's walkable area as last answered. */
let lastWalk = null;

/** In « Manques » on foot: the area reachable from the QPV's streets, and
 * its walking figures said in the panel (or why there are none). */
async function showWalk(code, ticket) {
  const minutes = state.mode === 'manques' ? state.gapWalk : null;
  $('quartier-marche').hidden = !minutes;
  if (!minutes) {
    lastWalk = null;
    map.getSource('walk').setData(EMPTY);
    return;
  }
  const r = await fetch(`/api/qpv/${encodeURIComponent(code)}/isochrone?minutes=${minutes}`);
  const body = await r.json().catch(() => ({}));
  if (ticket !== qpvRequest) return;
  map.getSource('walk').setData(r.ok && body.geometry ? body : EMPTY);
  lastWalk = { code, minutes, ok: r.ok, body };
  sayWalk();
}

/** The chosen QPV's walking figures, from the walkable area and the
 * analysis on foot (whichever comes last says it again). */
export function sayWalk() {
  if (!lastWalk || lastWalk.code !== state.qpv || lastWalk.minutes !== state.gapWalk) return;
  const { minutes, ok, body } = lastWalk;
  // Only a row of the analysis on foot for this walk (not the radius's).
  const row = lastAnalysis.rows.find((g) => g.code === lastWalk.code && g.walk_basis && lastAnalysis.minutes === minutes);
  let text;
  if (!ok) text = `À pied : ${body.message ?? 'zone non disponible'}.`;
  else if (!row) text = `Zone accessible à pied en ${minutes} min tracée (${fmt.format(body.properties.speed_kmh)} km/h).`;
  else {
    const share = Math.round(row.share_within * 100);
    const whom = row.weighted_by_population ? 'des habitants du quartier' : 'des rues du quartier';
    text = `À pied (${minutes} min, ${fmt.format(body.properties.speed_kmh)} km/h) : ${share} % ${whom} à moins de ${minutes} min d'une initiative choisie`
      + (row.nearest_name ? ` ; la plus proche, ${row.nearest_name}, à ${fmt.format(row.nearest_min)} min` : ' ; aucune à moins de 60 min')
      + (row.cut ? ` — coupure : elle est à ${metres(row.crow_nearest_m)} à vol d'oiseau.` : '.');
  }
  $('quartier-marche').textContent = text;
}

export async function listNearby(code, ticket = qpvRequest) {
  const r = state.radius;
  ficheLink(code);
  const shown = state.categories ?? categories.map((c) => c.id);
  const [near, ring] = await Promise.all([
    getJson(`/api/qpv/${encodeURIComponent(code)}/nearby?radius_m=${r}&limit=1000`),
    getJson(`/api/qpv/${encodeURIComponent(code)}/ring?radius_m=${r}`),
  ]);
  if (ticket !== qpvRequest) return;
  map.getSource('radius').setData(ring);
  showWalk(code, ticket);
  let items = near.features.filter((f) => shown.includes(f.properties.category));
  const inside = items.filter((f) => f.properties.distance_m === 0).length;
  $('quartier-resume').textContent = items.length === 0
    ? `Aucune initiative dans le quartier ni à moins de ${fmt.format(r)} m.`
    : `${items.length} initiative${items.length > 1 ? 's' : ''} : ${inside} dans le quartier, ${items.length - inside} à moins de ${fmt.format(r)} m.`;
  if (items.length === 0 && shown.length > 0) {
    // A gap: name the nearest of the ticked categories, as far as the
    // service measures (its maximum radius), or say there is none that near.
    const far = style.metadata['ess-map:radius'].max;
    const farther = await getJson(`/api/qpv/${encodeURIComponent(code)}/nearby?radius_m=${far}&limit=1000`);
    if (ticket !== qpvRequest) return;
    const nearest = farther.features.find((f) => shown.includes(f.properties.category));
    items = nearest ? [nearest] : [];
    $('quartier-resume').textContent += nearest
      ? ` La plus proche : ${nearest.properties.name} (${categoryById[nearest.properties.category]?.label ?? nearest.properties.category}), à ${metres(nearest.properties.distance_m)}.`
      : ` Aucune non plus à moins de ${fmt.format(far / 1000)} km.`;
  }
  const list = $('quartier-liste');
  list.innerHTML = '';
  for (const f of items) {
    const c = categoryById[f.properties.category];
    const li = document.createElement('li');
    const address = [f.properties.address, [f.properties.postcode, f.properties.commune].filter(Boolean).join(' ')].filter(Boolean).join(', ');
    li.innerHTML = `<button type="button" data-id="${escapeHtml(f.id)}"><span class="swatch" style="background:${escapeHtml(c?.color)}"></span>
      <span>${escapeHtml(f.properties.name)}<br><small class="cat">${escapeHtml(c?.label)}</small>${address ? `<br><small class="address">${escapeHtml(address)}</small>` : ''}</span>
      <span class="dist">${metres(f.properties.distance_m)}</span></button>`;
    li.querySelector('button').addEventListener('click', () => {
      map.flyTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 16) });
      openInitiative(f.id, f.geometry.coordinates);
    });
    list.append(li);
  }
}

export function closeQpv() {
  qpvRequest++;
  state.qpv = null;
  $('quartier').hidden = true;
  map.setFilter('qpv-selected', ['==', ['get', 'code'], '']);
  map.setFilter('qpv-communes-selected', ['in', ',-,', ['get', 'codes']]);
  map.getSource('radius').setData({ type: 'FeatureCollection', features: [] });
  writeUrl();
}

// ---------- initiatives ----------
// How a position was found, when not given by the source.
const PRECISION_LABELS = {
  housenumber: 'adresse géocodée au numéro',
  street: 'adresse géocodée à la rue',
  locality: 'adresse géocodée au lieu-dit',
  municipality: 'centre de la commune (adresse non géocodée)',
};
let popup = null;
// Where focus was when a popup opened: it goes back there when it closes.
let focusBeforePopup = null;
export async function openInitiative(id, lngLat) {
  const f = await getJson(`/api/initiatives/${encodeURIComponent(id)}`);
  const p = f.properties;
  const where = p.qpv_location;
  const qpvText = where.status === 'inside' ? `Dans le quartier ${escapeHtml(where.qpv.name)} (${escapeHtml(where.qpv.code)})`
    : where.status === 'near' ? `À ${metres(where.distance_m)} du quartier ${escapeHtml(where.qpv.name)} (${escapeHtml(where.qpv.code)})`
      : where.status === 'commune_only' ? 'Position approximative : seule la commune est connue, l’initiative n’est donc pas rattachée à un quartier'
        : where.status === 'unknown' ? `Non vérifiable : contour non chargé${where.may_be_in ? ` (peut-être dans ${escapeHtml(where.may_be_in.name)}, ${escapeHtml(where.may_be_in.code)})` : ''}`
          : 'À plus de 500 m de tout quartier dont le contour est chargé';
  const precision = PRECISION_LABELS[p.precision];
  const address = [p.address, [p.postcode, p.commune].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  const site = p.website ? `<p><a href="${escapeHtml(p.website.startsWith('http') ? p.website : `https://${p.website}`)}" target="_blank" rel="noopener noreferrer">Site web</a></p>` : '';
  const opened = openPopup(lngLat, `<div class="popup"><h3>${escapeHtml(p.name)}</h3><p class="cat">${escapeHtml(p.category_label)}</p>
      ${address ? `<p>${escapeHtml(address)}</p>` : ''}${site}
      ${p.opening_hours ? `<p class="hours">Horaires : ${escapeHtml(p.opening_hours)}</p>` : ''}<p>${qpvText}</p>
      ${precision ? `<p class="precision">Position : ${precision}</p>` : ''}
      ${p.data_as_of ? `<p class="date">Données ${p.data_as_of.length === 4 ? '' : 'de '}${escapeHtml(frenchDate(p.data_as_of))}</p>` : ''}
      ${p.verified_at ? `<p class="date verified">Vérifiée sur le terrain le ${escapeHtml(frenchDate(p.verified_at.slice(0, 10)))}</p>` : ''}</div>`);
  for (const hook of popupHooks) hook(p, opened.getElement(), lngLat);
}

/** Called with an initiative's properties, its popup's element and place
 * whenever one opens (the editing buttons hang there). */
export const popupHooks = [];

/** A popup at a place; focus goes back where it was when it closes. */
function openPopup(lngLat, html) {
  popup?.remove();
  focusBeforePopup = document.activeElement;
  popup = new maplibregl.Popup({ maxWidth: '18rem', focusAfterOpen: true })
    .setLngLat(lngLat)
    .setHTML(html)
    .addTo(map);
  const opened = popup;
  popup.on('close', () => {
    if (popup === opened && focusBeforePopup?.isConnected && focusBeforePopup !== document.body) focusBeforePopup.focus();
  });
  return popup;
}

/** A commune's marker listing several QPV without outline: choose one. */
export function openQpvMarker(properties, lngLat) {
  const listed = markerQpv(properties.key);
  const opened = openPopup(lngLat, `<div class="popup"><h3>${escapeHtml(properties.commune_name)}</h3>
    <p>${fmt.format(listed.length)} quartiers prioritaires ${escapeHtml(String(properties.generation))} sans contour chargé :</p>
    <ul class="marker-qpv">${listed.map((q) => `<li><button type="button" data-code="${escapeHtml(q.code)}">${escapeHtml(q.name)} <small>${escapeHtml(q.code)}</small></button></li>`).join('')}</ul></div>`);
  opened.getElement().querySelectorAll('button[data-code]').forEach((b) => b.addEventListener('click', () => {
    opened.remove();
    showQpv(b.dataset.code, { fly: false });
  }));
}

/** Closes the initiative's popup, if one is open. */
export function closePopup() {
  if (popup?.isOpen()) popup.remove();
}
