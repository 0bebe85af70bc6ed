// The benchmark page. bench/run.mjs opens it in a headless Chromium of its own (no Playwright, no
// CDP: nothing instruments the page). The runner serves this page and pkg/ cross-origin isolated
// (COOP + COEP), so that performance.now() has its fine resolution (5 µs instead of 100 µs); the
// reference server (`server`, another loopback origin, allowed by its default origin policy and
// answering with CORS) is reached directly. The page runs one suite and POSTs its results (JSON)
// to the runner at `report`.
//
// Every client is driven through the same small interface (open, send, onmessage, close), so the
// raw browser API and holdfast run the same code, in the same page, in the same run.
import { Holdfast, initHoldfast, debugCounts } from "/pkg/index.js";

const params = new URLSearchParams(location.search);
const REPORT = params.get("report");
const SUITE = params.get("suite");
const RUNS = Number(params.get("runs") || 5);
const RECOVERY_RUNS = Number(params.get("recoveryRuns") || 20);
const DEAD_PORT = params.get("deadPort") || "9";
const SEED = Number(params.get("seed") || 1);
/** Whether the server has the plain HTTP baselines (`--bench`, server/src/bench.rs). */
const BASELINES = params.get("baselines") === "1"
  ? {
      ssePost: { stream: "/holdfast/bench/sse?id={id}", send: "/holdfast/bench/post?id={id}" },
      longPoll: { poll: "/holdfast/bench/lp?id={id}", send: "/holdfast/bench/lp?id={id}" },
    }
  : null;

const BASE = params.get("server");
const ENDPOINT = BASE + "/holdfast";
const RAW_URL = BASE.replace(/^http/, "ws") + "/holdfast/raw";

// ---------------------------------------------------------------------------------------------
// Reporting

const post = (path, body) =>
  fetch(REPORT + path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
const logLine = document.getElementById("log");
function log(...parts) {
  const line = parts.join(" ");
  logLine.textContent += line + "\n";
  post("/log", `[${SUITE}] ${line}`).catch(() => {});
}
const warnings = [];
function warn(what) {
  warnings.push(what);
  log("WARN", what);
}

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

/** Deterministic pseudo-random numbers (mulberry32), so runs wait the same random phases. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);

/** Rejects after `ms` with `what`. */
function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function fault(name) {
  const r = await fetch(`${BASE}/_fault/${name}`, { method: "POST" });
  if (!r.ok) throw new Error(`fault ${name}: ${r.status}`);
}

/**
 * `/_fault/drop` until `done` settles (at most 5 tries, 500 ms apart). A drop ordered in the instant
 * between a WebSocket's upgrade answer and the start of its server task is missed by that
 * connection (its fault watch starts at the new drop epoch), so one drop is not always enough.
 */
let dropRetries = 0;
async function dropUntil(done, what) {
  for (let i = 0; i < 5; i++) {
    await fault("drop");
    const settled = await Promise.race([done.then(() => true), sleep(500).then(() => false)]);
    if (settled) return done;
    dropRetries++;
  }
  throw new Error(`timeout: ${what}`);
}

/** A 64-byte ASCII text message. */
const TEXT64 = "x".repeat(64);
/** A 64 KiB binary message (fresh contents, reused: every client copies on send). */
const BIN64K = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);

/** Full collection: several gc() passes with turns between them (finalizers, weak refs). */
async function collect() {
  for (let i = 0; i < 6; i++) {
    gc();
    await sleep(30);
  }
}
function heap() {
  return performance.memory.usedJSHeapSize;
}
function wasmBytes() {
  return debugCounts().wasmMemoryBytes ?? null;
}

// ---------------------------------------------------------------------------------------------
// Clients: { name, open(), send(data), onmessage(data), close() }

/** Bench options for every holdfast client: the outbox (sent and not yet acknowledged) must hold
 * what a pipelined burst puts in flight. */
const QUEUE = { queueMaxMessages: 100000, queueMaxBytes: 64 * 1024 * 1024 };

function rawWebSocket(url = RAW_URL) {
  const c = { name: "WebSocket", onmessage: null };
  c.open = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      c.ws = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("WebSocket error"));
      ws.onclose = (e) => c.onclose?.(e);
      ws.onmessage = (e) => c.onmessage(e.data);
    });
  c.send = (data) => c.ws.send(data);
  c.close = () => c.ws.close();
  return c;
}

function holdfast(name, url, options) {
  const c = { name, onmessage: null, reconnects: 0, errors: [] };
  c.open = async () => {
    const hf = new Holdfast(url, { ...QUEUE, ...options });
    c.hf = hf;
    hf.binaryType = "arraybuffer";
    hf.onmessage = (e) => c.onmessage(e.data);
    hf.onerror = (e) => c.errors.push(`${e.kind}: ${e.message}`);
    hf.onreconnecting = (e) => {
      c.reconnects++;
      c.errors.push(`reconnecting: ${e.reason}`);
    };
    await deadline(hf.ready(), 20000, `${name} open`);
  };
  c.send = (data) => {
    const outcome = c.hf.send(data);
    if (outcome === "rejected") throw new Error(`${name}: send rejected (${c.errors.at(-1) ?? "?"})`);
  };
  c.close = () => c.hf.close();
  return c;
}

/** The plain-HTTP baselines: what an app writes without a library, on the server's `--bench`
 * routes (server/src/bench.rs). */
function plainSsePost() {
  const b = BASELINES.ssePost;
  const c = { name: "EventSource + fetch POST", onmessage: null };
  c.open = () =>
    new Promise((resolve, reject) => {
      const id = `b${Math.floor(random() * 1e9)}`;
      c.id = id;
      const es = new EventSource(`${BASE}${b.stream}`.replaceAll("{id}", id));
      c.es = es;
      es.onopen = () => resolve();
      es.onerror = () => reject(new Error("EventSource error"));
      es.onmessage = (e) => c.onmessage(e.data);
    });
  c.send = (data) => {
    fetch(`${BASE}${b.send}`.replaceAll("{id}", c.id), { method: "POST", body: data }).catch((e) =>
      warn(`baseline POST failed: ${e}`),
    );
  };
  c.close = () => c.es.close();
  return c;
}

function plainLongPoll() {
  const b = BASELINES.longPoll;
  const c = { name: "plain long poll", onmessage: null, closed: false };
  c.open = async () => {
    c.id = `b${Math.floor(random() * 1e9)}`;
    if (b.open) {
      const r = await fetch(`${BASE}${b.open}`.replaceAll("{id}", c.id), { method: "POST" });
      if (!r.ok) throw new Error(`long-poll open: ${r.status}`);
    }
    c.ctrl = new AbortController();
    (async () => {
      while (!c.closed) {
        let body;
        try {
          const r = await fetch(`${BASE}${b.poll}`.replaceAll("{id}", c.id), { signal: c.ctrl.signal });
          body = await r.json();
        } catch (e) {
          if (!c.closed) warn(`baseline poll failed: ${e}`);
          return;
        }
        for (const m of body) c.onmessage(m);
      }
    })();
  };
  c.send = (data) => {
    fetch(`${BASE}${b.send}`.replaceAll("{id}", c.id), { method: "POST", body: data }).catch((e) =>
      warn(`baseline POST failed: ${e}`),
    );
  };
  c.close = () => {
    c.closed = true;
    c.ctrl.abort();
  };
  return c;
}

// ---------------------------------------------------------------------------------------------
// Measurements

/**
 * Sends `n` copies of `payload`, keeping at most `window` unanswered (window ≥ n: all of them
 * in one synchronous loop), and resolves with the milliseconds from the first send to the last
 * echo.
 */
function throughput(c, n, payload, window, ms = 120000) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    let t0 = 0;
    const timer = setTimeout(
      () => reject(new Error(`${c.name}: throughput timeout, ${received}/${n} echoed`)),
      ms,
    );
    const pump = () => {
      try {
        while (sent < n && sent - received < window) {
          c.send(payload);
          sent++;
        }
      } catch (e) {
        clearTimeout(timer);
        reject(e);
      }
    };
    c.onmessage = () => {
      received++;
      if (received === n) {
        clearTimeout(timer);
        resolve(now() - t0);
      } else if (sent < n) {
        pump();
      }
    };
    t0 = now();
    pump();
  });
}

/** `n` sequential round trips of `payload`; resolves with the samples in milliseconds. */
async function roundTrips(c, n, payload, ms = 30000) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const echoed = new Promise((resolve) => (c.onmessage = resolve));
    const t0 = now();
    c.send(payload);
    await deadline(echoed, ms, `${c.name} round trip ${i}`);
    samples.push(now() - t0);
  }
  return samples;
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
function rttStats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), n: s.length };
}

/** Rotates `list` by `k`, so that no client always runs first in a run. */
const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

// ---------------------------------------------------------------------------------------------
// Suites

const ALL_WS_CLIENTS = {
  ws: () => rawWebSocket(),
  raw: () => holdfast("holdfast raw", RAW_URL, { protocol: "raw" }),
  protocol: () => holdfast("holdfast protocol", ENDPOINT, { transports: ["websocket"] }),
};
/** `wsClients=raw` (a comma list) runs only those clients: for profiling one of them. */
const WS_CLIENTS = params.get("wsClients")
  ? Object.fromEntries(params.get("wsClients").split(",").map((k) => [k, ALL_WS_CLIENTS[k]]))
  : ALL_WS_CLIENTS;
/** Text throughput: 20 000 × 64 B, window (most messages unanswered at once). */
const WS_N = Number(params.get("wsN") || 20000);
const WS_WINDOW = Number(params.get("wsWindow") || 500);
const WS_RTT_N = 1000;
/** Binary: 64 KiB messages, BIN_N of them, at most BIN_WINDOW unanswered. */
const BIN_N = 256;
const BIN_WINDOW = 16;
/** `wsPhases=text` (a comma list of text, rtt, bin) measures only those: for profiling one. */
const WS_PHASES = new Set((params.get("wsPhases") || "text,rtt,bin").split(","));

async function suiteWs() {
  const results = { config: { n: WS_N, window: WS_WINDOW, rttN: WS_RTT_N, binN: BIN_N, binWindow: BIN_WINDOW, bytes: 64 }, runs: [] };
  for (let run = 0; run < RUNS; run++) {
    // The three clients are open side by side; each figure is measured for the three in turn
    // (the order rotates from run to run), so the figures compared were taken seconds apart.
    const order = rotate(Object.keys(WS_CLIENTS), run);
    const clients = {};
    const row = {};
    for (const kind of order) {
      const c = WS_CLIENTS[kind]();
      await c.open();
      // Warm-up: JIT, the engine's buffers, TCP windows.
      await throughput(c, 4000, TEXT64, WS_WINDOW);
      await roundTrips(c, 200, TEXT64);
      await throughput(c, 32, BIN64K, BIN_WINDOW);
      clients[kind] = c;
      row[kind] = {};
    }
    for (const kind of order) {
      if (!WS_PHASES.has("text")) break;
      row[kind].msgPerSec = WS_N / ((await throughput(clients[kind], WS_N, TEXT64, WS_WINDOW)) / 1000);
    }
    for (const kind of order) {
      if (!WS_PHASES.has("rtt")) break;
      const rtt = rttStats(await roundTrips(clients[kind], WS_RTT_N, TEXT64));
      row[kind].rttP50Ms = rtt.p50;
      row[kind].rttP99Ms = rtt.p99;
    }
    for (const kind of order) {
      if (!WS_PHASES.has("bin")) break;
      const ms = await throughput(clients[kind], BIN_N, BIN64K, BIN_WINDOW);
      row[kind].binMBps = (BIN_N * BIN64K.byteLength) / 1e6 / (ms / 1000);
    }
    for (const kind of order) {
      const c = clients[kind];
      row[kind].reconnects = c.reconnects ?? 0;
      if (c.reconnects) warn(`${c.name} reconnected during the run: ${c.errors.join("; ")}`);
      c.close();
      log(`run ${run + 1} ${kind}: ${Math.round(row[kind].msgPerSec)} msg/s, p50 ${(row[kind].rttP50Ms * 1000).toFixed(0)} µs, ` +
        `p99 ${(row[kind].rttP99Ms * 1000).toFixed(0)} µs, ${row[kind].binMBps?.toFixed(1)} MB/s`);
    }
    results.runs.push(row);
    await sleep(100);
  }
  return results;
}

/** The HTTP transports, pinned one each, and the plain baselines. */
const HTTP_N = 1000;
const HTTP_WINDOW = 500;
const HTTP_CLIENTS = {
  sse: { make: () => holdfast("holdfast SSE", ENDPOINT, { transports: ["sse"], upgradeProbeMs: 0 }), rttN: 200 },
  longPolling: { make: () => holdfast("holdfast long polling", ENDPOINT, { transports: ["long-polling"], upgradeProbeMs: 0 }), rttN: 200 },
  polling: { make: () => holdfast("holdfast short polling", ENDPOINT, { transports: ["polling"], upgradeProbeMs: 0 }), rttN: 5 },
  ssePost: { make: () => plainSsePost(), rttN: 200, baseline: true },
  longPoll: { make: () => plainLongPoll(), rttN: 200, baseline: true },
};

async function suiteHttp() {
  const kinds = Object.keys(HTTP_CLIENTS).filter((k) => !HTTP_CLIENTS[k].baseline || BASELINES?.[k]);
  if (!BASELINES) warn("no plain HTTP baselines on this server (no --bench endpoints)");
  const results = { config: { n: HTTP_N, window: HTTP_WINDOW, bytes: 64, rttN: Object.fromEntries(kinds.map((k) => [k, HTTP_CLIENTS[k].rttN])) }, runs: [] };
  for (let run = 0; run < RUNS; run++) {
    const row = {};
    for (const kind of rotate(kinds, run)) {
      const spec = HTTP_CLIENTS[kind];
      const c = spec.make();
      try {
        await c.open();
        await throughput(c, 200, TEXT64, HTTP_WINDOW);
        await roundTrips(c, Math.min(10, Math.ceil(spec.rttN / 2)), TEXT64);
        const tpMs = await throughput(c, HTTP_N, TEXT64, HTTP_WINDOW);
        const rtt = rttStats(await roundTrips(c, spec.rttN, TEXT64));
        row[kind] = { msgPerSec: HTTP_N / (tpMs / 1000), rttP50Ms: rtt.p50, rttP99Ms: rtt.p99, reconnects: c.reconnects ?? 0 };
        if (c.reconnects) warn(`${c.name} reconnected during the run: ${c.errors.join("; ")}`);
        log(`run ${run + 1} ${kind}: ${Math.round(row[kind].msgPerSec)} msg/s, p50 ${row[kind].rttP50Ms.toFixed(2)} ms`);
      } catch (e) {
        warn(`run ${run + 1} ${kind}: ${e.message}`);
        row[kind] = { error: String(e.message) };
      } finally {
        try { c.close(); } catch { /* already closed */ }
      }
      await sleep(200);
    }
    results.runs.push(row);
  }
  return results;
}

/** Waits for the next `type` event on a holdfast client; resolves with [time, event]. */
function nextEvent(hf, type, ms, what) {
  return deadline(
    new Promise((resolve) => hf.addEventListener(type, (e) => resolve([now(), e]), { once: true })),
    ms,
    what,
  );
}
/** Resolves with the time of the client's next message. */
function nextMessage(hf, ms, what) {
  return deadline(
    new Promise((resolve) => hf.addEventListener("message", () => resolve(now()), { once: true })),
    ms,
    what,
  );
}

async function openHoldfast(options) {
  const hf = new Holdfast(ENDPOINT, { rememberTransportMs: 0, ...options });
  await deadline(hf.ready(), 30000, "holdfast open");
  return hf;
}

/** Dead link: after open and a random 0–3 s (the server's PING period), the server goes silent (half-open link); the time
 * until holdfast declares the link dead (`reconnecting`). A raw WebSocket open beside it shows
 * what the browser alone notices (nothing: TCP is still up). */
async function deadLink(runs) {
  const out = { ms: [], rawNoticed: 0, reasons: [] };
  for (let i = 0; i < runs; i++) {
    const hf = await openHoldfast({ transports: ["websocket"] });
    const raw = rawWebSocket();
    await raw.open();
    let rawClosed = false;
    raw.onclose = () => (rawClosed = true);
    await sleep(random() * 3000);
    const dead = nextEvent(hf, "reconnecting", 60000, "dead link");
    await fault("silent");
    const t0 = now();
    const [t, e] = await dead;
    out.ms.push(t - t0);
    out.reasons.push(e.reason);
    if (rawClosed) out.rawNoticed++;
    await fault("recover");
    hf.close();
    raw.close();
    log(`dead link ${i + 1}: ${(t - t0).toFixed(0)} ms (${e.reason})`);
    await sleep(100);
  }
  return out;
}

/** Reconnect: the server goes down for 2 s (connections dropped, new ones closed unanswered);
 * the time from its return until holdfast is open again, and until the first echo. */
async function downReconnect(runs) {
  const out = { ms: [], echoMs: [], transports: [] };
  for (let i = 0; i < runs; i++) {
    const hf = await openHoldfast({});
    await sleep(random() * 1000);
    const reopened = nextEvent(hf, "open", 60000, "reopen");
    const t0 = now();
    await fault("down?ms=2000");
    const back = (t0 + now()) / 2 + 2000;
    const [t] = await reopened;
    const echoed = nextMessage(hf, 20000, "echo after reopen");
    hf.send("after");
    const te = await echoed;
    out.ms.push(t - back);
    out.echoMs.push(te - back);
    out.transports.push(hf.transport);
    log(`down 2 s ${i + 1}: open ${(t - back).toFixed(0)} ms after the server was back, echo ${(te - back).toFixed(0)} ms (${hf.transport})`);
    hf.close();
    await sleep(100);
  }
  return out;
}

/** Discarded runs before the first-echo ones (first connections pay for TCP, JIT, caches). */
const WARMUP_RUNS = 2;

/** Time to first echo for a fresh client (no remembered transport), with the given faults on. */
async function firstEcho(runs, faults, label) {
  const out = { ms: [], transports: [] };
  for (let i = -WARMUP_RUNS; i < runs; i++) {
    for (const f of faults) await fault(f);
    const t0 = now();
    const hf = new Holdfast(ENDPOINT, { rememberTransportMs: 0 });
    const echoed = nextMessage(hf, 60000, `first echo (${label})`);
    hf.send("first");
    const t = await echoed;
    if (i >= 0) {
      out.ms.push(t - t0);
      out.transports.push(hf.transport);
    }
    log(`first echo, ${label} ${i < 0 ? "warm-up" : i + 1}: ${(t - t0).toFixed(0)} ms (${hf.transport})`);
    hf.close();
    await fault("recover");
    await sleep(100);
  }
  return out;
}

/** The browser alone on a healthy server: new WebSocket, send on open, first echo. */
async function rawFirstEcho(runs) {
  const out = { ms: [] };
  for (let i = -WARMUP_RUNS; i < runs; i++) {
    const c = rawWebSocket();
    const t0 = now();
    const echoed = new Promise((resolve) => (c.onmessage = () => resolve(now())));
    await c.open();
    c.send("first");
    const t = await deadline(echoed, 10000, "raw first echo");
    if (i >= 0) out.ms.push(t - t0);
    c.close();
    await sleep(50);
  }
  return out;
}

async function suiteRecovery() {
  await initHoldfast();
  await fault("recover");
  const n = RECOVERY_RUNS;
  const results = { runs: n };
  results.rawFirstEcho = await rawFirstEcho(n);
  results.firstEcho = await firstEcho(n, [], "healthy server");
  results.firstEchoNoWs = await firstEcho(n, ["refuse-ws"], "WebSocket refused");
  results.firstEchoNoWsSse = await firstEcho(n, ["refuse-ws", "refuse-sse"], "WebSocket and SSE refused");
  results.downReconnect = await downReconnect(n);
  results.deadLink = await deadLink(n);
  return results;
}

/** Memory: one measurement per browser (the runner starts a fresh one per run), because wasm
 * linear memory never shrinks and the JS heap is shared by the pages of a renderer. */
const RECONNECTS = 500;
const QUEUED = Number(params.get("queued") || 10000);

async function suiteMemory() {
  await initHoldfast();
  await fault("recover");
  const results = {};

  // Raw WebSocket: 500 times the server drops it and the app opens a new one.
  {
    let c = rawWebSocket();
    const cycle = async () => {
      const closed = new Promise((resolve) => (c.onclose = resolve));
      await dropUntil(closed, "raw drop");
      c = rawWebSocket();
      await c.open();
    };
    await c.open();
    for (let i = 0; i < 20; i++) await cycle();
    await collect();
    const h0 = heap();
    for (let i = 0; i < RECONNECTS / 2; i++) await cycle();
    await collect();
    const hMid = heap();
    for (let i = 0; i < RECONNECTS / 2; i++) await cycle();
    await collect();
    results.rawReconnects = { heapBefore: h0, heapMid: hMid, heapAfter: heap() };
    c.close();
  }

  // holdfast protocol mode over WebSocket: 500 forced reconnects (the server drops the socket,
  // the session resumes). Short backoff so that the 500 take seconds.
  {
    const hf = await openHoldfast({ transports: ["websocket"], reconnectDelayMs: 1, reconnectMaxDelayMs: 20 });
    const cycle = async () => {
      const reopened = nextEvent(hf, "open", 20000, "reopen after drop");
      await dropUntil(reopened, "holdfast drop");
    };
    for (let i = 0; i < 20; i++) await cycle();
    const echoed = nextMessage(hf, 5000, "echo");
    hf.send("warm");
    await echoed;
    await collect();
    const before = { heap: heap(), wasm: wasmBytes(), counts: debugCounts() };
    for (let i = 0; i < RECONNECTS / 2; i++) await cycle();
    await collect();
    const mid = { heap: heap(), wasm: wasmBytes() };
    for (let i = 0; i < RECONNECTS / 2; i++) await cycle();
    const echoed2 = nextMessage(hf, 5000, "echo");
    hf.send("warm");
    await echoed2;
    await collect();
    const after = { heap: heap(), wasm: wasmBytes(), counts: debugCounts() };
    results.reconnects = { before, mid, after, reconnects: hf.stats().reconnects };
    hf.close();
  }

  // Per queued message: a client that cannot connect (a closed port, long backoff) holds QUEUED
  // 64-byte texts; versus an app's own array of the same strings.
  {
    await collect();
    const h0 = heap();
    const keep = [];
    for (let i = 0; i < QUEUED; i++) keep.push(`q${i}`.padEnd(64, "."));
    await collect();
    results.arrayQueue = { n: QUEUED, heapBefore: h0, heapAfter: heap() };
    globalThis.keep = keep;
  }
  {
    const hf = new Holdfast(`http://127.0.0.1:${DEAD_PORT}/holdfast`, {
      transports: ["websocket"], reconnectDelayMs: 600000, reconnectMaxDelayMs: 600000,
      queueMaxMessages: QUEUED * 2, queueMaxBytes: 64 * QUEUED * 4,
    });
    await sleep(500); // the first attempt fails; the client now waits its (long) backoff
    hf.send("w");
    await collect();
    const before = { heap: heap(), wasm: wasmBytes() };
    let queued = 0;
    for (let i = 0; i < QUEUED; i++) if (hf.send(`q${i}`.padEnd(64, ".")) === "queued") queued++;
    await collect();
    const after = { heap: heap(), wasm: wasmBytes() };
    results.queue = { n: QUEUED, queued, before, after, state: hf.state };
    hf.close();
  }
  results.dropRetries = dropRetries;
  return results;
}

const SUITES = { ws: suiteWs, http: suiteHttp, recovery: suiteRecovery, memory: suiteMemory };

(async () => {
  const started = now();
  try {
    if (!crossOriginIsolated) warn("the page is not cross-origin isolated: performance.now() is coarse (100 µs)");
    if (typeof gc !== "function" || !performance.memory) warn("gc() or performance.memory missing (flags --js-flags=--expose-gc --enable-precise-memory-info)");
    await initHoldfast();
    const results = await SUITES[SUITE]();
    await post("/result", { suite: SUITE, ok: true, userAgent: navigator.userAgent, isolated: crossOriginIsolated, seconds: (now() - started) / 1000, warnings, results });
  } catch (e) {
    await post("/result", { suite: SUITE, ok: false, userAgent: navigator.userAgent, error: `${e?.stack ?? e}`, warnings });
  }
})();
