import { $, escapeHtml, fmt, fold, getJson } from './util.js';
import { map } from './context.js';
import { openInitiative, showQpv } from './panel.js';

// ---------- search ----------
const INITIATIVE_RESULTS = 20;
/** Lower case without accents, as the server folds. */
export function buildSearch() {
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
