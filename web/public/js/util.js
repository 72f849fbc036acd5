// Small helpers shared by the web map's modules.

export const $ = (id) => document.getElementById(id);
export const fmt = new Intl.NumberFormat('fr-FR');

export async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

export const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
export const MONTHS = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];
/** A manifest date (`2021`, `2021-02`, `2021-02-15`) as read in French. */
export const frenchDate = (asOf) => {
  const [y, m, d] = String(asOf ?? '').split('-');
  if (!y) return null;
  if (!m) return y;
  const month = `${MONTHS[Number(m) - 1]} ${y}`;
  return d && d !== '01' ? `${Number(d)} ${month}` : month;
};
export const metres = (d) => (d === 0 ? 'dans le quartier' : d < 1000 ? `${fmt.format(Math.round(d))} m` : `${fmt.format(Math.round(d / 100) / 10)} km`);

/** Lower case without accents, as the server folds. */
export const fold = (text) => String(text).normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
