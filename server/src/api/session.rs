//! Who is asking: a bearer token (scripts) or a session cookie (people in
//! the browser), as [`Principal`]; signing in and out (`/api/session`),
//! choosing a password from an invitation or reset link (`/api/password`),
//! and the people an admin manages (`/api/users`).
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Secure` behind HTTPS; a
//! write made with it also needs its session's CSRF token in
//! `X-CSRF-Token` (given by `POST`/`GET /api/session`), so another site's
//! form can never write on a signed-in person's behalf.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::Json;
use super::params::Params;
use super::{ApiError, AppState, Client};
use crate::accounts::{self, AccountError, SESSION_LIFETIME};
use crate::store::{Account, NewAccount, Role};

/// The session cookie's name.
pub const COOKIE: &str = "ess_map_session";
/// The header a cookie-authenticated write carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is writing, and where they may.
pub struct Principal {
    /// A token's name, or an account's e-mail address (kept in the history).
    pub name: String,
    pub role: Role,
    /// Empty: everywhere.
    pub departements: Vec<String>,
}

impl Principal {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "`{}` is {}; this needs {}",
                self.name,
                self.role.as_str(),
                role.as_str()
            )))
        }
    }

    /// As the edits record and check it.
    pub fn actor(&self) -> crate::edit::Actor<'_> {
        crate::edit::Actor {
            name: &self.name,
            departements: &self.departements,
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Email(_) => ApiError::field("email", e.to_string()),
            AccountError::WeakPassword | AccountError::LongPassword => {
                ApiError::field("password", e.to_string())
            }
            AccountError::Departement(_) => ApiError::field("departements", e.to_string()),
            AccountError::NoAccount(_) => ApiError::NotFound(e.to_string()),
            AccountError::Link => ApiError::field("link", e.to_string()),
            AccountError::Store(e) => ApiError::internal(e),
        }
    }
}

/// The value of cookie `name`, if the request has one.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// The account of a request's session cookie, and its CSRF token.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Account, String)>, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let live = state.live.clone();
    blocking(move || accounts::session(&live, &cookie))
        .await?
        .map_err(ApiError::internal)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(header) = parts.headers.get(header::AUTHORIZATION) {
            // The scheme is case-insensitive (RFC 7235).
            let token = header
                .to_str()
                .ok()
                .and_then(|h| h.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the Authorization header is not `Bearer <token>`".into(),
                    )
                })?;
            let (live, auth) = (state.live.clone(), state.auth.clone());
            let found = blocking(move || auth.principal(&live, &token))
                .await?
                .map_err(ApiError::internal)?;
            let (name, role) =
                found.ok_or_else(|| ApiError::Unauthorized("unknown token".into()))?;
            return Ok(Principal {
                name,
                role,
                departements: Vec::new(),
            });
        }
        let Some((account, csrf)) = signed_in(state, &parts.headers).await? else {
            return Err(ApiError::Unauthorized(
                "writing needs a session (POST /api/session) or `Authorization: Bearer <token>`"
                    .into(),
            ));
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            check_csrf(&parts.headers, &csrf)?;
        }
        Ok(Principal {
            name: account.email,
            role: account.role,
            departements: account.departements,
        })
    }
}

/// The cookie that carries a single sign-on under way (state, nonce, PKCE
/// verifier) to its callback: `SameSite=Lax`, as the provider sends the
/// browser back by a cross-site navigation.
const OPENID_COOKIE: &str = "ess_map_openid";
const OPENID_CALLBACK: &str = "/api/session/openid/callback";

fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .edge
        .public_url
        .configured
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || (state.edge.public_url.trust_forwarded
            && headers
                .get("x-forwarded-proto")
                .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https")))
}

fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(location).expect("an address"),
    );
    for c in cookies {
        h.append(header::SET_COOKIE, c.clone());
    }
    response
}

/// The single sign-on provider; 404 where none is configured.
fn configured_openid(state: &AppState) -> Result<std::sync::Arc<crate::openid::OpenId>, ApiError> {
    state
        .openid
        .clone()
        .ok_or_else(|| ApiError::NotFound("pas de connexion unique configurée sur ce site".into()))
}

/// `GET /api/session/openid`: off to the provider (ProConnect).
pub async fn openid_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let openid = configured_openid(&state)?;
    let (base, _) = state.edge.public_url.base(&headers)?;
    let redirect = format!("{base}{OPENID_CALLBACK}");
    let started = blocking(move || openid.start(&redirect)).await?;
    let (url, kept) = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("{e}");
            return Ok(see_other("/?connexion=fournisseur-injoignable", &[]));
        }
    };
    let secure = if is_https(&state, &headers) {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "{OPENID_COOKIE}={kept}; Path=/api/session/openid; HttpOnly; SameSite=Lax; Max-Age=600{secure}"
    ))
    .map_err(ApiError::internal)?;
    Ok(see_other(&url, &[cookie]))
}

/// `GET /api/session/openid/callback`: back from the provider; signed in
/// when the answer belongs to this browser's flow and an enabled account
/// has the address the provider vouches for. Then to the map, which says
/// how it went (`?connexion=`).
pub async fn openid_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let openid = configured_openid(&state)?;
    let kept = cookie(&headers, OPENID_COOKIE);
    let secure = if is_https(&state, &headers) {
        "; Secure"
    } else {
        ""
    };
    let forget = HeaderValue::from_str(&format!(
        "{OPENID_COOKIE}=; Path=/api/session/openid; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .expect("ASCII");
    let (Some(kept), Some(code), Some(answer_state)) =
        (kept, raw.get("code").cloned(), raw.get("state").cloned())
    else {
        return Ok(see_other("/?connexion=echec", &[forget]));
    };
    let (base, _) = state.edge.public_url.base(&headers)?;
    let redirect = format!("{base}{OPENID_CALLBACK}");
    let live = state.live.clone();
    let outcome = blocking(move || -> Result<Option<accounts::Session>, String> {
        let who = openid
            .finish(&redirect, &code, &answer_state, &kept)
            .map_err(|e| e.to_string())?;
        tracing::info!("single sign-on: {} (siret {:?})", who.email, who.siret);
        accounts::sign_in_as(&live, &who.email).map_err(|e| e.to_string())
    })
    .await?;
    match outcome {
        Ok(Some(session)) => Ok(see_other(
            "/?connexion=ok",
            &[
                forget,
                cookie_header(&state, &headers, Some(&session.cookie)),
            ],
        )),
        Ok(None) => Ok(see_other("/?connexion=sans-compte", &[forget])),
        Err(e) => {
            tracing::warn!("single sign-on refused: {e}");
            Ok(see_other("/?connexion=echec", &[forget]))
        }
    }
}

/// Counts an attempt against the sign-in limits: the client's, and the
/// address's when there is one (never a key every client shares, which
/// would let one client lock everyone out); 429 with `Retry-After` past them.
fn within_limits(
    state: &AppState,
    client: std::net::IpAddr,
    key: Option<&str>,
    what: &str,
) -> Result<(), ApiError> {
    state
        .sign_in_limits
        .attempt(client, key)
        .map_err(|retry_after_s| ApiError::TooManyRequests {
            message: format!("trop de {what} : réessayez dans {retry_after_s} s"),
            retry_after_s,
        })
}

/// A cookie-authenticated write must carry its session's CSRF token.
fn check_csrf(headers: &HeaderMap, csrf: &str) -> Result<(), ApiError> {
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accounts::same_secret(sent, csrf) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a write with a session cookie needs its CSRF token in `{CSRF_HEADER}`"
        )))
    }
}

/// `Set-Cookie` for a session (`None`: the one that ends it).
fn cookie_header(state: &AppState, headers: &HeaderMap, value: Option<&str>) -> HeaderValue {
    let https = is_https(state, headers);
    let (value, max_age) = match value {
        Some(v) => (v, SESSION_LIFETIME.as_secs()),
        None => ("", 0),
    };
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("hex and ASCII")
}

fn account_json(account: &Account) -> Value {
    json!({
        "email": account.email,
        "name": account.name,
        "role": account.role,
        "departements": account.departements,
        "disabled": account.disabled,
        "created_at": account.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: String,
}

/// `POST /api/session`: signs in; the cookie, and the account with its
/// CSRF token. The same answer for an unknown address and a wrong
/// password; 429 past the limits.
pub async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    within_limits(&state, client, Some(&body.email), "tentatives de connexion")?;
    let live = state.live.clone();
    let session = blocking(move || accounts::sign_in(&live, &body.email, &body.password)).await??;
    let Some(session) = session else {
        return Err(ApiError::Unauthorized(
            "adresse électronique ou mot de passe incorrect".into(),
        ));
    };
    let mut account = account_json(&session.account);
    account["csrf"] = json!(session.csrf);
    let mut response = axum::Json(account).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(&state, &headers, Some(&session.cookie)),
    );
    Ok(response)
}

/// `GET /api/session`: who is signed in (`signed_in`), with the CSRF
/// token. Nobody signed in is an answer, not an error: the page asks on
/// every arrival.
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let openid = state
        .openid
        .as_ref()
        .map(|o| json!({ "label": o.label(), "start": "/api/session/openid" }));
    let Some((account, csrf)) = signed_in(&state, &headers).await? else {
        return Ok(axum::Json(json!({ "signed_in": false, "openid": openid })).into_response());
    };
    let mut body = account_json(&account);
    body["signed_in"] = json!(true);
    body["openid"] = json!(openid);
    body["csrf"] = json!(csrf);
    Ok(axum::Json(body).into_response())
}

/// `DELETE /api/session`: signs out (with the CSRF token).
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A session, not a token: a script has nothing to sign out of.
    let (Some(cookie), Some((_, csrf))) =
        (session_cookie(&headers), signed_in(&state, &headers).await?)
    else {
        return Err(ApiError::Unauthorized("personne n'est connecté".into()));
    };
    check_csrf(&headers, &csrf)?;
    let live = state.live.clone();
    blocking(move || accounts::sign_out(&live, &cookie))
        .await?
        .map_err(ApiError::internal)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&state, &headers, None));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoosePassword {
    link: String,
    password: String,
}

/// `POST /api/password`: the password of an invitation or reset link
/// (used once); the person then signs in.
pub async fn choose_password(
    State(state): State<AppState>,
    Client(client): Client,
    Json(body): Json<ChoosePassword>,
) -> Result<Response, ApiError> {
    // Links are guessed no faster than passwords.
    within_limits(&state, client, None, "tentatives")?;
    let live = state.live.clone();
    let account =
        blocking(move || accounts::choose_password(&live, &body.link, &body.password)).await??;
    Ok(axum::Json(
        json!({ "email": account.email, "message": "mot de passe enregistré : connectez-vous" }),
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// `POST /api/password/reset`: a reset link by e-mail. The same answer, in
/// the same time, whether an account has this address or not (the message
/// leaves in the background); limited as sign-ins are.
pub async fn request_reset(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<ResetRequest>,
) -> Result<Response, ApiError> {
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::Conflict(
            "la réinitialisation par courriel n'est pas configurée sur ce site : demandez-la à un administrateur".into(),
        ));
    };
    within_limits(
        &state,
        client,
        Some(&format!("(reset) {}", body.email)),
        "demandes",
    )?;
    let (base, _) = state.edge.public_url.base(&headers)?;
    let live = state.live.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = live.store().lock().unwrap_or_else(|e| e.into_inner());
        let found = accounts::reset_link(&mut store, &body.email);
        drop(store);
        match found {
            Ok(Some((account, secret))) => {
                let (subject, text) =
                    crate::mail::reset(&format!("{base}/?reinitialisation={secret}"), &base);
                if let Err(e) = mailer.send(&account.email, &subject, text) {
                    tracing::warn!("{e:#}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!("{e}"),
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message": "si un compte existe pour cette adresse, un lien de réinitialisation vient d'y être envoyé (valable une heure)" })),
    )
        .into_response())
}

/// `GET /api/users` (admin): everyone, with role, départements and state.
pub async fn users(
    State(state): State<AppState>,
    who: Principal,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    who.require(Role::Admin)?;
    let live = state.live.clone();
    let all = blocking(move || live.read(|s| s.accounts()))
        .await?
        .map_err(ApiError::internal)?;
    let users: Vec<Value> = all.iter().map(account_json).collect();
    Ok(axum::Json(json!({ "users": users })).into_response())
}

/// The territory's département codes, for checking an account's.
fn known_departements(state: &AppState) -> Vec<String> {
    let data = state.data();
    data.territory()
        .departements()
        .iter()
        .map(|d| d.code.clone())
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    email: String,
    role: Role,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    departements: Vec<String>,
}

/// `POST /api/users` (admin): invites someone; the invitation link is in
/// the answer for the admin to hand over.
pub async fn invite(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Json(body): Json<Invite>,
) -> Result<Response, ApiError> {
    who.require(Role::Admin)?;
    let known = known_departements(&state);
    let new = NewAccount {
        email: accounts::normalise_email(&body.email)?,
        name: body
            .name
            .map(|n| n.trim().chars().take(100).collect())
            .filter(|n: &String| !n.is_empty()),
        role: body.role,
        departements: accounts::parse_departements(&body.departements.join(","), &known)?,
    };
    let live = state.live.clone();
    let exists = {
        let (live, email) = (live.clone(), new.email.clone());
        blocking(move || live.read(|s| s.account_by_email(&email)))
            .await?
            .map_err(ApiError::internal)?
            .is_some()
    };
    if exists {
        return Err(ApiError::Conflict(format!(
            "un compte existe déjà pour {}",
            new.email
        )));
    }
    let (account, secret) = blocking(move || {
        accounts::invite(
            &mut live.store().lock().unwrap_or_else(|e| e.into_inner()),
            new,
        )
    })
    .await??;
    let (base, _) = state.edge.public_url.base(&headers)?;
    let link = format!("{base}/?invitation={secret}");
    let mut body = account_json(&account);
    // By e-mail when a relay is configured; else, or if it fails, the
    // admin hands the link over.
    let sent = match state.mailer.clone() {
        Some(mailer) => {
            let (subject, text) = crate::mail::invitation(&link, account.role.french(), &base);
            let to = account.email.clone();
            match blocking(move || mailer.send(&to, &subject, text)).await? {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("{e:#}");
                    body["message"] =
                        json!("le courriel n'a pas pu partir : transmettez le lien vous-même");
                    false
                }
            }
        }
        None => false,
    };
    body["sent"] = json!(sent);
    if !sent {
        body["link"] = json!(link);
    }
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    departements: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `PATCH /api/users/{email}` (admin): role, départements, disabled.
pub async fn change_user(
    State(state): State<AppState>,
    who: Principal,
    Path(email): Path<String>,
    Json(body): Json<UserChange>,
) -> Result<Response, ApiError> {
    who.require(Role::Admin)?;
    let email = accounts::normalise_email(&email)?;
    if email == who.name
        && (body.disabled == Some(true) || body.role.is_some_and(|r| r < Role::Admin))
    {
        return Err(ApiError::Conflict(
            "un administrateur ne peut ni se désactiver ni se retirer ce rôle lui-même".into(),
        ));
    }
    let known = known_departements(&state);
    let departements = body
        .departements
        .map(|d| accounts::parse_departements(&d.join(","), &known))
        .transpose()?;
    let live = state.live.clone();
    let account = blocking(move || -> Result<Account, AccountError> {
        let mut account = live
            .read(|s| s.account_by_email(&email))?
            .ok_or_else(|| AccountError::NoAccount(email.clone()))?;
        let mut store = live.store().lock().unwrap_or_else(|e| e.into_inner());
        if body.role.is_some() || departements.is_some() {
            account = accounts::set_role(
                &mut store,
                &email,
                body.role.unwrap_or(account.role),
                departements.unwrap_or(account.departements),
            )?;
        }
        if let Some(disabled) = body.disabled {
            account = accounts::set_disabled(&mut store, &email, disabled)?;
        }
        Ok(account)
    })
    .await??;
    Ok(axum::Json(account_json(&account)).into_response())
}
