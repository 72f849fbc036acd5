// « Adresses en QPV »: a table of addresses or coordinates sent to the
// server (/api/locate/table?reponse=json), located there without being
// stored; the result offered for download in the same format, and the
// located rows drawn on the map by status. Progress: the upload's share,
// then « traitement » until the answer.
import { $, fmt } from './util.js';
import { map } from './context.js';

let resultUrl = null;
// The located rows drawn (kept to put back when a new style comes).
let located = { type: 'FeatureCollection', features: [] };

/** Draws the located rows (again, after a change of style). */
export function showAddresses() {
  map.getSource('adresses')?.setData(located);
}

/** The map on the located rows. */
function fitAddresses() {
  if (located.features.length === 0) return;
  // A loop, not Math.min(...): up to 100,000 points.
  let [w, s, e, n] = [180, 90, -180, -90];
  for (const { geometry: { coordinates: [x, y] } } of located.features) {
    w = Math.min(w, x); s = Math.min(s, y); e = Math.max(e, x); n = Math.max(n, y);
  }
  map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 15, duration: 0 });
}

/** A file from its base64 text. */
function fileOf(base64, type) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new Blob([bytes], { type });
}

function say(text) {
  $('adresses-etat').textContent = text;
}

/** Sends the chosen file; resolves with the XHR once answered. */
function send(file, radius) {
  const body = new FormData();
  body.append('file', file);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', `/api/locate/table?radius_m=${radius}&reponse=json`);
  xhr.responseType = 'json';
  const bar = $('adresses-progression');
  bar.hidden = false;
  xhr.upload.addEventListener('progress', (e) => {
    if (!e.lengthComputable) return;
    bar.max = e.total;
    bar.value = e.loaded;
    say(`Envoi : ${Math.round((100 * e.loaded) / e.total)} %`);
  });
  xhr.upload.addEventListener('load', () => {
    bar.removeAttribute('value');
    say('Traitement en cours (géocodage des adresses, recherche des quartiers)…');
  });
  return new Promise((resolve, reject) => {
    xhr.addEventListener('load', () => resolve(xhr));
    xhr.addEventListener('error', () => reject(new Error('le serveur ne répond pas')));
    xhr.send(body);
  }).finally(() => { bar.hidden = true; });
}

async function submit(e) {
  e.preventDefault();
  const file = $('adresses-fichier').files[0];
  if (!file) { say('Choisissez un fichier.'); return; }
  if (file.size > 20 * 1024 * 1024) { say('Fichier trop volumineux : 20 Mo au plus.'); return; }
  $('adresses-envoyer').disabled = true;
  $('adresses-resultat').hidden = true;
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  try {
    const xhr = await send(file, $('adresses-rayon').value);
    const answer = xhr.response ?? {};
    if (xhr.status !== 200) {
      say(`Refusé : ${(answer.message ?? answer.error ?? `erreur ${xhr.status}`).replace(/^field `[^`]+`: /, '')}`);
      return;
    }
    resultUrl = URL.createObjectURL(fileOf(answer.file, answer.media_type));
    const link = $('adresses-resultat');
    link.href = resultUrl;
    link.download = answer.file_name;
    link.hidden = false;
    located = answer.points;
    showAddresses();
    fitAddresses();
    const drawn = located.features.length;
    say(`${fmt.format(answer.rows)} lignes : ${fmt.format(answer.inside)} dans un quartier, `
      + `${fmt.format(answer.near)} à proximité, ${fmt.format(answer.outside)} hors QPV, `
      + `${fmt.format(answer.unknown)} non vérifiables (contour du quartier non chargé), `
      + `${fmt.format(answer.not_located)} non localisées (voir la colonne « remarque »). `
      + (drawn ? `Sur la carte : ${fmt.format(drawn)} point${drawn > 1 ? 's' : ''} (bleu foncé : dans un quartier, bleu clair : à proximité, gris : hors QPV, cerclé d'orange : non vérifiable)`
        + `${answer.points_left_out ? `, ${fmt.format(answer.points_left_out)} autres non dessinés` : ''}.` : ''));
  } catch (err) {
    say(`Échec : ${err.message}`);
  } finally {
    $('adresses-envoyer').disabled = false;
  }
}

export function buildAddresses() {
  const dialog = $('adresses');
  $('adresses-ouvrir').addEventListener('click', () => dialog.showModal());
  $('adresses-fermer').addEventListener('click', () => dialog.close());
  $('adresses-form').addEventListener('submit', submit);
}
