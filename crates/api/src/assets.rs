//! The web UI (ui/dist) served at `/`.
//!
//! Release builds embed ui/dist in the binary, so `airlock serve` is one file. Debug builds read the
//! files from disk at each request (rust-embed's debug behaviour), so `npm run build` is picked up
//! without recompiling. When ui/dist is missing (no `npm run build` yet) `/` answers a short page
//! that says so, instead of failing the build or the request.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Dist;

/// What the page may load: only itself, plus inline styles (CodeMirror and uPlot set them).
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const MISSING: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Airlock</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5\">\
<h1>Airlock is running, but its web UI is not built</h1>\
<p>The API works (<code>/api/status</code>). To get the window, build the UI once and reload:</p>\
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</pre>\
<p>Release builds of Airlock embed the UI; debug builds read <code>ui/dist</code> from disk.</p>\
</body></html>";

/// True when the built UI is available (embedded, or on disk in debug builds).
pub fn ui_available() -> bool {
    Dist::get("index.html").is_some()
}

/// Serves a file of ui/dist; `/` and unknown extension-less paths get index.html.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let (file, name) = match Dist::get(path) {
        Some(file) => (file, path),
        None if !path.contains('.') => match Dist::get("index.html") {
            Some(file) => (file, "index.html"),
            None => return missing(),
        },
        None if path == "index.html" => return missing(),
        None => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let mime = file.metadata.mimetype().to_owned();
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn missing() -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Html(MISSING)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
