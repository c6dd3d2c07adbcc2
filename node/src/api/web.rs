//! The web page: ES modules and CSS embedded in the binary (no build step),
//! served at `/` and `/web/<name>`, and the login that turns the node's
//! token into a cookie (`GET /login?token=…`, what `outpost open` prints).
//!
//! The cookie is `HttpOnly` and `SameSite=Strict`, named after the port
//! (two nodes on one machine share cookies by host); a request it
//! authenticates that changes something, or opens a WebSocket, must come
//! from the page's own origin.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The page's files: name, media type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/api.js"),
    ),
    (
        "chat.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/chat.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/docs.js"),
    ),
    (
        "files.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/files.js"),
    ),
    (
        "projects.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/projects.js"),
    ),
    (
        "approvals.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/approvals.js"),
    ),
    (
        "announcements.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/announcements.js"),
    ),
    (
        "meetings.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/meetings.js"),
    ),
    (
        "markdown.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/markdown.js"),
    ),
    (
        "toast.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/toast.js"),
    ),
    (
        "directory.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/directory.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/admin.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/i18n.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
];

/// The cookie carrying the token, for the node whose API is at `host`
/// (`127.0.0.1:7447`): `outpost_7447`.
pub fn cookie_name(host: &str) -> String {
    let port = host.rsplit_once(':').map_or("", |(_, p)| p);
    format!(
        "outpost_{}",
        port.chars().filter(char::is_ascii_digit).collect::<String>()
    )
}

/// The token in the request's cookie for this node, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(headers.get(header::HOST)?.to_str().ok()?);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Did a browser request come from the page's own origin? A request with
/// no `Origin` header comes from no other page (browsers send it on every
/// cross-origin request and every WebSocket).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin.to_str().is_ok_and(|o| o == format!("http://{host}"))
}

/// The page's content security policy: its own files only, the API and its
/// WebSockets on the same host, previews in sandboxed frames.
fn csp(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1");
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self' ws://{host}; frame-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

fn asset(name: &str, headers: &HeaderMap) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, (*media).to_owned()),
                (header::CACHE_CONTROL, "no-cache".to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                (header::CONTENT_SECURITY_POLICY, csp(headers)),
                (header::REFERRER_POLICY, "no-referrer".to_owned()),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    asset("index.html", &headers)
}

/// `GET /web/{name}`: one of the page's files.
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    asset(&name, &headers)
}

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// The node's API token.
    #[serde(default)]
    token: String,
}

/// The page shown instead of the web page when the browser is not logged
/// in (401).
pub fn login_required() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        "<!doctype html><meta charset=utf-8><title>Outpost</title>\
         <h1>Log in with your node's link</h1>\
         <p>Run <code>outpost open</code> on this machine: it prints (and opens) a link that logs this \
         browser in to your node.</p>\
         <p>在本机运行 <code>outpost open</code>，它会打开一个登录链接。</p>",
    )
        .into_response()
}

/// `GET /login?token=…`: a right token becomes the cookie, and the browser
/// goes to the page (the token leaves the address bar); a wrong one is 401.
pub fn login(expected: &str, headers: &HeaderMap, Query(q): Query<Login>) -> Response {
    if !super::same(q.token.as_bytes(), expected.as_bytes()) {
        return login_required();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let cookie = format!("{}={expected}; HttpOnly; SameSite=Strict; Path=/", cookie_name(host));
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), v.parse().expect("a header value"));
        }
        h
    }

    #[test]
    fn the_cookie_is_the_one_of_this_port_only() {
        let h = headers(&[
            (header::HOST, "127.0.0.1:7447"),
            (header::COOKIE, "outpost_7448=other; outpost_7447=mine"),
        ]);
        assert_eq!(cookie_token(&h).as_deref(), Some("mine"));
        let h = headers(&[(header::HOST, "127.0.0.1:9000"), (header::COOKIE, "outpost_7447=mine")]);
        assert_eq!(cookie_token(&h), None);
    }

    #[test]
    fn only_the_pages_own_origin_is_the_same() {
        let host = (header::HOST, "127.0.0.1:7447");
        assert!(same_origin(&headers(std::slice::from_ref(&host))));
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:7447")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            (header::ORIGIN, "http://127.0.0.1:7448")
        ])));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "http://127.0.0.1:7447")])));
    }
}
