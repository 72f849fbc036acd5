// People who keep the map true: signing in and out, choosing a password from
// an invitation or reset link (`?invitation=…`, `?reinitialisation=…`), and
// the people an admin manages. The session is a cookie the page cannot read
// (HttpOnly); every write sends the session's CSRF token (`X-CSRF-Token`).
import { $, escapeHtml } from './util.js';

export const ROLE_LABELS = { contributor: 'contributeur', editor: 'éditeur', moderator: 'modérateur', admin: 'administrateur' };
const RANK = { contributor: 0, editor: 1, moderator: 2, admin: 3 };

/** Who is signed in (`null`: nobody) and their session's CSRF token. */
export const session = { account: null, csrf: null };
const listeners = [];
/** Calls `fn` whenever someone signs in or out. */
export const onSession = (fn) => listeners.push(fn);

/** Whether the person signed in has `role` or above. */
export const can = (role) => Boolean(session.account) && RANK[session.account.role] >= RANK[role];

function setAccount(account) {
  session.account = account;
  session.csrf = account?.csrf ?? null;
  // Short in the header: the name, else the address's first part.
  $('compte').textContent = account ? (account.name ?? account.email.split('@')[0]) : 'Se connecter';
  $('compte').title = account ? `${account.email} (${ROLE_LABELS[account.role]})` : '';
  for (const fn of listeners) fn(account);
}

/** A request with the session: JSON in and out, the CSRF token on writes. */
export async function send(method, url, body, headers = {}) {
  const r = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method !== 'GET' && session.csrf ? { 'x-csrf-token': session.csrf } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, ok: r.ok, json, etag: r.headers.get('etag') };
}

/** The server's message, in French where it has one. */
export const messageOf = (r) => r.json?.message ?? `erreur ${r.status}`;

async function signIn(e) {
  e.preventDefault();
  const r = await send('POST', '/api/session', { email: $('connexion-email').value, password: $('connexion-mot').value });
  if (r.ok) {
    $('connexion-mot').value = '';
    $('connexion-etat').textContent = '';
    $('connexion').close();
    setAccount(r.json);
  } else {
    $('connexion-etat').textContent = r.status === 401
      ? 'Adresse électronique ou mot de passe incorrect.'
      : r.status === 429 ? `${messageOf(r)}.` : `Connexion impossible : ${messageOf(r)}.`;
  }
}

async function signOut() {
  await send('DELETE', '/api/session');
  $('compte-dialogue').close();
  setAccount(null);
}

/** The password of an invitation or reset link in the address. */
function choosePassword(link) {
  const dialog = $('mot-de-passe');
  const dropLink = () => {
    const url = new URL(location.href);
    url.searchParams.delete('invitation');
    url.searchParams.delete('reinitialisation');
    history.replaceState(null, '', url);
  };
  $('mot-de-passe-fermer').addEventListener('click', () => { dropLink(); dialog.close(); });
  $('mot-de-passe-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const [a, b] = [$('mot-de-passe-1').value, $('mot-de-passe-2').value];
    if (a !== b) {
      $('mot-de-passe-etat').textContent = 'Les deux mots de passe diffèrent.';
      return;
    }
    const r = await send('POST', '/api/password', { link, password: a });
    if (!r.ok) {
      $('mot-de-passe-etat').textContent = `${messageOf(r)}.`;
      return;
    }
    dropLink();
    dialog.close();
    $('connexion-email').value = r.json.email;
    $('connexion-etat').textContent = 'Mot de passe enregistré : connectez-vous.';
    $('connexion').showModal();
    $('connexion-mot').focus();
  });
  dialog.showModal();
}

// ---------- people (admin) ----------

async function showPeople() {
  const r = await send('GET', '/api/users');
  if (!r.ok) {
    $('personnes-etat').textContent = messageOf(r);
    return;
  }
  const body = $('personnes-table').tBodies[0];
  body.innerHTML = r.json.users.map((u) => `<tr data-email="${escapeHtml(u.email)}">
    <td>${escapeHtml(u.email)}</td>
    <td><select aria-label="Rôle de ${escapeHtml(u.email)}">${Object.entries(ROLE_LABELS).map(([id, label]) => `<option value="${id}"${id === u.role ? ' selected' : ''}>${label}</option>`).join('')}</select></td>
    <td><input aria-label="Départements de ${escapeHtml(u.email)}" value="${escapeHtml(u.departements.join(', '))}" placeholder="partout" size="8"></td>
    <td>${u.disabled ? 'désactivé' : 'actif'}</td>
    <td class="row-buttons"><button type="button" data-action="enregistrer">Enregistrer</button>
      <button type="button" data-action="${u.disabled ? 'reactiver' : 'desactiver'}">${u.disabled ? 'Réactiver' : 'Désactiver'}</button></td></tr>`).join('');
  for (const row of body.rows) {
    const email = row.dataset.email;
    row.querySelectorAll('button').forEach((b) => b.addEventListener('click', async () => {
      const change = b.dataset.action === 'enregistrer'
        ? { role: row.querySelector('select').value, departements: splitDepartements(row.querySelector('input').value) }
        : { disabled: b.dataset.action === 'desactiver' };
      const done = await send('PATCH', `/api/users/${encodeURIComponent(email)}`, change);
      $('personnes-etat').textContent = done.ok ? `${email} : modifié.` : `${email} : ${messageOf(done)}.`;
      if (done.ok) showPeople();
    }));
  }
}

const splitDepartements = (text) => text.split(/[,\s]+/).map((d) => d.trim()).filter(Boolean);

async function invite(e) {
  e.preventDefault();
  const r = await send('POST', '/api/users', {
    email: $('inviter-email').value, role: $('inviter-role').value,
    departements: splitDepartements($('inviter-departements').value),
  });
  if (!r.ok) {
    $('personnes-etat').textContent = `Invitation impossible : ${messageOf(r)}.`;
    return;
  }
  const link = $('inviter-lien');
  if (r.json.sent) {
    $('personnes-etat').textContent = `${r.json.email} invité(e) : l'invitation est partie par courriel.`;
  } else {
    $('personnes-etat').textContent = `${r.json.email} invité(e) : ${r.json.message ?? 'pas de courriel configuré'} ; transmettez-lui le lien ci-dessous.`;
    link.value = r.json.link;
  }
  link.hidden = Boolean(r.json.sent);
  link.labels.forEach((l) => { l.hidden = link.hidden; });
  $('inviter-email').value = '';
  showPeople();
}

export async function buildAccount() {
  $('compte').addEventListener('click', () => {
    if (!session.account) {
      $('connexion-etat').textContent = '';
      $('connexion').showModal();
      return;
    }
    const a = session.account;
    $('compte-qui').textContent = `${a.email} — ${ROLE_LABELS[a.role]}${a.departements.length ? `, départements ${a.departements.join(', ')}` : ''}`;
    $('personnes-ouvrir').hidden = !can('admin');
    $('compte-dialogue').showModal();
  });
  $('connexion-form').addEventListener('submit', signIn);
  $('connexion-fermer').addEventListener('click', () => $('connexion').close());
  $('connexion-oubli').addEventListener('click', async () => {
    const email = $('connexion-email').value.trim();
    if (!email) {
      $('connexion-etat').textContent = 'Indiquez votre adresse électronique, puis « Mot de passe oublié ? ».';
      $('connexion-email').focus();
      return;
    }
    const r = await send('POST', '/api/password/reset', { email });
    const text = messageOf(r);
    $('connexion-etat').textContent = `${text[0].toUpperCase()}${text.slice(1)}.`;
  });
  $('deconnexion').addEventListener('click', signOut);
  $('compte-fermer').addEventListener('click', () => $('compte-dialogue').close());
  $('personnes-ouvrir').addEventListener('click', () => {
    $('compte-dialogue').close();
    $('personnes').showModal();
    showPeople();
  });
  $('personnes-fermer').addEventListener('click', () => $('personnes').close());
  $('inviter-form').addEventListener('submit', invite);

  const params = new URLSearchParams(location.search);
  const link = params.get('invitation') ?? params.get('reinitialisation');
  if (link) choosePassword(link);
  // Already signed in (the cookie survives a reload)?
  const me = await send('GET', '/api/session');
  setAccount(me.ok && me.json.signed_in ? me.json : null);
  // Single sign-on (ProConnect), when the site has one.
  const openid = me.ok ? me.json.openid : null;
  $('connexion-unique').hidden = !openid;
  if (openid) {
    $('connexion-unique').textContent = `Se connecter avec ${openid.label}`;
    $('connexion-unique').addEventListener('click', () => { location.href = openid.start; });
  }
  // Back from the provider: say how it went.
  const back = params.get('connexion');
  if (back) {
    const url = new URL(location.href);
    url.searchParams.delete('connexion');
    history.replaceState(null, '', url);
    const label = openid?.label ?? 'le fournisseur d’identité';
    const said = {
      'sans-compte': `Aucun compte pour l'adresse que ${label} a donnée : demandez une invitation à l'administrateur du réseau.`,
      echec: `La connexion avec ${label} a échoué : recommencez.`,
      'fournisseur-injoignable': `${label} est injoignable pour l'instant : réessayez plus tard.`,
    }[back];
    if (said && !session.account) {
      $('connexion-etat').textContent = said;
      $('connexion').showModal();
    }
  }
}
