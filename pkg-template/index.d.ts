/** Transports, best first; the order of `transports` is the fallback chain. */
export type TransportName = "websocket" | "sse" | "long-polling" | "polling";

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
  /** Raw mode heartbeat: `ping` is sent when idle; an inbound message equal to `pong` is swallowed. */
  rawHeartbeat?: { ping?: string; pong?: string };
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
  /** Backoff growth factor. Default 2. */
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

export interface HoldfastOpenEvent extends Event { readonly transport: TransportName }
export interface HoldfastReconnectingEvent extends Event {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}
export interface HoldfastTransportEvent extends Event {
  readonly from: TransportName;
  readonly to: TransportName;
  /** `"upgrade"` when the session moved up to a better transport (upgrade back); otherwise why
   * `from` failed before it was trusted. */
  readonly reason: "upgrade" | string;
}
export interface HoldfastErrorEvent extends Event {
  readonly kind:
    | "bad-frame" | "unexpected-frame" | "sequence-gap" | "server-error"
    | "queue-full" | "queue-overflow" | "message-too-big" | "queue-discarded" | "invalid-close";
  readonly message: string;
}
/**
 * The server could not resume the session (it expired, or the server restarted) and a new one
 * started. Fired before the new session's `open`. Nothing listed here is resent automatically.
 */
export interface HoldfastGapEvent extends Event {
  /** Messages sent in the old session that the server never acknowledged: it may or may not have them. */
  readonly messages: ReadonlyArray<string | ArrayBuffer>;
  /** `messages.length`. */
  readonly count: number;
  /** Their total payload bytes. */
  readonly bytes: number;
  /** Last server message (seq) received in order in the old session: later server messages may be missing. */
  readonly lastSeq: number;
}

export interface HoldfastEventMap {
  open: HoldfastOpenEvent;
  message: MessageEvent<string | ArrayBuffer>;
  close: CloseEvent;
  reconnecting: HoldfastReconnectingEvent;
  transport: HoldfastTransportEvent;
  gap: HoldfastGapEvent;
  error: HoldfastErrorEvent;
}

export interface HoldfastStats {
  rttMs: number | null;
  reconnects: number;
  transport: TransportName | null;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Messages in the outbox: queued, or sent and not yet acknowledged. */
  queued: number;
  /** Their bytes (= `bufferedAmount`). */
  queuedBytes: number;
  attempt: number;
  /** Upgrade probes started (WebSocket tried beside a session on a lower transport). */
  probes: number;
}

export type SendOutcome = "sent" | "queued" | "rejected";

export declare class Holdfast extends EventTarget {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  /** `url`: base URL of a holdfast server (or a WebSocket URL in raw mode), or a function returning one (or a Promise of one), called before every attempt. Throws `TypeError` naming an invalid option. */
  constructor(url: string | URL | (() => string | Promise<string>), options?: HoldfastOptions);
  onopen: ((ev: HoldfastOpenEvent) => void) | null;
  onmessage: ((ev: MessageEvent<string | ArrayBuffer>) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onreconnecting: ((ev: HoldfastReconnectingEvent) => void) | null;
  ontransport: ((ev: HoldfastTransportEvent) => void) | null;
  ongap: ((ev: HoldfastGapEvent) => void) | null;
  onerror: ((ev: HoldfastErrorEvent) => void) | null;
  addEventListener<K extends keyof HoldfastEventMap>(type: K, listener: (ev: HoldfastEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  send(data: string | ArrayBuffer | ArrayBufferView): SendOutcome;
  close(code?: number, reason?: string): void;
  ready(): Promise<void>;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly state: "connecting" | "open" | "reconnecting" | "closing" | "closed";
  readonly transport: TransportName | null;
  /** Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight). */
  readonly bufferedAmount: number;
  stats(): HoldfastStats;
}

/** Loads the WebAssembly module (done automatically on import). */
export declare function initHoldfast(moduleOrPath?: unknown): Promise<unknown>;
/** Live JS resources held by holdfast (for leak checks). */
export declare function debugCounts(): { sockets: number; listeners: number; timers: number; clients: number; requests: number };
export default Holdfast;
