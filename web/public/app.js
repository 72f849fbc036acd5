// ess-map web map: MapLibre GL JS (served by ess-map from its npm package),
// the style, tiles, glyphs and data all from this server. This module loads
// what the page needs, makes the map and wires the controls; the rest is in
// js/: state and URL, helpers, the QPV panel and popups, filters, search, and
// the « Manques » table.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { $, fmt, getJson } from './js/util.js';
import { readUrl, setGenerations, state, writeUrl } from './js/state.js';
import { setContext } from './js/context.js';
import { applyFilters, buildFilters, styleForState } from './js/filters.js';
import { showInitiatives } from './js/layers.js';
import { closePopup, closeQpv, listNearby, openInitiative, openQpvMarker, showQpv } from './js/panel.js';
import { markersData, markersDrawn, showQpvMarkers } from './js/markers.js';
import { buildSearch } from './js/search.js';
import { gapRows, legendFor, loadGaps, setMode, sortGapsBy } from './js/gaps.js';
import { fetchCounts, paintChoropleth } from './js/choropleth.js';
import { buildAddresses, showAddresses } from './js/addresses.js';
import { applyEmbedding, buildEmbedDialog } from './js/embed.js';
import { buildCompare } from './js/compare.js';
import { buildImageExport } from './js/image.js';
import { buildAccount } from './js/account.js';
import { buildEditing, pickingPosition } from './js/editing.js';
import { buildChanges } from './js/changes.js';
import { buildModeration } from './js/moderation.js';
import { buildImporting } from './js/importing.js';

maplibregl.setWorkerUrl('/vendor/maplibre-gl/maplibre-gl-worker.mjs');
// Two workers cut tiles where there are two cores (the first render drops
// by ~0.15 s here); their 0.5 MB script is read while the style and data come.
maplibregl.setWorkerCount(Math.max(1, Math.min(2, navigator.hardwareConcurrency ?? 1)));
maplibregl.prewarm();

readUrl();
applyEmbedding();
const [style, catalogue, health] = await Promise.all([
  getJson('/style.json'), getJson('/api/categories'), getJson('/health'),
]);
setGenerations(style.metadata['ess-map:generations']);
const categories = catalogue.categories;
const categoryById = Object.fromEntries(categories.map((c) => [c.id, c]));
if (state.categories) state.categories = state.categories.filter((c) => categoryById[c]);
const groupById = Object.fromEntries(catalogue.groups.map((g) => [g.id, g]));
if (!groupById[state.gapGroup]) state.gapGroup = null;

// A basemap only when one is chosen (or the configuration names one): the
// map is offline otherwise. Its layers go under ess-map's.
const basemaps = style.metadata['ess-map:basemaps'] ?? [];
if (state.basemap === undefined) state.basemap = style.metadata['ess-map:basemap'] ? 'config' : null;
if (state.basemap && !basemaps.some((b) => b.id === state.basemap)) state.basemap = null;
async function styleWithBasemap(id) {
  const chosen = basemaps.find((b) => b.id === id);
  if (!chosen) return style;
  const base = await getJson(chosen.url);
  return { ...style, glyphs: base.glyphs ?? style.glyphs, sprite: base.sprite,
    sources: { ...base.sources, ...style.sources },
    layers: [...base.layers, ...style.layers.filter((l) => !l.id.startsWith('background') && !l.id.startsWith('departements-fill'))] };
}
// A basemap that cannot be reached (no network, the service down) falls back
// to « Sans fond », and says so: never a blank page.
async function styleOrPlain(id) {
  try {
    return await styleWithBasemap(id);
  } catch {
    state.basemap = null;
    basemapFailed = basemaps.find((b) => b.id === id)?.label ?? id;
    return style;
  }
}
let basemapFailed = null;
const mapStyle = await styleOrPlain(state.basemap);

// Tiles from a PMTiles archive on a static host when the server says so
// (`tiles_url`): protomaps' reader, from its npm package, served here.
if (style.metadata['ess-map:tiles-url']) {
  await new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement('script'), { src: '/vendor/pmtiles/pmtiles.js', onload: resolve, onerror: reject });
    document.head.append(script);
  });
  maplibregl.addProtocol('pmtiles', new window.pmtiles.Protocol({ metadata: true }).tile);
}

// What the modules read; the map joins it once made.
const context = { style, categories, categoryById, groupById, catalogue, health };
setContext(context);
// The QPV colours' figures, asked now: they come while the map is made.
if (state.mode === 'carte') fetchCounts().catch(() => {});
// The QPV without outline come while the map is made (its WebGL context
// takes a few hundred milliseconds): then it gets its style, with them.
const markers = markersData();
const map = new maplibregl.Map({
  container: 'carte', center: [state.lon, state.lat], zoom: state.z,
  hash: false, attributionControl: false, locale: {
    'Map.Title': 'Carte des initiatives et des quartiers prioritaires',
    'NavigationControl.ZoomIn': 'Zoomer', 'NavigationControl.ZoomOut': 'Dézoomer',
    'NavigationControl.ResetBearing': 'Réinitialiser l’orientation',
    'Popup.Close': 'Fermer',
    'AttributionControl.ToggleAttribution': 'Sources des données',
    'AttributionControl.MapFeedback': 'Signaler une erreur',
  },
});
// Sources behind a button, closed on arrival: open, they would cover the
// scale bar and half of a phone's map.
map.addControl(new maplibregl.AttributionControl({ compact: true }), 'bottom-right');
map.once('load', () => {
  const sources = map.getContainer().querySelector('.maplibregl-ctrl-attrib');
  sources?.classList.remove('maplibregl-compact-show');
  sources?.removeAttribute('open');
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
const loaded = new Promise((resolve) => map.once('load', resolve));
setContext({ ...context, map });
const first = styleForState(mapStyle);
first.sources = { ...first.sources, 'qpv-communes': { ...first.sources['qpv-communes'], data: await markers } };
markersDrawn();
map.setStyle(first);
loaded.then(() => paintChoropleth());

// ---------- wiring ----------
buildFilters();
buildSearch();
buildAddresses();
buildEmbedDialog();
buildCompare();
buildImageExport();
buildEditing();
buildChanges();
buildModeration();
buildImporting();
buildAccount();
$('quartier-fermer').addEventListener('click', closeQpv);
$('rayon').value = String(state.radius);
$('rayon-valeur').textContent = `${fmt.format(state.radius)} m`;
let radiusTimer = null;
$('rayon').addEventListener('input', (e) => {
  state.radius = Number(e.target.value);
  $('rayon-valeur').textContent = `${fmt.format(state.radius)} m`;
  writeUrl();
  clearTimeout(radiusTimer);
  radiusTimer = setTimeout(() => state.qpv && listNearby(state.qpv), 120);
});
$('mode-carte').addEventListener('click', () => setMode('carte'));
$('mode-manques').addEventListener('click', () => setMode('manques'));
for (const g of catalogue.groups) {
  const option = new Option(g.label, g.id);
  option.title = g.description;
  $('manques-quoi').append(option);
}
$('manques-quoi').value = state.gapGroup ?? '';
$('manques-quoi').addEventListener('change', (e) => {
  state.gapGroup = e.target.value || null;
  writeUrl();
  showInitiatives();
  loadGaps();
});
$('manques-territoire').value = state.gapDepartement ?? '';
$('manques-territoire').addEventListener('change', async (e) => {
  state.gapDepartement = e.target.value || null;
  state.gapCommune = null;
  writeUrl();
  loadGaps();
  // The map goes to the département chosen (its outline, where loaded).
  if (!state.gapDepartement) return;
  try {
    const d = await getJson(`/ogc/collections/departements/items/${encodeURIComponent(state.gapDepartement)}?f=json`);
    const points = (d.geometry?.coordinates ?? []).flat(d.geometry?.type === 'MultiPolygon' ? 2 : 1);
    if (points.length) {
      const xs = points.map((p) => p[0]);
      const ys = points.map((p) => p[1]);
      map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], { padding: 30, duration: 600 });
    }
  } catch { /* no outline for this département (overseas): the map stays */ }
});
$('manques-commune').addEventListener('change', (e) => {
  state.gapCommune = e.target.value || null;
  writeUrl();
  loadGaps();
});
if (state.gapWalk && !$('manques-rayon').querySelector(`option[value="marche-${state.gapWalk}"]`)) {
  // A shared link's own walk (`gm=5`), offered beside the usual ones.
  $('manques-rayon').querySelector('optgroup:last-of-type').append(new Option(`à pied, ${state.gapWalk} min`, `marche-${state.gapWalk}`));
}
$('manques-rayon').value = state.gapWalk ? `marche-${state.gapWalk}` : String(state.gapRadius);
$('manques-rayon').addEventListener('change', (e) => {
  const walk = /^marche-(\d+)$/.exec(e.target.value);
  state.gapWalk = walk ? Number(walk[1]) : null;
  if (!walk) state.gapRadius = Number(e.target.value);
  writeUrl();
  loadGaps();
  if (state.qpv) listNearby(state.qpv);
});
document.querySelectorAll('#manques-table th button').forEach((b) => b.addEventListener('click', () => sortGapsBy(b.dataset.sort)));
for (const radio of document.querySelectorAll('input[name="mesure"]')) {
  radio.checked = radio.value === state.measure;
  radio.addEventListener('change', () => {
    state.measure = radio.value;
    writeUrl();
    paintChoropleth();
    legendFor('carte');
  });
}
for (const b of basemaps) $('fond').append(new Option(b.label, b.id));
$('fond').value = state.basemap ?? '';
function sayBasemapFailed() {
  if (!basemapFailed) return;
  $('fond-etat').textContent = `Le fond « ${basemapFailed} » est injoignable : carte affichée sans fond.`;
  $('fond').value = '';
  writeUrl();
  basemapFailed = null;
}
sayBasemapFailed();
$('fond').addEventListener('change', async (e) => {
  state.basemap = e.target.value || null;
  $('fond-etat').textContent = '';
  const next = await styleOrPlain(state.basemap);
  writeUrl();
  sayBasemapFailed();
  // A new style drops what the page put in it: put it back.
  map.once('style.load', () => {
    showQpvMarkers({ redraw: true });
    showAddresses();
    if (state.mode === 'manques') setMode('manques', { load: false });
    applyFilters();
  });
  map.setStyle(next);
});
$('bascule-panneau').addEventListener('click', (e) => {
  const collapsed = $('panneau').classList.toggle('collapsed');
  e.currentTarget.setAttribute('aria-expanded', String(!collapsed));
});

await loaded;
// The filters load the gap table when the page opens in « Manques » mode.
if (state.mode === 'manques') setMode('manques', { load: false });
applyFilters();
map.on('moveend', () => {
  const c = map.getCenter();
  Object.assign(state, { lon: c.lng, lat: c.lat, z: map.getZoom() });
  writeUrl();
});
/** Opens what is drawn on top at a pixel: a commune's QPV marker (one QPV,
 * or the list of them), an initiative, a cluster, a QPV outline. */
function choose(pixel) {
  if (pickingPosition()) return true;
  const [top] = map.queryRenderedFeatures(pixel, { layers: ['qpv-communes', 'initiative-clusters', 'initiative-points', 'qpv-fill'] });
  if (!top) return false;
  const p = top.properties;
  if (top.layer.id === 'qpv-communes' && p.count > 1) openQpvMarker(p, top.geometry.coordinates);
  else if (top.layer.id === 'initiative-points') openInitiative(p.id, top.geometry.coordinates);
  else if (top.layer.id === 'initiative-clusters') map.easeTo({ center: top.geometry.coordinates, zoom: map.getZoom() + 2 });
  else showQpv(p.code, { fly: false });
  return true;
}
map.on('click', (e) => choose(e.point));
// By keyboard: arrows move the map (MapLibre's), Enter opens what is at its
// centre, marked by a cross while the map has focus.
// « Aller à la carte »: the map itself takes the keyboard.
$('aller-carte').addEventListener('click', (e) => {
  e.preventDefault();
  map.getCanvas().focus();
});
map.getCanvas().addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  const c = map.getCanvas();
  e.preventDefault();
  choose([c.clientWidth / 2, c.clientHeight / 2]);
});
for (const layer of ['initiative-clusters', 'initiative-points', 'qpv-fill', 'qpv-communes']) {
  map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
}
if (state.qpv) showQpv(state.qpv, { fly: state.flyToQpv });
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closePopup();
});

// For tests and for embedding pages.
window.essMap = { map, state, showQpv, openInitiative, gapRows: () => gapRows };
document.documentElement.dataset.ready = 'true';
