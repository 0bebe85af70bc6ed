// holdfast: a browser real-time client that never silently loses a connection or a message.
// This file is the package entry. It wraps the WebAssembly engine (`HoldfastCore`) in a class
// that extends EventTarget and behaves like WebSocket where WebSocket has an answer.
import init, { HoldfastCore, debugCounts } from "./holdfast_wasm.js";

let ready = null;
/** Loads the WebAssembly module once. Called for you by the constructor's first use. */
export function initHoldfast(moduleOrPath) {
  if (!ready) ready = init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
  return ready;
}
await initHoldfast();

function makeEvent(type, detail) {
  let ev;
  if (type === "message") {
    ev = new MessageEvent("message", { data: detail.data });
  } else if (type === "close" && typeof CloseEvent === "function") {
    ev = new CloseEvent("close", { code: detail.code, reason: detail.reason, wasClean: detail.wasClean });
  } else {
    ev = new Event(type);
    for (const [k, v] of Object.entries(detail)) {
      Object.defineProperty(ev, k, { value: v, enumerable: true });
    }
  }
  return ev;
}

const EVENTS = ["open", "message", "close", "reconnecting", "transport", "gap", "error"];

/**
 * A managed real-time connection. See index.d.ts for every option and event.
 */
export class Holdfast extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  #core;

  constructor(url, options = {}) {
    super();
    for (const t of EVENTS) this["on" + t] = null;
    let target = url;
    if (typeof url === "string" || url instanceof URL) {
      // Relative URLs resolve against the page, like `fetch`.
      const base = globalThis.location ? globalThis.location.href : undefined;
      target = new URL(String(url), base).href;
    } else if (typeof url !== "function") {
      throw new TypeError("url must be a string, a URL or a function");
    }
    this.#core = new HoldfastCore(target, options, (type, detail) => this.#dispatch(type, detail));
  }

  #dispatch(type, detail) {
    const ev = makeEvent(type, detail);
    const handler = this["on" + type];
    if (typeof handler === "function") {
      try {
        handler.call(this, ev);
      } catch (err) {
        (globalThis.reportError || console.error)(err);
      }
    }
    this.dispatchEvent(ev);
  }

  /** Sends a string, ArrayBuffer or typed array: returns "sent", "queued" or "rejected". */
  send(data) {
    return this.#core.send(data);
  }

  /** Closes for good; exactly one "close" event follows. */
  close(code, reason) {
    this.#core.close(code, reason);
  }

  /** Resolves on the next "open" (at once if open now); rejects if the client closes first. */
  ready() {
    if (this.readyState === Holdfast.OPEN) return Promise.resolve();
    if (this.readyState === Holdfast.CLOSED) return Promise.reject(new Error("holdfast is closed"));
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

  /** 0 CONNECTING (also while reconnecting), 1 OPEN, 3 CLOSED. */
  get readyState() { return this.#core.readyState; }
  /** "connecting" | "open" | "reconnecting" | "closed" */
  get state() { return this.#core.state; }
  /** The transport in use, or null. */
  get transport() { return this.#core.transport; }
  /** Bytes accepted by send() and not yet acknowledged by the server (queued or in flight). */
  get bufferedAmount() { return this.#core.bufferedAmount; }
  /** Counters: rttMs, reconnects, transport, messages and bytes each way, queued. */
  stats() { return this.#core.stats(); }
}

export { debugCounts };
export default Holdfast;
