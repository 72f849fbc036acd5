// The QPV colours in « Carte » mode: one measure at a time, chosen in the
// legend — initiatives within 500 m, or the same per 10,000 inhabitants
// where the population is published (others grey) — and only of the ticked
// categories. The QPV tiles carry no counts (an edit would change every
// zoom's tiles around it): the figures come from /api/qpv/counts and are
// given to each QPV as its feature state `value`, which the style's colour
// expression reads — a new figure recolours without re-laying out a tile.
import { getJson } from './util.js';
import { state } from './state.js';
import { map, style, categories } from './context.js';

/** QPV without a figure: population not published, or counts not yet here. */
export const noFigureColour = () => style.metadata['ess-map:choropleth-unknown'];

const QPV = { source: 'qpv', sourceLayer: 'qpv' };

/** The QPV colour expression (the style's own: the figure is feature state). */
export function choroplethFill() {
  return style.layers.find((l) => l.id === 'qpv-fill').paint['fill-color'];
}

/** The counts for the ticked categories (every one: no parameter), asked
 * as soon as the page starts so that the first view has them. */
function countsUrl() {
  const all = !state.categories || state.categories.length === categories.length;
  return all ? '/api/qpv/counts' : `/api/qpv/counts?category=${encodeURIComponent(state.categories.join(','))}`;
}
let pending = null;
export function fetchCounts() {
  const url = countsUrl();
  if (pending?.url !== url) pending = { url, counts: getJson(url) };
  return pending.counts;
}

let request = 0;
/** The codes given a value, so that a QPV left out of a new answer loses it. */
let given = new Set();
export async function paintChoropleth() {
  if (state.mode !== 'carte') return;
  const ticket = ++request;
  // No category ticked: nothing within 500 m of any QPV.
  const none = state.categories && state.categories.length === 0;
  const fill = !none ? choroplethFill()
    : state.measure === 'habitants' ? noFigureColour() : style.metadata['ess-map:choropleth'][0].color;
  if (JSON.stringify(map.getPaintProperty('qpv-fill', 'fill-color')) !== JSON.stringify(fill)) {
    map.setPaintProperty('qpv-fill', 'fill-color', fill);
  }
  if (none) return;
  let counts;
  try {
    counts = await fetchCounts();
  } catch {
    counts = null;
  } finally {
    pending = null;
  }
  if (ticket !== request || state.mode !== 'carte' || !counts) return;
  const figures = state.measure === 'habitants' ? counts.per_10k : counts.within_500m;
  const now = new Set();
  counts.code.forEach((code, i) => {
    map.setFeatureState({ ...QPV, id: code }, { value: figures[i] });
    now.add(code);
  });
  for (const code of given) if (!now.has(code)) map.setFeatureState({ ...QPV, id: code }, { value: null });
  given = now;
}
