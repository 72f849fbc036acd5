//! The public address of the service, for the absolute URLs of TileJSON,
//! the style, the OGC API and the API document: `public_url` from the
//! configuration when set (the request's `Host` then plays no part); else
//! `X-Forwarded-Proto`/`X-Forwarded-Host` when the configuration says a
//! trusted proxy sets them; else `http://` and the request's `Host`, but
//! only a name this server answers to: the address it listens on, the
//! loopback names with its port, or one of `allowed_hosts`. Any other
//! `Host` is refused (400), so that one forged request cannot put another
//! site's address in an answer a shared cache would keep for everyone
//! (answers that use `Host` also say `Vary: Host`).

use axum::http::{HeaderMap, header};

use super::ApiError;

/// Where public URLs come from (the configuration, and the address bound).
#[derive(Debug, Clone, Default)]
pub struct PublicUrl {
    /// `https://carto.example.org/ess-map`, without the trailing slash.
    pub configured: Option<String>,
    pub trust_forwarded: bool,
    /// `Host` values accepted without `public_url`, in lower case
    /// (`carte.local:8080`): the configuration's `allowed_hosts` and the
    /// names of the address listened on.
    pub allowed_hosts: Vec<String>,
}

/// A host name or address with an optional port, nothing else.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

impl PublicUrl {
    /// Accepts the names a client reaches `bound` by: the address itself and,
    /// on loopback or all interfaces, `localhost`, `127.0.0.1` and `[::1]`,
    /// each with the port.
    pub fn listening_on(&mut self, bound: std::net::SocketAddr) {
        let port = bound.port();
        let mut names = vec![bound.to_string()];
        if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            names.extend([
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
            ]);
            if port == 80 {
                names.extend(["localhost".into(), "127.0.0.1".into(), "[::1]".into()]);
            }
        }
        for name in names {
            let name = name.to_ascii_lowercase();
            if !self.allowed_hosts.contains(&name) {
                self.allowed_hosts.push(name);
            }
        }
    }

    /// The base of public URLs for a request; whether it came from the
    /// request's `Host` (then the answer must vary on it).
    pub fn base(&self, headers: &HeaderMap) -> Result<(String, bool), ApiError> {
        if let Some(url) = &self.configured {
            return Ok((url.trim_end_matches('/').to_string(), false));
        }
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if self.trust_forwarded
            && let Some(host) =
                text("x-forwarded-host").map(|h| h.split(',').next().unwrap_or("").trim())
        {
            let proto =
                match text("x-forwarded-proto").map(|p| p.split(',').next().unwrap_or("").trim()) {
                    Some("https") => "https",
                    _ => "http",
                };
            if !valid_host(host) {
                return Err(ApiError::bad(
                    "X-Forwarded-Host",
                    format!("`{host}` is not a host name"),
                ));
            }
            return Ok((format!("{proto}://{host}"), false));
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let shown: String = host.chars().take(100).collect();
        if !valid_host(host) {
            return Err(ApiError::bad(
                "Host",
                format!("`{shown}` is not a host name"),
            ));
        }
        if !self
            .allowed_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host))
        {
            return Err(ApiError::bad(
                "Host",
                format!(
                    "`{shown}` is not a name this server answers to; its administrator sets `public_url` (or `allowed_hosts`) in the configuration"
                ),
            ));
        }
        Ok((format!("http://{host}"), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_then_trusted_proxy_then_known_hosts_only() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "carto.local:8080".parse().unwrap());
        h.insert("x-forwarded-host", "carto.example.org".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let mut plain = PublicUrl {
            allowed_hosts: vec!["carto.local:8080".into()],
            ..PublicUrl::default()
        };
        plain.listening_on("127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            plain.base(&h).unwrap(),
            ("http://carto.local:8080".into(), true)
        );
        h.insert(header::HOST, "LOCALHOST:8080".parse().unwrap());
        assert!(plain.base(&h).is_ok());
        let proxied = PublicUrl {
            trust_forwarded: true,
            ..PublicUrl::default()
        };
        assert_eq!(
            proxied.base(&h).unwrap(),
            ("https://carto.example.org".into(), false)
        );
        let fixed = PublicUrl {
            configured: Some("https://ess.example/".into()),
            trust_forwarded: true,
            ..PublicUrl::default()
        };
        h.insert(header::HOST, "evil.example".parse().unwrap());
        assert_eq!(
            fixed.base(&h).unwrap(),
            ("https://ess.example".into(), false)
        );
        // A foreign name, or no name at all, is refused.
        assert!(plain.base(&h).is_err());
        h.insert(header::HOST, "evil.example/x?".parse().unwrap());
        assert!(plain.base(&h).is_err());
        h.remove(header::HOST);
        assert!(plain.base(&h).is_err());
    }
}
