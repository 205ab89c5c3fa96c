//! Who may control a session: the token's sources (file with owner-only permissions,
//! environment, command line), `--require-token` on loopback, and the cookie login, against
//! `neuropipe run --serve` as a process. (The browser side of the cookie flow is checked in
//! headless Chromium by `scripts/browser_test.sh`.)

mod common;
use common::{bin, free_port, serve};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropipe-auth-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A raw HTTP/1.1 GET on loopback; returns the status line and headers, lower-cased names.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>) {
    send(addr, "GET", path, headers)
}

/// A raw HTTP/1.1 request without a body.
fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let hs = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, hs)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn stop(addr: &str, token: &str, mut child: Child) {
    let o = bin()
        .args(["ctl", "--addr", addr, "stop"])
        .env("NEUROPIPE_TOKEN", token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(child.wait().unwrap().success());
}

#[test]
fn loopback_is_open_unless_a_token_is_required() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (child, lines) = serve(&["--serve", &addr], &[]);
    assert_eq!(
        lines.last().map(String::as_str),
        Some(&*format!("serving http://{addr}"))
    );
    assert_eq!(get(&addr, "/api/pipeline", &[]).0, 200);
    stop(&addr, "", child);

    // --require-token with no token given: one is generated and printed once, with the
    // one-time dashboard URL.
    let addr = format!("127.0.0.1:{}", free_port());
    let (child, lines) = serve(&["--serve", &addr, "--require-token"], &[]);
    let all = lines.join("\n");
    let token = lines
        .iter()
        .find_map(|l| l.strip_prefix("token (generated): "))
        .unwrap_or_else(|| panic!("no generated token in {all}"))
        .to_string();
    assert!(token.len() >= 32, "{token}");
    assert!(all.contains(&format!("/?token={token}")), "{all}");
    assert_eq!(get(&addr, "/api/pipeline", &[]).0, 401);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get(&addr, "/api/pipeline", &[("Authorization", &bearer)]).0,
        200
    );
    stop(&addr, &token, child);
}

#[test]
fn the_token_comes_from_the_environment_or_an_owner_only_file() {
    // Environment.
    let addr = format!("127.0.0.1:{}", free_port());
    let (child, lines) = serve(
        &["--serve", &addr, "--require-token"],
        &[("NEUROPIPE_TOKEN", "env-token-1")],
    );
    assert!(
        !lines.iter().any(|l| l.contains("env-token-1")),
        "a given token is never printed: {lines:?}"
    );
    assert_eq!(get(&addr, "/api/pipeline", &[]).0, 401);
    assert_eq!(
        get(
            &addr,
            "/api/pipeline",
            &[("Authorization", "Bearer env-token-1")]
        )
        .0,
        200
    );
    stop(&addr, "env-token-1", child);

    // A file other users can read is refused, naming the fix.
    let file = temp("token-open");
    std::fs::write(&file, "file-token-2\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let o = bin()
            .args(["run", "--serve", &addr, "--token-file"])
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("readable by other users (mode 644)"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // An owner-only file works for the server and for ctl.
    let addr = format!("127.0.0.1:{}", free_port());
    let f = file.to_str().unwrap();
    let (child, lines) = serve(&["--serve", &addr, "--token-file", f], &[]);
    assert!(
        lines.iter().all(|l| !l.contains("file-token-2")),
        "{lines:?}"
    );
    assert_eq!(get(&addr, "/api/pipeline", &[]).0, 401);
    let o = bin()
        .args(["ctl", "--addr", &addr, "--token-file", f, "get"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stop(&addr, "file-token-2", child);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_one_time_url_sets_a_cookie_and_drops_the_token_from_the_address() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (child, _) = serve(
        &["--serve", &addr, "--require-token"],
        &[("NEUROPIPE_TOKEN", "cookie-token-3")],
    );
    let (status, hs) = get(&addr, "/?token=cookie-token-3", &[]);
    assert_eq!(status, 303);
    assert_eq!(header(&hs, "location"), Some("/"));
    let cookie = header(&hs, "set-cookie").unwrap_or_default().to_string();
    assert!(
        cookie.starts_with("neuropipe_token=cookie-token-3"),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // The cookie alone authorises the page and the API; a wrong one does not.
    let c = "neuropipe_token=cookie-token-3";
    assert_eq!(get(&addr, "/", &[("Cookie", c)]).0, 200);
    assert_eq!(get(&addr, "/api/pipeline", &[("Cookie", c)]).0, 200);
    assert_eq!(
        get(
            &addr,
            "/api/pipeline",
            &[("Cookie", "neuropipe_token=nope")]
        )
        .0,
        401
    );
    // A wrong token in the URL sets nothing.
    let (status, hs) = get(&addr, "/?token=nope", &[]);
    assert_eq!(status, 401);
    assert!(header(&hs, "set-cookie").is_none());
    // Cross-origin requests are refused even with the cookie.
    assert_eq!(
        get(
            &addr,
            "/api/pipeline",
            &[("Cookie", c), ("Origin", "http://evil.example")]
        )
        .0,
        403
    );
    stop(&addr, "cookie-token-3", child);
}

#[test]
fn a_read_only_token_watches_but_never_controls() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (child, _) = serve(
        &["--serve", &addr, "--require-token"],
        &[
            ("NEUROPIPE_TOKEN", "control-token-4"),
            ("NEUROPIPE_READ_TOKEN", "watch-token-4"),
        ],
    );
    let watch = [("Authorization", "Bearer watch-token-4")];
    assert_eq!(get(&addr, "/api/pipeline", &watch).0, 200);
    assert_eq!(get(&addr, "/api/metrics", &watch).0, 200);
    assert_eq!(get(&addr, "/metrics", &watch).0, 200);
    // The one-time URL works with it too (a watching dashboard).
    let (status, hs) = get(&addr, "/?token=watch-token-4", &[]);
    assert_eq!(status, 303);
    assert!(
        header(&hs, "set-cookie").is_some_and(|c| c.starts_with("neuropipe_token=watch-token-4"))
    );
    // Control is refused, and said why.
    assert_eq!(send(&addr, "POST", "/api/stop", &watch).0, 403);
    assert_eq!(send(&addr, "POST", "/api/stages/eeg/pause", &watch).0, 403);
    let o = bin()
        .args(["ctl", "--addr", &addr, "pause", "eeg"])
        .env("NEUROPIPE_TOKEN", "watch-token-4")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error (403): this token is read-only"),
        "{err}"
    );
    // The pipeline still runs; the control token stops it.
    stop(&addr, "control-token-4", child);
}
