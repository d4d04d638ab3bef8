// Long-chat helpers shared by the e2e test and the benchmark: seed history through the HTTP API,
// send a burst from another person, and watch in the page when each message arrives and shows.
import assert from "node:assert/strict";
import { apiFor, eventually, sleep } from "./harness.mjs";

/** Register someone through the API (no browser). */
export async function registerApi(base, username) {
  const r = await apiFor(base)("POST", "/auth/register", { username, nickname: username, password: "pigeon-pass-1" });
  return { id: r.user.id, token: r.access_token, username, api: apiFor(base, r.access_token) };
}

export async function befriendApi(a, b) {
  const req = await a.api("POST", "/friends/requests", { user_id: b.id, note: "hi" });
  await b.api("POST", `/friends/requests/${req.id}/accept`);
  const c = await a.api("POST", "/conversations/private", { user_id: b.id });
  return c.id;
}

const WORDS = "the quick brown fox jumps over a lazy dog while pigeons carry notes across town".split(" ");

/** A text of varied length (one to several lines), so rows have different heights. */
export function variedText(label, i) {
  const n = 3 + ((i * 7919) % 40);
  const words = Array.from({ length: n }, (_, k) => WORDS[(i + k) % WORDS.length]);
  if (i % 11 === 0) words.push("https://example.com/page?id=" + i);
  return `${label} ${i}: ${words.join(" ")}`;
}

/**
 * Send `count` texts from `sender` over HTTP with `concurrency` requests in flight. Returns the acks
 * sorted by seq (with concurrency > 1 the server decides the order). `text(i)` makes each body.
 */
export async function sendMany(sender, cid, count, { concurrency = 4, text = (i) => `Message ${i}`, tag = "m" } = {}) {
  const acks = [];
  let next = 0;
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      for (;;) {
        try {
          const body = { text: text(i) };
          const ack = await sender.api("POST", `/conversations/${cid}/messages`, { client_msg_id: `${tag}-${cid}-${i}`, kind: "text", body });
          acks.push({ i, seq: ack.seq, text: body.text });
          break;
        } catch (e) {
          if (!/ -> 429 /.test(e.message)) throw e;
          await sleep(200);
        }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return acks.sort((a, b) => a.seq - b.seq);
}

/**
 * Installed before the app loads: records when each pushed message frame arrives (by seq),
 * and long tasks. `armProbes` then watches the message list for rows as they show.
 */
export function installProbes() {
  const probe = { arrived: {}, shown: {}, longtasks: [] };
  window.__probe = probe;
  const Native = window.WebSocket;
  class Probed extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        if (typeof ev.data !== "string" || !ev.data.startsWith('{"type":"message"')) return;
        const m = /"seq":(\d+)/.exec(ev.data.slice(ev.data.indexOf('"message"')));
        if (m && probe.arrived[m[1]] === undefined) probe.arrived[m[1]] = performance.now();
      });
    }
  }
  window.WebSocket = Probed;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch { /* no longtask support */ }
}

/** Make sure the message list is observed (the chat view may be mounted after load). */
export async function armProbes(page) {
  await page.evaluate(() => {
    const p = window.__probe;
    const list = document.querySelector('[data-testid="messages"]');
    if (!list || p.armedOn === list) return;
    p.armedOn = list;
    const note = (root) => {
      const t = performance.now();
      const rows = root.querySelectorAll ? root.querySelectorAll("[data-seq]") : [];
      for (const el of [root, ...rows]) {
        const s = el.dataset?.seq;
        if (s && p.shown[s] === undefined) p.shown[s] = t;
      }
    };
    note(list);
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) note(n);
      for (const r of records) if (r.type === "attributes" && r.target.dataset?.seq) note(r.target);
    }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-seq"] });
  });
}

/** Seqs of the message rows in the DOM right now, top to bottom. */
export async function renderedSeqs(page) {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid="messages"] [data-seq]')].map((el) => Number(el.dataset.seq)));
}

/** Scroll the list to the top until the first message (seq 1) has been loaded and shown. */
export async function loadAllHistory(page, { timeout = 600_000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const top = await page.evaluate(async () => {
      const el = document.querySelector('[data-testid="messages"]');
      el.dispatchEvent(new WheelEvent("wheel", { deltaY: -1 })); // as the reader would
      el.scrollTop = 0;
      await new Promise((r) => setTimeout(r, 60));
      el.dispatchEvent(new WheelEvent("wheel", { deltaY: -1 }));
      el.scrollTop = 0;
      const seqs = [...el.querySelectorAll("[data-seq]")].map((n) => Number(n.dataset.seq));
      return { min: Math.min(...seqs), start: !!el.querySelector(".start") };
    });
    if (top.min <= 1 && top.start) return;
    if (Date.now() > end) throw new Error(`history did not load in time (at seq ${top.min})`);
  }
}

export async function scrollToBottom(page) {
  await page.evaluate(async () => {
    const el = document.querySelector('[data-testid="messages"]');
    for (let i = 0; i < 5; i++) {
      el.scrollTop = el.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }
  });
}

/**
 * Scroll up from where the list is, `px` per frame for `frames` frames (stopping at the top),
 * and record the time between frames.
 */
export async function scrollFrames(page, { px = 240, frames = 600 } = {}) {
  return page.evaluate(async ({ px, frames }) => {
    const el = document.querySelector('[data-testid="messages"]');
    const deltas = [];
    let last = performance.now();
    for (let i = 0; i < frames && el.scrollTop > 0; i++) {
      el.dispatchEvent(new WheelEvent("wheel", { deltaY: -px }));
      el.scrollTop -= px;
      await new Promise((r) => requestAnimationFrame(r));
      const t = performance.now();
      deltas.push(t - last);
      last = t;
    }
    return deltas;
  }, { px, frames });
}

/** Walk the whole list from the top to the bottom and collect every row's seq and text, in order. */
export async function collectAllRows(page) {
  return page.evaluate(async () => {
    const el = document.querySelector('[data-testid="messages"]');
    const seen = new Map();
    const order = [];
    el.dispatchEvent(new WheelEvent("wheel", { deltaY: -1 }));
    el.scrollTop = 0;
    for (let guard = 0; guard < 100_000; guard++) {
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      for (const row of el.querySelectorAll("[data-seq]")) {
        const seq = Number(row.dataset.seq);
        if (!seen.has(seq)) {
          seen.set(seq, row.querySelector('[data-testid="message-text"]')?.textContent ?? "");
          order.push(seq);
        }
      }
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 2) break;
      el.dispatchEvent(new WheelEvent("wheel", { deltaY: 1 }));
      el.scrollTop += Math.max(100, el.clientHeight - 80);
    }
    return order.map((seq) => ({ seq, text: seen.get(seq) }));
  });
}

export async function waitShown(page, seq, timeout = 120_000) {
  await eventually(async () => assert.ok(await page.evaluate((s) => window.__probe.shown[s] !== undefined, seq), `seq ${seq} not shown`), { timeout, interval: 200 });
}

export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
