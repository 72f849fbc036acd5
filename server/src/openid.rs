//! Single sign-on by OpenID Connect, shaped for ProConnect (the State's
//! identity federation for public agents): the authorization code flow with
//! PKCE, a state and a nonce; the ID token checked against the provider's
//! keys; the person's `email`, `given_name`, `usual_name` and `siret` read
//! from the user info (JSON, or a signed JWT as ProConnect sends it). Only an
//! existing, enabled account signs in (people are invited first); the
//! HTTP edge (`api::session`) makes the session.
//!
//! What the flow must remember between leaving for the provider and coming
//! back (state, nonce, PKCE verifier) travels in a short-lived `HttpOnly`
//! cookie, not in this process: any replica can finish it.

use std::sync::OnceLock;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use crate::config::OpenIdConfig;

/// ProConnect's claims beyond the standard ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AgentClaims {
    pub usual_name: Option<String>,
    pub siret: Option<String>,
}

impl AdditionalClaims for AgentClaims {}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub given_name: Option<String>,
    pub usual_name: Option<String>,
    pub siret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenIdError {
    /// The provider cannot be reached or answers something unusable.
    #[error("fournisseur d'identité injoignable ou réponse inutilisable : {0}")]
    Provider(String),
    /// The answer does not belong to the flow this browser started.
    #[error("connexion expirée ou venue d'ailleurs : recommencez")]
    Flow,
}

/// The configured provider; its metadata discovered at first use, kept.
pub struct OpenId {
    config: OpenIdConfig,
    metadata: OnceLock<CoreProviderMetadata>,
    agent: ureq::Agent,
}

/// Our ureq agent as the crate's HTTP client (no redirects followed: the
/// crate's advice, against SSRF).
fn http(
    agent: &ureq::Agent,
) -> impl Fn(openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, ureq::Error> + '_ {
    move |request| {
        let mut response = agent.run(request)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.body_mut().read_to_vec()?;
        let mut out = openidconnect::http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

fn provider(e: impl std::fmt::Display) -> OpenIdError {
    OpenIdError::Provider(e.to_string())
}

impl OpenId {
    pub fn new(config: OpenIdConfig) -> anyhow::Result<OpenId> {
        IssuerUrl::new(config.issuer.clone())
            .map_err(|e| anyhow::anyhow!("openid.issuer {:?}: {e}", config.issuer))?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(OpenId {
            config,
            metadata: OnceLock::new(),
            agent,
        })
    }

    /// The button's label (« ProConnect »).
    pub fn label(&self) -> &str {
        self.config.label.as_deref().unwrap_or("ProConnect")
    }

    fn metadata(&self) -> Result<&CoreProviderMetadata, OpenIdError> {
        if let Some(m) = self.metadata.get() {
            return Ok(m);
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(provider)?;
        let found =
            CoreProviderMetadata::discover(&issuer, &http(&self.agent)).map_err(provider)?;
        Ok(self.metadata.get_or_init(|| found))
    }

    fn client(
        &self,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OpenIdError,
    > {
        Ok(CoreClient::from_provider_metadata(
            self.metadata()?.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.to_string()).map_err(provider)?))
    }

    /// Where to send the browser, and what to keep in its cookie.
    pub fn start(&self, redirect: &str) -> Result<(String, String), OpenIdError> {
        let client = self.client(redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes() {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.url();
        // Each part is base64url: no `.` in them.
        let kept = format!(
            "{}.{}.{}",
            state.secret(),
            nonce.secret(),
            verifier.secret()
        );
        Ok((url.to_string(), kept))
    }

    fn scopes(&self) -> Vec<String> {
        match &self.config.scopes {
            Some(s) => s.clone(),
            None => ["email", "given_name", "usual_name", "siret"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// The provider's answer (`code`, `state`) with the cookie kept at
    /// start: who signed in.
    pub fn finish(
        &self,
        redirect: &str,
        code: &str,
        state: &str,
        kept: &str,
    ) -> Result<Identity, OpenIdError> {
        let mut parts = kept.split('.');
        let (Some(expected), Some(nonce), Some(verifier), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenIdError::Flow);
        };
        if expected.is_empty() || !crate::accounts::same_secret(expected, state) {
            return Err(OpenIdError::Flow);
        }
        let client = self.client(redirect)?;
        let http = http(&self.agent);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(provider)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request(&http)
            .map_err(provider)?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| provider("no ID token in the answer"))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
            .map_err(provider)?;
        let subject = claims.subject().clone();
        let info: UserInfoClaims<AgentClaims, CoreGenderClaim> = client
            .user_info(tokens.access_token().clone(), Some(subject.clone()))
            .map_err(provider)?
            .request(&http)
            .map_err(provider)?;
        let email = info
            .email()
            .or(claims.email())
            .map(|e| e.as_str().to_string())
            .ok_or_else(|| provider("no e-mail address among the claims"))?;
        let given_name = info
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string());
        Ok(Identity {
            subject: subject.as_str().to_string(),
            email,
            given_name,
            usual_name: info.additional_claims().usual_name.clone(),
            siret: info.additional_claims().siret.clone(),
        })
    }
}
