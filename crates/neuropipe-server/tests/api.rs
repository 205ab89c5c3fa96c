//! The control server over real HTTP and WebSocket on 127.0.0.1 (port 0): every endpoint, each
//! class of bad input with its exact status and message, tokens, and a stuck WebSocket client
//! that must not slow the pipeline or cost it a sample.

use futures::StreamExt;
use neuropipe_core::{Outcome, Pipeline, PipelineConfig, PipelineHandle, RunReport};
use neuropipe_server::client::{request, request_raw, Response};
use neuropipe_server::{serve, ServerHandle, ServerOptions};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const PIPELINE: &str = r#"{
  "name": "api-test",
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 4, "sample_rate": 100, "frames": 5, "line_hz": 20 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "gain", "type": "Gain", "params": { "gain": 1.0 } },
    { "id": "check", "type": "ContinuityCheck" }
  ],
  "links": [ "eeg.out -> volts.in", "volts.out -> gain.in", "gain.out -> check.in" ]
}"#;

struct Running {
    handle: PipelineHandle,
    run: JoinHandle<RunReport>,
    server: ServerHandle,
    addr: String,
}

async fn start(pipeline: &str, opts: ServerOptions) -> Running {
    let cfg = PipelineConfig::parse(pipeline).expect("test pipeline parses");
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).expect("test pipeline builds");
    let handle = p.handle();
    let server = serve(handle.clone(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .expect("server starts");
    let addr = server.addr().to_string();
    let run = tokio::spawn(p.run());
    Running {
        handle,
        run,
        server,
        addr,
    }
}

async fn get(addr: &str, path: &str) -> Response {
    request(addr, "GET", path, None, None).await.unwrap()
}

async fn post(addr: &str, path: &str, body: &str) -> Response {
    request(addr, "POST", path, None, Some(body)).await.unwrap()
}

/// Asserts status and the exact `error` message.
fn assert_error(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({ "error": message }), "body: {}", r.body);
}

async fn stage_state(addr: &str, id: &str) -> String {
    let p = get(addr, "/api/pipeline").await.json();
    p["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .map(|s| s["state"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

async fn wait_state(addr: &str, id: &str, want: &str) {
    let t0 = Instant::now();
    while stage_state(addr, id).await != want {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "stage {id} never became {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop(r: Running) -> RunReport {
    let resp = post(&r.addr, "/api/stop", "").await;
    assert_eq!(resp.status, 202, "{}", resp.body);
    assert_eq!(resp.json()["stopping"], true);
    let report = tokio::time::timeout(Duration::from_secs(5), r.run)
        .await
        .expect("pipeline stops")
        .unwrap();
    r.server.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pause_resume_set_and_stop() {
    let r = start(PIPELINE, ServerOptions::default()).await;
    let a = r.addr.as_str();

    let p = get(a, "/api/pipeline").await;
    assert_eq!(p.status, 200);
    let p = p.json();
    assert_eq!(p["name"], "api-test");
    let ids: Vec<&str> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["eeg", "volts", "gain", "check"]);
    assert_eq!(p["outputs"], json!(["eeg.out", "volts.out", "gain.out"]));
    assert_eq!(p["stages"][2]["param_specs"][0]["name"], "gain");
    assert_eq!(p["stages"][2]["param_specs"][0]["live"], true);

    let r1 = post(a, "/api/stages/eeg/pause", "").await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    assert_eq!(r1.json(), json!({"stage": "eeg", "applied": "paused"}));
    wait_state(a, "eeg", "paused").await;
    let frames = |m: &Value| m["stages"][0]["frames_out"].as_u64().unwrap();
    let f0 = frames(&get(a, "/api/metrics").await.json());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        frames(&get(a, "/api/metrics").await.json()),
        f0,
        "paused source sends nothing"
    );
    let r2 = post(a, "/api/stages/eeg/resume", "").await;
    assert_eq!(r2.json(), json!({"stage": "eeg", "applied": "running"}));
    wait_state(a, "eeg", "running").await;

    let r3 = post(
        a,
        "/api/stages/gain/params",
        r#"{"key": "gain", "value": 2.5}"#,
    )
    .await;
    assert_eq!(r3.status, 200, "{}", r3.body);
    assert_eq!(
        r3.json(),
        json!({"stage": "gain", "key": "gain", "applied": 2.5})
    );
    assert_eq!(
        get(a, "/api/pipeline").await.json()["stages"][2]["params"]["gain"],
        2.5
    );

    let r4 = post(
        a,
        "/api/stages/eeg/params",
        r#"{"key": "alpha_hz", "value": 12}"#,
    )
    .await;
    assert_eq!(
        r4.json(),
        json!({"stage": "eeg", "key": "alpha_hz", "applied": 12.0})
    );

    let report = stop(r).await;
    assert_eq!(report.outcome, Outcome::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_exact_errors() {
    let r = start(PIPELINE, ServerOptions::default()).await;
    let a = r.addr.as_str();

    // Unknown stage.
    assert_error(
        &post(a, "/api/stages/gian/pause", "").await,
        404,
        "unknown stage `gian` (did you mean \"gain\"?) (stages: eeg, volts, gain, check)",
    );
    assert_error(
        &post(a, "/api/stages/nope/params", r#"{"key":"gain","value":1}"#).await,
        404,
        "unknown stage `nope` (stages: eeg, volts, gain, check)",
    );
    // Unknown key.
    assert_error(
        &post(a, "/api/stages/gain/params", r#"{"key":"gian","value":1}"#).await,
        422,
        "stage `gain` (Gain) has no parameter `gian` (did you mean \"gain\"?) (live parameters: gain)",
    );
    // Ill-typed value.
    assert_error(
        &post(
            a,
            "/api/stages/gain/params",
            r#"{"key":"gain","value":"loud"}"#,
        )
        .await,
        422,
        "`gain` must be a number in -1000000..=1000000, got string \"loud\"",
    );
    // Out-of-range value (the spec's range).
    assert_error(
        &post(
            a,
            "/api/stages/gain/params",
            r#"{"key":"gain","value":1e7}"#,
        )
        .await,
        422,
        "`gain` = 10000000 is out of range -1000000..=1000000",
    );
    // Rejected by the stage itself (BadParam): within the spec's range, above Nyquist.
    assert_error(
        &post(
            a,
            "/api/stages/eeg/params",
            r#"{"key":"alpha_hz","value":60}"#,
        )
        .await,
        422,
        "`alpha_hz` = 60 is at or above Nyquist (50 Hz)",
    );
    // Not a live parameter.
    assert_error(
        &post(
            a,
            "/api/stages/eeg/params",
            r#"{"key":"channels","value":2}"#,
        )
        .await,
        422,
        "parameter `channels` of stage `eeg` cannot be changed while running \
         (live parameters: alpha_uv, alpha_hz, line_uv, noise_uv, drift_uv, blink_uv, faults, p300_uv, erd, ssvep_uv)",
    );
    // Malformed JSON, missing key, unknown field, wrong shape, empty body.
    assert_error(
        &post(a, "/api/stages/gain/params", r#"{"key": "gain", "value": }"#).await,
        400,
        "malformed JSON: expected value at line 1 column 26 (expected {\"key\": \"...\", \"value\": ...})",
    );
    assert_error(
        &post(a, "/api/stages/gain/params", r#"{"value": 2}"#).await,
        400,
        "invalid request: missing field `key` at line 1 column 12 (expected {\"key\": \"...\", \"value\": ...})",
    );
    assert_error(
        &post(a, "/api/stages/gain/params", r#"{"key": "gain", "value": 2, "x": 1}"#).await,
        400,
        "invalid request: unknown field `x`, expected `key` or `value` at line 1 column 31 (expected {\"key\": \"...\", \"value\": ...})",
    );
    assert_error(
        &post(a, "/api/stages/gain/params", "").await,
        400,
        "the request body is empty: expected JSON {\"key\": \"...\", \"value\": ...}",
    );
    assert_error(
        &post(a, "/api/stages/gain/coefficients", r#"{"coefficients": [1, "a"]}"#).await,
        400,
        "invalid request: invalid type: string \"a\", expected f64 at line 1 column 24 (expected {\"coefficients\": [numbers]})",
    );
    // Empty coefficients are refused up front (they would stop a FIR stage).
    assert_error(
        &post(
            a,
            "/api/stages/gain/coefficients",
            r#"{"coefficients": []}"#,
        )
        .await,
        422,
        "coefficients: at least one coefficient is required (an empty update would stop the stage)",
    );
    // Coefficients to a stage that takes none.
    assert_error(
        &post(
            a,
            "/api/stages/gain/coefficients",
            r#"{"coefficients": [0.5, 0.5]}"#,
        )
        .await,
        422,
        "this stage does not take coefficients",
    );
    // Oversized body.
    let big = format!(
        r#"{{"key": "gain", "value": "{}"}}"#,
        "x".repeat(100 * 1024)
    );
    assert_error(
        &post(a, "/api/stages/gain/params", &big).await,
        413,
        "request body too large: the limit is 65536 bytes",
    );
    // Unknown route, wrong method, not a WebSocket request, unknown output, bad rate.
    assert_error(
        &get(a, "/api/nothing").await,
        404,
        "no route GET /api/nothing (see GET /api/openapi.json)",
    );
    assert_error(
        &get(a, "/api/stages/gain/pause").await,
        405,
        "method GET not allowed on /api/stages/gain/pause (allowed: POST)",
    );
    assert_error(
        &get(a, "/api/ws/events").await,
        400,
        "this is a WebSocket endpoint: Connection header did not include 'upgrade'",
    );
    assert_error(
        &get(a, "/api/ws/signal?output=nope").await,
        404,
        "no output `nope` (outputs: eeg.out, volts.out, gain.out)",
    );
    assert_error(
        &get(a, "/api/ws/signal?output=gain.out&rate=0").await,
        400,
        "`rate` must be a number of frames per second in (0, 100000], got 0",
    );
    assert_error(
        &get(a, "/api/ws/signal?rate=fast").await,
        400,
        "bad query string: Failed to deserialize query string: rate: invalid float literal",
    );
    // Cross-origin and DNS-rebinding attempts.
    let xo = format!(
        "POST /api/stop HTTP/1.1\r\nHost: {a}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_error(
        &request_raw(a, xo.as_bytes()).await.unwrap(),
        403,
        "cross-origin request from http://evil.example refused",
    );
    let rebind =
        "GET /api/pipeline HTTP/1.1\r\nHost: evil.example:7878\r\nConnection: close\r\n\r\n";
    assert_error(
        &request_raw(a, rebind.as_bytes()).await.unwrap(),
        403,
        "Host `evil.example:7878` refused: this server only answers loopback names",
    );
    // None of that reached or hurt the pipeline.
    assert_eq!(get(a, "/api/pipeline").await.json()["state"], "running");
    let report = stop(r).await;
    assert_eq!(report.outcome, Outcome::Finished);
    // Only the coefficients reached the stage; the runtime's spec check answered the rest.
    assert_eq!(report.snapshot.stages[2].bad_params, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_openapi_dashboard_and_stopped_pipeline() {
    let r = start(PIPELINE, ServerOptions::default()).await;
    let a = r.addr.clone();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let m = get(&a, "/api/metrics").await;
    assert_eq!(m.status, 200);
    let m = m.json();
    assert_eq!(m["state"], "running");
    assert!(m["stages"][0]["frames_out"].as_u64().unwrap() > 0);
    assert_eq!(m["links"].as_array().unwrap().len(), 3);

    let prom = get(&a, "/metrics").await;
    assert_eq!(prom.status, 200);
    assert!(prom
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for needle in [
        "# TYPE neuropipe_stage_frames_out_total counter",
        "neuropipe_stage_frames_out_total{stage=\"eeg\",type=\"SimulatedEeg\"} ",
        "neuropipe_link_depth{from=\"eeg.out\",to=\"volts.in\",policy=\"block\"} ",
        "neuropipe_stage_latency_seconds{stage=\"check\",quantile=\"0.99\"} ",
        "neuropipe_pipeline_up{state=\"running\"} 1",
        "# TYPE neuropipe_pool_in_use gauge",
    ] {
        assert!(
            prom.body.contains(needle),
            "missing {needle} in\n{}",
            prom.body
        );
    }
    // Every sample line is `name{labels} number`.
    for line in prom.body.lines().filter(|l| !l.starts_with('#')) {
        let v = line.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "bad sample line {line}");
    }

    let doc = get(&a, "/api/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.0.3");

    let page = get(&a, "/").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.body.contains("<canvas"), "dashboard has a canvas");
    assert!(
        page.header("access-control-allow-origin").is_none(),
        "no CORS"
    );

    let handle = r.handle.clone();
    let report = stop(r).await;
    assert_eq!(report.outcome, Outcome::Finished);
    // After the pipeline ended, control replies 409 (through the handle: the server is down).
    let e = handle.pause("eeg").await.unwrap_err();
    assert_eq!(e.to_string(), "stage `eeg` is not running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_running_is_409_and_timeouts_are_504() {
    // A pipeline that is built but never run: stages do not answer → 504 after the timeout.
    let cfg = PipelineConfig::parse(PIPELINE).unwrap();
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let opts = ServerOptions {
        control_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = serve(p.handle(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let a = server.addr().to_string();
    assert_error(
        &post(&a, "/api/stages/gain/pause", "").await,
        504,
        "stage `gain` did not answer within 0.3 s (is the pipeline running?)",
    );
    // Once the pipeline has run and ended, stages are gone: 409.
    let h = p.handle();
    h.stop();
    let _ = p.run().await;
    assert_error(
        &post(&a, "/api/stages/gain/pause", "").await,
        409,
        "stage `gain` is not running",
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_checked_on_requests_and_websockets() {
    let opts = ServerOptions {
        require_token: true,
        token: Some("s3cret".into()),
        ..Default::default()
    };
    let r = start(PIPELINE, opts).await;
    let a = r.addr.as_str();
    assert_eq!(r.server.token(), Some("s3cret"));
    let missing = get(a, "/api/pipeline").await;
    assert_error(
        &missing,
        401,
        "this server requires a token: send `Authorization: Bearer <token>`, or open the URL with `?token=<token>` once (it sets a cookie)",
    );
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert_error(
        &request(a, "GET", "/api/pipeline", Some("wrong"), None)
            .await
            .unwrap(),
        401,
        "invalid token",
    );
    assert_error(&get(a, "/?token=s3cre").await, 401, "invalid token");
    assert_error(&post(a, "/api/stop", "").await, 401, "this server requires a token: send `Authorization: Bearer <token>`, or open the URL with `?token=<token>` once (it sets a cookie)");
    assert_eq!(
        request(a, "GET", "/api/pipeline", Some("s3cret"), None)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(get(a, "/api/metrics?token=s3cret").await.status, 200);
    // The page with the token in its URL: a cookie and a redirect out of the address bar.
    let page = get(a, "/?token=s3cret").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/"));
    let cookie = page.header("set-cookie").unwrap_or_default();
    assert!(
        cookie.starts_with("neuropipe_token=s3cret") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // WebSocket: refused without the token, served with it.
    let url = format!("ws://{a}/api/ws/metrics");
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401)
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token=s3cret"))
        .await
        .unwrap();
    let msg = ws.next().await.unwrap().unwrap();
    let snap: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(snap["stages"].as_array().unwrap().len(), 4);
    drop(ws);

    let resp = request(a, "POST", "/api/stop", Some("s3cret"), Some(""))
        .await
        .unwrap();
    assert_eq!(resp.status, 202);
    r.run.await.unwrap();
    r.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_token_and_bind_errors() {
    let cfg = PipelineConfig::parse(PIPELINE).unwrap();
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let opts = ServerOptions {
        require_token: true,
        ..Default::default()
    };
    let s = serve(p.handle(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    assert!(s.token_generated());
    let t = s.token().unwrap();
    assert_eq!(t.len(), 48);
    assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
    // The same port again: a clear bind error.
    let addr = s.addr();
    let e = serve(p.handle(), addr, ServerOptions::default())
        .await
        .err()
        .expect("second bind fails");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot listen on {addr}: ")),
        "{e}"
    );
    assert!(e.to_string().contains("in use"), "{e}");
    let e = serve(
        p.handle(),
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            token: Some(" ".into()),
            ..Default::default()
        },
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.to_string(), "invalid token: the token is empty");
    s.shutdown().await;
}

async fn ws_json(
    ws: &mut (impl StreamExt<
        Item = Result<
            tokio_tungstenite::tungstenite::Message,
            tokio_tungstenite::tungstenite::Error,
        >,
    > + Unpin),
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .expect("a message within 3 s")
            .expect("stream open")
            .expect("no error");
        if let Ok(t) = m.to_text() {
            if !t.is_empty() {
                return serde_json::from_str(t).unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_signal_events_and_metrics() {
    let r = start(PIPELINE, ServerOptions::default()).await;
    let a = r.addr.as_str();
    let (mut sig, _) =
        tokio_tungstenite::connect_async(format!("ws://{a}/api/ws/signal?output=gain.out&rate=50"))
            .await
            .unwrap();
    // A second client shares the same tap.
    let (mut sig2, _) =
        tokio_tungstenite::connect_async(format!("ws://{a}/api/ws/signal?output=gain&rate=100"))
            .await
            .unwrap();
    let m = ws_json(&mut sig).await;
    assert_eq!(m["output"], "gain.out");
    assert_eq!(m["channels"], 4);
    assert_eq!(m["labels"].as_array().unwrap().len(), 4);
    assert_eq!(m["units"][0], "uV");
    assert_eq!(m["sample_rate"], 50.0);
    assert_eq!(m["source_rate"], 100.0);
    assert_eq!(m["decimation"], 2);
    let frames = m["frames"].as_array().unwrap();
    assert!(!frames.is_empty());
    assert_eq!(frames[0].as_array().unwrap().len(), 4);
    assert_eq!(m["first_frame"].as_u64().unwrap() % 2, 0);
    let m2 = ws_json(&mut sig2).await;
    assert_eq!(m2["decimation"], 1);
    // Frames keep coming and move forward.
    let next = ws_json(&mut sig).await;
    assert!(next["first_frame"].as_u64() > m["first_frame"].as_u64());

    let (mut ev, _) = tokio_tungstenite::connect_async(format!("ws://{a}/api/ws/events"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    post(a, "/api/stages/gain/params", r#"{"key":"gain","value":3}"#).await;
    let e = ws_json(&mut ev).await;
    assert_eq!(e["stage"], "gain");
    assert_eq!(e["kind"], "param_changed");
    assert_eq!(e["text"], "gain = 3.0");

    let (mut met, _) = tokio_tungstenite::connect_async(format!("ws://{a}/api/ws/metrics"))
        .await
        .unwrap();
    let s1 = ws_json(&mut met).await;
    let s2 = ws_json(&mut met).await;
    assert!(s2["elapsed_s"].as_f64() > s1["elapsed_s"].as_f64());

    // When every client has left, the tap closes; a new client opens it again.
    drop((sig, sig2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut again, _) =
        tokio_tungstenite::connect_async(format!("ws://{a}/api/ws/signal?output=gain.out"))
            .await
            .unwrap();
    assert_eq!(ws_json(&mut again).await["output"], "gain.out");

    // Stopping the pipeline ends the signal stream.
    let report = stop(r).await;
    assert_eq!(report.outcome, Outcome::Finished);
    drop((again, ev, met));
}

/// A WebSocket client that connects to the signal stream at 64 ch × 1 kHz and never reads (with
/// a tiny receive buffer, so the server's sends block at once) must not slow the pipeline or
/// lose a sample: the ContinuityCheck sink expects every frame, in order, and the source keeps
/// real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_websocket_client_does_not_slow_the_pipeline() {
    const SECONDS: f64 = 4.0;
    let frames = (SECONDS * 1000.0) as u64;
    let pipeline = format!(
        r#"{{
      "name": "stuck-client",
      "stages": [
        {{ "id": "eeg", "type": "SimulatedEeg", "params": {{ "channels": 64, "sample_rate": 1000, "frames": 10, "duration_s": {SECONDS} }} }},
        {{ "id": "volts", "type": "RawToVoltage" }},
        {{ "id": "check", "type": "ContinuityCheck", "params": {{ "expect_frames": {frames} }} }}
      ],
      "links": [ "eeg.out -> volts.in", "volts.out -> check.in" ]
    }}"#
    );
    let cfg = PipelineConfig::parse(&pipeline).unwrap();
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let server = serve(
        p.handle(),
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let a = server.addr();
    // The stuck client: 4 KiB receive buffer, reads nothing after the handshake.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(a).await.unwrap();
    let (stuck, _) = tokio_tungstenite::client_async(
        format!("ws://{a}/api/ws/signal?output=volts.out&rate=1000"),
        stream,
    )
    .await
    .unwrap();
    // A live client on the same output keeps reading.
    let (mut live, _) = tokio_tungstenite::connect_async(format!(
        "ws://{a}/api/ws/signal?output=volts.out&rate=1000"
    ))
    .await
    .unwrap();
    let reader = tokio::spawn(async move {
        let mut last = 0;
        let mut frames = 0usize;
        while let Some(Ok(m)) = live.next().await {
            if let Ok(v) = serde_json::from_str::<Value>(m.to_text().unwrap_or("")) {
                last = v["first_frame"].as_u64().unwrap_or(last);
                frames += v["frames"].as_array().map_or(0, |f| f.len());
            }
        }
        (last, frames)
    });
    let t0 = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), p.run())
        .await
        .expect("pipeline ends");
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(report.outcome, Outcome::Finished, "continuity check passed");
    let eeg = &report.snapshot.stages[0];
    let check = &report.snapshot.stages[2];
    assert_eq!(eeg.frames_out, frames);
    assert_eq!(check.frames_in, frames);
    assert!(
        wall < SECONDS + 2.0,
        "the source kept real time: {wall:.2} s for {SECONDS} s of signal"
    );
    server.shutdown().await;
    let (last, seen) = reader.await.unwrap();
    assert!(
        last > frames / 2,
        "the live client kept receiving (last frame {last})"
    );
    assert!(seen > 0);
    drop(stuck);
}

#[test]
fn every_route_is_in_the_openapi_document() {
    let doc: Value = serde_json::from_str(neuropipe_server::OPENAPI).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.0.3");
    let routes = neuropipe_server::route_table();
    assert!(routes.len() >= 13);
    for (method, path) in &routes {
        let op = &doc["paths"][path.as_str()][method.to_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is missing from openapi.json"
        );
        assert!(op["summary"].is_string(), "{method} {path} has no summary");
    }
    // ... and nothing documented is missing from the router.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|(m, p)| p == path && m.eq_ignore_ascii_case(method)),
                "openapi.json documents {method} {path}, which the router does not serve"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_are_stamped_published_and_refused_when_unrecordable() {
    let r = start(PIPELINE, ServerOptions::default()).await;
    let mut events = r.handle.events();
    let res = post(&r.addr, "/api/markers", r#"{"text": "stim 1"}"#).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["text"], "stim 1");
    let t = body["time_ns"].as_u64().expect("time_ns");
    // The same marker reaches every subscriber (recorders, the dashboard) with its stamp.
    let ev = loop {
        let ev = events.recv().await.expect("event bus open");
        if ev.kind == neuropipe_core::EventKind::Marker {
            break ev;
        }
    };
    assert_eq!((ev.text.as_str(), ev.time_ns), ("stim 1", t));
    assert!(ev.on_sample, "placed by its time on the samples");

    assert_error(
        &post(&r.addr, "/api/markers", r#"{"text": " "}"#).await,
        422,
        "the marker text is empty",
    );
    assert_error(
        &post(&r.addr, "/api/markers", r#"{"text": "a\tb"}"#).await,
        422,
        "the marker text holds control character U+0009; recordings cannot keep it as given",
    );
    let long = format!(r#"{{"text": "{}"}}"#, "é".repeat(101));
    assert_error(
        &post(&r.addr, "/api/markers", &long).await,
        422,
        "the marker text is 202 bytes long; at most 200 fit in a recording's annotation",
    );
    let res = post(&r.addr, "/api/markers", r#"{"txt": "x"}"#).await;
    assert_eq!(res.status, 400, "{}", res.body);
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_requests_name_what_is_missing() {
    // The test pipeline has no recorder: starting one is refused with the way to add one.
    let r = start(PIPELINE, ServerOptions::default()).await;
    assert_eq!(
        get(&r.addr, "/api/recording").await.json(),
        json!({"recorders": []})
    );
    assert_error(
        &post(&r.addr, "/api/recording", r#"{"recording": true}"#).await,
        409,
        "the pipeline has no recorder: run it with --record FILE (add --record-idle to start without recording), or add an EdfRecorder/BdfRecorder/CsvRecorder stage",
    );
    let res = post(&r.addr, "/api/recording", r#"{"recording": "yes"}"#).await;
    assert_eq!(res.status, 400, "{}", res.body);
    stop(r).await;
}
