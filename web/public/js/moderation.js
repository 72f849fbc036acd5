// What anyone can do without an account — « Proposer une initiative »,
// « Signaler une erreur » on an initiative's popup — and what moderators do
// with it: the queue of proposals (filtered by département, category and
// age; accepted as sent or with edits, merged into an initiative already
// shown, or rejected with a reason the proposer is told), and the
// near-matches between sources (one structure, or two).
import { $, escapeHtml, frenchDate } from './util.js';
import { categories, categoryById } from './context.js';
import { can, messageOf, onSession, send } from './account.js';
import { popupHooks } from './panel.js';
import { reloadInitiatives } from './layers.js';

const PROPOSED = ['name', 'category', 'address', 'postcode', 'commune', 'siret', 'website', 'description'];
/** What a moderator may change before accepting, with its label. */
const EDITABLE = { name: 'Nom', address: 'Adresse', commune: 'Commune', website: 'Site web', description: 'Description' };

const blank = (v) => (v === undefined || v === null || String(v).trim() === '' ? null : String(v).trim());

function refused(r) {
  if (r.status === 429) return 'Trop de propositions envoyées depuis cette connexion : réessayez plus tard.';
  return `Envoi impossible : ${messageOf(r)}.`;
}

async function propose(e) {
  e.preventDefault();
  const body = {};
  for (const f of PROPOSED) {
    const v = blank($(`proposition-${f}`).value);
    if (v !== null) body[f] = v;
  }
  const email = blank($('proposition-email').value);
  if (email) body.email = email;
  const trap = blank($('proposition-piege').value);
  if (trap) body.site_web_bis = trap;
  const r = await send('POST', '/api/proposals', body);
  if (!r.ok) { $('proposition-etat').textContent = refused(r); return; }
  $('proposition-form').reset();
  $('proposition-etat').textContent = `Merci ! Votre proposition (n° ${r.json.id}) sera relue avant d’être publiée.`;
}

let reported = null;

function openReport(properties) {
  reported = properties.id;
  $('signalement-form').reset();
  $('signalement-quoi').textContent = `À propos de « ${properties.name} ».`;
  $('signalement-etat').textContent = '';
  $('signalement').showModal();
}

async function report(e) {
  e.preventDefault();
  const body = { initiative: reported, message: $('signalement-message').value.trim() };
  const email = blank($('signalement-email').value);
  if (email) body.email = email;
  const trap = blank($('signalement-piege').value);
  if (trap) body.site_web_bis = trap;
  const r = await send('POST', '/api/proposals', body);
  if (!r.ok) { $('signalement-etat').textContent = refused(r); return; }
  $('signalement-message').value = '';
  $('signalement-etat').textContent = 'Merci ! Votre signalement sera relu par l’équipe de modération.';
}

/** « Signaler une erreur » on every initiative's popup. */
function popupReport(properties, element) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'link';
  button.textContent = 'Signaler une erreur';
  button.addEventListener('click', () => openReport(properties));
  const popup = element.querySelector('.popup');
  const sources = properties.sources ?? [];
  if (sources.length > 1) {
    const p = document.createElement('p');
    p.className = 'small sources';
    p.textContent = `Décrite par ${sources.length} sources : ${sources.map((s) => s.source).join(', ')}`;
    popup?.append(p);
  }
  popup?.append(button);
}

function say(text) { $('moderation-etat').textContent = text; }

function proposalItem(p) {
  const f = p.fields ?? {};
  const title = p.kind === 'report'
    ? `Signalement sur « ${escapeHtml(p.initiative)} »`
    : `Proposition : ${escapeHtml(f.name ?? '')}`;
  const details = p.kind === 'report' ? '' : `<p>${[f.address, [f.postcode, f.commune].filter(Boolean).join(' ')].filter(Boolean).map(escapeHtml).join(', ')}
    ${f.siret ? ` · SIRET ${escapeHtml(f.siret)}` : ''}${f.website ? ` · ${escapeHtml(f.website)}` : ''}</p>
    ${f.description ? `<p>${escapeHtml(f.description)}</p>` : ''}`;
  const edits = Object.entries(EDITABLE).map(([k, label]) => `<label>${label}<input data-edit="${k}" value="${escapeHtml(p.kind === 'report' ? '' : f[k] ?? '')}"></label>`).join('');
  return `<li data-id="${p.id}" data-kind="${escapeHtml(p.kind)}"><h3>${title}</h3>${details}
    ${p.message ? `<p><em>${escapeHtml(p.message)}</em></p>` : ''}
    <p class="small">n° ${p.id}, reçue le ${escapeHtml(frenchDate(p.created_at.slice(0, 10)))}${p.departement ? `, département ${escapeHtml(p.departement)}` : ''}${p.category ? `, ${escapeHtml(categoryById[p.category]?.label ?? p.category)}` : ''}${p.follow_up ? ', courriel de suivi laissé' : ''}</p>
    <details><summary>${p.kind === 'report' ? 'Corriger l’initiative en acceptant' : 'Modifier avant d’accepter'}</summary><div class="decide">${edits}</div></details>
    <div class="decide">
      <button type="button" data-do="accepter">Accepter</button>
      ${p.kind === 'report' ? '' : '<label>Fusionner avec l’initiative (identifiant)<input data-field="merge"></label><button type="button" data-do="fusionner">Fusionner</button>'}
      <label>Motif du refus<input data-field="reason" maxlength="500"></label>
      <button type="button" data-do="rejeter" class="danger">Rejeter</button>
    </div></li>`;
}

async function showProposals() {
  const query = new URLSearchParams();
  if (blank($('moderation-departement').value)) query.set('departement', $('moderation-departement').value.trim());
  if ($('moderation-categorie').value) query.set('categorie', $('moderation-categorie').value);
  if ($('moderation-age').value) query.set('depuis_jours', $('moderation-age').value);
  const r = await send('GET', `/api/proposals?${query}`);
  if (!r.ok) { say(messageOf(r)); return; }
  const list = r.json.proposals;
  $('moderation-liste').innerHTML = list.length ? list.map(proposalItem).join('') : '<li>Aucune proposition en attente.</li>';
  say(`${list.length} proposition${list.length > 1 ? 's' : ''} en attente.`);
}

async function decideProposal(e) {
  const button = e.target.closest('button[data-do]');
  if (!button) return;
  const item = button.closest('li');
  const id = item.dataset.id;
  let r;
  if (button.dataset.do === 'rejeter') {
    const reason = blank(item.querySelector('[data-field="reason"]').value);
    if (!reason) { say('Donnez le motif du refus : il est transmis à la personne qui a proposé.'); item.querySelector('[data-field="reason"]').focus(); return; }
    r = await send('POST', `/api/proposals/${id}/reject`, { reason });
  } else if (button.dataset.do === 'fusionner') {
    const into = blank(item.querySelector('[data-field="merge"]').value);
    if (!into) { say('Donnez l’identifiant de l’initiative existante.'); return; }
    r = await send('POST', `/api/proposals/${id}/accept`, { merge_into: into });
  } else {
    const edits = {};
    for (const input of item.querySelectorAll('[data-edit]')) {
      const v = blank(input.value);
      if (v !== null && v !== (input.defaultValue || null)) edits[input.dataset.edit] = v;
    }
    r = await send('POST', `/api/proposals/${id}/accept`, Object.keys(edits).length ? { edits } : {});
  }
  if (!r.ok) { say(`Décision impossible : ${messageOf(r)}.`); return; }
  reloadInitiatives();
  await showProposals();
  const said = { accepted: 'acceptée', acceptée: 'acceptée', rejected: 'rejetée', merged: 'fusionnée' }[r.json.status] ?? r.json.status;
  say(`Proposition n° ${id} ${said}.`);
}

function side(x) {
  if (x.gone) return `<strong>${escapeHtml(x.id)}</strong> (retirée)`;
  return `<strong>${escapeHtml(x.name)}</strong> — ${escapeHtml(x.source)}${x.commune ? `, ${escapeHtml(x.commune)}` : ''}${x.siret ? `, SIRET ${escapeHtml(x.siret)}` : ''}`;
}

async function showDuplicates() {
  const r = await send('GET', '/api/duplicates');
  if (!r.ok) { say(messageOf(r)); return; }
  const list = r.json.duplicates;
  $('doublons-liste').innerHTML = list.length ? list.map((d) => `<li data-id="${d.id}">
    <p>${side(d.a)}<br>${side(d.b)}</p>
    <p class="small">Similarité des noms ${d.score.toFixed(2).replace('.', ',')}, à ${Math.round(d.distance_m)} m</p>
    <div class="decide"><button type="button" data-do="merge">Même structure (fusionner)</button>
    <button type="button" data-do="distinct">Structures distinctes</button></div></li>`).join('')
    : '<li>Aucun doublon possible en attente.</li>';
  say(`${list.length} doublon${list.length > 1 ? 's' : ''} possible${list.length > 1 ? 's' : ''} en attente.`);
}

async function decideDuplicate(e) {
  const button = e.target.closest('button[data-do]');
  if (!button) return;
  const id = button.closest('li').dataset.id;
  const r = await send('POST', `/api/duplicates/${id}/${button.dataset.do}`, {});
  if (!r.ok) { say(`Décision impossible : ${messageOf(r)}.`); return; }
  reloadInitiatives();
  await showDuplicates();
  say(button.dataset.do === 'merge' ? 'Fusionnées : une seule structure est montrée et comptée.' : 'Gardées distinctes.');
}

function showTab(duplicates) {
  $('moderation-voir-propositions').setAttribute('aria-pressed', String(!duplicates));
  $('moderation-voir-doublons').setAttribute('aria-pressed', String(duplicates));
  $('moderation-propositions').hidden = duplicates;
  $('moderation-doublons').hidden = !duplicates;
  return duplicates ? showDuplicates() : showProposals();
}

export function buildModeration() {
  for (const c of categories) {
    $('proposition-category').append(new Option(c.label, c.id));
    $('moderation-categorie').append(new Option(c.label, c.id));
  }
  for (const id of ['proposer', 'proposer-panneau']) {
    $(id).addEventListener('click', () => {
      $('proposition-etat').textContent = '';
      $('proposition').showModal();
    });
  }
  $('proposition-form').addEventListener('submit', propose);
  $('proposition-fermer').addEventListener('click', () => $('proposition').close());
  $('signalement-form').addEventListener('submit', report);
  $('signalement-fermer').addEventListener('click', () => $('signalement').close());
  popupHooks.push(popupReport);
  onSession(() => { $('moderation-ouvrir').hidden = !can('moderator'); });
  $('moderation-ouvrir').addEventListener('click', () => {
    $('moderation').showModal();
    showTab(false);
  });
  $('moderation-voir-propositions').addEventListener('click', () => showTab(false));
  $('moderation-voir-doublons').addEventListener('click', () => showTab(true));
  for (const id of ['moderation-departement', 'moderation-categorie', 'moderation-age']) $(id).addEventListener('change', showProposals);
  $('moderation-liste').addEventListener('click', decideProposal);
  $('doublons-liste').addEventListener('click', decideDuplicate);
  $('moderation-fermer').addEventListener('click', () => $('moderation').close());
}
