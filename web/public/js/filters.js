import { $, escapeHtml, fmt, frenchDate } from './util.js';
import { GENERATIONS, state, writeUrl } from './state.js';
import { map, categories, health, style } from './context.js';
import { showQpv } from './panel.js';
import { legendFor, loadGaps } from './gaps.js';
import { INITIATIVE_LAYERS, initiativeTiles, initiativesVisibility, showInitiatives } from './layers.js';
import { choroplethFill, paintChoropleth } from './choropleth.js';
import { showQpvMarkers } from './markers.js';

/** Each QPV layer's filter for the generations drawn (with the style's own
 * filter, where it has one). */
function generationFilters() {
  const gens = ['in', ['get', 'generation'], ['literal', state.generations]];
  const own = Object.fromEntries(style.layers.map((l) => [l.id, l.filter]));
  const filters = {};
  for (const id of ['qpv-fill', 'qpv-line', 'qpv-communes', 'qpv-communes-count', 'qpv-communes-label']) {
    filters[id] = own[id] ? ['all', own[id], gens] : gens;
  }
  // QPV names from their label points only (one per QPV).
  filters['qpv-label'] = ['all', ['==', ['geometry-type'], 'Point'], gens];
  return filters;
}

/** The style with the page's state already in it — the generations' filters,
 * the initiatives shown, the QPV colours — so that the map's first render is
 * its final one: the same calls after its load change nothing, and reload no
 * tile (a new filter or colour expression would re-lay every tile out). */
export function styleForState(s) {
  const filters = generationFilters();
  const fill = state.mode === 'carte' ? choroplethFill() : null;
  const initiatives = initiativesVisibility();
  // The initiatives' tiles for the categories drawn (an archive's source
  // gives its address only once read: set after the load, see showInitiatives).
  const tiles = initiativeTiles();
  const initiativeSource = s.sources.initiatives;
  const sources = initiativeSource.tiles && !tiles.startsWith('pmtiles:')
    ? { ...s.sources, initiatives: { ...initiativeSource, tiles: [tiles] } } : s.sources;
  return {
    ...s,
    sources,
    layers: s.layers.map((l) => {
      const layer = { ...l };
      if (filters[l.id]) layer.filter = filters[l.id];
      if (l.id === 'qpv-fill' && fill) layer.paint = { ...l.paint, 'fill-color': fill };
      if (INITIATIVE_LAYERS.includes(l.id)) layer.layout = { ...l.layout, visibility: initiatives };
      return layer;
    }),
  };
}

export function applyFilters() {
  for (const [id, filter] of Object.entries(generationFilters())) map.setFilter(id, filter);
  showQpvMarkers();
  showInitiatives();
  writeUrl();
  if (state.qpv) showQpv(state.qpv, { fly: false });
  if (state.mode === 'manques') loadGaps();
  else paintChoropleth();
}

export function buildFilters() {
  const box = $('categories');
  for (const c of categories) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" value="${escapeHtml(c.id)}"> <span class="swatch" style="background:${escapeHtml(c.color)}"></span>
      <span>${escapeHtml(c.label)}</span><span class="count">${fmt.format(c.initiatives)}</span>`;
    label.querySelector('input').checked = !state.categories || state.categories.includes(c.id);
    box.append(label);
  }
  box.addEventListener('change', () => {
    const checked = [...box.querySelectorAll('input:checked')].map((i) => i.value);
    state.categories = checked.length === categories.length ? null : checked;
    applyFilters();
  });
  const setAll = (on) => {
    box.querySelectorAll('input').forEach((i) => { i.checked = on; });
    state.categories = on ? null : [];
    applyFilters();
  };
  $('toutes-categories').addEventListener('click', () => setAll(true));
  $('aucune-categorie').addEventListener('click', () => setAll(false));

  const gens = $('generations');
  const labels = { 2015: 'QPV 2015 — périmètre 2015 (remplacé en 2024)', 2024: 'QPV 2024 (Hexagone, en vigueur)', 2025: 'QPV 2025 (outre-mer, en vigueur)' };
  for (const g of GENERATIONS.all) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" value="${g}"> <span>${labels[g]}</span>`;
    label.querySelector('input').checked = state.generations.includes(g);
    gens.append(label);
  }
  gens.addEventListener('change', () => {
    state.generations = [...gens.querySelectorAll('input:checked')].map((i) => Number(i.value));
    applyFilters();
  });

  legendFor('carte');
  const places = health.outlines.map((o) => `${o.territory} (${o.qpv_with_outline})`).join(', ');
  $('couverture').textContent = `Contours des quartiers disponibles : ${places}. Ailleurs, les quartiers sont connus par leur code et leur commune seulement.`;
  // A gap may be an absence in an old list: each dataset says its date.
  const dated = health.datasets.filter((d) => d.read > 0 && d.as_of && DATED_KINDS.includes(d.kind));
  $('dates-donnees').innerHTML = dated
    .map((d) => `<li>${escapeHtml(d.title)} : <strong>${escapeHtml(frenchDate(d.as_of))}</strong></li>`).join('');
}
const DATED_KINDS = ['initiatives', 'qpv_polygons', 'qpv_population'];
