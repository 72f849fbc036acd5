// QPV without an outline: one marker per commune (and generation) at its
// centre, listing them (/api/qpv/markers). Fetched per generation drawn,
// once each, and put back when a new style replaces the sources.
import { getJson } from './util.js';
import { state } from './state.js';
import { map } from './context.js';

const byGeneration = new Map(); // generation → Promise of its features
const byKey = new Map(); // marker key → its QPV [{ code, name }]

function fetchGeneration(g) {
  if (!byGeneration.has(g)) {
    byGeneration.set(g, getJson(`/api/qpv/markers?generation=${g}`).then((fc) => {
      for (const f of fc.features) byKey.set(f.properties.key, f.properties.qpv);
      return fc.features;
    }).catch(() => { byGeneration.delete(g); return []; }));
  }
  return byGeneration.get(g);
}

/** The markers of the generations shown, as the map's source data (their
 * `qpv` list stays here: the map's features carry text and numbers). */
export async function markersData() {
  const lists = await Promise.all((state.generations ?? []).map(fetchGeneration));
  const features = lists.flat().map((f) => ({ ...f, properties: { ...f.properties, qpv: undefined } }));
  return { type: 'FeatureCollection', features };
}

let drawn = null; // the generations whose markers the map has

/** Draws the markers of the generations shown (fetching those not yet);
 * `redraw` after a new style, which comes without them. */
export async function showQpvMarkers({ redraw = false } = {}) {
  const generations = String(state.generations ?? []);
  if (!redraw && generations === drawn) return;
  drawn = generations;
  const data = await markersData();
  if (drawn === generations) map.getSource('qpv-communes')?.setData(data);
}

/** Says that the map was made with the markers of the generations shown. */
export function markersDrawn() {
  drawn = String(state.generations ?? []);
}

/** The QPV a marker lists, by its `key`. */
export function markerQpv(key) {
  return byKey.get(key) ?? [];
}
