//! The public address of the service, for the absolute URLs of TileJSON,
//! the style and the API document: `public_url` from the configuration when
//! set; else `X-Forwarded-Proto`/`X-Forwarded-Host` when the configuration
//! says a trusted proxy sets them; else `http://` and the `Host` header,
//! checked to be a host name (answers that use it say `Vary: Host`, so a
//! shared cache never serves one client's URLs to another).

use axum::http::{HeaderMap, header};

use super::ApiError;

/// Where public URLs come from (the configuration).
#[derive(Debug, Clone, Default)]
pub struct PublicUrl {
    /// `https://carto.example.org/ess-map`, without the trailing slash.
    pub configured: Option<String>,
    pub trust_forwarded: bool,
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
            .unwrap_or("127.0.0.1");
        if !valid_host(host) {
            return Err(ApiError::bad(
                "Host",
                format!("`{host}` is not a host name"),
            ));
        }
        Ok((format!("http://{host}"), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_then_trusted_proxy_then_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "carto.local:8080".parse().unwrap());
        h.insert("x-forwarded-host", "carto.example.org".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let plain = PublicUrl::default();
        assert_eq!(
            plain.base(&h).unwrap(),
            ("http://carto.local:8080".into(), true)
        );
        let proxied = PublicUrl {
            configured: None,
            trust_forwarded: true,
        };
        assert_eq!(
            proxied.base(&h).unwrap(),
            ("https://carto.example.org".into(), false)
        );
        let fixed = PublicUrl {
            configured: Some("https://ess.example/".into()),
            trust_forwarded: true,
        };
        assert_eq!(
            fixed.base(&h).unwrap(),
            ("https://ess.example".into(), false)
        );
        h.insert(header::HOST, "evil.example/x?".parse().unwrap());
        assert!(plain.base(&h).is_err());
    }
}
