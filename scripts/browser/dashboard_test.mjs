// Drives the dashboard in headless Chromium (playwright-core, /usr/bin/chromium). Expects the
// server at $NEUROPIPE_URL running scripts/browser/dashboard_pipeline.json with an idle
// `--record`. Writes screenshots to $SCREENSHOT and $SCREENSHOT_DIR. Exits non-zero if a check
// failed.
import { createRequire } from "node:module";
const require = createRequire(process.env.PLAYWRIGHT_DIR + "/");
const { chromium } = require("playwright-core");

const URL = process.env.NEUROPIPE_URL || "http://127.0.0.1:7878";
const SHOT = process.env.SCREENSHOT || "target/ci-artifacts/dashboard.png";
const SHOTS = process.env.SCREENSHOT_DIR || "target/ci-artifacts";
let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log("ok   " + what); }
  else { failed++; console.log("FAIL " + what); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function api(path) { return (await fetch(URL + path)).json(); }

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  page.on("pageerror", (e) => { failed++; console.log("FAIL page error: " + e.message); });
  await page.goto(URL + "/");
  await page.waitForFunction(() => window.np && window.np.frames > 50, null, { timeout: 10000 });
  const np = () => page.evaluate(() => ({ frames: window.np.frames, first: window.np.lastFirstFrame, msgs: window.np.messages }));
  const canvas = () => page.evaluate(() => document.getElementById("trace").toDataURL());

  // 1. The trace shows data that changes over time.
  const a = await np(), ca = await canvas();
  await sleep(1000);
  const b = await np(), cb = await canvas();
  check(b.first > a.first && b.frames > a.frames, `signal frames advance (${a.first} → ${b.first})`);
  check(ca !== cb, "the trace canvas changes over time");
  const label = await page.evaluate(() => document.getElementById("trace-info").textContent);
  check(/16 ch/.test(label), `trace header: ${label}`);

  // 2. Pausing the source stops the signal; resuming restarts it.
  await page.click('button[data-stage="eeg"][data-action="pause"]');
  await page.waitForSelector('#stage-eeg td.state-paused', { timeout: 5000 });
  const d = await api("/api/pipeline");
  check(d.stages[0].state === "paused", "the API reports the source paused");
  await sleep(600);
  const p1 = await np();
  await sleep(1500);
  const p2 = await np();
  check(p2.first === p1.first && p2.frames === p1.frames, `no new frames while paused (${p1.first} = ${p2.first})`);
  await page.click('button[data-stage="eeg"][data-action="resume"]');
  await page.waitForFunction((f) => window.np.lastFirstFrame > f, p2.first, { timeout: 5000 });
  check(true, "frames resume after Resume");

  // 3. A live parameter edited in the page reaches the stage.
  await page.fill('input[data-stage="gain"][data-key="gain"]', "2.5");
  await page.press('input[data-stage="gain"][data-key="gain"]', "Enter");
  await page.waitForSelector('.param-msg.param-ok[data-stage="gain"][data-key="gain"]', { timeout: 5000 });
  const g = await api("/api/pipeline");
  check(g.stages[2].params.gain === 2.5, `GET /api/pipeline shows gain = ${g.stages[2].params.gain}`);
  await page.fill('input[data-stage="eeg"][data-key="alpha_uv"]', "40");
  await page.press('input[data-stage="eeg"][data-key="alpha_uv"]', "Enter");
  await page.waitForSelector('.param-msg.param-ok[data-stage="eeg"][data-key="alpha_uv"]', { timeout: 5000 });
  check((await api("/api/pipeline")).stages[0].params.alpha_uv === 40, "alpha_uv = 40 reached the source");

  // 4. A rejected value shows the stage's error text.
  await page.fill('input[data-stage="eeg"][data-key="alpha_hz"]', "300");
  await page.press('input[data-stage="eeg"][data-key="alpha_hz"]', "Enter");
  const err = await page.waitForSelector('.param-msg.param-error[data-stage="eeg"][data-key="alpha_hz"]', { timeout: 5000 });
  const text = await err.textContent();
  check(text === "`alpha_hz` = 300 is out of range 0.1..=100", `rejection shown: ${text}`);
  check((await api("/api/pipeline")).stages[0].params.alpha_hz === 10, "the rejected value was not applied");

  // 5. Metrics table is live.
  await sleep(1200);
  const rate = await page.evaluate(() => document.querySelector("#stage-eeg .rate").textContent);
  check(Math.abs(+rate - 500) < 100, `source rate shown: ${rate} frames/s`);

  // 6. A marker typed in the page (key M focuses the field, Enter sends) is published and
  // drawn on the traces at its sample.
  await page.evaluate(() => document.activeElement && document.activeElement.blur()); // leave the last editor
  await page.keyboard.press("m");
  check(await page.evaluate(() => document.activeElement.id === "mark-text"), "key M focuses the marker field");
  await page.keyboard.type("eyes closed");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => window.np.markers.some((m) => m.text === "eyes closed"), null, { timeout: 5000 })
    .then(() => check(true, "the marker came back as a pipeline event"))
    .catch(() => check(false, "the marker came back as a pipeline event"));
  await page.waitForFunction(() => window.np.markersDrawn > 0, null, { timeout: 5000 })
    .then(() => check(true, "the marker is drawn on the traces"))
    .catch(async () => check(false, "the marker is drawn on the traces " +
      JSON.stringify(await page.evaluate(() => ({ markers: window.np.markers, drawn: window.np.markersDrawn })))));
  await page.click("#mark");
  await page.waitForFunction(() => window.np.markers.filter((m) => m.text === "mark").length === 1, null, { timeout: 5000 })
    .then(() => check(true, "the Mark button with an empty field sends \"mark\""))
    .catch(() => check(false, "the Mark button with an empty field sends \"mark\""));

  // 7. The pipeline graph: a node per stage, an edge per link, live; a click selects the stage.
  const pipe = await api("/api/pipeline");
  const nodes = await page.$$eval("#graph .node", (ns) => ns.map((n) => n.getAttribute("data-stage")));
  check(JSON.stringify(nodes) === JSON.stringify(pipe.stages.map((s) => s.id)), `graph nodes: ${nodes.join(", ")}`);
  const edges = await page.$$eval("#graph .edge", (es) => es.map((e) => e.getAttribute("data-link")));
  check(JSON.stringify(edges) === JSON.stringify(pipe.links.map((l) => `${l.from}->${l.to}`)), `graph edges: ${edges.join(", ")}`);
  const chain = ["eeg", "volts", "gain", "bp", "check"];
  const xs = await page.$$eval("#graph .node", (ns, chain) => chain.map((id) => +ns.find((n) => n.getAttribute("data-stage") === id)
    .getAttribute("transform").match(/translate\(([\d.]+)/)[1]), chain);
  check(xs.every((x, i) => i === 0 || x > xs[i - 1]), `a chain is laid out left to right (${xs.join(", ")})`);
  await page.waitForFunction(() => /pkt\/s/.test(document.querySelector("#graph .edge text").textContent), null, { timeout: 5000 })
    .then(() => check(true, "edges show their live rate"))
    .catch(() => check(false, "edges show their live rate"));
  await page.click('#graph .node[data-stage="gain"]');
  check(await page.evaluate(() => document.getElementById("stage-gain").classList.contains("selected")
    && document.querySelector('#graph .node[data-stage="gain"]').classList.contains("selected")), "clicking a node selects its stage row");
  const info = await page.evaluate(() => document.getElementById("trace-info").textContent);
  check(/500 Hz → 250 Hz shown/.test(info), `rates formatted: ${info}`);

  // 9. Channels can be hidden in the trace view; the spectrum is a Welch average.
  await page.click("#channels-pick summary");
  await page.click('#ch-list input[data-channel="0"]');
  await page.waitForFunction(() => window.np.shownChannels === 15, null, { timeout: 3000 })
    .then(() => check(true, "unticking Fp1 hides one channel (15 shown)"))
    .catch(async () => check(false, "unticking Fp1 hides one channel: " + await page.evaluate(() => window.np.shownChannels)));
  await page.click("#ch-all");
  await page.waitForFunction(() => window.np.shownChannels === 16, null, { timeout: 3000 })
    .then(() => check(true, "\"all\" shows the 16 channels again"))
    .catch(() => check(false, "\"all\" shows the 16 channels again"));
  await page.click("#channels-pick summary");
  // Once the trace buffer holds more than one segment (a hang guard, not a latency check).
  await page.waitForFunction(() => window.np.spectrumSegments >= 2, null, { timeout: 15000 })
    .then(() => check(true, "the spectrum averages several Welch segments"))
    .catch(async () => check(false, "the spectrum averages several Welch segments: " + await page.evaluate(() => window.np.spectrumSegments)));

  // 8. Booleans are checkboxes; the default view is the last µV stream.
  check(await page.evaluate(() => document.getElementById("output").value) === "bp.out", "the default view is the filtered EEG");
  const box = 'input[data-stage="bp"][data-key="enabled"]';
  check(await page.$eval(box, (b) => b.type === "checkbox" && b.checked), "a boolean parameter is a checked checkbox");
  await page.click(box);
  await page.waitForSelector('.param-msg.param-ok[data-stage="bp"][data-key="enabled"]', { timeout: 5000 });
  check((await api("/api/pipeline")).stages[3].params.enabled === false, "unticking it reached the stage (enabled = false)");
  await page.click(box);

  // 10. Signal quality: each channel's verdict beside its trace (colour), its figures in a tooltip.
  await page.waitForFunction(() => ["Pz", "C3", "Cz"].every((c) => window.np.quality[c]), null, { timeout: 10000 })
    .then(() => check(true, "quality verdicts arrive for every channel"))
    .catch(() => check(false, "quality verdicts arrive for every channel"));
  const q = await page.evaluate(() => window.np.quality);
  check(q.Pz && q.Pz.flags.join() === "flat", `the flat channel is flat: ${q.Pz && q.Pz.flags}`);
  check(q.C3 && q.C3.flags.join() === "railed", `the railed channel is railed: ${q.C3 && q.C3.flags}`);
  check(q.Cz && q.Cz.verdict === "good", `a working channel is good: ${q.Cz && q.Cz.flags}`);
  const chip = await page.$eval('#quality .q[data-channel="Pz"]', (c) => ({ cls: c.className, title: c.title }));
  check(/q-bad/.test(chip.cls) && /Pz: flat/.test(chip.title) && /sd 0 µV/.test(chip.title), `Pz chip: ${chip.cls} ${JSON.stringify(chip.title)}`);
  await sleep(300);
  const drawn = await page.evaluate(() => window.np.qualityDrawn);
  check(drawn.includes("Pz:bad") && drawn.includes("Cz:good"), `verdict dots drawn beside the traces: ${drawn.join(" ")}`);
  const rows = await page.evaluate(() => window.np.traceRows);
  const box2 = await page.$eval("#trace", (c) => ({ h: c.clientHeight }));
  await page.hover("#trace", { position: { x: 20, y: (rows.indexOf("Pz") + 0.5) * box2.h / rows.length } });
  const tip = await page.$eval("#trace", (c) => c.title);
  check(/^Pz: flat/.test(tip), `hovering the Pz trace shows its figures: ${JSON.stringify(tip)}`);
  const prom = await (await fetch(URL + "/metrics")).text();
  check(/neuropipe_readout_problems\{stage="quality",type="SignalQuality",row="Pz",flag="flat"\} 1/.test(prom), "/metrics has the verdict per channel and flag");
  await page.screenshot({ path: SHOTS + "/quality.png", clip: await page.$eval("#trace-panel", (e) => {
    const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; }) });

  // 11. Recording from the console: Record starts a new file (name, duration, size shown), a
  // marker goes into it, Stop closes it (the shell script then opens it with MNE).
  check(await page.$eval("#rec", (e) => !e.hidden), "the Record button is shown (the pipeline has a recorder)");
  await page.click("#rec-btn");
  await page.waitForFunction(() => window.np.recording.some((r) => r.on && r.duration >= 1.2), null, { timeout: 15000 })
    .then(() => check(true, "Record starts a file that grows"))
    .catch(async () => check(false, "Record starts a file that grows: " + JSON.stringify(await page.evaluate(() => window.np.recording))));
  const recText = await page.$eval("#rec-status", (e) => e.textContent);
  check(/recording dash_1\.bdf · 0:0[1-9] · [\d.]+ kB/.test(recText), `file, duration and size shown: ${recText}`);
  check(await page.$eval("#rec-btn", (b) => b.textContent) === "■ Stop recording", "the button turns into Stop");
  await page.fill("#mark-text", "while recording");
  await page.click("#mark");
  await page.waitForFunction(() => window.np.markers.some((m) => m.text === "while recording"), null, { timeout: 5000 }).catch(() => {});
  await page.screenshot({ path: SHOTS + "/recording.png" });
  await page.click("#rec-btn");
  await page.waitForFunction(() => window.np.recording.length && window.np.recording.every((r) => !r.on), null, { timeout: 15000 })
    .then(() => check(true, "Stop closes the file"))
    .catch(() => check(false, "Stop closes the file"));
  const rec = await api("/api/recording");
  check(rec.recorders[0].file.endsWith("dash_1.bdf") && rec.recorders[0].size_bytes > 1000 && rec.recorders[0].files === 1,
    `GET /api/recording: ${JSON.stringify(rec.recorders[0])}`);

  await page.screenshot({ path: SHOT });
  console.log("screenshot: " + SHOT);
} catch (e) {
  failed++;
  console.log("FAIL " + e.message);
} finally {
  await browser.close();
}
console.log(`dashboard: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
