// Test harness: starts a real Pigeon server and headless Chromium for the end-to-end tests.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { deflateSync } from "node:zlib";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = resolve(here, "..");
export const REPO_ROOT = resolve(WEB_DIR, "..");
/** The built client to serve; PIGEON_WEB_DIST points elsewhere (e.g. an older build to compare). */
export const DIST = process.env.PIGEON_WEB_DIST ? resolve(process.env.PIGEON_WEB_DIST) : join(WEB_DIR, "dist");
export const SHOTS = join(here, "screenshots");
mkdirSync(SHOTS, { recursive: true });

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export async function startServer() {
  assert.ok(existsSync(join(DIST, "index.html")), `web/dist is missing: run "npm run build" first`);
  const python = process.env.PIGEON_PYTHON || "python3";
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "pigeon-e2e-"));
  const args = ["-m", "pigeon", "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--web-dir", DIST];
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  let proc = null;
  let exited = null;

  async function spawnAndWait() {
    exited = null;
    proc = spawn(python, args, { cwd: REPO_ROOT, env: { ...process.env, PYTHONUNBUFFERED: "1", PIGEON_AUTH__REGISTER_PER_ADDRESS: "1000000", PIGEON_UPLOADS__RATE_PER_USER: "1000000" }, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout.on("data", (d) => (log += d));
    proc.stderr.on("data", (d) => (log += d));
    proc.on("exit", (code, sig) => (exited = { code, sig }));
    proc.on("error", (e) => (exited = { error: e.message }));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`Pigeon exited before it was healthy (${JSON.stringify(exited)}):\n${log}`);
      try {
        const r = await fetch(`${base}/healthz`);
        if (r.ok) return;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`Pigeon did not answer /healthz within 30 s:\n${log}`);
      }
      await sleep(200);
    }
  }

  async function kill() {
    if (proc && !exited) {
      proc.kill("SIGTERM");
      const t = Date.now();
      while (!exited && Date.now() - t < 8000) await sleep(100);
      if (!exited) proc.kill("SIGKILL");
      while (!exited) await sleep(50);
    }
  }

  await spawnAndWait();
  return {
    base,
    port,
    log: () => log,
    /** Stop the server (clients see it go away). */
    halt: kill,
    /** Start it again on the same port with the same data. */
    resume: spawnAndWait,
    async stop() {
      try {
        mkdirSync(join(WEB_DIR, "test-results"), { recursive: true });
        writeFileSync(join(WEB_DIR, "test-results", "pigeon-server.log"), log);
      } catch { /* best effort */ }
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(extraArgs = [], options = {}) {
  return chromium.launch({
    ...options,
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extraArgs],
  });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A real RGB PNG of the given size; `pixel(x, y)` gives [r, g, b]. */
export function makePng(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw.set([r, g, b], row + 1 + x * 3);
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retry an assertion until it passes or the time is up (then throw its last error). */
export async function eventually(fn, { timeout = 10_000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw last;
    await sleep(interval);
  }
}

export async function texts(locator) {
  return (await locator.allTextContents()).map((s) => s.trim());
}

export function uniq(prefix) {
  return `${prefix}${Date.now().toString(36).slice(-4)}${Math.floor(Math.random() * 1e4)}`;
}

/** Plain HTTP calls to Pigeon for setup steps that are not what a test is about. */
export function apiFor(base, token) {
  return async (method, path, body) => {
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!r.ok) throw new Error(`${method} ${path} -> ${r.status} ${text}`);
    return data;
  };
}

export async function sessionOf(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem("pigeon.session") || "null"));
}

/** A person with a browser context of their own, registered through the UI. */
export async function newPerson(browser, base, name, { viewport = { width: 1280, height: 800 }, register = true } = {}) {
  const context = await browser.newContext({ viewport, baseURL: base });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${name}] page error:`, e.message));
  const username = uniq(name.toLowerCase());
  const password = "pigeon-pass-1";
  if (register) {
    await page.goto("/register");
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="nickname"]', name);
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => !u.pathname.startsWith("/register"), { timeout: 15_000 });
    await page.getByRole("heading", { name: "Chats" }).waitFor();
  }
  const s = register ? await sessionOf(page) : null;
  return { name, username, password, context, page, id: s?.user?.id, token: s?.access_token };
}

export async function shot(page, file) {
  await page.screenshot({ path: join(SHOTS, file), fullPage: false });
}

/**
 * One Pigeon and one headless Chromium for a test file: the hooks that start and stop them, a
 * first test that fails the run if Pigeon cannot start, and the people the tests make (closed
 * at the end). `t.server`, `t.browser` and `t.startError` are set once the `before` hook ran.
 */
export function suite({ browserArgs = [] } = {}) {
  const t = { server: null, browser: null, startError: null, people: [], browsers: [] };
  before(async () => {
    try {
      t.server = await startServer();
    } catch (e) {
      t.startError = e;
    }
    t.browser = await launchBrowser(browserArgs);
    t.browsers.push(t.browser);
  });
  test("Pigeon starts", () => {
    if (t.startError) throw t.startError; // a server that cannot start fails the run
  });
  after(async () => {
    for (const p of t.people) await p.context.close().catch(() => undefined);
    for (const b of t.browsers) await b.close().catch(() => undefined);
    await t.server?.stop();
  });
  /** A registered person in a context of their own (`on`: another browser; `permissions`). */
  t.person = async (name, { on = t.browser, permissions = [], ...opts } = {}) => {
    if (t.startError) throw t.startError;
    const p = await newPerson(on, t.server.base, name, opts);
    if (permissions.length) await p.context.grantPermissions(permissions, { origin: t.server.base });
    p.api = apiFor(t.server.base, p.token);
    t.people.push(p);
    return p;
  };
  /** The API as the person's page is logged in now (its token may have been refreshed). */
  t.api = async (p) => apiFor(t.server.base, (await sessionOf(p.page)).access_token);
  /** Make two people friends; their private conversation's id. */
  t.befriend = async (a, b) => {
    const req = await (await t.api(a))("POST", "/friends/requests", { user_id: b.id, note: "hi" });
    await (await t.api(b))("POST", `/friends/requests/${req.id}/accept`);
    const c = await (await t.api(a))("POST", "/conversations/private", { user_id: b.id });
    return c.id;
  };
  return t;
}
