// A consumer of the installed `holdfast` tarball's types (tests/pkg/node_modules/holdfast, not
// pkg-template/). Uses every declaration of index.d.ts and slim.d.ts; each `@ts-expect-error`
// line is a misuse the types must refuse (an unused one fails the check too). Checked by
// `tsc --strict --noEmit` (and exactOptionalPropertyTypes, noUncheckedIndexedAccess,
// verbatimModuleSyntax: types/tsconfig.json) with bundler and nodenext resolution, the DOM and
// the webworker libs, TypeScript 7 and 5, in scripts/pkg-matrix.sh. Type checking only, never run.
import Holdfast, {
  Holdfast as NamedHoldfast,
  debugCounts,
  initHoldfast,
  type HoldfastBinaryType,
  type HoldfastCloseEvent,
  type HoldfastData,
  type HoldfastDebugCounts,
  type HoldfastErrorEvent,
  type HoldfastErrorKind,
  type HoldfastEventMap,
  type HoldfastGapEvent,
  type HoldfastMessageEvent,
  type HoldfastOpenEvent,
  type HoldfastOptions,
  type HoldfastRawHeartbeat,
  type HoldfastReadyState,
  type HoldfastReconnectingEvent,
  type HoldfastState,
  type HoldfastStats,
  type HoldfastTransportEvent,
  type HoldfastUrl,
  type SendOutcome,
  type TransportName,
} from "holdfast";
import SlimDefault, {
  Holdfast as SlimHoldfast,
  debugCounts as slimDebugCounts,
  initHoldfast as initSlim,
  type HoldfastOptions as SlimOptions,
  type HoldfastWasmSource,
  type HoldfastStats as SlimStats,
} from "holdfast/slim";

// Exact type equality (not just assignability).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T extends true>(): void {}
function exhaustive(x: never): never {
  throw new Error(`unexpected ${String(x)}`);
}

expectType<Equal<typeof Holdfast, typeof NamedHoldfast>>();
expectType<Equal<typeof SlimDefault, typeof SlimHoldfast>>();
expectType<Equal<SlimHoldfast, Holdfast>>();
expectType<Equal<SlimOptions, HoldfastOptions>>();
expectType<Equal<SlimStats, HoldfastStats>>();
expectType<Equal<typeof initHoldfast, () => Promise<void>>>();
expectType<Equal<typeof debugCounts, () => HoldfastDebugCounts>>();
expectType<Equal<typeof slimDebugCounts, () => HoldfastDebugCounts>>();
expectType<Equal<HoldfastReadyState, 0 | 1 | 2 | 3>>();
expectType<Equal<HoldfastState, "connecting" | "open" | "reconnecting" | "closed">>();
expectType<Equal<TransportName, "websocket" | "sse" | "long-polling" | "polling">>();
expectType<Equal<SendOutcome, "sent" | "queued" | "rejected">>();
expectType<Equal<HoldfastBinaryType, "arraybuffer" | "blob">>();
expectType<Equal<HoldfastData, string | ArrayBuffer | ArrayBufferView>>();
expectType<Equal<HoldfastUrl, string | URL | (() => string | Promise<string>)>>();
expectType<Equal<keyof HoldfastEventMap, "open" | "message" | "close" | "error" | "reconnecting" | "transport" | "gap">>();
expectType<Equal<HoldfastEventMap["message"], HoldfastMessageEvent>>();
expectType<Equal<HoldfastEventMap["close"], HoldfastCloseEvent>>();
expectType<Equal<HoldfastCloseEvent, CloseEvent>>();
expectType<Equal<Parameters<typeof initSlim>[0], HoldfastWasmSource | Promise<Response | (WebAssembly.Module & object) | BufferSource>>>();

declare const base: string;

// Every option, each with a valid value.
const heartbeat: HoldfastRawHeartbeat = { ping: "ping", pong: "pong" };
const everyOption: Required<HoldfastOptions> = {
  transports: ["websocket", "sse", "long-polling", "polling"],
  connectTimeouts: { websocket: 3000, sse: 4000, "long-polling": 5000, polling: 5000 },
  fallbackAfterFailures: 3,
  pollIntervalMs: 1000,
  rememberTransportMs: 600_000,
  upgradeProbeMs: 2000,
  upgradeProbeMaxMs: 300_000,
  protocol: "raw",
  rawHeartbeat: heartbeat,
  heartbeatIntervalMs: 4000,
  heartbeatTimeoutMs: 8000,
  freezeProbeMs: 2000,
  connectTimeoutMs: 5000,
  reconnectDelayMs: 500,
  reconnectMaxDelayMs: 30_000,
  reconnectFactor: 1.5,
  maxAttempts: null,
  minUptimeMs: 5000,
  maxRetryAfterMs: 60_000,
  queueMaxMessages: 1000,
  queueMaxBytes: 1 << 20,
  overflow: "drop-oldest",
  maxMessageBytes: 1 << 20,
};
const holdfastMode: HoldfastOptions = { protocol: "holdfast", maxAttempts: Infinity, overflow: "reject", transports: ["sse"] };
const noOptions: HoldfastOptions = {};

// Constructors: every url form.
const h = new Holdfast(base);
const fromUrl = new Holdfast(new URL(base), noOptions);
const fromFn = new Holdfast(() => base, holdfastMode);
const fromAsyncFn = new Holdfast(async () => base, { maxAttempts: 5 });
const raw = new NamedHoldfast("ws://127.0.0.1:9/", everyOption);
const all: Holdfast[] = [h, fromUrl, fromFn, fromAsyncFn, raw];
const asTarget: EventTarget = h;

// Members.
const outcomes: SendOutcome[] = [
  h.send("text"),
  h.send(new ArrayBuffer(8)),
  h.send(new Uint8Array([1, 2, 3])),
  h.send(new DataView(new ArrayBuffer(4))),
  h.send(new Float64Array(2)),
];
for (const o of outcomes) {
  switch (o) {
    case "sent": case "queued": case "rejected": break;
    default: exhaustive(o);
  }
}
h.close();
h.close(1000);
h.close(4000, "bye");
const readyPromise: Promise<void> = h.ready();
const rs: 0 | 1 | 2 | 3 = h.readyState;
const isOpen: boolean = h.readyState === Holdfast.OPEN;
const isOpenToo: boolean = fromUrl.readyState === fromUrl.OPEN;
const constants: [0, 1, 2, 3, 0, 1, 2, 3] = [
  Holdfast.CONNECTING, Holdfast.OPEN, Holdfast.CLOSING, Holdfast.CLOSED,
  h.CONNECTING, h.OPEN, h.CLOSING, h.CLOSED,
];
const state: HoldfastState = h.state;
switch (state) {
  case "connecting": case "open": case "reconnecting": case "closed": break;
  default: exhaustive(state);
}
const transport: TransportName | null = h.transport;
const buffered: number = h.bufferedAmount;
const url: string = h.url;
const protocol: string = h.protocol;
const extensions: string = h.extensions;
const binaryType: "arraybuffer" | "blob" = h.binaryType;
h.binaryType = "blob";
h.binaryType = "arraybuffer";
const stats: HoldfastStats = h.stats();
const statNumbers: number[] = [
  stats.reconnects, stats.messagesSent, stats.messagesReceived, stats.bytesSent, stats.bytesReceived,
  stats.queued, stats.queuedBytes, stats.attempt, stats.probes,
];
const rtt: number | null = stats.rttMs;
const statsTransport: TransportName | null = stats.transport;
const counts: HoldfastDebugCounts = debugCounts();
const countNumbers: number[] = [counts.sockets, counts.listeners, counts.timers, counts.clients, counts.requests];
const initialized: Promise<void> = initHoldfast();

// A WebSocket-shaped consumer accepts a Holdfast.
interface WebSocketLike {
  readonly readyState: number;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: BinaryType;
  send(data: string | ArrayBuffer | ArrayBufferView): unknown;
  close(code?: number, reason?: string): void;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}
const wsLike: WebSocketLike = h;

// Handler properties: every one, `this` is the client, and null clears it.
h.onopen = function (ev) {
  const self: Holdfast = this;
  const t: TransportName = ev.transport;
  const type: "open" = ev.type;
};
h.onmessage = (ev) => {
  const data: string | ArrayBuffer | Blob = ev.data;
  if (typeof data === "string") data.toUpperCase();
  else if (data instanceof ArrayBuffer) new Uint8Array(data);
  else data.arrayBuffer();
};
h.onclose = (ev) => [ev.code, ev.reason, ev.wasClean] satisfies [number, string, boolean];
h.onerror = (ev) => [ev.kind, ev.message, ev.error] satisfies [HoldfastErrorKind, string, unknown];
h.onreconnecting = (ev) => [ev.attempt, ev.delayMs, ev.reason] satisfies [number, number, string];
h.ontransport = (ev) => [ev.from, ev.to, ev.reason] satisfies [TransportName, TransportName, string];
h.ongap = (ev) => [ev.messages, ev.count, ev.bytes, ev.lastSeq] satisfies [ReadonlyArray<string | ArrayBuffer>, number, number, number];
const handlers = [h.onopen, h.onmessage, h.onclose, h.onerror, h.onreconnecting, h.ontransport, h.ongap];
h.onopen = null;
h.onmessage = null;
h.onclose = null;
h.onerror = null;
h.onreconnecting = null;
h.ontransport = null;
h.ongap = null;

// addEventListener / removeEventListener: every event, its detail fields typed.
const controller = new AbortController();
const onOpen = (ev: HoldfastOpenEvent) => ev.transport;
h.addEventListener("open", onOpen, { once: true });
h.removeEventListener("open", onOpen);
const onMessage = (ev: HoldfastMessageEvent) => ev.data;
h.addEventListener("message", onMessage, { signal: controller.signal });
h.removeEventListener("message", onMessage, false);
h.addEventListener("close", (ev) => {
  const code: number = ev.code;
  const clean: boolean = ev.wasClean;
  const reason: string = ev.reason;
});
const onError = (ev: HoldfastErrorEvent): string => {
  switch (ev.kind) {
    case "bad-frame": case "unexpected-frame": case "sequence-gap": case "server-error":
    case "queue-full": case "queue-overflow": case "message-too-big": case "queue-discarded":
    case "invalid-close": case "invalid-options": case "init-failed":
      return ev.message;
    default:
      return exhaustive(ev.kind);
  }
};
h.addEventListener("error", onError);
h.removeEventListener("error", onError, { capture: false });
const onReconnecting = (ev: HoldfastReconnectingEvent) => ev.delayMs + ev.attempt + ev.reason.length;
h.addEventListener("reconnecting", onReconnecting);
h.removeEventListener("reconnecting", onReconnecting);
const onTransport = (ev: HoldfastTransportEvent) => {
  const from: TransportName = ev.from;
  const to: TransportName = ev.to;
  const upgrade: boolean = ev.reason === "upgrade";
};
h.addEventListener("transport", onTransport);
h.removeEventListener("transport", onTransport);
const onGap = function (this: Holdfast, ev: HoldfastGapEvent) {
  for (const m of ev.messages) this.send(m);
  return ev.count + ev.bytes + ev.lastSeq;
};
h.addEventListener("gap", onGap);
h.removeEventListener("gap", onGap);
// Any other event name still takes a plain listener (as EventTarget does).
const plain: EventListener = (ev: Event) => ev.type;
h.addEventListener("custom", plain);
h.removeEventListener("custom", plain);
h.addEventListener("custom", { handleEvent: (ev: Event) => ev.timeStamp });

// The slim entry: every source form.
declare const compiled: WebAssembly.Module;
declare const response: Response;
const sources: HoldfastWasmSource[] = [
  "/assets/holdfast_bg.wasm",
  new URL("holdfast_bg.wasm", "https://example.test/"),
  new Request("/holdfast_bg.wasm"),
  response,
  compiled,
  new Uint8Array(8),
  new ArrayBuffer(8),
];
const slimReady: Promise<void>[] = [
  initSlim("/assets/holdfast_bg.wasm"),
  initSlim(fetch("/holdfast_bg.wasm")),
  initSlim(Promise.resolve(compiled)),
  initSlim(new URL("holdfast_bg.wasm", "https://example.test/")),
];
const s = new SlimHoldfast(base, { transports: ["websocket"] });
const sameClass: Holdfast = s;
const slimDefault = new SlimDefault(base);

// ---- Misuse the types must refuse. ----------------------------------------------------------
// @ts-expect-error unknown option (a typo)
new Holdfast(base, { heartbeatIntervalMS: 5 });
// @ts-expect-error wrong option type: a string for a duration
new Holdfast(base, { heartbeatIntervalMs: "5000" });
// @ts-expect-error unknown transport name
new Holdfast(base, { transports: ["websockets"] });
// @ts-expect-error transports is an array
new Holdfast(base, { transports: "websocket" });
// @ts-expect-error unknown transport in connectTimeouts
new Holdfast(base, { connectTimeouts: { ws: 1000 } });
// @ts-expect-error overflow policy that does not exist
new Holdfast(base, { overflow: "drop" });
// @ts-expect-error protocol that does not exist
new Holdfast(base, { protocol: "socket.io" });
// @ts-expect-error rawHeartbeat.ping is a string
new Holdfast(base, { protocol: "raw", rawHeartbeat: { ping: 1 } });
// @ts-expect-error maxAttempts is a number or null
new Holdfast(base, { maxAttempts: "3" });
// @ts-expect-error options is an object
new Holdfast(base, 5000);
// @ts-expect-error url is a string, URL or function
new Holdfast(42);
// @ts-expect-error the url function returns a string
new Holdfast(() => 42);
// @ts-expect-error a url is required
new Holdfast();
// @ts-expect-error sending a number
h.send(42);
// @ts-expect-error sending a Blob (WebSocket takes one; holdfast does not)
h.send(new Blob(["x"]));
// @ts-expect-error sending an object
h.send({ hello: "world" });
// @ts-expect-error send's outcome is never "ok"
if (h.send("x") === "ok") {}
// @ts-expect-error close code is a number
h.close("1000");
// @ts-expect-error binaryType "foo"
h.binaryType = "foo";
// @ts-expect-error readyState is read-only
h.readyState = 1;
// @ts-expect-error state is read-only
h.state = "open";
// @ts-expect-error url is read-only
h.url = "x";
// @ts-expect-error constants are read-only
Holdfast.OPEN = 2;
// @ts-expect-error there is no "closing" state
if (h.state === "closing") {}
// @ts-expect-error no such transport
if (h.transport === "ws") {}
// @ts-expect-error rttMs may be null
const rttNumber: number = h.stats().rttMs;
// @ts-expect-error no such stat
h.stats().latency;
// @ts-expect-error a gap event has no delayMs (reconnecting's detail)
h.addEventListener("gap", (ev) => ev.delayMs);
// @ts-expect-error an open event has no lastSeq (gap's detail)
h.addEventListener("open", (ev) => ev.lastSeq);
// @ts-expect-error a transport event has no attempt
h.addEventListener("transport", (ev) => ev.attempt);
// @ts-expect-error a reconnecting event has no from (transport's detail)
h.onreconnecting = (ev) => ev.from;
// @ts-expect-error an open event has no data
h.onopen = (ev) => ev.data;
// @ts-expect-error a gap listener is not a message listener
h.addEventListener("message", (ev: HoldfastGapEvent) => ev.count);
// @ts-expect-error a gap event's messages are read-only
h.ongap = (ev) => ev.messages.push("x");
// @ts-expect-error no such error kind
h.onerror = (ev) => ev.kind === "timeout";
// @ts-expect-error message data is not always a string
h.onmessage = (ev) => ev.data.toUpperCase();
// @ts-expect-error a handler is a function or null
h.onclose = "close";
// @ts-expect-error the default entry's initHoldfast takes no source
initHoldfast("/holdfast_bg.wasm");
// @ts-expect-error slim's initHoldfast needs its source
initSlim();
// @ts-expect-error a number is no wasm source
initSlim(42);
// Not caught: `initSlim(Promise.resolve("/x.wasm"))` (the glue fetches a string only when it is
// not in a promise). lib.dom's WebAssembly.Module is an empty interface, so any object, a promise
// included, type-checks as one.

export {
  all, asTarget, readyPromise, rs, isOpen, isOpenToo, constants, transport, buffered, url, protocol, extensions,
  binaryType, statNumbers, rtt, statsTransport, countNumbers, initialized, wsLike, handlers, slimReady,
  sameClass, slimDefault, rttNumber,
};
