import { CLOSE, type AckFrame, type ClientFrame, type ErrorFrame, type HelloFrame, type MessagesFrame, type ServerFrame } from "./protocol";

/** The subset of the browser WebSocket the client uses, so tests can pass a fake. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export type ConnState =
  | "idle"          // not started
  | "connecting"    // socket opening
  | "authenticating"// auth sent, waiting for hello
  | "online"        // hello received
  | "waiting"       // disconnected, a reconnect is scheduled (backoff)
  | "kicked"        // closed for good: this device was logged out (4003) or the account has too many connections open (4005); no auto-reconnect
  | "stopped";      // stopped on purpose or the session ended

export interface BackoffOptions { base: number; max: number; factor: number }

export interface ProtocolClientOptions {
  url: string | (() => string | Promise<string>);
  /** Returns an access token; `force` asks for a refreshed one (after the server refused the last). */
  getToken: (force: boolean) => Promise<string | null>;
  socketFactory?: SocketFactory;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
  /** How long a request frame (send/sync/recall) waits for its answer. */
  requestTimeoutMs?: number;
  /** How long to wait for `hello` after the socket opened. */
  helloTimeoutMs?: number;
}

type Listener<T> = (v: T) => void;
interface Events {
  state: { state: ConnState; attempt: number; retryInMs?: number; reason?: string };
  hello: HelloFrame;
  frame: ServerFrame;
  kicked: { reason: string };
  unauthorized: void;
}

export class RequestError extends Error {
  /** `retryAfterMs`: how long a `rate_limited` refusal asks to wait. */
  constructor(readonly code: string, message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = "RequestError";
  }
}

const OPEN = 1;

/** Delay before reconnect attempt `attempt` (0-based): exponential with "equal jitter". */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  const cap = Math.min(o.max, o.base * Math.pow(o.factor, attempt));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * Framework-free client for Pigeon's WebSocket protocol: connects, authenticates, keeps the
 * heartbeat, matches request frames to their answers by `ref`, and reconnects with exponential
 * backoff and jitter. It knows nothing of Vue; the app listens to its events.
 */
export class ProtocolClient {
  state: ConnState = "idle";
  attempt = 0;
  hello: HelloFrame | null = null;

  private ws: SocketLike | null = null;
  private readonly opts: ProtocolClientOptions;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly factory: SocketFactory;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private forceRefresh = false;
  private authFailures = 0;
  private refCounter = 0;
  private generation = 0;
  private pending = new Map<string, { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(opts: ProtocolClientOptions) {
    this.opts = opts;
    this.backoff = { base: 500, max: 30_000, factor: 2, ...opts.backoff };
    this.random = opts.random ?? Math.random;
    this.factory = opts.socketFactory ?? ((url) => new WebSocket(url) as unknown as SocketLike);
  }

  on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => { set.delete(fn as Listener<never>); };
  }

  private emit<K extends keyof Events>(type: K, v: Events[K]): void {
    const set = this.listeners.get(type) as Set<Listener<Events[K]>> | undefined;
    if (set) for (const fn of [...set]) {
      try { fn(v); } catch (e) { console.error("pigeon: listener failed", e); }
    }
  }

  private setState(state: ConnState, extra: { retryInMs?: number; reason?: string } = {}): void {
    this.state = state;
    this.emit("state", { state, attempt: this.attempt, ...extra });
  }

  get online(): boolean { return this.state === "online"; }

  /** Start (or restart after `kicked`/`stopped`) connecting. */
  start(): void {
    if (this.state === "connecting" || this.state === "authenticating" || this.state === "online") return;
    this.clearReconnect();
    this.attempt = 0;
    void this.connect();
  }

  /** Close and do not reconnect. */
  stop(reason = "stopped"): void {
    this.generation++;
    this.clearReconnect();
    this.teardown(1000, reason);
    this.setState("stopped", { reason });
  }

  /** Drop any wait and connect now (e.g. the browser came back online, or the server asked). */
  reconnectNow(): void {
    if (this.state === "stopped" || this.state === "kicked") return;
    if (this.state === "online" || this.state === "connecting" || this.state === "authenticating") {
      this.teardown(4000, "reconnect");
    }
    this.clearReconnect();
    void this.connect();
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.setState("connecting");
    const token = await this.opts.getToken(this.forceRefresh).catch(() => null);
    if (gen !== this.generation) return;
    this.forceRefresh = false;
    if (!token) {
      this.setState("stopped", { reason: "unauthorized" });
      this.emit("unauthorized", undefined);
      return;
    }
    const url = typeof this.opts.url === "function" ? await this.opts.url() : this.opts.url;
    if (gen !== this.generation) return;
    let ws: SocketLike;
    try {
      ws = this.factory(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      this.setState("authenticating");
      this.raw({ type: "auth", token });
      this.helloTimer = setTimeout(() => {
        if (gen === this.generation && this.state === "authenticating") this.teardown(4002, "no hello");
        if (gen === this.generation) this.scheduleReconnect();
      }, this.opts.helloTimeoutMs ?? 10_000);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.onMessage(ev.data);
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.onClose(ev.code);
    };
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let frame: ServerFrame;
    try { frame = JSON.parse(data) as ServerFrame; } catch { return; }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    this.armWatchdog();
    switch (frame.type) {
      case "hello":
        this.hello = frame;
        this.attempt = 0;
        this.authFailures = 0;
        if (this.helloTimer) { clearTimeout(this.helloTimer); this.helloTimer = null; }
        this.startHeartbeat(frame.heartbeat_interval, frame.heartbeat_timeout);
        this.setState("online");
        this.emit("hello", frame);
        break;
      case "kicked":
        this.generation++;
        this.teardown(1000, "kicked");
        this.setState("kicked", { reason: frame.reason });
        this.emit("kicked", { reason: frame.reason });
        return;
      case "reconnect":
        this.generation++;
        this.teardown(1000, "server asked");
        this.attempt = 0;
        this.scheduleReconnect(Math.round(this.random() * 250));
        return;
      case "ack":
      case "messages":
      case "error": {
        const ref = frame.ref;
        if (ref && this.pending.has(ref)) {
          const p = this.pending.get(ref)!;
          this.pending.delete(ref);
          clearTimeout(p.timer);
          if (frame.type === "error") p.reject(new RequestError(frame.code, frame.message, frame.retry_after_ms));
          else p.resolve(frame);
        }
        break;
      }
    }
    this.emit("frame", frame);
  }

  private onClose(code: number): void {
    this.clearTimers();
    this.ws = null;
    this.failPending("disconnected");
    if (code === CLOSE.KICKED || code === CLOSE.TOO_MANY_CONNECTIONS) {
      const why = code === CLOSE.KICKED ? "device_logged_out" : "too_many_connections";
      this.setState("kicked", { reason: why });
      this.emit("kicked", { reason: why });
      return;
    }
    if (code === CLOSE.AUTH_FAILED) {
      this.authFailures++;
      this.forceRefresh = true;
      if (this.authFailures >= 3) {
        this.setState("stopped", { reason: "unauthorized" });
        this.emit("unauthorized", undefined);
        return;
      }
    }
    if (code === CLOSE.RESTART) {
      this.attempt = 0;
      this.scheduleReconnect(Math.round(this.random() * 250));
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(delay?: number): void {
    this.clearReconnect();
    this.teardown(1000, "reconnecting");
    const ms = delay ?? backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.setState("waiting", { retryInMs: ms });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, ms);
  }

  private startHeartbeat(interval: number, timeout: number): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    const every = interval > 0 ? interval : 25_000;
    this.pingTimer = setInterval(() => this.raw({ type: "ping" }), every);
    this.watchdogMs = timeout > 0 ? timeout : every * 2.4;
    this.armWatchdog();
  }

  private watchdogMs = 0;
  private armWatchdog(): void {
    if (!this.watchdogMs) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      // Nothing heard for too long: the connection is dead even if the socket has not noticed.
      const gen = ++this.generation;
      void gen;
      this.clearTimers();
      this.teardown(CLOSE.HEARTBEAT_TIMEOUT, "heartbeat timeout");
      this.failPending("disconnected");
      this.scheduleReconnect();
    }, this.watchdogMs);
  }

  private clearTimers(): void {
    if (this.pingTimer) { clearInterval(this.pingTimer); this.pingTimer = null; }
    if (this.watchdog) { clearTimeout(this.watchdog); this.watchdog = null; }
    if (this.helloTimer) { clearTimeout(this.helloTimer); this.helloTimer = null; }
    this.watchdogMs = 0;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null; }
  }

  private teardown(code: number, reason: string): void {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try { ws.close(code >= 4000 || code === 1000 ? code : 1000, reason); } catch { /* already closed */ }
    }
    this.failPending("disconnected");
  }

  private failPending(code: string): void {
    for (const [ref, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RequestError(code, "Connection lost"));
      this.pending.delete(ref);
    }
  }

  private raw(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Send a fire-and-forget frame (read, typing). Returns false when not online. */
  send(frame: ClientFrame): boolean {
    if (this.state !== "online") return false;
    return this.raw(frame);
  }

  nextRef(): string {
    return `r${++this.refCounter}`;
  }

  /** Send a frame with a `ref` and wait for its ack/messages/error answer. */
  request<T extends AckFrame | MessagesFrame>(frame: ClientFrame & { ref: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.state !== "online" || !this.raw(frame)) {
        reject(new RequestError("offline", "Not connected"));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(frame.ref);
        reject(new RequestError("timeout", "No answer from Pigeon"));
      }, this.opts.requestTimeoutMs ?? 10_000);
      this.pending.set(frame.ref, { resolve: resolve as (f: ServerFrame) => void, reject, timer });
    });
  }
}

export type { ErrorFrame };
