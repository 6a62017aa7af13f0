//! DNS-rebinding protection for every local HTTP route (the relay's and the gate's API).
//!
//! A web page the user visits can make the browser send requests to `127.0.0.1` (with its own
//! `Origin`), or point a hostname it controls at `127.0.0.1` (with its own `Host`). Both are
//! refused with 403: `Host` must name a loopback address (`localhost`, `127.0.0.1` or another
//! `127.x.y.z`, `[::1]`, any port) or a configured host, and `Origin`, when present, must be a
//! loopback origin or a configured one. Clients that are not browsers send no `Origin` and pass.
//! Both are parsed strictly (a host, then at most `:port`), so a loopback name followed by
//! anything else — `[::1]evil.example`, `localhost.evil.example`, `127.0.0.1@evil.example` — is
//! not loopback.
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

/// A `Host` value (or an origin's authority) read strictly: `host` or `host:port`, where `host` is
/// a domain name, an IPv4 address or a bracketed IPv6 address, as [`url::Host::parse`] (the WHATWG
/// URL standard, which browsers follow) reads it. Anything else is `None`: a bracketed address
/// followed by more than a port (`[::1]evil.example`), user info, a path, whitespace, an empty
/// host or port.
fn parse_authority(text: &str) -> Option<(url::Host<String>, Option<u16>)> {
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@/\\?#".contains(c))
    {
        return None;
    }
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.split_once(':') {
            None => (text, None),
            Some((host, port)) => (host, Some(port)),
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    if host.is_empty() {
        return None;
    }
    let host = url::Host::parse(host).ok()?;
    Some((host, port))
}

/// `localhost`, an IPv4 loopback address (`127.0.0.0/8`) or `::1`.
fn is_loopback(host: &url::Host<String>) -> bool {
    match host {
        url::Host::Domain(name) => name == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The authority of an `Origin` value (`scheme://host[:port]`, nothing after it) for `http` and
/// `https`; `None` for anything else, including the opaque origin `null`.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    // The whole value must also be a valid URL, read as a browser reads it.
    let parsed = url::Url::parse(origin).ok()?;
    (parsed.path() == "/" && parsed.query().is_none() && parsed.fragment().is_none())
        .then_some(rest)
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
        let Some((name, port)) = parse_authority(host) else {
            return false;
        };
        is_loopback(&name)
            || self.allowed_hosts.iter().any(|allowed| {
                parse_authority(allowed).is_some_and(|(allowed_name, allowed_port)| {
                    allowed_name == name && allowed_port.is_none_or(|p| Some(p) == port)
                })
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
        origin_authority(origin)
            .and_then(parse_authority)
            .is_some_and(|(host, _)| is_loopback(&host))
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
    fn a_loopback_literal_followed_by_anything_is_not_loopback() {
        let c = SecurityConfig::default();
        for host in [
            "[::1]evil.example",
            "[::1]:80evil",
            "[::1]]",
            "[::1",
            "127.0.0.1@evil.example",
            "evil.example@127.0.0.1",
            "localhost:80:80",
            "localhost:",
            "localhost:99999",
            "localhost/evil",
            "localhost\\evil",
            "local host",
            "localhost.",
            "[::ffff:127.0.0.1]",
            ":8080",
            "",
        ] {
            assert!(
                c.check(&headers(host, None), None).is_err(),
                "host {host:?}"
            );
        }
        for origin in [
            "http://[::1]evil.example",
            "http://[::1]:80evil.example",
            "http://localhost.evil.example",
            "http://localhost/path",
            "http://localhost?q",
            "http://user@localhost",
            "file://localhost",
            "localhost",
            "http://",
        ] {
            assert!(
                c.check(&headers("127.0.0.1", Some(origin)), None).is_err(),
                "origin {origin:?}"
            );
        }
    }

    #[test]
    fn loopback_is_read_as_a_browser_reads_it() {
        let c = SecurityConfig::default();
        for host in ["127.0.0.2:4141", "[0:0:0:0:0:0:0:1]:4141", "LocalHost:1"] {
            assert_eq!(c.check(&headers(host, None), None), Ok(()), "{host}");
        }
        assert_eq!(
            c.check(&headers("localhost", Some("HTTP://LOCALHOST:5173")), None),
            Ok(())
        );
        assert_eq!(
            c.check(&headers("localhost", Some("http://[::1]:5173")), None),
            Ok(())
        );
    }

    #[test]
    fn a_configured_host_with_a_port_allows_that_port_only() {
        let c = SecurityConfig {
            allowed_hosts: vec!["gate.internal:9000".into(), "[fd00::1]".into()],
            allowed_origins: Vec::new(),
        };
        assert_eq!(c.check(&headers("gate.internal:9000", None), None), Ok(()));
        assert!(c.check(&headers("gate.internal:9001", None), None).is_err());
        assert!(c.check(&headers("gate.internal", None), None).is_err());
        assert_eq!(c.check(&headers("[fd00::1]:1", None), None), Ok(()));
        assert!(
            c.check(&headers("[fd00::1]evil.example", None), None)
                .is_err()
        );
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
