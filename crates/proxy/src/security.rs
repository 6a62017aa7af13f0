//! DNS-rebinding protection for every local HTTP route (the relay's and the gate's API).
//!
//! A web page the user visits can make the browser send requests to `127.0.0.1` (with its own
//! `Origin`), or point a hostname it controls at `127.0.0.1` (with its own `Host`). Both are
//! refused with 403: `Host` must name a loopback address (`localhost`, `127.0.0.1`, `[::1]`, any
//! port) or a configured host, and `Origin`, when present, must be a loopback origin or a
//! configured one. Clients that are not browsers send no `Origin` and pass.
//!
//! Use it as axum middleware:
//! `router.layer(axum::middleware::from_fn_with_state(Arc::new(config), security::guard))`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Which non-loopback hosts and origins are trusted. Empty (the default) trusts loopback only.
#[derive(Clone, Debug, Default)]
pub struct SecurityConfig {
    /// Extra `Host` values allowed, as `name` (any port) or `name:port`.
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values allowed, exactly as browsers send them (`https://app.example`).
    pub allowed_origins: Vec<String>,
}

/// Why a request was refused (answered 403).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forbidden(pub String);

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        let body = crate::jsonrpc::error(
            serde_json::Value::Null,
            crate::jsonrpc::INVALID_REQUEST,
            self.0,
        );
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Splits `host[:port]` (IPv6 in brackets) into the lowercase host name.
fn host_name(authority: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    if a.starts_with('[') {
        return match a.find(']') {
            Some(i) => a[..=i].to_owned(),
            None => a,
        };
    }
    match a.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_owned(),
        _ => a,
    }
}

impl SecurityConfig {
    /// Checks `Host` (or the URI authority, for HTTP/2) and `Origin`.
    pub fn check(&self, headers: &HeaderMap, uri_authority: Option<&str>) -> Result<(), Forbidden> {
        let host = match headers.get(header::HOST) {
            Some(v) => v
                .to_str()
                .map_err(|_| Forbidden("the `Host` header is not text".into()))?,
            None => uri_authority.ok_or_else(|| Forbidden("missing `Host` header".into()))?,
        };
        if !self.host_allowed(host) {
            return Err(Forbidden(format!("host `{host}` is not allowed")));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| Forbidden("the `Origin` header is not text".into()))?;
            if !self.origin_allowed(origin) {
                return Err(Forbidden(format!("origin `{origin}` is not allowed")));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        LOOPBACK.contains(&name.as_str())
            || self.allowed_hosts.iter().any(|h| {
                let h = h.to_ascii_lowercase();
                h == name || h == host.to_ascii_lowercase()
            })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        !rest.contains('/') && LOOPBACK.contains(&host_name(rest).as_str())
    }
}

/// axum middleware: refuses requests whose `Host` or `Origin` fails [`SecurityConfig::check`].
pub async fn guard(
    State(config): State<Arc<SecurityConfig>>,
    req: Request,
    next: Next,
) -> Response {
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    match config.check(req.headers(), authority.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(f) => {
            tracing::warn!(reason = %f, "refused a request (DNS-rebinding protection)");
            f.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("x")),
        );
        if let Some(o) = origin {
            h.insert(
                header::ORIGIN,
                HeaderValue::from_str(o).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        h
    }

    #[test]
    fn loopback_hosts_and_origins_pass() {
        let c = SecurityConfig::default();
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:3000",
            "LOCALHOST",
        ] {
            assert_eq!(c.check(&headers(host, None), None), Ok(()), "{host}");
        }
        assert_eq!(
            c.check(&headers("127.0.0.1", Some("http://localhost:5173")), None),
            Ok(())
        );
        assert_eq!(
            c.check(&headers("127.0.0.1", Some("https://[::1]")), None),
            Ok(())
        );
    }

    #[test]
    fn foreign_hosts_and_origins_are_forbidden() {
        let c = SecurityConfig::default();
        assert!(c.check(&headers("evil.example", None), None).is_err());
        assert!(
            c.check(&headers("localhost.evil.example:80", None), None)
                .is_err()
        );
        assert!(
            c.check(&headers("127.0.0.1", Some("http://evil.example")), None)
                .is_err()
        );
        assert!(c.check(&headers("127.0.0.1", Some("null")), None).is_err());
        assert!(
            c.check(
                &headers("127.0.0.1", Some("http://localhost.evil.example")),
                None
            )
            .is_err()
        );
        assert!(c.check(&HeaderMap::new(), None).is_err());
    }

    #[test]
    fn configured_hosts_and_origins_pass() {
        let c = SecurityConfig {
            allowed_hosts: vec!["airlock.internal".into()],
            allowed_origins: vec!["https://app.example".into()],
        };
        assert_eq!(
            c.check(
                &headers("airlock.internal:9000", Some("https://app.example")),
                None
            ),
            Ok(())
        );
    }
}
