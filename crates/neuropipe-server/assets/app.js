// neuropipe dashboard: plain JS, no dependencies. Data from the control server:
// GET /api/pipeline once, /api/ws/signal (trace + spectrum), /api/ws/metrics, /api/ws/events.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const wsUrl = (path) => {
    const u = new URL(path, location.href);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (token) u.searchParams.set("token", token);
    return u.toString();
  };
  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let j = null;
    try { j = await r.json(); } catch (e) { j = { error: "HTTP " + r.status }; }
    if (!r.ok) throw new Error(j && j.error ? j.error : "HTTP " + r.status);
    return j;
  }

  // State visible to tests (window.np).
  const np = (window.np = { messages: 0, frames: 0, lastFirstFrame: -1, lastMessageAt: 0, pipeline: null, metrics: null,
                            markers: [], markersDrawn: 0, recording: [], quality: {}, qualityDrawn: [], traceRows: [], hidden: new Set(), shownChannels: 0 });
  const MAX_MARKERS = 200;

  // ---------------------------------------------------------------- signal buffer
  const MAX_SECONDS = 20;
  let buf = null; // { rate, channels, labels, units, cap, data: Float32Array[ch], n (total written) }
  let sigSocket = null;

  function resetBuffer(msg) {
    const cap = Math.ceil(msg.sample_rate * MAX_SECONDS);
    buf = { rate: msg.sample_rate, channels: msg.channels, labels: msg.labels, units: msg.units, cap, n: 0,
            data: Array.from({ length: msg.channels }, () => new Float32Array(cap)) };
    // Channels shown in the trace (all at first; kept when the same stream comes back).
    const keep = np.hidden && np.hiddenFor === msg.labels.join(",");
    if (!keep) { np.hidden = new Set(); np.hiddenFor = msg.labels.join(","); }
    $("#ch-list").replaceChildren(...msg.labels.map((l, i) => {
      const box = el("input", { type: "checkbox", checked: !np.hidden.has(i), "data-channel": i });
      box.addEventListener("change", () => { box.checked ? np.hidden.delete(i) : np.hidden.add(i); });
      return el("label", {}, box, " " + l);
    }));
    const sel = $("#spec-channel");
    const prev = sel.value;
    sel.replaceChildren(...msg.labels.map((l, i) => el("option", { value: i, textContent: l })));
    if (prev && prev < msg.channels) sel.value = prev;
  }

  function connectSignal() {
    if (sigSocket) { sigSocket.onclose = null; sigSocket.close(); }
    const output = $("#output").value;
    if (!output) return;
    buf = null;
    const ws = new WebSocket(wsUrl("/api/ws/signal?output=" + encodeURIComponent(output) + "&rate=" + $("#rate").value));
    sigSocket = ws;
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (!buf || buf.channels !== m.channels || buf.rate !== m.sample_rate) resetBuffer(m);
      // Where this message's first frame lands in the buffer, and its time: markers (pipeline
      // clock) are placed on the trace from this anchor.
      buf.anchorIndex = buf.n; buf.anchorNs = m.timestamp_ns;
      for (const f of m.frames) {
        const i = buf.n % buf.cap;
        for (let c = 0; c < buf.channels; c++) buf.data[c][i] = f[c];
        buf.n++;
      }
      np.messages++; np.frames += m.frames.length; np.lastFirstFrame = m.first_frame; np.lastMessageAt = performance.now();
      $("#trace-info").textContent = `${m.channels} ch · ${fmtHz(m.source_rate)} → ${fmtHz(m.sample_rate)} shown · frame ${m.first_frame}` + (m.skipped ? ` · ${m.skipped} skipped` : "");
    };
    ws.onclose = () => { if (sigSocket === ws) setTimeout(connectSignal, 1000); };
  }

  // ---------------------------------------------------------------- drawing
  function fitCanvas(c) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * dpr), h = Math.round(c.clientHeight * dpr);
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    return dpr;
  }

  const COLORS = ["#4fb3ff", "#5fd38d", "#f0c14b", "#ff8f6b", "#c79bff", "#6be0e0", "#ff6bb5", "#b5d36b"];

  function drawTrace() {
    const c = $("#trace"), dpr = fitCanvas(c), g = c.getContext("2d");
    const W = c.width, H = c.height;
    g.fillStyle = "#0b0f13"; g.fillRect(0, 0, W, H);
    if (!buf || buf.n === 0) {
      g.fillStyle = "#7d8a97"; g.font = `${14 * dpr}px sans-serif`; g.fillText("waiting for signal…", 20 * dpr, 30 * dpr); return;
    }
    const secs = +$("#window").value, scaleUv = +$("#scale").value;
    const labelW = 56 * dpr, plotW = W - labelW - 10 * dpr;
    const nShow = Math.min(buf.n, Math.round(secs * buf.rate), buf.cap);
    const total = Math.round(secs * buf.rate);
    const shown = [...Array(buf.channels).keys()].filter((c) => !np.hidden.has(c));
    np.shownChannels = shown.length;
    np.traceRows = shown.map((c) => buf.labels[c]);
    np.qualityDrawn = [];
    const ch = Math.max(1, shown.length), rowH = H / ch;
    const pxPerUv = rowH / scaleUv; // one row spans `scale` µV
    // time grid (1 s)
    g.strokeStyle = "#1d252e"; g.lineWidth = 1;
    for (let s = 0; s <= secs; s++) {
      const x = labelW + plotW - (s * buf.rate / total) * plotW;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, H); g.stroke();
    }
    g.font = `${Math.min(12, Math.max(7, rowH / dpr * 0.8)) * dpr}px sans-serif`;
    g.textBaseline = "middle";
    const cols = Math.max(1, Math.floor(plotW));
    const start = buf.n - nShow;
    for (let r = 0; r < shown.length; r++) {
      const c0 = shown[r], y0 = rowH * (r + 0.5), d = buf.data[c0];
      // remove the channel's mean over the window (display only)
      let mean = 0;
      for (let k = 0; k < nShow; k++) mean += d[(start + k) % buf.cap];
      mean /= nShow;
      const lab = buf.labels[c0] || "Ch" + (c0 + 1), qv = np.quality[lab];
      if (qv) { // the channel's verdict: a dot before its label
        g.fillStyle = qv.verdict === "good" ? "#5fd38d" : qv.verdict === "bad" ? "#ff6b6b" : "#f0c14b";
        g.beginPath(); g.arc(6 * dpr, y0, 3.5 * dpr, 0, 2 * Math.PI); g.fill();
        np.qualityDrawn.push(lab + ":" + qv.verdict);
      }
      g.fillStyle = "#7d8a97";
      g.fillText(lab, 13 * dpr, y0);
      g.strokeStyle = COLORS[c0 % COLORS.length]; g.lineWidth = dpr;
      g.beginPath();
      const x0 = labelW + plotW * (1 - nShow / total);
      const perCol = nShow / (plotW * nShow / total);
      if (perCol <= 2) {
        for (let k = 0; k < nShow; k++) {
          const x = x0 + (k / total) * plotW, y = y0 - (d[(start + k) % buf.cap] - mean) * pxPerUv;
          k ? g.lineTo(x, y) : g.moveTo(x, y);
        }
      } else { // min/max per pixel column
        const colsUsed = Math.max(1, Math.floor(cols * nShow / total));
        for (let x = 0; x < colsUsed; x++) {
          const a = Math.floor(x * nShow / colsUsed), b = Math.max(a + 1, Math.floor((x + 1) * nShow / colsUsed));
          let lo = Infinity, hi = -Infinity;
          for (let k = a; k < b; k++) { const v = d[(start + k) % buf.cap]; if (v < lo) lo = v; if (v > hi) hi = v; }
          const px = x0 + x * (plotW * nShow / total) / colsUsed;
          g.moveTo(px, y0 - (hi - mean) * pxPerUv); g.lineTo(px, y0 - (lo - mean) * pxPerUv + 0.5);
        }
      }
      g.stroke();
    }
    // markers: a vertical line and the text at the sample stamped with the marker's time
    np.markersDrawn = 0;
    if (buf.anchorNs !== undefined) {
      g.textBaseline = "top"; g.font = `${11 * dpr}px sans-serif`;
      for (const mk of np.markers) {
        const idx = buf.anchorIndex + (mk.time_ns - buf.anchorNs) * buf.rate / 1e9;
        if (idx < start || idx >= buf.n) continue;
        const x = labelW + plotW * (1 - nShow / total) + ((idx - start) / total) * plotW;
        g.strokeStyle = "#ffd24b"; g.lineWidth = dpr; g.beginPath(); g.moveTo(x, 0); g.lineTo(x, H); g.stroke();
        // Near the right edge the label goes to the left of the line.
        const right = x + 3 * dpr + g.measureText(mk.text).width > W;
        g.textAlign = right ? "right" : "left";
        g.fillStyle = "#ffd24b"; g.fillText(mk.text, right ? x - 3 * dpr : x + 3 * dpr, (3 + 13 * (np.markersDrawn % 3)) * dpr);
        g.textAlign = "left";
        np.markersDrawn++;
      }
    }
    // scale bar: `scale` µV vertical, 1 s horizontal
    const unit = (buf.units && buf.units[0]) || "";
    const bx = W - 70 * dpr, by = H - 12 * dpr, bh = Math.min(rowH, H - 24 * dpr);
    g.strokeStyle = "#ffffff"; g.lineWidth = 2 * dpr; g.beginPath();
    g.moveTo(bx, by - bh); g.lineTo(bx, by); g.lineTo(bx + plotW / secs * 0.2, by); g.stroke();
    g.fillStyle = "#ffffff"; g.textBaseline = "alphabetic";
    g.textAlign = "right";
    g.fillText(`${scaleUv} ${unit === "uV" ? "µV" : unit}`, bx - 4 * dpr, by - bh / 2);
    g.textAlign = "left";
    g.fillText("200 ms", bx + 4 * dpr, by - 6 * dpr);
  }

  function fft(re, im) { // in place, radix-2, length a power of two
    const n = re.length;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const ang = -2 * Math.PI / len, wr = Math.cos(ang), wi = Math.sin(ang);
      for (let i = 0; i < n; i += len) {
        let cr = 1, ci = 0;
        for (let k = 0; k < len / 2; k++) {
          const a = i + k, b = a + len / 2;
          const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
          re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
          const t = cr * wr - ci * wi; ci = cr * wi + ci * wr; cr = t;
        }
      }
    }
  }

  function drawSpectrum() {
    const c = $("#spectrum"), dpr = fitCanvas(c), g = c.getContext("2d");
    const W = c.width, H = c.height;
    g.fillStyle = "#0b0f13"; g.fillRect(0, 0, W, H);
    let N = +$("#spec-n").value;
    if (!buf || buf.n < 64) return;
    while (N > buf.n || N > buf.cap) N >>= 1;
    const ch = +$("#spec-channel").value || 0, d = buf.data[ch];
    // Welch: Hann-windowed segments of N with 50 % overlap over the last (up to) 4 N samples,
    // each segment's mean removed, powers averaged (scipy.signal.welch's density scaling).
    const avail = Math.min(buf.n, buf.cap, 4 * N), hop = N / 2;
    const segs = Math.max(1, Math.floor((avail - N) / hop) + 1);
    const bins = N / 2, fs = buf.rate, pad = 34 * dpr;
    const win = new Float64Array(N);
    let wss = 0;
    for (let k = 0; k < N; k++) { win[k] = 0.5 - 0.5 * Math.cos(2 * Math.PI * k / N); wss += win[k] * win[k]; }
    const psd = new Float64Array(bins);
    for (let sgi = 0; sgi < segs; sgi++) {
      const first = buf.n - N - (segs - 1 - sgi) * hop;
      const re = new Float64Array(N), im = new Float64Array(N);
      let mean = 0;
      for (let k = 0; k < N; k++) mean += d[(first + k) % buf.cap];
      mean /= N;
      for (let k = 0; k < N; k++) re[k] = (d[(first + k) % buf.cap] - mean) * win[k];
      fft(re, im);
      for (let k = 1; k < bins; k++) psd[k] += 2 * (re[k] * re[k] + im[k] * im[k]) / (fs * wss) / segs;
    }
    np.spectrumSegments = segs;
    const db = new Float64Array(bins);
    for (let k = 1; k < bins; k++) db[k] = 10 * Math.log10(psd[k] + 1e-12);
    const top = 40, bottom = -40; // dB (µV²/Hz)
    const y = (v) => H - pad - (Math.min(top, Math.max(bottom, v)) - bottom) / (top - bottom) * (H - pad - 6 * dpr);
    const x = (f) => pad + f / (fs / 2) * (W - pad - 6 * dpr);
    g.strokeStyle = "#1d252e"; g.fillStyle = "#7d8a97"; g.font = `${10 * dpr}px sans-serif`;
    for (let v = bottom; v <= top; v += 20) { g.beginPath(); g.moveTo(pad, y(v)); g.lineTo(W, y(v)); g.stroke(); g.fillText(v + " dB", 2, y(v)); }
    const step = fs / 2 > 200 ? 100 : fs / 2 > 60 ? 20 : 10;
    for (let f = 0; f <= fs / 2; f += step) { g.beginPath(); g.moveTo(x(f), 0); g.lineTo(x(f), H - pad); g.stroke(); g.fillText(f + " Hz", x(f) + 2, H - pad + 12 * dpr); }
    g.strokeStyle = "#4fb3ff"; g.lineWidth = dpr; g.beginPath();
    for (let k = 1; k < bins; k++) { const px = x(k * fs / N), py = y(db[k]); k > 1 ? g.lineTo(px, py) : g.moveTo(px, py); }
    g.stroke();
    g.fillStyle = "#d8dee6"; g.fillText(`${buf.labels[ch]} · Welch N=${N} × ${segs} · Hann · 10·log10(µV²/Hz)`, pad + 4, 12 * dpr);
  }

  let lastSpec = 0;
  function frame(t) {
    drawTrace();
    if (t - lastSpec > 250) { drawSpectrum(); lastSpec = t; }
    requestAnimationFrame(frame);
  }

  // ---------------------------------------------------------------- pipeline table
  // Rates as people write them: 500 Hz, 3.97 Hz (not 3.9682539682539684 Hz).
  const fmtHz = (hz) => (hz >= 100 ? hz.toFixed(0) : (+hz.toPrecision(3)).toString()) + " Hz";
  const fmtNs = (ns) => ns == null ? "–" : ns < 1e6 ? (ns / 1e3).toFixed(0) + " µs" : (ns / 1e6).toFixed(2) + " ms";
  function paramEditor(stage, spec, value) {
    const id = `p-${stage}-${spec.name}`;
    const input = el("input", { id, value: JSON.stringify(value), title: spec.doc || "", "data-stage": stage, "data-key": spec.name });
    if (spec.type === "float" || spec.type === "int") { input.type = "number"; input.step = "any"; input.value = value; }
    if (spec.type === "bool") { input.type = "checkbox"; input.checked = value === true; }
    const msg = el("span", { class: "param-msg", "data-stage": stage, "data-key": spec.name });
    const set = async () => {
      let v;
      if (input.type === "checkbox") v = input.checked;
      else if (input.type === "number") v = input.value === "" ? null : Number(input.value);
      else { try { v = JSON.parse(input.value); } catch (e) { v = input.value; } }
      try {
        const r = await api("POST", `/api/stages/${encodeURIComponent(stage)}/params`, { key: spec.name, value: v });
        msg.className = "param-msg param-ok"; msg.textContent = "✓ " + JSON.stringify(r.applied);
      } catch (e) {
        msg.className = "param-msg param-error"; msg.textContent = e.message;
      }
    };
    input.addEventListener("change", set); // fires on Enter and on leaving the field
    const range = spec.min !== undefined ? ` [${spec.min}, ${spec.max}]` : "";
    return el("span", { class: "param" }, el("label", { htmlFor: id, textContent: spec.name, title: (spec.doc || "") + range }), input, msg);
  }

  function buildTables(p) {
    $("#pipeline-name").textContent = "· " + p.name;
    const tb = $("#stages tbody");
    tb.replaceChildren();
    for (const s of p.stages) {
      const btn = el("button", { textContent: s.state === "paused" ? "Resume" : "Pause", "data-stage": s.id, "data-action": s.state === "paused" ? "resume" : "pause" });
      btn.addEventListener("click", async () => {
        const action = btn.getAttribute("data-action");
        try { await api("POST", `/api/stages/${encodeURIComponent(s.id)}/${action}`); }
        catch (e) { addEvent({ kind: "rejected", stage: s.id, text: e.message }); }
      });
      const params = el("td", { class: "params" });
      for (const spec of s.param_specs.filter((x) => x.live)) params.append(paramEditor(s.id, spec, s.params[spec.name]));
      tb.append(el("tr", { id: "stage-" + s.id },
        el("td", { textContent: s.id }), el("td", { textContent: s.type, title: s.summary }),
        el("td", { class: "state state-" + s.state, textContent: s.state }),
        el("td", { class: "num rate" }), el("td", { class: "num p50" }), el("td", { class: "num p99" }),
        el("td", { class: "num depth" }), el("td", { class: "num drops" }), el("td", { class: "num busy" }),
        el("td", {}, btn), params));
    }
    const sel = $("#output"), prev = sel.value;
    sel.replaceChildren(...p.outputs.map((o) => el("option", { value: o, textContent: o })));
    sel.value = prev && p.outputs.includes(prev) ? prev : defaultOutput(p);
    drawGraph(p);
  }

  // The signal people want to see first: the last output carrying a continuous voltage
  // stream (µV), not a feature stream such as band powers, nor raw ADC counts, nor epochs.
  function defaultOutput(p) {
    const stream = (o) => { // a stage's outputs are listed in port order, as its streams
      const id = o.split(".")[0], st = p.stages.find((s) => s.id === id);
      const k = p.outputs.filter((x) => x.split(".")[0] === id).indexOf(o);
      return st && st.outputs ? st.outputs[k] : null;
    };
    const volts = p.outputs.filter((o) => { const s = stream(o); return s && !s.epochs && s.channels && s.channels.length && s.channels[0].unit === "uV"; });
    return (volts.length ? volts : p.outputs)[(volts.length ? volts : p.outputs).length - 1];
  }

  // ---------------------------------------------------------------- pipeline graph
  // Stages as nodes (type, state), links as edges (queue depth, drops, rate), laid out in
  // layers left to right by the longest path from a source; updated from the metrics.
  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v); return e; };
  let graphEdges = [];
  function drawGraph(p) {
    const svg = $("#graph");
    svg.replaceChildren();
    const ids = p.stages.map((s) => s.id);
    const stageOf = (ep) => ep.split(".")[0];
    const layer = Object.fromEntries(ids.map((id) => [id, 0]));
    for (let pass = 0; pass < ids.length; pass++) { // longest path (the graph is acyclic)
      for (const l of p.links) layer[stageOf(l.to)] = Math.max(layer[stageOf(l.to)], layer[stageOf(l.from)] + 1);
    }
    const rows = {}, pos = {};
    const NW = 150, NH = 40, GX = 80, GY = 22;
    for (const id of ids) { const L = layer[id]; rows[L] = (rows[L] || 0) + 1; pos[id] = { x: 10 + L * (NW + GX), y: 10 + (rows[L] - 1) * (NH + GY) }; }
    const height = 20 + Math.max(...Object.values(rows)) * (NH + GY);
    svg.setAttribute("viewBox", `0 0 ${20 + (Math.max(...Object.values(layer)) + 1) * (NW + GX)} ${height}`);
    svg.style.height = height + "px";
    graphEdges = p.links.map((l) => {
      const a = pos[stageOf(l.from)], b = pos[stageOf(l.to)];
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
      const g = svgEl("g", { class: "edge", "data-link": `${l.from}->${l.to}` });
      g.append(svgEl("path", { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
      const t = svgEl("text", { x: (x1 + x2) / 2 - 30, y: (y1 + y2) / 2 - 4 });
      g.append(t);
      svg.append(g);
      return { key: `${l.from}->${l.to}`, g, t };
    });
    const defs = svgEl("defs");
    const m = svgEl("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 6, markerHeight: 6, orient: "auto" });
    m.append(svgEl("path", { d: "M0,0 L8,4 L0,8 z", fill: "#55626f" }));
    defs.append(m); svg.prepend(defs);
    for (const s of p.stages) {
      const g = svgEl("g", { class: "node state-" + s.state, "data-stage": s.id, transform: `translate(${pos[s.id].x},${pos[s.id].y})` });
      g.append(svgEl("rect", { width: NW, height: NH }));
      const name = svgEl("text", { x: 8, y: 16 }); name.textContent = s.id;
      const type = svgEl("text", { x: 8, y: 32, class: "type" }); type.textContent = s.type;
      g.append(name, type);
      g.addEventListener("click", () => selectStage(s.id));
      svg.append(g);
    }
  }
  function selectStage(id) {
    for (const n of document.querySelectorAll("#graph .node")) n.classList.toggle("selected", n.getAttribute("data-stage") === id);
    for (const r of document.querySelectorAll("#stages tbody tr")) r.classList.toggle("selected", r.id === "stage-" + id);
    const row = document.getElementById("stage-" + id);
    if (row) { row.scrollIntoView({ block: "nearest" }); const input = row.querySelector("input"); if (input) input.focus(); }
    np.selected = id;
  }
  function updateGraph(m, dt) {
    for (const s of m.stages) {
      const n = document.querySelector(`#graph .node[data-stage="${CSS.escape(s.id)}"]`);
      if (n) n.setAttribute("class", "node state-" + s.state + (np.selected === s.id ? " selected" : ""));
    }
    for (const l of m.links) {
      const e = graphEdges.find((x) => x.key === `${l.from}->${l.to}`);
      if (!e) continue;
      const old = prevSnap && prevSnap.links.find((x) => x.from === l.from && x.to === l.to);
      const rate = old && dt > 0 ? (l.sent - old.sent) / dt : null;
      e.t.textContent = `${l.depth}/${l.capacity}` + (rate !== null ? ` · ${rate.toFixed(0)} pkt/s` : "") + (l.dropped ? ` · ${l.dropped} dropped` : "");
      e.g.setAttribute("class", "edge" + (old && l.dropped > old.dropped ? " dropping" : ""));
    }
  }

  let prevSnap = null;
  // Signal quality: every stage publishing a "problems" flags column per channel
  // (SignalQuality) gives each channel a verdict and a tooltip with its figures.
  const SEVERE = ["flat", "railed", "missing"];
  const fmtNum = (v) => Math.abs(v) >= 100 ? v.toFixed(0) : (+v.toPrecision(3)).toString();
  const fmtUnit = (u) => u === "uV" ? " µV" : u === "kOhm" ? " kΩ" : u === "%" ? " %" : u ? " " + u : "";
  function updateQuality(m) {
    const q = {};
    for (const s of m.stages) {
      const r = s.readouts, pc = r ? r.columns.findIndex((c) => c.name === "problems" && c.flags) : -1;
      if (pc < 0) continue;
      r.rows.forEach((row, i) => {
        const v = r.values[i][pc];
        if (v == null) return;
        const flags = r.columns[pc].flags.filter((_, b) => v & (1 << b));
        const figs = r.columns.map((c, k) => c.flags || r.values[i][k] == null ? null
          : `${c.name} ${fmtNum(r.values[i][k])}${fmtUnit(c.unit)}`).filter(Boolean).join("\n");
        q[row] = { flags, verdict: !flags.length ? "good" : flags.some((f) => SEVERE.includes(f)) ? "bad" : "warn",
                   tip: `${row}: ${flags.length ? flags.join(", ") : "good"} (${s.id})\n${figs}` };
      });
    }
    np.quality = q;
    const chips = Object.entries(q).map(([row, x]) => el("span", { class: "q q-" + x.verdict, title: x.tip,
      "data-channel": row, "data-verdict": x.flags.length ? x.flags.join(",") : "good", textContent: row }));
    $("#quality").replaceChildren(...chips);
  }

  // Recording: every stage whose readouts say whether it writes a file (the recorders).
  const fmtBytes = (b) => b == null ? "–" : b < 1e6 ? (b / 1e3).toFixed(1) + " kB" : (b / 1e6).toFixed(2) + " MB";
  const fmtDur = (s) => s == null ? "–" : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  function updateRecording(m) {
    const recs = m.stages.filter((s) => s.readouts && s.readouts.columns.some((c) => c.name === "recording"));
    np.recording = recs.map((s) => {
      const r = s.readouts, v = (c) => r.values[0][r.columns.findIndex((x) => x.name === c)];
      return { stage: s.id, on: v("recording") === 1, file: r.status, duration: v("duration"), size: v("size"), files: v("files") };
    });
    $("#rec").hidden = recs.length === 0;
    if (!recs.length) return;
    const on = np.recording.some((r) => r.on);
    const btn = $("#rec-btn");
    btn.textContent = on ? "■ Stop recording" : "● Record"; btn.classList.toggle("on", on);
    $("#rec-status").textContent = np.recording.filter((r) => r.file).map((r) =>
      `${r.on ? "recording" : "last"} ${r.file.split(/[\\/]/).pop()} · ${fmtDur(r.duration)} · ${fmtBytes(r.size)}`).join("; ");
    $("#rec-status").title = np.recording.map((r) => `${r.stage}: ${r.file || "no file yet"} (${r.files} files written)`).join("\n");
  }

  function updateMetrics(m) {
    np.metrics = m;
    updateQuality(m);
    updateRecording(m);
    const st = $("#state");
    st.textContent = m.state; st.className = "badge state-" + m.state;
    const dt = prevSnap ? m.elapsed_s - prevSnap.elapsed_s : 0;
    updateGraph(m, dt);
    for (const s of m.stages) {
      const row = document.getElementById("stage-" + s.id);
      if (!row) continue;
      const old = prevSnap && prevSnap.stages.find((x) => x.id === s.id);
      const frames = s.frames_out || s.frames_in;
      const oldFrames = old ? (old.frames_out || old.frames_in) : frames;
      row.querySelector(".rate").textContent = dt > 0 ? ((frames - oldFrames) / dt).toFixed(0) : "–";
      row.querySelector(".p50").textContent = fmtNs(s.latency_p50_ns);
      row.querySelector(".p99").textContent = fmtNs(s.latency_p99_ns);
      const inLinks = m.links.filter((l) => l.to.split(".")[0] === s.id);
      row.querySelector(".depth").textContent = inLinks.length ? inLinks.map((l) => `${l.depth}/${l.capacity}`).join(" ") : "–";
      const outLinks = m.links.filter((l) => l.from.split(".")[0] === s.id);
      row.querySelector(".drops").textContent = outLinks.reduce((a, l) => a + l.dropped, 0);
      const busy = old && dt > 0 ? (s.busy_ns - old.busy_ns) / 1e9 / dt * 100 : 0;
      row.querySelector(".busy").textContent = busy.toFixed(1) + " %";
      const stCell = row.querySelector(".state");
      stCell.textContent = s.state; stCell.className = "state state-" + s.state;
      const btn = row.querySelector("button[data-action]");
      const paused = s.state === "paused";
      btn.textContent = paused ? "Resume" : "Pause";
      btn.setAttribute("data-action", paused ? "resume" : "pause");
      btn.disabled = s.state === "finished" || s.state === "failed";
    }
    $("#links tbody").replaceChildren(...m.links.map((l) => el("tr", {},
      el("td", { textContent: `${l.from} → ${l.to}` }), el("td", { textContent: l.policy }),
      el("td", { class: "num", textContent: `${l.depth}/${l.capacity}` }), el("td", { class: "num", textContent: l.high_water }),
      el("td", { class: "num", textContent: l.sent }), el("td", { class: "num", textContent: l.dropped }), el("td", { class: "num", textContent: l.send_waits }))));
    $("#pools tbody").replaceChildren(...m.pools.map((p) => el("tr", {},
      el("td", { textContent: p.name }), el("td", { class: "num", textContent: `${p.in_use}/${p.count}` }),
      el("td", { class: "num", textContent: p.high_water }), el("td", { class: "num", textContent: p.waits }), el("td", { class: "num", textContent: p.exhaustions }))));
    prevSnap = m;
  }

  function addEvent(e) {
    if (e.kind === "marker") {
      np.markers.push({ time_ns: e.time_ns, text: e.text });
      if (np.markers.length > MAX_MARKERS) np.markers.shift();
    }
    const li = el("li", { class: "ev-" + e.kind, textContent: `${new Date().toLocaleTimeString()} ${e.stage ? e.stage + ": " : ""}${e.kind} ${e.text}` });
    const ul = $("#events");
    ul.prepend(li);
    while (ul.children.length > 200) ul.lastChild.remove();
  }

  function connect(path, onmsg) {
    const ws = new WebSocket(wsUrl(path));
    ws.onmessage = (ev) => onmsg(JSON.parse(ev.data));
    ws.onopen = () => { $("#conn").textContent = ""; };
    ws.onclose = () => { $("#conn").textContent = "disconnected, retrying…"; setTimeout(() => connect(path, onmsg), 1500); };
  }

  async function start() {
    try {
      const p = await api("GET", "/api/pipeline");
      np.pipeline = p;
      buildTables(p);
    } catch (e) {
      $("#conn").textContent = "cannot load the pipeline: " + e.message;
      setTimeout(start, 2000);
      return;
    }
    connectSignal();
    connect("/api/ws/metrics", updateMetrics);
    connect("/api/ws/events", addEvent);
    for (const id of ["#output", "#rate"]) $(id).addEventListener("change", connectSignal);
    const sendMark = async () => {
      const input = $("#mark-text"), text = input.value.trim() || "mark";
      try { await api("POST", "/api/markers", { text }); input.value = ""; input.blur(); }
      catch (e) { addEvent({ kind: "rejected", stage: "", text: "marker: " + e.message }); }
    };
    $("#mark").addEventListener("click", sendMark);
    $("#rec-btn").addEventListener("click", async () => {
      const on = (np.recording || []).some((r) => r.on);
      try { const r = await api("POST", "/api/recording", { recording: !on });
        for (const x of r.recorders) addEvent({ kind: "recording", stage: x.stage, text: (x.applied.recording ? "started " : "stopped ") + x.applied.file }); }
      catch (e) { addEvent({ kind: "rejected", stage: "", text: "recording: " + e.message }); }
    });
    // Hovering a trace shows its channel's quality figures.
    $("#trace").addEventListener("mousemove", (e) => {
      const c = $("#trace"), rows = np.traceRows.length;
      const r = rows ? Math.floor(e.offsetY / (c.clientHeight / rows)) : -1, lab = np.traceRows[r];
      c.title = lab && np.quality[lab] ? np.quality[lab].tip : "";
    });
    const showAll = (on) => { if (!buf) return; np.hidden = new Set(on ? [] : [...Array(buf.channels).keys()]);
      for (const b of document.querySelectorAll("#ch-list input")) b.checked = on; };
    $("#ch-all").addEventListener("click", () => showAll(true));
    $("#ch-none").addEventListener("click", () => showAll(false));
    $("#mark-text").addEventListener("keydown", (e) => { if (e.key === "Enter") sendMark(); });
    document.addEventListener("keydown", (e) => {
      const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
      if (!typing && (e.key === "m" || e.key === "M")) { e.preventDefault(); $("#mark-text").focus(); }
    });
    $("#stop").addEventListener("click", async () => {
      if (!confirm("Stop the pipeline? Queues drain and recorders flush.")) return;
      try { await api("POST", "/api/stop"); } catch (e) { addEvent({ kind: "rejected", stage: "", text: e.message }); }
    });
    requestAnimationFrame(frame);
  }
  start();
})();
