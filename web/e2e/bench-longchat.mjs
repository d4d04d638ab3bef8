// Benchmark: how the web client copes with a long chat (see docs/benchmarks.md, "Web client: long chats").
//
//   cd web && npm run build && PIGEON_PYTHON=../.venv/bin/python node e2e/bench-longchat.mjs
//   node e2e/bench-longchat.mjs --loaded 2000 --burst 500 --history 10000 --label after
//
// Seeds `--loaded` messages through the HTTP API, opens the chat in headless Chromium, loads all
// of them by scrolling up, then another person sends `--burst` messages. Records long tasks
// (PerformanceObserver "longtask") and, per message, the time from the frame's arrival in the page
// to its row being in the DOM. Then, in a chat with `--history` messages, the time between frames
// while scrolling up through all of it. Writes JSON to bench/results/longchat-<label>-<time>.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { REPO_ROOT, apiFor, launchBrowser, newPerson, sleep, startServer } from "./harness.mjs";
import {
  armProbes, befriendApi, installProbes, loadAllHistory, percentile, registerApi, renderedSeqs, scrollFrames,
  scrollToBottom, sendMany, variedText, waitShown,
} from "./longchat.mjs";

const { values: opt } = parseArgs({
  options: {
    loaded: { type: "string", default: "2000" },
    burst: { type: "string", default: "500" },
    history: { type: "string", default: "10000" },
    label: { type: "string", default: "run" },
    "burst-timeout": { type: "string", default: "300" },
  },
});
const LOADED = Number(opt.loaded);
const BURST = Number(opt.burst);
const HISTORY = Number(opt.history);

// The burst goes over HTTP; the socket flood limit is not what is measured.
process.env.PIGEON_GATEWAY__RATE_PER_S ??= "100000";
process.env.PIGEON_GATEWAY__RATE_BURST ??= "100000";

const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const round = (x) => (x === null ? null : Math.round(x * 10) / 10);
function summary(xs) {
  return { count: xs.length, p50: round(percentile(xs, 50)), p95: round(percentile(xs, 95)), p99: round(percentile(xs, 99)), max: round(xs.length ? Math.max(...xs) : null) };
}

async function openLongChat(browser, base, size, tag) {
  const reader = await newPerson(browser, base, `Reader${tag}`);
  const sender = await registerApi(base, `sender${tag}${Date.now().toString(36)}`);
  const me = { id: reader.id, api: apiFor(base, reader.token) };
  const cid = await befriendApi(sender, me);
  const t0 = Date.now();
  const seeded = await sendMany(sender, cid, size, { concurrency: 6, text: (i) => variedText("Seed", i), tag: `seed${tag}` });
  log(`seeded ${size} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await me.api("POST", `/conversations/${cid}/read`, { seq: seeded[seeded.length - 1].seq });
  await reader.context.addInitScript(installProbes);
  await reader.page.goto(`/c/${cid}`);
  await reader.page.getByTestId("messages").waitFor();
  await armProbes(reader.page);
  const t1 = Date.now();
  await loadAllHistory(reader.page);
  log(`loaded ${size} messages in the page in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  await scrollToBottom(reader.page);
  return { reader, sender, cid, seeded, loadSeconds: (Date.now() - t1) / 1000 };
}

async function burstRun(browser, base) {
  const { reader, sender, cid, seeded, loadSeconds } = await openLongChat(browser, base, LOADED, "b");
  const page = reader.page;
  await sleep(2000);
  const domBefore = await page.evaluate(() => document.querySelectorAll("*").length);
  const tStart = await page.evaluate(() => performance.now());
  log(`sending a burst of ${BURST}`);
  const sendStart = Date.now();
  const acks = await sendMany(sender, cid, BURST, { concurrency: 4, text: (i) => `Burst ${i}`, tag: "burst" });
  const sendSeconds = (Date.now() - sendStart) / 1000;
  const lastSeq = acks[acks.length - 1].seq;
  let complete = true;
  try {
    await waitShown(page, lastSeq, Number(opt["burst-timeout"]) * 1000);
  } catch {
    complete = false;
  }
  await sleep(1500);
  const probe = await page.evaluate(() => ({ arrived: window.__probe.arrived, shown: window.__probe.shown, longtasks: window.__probe.longtasks }));
  const tasks = probe.longtasks.filter((t) => t.start >= tStart).map((t) => t.duration);
  // A row counts as visible when it, or a newer one, is in the DOM: in a burst the list may
  // jump past a row in one frame (the row then shows only when scrolled to).
  const seqs = acks.map((a) => a.seq);
  const shownAt = seqs.map((s) => probe.shown[s] ?? Infinity);
  for (let k = shownAt.length - 2; k >= 0; k--) shownAt[k] = Math.min(shownAt[k], shownAt[k + 1]);
  const latencies = [];
  let missing = 0;
  seqs.forEach((s, k) => {
    const a = probe.arrived[s];
    if (a === undefined || !Number.isFinite(shownAt[k])) { missing++; return; }
    latencies.push(Math.max(0, shownAt[k] - a));
  });
  const domAfter = await page.evaluate(() => document.querySelectorAll("*").length);
  const rows = (await renderedSeqs(page)).length;
  await reader.context.close();
  return {
    loaded: seeded.length, burst: BURST, complete, send_seconds: round(sendSeconds), history_load_seconds: round(loadSeconds),
    longtasks: { ...summary(tasks), total_ms: round(tasks.reduce((a, b) => a + b, 0)), over_50ms: tasks.filter((d) => d > 50).length },
    arrival_to_visible_ms: { ...summary(latencies), over_100ms: latencies.filter((d) => d > 100).length, missing },
    dom_elements: { before: domBefore, after: domAfter, message_rows_after: rows },
  };
}

async function scrollRun(browser, base) {
  const { reader } = await openLongChat(browser, base, HISTORY, "s");
  const page = reader.page;
  await sleep(1000);
  const tStart = await page.evaluate(() => performance.now());
  const deltas = [];
  for (let pass = 0; pass < 200; pass++) {
    const d = await scrollFrames(page, { px: 240, frames: 600 });
    deltas.push(...d);
    if (d.length < 600) break;
  }
  const tasks = (await page.evaluate(() => window.__probe.longtasks)).filter((t) => t.start >= tStart).map((t) => t.duration);
  const dom = await page.evaluate(() => document.querySelectorAll("*").length);
  await reader.context.close();
  return {
    history: HISTORY, frames: deltas.length, frame_ms: summary(deltas), frames_over_33ms: deltas.filter((d) => d > 33.4).length,
    frames_over_50ms: deltas.filter((d) => d > 50).length, longtasks: { ...summary(tasks), over_50ms: tasks.filter((d) => d > 50).length },
    dom_elements: dom,
  };
}

const server = await startServer();
let browser = null;
const result = { label: opt.label, started: new Date().toISOString(), machine: { cpus: cpus().length, load: loadavg() } };
try {
  browser = await launchBrowser();
  if (BURST > 0) {
    result.burst = await burstRun(browser, server.base);
    log("burst:", JSON.stringify(result.burst));
  }
  if (HISTORY > 0) {
    result.scroll = await scrollRun(browser, server.base);
    log("scroll:", JSON.stringify(result.scroll));
  }
} finally {
  await browser?.close().catch(() => undefined);
  await server.stop();
}
result.finished = new Date().toISOString();
const dir = join(REPO_ROOT, "bench", "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `longchat-${opt.label}-${result.started.replace(/[-:]/g, "").slice(0, 15)}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
log(`wrote ${file}`);
