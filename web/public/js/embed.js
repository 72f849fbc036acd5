// Embedding: `?embed=1` gives a minimal map for a city's page (no header,
// no side panel unless `panneau=1`, a link to the full map); « Intégrer »
// gives the <iframe> of the current view.
import { $, escapeHtml } from './util.js';
import { state, viewParams } from './state.js';
import { categoryById, groupById } from './context.js';
import { drawnCategories } from './layers.js';

export function applyEmbedding() {
  document.body.classList.toggle('embed', state.embed);
  document.body.classList.toggle('embed-panel', state.embedPanel);
  // Its title and legend, open where there is room for them.
  if (state.embed && window.innerWidth >= 640) $('encart').open = true;
}

/** The embedded map's legend: what the QPV colours say (the panel's own
 * legend, copied) and the categories drawn. Called whenever that legend is. */
export function fillEmbedLegend() {
  if (!state.embed) return;
  const group = state.mode === 'manques' && state.gapGroup ? groupById[state.gapGroup] : null;
  $('encart-mesure').textContent = state.mode === 'manques'
    ? `Manques : distance de chaque quartier à l'initiative la plus proche${group ? ` (${group.label})` : ''}.`
    : `Couleur des quartiers : initiatives à moins de 500 m${state.measure === 'habitants' ? ', pour 10 000 habitants' : ''}.`;
  $('encart-legende').innerHTML = $('legende').innerHTML;
  $('encart-categories').innerHTML = drawnCategories().map((id) => categoryById[id]).filter(Boolean)
    .map((c) => `<li><span class="swatch" style="background:${escapeHtml(c.color)}"></span> ${escapeHtml(c.label)}</li>`).join('');
}

function snippet() {
  const p = viewParams();
  p.set('embed', '1');
  if ($('integrer-panneau').checked) p.set('panneau', '1');
  const src = `${location.origin}${location.pathname}?${p}`.replaceAll('&', '&amp;');
  return `<iframe src="${src}" width="100%" height="480" style="border:0" loading="lazy" `
    + `title="Carte des initiatives de l'ESS et des quartiers prioritaires"></iframe>`;
}

export function buildEmbedDialog() {
  const dialog = $('integrer');
  const refresh = () => { $('integrer-code').value = snippet(); $('integrer-etat').textContent = ''; };
  $('integrer-ouvrir').addEventListener('click', () => { refresh(); dialog.showModal(); });
  $('integrer-panneau').addEventListener('change', refresh);
  $('integrer-fermer').addEventListener('click', () => dialog.close());
  $('integrer-copier').addEventListener('click', async () => {
    const code = $('integrer-code');
    try {
      await navigator.clipboard.writeText(code.value);
      $('integrer-etat').textContent = 'Code copié.';
    } catch {
      code.select();
      $('integrer-etat').textContent = 'Code sélectionné : copiez-le (Ctrl+C).';
    }
  });
}
