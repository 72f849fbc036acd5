import { $, escapeHtml, fmt, getJson, metres } from './util.js';
import { state, writeUrl } from './state.js';
import { map, style, groupById, lastAnalysis } from './context.js';
import { sayWalk, showQpv } from './panel.js';
import { noFigureColour, paintChoropleth } from './choropleth.js';
import { showInitiatives } from './layers.js';
import { fillEmbedLegend } from './embed.js';

// ---------- « Manques »: QPV lacking the chosen kinds of initiative ----------
// Colours by distance from the QPV to the nearest initiative of the chosen
// categories; no initiative within the radius stands out in red. The classes
// and colours come with the server's style, as the choropleth's do.
const gapClasses = () => style.metadata['ess-map:gap-classes'];
export let gapRows = [];
let gapSort = { key: 'priority', descending: true };
let gapRequest = 0;

/** The filters of the analysis, by radius (what the summary, by radius
 * only, is asked). */
export function gapParams() {
  const p = new URLSearchParams({ radius_m: String(state.gapRadius) });
  if (state.gapGroup) p.set('category', state.gapGroup);
  else if (state.categories) p.set('category', state.categories.join(','));
  if (state.generations.length === 1) p.set('generation', String(state.generations[0]));
  return p;
}

/** The analysis's parameters with the chosen territory: on foot when a
 * walk is chosen (`mode=marche&minutes=`). */
export function gapTableParams() {
  const p = gapParams();
  if (state.gapWalk) {
    p.delete('radius_m');
    p.set('mode', 'marche');
    p.set('minutes', String(state.gapWalk));
  }
  if (state.gapDepartement) p.set('departement', state.gapDepartement);
  if (state.gapCommune) p.set('commune', state.gapCommune);
  return p;
}

/** Measured on foot: from the QPV's own ways, or near its centre. */
const walkMeasured = (row) => row.walk_basis === 'outline' || row.walk_basis === 'label_point';

/** On foot: red where no way of the QPV reaches one in time, dark where
 * three quarters of its ways do, light in between. */
function walkColour(row) {
  const beyond = gapClasses().filter((c) => c.place === 'beyond');
  if (!walkMeasured(row)) return style.metadata['ess-map:gap-unknown'];
  if (row.gap) return beyond[beyond.length - 2].color;
  const place = row.share_within >= 0.75 ? 'inside' : 'within';
  return gapClasses().find((c) => c.place === place).color;
}

/** The answer's JSON, or the reason the server gives for not answering. */
async function answerOf(url) {
  const r = await fetch(url);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) return { refused: body.message || `${url} : ${r.status}`, status: r.status };
  return body;
}

function gapColour(row) {
  if (state.gapWalk) return walkColour(row);
  if (row.nearest_m === null) return style.metadata['ess-map:gap-unknown'];
  const place = row.inside > 0 ? 'inside' : row.gap ? 'beyond' : 'within';
  return gapClasses().find((c) => c.place === place && (c.up_to_m == null || row.nearest_m <= c.up_to_m)).color;
}

export async function loadGaps() {
  const ticket = ++gapRequest;
  const params = gapTableParams();
  $('manques-csv').href = `/api/gaps?${params}&format=csv`;
  $('manques-geojson').href = `/api/gaps?${params}&format=geojson`;
  $('manques-gpkg').href = `/api/gaps?${params}&format=gpkg`;
  let byCommune = 0;
  let refused = null;
  let cuts = 0;
  const walk = state.gapWalk;
  $('manques-synthese-bloc').hidden = Boolean(walk);
  if (!state.gapGroup && state.categories && state.categories.length === 0) {
    gapRows = [];
  } else {
    const [body, summary] = await Promise.all([
      answerOf(`/api/gaps?${params}`), getJson(`/api/gaps/summary?${gapParams()}`),
    ]);
    if (ticket !== gapRequest) return;
    renderGapSummary(summary);
    if (body.refused) {
      // No network to walk on: said, never replaced by straight lines.
      refused = body.refused;
      gapRows = [];
    } else {
      $('manques-explication').textContent = body.ranking;
      const shown = body.gaps.filter((g) => state.generations.includes(g.generation));
      gapRows = shown.filter((g) => (walk ? walkMeasured(g) : g.basis === 'outline'));
      byCommune = shown.length - gapRows.length;
      cuts = gapRows.filter((g) => g.cut).length;
    }
  }
  lastAnalysis.rows = gapRows;
  lastAnalysis.minutes = walk;
  sayWalk();
  const uncovered = gapRows.filter((g) => g.gap).length;
  const what = state.gapGroup ? `structure « ${groupById[state.gapGroup].label} »` : 'initiative des catégories choisies';
  const where = state.gapCommune ? ` (commune ${communeName(state.gapCommune)})`
    : state.gapDepartement ? ` (département ${state.gapDepartement})` : '';
  const withoutPopulation = gapRows.filter((g) => g.population == null).length;
  const plural = (n, word) => `${fmt.format(n)} ${word}${n > 1 ? 's' : ''}`;
  if (refused) {
    $('manques-resume').textContent = `À pied : ${refused}`;
  } else if (walk) {
    $('manques-resume').textContent = `${plural(uncovered, 'quartier')} sur ${gapRows.length}${where} sans ${what} à moins de ${walk} min à pied (d'aucune rue du quartier).`
      + (cuts ? ` ${plural(cuts, 'coupure')} : une initiative à moins de ${fmt.format(style.metadata['ess-map:walk'].cut_radius_m)} m à vol d'oiseau, mais pas à ${walk} min à pied (voie rapide, voie ferrée, relief…).` : '')
      + (byCommune ? ` ${plural(byCommune, 'autre quartier')} non vérifiable${byCommune > 1 ? 's' : ''} à pied (contour ou réseau piéton non chargé) : dans les téléchargements (colonne « mesure »).` : '');
  } else {
    $('manques-resume').textContent = `${uncovered} quartier${uncovered > 1 ? 's' : ''} sur ${gapRows.length}${where} sans ${what} à moins de ${fmt.format(state.gapRadius)} m.`
      + (withoutPopulation ? ` ${withoutPopulation} sans population publiée : classés par la distance seule.` : '')
      + (byCommune ? ` ${byCommune} autre${byCommune > 1 ? 's' : ''} quartier${byCommune > 1 ? 's' : ''} sans contour chargé, compté${byCommune > 1 ? 's' : ''} par commune, à part : dans les téléchargements (colonne « methode »).` : '');
  }
  const priority = document.querySelector('#manques-table th button[data-sort="priority"]');
  priority.textContent = walk ? 'Priorité' : 'Priorité (km × 10 000 hab.)';
  priority.title = walk
    ? `part des rues du quartier à plus de ${walk} min × temps médian ÷ ${walk} min × habitants en dizaines de milliers`
    : 'distance à la plus proche (km, plafonnée à 5) × habitants en dizaines de milliers';
  renderGapLegend();
  legendFor('manques');
  const colours = ['match', ['get', 'code']];
  for (const g of gapRows) colours.push(g.code, gapColour(g));
  colours.push(style.metadata['ess-map:gap-unknown']);
  map.setPaintProperty('qpv-fill', 'fill-color', gapRows.length ? colours : style.metadata['ess-map:gap-unknown']);
  renderGapTable();
}

const TEXT_COLUMNS = ['name', 'departement'];

/** Sorts the table by a column; again on the same column, the other way. */
export function sortGapsBy(key) {
  gapSort = { key, descending: gapSort.key === key ? !gapSort.descending : !TEXT_COLUMNS.includes(key) };
  renderGapTable();
}

export function renderGapTable() {
  const { key, descending } = gapSort;
  // On foot, « Plus proche » is in minutes.
  const field = key === 'nearest_m' && state.gapWalk ? 'nearest_min' : key;
  const value = (g) => (TEXT_COLUMNS.includes(key) ? g[key] : g[field] ?? -1);
  
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
      <td class="num">${nearestCell(g)}</td>
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

/** The nearest initiative: metres as the crow flies, or minutes on foot
 * (« coupure » where it is near as the crow flies only). */
function nearestCell(g) {
  if (!state.gapWalk) return g.nearest_m != null ? metres(g.nearest_m) : '—';
  const minutes = g.nearest_min != null ? `${fmt.format(g.nearest_min)} min` : 'plus de 60 min';
  return g.cut ? `${minutes}<br><small class="cut">coupure : ${metres(g.crow_nearest_m)} à vol d'oiseau</small>` : minutes;
}

let communes = [];
const communeName = (key) => communes.find((c) => c.key === key)?.name ?? key;

/** The population of the uncovered QPV: never 0 for unknown. */
function uncoveredPopulation(d) {
  const unknown = d.uncovered_without_population;
  if (d.population_uncovered === null || d.population_uncovered === undefined) {
    return unknown ? `non publiée (${fmt.format(unknown)} QPV)` : '—';
  }
  const known = fmt.format(d.population_uncovered);
  return unknown ? `${known} + ${fmt.format(unknown)} QPV sans population publiée` : known;
}

/**
 * Coverage by département for the current analysis, or by commune within
 * the chosen département; the territory choices come from the same figures.
 */
function renderGapSummary(summary) {
  communes = summary.communes;
  const byCommune = Boolean(state.gapDepartement);
  const groups = byCommune ? summary.communes.filter((c) => c.departement === state.gapDepartement) : summary.departements;
  const what = byCommune ? 'commune' : 'département';
  $('manques-synthese-titre').textContent = `Synthèse par ${what}`;
  $('manques-synthese-legende').textContent = `Quartiers couverts par ${what}`;
  $('manques-synthese-cle').textContent = byCommune ? 'Commune' : 'Département';
  const body = document.querySelector('#manques-synthese tbody');
  body.innerHTML = '';
  for (const d of groups) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<th scope="row">${escapeHtml(d.name || d.key)} (${escapeHtml(d.key)})</th>
      <td class="num">${fmt.format(d.qpv)}</td><td class="num">${fmt.format(d.covered)}</td>
      <td class="num">${fmt.format(d.covered_share)} %</td>
      <td class="num">${uncoveredPopulation(d)}</td>`;
    body.append(tr);
  }
  const select = $('manques-territoire');
  if (select.options.length === 1) {
    for (const d of summary.departements) select.append(new Option(`${d.name || d.key} (${d.key})`, d.key));
    select.value = state.gapDepartement ?? '';
  }
  const communeSelect = $('manques-commune');
  communeSelect.length = 1;
  communeSelect.disabled = !byCommune;
  if (byCommune) {
    const sorted = [...groups].sort((a, b) => a.name.localeCompare(b.name, 'fr'));
    for (const c of sorted) communeSelect.append(new Option(`${c.name} (${c.key})`, c.key));
  }
  communeSelect.value = state.gapCommune ?? '';
}

export function setMode(mode, { load = true } = {}) {
  state.mode = mode;
  $('mode-carte').setAttribute('aria-pressed', String(mode === 'carte'));
  $('mode-manques').setAttribute('aria-pressed', String(mode === 'manques'));
  $('manques').hidden = mode !== 'manques';
  showInitiatives();
  if (mode === 'manques') {
    if (load) loadGaps();
    legendFor('manques');
  } else {
    gapRequest++;
    lastAnalysis.rows = [];
    map.getSource('walk')?.setData({ type: 'FeatureCollection', features: [] });
    paintChoropleth();
    legendFor('carte');
  }
  writeUrl();
}

/** The colours of « Manques », beside its table (the panel's legend is far
 * below): what each colour says, and what grey is. */
function renderGapLegend() {
  const list = $('manques-legende');
  list.innerHTML = '';
  for (const [color, text] of gapLegendItems()) {
    const li = document.createElement('li');
    li.innerHTML = `<span class="box" style="background:${color}"></span> ${escapeHtml(text)}`;
    list.append(li);
  }
}

/** What each colour of « Manques » says, for the analysis shown. */
function gapLegendItems() {
  const walk = state.gapWalk;
  const beyond = gapClasses().filter((c) => c.place === 'beyond');
  const items = walk
    ? [
      [gapClasses().find((c) => c.place === 'inside').color, `couvert à pied : au moins 3 rues du quartier sur 4 à moins de ${walk} min d'une initiative`],
      [gapClasses().find((c) => c.place === 'within').color, `couvert en partie : certaines rues du quartier à moins de ${walk} min`],
      [beyond[beyond.length - 2].color, `manque : aucune rue du quartier à moins de ${walk} min à pied`],
      [style.metadata['ess-map:gap-unknown'], 'non vérifiable à pied : contour ou réseau piéton (OpenStreetMap) non chargé'],
    ]
    : gapClasses().map((c) => [c.color, c.place === 'beyond' ? `manque : la plus proche ${c.label}` : `couvert : la plus proche ${c.label}`]);
  if (!walk) items.push([style.metadata['ess-map:gap-unknown'], 'non analysé ici : quartier sans contour chargé (compté par commune, dans les téléchargements)']);
  return items;
}

export function legendFor(mode) {
  const legend = $('legende');
  legend.innerHTML = '';
  const items = mode === 'manques'
    ? (state.gapWalk ? gapLegendItems() : gapClasses().map((c) => [c.color, `Initiative la plus proche ${c.label}`]))
    : style.metadata['ess-map:choropleth'].map((s, i, steps) => {
      const next = steps[i + 1];
      return [s.color, next ? (next.from - s.from === 1 ? `${s.from}` : `${s.from} à moins de ${next.from}`) : `${s.from} et plus`];
    });
  if (mode === 'carte' && state.measure === 'habitants') items.push([noFigureColour(), 'population non publiée']);
  $('legende-mesure').hidden = mode !== 'carte';
  for (const [color, text] of items) {
    const li = document.createElement('li');
    li.innerHTML = `<span class="box" style="background:${color}"></span> ${escapeHtml(text)}`;
    legend.append(li);
  }
  if (mode === 'carte' && state.measure === 'habitants') {
    const li = document.createElement('li');
    li.className = 'small';
    li.textContent = 'Gris : population du quartier non publiée ou non chargée (celle des QPV 2024 vient avec « ess-map data fetch ») : pas de taux sans population.';
    legend.append(li);
  }
  for (const [html, text] of [
    ['<span class="cluster">12</span>', 'Groupe d\'initiatives (nombre), jusqu\'au zoom 12 : cliquer pour s\'approcher'],
    ['<span class="ring"></span>', 'Initiative placée au centre de sa commune (adresse non géocodée) : non comptée dans les quartiers'],
    ['<span class="marker"></span>', 'Commune dont des quartiers n\'ont pas de contour chargé (un repère par commune, avec leur nombre) : cliquer pour les lister'],
    ['<span class="dash"></span>', 'Rayon autour du quartier choisi'],
    ...(mode === 'manques' && state.gapWalk ? [['<span class="walk"></span>', `Zone accessible à pied en ${state.gapWalk} min depuis les rues du quartier choisi`]] : []),
  ]) {
    const li = document.createElement('li');
    li.innerHTML = `${html} ${escapeHtml(text)}`;
    legend.append(li);
  }
  fillEmbedLegend();
}
