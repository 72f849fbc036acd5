// The shareable view: what the URL holds, read and written.

// The generations and which are in force come with the style's metadata
// (`ess-map:generations`), set by `setGenerations` once it is read.
export const GENERATIONS = { all: [], current: [] };
export const DEFAULT_VIEW = { lon: 2.35, lat: 48.86, z: 10 };

/** The shareable view: what the URL holds. */
export const state = {
  lon: DEFAULT_VIEW.lon, lat: DEFAULT_VIEW.lat, z: DEFAULT_VIEW.z,
  qpv: null,           // selected QPV code
  radius: 500,         // metres around the selected QPV
  categories: null,    // null: all; else the ids shown
  generations: null,    // the generations drawn; null: those in force
  mode: 'carte',       // 'carte' or 'manques'
  gapRadius: 500,      // metres, in « Manques » mode
  gapWalk: null,       // minutes on foot instead of the radius (`gm`)
  gapGroup: null,      // a group of categories (`siae`) instead of the ticked ones
  gapDepartement: null, // « Manques » limited to a département
  gapCommune: null, // … and to one of its communes (INSEE code)
  measure: 'nombre',   // QPV colours: 'nombre' or 'habitants' (per 10,000)
  basemap: undefined,  // a basemap id, null for none; undefined: the configured default
  embed: false,        // a minimal map for another site's page (`embed=1`)
  embedPanel: false,   // … with the side panel (`panneau=1`)
};

export function readUrl() {
  const p = new URLSearchParams(location.search);
  const num = (k, lo, hi) => {
    const v = Number(p.get(k));
    return p.has(k) && Number.isFinite(v) && v >= lo && v <= hi ? v : null;
  };
  state.lon = num('lon', -180, 180) ?? state.lon;
  state.lat = num('lat', -85, 85) ?? state.lat;
  state.z = num('z', 0, 22) ?? state.z;
  state.radius = num('r', 0, 2000) ?? state.radius;
  state.qpv = p.get('qpv') || null;
  // A shared `?qpv=CODE` alone opens on the QPV itself.
  state.flyToQpv = Boolean(state.qpv) && !p.has('lon') && !p.has('lat');
  if (p.has('cat')) state.categories = p.get('cat').split(',').filter(Boolean);
  if (p.has('gen')) state.generations = p.get('gen').split(',').map(Number).filter(Number.isInteger);
  if (p.get('mode') === 'manques') state.mode = 'manques';
  state.gapRadius = [300, 500, 1000].includes(num('gr', 0, 5000)) ? num('gr', 0, 5000) : state.gapRadius;
  state.gapWalk = Number.isInteger(num('gm', 1, 60)) ? num('gm', 1, 60) : null;
  state.gapGroup = p.get('gg') || null;
  state.gapDepartement = p.get('gd') || null;
  state.gapCommune = (state.gapDepartement && p.get('gc')) || null;
  if (p.get('m') === 'habitants') state.measure = 'habitants';
  if (p.has('fond')) state.basemap = p.get('fond') || null;
  state.embed = p.get('embed') === '1';
  state.embedPanel = state.embed && p.get('panneau') === '1';
}

/** The generations the style says exist and are in force; the URL's
 * choice kept where it names known ones, else those in force. */
export function setGenerations(meta) {
  GENERATIONS.all = meta?.all ?? [2015, 2024, 2025];
  GENERATIONS.current = meta?.current ?? [2024, 2025];
  const asked = (state.generations ?? []).filter((g) => GENERATIONS.all.includes(g));
  state.generations = state.generations === null || asked.length === 0 && state.generations.length > 0
    ? [...GENERATIONS.current] : asked;
}

/** The view's parameters, without those of embedding. */
export function viewParams() {
  const p = new URLSearchParams();
  p.set('lon', state.lon.toFixed(5));
  p.set('lat', state.lat.toFixed(5));
  p.set('z', state.z.toFixed(2));
  if (state.qpv) p.set('qpv', state.qpv);
  if (state.radius !== 500) p.set('r', String(state.radius));
  if (state.measure !== 'nombre') p.set('m', state.measure);
  if (state.basemap) p.set('fond', state.basemap);
  if (state.categories) p.set('cat', state.categories.join(','));
  const current = [...GENERATIONS.current].sort().join(',');
  if (state.generations && [...state.generations].sort().join(',') !== current) p.set('gen', state.generations.join(','));
  if (state.mode === 'manques') {
    p.set('mode', 'manques');
    if (state.gapWalk) p.set('gm', String(state.gapWalk));
    else p.set('gr', String(state.gapRadius));
    if (state.gapGroup) p.set('gg', state.gapGroup);
    if (state.gapDepartement) p.set('gd', state.gapDepartement);
    if (state.gapCommune) p.set('gc', state.gapCommune);
  }
  return p;
}

export function writeUrl() {
  const p = viewParams();
  if (state.embed) {
    p.set('embed', '1');
    if (state.embedPanel) p.set('panneau', '1');
  }
  history.replaceState(null, '', `${location.pathname}?${p}`);
  const full = document.getElementById('carte-complete');
  if (full) full.href = `${location.origin}${location.pathname}?${viewParams()}`;
}
