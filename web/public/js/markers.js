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

/** Draws the markers of the generations shown (fetching those not yet). */
export async function showQpvMarkers() {
  const generations = state.generations ?? [];
  const lists = await Promise.all(generations.map(fetchGeneration));
  // `qpv` (a list) stays here: the map's features carry text and numbers.
  const features = lists.flat().map((f) => ({ ...f, properties: { ...f.properties, qpv: undefined } }));
  map.getSource('qpv-communes')?.setData({ type: 'FeatureCollection', features });
}

/** The QPV a marker lists, by its `key`. */
export function markerQpv(key) {
  return byKey.get(key) ?? [];
}
