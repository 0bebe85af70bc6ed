// The `Holdfast` class behind both package entries: `index.js` (the WebAssembly inlined) and
// `slim.js` (the app hosts the .wasm). It extends EventTarget and behaves like WebSocket where
// WebSocket has an answer.
//
// The engine (`HoldfastCore`, in WebAssembly) loads lazily and asynchronously: importing this file
// touches nothing browser-only (SSR-safe) and has no top-level await (so it bundles into workers
// and every bundler's default output format). A client constructed before the engine is ready is
// CONNECTING; what it is sent meanwhile is queued here, in order, and handed to the engine the
// moment it is ready, exactly as sends before `open` are queued by the engine itself.
import init, { HoldfastCore, debugCounts as engineCounts } from "./holdfast_wasm.js";

const EVENTS = ["open", "message", "close", "reconnecting", "transport", "gap", "error"];
/** The engine's `send` answers with a number (no string per send); these are their names. */
const SEND_OUTCOMES = ["sent", "queued", "rejected"];
const STATES = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

/** The engine's loading promise, once asked for; `ready` is true once it has resolved. */
let engine = null;
let ready = false;
/** Why the last load failed, until a new one starts. */
let failure = null;

/**
 * Loads the engine once from what `source()` returns (bytes, a URL, a Response, a Module...).
 * A failed load is forgotten so a later call can try again (a slim app's fetch may fail once).
 */
export function load(source) {
  if (!engine) {
    failure = null;
    engine = Promise.resolve()
      .then(() => init({ module_or_path: source() }))
      .then(() => { ready = true; });
    engine.catch((err) => {
      engine = null;
      failure = err;
    });
  }
  return engine;
}

/**
 * Whether `load` has asked for the engine (slim.js refuses to construct before that): "no",
 * "yes", or the reason the last attempt failed.
 */
export function loading() {
  if (engine) return "yes";
  return failure ? String((failure && failure.message) || failure) : "no";
}

/** Live JS resources held by every client: sockets, listeners, timers, clients, requests. */
export function debugCounts() {
  return ready
    ? engineCounts()
    : { sockets: 0, listeners: 0, timers: 0, clients: 0, requests: 0, wasmMemoryBytes: 0 };
}

let encoder = null;
function byteLength(data) {
  if (typeof data === "string") return (encoder ||= new TextEncoder()).encode(data).length;
  return data.byteLength;
}

/** A copy the app cannot change after `send` returns (the engine copies too). */
function own(data) {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  throw new TypeError("send accepts a string, an ArrayBuffer or an ArrayBuffer view");
}

/**
 * The engine's defaults for the send queue (src/config.rs `Config::default`; a host test,
 * tests/package_defaults.rs, checks they agree). Early sends are bounded by the same rules.
 */
const QUEUE_DEFAULTS = { queueMaxMessages: 1000, queueMaxBytes: 1048576, maxMessageBytes: 1048576 };

/** The bounds the engine will apply; an invalid value is the engine's to report, so default. */
function queueLimits(options) {
  const read = (key) => {
    const v = options != null && typeof options === "object" ? options[key] : undefined;
    return Number.isSafeInteger(v) && v >= 0 ? v : QUEUE_DEFAULTS[key];
  };
  return {
    messages: read("queueMaxMessages"),
    bytes: read("queueMaxBytes"),
    messageBytes: read("maxMessageBytes"),
    dropOldest: options != null && typeof options === "object" && options.overflow === "drop-oldest",
  };
}

/** The close rules the engine applies (WebSocket's): 1000 or 3000–4999, reason ≤ 123 bytes. */
function checkClose(code, reason) {
  if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999 && Number.isInteger(code))) {
    throw new TypeError(`close code ${code} is not 1000 or in 3000-4999`);
  }
  if (reason !== undefined && byteLength(String(reason)) > 123) {
    throw new TypeError("close reason is longer than 123 bytes");
  }
}

function makeEvent(type, detail) {
  let ev;
  if (type === "close" && typeof CloseEvent === "function") {
    ev = new CloseEvent("close", { code: detail.code, reason: detail.reason, wasClean: detail.wasClean });
  } else {
    ev = new Event(type);
    for (const [k, v] of Object.entries(detail)) {
      Object.defineProperty(ev, k, { value: v, enumerable: true });
    }
  }
  return ev;
}

/** `onopen`, `onmessage`...: per instance, the handler and the listener that calls it. */
const handlers = new WeakMap();

/**
 * Defines the `Holdfast` class for one entry. `start()` returns the engine's loading promise
 * (index.js: load the inlined bytes; slim.js: the promise `initHoldfast(url)` began, or a throw).
 */
export function defineHoldfast(start) {
  /** A managed real-time connection. See index.d.ts for every option and event. */
  class Holdfast extends EventTarget {
    #core = null;
    /** Sends made before the engine was ready, in order, with their sizes. */
    #early = [];
    #earlyBytes = 0;
    /** The queue bounds the engine will apply, applied to `#early` meanwhile. */
    #limits;
    /** `[code, reason]` when `close` was called before the engine was ready. */
    #closeAsked = null;
    /** Set when the engine could not be started for this client (load failed, bad options). */
    #failed = false;
    #url;
    #binaryType = "arraybuffer";

    constructor(url, options = {}) {
      super();
      let target = url;
      if (typeof url === "string" || url instanceof URL) {
        // Relative URLs resolve against the page, like `fetch`.
        const base = globalThis.location ? globalThis.location.href : undefined;
        target = new URL(String(url), base).href;
      } else if (typeof url !== "function") {
        throw new TypeError("url must be a string, a URL or a function");
      }
      this.#url = target;
      this.#limits = queueLimits(options);
      if (ready) {
        // The engine is here: bad options throw from the constructor, as they always should.
        this.#start(options);
        return;
      }
      start().then(
        () => {
          try {
            this.#start(options);
          } catch (err) {
            this.#fail("invalid-options", err);
          }
        },
        (err) => this.#fail("init-failed", err),
      );
    }

    #start(options) {
      // A message arrives as (0, data): the engine makes no object or string per message.
      this.#core = new HoldfastCore(this.#url, options, (type, detail) =>
        type === 0 ? this.#message(detail) : this.#dispatch(type, detail));
      const early = this.#early;
      this.#early = [];
      this.#earlyBytes = 0;
      for (const [data] of early) this.#core.send(data); // within the limits: accepted
      if (this.#closeAsked) this.#core.close(...this.#closeAsked);
    }

    /** The engine never started: report why, account for what was queued, close once. */
    #fail(kind, err) {
      if (this.#failed) return;
      this.#failed = true;
      const count = this.#early.length;
      this.#early = [];
      this.#earlyBytes = 0;
      const message = String((err && err.message) || err);
      this.#dispatch("error", { kind, message, error: err });
      if (count > 0) {
        this.#dispatch("error", {
          kind: "queue-discarded",
          message: `closed with ${count} message(s) never acknowledged`,
        });
      }
      this.#dispatch("close", { code: 1006, reason: message.slice(0, 123), wasClean: false });
    }

    #message(data) {
      if (this.#binaryType === "blob" && data instanceof ArrayBuffer) data = new Blob([data]);
      // A bare MessageEvent with `data` defined on it: converting the init dictionary of
      // `new MessageEvent(type, { data })` costs about as much as the dispatch itself (Chromium
      // microbenchmarks in BENCHMARKS.md, "Hot path"), and this is still a MessageEvent.
      const ev = new MessageEvent("message");
      Object.defineProperty(ev, "data", { value: data });
      this.dispatchEvent(ev);
    }

    #dispatch(type, detail) {
      // Listeners (and `onX` handlers, which are listeners) that throw are reported by the
      // platform and do not stop the others or the client.
      this.dispatchEvent(makeEvent(type, detail));
    }

    /** Sends a string, ArrayBuffer or typed array: returns "sent", "queued" or "rejected". */
    send(data) {
      if (this.#core) return SEND_OUTCOMES[this.#core.send(data)];
      // As the engine does after close: refused, with no event.
      if (this.#failed || this.#closeAsked) return "rejected";
      const owned = own(data);
      const size = byteLength(owned);
      const { messages, bytes, messageBytes, dropOldest } = this.#limits;
      // The engine's rules, applied here until it takes over: the same outcome, the same event.
      if (size > messageBytes) {
        this.#dispatch("error", {
          kind: "message-too-big",
          message: `message of ${size} bytes exceeds maxMessageBytes ${messageBytes}`,
        });
        return "rejected";
      }
      const fits = () => this.#early.length < messages && this.#earlyBytes + size <= bytes;
      if (size > bytes || (!fits() && !dropOldest)) {
        this.#dispatch("error", { kind: "queue-full", message: "send queue full; message rejected" });
        return "rejected";
      }
      let dropped = 0;
      while (!fits() && this.#early.length > 0) {
        this.#earlyBytes -= this.#early.shift()[1];
        dropped++;
      }
      this.#early.push([owned, size]);
      this.#earlyBytes += size;
      if (dropped > 0) {
        this.#dispatch("error", {
          kind: "queue-overflow",
          message: `send queue full; dropped ${dropped} oldest message(s)`,
        });
      }
      return "queued";
    }

    /** Closes for good; exactly one "close" event follows. */
    close(code, reason) {
      if (this.#core) return this.#core.close(code, reason);
      checkClose(code, reason);
      if (!this.#failed && !this.#closeAsked) this.#closeAsked = [code, reason];
    }

    /** Resolves on the next "open" (at once if open now); rejects if the client closes first. */
    ready() {
      if (this.readyState === STATES.OPEN) return Promise.resolve();
      if (this.readyState === STATES.CLOSED) return Promise.reject(new Error("holdfast is closed"));
      return new Promise((resolve, reject) => {
        const onOpen = () => { cleanup(); resolve(); };
        const onClose = (e) => { cleanup(); reject(new Error(`holdfast closed: ${e.code} ${e.reason}`)); };
        const cleanup = () => {
          this.removeEventListener("open", onOpen);
          this.removeEventListener("close", onClose);
        };
        this.addEventListener("open", onOpen);
        this.addEventListener("close", onClose);
      });
    }

    /** 0 CONNECTING (also while reconnecting or loading), 1 OPEN, 3 CLOSED. */
    get readyState() {
      if (this.#core) return this.#core.readyState;
      return this.#failed ? STATES.CLOSED : STATES.CONNECTING;
    }
    /** "connecting" | "open" | "reconnecting" | "closed" */
    get state() {
      if (this.#core) return this.#core.state;
      return this.#failed ? "closed" : "connecting";
    }
    /** The transport in use, or null. */
    get transport() { return this.#core ? this.#core.transport : null; }
    /** Bytes accepted by send() and not yet acknowledged by the server (queued or in flight). */
    get bufferedAmount() { return this.#core ? this.#core.bufferedAmount : this.#earlyBytes; }
    /** The URL given to the constructor, made absolute; "" when it was a function. */
    get url() { return typeof this.#url === "string" ? this.#url : ""; }
    /** WebSocket's negotiated subprotocol: holdfast negotiates none, so always "". */
    get protocol() { return ""; }
    /** WebSocket's negotiated extensions: always "" (the browser's compression is not exposed). */
    get extensions() { return ""; }
    /** How binary messages arrive: "arraybuffer" (the default) or "blob". */
    get binaryType() { return this.#binaryType; }
    set binaryType(v) {
      // WebSocket ignores values it does not know; so do we.
      if (v === "arraybuffer" || v === "blob") this.#binaryType = v;
    }
    /** Counters: rttMs, reconnects, transport, messages and bytes each way, queued, probes. */
    stats() {
      if (this.#core) return this.#core.stats();
      return {
        rttMs: null, reconnects: 0, transport: null, messagesSent: 0, messagesReceived: 0,
        bytesSent: 0, bytesReceived: 0, queued: this.#early.length, queuedBytes: this.#earlyBytes,
        attempt: 0, probes: 0,
      };
    }

    static {
      for (const [name, value] of Object.entries(STATES)) {
        Object.defineProperty(this, name, { value, enumerable: true });
        Object.defineProperty(this.prototype, name, { value, enumerable: true });
      }
      // Event handler properties, as WebSocket's: setting one replaces the previous handler in
      // its place among the listeners; null (or a non-function) removes it.
      for (const type of EVENTS) {
        Object.defineProperty(this.prototype, "on" + type, {
          enumerable: true,
          get() {
            const slot = handlers.get(this)?.[type];
            return slot ? slot.fn : null;
          },
          set(fn) {
            let own = handlers.get(this);
            if (!own) handlers.set(this, (own = {}));
            const slot = own[type];
            if (typeof fn !== "function") {
              if (slot) this.removeEventListener(type, slot.listener);
              delete own[type];
            } else if (slot) {
              slot.fn = fn;
            } else {
              const entry = { fn, listener: null };
              entry.listener = (ev) => entry.fn.call(this, ev);
              own[type] = entry;
              this.addEventListener(type, entry.listener);
            }
          },
        });
      }
    }
  }
  return Holdfast;
}
