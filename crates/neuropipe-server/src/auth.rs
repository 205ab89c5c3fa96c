//! Token check, cross-origin refusal and the loopback `Host` check, on every request.
//!
//! A token is accepted from `Authorization: Bearer T`, from the `neuropipe_token` cookie, or
//! from `?token=T`. Opening a page with `?token=T` (the URL `neuropipe run` prints) answers
//! with a redirect to the same page without the token and sets the cookie (`HttpOnly`,
//! `SameSite=Strict`), as Jupyter does: the token leaves the address bar and the history, and
//! the dashboard's requests and WebSockets carry the cookie.
//!
//! An optional second token is read-only: it is accepted for `GET` (the API's descriptions and
//! metrics, the WebSockets, the dashboard page) and refused (403) for every control request.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The cookie holding the token in a browser.
pub(crate) const COOKIE: &str = "neuropipe_token";

/// 24 random bytes from the OS, hex-encoded.
pub(crate) fn generate_token() -> std::io::Result<String> {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(std::io::Error::other)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// A page (not the API) opened with `?token=`: answered by the cookie and a redirect.
fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET && !path.starts_with("/api/") && path != "/metrics"
}

/// `303 See Other` to `path` (the token taken out of the URL), setting the token cookie.
fn login_redirect(path: &str, token: &str) -> Response {
    let cookie = cookie::Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .build();
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cookie.encoded().to_string()) {
        h.insert(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(path) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: 401 without the right token, 403 for cross-origin requests or (without a
/// token) a non-loopback `Host` name.
pub(crate) async fn check(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        if !authority.eq_ignore_ascii_case(host) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!("cross-origin request from {origin} refused"),
            )
            .into_response();
        }
    }
    match &s.0.token {
        None => {
            if !host.is_empty() && !host_is_loopback(host) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("Host `{host}` refused: this server only answers loopback names"),
                )
                .into_response();
            }
        }
        Some(token) => {
            let read = s.0.opts.read_token.as_deref();
            let valid = |t: &str| same(t, token) || read.is_some_and(|r| same(t, r));
            let from_query = query_token(req.uri().query());
            if let Some(q) = &from_query {
                if valid(q) && is_page(&req) {
                    return login_redirect(req.uri().path(), q);
                }
            }
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim().to_string())
                .or_else(|| cookie_token(headers))
                .or(from_query);
            match given {
                None => {
                    return ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "this server requires a token: send `Authorization: Bearer <token>`, \
                         or open the URL with `?token=<token>` once (it sets a cookie)",
                    )
                    .into_response()
                }
                Some(g) if same(&g, token) => {}
                // The read-only token watches (GET, WebSockets) but never controls.
                Some(g) if read.is_some_and(|r| same(&g, r)) => {
                    if !matches!(*req.method(), Method::GET | Method::HEAD) {
                        return ApiError::new(
                            StatusCode::FORBIDDEN,
                            "this token is read-only: controlling the pipeline needs the control token",
                        )
                        .into_response();
                    }
                }
                Some(_) => {
                    return ApiError::new(StatusCode::UNAUTHORIZED, "invalid token").into_response()
                }
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_checks() {
        assert_eq!(
            query_token(Some("x=1&token=ab%2Bc")).as_deref(),
            Some("ab+c")
        );
        assert!(host_is_loopback("127.0.0.1:7878"));
        assert!(host_is_loopback("localhost"));
        assert!(host_is_loopback("[::1]:80"));
        assert!(!host_is_loopback("evil.example:7878"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
    }
}
