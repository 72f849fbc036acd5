// « Adresses en QPV »: a table of addresses or coordinates sent to the
// server (/api/locate/table), located there without being stored, and the
// result offered for download in the same format. Progress: the upload's
// share, then « traitement » until the answer.
import { $, fmt } from './util.js';

let resultUrl = null;

function say(text) {
  $('adresses-etat').textContent = text;
}

/** Sends the chosen file; resolves with the XHR once answered. */
function send(file, radius) {
  const body = new FormData();
  body.append('file', file);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', `/api/locate/table?radius_m=${radius}`);
  xhr.responseType = 'blob';
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
    if (xhr.status !== 200) {
      const error = JSON.parse(await xhr.response.text());
      say(`Refusé : ${(error.message ?? error.error).replace(/^field `[^`]+`: /, '')}`);
      return;
    }
    const n = (h) => Number(xhr.getResponseHeader(h));
    const name = /filename="([^"]+)"/.exec(xhr.getResponseHeader('content-disposition') ?? '')?.[1] ?? 'resultat';
    resultUrl = URL.createObjectURL(xhr.response);
    const link = $('adresses-resultat');
    link.href = resultUrl;
    link.download = name;
    link.hidden = false;
    say(`${fmt.format(n('x-rows'))} lignes : ${fmt.format(n('x-inside'))} dans un quartier, `
      + `${fmt.format(n('x-near'))} à proximité, ${fmt.format(n('x-outside'))} hors QPV, `
      + `${fmt.format(n('x-unknown'))} non vérifiables (contour du quartier non chargé), `
      + `${fmt.format(n('x-not-located'))} non localisées (voir la colonne « remarque »).`);
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
