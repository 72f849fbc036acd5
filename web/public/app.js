// ess-map web map: MapLibre GL JS (served by ess-map from its npm package),
// the style, tiles, glyphs and data all from this server.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

maplibregl.setWorkerUrl('/vendor/maplibre-gl/maplibre-gl-worker.mjs');

const GENERATIONS = [2015, 2024, 2025];
const DEFAULT_VIEW = { lon: 2.35, lat: 48.86, z: 10 };
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('fr-FR');

/** The shareable view: what the URL holds. */
const state = {
  lon: DEFAULT_VIEW.lon, lat: DEFAULT_VIEW.lat, z: DEFAULT_VIEW.z,
  qpv: null,           // selected QPV code
  radius: 500,         // metres around the selected QPV
  categories: null,    // null: all; else the ids shown
  generations: [...GENERATIONS],
  mode: 'carte',       // 'carte' or 'manques'
  gapRadius: 500,      // metres, in « Manques » mode
  gapGroup: null,      // a group of categories (`siae`) instead of the ticked ones
  gapDepartement: null, // « Manques » limited to a département
};

function readUrl() {
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
  if (p.has('gen')) state.generations = p.get('gen').split(',').map(Number).filter((g) => GENERATIONS.includes(g));
  if (p.get('mode') === 'manques') state.mode = 'manques';
  state.gapRadius = [300, 500, 1000].includes(num('gr', 0, 5000)) ? num('gr', 0, 5000) : state.gapRadius;
  state.gapGroup = p.get('gg') || null;
  state.gapDepartement = p.get('gd') || null;
}

function writeUrl() {
  const p = new URLSearchParams();
  p.set('lon', state.lon.toFixed(5));
  p.set('lat', state.lat.toFixed(5));
  p.set('z', state.z.toFixed(2));
  if (state.qpv) p.set('qpv', state.qpv);
  if (state.radius !== 500) p.set('r', String(state.radius));
  if (state.categories) p.set('cat', state.categories.join(','));
  if (state.generations.length !== GENERATIONS.length) p.set('gen', state.generations.join(','));
  if (state.mode === 'manques') {
    p.set('mode', 'manques');
    p.set('gr', String(state.gapRadius));
    if (state.gapGroup) p.set('gg', state.gapGroup);
    if (state.gapDepartement) p.set('gd', state.gapDepartement);
  }
  history.replaceState(null, '', `${location.pathname}?${p}`);
}

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const MONTHS = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];
/** A manifest date (`2021`, `2021-02`, `2021-02-15`) as read in French. */
const frenchDate = (asOf) => {
  const [y, m, d] = String(asOf ?? '').split('-');
  if (!y) return null;
  if (!m) return y;
  const month = `${MONTHS[Number(m) - 1]} ${y}`;
  return d && d !== '01' ? `${Number(d)} ${month}` : month;
};
const metres = (d) => (d === 0 ? 'dans le quartier' : d < 1000 ? `${fmt.format(Math.round(d))} m` : `${fmt.format(Math.round(d / 100) / 10)} km`);

readUrl();
const [style, catalogue, health] = await Promise.all([
  getJson('/style.json'), getJson('/api/categories'), getJson('/health'),
]);
const categories = catalogue.categories;
const categoryById = Object.fromEntries(categories.map((c) => [c.id, c]));
if (state.categories) state.categories = state.categories.filter((c) => categoryById[c]);
const groupById = Object.fromEntries(catalogue.groups.map((g) => [g.id, g]));
if (!groupById[state.gapGroup]) state.gapGroup = null;

// An external basemap only when the configuration names one.
const basemapUrl = style.metadata?.['ess-map:basemap'];
let mapStyle = style;
if (basemapUrl) {
  const base = await getJson(basemapUrl);
  mapStyle = { ...style, glyphs: base.glyphs ?? style.glyphs, sprite: base.sprite,
    sources: { ...base.sources, ...style.sources },
    layers: [...base.layers, ...style.layers.filter((l) => !l.id.startsWith('background') && !l.id.startsWith('departements-fill'))] };
}

const map = new maplibregl.Map({
  container: 'carte', style: mapStyle, center: [state.lon, state.lat], zoom: state.z,
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

// ---------- filters ----------
function categoryFilterUrl() {
  const all = !state.categories || state.categories.length === categories.length;
  return all ? '' : `?category=${encodeURIComponent(state.categories.join(',') || '__none__')}`;
}

function applyFilters() {
  const gens = ['in', ['get', 'generation'], ['literal', state.generations]];
  for (const id of ['qpv-fill', 'qpv-line', 'qpv-label', 'qpv-communes', 'qpv-communes-label']) map.setFilter(id, gens);
  const shown = state.categories ?? categories.map((c) => c.id);
  const src = map.getSource('initiatives');
  if (shown.length === 0) {
    map.setLayoutProperty('initiative-clusters', 'visibility', 'none');
    map.setLayoutProperty('initiative-cluster-count', 'visibility', 'none');
    map.setLayoutProperty('initiative-points', 'visibility', 'none');
    map.setLayoutProperty('initiative-labels', 'visibility', 'none');
  } else {
    for (const id of ['initiative-clusters', 'initiative-cluster-count', 'initiative-points', 'initiative-labels']) {
      map.setLayoutProperty(id, 'visibility', 'visible');
    }
    // Clusters are made by the server, so the filter goes to the tiles.
    src.setTiles([`${location.origin}/tiles/initiatives/{z}/{x}/{y}.mvt${categoryFilterUrl()}`]);
  }
  writeUrl();
  if (state.qpv) showQpv(state.qpv, { fly: false });
  if (state.mode === 'manques') loadGaps();
}

function buildFilters() {
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
  const labels = { 2015: 'QPV 2015 (Occitanie)', 2024: 'QPV 2024 (Hexagone)', 2025: 'QPV 2025 (outre-mer)' };
  for (const g of GENERATIONS) {
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

// ---------- selected QPV ----------
let qpvRequest = 0;
async function showQpv(code, { fly = true } = {}) {
  const ticket = ++qpvRequest;
  state.qpv = code;
  writeUrl();
  map.setFilter('qpv-selected', ['==', ['get', 'code'], code]);
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
  if (!feature.geometry) {
    map.getSource('radius').setData({ type: 'FeatureCollection', features: [] });
    $('quartier-liste').innerHTML = '';
    if (fly && p.centre) map.flyTo({ center: p.centre, zoom: 12, duration: 600 });
    // Counted by commune, as the gap analysis does without an outline.
    const gaps = await getJson(`/api/gaps?radius_m=${state.radius}&departement=${encodeURIComponent(p.departement)}`);
    if (ticket !== qpvRequest) return;
    const row = gaps.gaps.find((g) => g.code === p.code);
    const counted = row ? ` Dans ses communes : ${fmt.format(row.inside)} initiative${row.inside > 1 ? 's' : ''} (comptées par commune, toutes catégories).` : '';
    $('quartier-resume').textContent = `Contour non disponible ici : ce quartier est connu par son code et ses communes (la commande « ess-map data fetch » télécharge les contours de toute la France).${counted}`;
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

async function listNearby(code, ticket = qpvRequest) {
  const r = state.radius;
  const shown = state.categories ?? categories.map((c) => c.id);
  const [near, ring] = await Promise.all([
    getJson(`/api/qpv/${encodeURIComponent(code)}/nearby?radius_m=${r}&limit=1000`),
    getJson(`/api/qpv/${encodeURIComponent(code)}/ring?radius_m=${r}`),
  ]);
  if (ticket !== qpvRequest) return;
  map.getSource('radius').setData(ring);
  const items = near.features.filter((f) => shown.includes(f.properties.category));
  const inside = items.filter((f) => f.properties.distance_m === 0).length;
  $('quartier-resume').textContent = items.length === 0
    ? `Aucune initiative dans le quartier ni à moins de ${fmt.format(r)} m.`
    : `${items.length} initiative${items.length > 1 ? 's' : ''} : ${inside} dans le quartier, ${items.length - inside} à moins de ${fmt.format(r)} m.`;
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

function closeQpv() {
  qpvRequest++;
  state.qpv = null;
  $('quartier').hidden = true;
  map.setFilter('qpv-selected', ['==', ['get', 'code'], '']);
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
async function openInitiative(id, lngLat) {
  const f = await getJson(`/api/initiatives/${encodeURIComponent(id)}`);
  const p = f.properties;
  const where = p.qpv_location;
  const qpvText = where.status === 'inside' ? `Dans le quartier ${escapeHtml(where.qpv.name)} (${escapeHtml(where.qpv.code)})`
    : where.status === 'near' ? `À ${metres(where.distance_m)} du quartier ${escapeHtml(where.qpv.name)} (${escapeHtml(where.qpv.code)})`
      : where.status === 'commune_only' ? 'Position approximative : seule la commune est connue, l’initiative n’est donc pas rattachée à un quartier'
        : 'À plus de 500 m de tout quartier dont le contour est chargé';
  const precision = PRECISION_LABELS[p.precision];
  const address = [p.address, [p.postcode, p.commune].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  const site = p.website ? `<p><a href="${escapeHtml(p.website.startsWith('http') ? p.website : `https://${p.website}`)}" target="_blank" rel="noopener noreferrer">Site web</a></p>` : '';
  popup?.remove();
  focusBeforePopup = document.activeElement;
  popup = new maplibregl.Popup({ maxWidth: '18rem', focusAfterOpen: true })
    .setLngLat(lngLat)
    .setHTML(`<div class="popup"><h3>${escapeHtml(p.name)}</h3><p class="cat">${escapeHtml(p.category_label)}</p>
      ${address ? `<p>${escapeHtml(address)}</p>` : ''}${site}<p>${qpvText}</p>
      ${precision ? `<p class="precision">Position : ${precision}</p>` : ''}
      ${p.data_as_of ? `<p class="date">Données ${p.data_as_of.length === 4 ? '' : 'de '}${escapeHtml(frenchDate(p.data_as_of))}</p>` : ''}</div>`)
    .addTo(map);
  const opened = popup;
  popup.on('close', () => {
    if (popup === opened && focusBeforePopup?.isConnected && focusBeforePopup !== document.body) focusBeforePopup.focus();
  });
}

// ---------- search ----------
const INITIATIVE_RESULTS = 20;
/** Lower case without accents, as the server folds. */
const fold = (text) => String(text).normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
function buildSearch() {
  const input = $('recherche');
  const box = $('resultats');
  let results = [];
  let active = -1;
  let timer = null;
  const close = () => { box.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); active = -1; };
  const highlight = (i) => {
    active = i;
    const options = [...box.querySelectorAll('[role="option"]')];
    options.forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    if (i >= 0 && options[i]) { input.setAttribute('aria-activedescendant', options[i].id); options[i].scrollIntoView({ block: 'nearest' }); }
  };
  const choose = (r) => {
    close();
    input.value = r.title;
    if (r.kind === 'qpv') showQpv(r.code);
    else { map.flyTo({ center: r.coordinates, zoom: 16 }); openInitiative(r.id, r.coordinates); }
  };
  const run = async () => {
    const q = input.value.trim();
    if (q.length < 2) { close(); return; }
    const [qpv, init] = await Promise.all([
      getJson(`/api/qpv?q=${encodeURIComponent(q)}`),
      getJson(`/api/initiatives?q=${encodeURIComponent(q)}&limit=${INITIATIVE_RESULTS}`),
    ]);
    if (input.value.trim() !== q) return;
    // Exact code or name first, then QPV with an outline, then by name.
    const folded = fold(q);
    const rank = (p) => [fold(p.code) === folded || fold(p.name) === folded ? 0 : 1, p.has_geometry ? 0 : 1];
    const quartiers = [...qpv.qpv].sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0] - y[0] || x[1] - y[1] || a.name.localeCompare(b.name, 'fr');
    });
    const located = init.features.filter((f) => f.geometry);
    results = [
      ...quartiers.map((p) => ({ kind: 'qpv', code: p.code, title: p.name,
        detail: `${p.code} · QPV ${p.generation} · ${p.communes.map((c) => c.name).join(', ')} (${p.departement})${p.has_geometry ? '' : ' · sans contour'}` })),
      ...located.map((f) => ({ kind: 'initiative', id: f.id, coordinates: f.geometry.coordinates,
        title: f.properties.name,
        detail: `${f.properties.category_label} — ${[f.properties.postcode, f.properties.commune].filter(Boolean).join(' ')}` })),
    ];
    box.innerHTML = '';
    const heading = (text) => {
      const li = document.createElement('li');
      li.className = 'group';
      li.setAttribute('role', 'presentation');
      li.textContent = text;
      box.append(li);
    };
    results.forEach((r, i) => {
      if (i === 0 && r.kind === 'qpv') heading(`Quartiers (${quartiers.length})`);
      if (r.kind === 'initiative' && (i === 0 || results[i - 1].kind === 'qpv')) {
        heading(init.total > located.length ? `Initiatives (${located.length} premières sur ${fmt.format(init.total)} : précisez la recherche)` : `Initiatives (${located.length})`);
      }
      const li = document.createElement('li');
      li.id = `resultat-${i}`;
      li.setAttribute('role', 'option');
      li.innerHTML = `${escapeHtml(r.title)}<small>${escapeHtml(r.detail)}</small>`;
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(r); });
      box.append(li);
    });
    if (results.length === 0) {
      box.innerHTML = '<li role="option" aria-disabled="true">Aucun résultat</li>';
    }
    box.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(-1);
  };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 150); });
  input.addEventListener('keydown', (e) => {
    if (box.hidden && e.key === 'ArrowDown') { run(); return; }
    if (e.key === 'ArrowDown') { e.preventDefault(); highlight(Math.min(active + 1, results.length - 1)); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
    else if (e.key === 'Enter' && results.length) { e.preventDefault(); choose(results[Math.max(active, 0)]); }
    else if (e.key === 'Escape') close();
  });
  input.addEventListener('blur', () => setTimeout(close, 100));
}

// ---------- « Manques »: QPV lacking the chosen kinds of initiative ----------
// Colours by distance from the QPV to the nearest initiative of the chosen
// categories; no initiative within the radius stands out in red.
const GAP_CLASSES = [
  { upTo: 0, color: '#1a9850', label: 'dans le quartier' },
  { upTo: null, color: '#91cf60', label: 'dans le rayon' },
  { upTo: 1000, color: '#fee08b', label: 'hors du rayon, à moins de 1 km' },
  { upTo: 2000, color: '#fc8d59', label: 'de 1 à 2 km' },
  { upTo: Infinity, color: '#d73027', label: 'à plus de 2 km' },
];
let gapRows = [];
let gapSort = { key: 'priority', descending: true };
let gapRequest = 0;

function gapParams() {
  const p = new URLSearchParams({ radius_m: String(state.gapRadius) });
  if (state.gapGroup) p.set('category', state.gapGroup);
  else if (state.categories) p.set('category', state.categories.join(','));
  if (state.generations.length === 1) p.set('generation', String(state.generations[0]));
  return p;
}

/** The analysis's parameters with the chosen territory. */
function gapTableParams() {
  const p = gapParams();
  if (state.gapDepartement) p.set('departement', state.gapDepartement);
  return p;
}

function gapColour(row) {
  if (row.nearest_m === null) return '#bdbdbd';
  if (row.inside > 0) return GAP_CLASSES[0].color;
  if (!row.gap) return GAP_CLASSES[1].color;
  return GAP_CLASSES.slice(2).find((c) => row.nearest_m <= c.upTo).color;
}

async function loadGaps() {
  const ticket = ++gapRequest;
  const params = gapTableParams();
  $('manques-csv').href = `/api/gaps?${params}&format=csv`;
  $('manques-geojson').href = `/api/gaps?${params}&format=geojson`;
  $('manques-gpkg').href = `/api/gaps?${params}&format=gpkg`;
  let byCommune = 0;
  if (!state.gapGroup && state.categories && state.categories.length === 0) {
    gapRows = [];
  } else {
    const [body, summary] = await Promise.all([
      getJson(`/api/gaps?${params}`), getJson(`/api/gaps/summary?${gapParams()}`),
    ]);
    if (ticket !== gapRequest) return;
    $('manques-explication').textContent = body.ranking;
    const shown = body.gaps.filter((g) => state.generations.includes(g.generation));
    gapRows = shown.filter((g) => g.basis === 'outline');
    byCommune = shown.length - gapRows.length;
    renderGapSummary(summary);
  }
  const uncovered = gapRows.filter((g) => g.gap).length;
  const what = state.gapGroup ? `structure « ${groupById[state.gapGroup].label} »` : 'initiative des catégories choisies';
  const where = state.gapDepartement ? ` (département ${state.gapDepartement})` : '';
  const withoutPopulation = gapRows.filter((g) => g.population == null).length;
  $('manques-resume').textContent = `${uncovered} quartier${uncovered > 1 ? 's' : ''} sur ${gapRows.length}${where} sans ${what} à moins de ${fmt.format(state.gapRadius)} m.`
    + (withoutPopulation ? ` ${withoutPopulation} sans population publiée : classés par la distance seule.` : '')
    + (byCommune ? ` ${byCommune} autre${byCommune > 1 ? 's' : ''} quartier${byCommune > 1 ? 's' : ''} sans contour chargé, compté${byCommune > 1 ? 's' : ''} par commune, à part : dans les téléchargements (colonne « methode »).` : '');
  const colours = ['match', ['get', 'code']];
  for (const g of gapRows) colours.push(g.code, gapColour(g));
  colours.push('#bdbdbd');
  map.setPaintProperty('qpv-fill', 'fill-color', gapRows.length ? colours : '#bdbdbd');
  renderGapTable();
}

const TEXT_COLUMNS = ['name', 'departement'];
function renderGapTable() {
  const { key, descending } = gapSort;
  const value = (g) => (TEXT_COLUMNS.includes(key) ? g[key] : g[key] ?? -1);
  
  const rows = [...gapRows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === 'string' ? x.localeCompare(y, 'fr') : x - y;
    return descending ? -order : order;
  });
  document.querySelectorAll('#manques-table th button').forEach((b) => {
    b.setAttribute('aria-sort', b.dataset.sort === key ? (descending ? 'descending' : 'ascending') : 'none');
  });
  const body = document.querySelector('#manques-table tbody');
  body.innerHTML = '';
  for (const [i, g] of rows.entries()) {
    const tr = document.createElement('tr');
    // One tab stop for the whole table; arrows move between rows.
    tr.tabIndex = i === 0 ? 0 : -1;
    tr.dataset.code = g.code;
    if (g.gap) tr.classList.add('gap');
    tr.innerHTML = `<td>${escapeHtml(g.name)}<br><small class="cat">${escapeHtml(g.communes)}</small></td>
      <td>${escapeHtml(g.departement)}</td>
      <td class="num">${g.population != null ? fmt.format(g.population) : '—'}</td>
      <td class="num">${g.nearest_m != null ? metres(g.nearest_m) : '—'}</td>
      <td class="num">${fmt.format(g.priority)}</td>`;
    const open = () => showQpv(g.code);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); return; }
      const next = { ArrowDown: tr.nextElementSibling, ArrowUp: tr.previousElementSibling,
        Home: body.firstElementChild, End: body.lastElementChild }[e.key];
      if (next) {
        e.preventDefault();
        tr.tabIndex = -1;
        next.tabIndex = 0;
        next.focus();
      }
    });
    body.append(tr);
  }
}

/** Coverage by département, for the current analysis (all territories). */
function renderGapSummary(summary) {
  const body = document.querySelector('#manques-synthese tbody');
  body.innerHTML = '';
  for (const d of summary.departements) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<th scope="row">${escapeHtml(d.name ?? d.key)} (${escapeHtml(d.key)})</th>
      <td class="num">${fmt.format(d.qpv)}</td><td class="num">${fmt.format(d.covered)}</td>
      <td class="num">${fmt.format(d.covered_share)} %</td>
      <td class="num">${fmt.format(d.population_uncovered)}</td>`;
    body.append(tr);
  }
  const select = $('manques-territoire');
  if (select.options.length === 1) {
    for (const d of summary.departements) select.append(new Option(`${d.name ?? d.key} (${d.key})`, d.key));
    select.value = state.gapDepartement ?? '';
  }
}

function setMode(mode, { load = true } = {}) {
  state.mode = mode;
  $('mode-carte').setAttribute('aria-pressed', String(mode === 'carte'));
  $('mode-manques').setAttribute('aria-pressed', String(mode === 'manques'));
  $('manques').hidden = mode !== 'manques';
  if (mode === 'manques') {
    if (load) loadGaps();
    legendFor('manques');
  } else {
    gapRequest++;
    map.setPaintProperty('qpv-fill', 'fill-color', style.layers.find((l) => l.id === 'qpv-fill').paint['fill-color']);
    legendFor('carte');
  }
  writeUrl();
}

function legendFor(mode) {
  const legend = $('legende');
  legend.innerHTML = '';
  const items = mode === 'manques'
    ? GAP_CLASSES.map((c) => [c.color, `Initiative la plus proche ${c.label}`])
    : style.metadata['ess-map:choropleth'].map((s, i, steps) => {
      const next = steps[i + 1];
      return [s.color, next ? (next.from - s.from === 1 ? `${s.from}` : `${s.from} à moins de ${next.from}`) : `${s.from} et plus`];
    });
  for (const [color, text] of items) {
    const li = document.createElement('li');
    li.innerHTML = `<span class="box" style="background:${color}"></span> ${escapeHtml(text)}`;
    legend.append(li);
  }
  if (mode === 'carte') {
    const li = document.createElement('li');
    li.innerHTML = '<span class="ring"></span> Initiative placée au centre de sa commune (adresse non géocodée)';
    legend.append(li);
  }
}

// ---------- wiring ----------
buildFilters();
buildSearch();
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
  loadGaps();
});
$('manques-territoire').value = state.gapDepartement ?? '';
$('manques-territoire').addEventListener('change', (e) => {
  state.gapDepartement = e.target.value || null;
  writeUrl();
  loadGaps();
});
$('manques-rayon').value = String(state.gapRadius);
$('manques-rayon').addEventListener('change', (e) => {
  state.gapRadius = Number(e.target.value);
  writeUrl();
  loadGaps();
});
document.querySelectorAll('#manques-table th button').forEach((b) => b.addEventListener('click', () => {
  const key = b.dataset.sort;
  gapSort = { key, descending: gapSort.key === key ? !gapSort.descending : !TEXT_COLUMNS.includes(key) };
  renderGapTable();
}));
$('bascule-panneau').addEventListener('click', (e) => {
  const collapsed = $('panneau').classList.toggle('collapsed');
  e.currentTarget.setAttribute('aria-expanded', String(!collapsed));
});

await loaded;
// QPV without an outline, drawn at their communes' centre.
getJson('/api/qpv').then((list) => {
  map.getSource('qpv-communes').setData({
    type: 'FeatureCollection',
    features: list.qpv.filter((q) => !q.has_geometry && q.centre).map((q) => ({
      type: 'Feature', geometry: { type: 'Point', coordinates: q.centre },
      properties: { code: q.code, name: q.name, generation: q.generation },
    })),
  });
});
// The filters load the gap table when the page opens in « Manques » mode.
if (state.mode === 'manques') setMode('manques', { load: false });
applyFilters();
map.on('moveend', () => {
  const c = map.getCenter();
  Object.assign(state, { lon: c.lng, lat: c.lat, z: map.getZoom() });
  writeUrl();
});
map.on('click', (e) => {
  const hits = map.queryRenderedFeatures(e.point, { layers: ['initiative-clusters', 'initiative-points', 'qpv-fill', 'qpv-communes'] });
  const cluster = hits.find((f) => f.layer.id === 'initiative-clusters');
  const point = hits.find((f) => f.layer.id === 'initiative-points');
  const qpv = hits.find((f) => f.layer.id === 'qpv-fill' || f.layer.id === 'qpv-communes');
  if (point) openInitiative(point.properties.id, point.geometry.coordinates);
  else if (cluster) map.easeTo({ center: cluster.geometry.coordinates, zoom: map.getZoom() + 2 });
  else if (qpv) showQpv(qpv.properties.code, { fly: false });
});
for (const layer of ['initiative-clusters', 'initiative-points', 'qpv-fill', 'qpv-communes']) {
  map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
}
if (state.qpv) showQpv(state.qpv, { fly: state.flyToQpv });
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && popup?.isOpen()) popup.remove();
});

// For tests and for embedding pages.
window.essMap = { map, state, showQpv, gapRows: () => gapRows };
document.documentElement.dataset.ready = 'true';
