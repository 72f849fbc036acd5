// The initiatives' layers: which categories are drawn (those ticked, or in
// « Manques » the chosen group's) and where their tiles come from. Apart from
// the filters and « Manques », which both redraw them.
import { state } from './state.js';
import { map, categories, groupById, style } from './context.js';
import { paintChoropleth } from './choropleth.js';

/** The categories drawn: in « Manques » with a group, the group's. */
export function drawnCategories() {
  if (state.mode === 'manques' && state.gapGroup) return groupById[state.gapGroup].categories;
  return state.categories ?? categories.map((c) => c.id);
}

export function categoryFilterUrl() {
  const shown = drawnCategories();
  const all = shown.length === categories.length;
  return all ? '' : `?category=${encodeURIComponent(shown.join(',') || '__none__')}`;
}

export const INITIATIVE_LAYERS = ['initiative-clusters', 'initiative-cluster-count', 'initiative-points', 'initiative-labels'];

/** The initiatives' tile address for the categories drawn. */
export function initiativeTiles() {
  const filter = categoryFilterUrl();
  const archive = style.metadata['ess-map:tiles-url'];
  return archive && !filter
    ? `pmtiles://${archive}/{z}/{x}/{y}`
    : `${location.origin}/tiles/initiatives/{z}/{x}/{y}.mvt${filter}`;
}

/** `visible` when some category is drawn, else `none`. */
export const initiativesVisibility = () => (drawnCategories().length > 0 ? 'visible' : 'none');

/** The initiatives layers for the categories drawn. */
export function showInitiatives() {
  const visibility = initiativesVisibility();
  for (const id of INITIATIVE_LAYERS) {
    if ((map.getLayoutProperty(id, 'visibility') ?? 'visible') !== visibility) map.setLayoutProperty(id, 'visibility', visibility);
  }
  // Clusters are made by the server, so the filter goes to the tiles; the
  // unfiltered ones may come from the archive on a static host.
  if (visibility === 'none') return;
  const tiles = initiativeTiles();
  // The same address again would only reload every tile.
  const source = map.getSource('initiatives');
  if (source.tiles?.length !== 1 || source.tiles[0] !== tiles) source.setTiles([tiles]);
}


/** Fetches the initiatives' tiles again (after an edit: the server's are
 * new; the browser revalidates them by their ETag), and the QPV's counts
 * (not in their tiles, which an edit leaves as they are). */
export function reloadInitiatives() {
  const source = map.getSource('initiatives');
  if (source?.tiles) source.setTiles([...source.tiles]);
  paintChoropleth();
}
