// « Dernières modifications »: what was added, corrected or removed, when,
// by which source or role (never by whom), for everyone; the same as an
// Atom feed for a network's newsletter, for one département if chosen.
import { $, escapeHtml, fmt, frenchDate, getJson } from './util.js';

const KINDS = { ajout: 'Ajout', correction: 'Correction', retrait: 'Retrait', import: 'Import' };

async function show() {
  const d = $('modifications-departement').value;
  const query = d ? `?departement=${encodeURIComponent(d)}` : '';
  $('modifications-atom').href = `/api/changes.atom${query}`;
  const { changes } = await getJson(`/api/changes${query}`);
  $('modifications-liste').innerHTML = changes.length
    ? changes.map((c) => `<li><strong>${KINDS[c.kind] ?? c.kind}</strong> — ${c.count > 1 ? `${fmt.format(c.count)} initiatives` : escapeHtml(c.name)}${c.commune && c.count === 1 ? ` (${escapeHtml(c.commune)})` : ''}
      <br><span class="small">le ${escapeHtml(frenchDate(c.at.slice(0, 10)))}, par ${escapeHtml(c.by)}</span></li>`).join('')
    : '<li>Aucune modification.</li>';
}

/** The départements to choose from, those holding QPV (once). */
async function fillDepartements() {
  const select = $('modifications-departement');
  if (select.options.length > 1) return;
  try {
    const summary = await getJson('/api/gaps/summary');
    for (const d of summary.departements) select.append(new Option(`${d.name || d.key} (${d.key})`, d.key));
  } catch { /* the list stays « Tous » */ }
}

export function buildChanges() {
  $('modifications-departement').addEventListener('change', show);
  $('modifications-ouvrir').addEventListener('click', () => {
    $('modifications').showModal();
    show();
    fillDepartements();
  });
  $('modifications-fermer').addEventListener('click', () => $('modifications').close());
}
