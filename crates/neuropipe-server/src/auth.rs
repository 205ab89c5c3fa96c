//! Token check, cross-origin refusal and the loopback `Host` check, on every request.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Read;

/// 24 random bytes from the OS, hex-encoded.
pub(crate) fn generate_token() -> std::io::Result<String> {
    let mut b = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
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
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim().to_string())
                .or_else(|| query_token(req.uri().query()));
            match given {
                None => {
                    return ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "this server requires a token: send `Authorization: Bearer <token>` \
                         or add `?token=<token>` to the URL",
                    )
                    .into_response()
                }
                Some(g) if !same(&g, token) => {
                    return ApiError::new(StatusCode::UNAUTHORIZED, "invalid token").into_response()
                }
                Some(_) => {}
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
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
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
