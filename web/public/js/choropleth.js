// The QPV colours in « Carte » mode: one measure at a time, chosen in the
// legend — initiatives within 500 m, or the same per 10,000 inhabitants
// where the population is published (others grey) — and only of the ticked
// categories.
import { getJson } from './util.js';
import { state } from './state.js';
import { map, style, categories } from './context.js';

/** QPV whose population is not published, under the per-inhabitant measure. */
export const NO_POPULATION = '#d4d4d4';

const steps = () => style.metadata['ess-map:choropleth'];

const stepExpression = (input) => {
  const [first, ...rest] = steps();
  return ['step', input, first.color, ...rest.flatMap((s) => [s.from, s.color])];
};

const colourOf = (value) => steps().reduce((colour, s) => (value >= s.from ? s.color : colour), steps()[0].color);

/** The QPV colour expression when every category is drawn (the counts are
 * in the tiles); null when the counts of some categories must be asked for. */
export function choroplethFill() {
  const all = !state.categories || state.categories.length === categories.length;
  if (!all) return null;
  return state.measure === 'habitants'
    ? ['case', ['has', 'initiatives_per_10k'], stepExpression(['get', 'initiatives_per_10k']), NO_POPULATION]
    : stepExpression(['coalesce', ['get', 'initiatives_within_500m'], 0]);
}

let request = 0;
export async function paintChoropleth() {
  if (state.mode !== 'carte') return;
  const ticket = ++request;
  const perPeople = state.measure === 'habitants';
  const fill = choroplethFill();
  if (fill) {
    map.setPaintProperty('qpv-fill', 'fill-color', fill);
    return;
  }
  // The ticked categories only: the counts the gap analysis makes at 500 m.
  const rows = state.categories.length
    ? (await getJson(`/api/gaps?radius_m=500&category=${encodeURIComponent(state.categories.join(','))}`)).gaps
    : [];
  if (ticket !== request || state.mode !== 'carte') return;
  const match = ['match', ['get', 'code']];
  for (const r of rows) {
    const value = perPeople ? r.per_10k : r.within;
    match.push(r.code, value == null ? NO_POPULATION : colourOf(value));
  }
  const otherwise = perPeople ? NO_POPULATION : steps()[0].color;
  map.setPaintProperty('qpv-fill', 'fill-color', rows.length ? [...match, otherwise] : otherwise);
}
