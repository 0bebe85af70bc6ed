// Types for `holdfast` (index.js, the default entry: the engine inlined) and, through slim.d.ts,
// `holdfast/slim`. The source of truth for options, events and stats is src/web/api.rs
// (KNOWN_OPTIONS, parse_options, to_js, stats) and holdfast_client.js; tests/pkg/types/consumer.ts
// uses every declaration here and is checked by `tsc --strict` in scripts/pkg-matrix.sh.

/** Transports, best first; the order of `transports` is the fallback chain. */
export type TransportName = "websocket" | "sse" | "long-polling" | "polling";

/** `readyState`: 0 CONNECTING (also while reconnecting or while the engine loads), 1 OPEN, 3 CLOSED.
 * 2 (CLOSING) exists for WebSocket compatibility; `close()` is immediate, so it is never seen. */
export type HoldfastReadyState = 0 | 1 | 2 | 3;

/** `state`: like `readyState`, but tells a first connection from a reconnection. */
export type HoldfastState = "connecting" | "open" | "reconnecting" | "closed";

/** How binary messages arrive in `message` events (as WebSocket's `binaryType`). */
export type HoldfastBinaryType = "arraybuffer" | "blob";

/** What `send` did: `"sent"` (handed to the open transport), `"queued"` (kept until open), or
 * `"rejected"` (closed, the outbox is full, or the message is too big; an `error` event says why
 * unless closed). While the engine is still loading, the same limits (`queueMaxMessages`,
 * `queueMaxBytes`, `maxMessageBytes`, `overflow`) apply with the same outcomes and events. */
export type SendOutcome = "sent" | "queued" | "rejected";

/** What `send` accepts: text, or bytes (copied at once; the caller may reuse the buffer). */
export type HoldfastData = string | ArrayBuffer | ArrayBufferView;

/** Raw mode heartbeat: `ping` is sent when idle; an inbound message equal to `pong` is swallowed. */
export interface HoldfastRawHeartbeat {
  ping?: string;
  pong?: string;
}

/**
 * Options for `new Holdfast(url, options)`. Unknown keys and invalid values are refused with a
 * `TypeError` naming the option (before the engine is ready: an `error` event of kind
 * `"invalid-options"`, then `close`). Durations are whole milliseconds ≥ 0; `undefined` means
 * the default.
 */
export interface HoldfastOptions {
  /** Fallback chain, best first. Default `["websocket", "sse", "long-polling", "polling"]`
   * (raw mode: `["websocket"]`, the only one it supports). */
  transports?: TransportName[];
  /** Per-transport connect deadlines overriding `connectTimeoutMs`, e.g. `{ websocket: 3000 }`. */
  connectTimeouts?: Partial<Record<TransportName, number>>;
  /** Walk down the chain after this many consecutive failures of a transport that had opened
   * (the count resets after `minUptimeMs` of uptime). Default 3. */
  fallbackAfterFailures?: number;
  /** Short polling: delay between one answer and the next poll. Default 1000; below `heartbeatTimeoutMs`. */
  pollIntervalMs?: number;
  /** How long the transport that opened is remembered for the tab (sessionStorage); 0 disables. Default 600000. */
  rememberTransportMs?: number;
  /** Upgrade back: while open below the chain's WebSocket, probe it this long after open (and at once on
   * `online` / visible), moving the session up when it works. 0 disables. Default 2000. */
  upgradeProbeMs?: number;
  /** The wait between probes doubles after each failed one, up to this. Default 300000. */
  upgradeProbeMaxMs?: number;
  /** `"holdfast"` (default) speaks PROTOCOL.md to a holdfast server; `"raw"` talks to any WebSocket server. */
  protocol?: "holdfast" | "raw";
  /** Raw mode heartbeat (only with `protocol: "raw"`; a `TypeError` otherwise). */
  rawHeartbeat?: HoldfastRawHeartbeat;
  /** Ping when nothing was sent or received for this long. Default 4000. */
  heartbeatIntervalMs?: number;
  /** Declare the link dead after this much inbound silence. Default 8000. */
  heartbeatTimeoutMs?: number;
  /** After a freeze/sleep, how long a probe ping may take before the link is declared dead. Default 2000. */
  freezeProbeMs?: number;
  /** Deadline for one connection attempt including the handshake. Default 5000. */
  connectTimeoutMs?: number;
  /** Backoff base. Default 500. */
  reconnectDelayMs?: number;
  /** Backoff cap (full jitter applied after the cap). Default 30000. */
  reconnectMaxDelayMs?: number;
  /** Backoff growth factor (any finite number ≥ 0). Default 2. */
  reconnectFactor?: number;
  /** Give up after this many consecutive failures. Default unlimited (`null` or `Infinity`). */
  maxAttempts?: number | null;
  /** Uptime after which the attempt counter resets. Default 5000. */
  minUptimeMs?: number;
  /** Upper clamp for server retry hints. Default 60000. */
  maxRetryAfterMs?: number;
  /** Most messages held by the outbox: queued while not open plus sent and not yet acknowledged. Default 1000. */
  queueMaxMessages?: number;
  /** Most bytes held by the outbox (the ceiling of `bufferedAmount`). Default 1048576. */
  queueMaxBytes?: number;
  /** What `send` does when the outbox is full: `"reject"` the new message, or `"drop-oldest"` (queued or in flight). Default `"reject"`. */
  overflow?: "reject" | "drop-oldest";
  /** Largest message either way. Default 1048576. */
  maxMessageBytes?: number;
}

/** `open`: connected (first time, or again after `reconnecting`). */
export interface HoldfastOpenEvent extends Event {
  readonly type: "open";
  /** The transport that opened. */
  readonly transport: TransportName;
}

/** `message`: a message from the server. Binary data is an `ArrayBuffer`, or a `Blob` when
 * `binaryType` is `"blob"`. */
export type HoldfastMessageEvent = MessageEvent<string | ArrayBuffer | Blob>;

/** `close`: closed for good (by `close()`, the server, `maxAttempts`, or a failed start). Exactly once. */
export type HoldfastCloseEvent = CloseEvent;

/** `reconnecting`: the connection (or an attempt) ended; the next attempt starts after `delayMs`. */
export interface HoldfastReconnectingEvent extends Event {
  readonly type: "reconnecting";
  /** 1-based number of consecutive failures. */
  readonly attempt: number;
  /** Backoff before the next attempt, after jitter and server retry hints. */
  readonly delayMs: number;
  /** Why the last connection or attempt ended, e.g. `"connect timeout"`, `"dead link: …"`, `"closed (1006) "`. */
  readonly reason: string;
}

/** `transport`: the session moved to another transport of the chain. */
export interface HoldfastTransportEvent extends Event {
  readonly type: "transport";
  readonly from: TransportName;
  readonly to: TransportName;
  /** `"upgrade"` when the session moved up to a better transport (upgrade back); otherwise why
   * `from` failed before it was trusted. */
  readonly reason: "upgrade" | (string & {});
}

/** `error` kinds. The engine's: a protocol violation (`bad-frame`, `unexpected-frame`,
 * `sequence-gap`), the server's report (`server-error`), the outbox (`queue-full`,
 * `queue-overflow`, `message-too-big`, `queue-discarded`), a refused `close` (`invalid-close`);
 * and the wrapper's: the engine could not start this client (`invalid-options` — the options were
 * refused before the engine was ready —, `init-failed` — the WebAssembly module did not load);
 * those two are followed by `close` (1006). */
export type HoldfastErrorKind =
  | "bad-frame"
  | "unexpected-frame"
  | "sequence-gap"
  | "server-error"
  | "queue-full"
  | "queue-overflow"
  | "message-too-big"
  | "queue-discarded"
  | "invalid-close"
  | "invalid-options"
  | "init-failed";

/** `error`: something went wrong that the client reports but survives (or, for `invalid-options`
 * and `init-failed`, the reason of the `close` that follows). */
export interface HoldfastErrorEvent extends Event {
  readonly type: "error";
  readonly kind: HoldfastErrorKind;
  /** A human-readable description. */
  readonly message: string;
  /** For `invalid-options` and `init-failed`: what was thrown (a `TypeError`, a fetch or compile error). */
  readonly error?: unknown;
}

/**
 * `gap`: the server could not resume the session (it expired, or the server restarted) and a new
 * one started. Fired before the new session's `open`. Nothing listed here is resent automatically.
 */
export interface HoldfastGapEvent extends Event {
  readonly type: "gap";
  /** Messages sent in the old session that the server never acknowledged: it may or may not have them.
   * Binary ones are `ArrayBuffer`s whatever `binaryType` says. */
  readonly messages: ReadonlyArray<string | ArrayBuffer>;
  /** `messages.length`. */
  readonly count: number;
  /** Their total payload bytes. */
  readonly bytes: number;
  /** Last server message (seq) received in order in the old session: later server messages may be missing. */
  readonly lastSeq: number;
}

/** Every event `Holdfast` dispatches, by type. */
export interface HoldfastEventMap {
  open: HoldfastOpenEvent;
  message: HoldfastMessageEvent;
  close: HoldfastCloseEvent;
  error: HoldfastErrorEvent;
  reconnecting: HoldfastReconnectingEvent;
  transport: HoldfastTransportEvent;
  gap: HoldfastGapEvent;
}

/** `stats()`: counters since construction. */
export interface HoldfastStats {
  /** Smoothed heartbeat round-trip time, or `null` before the first heartbeat answer. */
  rttMs: number | null;
  /** Successful opens after the first. */
  reconnects: number;
  /** The transport in use, or `null`. */
  transport: TransportName | null;
  /** App messages sent / received. */
  messagesSent: number;
  messagesReceived: number;
  /** App payload bytes sent / received. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages in the outbox: queued, or sent and not yet acknowledged. */
  queued: number;
  /** Their bytes (= `bufferedAmount`). */
  queuedBytes: number;
  /** Consecutive failed attempts so far. */
  attempt: number;
  /** Upgrade probes started (WebSocket tried beside a session on a lower transport). */
  probes: number;
}

/** `debugCounts()`: live JS resources held by every holdfast client on this thread (for leak checks). */
export interface HoldfastDebugCounts {
  sockets: number;
  listeners: number;
  timers: number;
  clients: number;
  requests: number;
  /** The engine's WebAssembly linear memory in bytes (it never shrinks; 0 before the engine loads). */
  wasmMemoryBytes: number;
}

/** What `new Holdfast` connects to: the base URL of a holdfast server (or a WebSocket URL in raw
 * mode), relative URLs resolved against the page; or a function returning one (or a Promise of
 * one), called before every attempt. */
export type HoldfastUrl = string | URL | (() => string | Promise<string>);

/**
 * A managed real-time connection: WebSocket, SSE or HTTP polling with heartbeat, dead-link
 * detection, reconnect, sessions and a bounded send queue. Behaves like `WebSocket` where
 * WebSocket has an answer.
 */
export declare class Holdfast extends EventTarget {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  /**
   * Starts connecting at once. Throws a `TypeError` for a `url` that is not a string, URL or
   * function, and — once the engine is ready (`initHoldfast()` resolved, or an earlier client
   * opened) — for an invalid option, naming it. `holdfast/slim`: throws a `TypeError` if
   * `initHoldfast(source)` was never called.
   */
  constructor(url: HoldfastUrl, options?: HoldfastOptions);

  /**
   * Sends a string, ArrayBuffer or typed array/DataView. Before open (and while the engine
   * loads) the message is queued, in order, within the queue limits (see `SendOutcome`).
   * Throws a `TypeError` for anything else.
   */
  send(data: HoldfastData): SendOutcome;
  /** Closes for good with `code` (1000 or 3000–4999, default 1000) and `reason` (≤ 123 UTF-8
   * bytes; a `TypeError` otherwise); exactly one `close` event follows. */
  close(code?: number, reason?: string): void;
  /** Resolves on the next `open` (at once if open now); rejects if the client closes first. */
  ready(): Promise<void>;
  /** Counters: round trip, reconnects, messages and bytes each way, the outbox, upgrade probes. */
  stats(): HoldfastStats;

  /** 0 CONNECTING (also while reconnecting or loading), 1 OPEN, 3 CLOSED. */
  readonly readyState: HoldfastReadyState;
  /** `"connecting" | "open" | "reconnecting" | "closed"`. */
  readonly state: HoldfastState;
  /** The transport in use or being tried, or `null`. */
  readonly transport: TransportName | null;
  /** Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight). */
  readonly bufferedAmount: number;
  /** The URL given to the constructor, made absolute; `""` when it was a function. */
  readonly url: string;
  /** WebSocket's negotiated subprotocol: holdfast negotiates none, so always `""`. */
  readonly protocol: string;
  /** WebSocket's negotiated extensions: always `""`. */
  readonly extensions: string;
  /** How binary messages arrive: `"arraybuffer"` (default) or `"blob"`. Other values are ignored, as WebSocket does. */
  binaryType: HoldfastBinaryType;

  onopen: ((this: Holdfast, ev: HoldfastOpenEvent) => any) | null;
  onmessage: ((this: Holdfast, ev: HoldfastMessageEvent) => any) | null;
  onclose: ((this: Holdfast, ev: HoldfastCloseEvent) => any) | null;
  onerror: ((this: Holdfast, ev: HoldfastErrorEvent) => any) | null;
  onreconnecting: ((this: Holdfast, ev: HoldfastReconnectingEvent) => any) | null;
  ontransport: ((this: Holdfast, ev: HoldfastTransportEvent) => any) | null;
  ongap: ((this: Holdfast, ev: HoldfastGapEvent) => any) | null;

  addEventListener<K extends keyof HoldfastEventMap>(
    type: K,
    listener: (this: Holdfast, ev: HoldfastEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof HoldfastEventMap>(
    type: K,
    listener: (this: Holdfast, ev: HoldfastEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/**
 * Compiles the inlined engine now instead of at the first `new Holdfast`. Optional: resolves when
 * it is ready; from then on the constructor throws option errors synchronously. Rejects if the
 * WebAssembly module cannot be compiled (e.g. a CSP without `'wasm-unsafe-eval'`).
 */
export declare function initHoldfast(): Promise<void>;

/** Live JS resources held by every holdfast client on this thread (for leak checks); all 0
 * before the engine is loaded. */
export declare function debugCounts(): HoldfastDebugCounts;

export default Holdfast;
