// « Comparer des territoires »: 2 to 5 départements or communes side by
// side, from /api/compare (the gap analysis's figures), with a CSV for
// spreadsheets.
import { $, escapeHtml, fmt, getJson } from './util.js';
import { categories } from './context.js';

const chosen = [];
let request = 0;

async function fillChoices() {
  const select = $('comparer-choix');
  if (select.options.length) return;
  const summary = await getJson('/api/gaps/summary?radius_m=500');
  const group = (label, items, text) => {
    const g = document.createElement('optgroup');
    g.label = label;
    for (const item of items) g.append(new Option(text(item), item.key));
    select.append(g);
  };
  group('Départements', summary.departements, (d) => `${d.name || d.key} (${d.key})`);
  const communes = [...summary.communes].filter((c) => /^\w{5}$/.test(c.key))
    .sort((a, b) => a.name.localeCompare(b.name, 'fr'));
  group('Communes', communes, (c) => `${c.name} (${c.key})`);
}

function renderChosen() {
  const list = $('comparer-liste');
  list.innerHTML = '';
  for (const key of chosen) {
    const li = document.createElement('li');
    const label = [...$('comparer-choix').options].find((o) => o.value === key)?.textContent ?? key;
    li.innerHTML = `<span>${escapeHtml(label)}</span> <button type="button" aria-label="Retirer ${escapeHtml(label)}">×</button>`;
    li.querySelector('button').addEventListener('click', () => {
      chosen.splice(chosen.indexOf(key), 1);
      renderChosen();
      load();
    });
    list.append(li);
  }
  $('comparer-ajouter').disabled = chosen.length >= 5;
}

const number = (v, unit = '') => (v == null ? '—' : `${fmt.format(v)}${unit}`);

async function load() {
  const ticket = ++request;
  const table = $('comparer-table');
  const csv = $('comparer-csv');
  if (chosen.length < 2) {
    table.tHead.innerHTML = '';
    table.tBodies[0].innerHTML = '';
    csv.hidden = true;
    $('comparer-etat').textContent = 'Choisissez au moins deux territoires.';
    return;
  }
  const radius = $('comparer-rayon').value;
  const query = `territories=${encodeURIComponent(chosen.join(','))}&radius_m=${radius}`;
  $('comparer-etat').textContent = 'Calcul…';
  const body = await getJson(`/api/compare?${query}`);
  if (ticket !== request) return;
  const areas = body.territories;
  table.tHead.innerHTML = `<tr><th scope="col">Indicateur</th>${areas.map((a) => `<th scope="col">${escapeHtml(a.name || a.key)} (${escapeHtml(a.key)})</th>`).join('')}</tr>`;
  const rows = [
    ['Quartiers prioritaires', (a) => number(a.qpv)],
    ['… dont avec contour chargé', (a) => number(a.qpv_with_outline)],
    ['Population des quartiers (publiée)', (a) => (a.qpv_with_population ? `${number(a.population)} (${number(a.qpv_with_population)} QPV)` : 'non publiée')],
    ['Initiatives dans les quartiers', (a) => number(a.inside)],
    [`Initiatives à moins de ${fmt.format(radius)} m`, (a) => number(a.within)],
    ['… pour 10 000 habitants', (a) => number(a.within_per_10k)],
    [`Quartiers sans SIAE à moins de ${fmt.format(radius)} m`, (a) => `${number(a.without_siae)}${a.without_siae_share == null ? '' : ` (${number(a.without_siae_share, ' %')})`}`],
    ...categories.map((c, i) => [`${c.label} : dans / à moins de ${fmt.format(radius)} m`,
      (a) => `${number(a.categories[i].inside)} / ${number(a.categories[i].within)}`]),
  ];
  table.tBodies[0].innerHTML = rows.map(([label, value]) => `<tr><th scope="row">${escapeHtml(label)}</th>${areas.map((a) => `<td class="num">${escapeHtml(value(a))}</td>`).join('')}</tr>`).join('');
  csv.href = `/api/compare?${query}&format=csv`;
  csv.hidden = false;
  $('comparer-etat').textContent = `${areas.length} territoires comparés à ${fmt.format(radius)} m.`;
}

export function buildCompare() {
  const dialog = $('comparer');
  $('comparer-ouvrir').addEventListener('click', async () => {
    dialog.showModal();
    await fillChoices();
    load();
  });
  $('comparer-ajouter').addEventListener('click', () => {
    const key = $('comparer-choix').value;
    if (!key || chosen.includes(key) || chosen.length >= 5) return;
    chosen.push(key);
    renderChosen();
    load();
  });
  $('comparer-rayon').addEventListener('change', load);
  $('comparer-fermer').addEventListener('click', () => dialog.close());
}
