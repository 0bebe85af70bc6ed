// End-to-end: the browser lifecycle, really produced (issue 11, item 2; fault matrix F21, F22), on
// the built npm package (pkg/) in headless Chromium. Each scenario asserts with numbers and prints
// them; the timing ones run LIFECYCLE_RUNS times (default 3, side by side in separate tabs) and
// must hold in every run.
//
// - F22 frozen page: CDP Page.setWebLifecycleState frozen for 30 s while the server sends (a
//   broadcaster tab, 20 messages/s), then active (and visible: the user came back). (a) the link
//   as it is, over WebSocket (Chromium closes a frozen page's WebSockets), SSE, long polling and
//   short polling (the server times the frozen page out meanwhile); (b) SSE black-holed by a loopback proxy
//   during the freeze, nothing ever reaching the page, so only the probe can tell.
//   Expected: the client decides (a reconnect, or a message) within 500 ms of the resume, and
//   every message arrives exactly once, in order.
// - bfcache: navigate away and back (Playwright's --disable-back-forward-cache is not given, as no
//   Playwright switch is: Chromium is driven over CDP directly). pageshow.persisted must be true;
//   pagehide must close the WebSocket cleanly (a close frame: the proxy sees the TCP connection
//   end within 1 s, not at the server's idle timeout); pageshow reconnects; nothing lost or
//   duplicated.
// - Hidden tab: minimized windows (document.visibilityState "hidden"), none of Playwright's
//   --disable-background-timer-throttling / --disable-renderer-backgrounding, intensive wake-up
//   throttling after 10 s (--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/10).
//   A control tab's chained 1 s timer proves the throttling: ~1 wake-up/s during the grace
//   period, ≤ 3 per minute after it. Idle LIFECYCLE_IDLE_S (default 75 s; make soak: 600 s):
//   zero dead-link declarations, zero reconnects. Then the server goes silent (/_fault/silent,
//   a half-open link, no FIN) LIFECYCLE_SILENT_ROUNDS times (default 1; make soak: 3): the dead
//   link must be declared within the dead window (heartbeatTimeoutMs after the last inbound
//   byte) plus the hidden page's 1 s timer alignment, in every run (TESTING.md, "Browser
//   lifecycle", bug 5: the timer chain that intensive throttling held back; LIFECYCLE_STRICT=0
//   only reports a late one).
// - F21 offline: the page's network emulated offline for 20 s (CDP Network.emulateNetworkConditions
//   fires `offline`/`online`; it does not cut open WebSockets) and the link cut meanwhile (proxy
//   black hole), on each of the four transports. Expected: no connection attempt while offline
//   (TCP connections counted by the proxy; WebSocket constructions counted in the page too), open
//   < 1 s after `online`, nothing lost or duplicated.
//
// Firefox: not driven here. playwright-core 1.65 drives stock Firefox only over WebDriver BiDi,
// and firefox-esr 153 lacks commands its context setup sends (emulation.setMediaFeaturesOverride);
// Firefox has no frozen-page state and no CDP either (TESTING.md, "Browser lifecycle").
//
// It starts its own servers (target/debug/holdfast-server --test-profile with a 120 s session TTL:
// a 30 s freeze outlives the profile's 5 s; one server for the hidden tabs alone, as /_fault/silent
// is server-wide) and one fault proxy per scenario run, and stops them all.
//
// Usage: node tests/e2e/lifecycle.mjs
// Env: CHROMIUM (default /usr/bin/chromium), CARGO_TARGET_DIR (binaries; default target),
//      LIFECYCLE_RUNS (3), LIFECYCLE_IDLE_S (75), LIFECYCLE_SILENT_ROUNDS (1), LIFECYCLE_STRICT (1),
//      LIFECYCLE_ONLY (e.g. "freeze,bfcache,hidden,offline").
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const RUNS = Number(process.env.LIFECYCLE_RUNS || 3);
const IDLE_S = Number(process.env.LIFECYCLE_IDLE_S || 75);
const ONLY = (process.env.LIFECYCLE_ONLY || "freeze,bfcache,hidden,offline").split(",");
const FREEZE_MS = 30_000;
const STRICT = process.env.LIFECYCLE_STRICT !== "0";
const SILENT_ROUNDS = Number(process.env.LIFECYCLE_SILENT_ROUNDS || 1);
let knownIssues = 0;
const OFFLINE_MS = 20_000;
const GRACE_S = 10;
const bin = (name) => resolve(process.env.CARGO_TARGET_DIR || "target", "debug", name);
// The client's timers against the server's test profile (ping 1 s, idle 2.5 s): the browser
// suites' test config (tests/browser/util.rs) with a 400 ms freeze probe, so a dead link after a
// resume is declared within 500 ms.
const OPTIONS = {
  transports: ["websocket"], heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2500, freezeProbeMs: 400,
  connectTimeoutMs: 2000, reconnectDelayMs: 100, reconnectMaxDelayMs: 1000, minUptimeMs: 1000,
  rememberTransportMs: 0,
};

const started = Date.now();
const secs = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} [${secs()} s] ${what}`);
  if (!ok) failures++;
  return ok;
};
const note = (what) => console.log(`     [${secs()} s] ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, timeout, every = 50) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await sleep(every);
  }
}
const ms = (x) => (x === null || x === undefined ? "—" : `${Math.round(x)} ms`);

// ---- processes: servers and proxies --------------------------------------------------------------

const children = [];
/** Spawns `cmd`, waits for stdout lines starting with each of `prefixes`; returns their rests. */
function start(cmd, args, prefixes) {
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(p);
  let out = "";
  p.stderr.resume();
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${cmd} did not start: ${out}`)), 15000);
    p.on("exit", (code) => rej(new Error(`${cmd} exited (${code}): ${out}`)));
    p.stdout.on("data", (d) => {
      out += d;
      const found = prefixes.map((pre) => (out.split("\n").find((l) => l.startsWith(pre)) || "").slice(pre.length));
      if (found.every((f) => f)) { clearTimeout(timer); res(found.map((f) => f.trim())); }
    });
  });
}
const startServer = () => start(bin("holdfast-server"),
  ["--test-profile", "--port", "0", "--pkg", "pkg", "--session-ttl-ms", "120000"], ["listening on "]).then(([a]) => a);
async function startProxy(server) {
  const [url, control] = await start(bin("holdfast-fault-proxy"), ["--upstream", server.replace(/^http:\/\//, "")],
    ["proxy on ", "control on "]);
  const ctl = async (path) => (await fetch(control + path)).text();
  return { url, ctl, stats: async () => JSON.parse(await ctl("/stats")) };
}
const get = async (url) => (await fetch(url)).text();

// ---- Chromium over CDP on a pipe ----------------------------------------------------------------
// (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-terminated JSON). Not through Playwright: its
// pages are always visible (focus emulation) and it forwards every WebSocket frame to the driver.

async function launchChromium(extraArgs) {
  const dir = mkdtempSync(join(tmpdir(), "holdfast-lifecycle-"));
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", `--user-data-dir=${dir}`, ...extraArgs, "about:blank"];
  const proc = spawn(process.env.CHROMIUM || "/usr/bin/chromium", args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
  children.push(proc);
  proc.stderr.resume();
  const [, , , out, inp] = proc.stdio;
  let id = 0;
  let buf = Buffer.alloc(0);
  const pending = new Map();
  const listeners = new Set();
  inp.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (let i = buf.indexOf(0); i >= 0; i = buf.indexOf(0)) {
      const m = JSON.parse(buf.subarray(0, i).toString("utf8"));
      buf = buf.subarray(i + 1);
      const p = m.id !== undefined && pending.get(m.id);
      if (p) {
        pending.delete(m.id);
        if (m.error) p.rej(new Error(`${p.method}: ${m.error.message}`)); else p.res(m.result);
      } else for (const l of listeners) l(m);
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((res, rej) => {
    const i = ++id;
    pending.set(i, { res, rej, method });
    out.write(JSON.stringify({ id: i, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
  });
  const version = await send("Browser.getVersion");
  return {
    version: version.product,
    send,
    on: (f) => { listeners.add(f); return () => listeners.delete(f); },
    async close() {
      await Promise.race([send("Browser.close").catch(() => {}), sleep(3000)]);
      if (proc.exitCode === null) await Promise.race([new Promise((r) => proc.once("exit", r)), sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The page side, evaluated in every tab: counts WebSocket constructions and closes, logs the
// lifecycle events and the client's events with epoch-ms times (comparable with Date.now() here).
const PAGE = String.raw`
window.lc = { events: [], wsNew: 0, wsClose: [], raw: 0, lastRaw: 0, got: [], wakes: [] };
const now = () => performance.timeOrigin + performance.now();
const ev = (kind, extra = {}) => lc.events.push({ kind, t: now(), ...extra });
const NativeWS = window.WebSocket;
window.WebSocket = class extends NativeWS {
  constructor(...a) {
    super(...a);
    lc.wsNew++;
    ev("ws-new");
    this.addEventListener("message", () => { lc.raw++; lc.lastRaw = now(); });
    this.addEventListener("close", (e) => ev("ws-closed", { code: e.code, wasClean: e.wasClean }));
  }
  close(code, reason) { lc.wsClose.push({ t: now(), code, reason }); ev("ws-close", { code }); return super.close(code, reason); }
};
for (const k of ["online", "offline", "pagehide", "pageshow"])
  window.addEventListener(k, (e) => ev(k, { persisted: e.persisted }));
for (const k of ["freeze", "resume", "visibilitychange"])
  document.addEventListener(k, () => ev(k, { state: document.visibilityState }));
window.lcWakes = () => { const tick = () => { lc.wakes.push(Date.now()); setTimeout(tick, 1000); }; setTimeout(tick, 1000); };
window.lcStart = async (url, options, tag) => {
  const { Holdfast } = await import("/pkg/index.js");
  const hf = new Holdfast(url, options);
  lc.hf = hf;
  hf.addEventListener("open", (e) => ev("open", { transport: e.transport }));
  hf.addEventListener("reconnecting", (e) => ev("reconnecting", { reason: e.reason, attempt: e.attempt, delayMs: e.delayMs }));
  hf.addEventListener("gap", (e) => ev("gap", { count: e.count, lastSeq: e.lastSeq }));
  hf.addEventListener("error", (e) => ev("error", { errorKind: e.kind, message: e.message }));
  hf.addEventListener("close", (e) => ev("close", { code: e.code, reason: e.reason }));
  hf.addEventListener("message", (e) => {
    if (typeof e.data !== "string") return;
    ev("message");
    if (tag && e.data.startsWith(tag)) lc.got.push(+e.data.slice(tag.length));
  });
  await hf.ready();
  return true;
};
true;
`;

/** A tab in a fresh browser context (own storage, own sessions), on `url`, with PAGE installed. */
async function newTab(b, url, { minimized = false } = {}) {
  const { browserContextId } = await b.send("Target.createBrowserContext");
  const { targetId } = await b.send("Target.createTarget",
    { url: "about:blank", browserContextId, newWindow: true, ...(minimized ? { windowState: "minimized" } : {}) });
  const { sessionId } = await b.send("Target.attachToTarget", { targetId, flatten: true });
  const cdp = (method, params) => b.send(method, params, sessionId);
  const errors = [];
  const notRestored = [];
  const off = b.on((m) => {
    if (m.sessionId !== sessionId) return;
    if (m.method === "Runtime.exceptionThrown") errors.push(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text);
    if (m.method === "Page.backForwardCacheNotUsed") notRestored.push(m.params.notRestoredExplanations.map((e) => e.reason).join(", "));
  });
  await cdp("Runtime.enable");
  await cdp("Page.enable");
  const evaluate = async (expr) => {
    const r = await cdp("Runtime.evaluate", { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error("page: " + (r.exceptionDetails.exception?.description || r.exceptionDetails.text));
    return r.result.value;
  };
  const loaded = () => new Promise((res) => {
    const o = b.on((m) => { if (m.sessionId === sessionId && m.method === "Page.loadEventFired") { o(); res(); } });
  });
  const nav = async (u) => { const l = loaded(); await cdp("Page.navigate", { url: u }); await l; };
  await nav(url);
  await evaluate(PAGE);
  return {
    cdp, evaluate, nav, errors, notRestored,
    start: (u, tag, options = OPTIONS) => evaluate(`lcStart(${JSON.stringify(u)}, ${JSON.stringify(options)}, ${JSON.stringify(tag)})`),
    events: () => evaluate("lc.events"),
    got: () => evaluate("lc.got"),
    async close() { off(); await b.send("Target.disposeBrowserContext", { browserContextId }).catch(() => {}); },
  };
}

/** Lost / duplicated / out of order in `got` against 1..sent. */
function tally(got, sent) {
  const seen = new Set();
  let dup = 0, ooo = 0, highest = 0;
  for (const n of got) {
    if (seen.has(n)) dup++;
    seen.add(n);
    if (n < highest) ooo++;
    highest = Math.max(highest, n);
  }
  let lost = 0;
  for (let i = 1; i <= sent; i++) if (!seen.has(i)) lost++;
  return { lost, dup, ooo, extra: [...seen].filter((n) => n < 1 || n > sent).length };
}
const first = (events, kinds, after) => events.find((e) => kinds.includes(e.kind) && e.t >= after) || null;

/** A tab that broadcasts `tag<i>` (i = 1, 2, …) to every session at 20/s until stopped. */
async function broadcaster(b, server, tag) {
  const tab = await newTab(b, server + "/pkg/package.json");
  await tab.start(server + "/holdfast", null);
  return {
    go: () => tab.evaluate(`lc.i = 0; lc.timer = setInterval(() => lc.hf.send("broadcast:${tag}" + (++lc.i)), 50); true`),
    /** Stops; returns how many were sent, once the server acknowledged them all. */
    async stop() {
      await tab.evaluate("clearInterval(lc.timer); true");
      await until(() => tab.evaluate("lc.hf.bufferedAmount === 0"), 10000);
      return tab.evaluate("lc.i");
    },
    close: () => tab.close(),
  };
}

/** Waits until every page got `sent` tagged messages; checks each page's tally. */
async function delivered(pages, sent, what) {
  for (const [name, tab] of pages) {
    await until(async () => (await tab.got()).length >= sent, 15000, 100);
    await sleep(300); // duplicates, if any, would come right behind
    const t = tally(await tab.got(), sent);
    const evs = await tab.events();
    const gaps = evs.filter((e) => e.kind === "gap").length;
    check(t.lost === 0 && t.dup === 0 && t.ooo === 0 && t.extra === 0 && gaps === 0,
      `${what} ${name}: ${sent} sent, lost ${t.lost}, duplicated ${t.dup}, out of order ${t.ooo}, gap events ${gaps}`);
    check(tab.errors.length === 0, `${what} ${name}: no uncaught page errors ${tab.errors.length ? JSON.stringify(tab.errors) : ""}`);
  }
}

// ---- F22: a frozen page ---------------------------------------------------------------------------

// Chromium closes a frozen page's WebSockets (the close event arrives on resume), so over
// WebSocket the verdict is that close; SSE and long polling keep their requests, and through a
// black hole only the probe can tell.
const LINKS = [["websocket", "as-is"], ["sse", "as-is"], ["long-polling", "as-is"], ["polling", "as-is"], ["sse", "black-holed"]];

async function frozen(b, server) {
  console.log(`== F22 frozen page: ${FREEZE_MS / 1000} s frozen while the server sends, ${RUNS} runs × ${LINKS.length} links`);
  const bc = await broadcaster(b, server, "F:");
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [transport, link] of LINKS) {
      const proxy = link === "black-holed" ? await startProxy(server) : null;
      const tab = await newTab(b, server + "/pkg/package.json");
      await tab.start((proxy ? proxy.url : server) + "/holdfast", "F:", { ...OPTIONS, transports: [transport] });
      runs.push({ name: `run ${i + 1} (${transport}, ${link})`, link, proxy, tab });
    }
  }
  await bc.go();
  await sleep(1500);
  // Frozen 2 s apart, each for FREEZE_MS, so the resumes do not share an instant on 2 cores.
  await Promise.all(runs.map(async (r, k) => {
    await sleep(k * 2000);
    await r.tab.cdp("Page.setWebLifecycleState", { state: "frozen" });
    if (r.proxy) await r.proxy.ctl("/mode/blackhole"); // catches the open connection for good
    await sleep(FREEZE_MS);
    if (r.proxy) await r.proxy.ctl("/mode/pass"); // new connections go through
    r.resumeCall = Date.now();
    await r.tab.cdp("Page.setWebLifecycleState", { state: "active" });
    // The user comes back to the tab: visible again (focus emulation; a frozen page is hidden).
    await r.tab.cdp("Emulation.setFocusEmulationEnabled", { enabled: true });
  }));
  await sleep(3000);
  const sent = await bc.stop();
  for (const r of runs) {
    const evs = await r.tab.events();
    const resumed = first(evs, ["resume"], r.resumeCall - 50);
    const dead = first(evs, ["reconnecting"], r.resumeCall - 50);
    const msg = first(evs, ["message"], r.resumeCall - 50);
    const decision = dead || msg;
    const took = decision ? decision.t - r.resumeCall : null;
    const how = dead ? `declared dead (${dead.reason.trim()})` : msg ? "alive (a message)" : "no decision";
    r.took = took;
    check(resumed !== null, `F22 ${r.name}: the page saw 'resume' ${ms(resumed && resumed.t - r.resumeCall)} after the CDP call`);
    check(took !== null && took <= 500, `F22 ${r.name}: decided ${ms(took)} after the resume: ${how}`);
    if (r.link === "black-holed") {
      // The verdict is the freeze probe's. Before bugs 3 and 4 were fixed (TESTING.md) a POST's
      // own abort signal could judge it ("signal timed out"), and an answer read before the
      // freeze counted as life, deferring it to the next POST's deadline ("send timeout").
      check(dead !== null && /dead link/.test(dead.reason),
        `F22 ${r.name}: nothing reached the page, the link was declared dead by the probe (${dead ? dead.reason : "none"})`);
    }
    check(!(dead && /send timeout/.test(dead.reason) && took < 100), `F22 ${r.name}: no send timeout judged over the frozen time`);
    const reopened = first(evs, ["open"], r.resumeCall - 50);
    note(`F22 ${r.name}: open again ${ms(reopened && reopened.t - r.resumeCall)} after the resume`);
  }
  await delivered(runs.map((r) => [r.name, r.tab]), sent, "F22");
  await Promise.all(runs.map((r) => r.tab.close()));
  await bc.close();
  return runs.map((r) => r.took);
}

// ---- bfcache --------------------------------------------------------------------------------------

async function bfcache(b, server) {
  console.log(`== bfcache: pagehide → clean close, pageshow (persisted) → resume; ${RUNS} runs`);
  const bc = await broadcaster(b, server, "B:");
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const proxy = await startProxy(server);
    const tab = await newTab(b, server + "/pkg/package.json");
    await tab.start(proxy.url + "/holdfast", "B:");
    runs.push({ name: `run ${i + 1}`, proxy, tab });
  }
  await bc.go();
  await sleep(1000);
  await Promise.all(runs.map(async (r, k) => {
    await sleep(k * 700);
    r.away = Date.now();
    await r.tab.nav(new URL("/pkg/README.md", server).href);
    // The proxy sees the TCP connection end once the close handshake is done.
    r.closedAfter = (await until(async () => (await r.proxy.stats()).connections === 0, 2000, 20)) ? Date.now() - r.away : null;
    await sleep(3000); // in the cache
    r.back = Date.now();
    await r.tab.cdp("Runtime.evaluate", { expression: "history.back()" });
    await until(async () => (await r.tab.evaluate("typeof lc === 'object' && lc.events.some((e) => e.kind === 'open' && e.t > " + r.back + ")").catch(() => false)), 5000, 50);
  }));
  await sleep(2000);
  const sent = await bc.stop();
  const times = [];
  for (const r of runs) {
    const restored = await r.tab.evaluate("typeof lc === 'object'").catch(() => false);
    if (!check(restored, `bfcache ${r.name}: restored from the cache (${r.tab.notRestored.join("; ") || "no backForwardCacheNotUsed"})`)) continue;
    const evs = await r.tab.events();
    const hide = first(evs, ["pagehide"], r.away - 50);
    const show = first(evs, ["pageshow"], r.back - 50);
    const closeCall = evs.find((e) => e.kind === "ws-close" && e.t >= r.away - 50);
    const open = first(evs, ["open"], r.back - 50);
    const reconnecting = evs.filter((e) => e.kind === "reconnecting" && e.t >= r.away - 50).map((e) => e.reason);
    check(hide && hide.persisted === true && show && show.persisted === true,
      `bfcache ${r.name}: pagehide.persisted ${hide && hide.persisted}, pageshow.persisted ${show && show.persisted}`);
    check(closeCall && closeCall.code === 1000 && closeCall.t - hide.t < 50,
      `bfcache ${r.name}: the client closed its WebSocket (${closeCall ? closeCall.code : "no close"}) in pagehide, ${ms(closeCall && closeCall.t - hide.t)} after it`);
    check(r.closedAfter !== null && r.closedAfter <= 1000,
      `bfcache ${r.name}: the connection ended on the wire ${ms(r.closedAfter)} after leaving (server idle timeout: 2500 ms)`);
    const took = open && show ? open.t - show.t : null;
    times.push(took);
    check(took !== null && took <= 1000, `bfcache ${r.name}: open ${ms(took)} after pageshow (reasons: ${JSON.stringify(reconnecting)})`);
  }
  await delivered(runs.map((r) => [r.name, r.tab]), sent, "bfcache");
  await Promise.all(runs.map((r) => r.tab.close()));
  await bc.close();
  return times;
}

// ---- hidden tab under intensive wake-up throttling ----------------------------------------------

async function hidden(b, server) {
  console.log(`== hidden tab: intensive wake-up throttling (grace ${GRACE_S} s), idle ${IDLE_S} s, then ${RUNS} silent servers`);
  await get(server + "/_fault/recover");
  const control = await newTab(b, server + "/pkg/package.json", { minimized: true });
  await control.evaluate("lcWakes(); true");
  const t0 = Date.now();
  const tabs = [];
  for (let i = 0; i < RUNS; i++) {
    const tab = await newTab(b, server + "/pkg/package.json", { minimized: true });
    await tab.start(server + "/holdfast", null);
    await tab.evaluate("lcWakes(); true");
    tabs.push({ name: `tab ${i + 1}`, tab });
  }
  const vis = await Promise.all([control, ...tabs.map((t) => t.tab)].map((t) => t.evaluate("document.visibilityState")));
  check(vis.every((v) => v === "hidden"), `hidden: every tab reports visibilityState ${JSON.stringify([...new Set(vis)])}`);
  const idleFrom = Date.now();
  let attachedMin = Infinity;
  while (Date.now() - idleFrom < IDLE_S * 1000) {
    await sleep(5000);
    attachedMin = Math.min(attachedMin, JSON.parse(await get(server + "/_fault/stats")).attached);
  }
  // The control tab's wake-ups: ~1/s while in the grace period, ≤ 3 per minute after it.
  const wakes = await control.evaluate("lc.wakes");
  const graceEnd = t0 + GRACE_S * 1000;
  const inGrace = wakes.filter((w) => w < graceEnd - 1000).length;
  const lastMinute = wakes.filter((w) => w > Date.now() - 60_000).length;
  const firstThrottled = wakes.find((w, i) => i > 0 && w - wakes[i - 1] > 5000);
  note(`hidden: control tab's 1 s timer woke ${inGrace} times in the first ${GRACE_S - 1} s (grace period)`);
  check(lastMinute <= 20, `hidden: ... and ${lastMinute} times in the last 60 s (60 unthrottled, 1 if alone in the browser): intensive throttling on; first gap > 5 s ${ms(firstThrottled && firstThrottled - t0)} after hiding`);
  for (const { name, tab } of tabs) {
    const evs = await tab.events();
    const w = (await tab.evaluate("lc.wakes")).filter((x) => x > Date.now() - 60_000).length;
    const dead = evs.filter((e) => e.kind === "reconnecting").length;
    const state = await tab.evaluate("lc.hf.state");
    check(dead === 0 && state === "open" && (await tab.evaluate("lc.wsNew")) === 1,
      `hidden ${name}: idle ${IDLE_S} s: ${dead} false dead-link declarations, ${(await tab.evaluate("lc.wsNew")) - 1} reconnects, state ${state} (its 1 s timer: ${w} wake-ups in the last 60 s)`);
  }
  check(attachedMin >= RUNS, `hidden: the server kept every session attached while idle (fewest attached ${attachedMin})`);
  // A real black hole: the server stops reading and writing, the sockets stay open. Every tab is
  // watched at once: a throttled timer may wait for the next aligned wake-up (up to a minute).
  const worst = [];
  for (let round = 1; round <= SILENT_ROUNDS; round++) {
    const mark = Date.now();
    await get(server + "/_fault/silent");
    const silentAt = Date.now();
    await Promise.all(tabs.map(async ({ name, tab }) => {
      const d = await until(() => tab.evaluate(`lc.events.find((e) => e.kind === "reconnecting" && e.t >= ${mark})`), 70000, 200);
      const lastRaw = await tab.evaluate("lc.lastRaw");
      const after = d ? d.t - silentAt : null;
      const afterInbound = d ? Math.min(d.t - lastRaw, d.t - mark) : null;
      worst.push(afterInbound);
      const bound = OPTIONS.heartbeatTimeoutMs + 1000 + 300;
      const what = `hidden ${name}, silent server ${round}: dead link declared ${ms(after)} after the silence, ${ms(afterInbound)} after the last inbound byte (window ${OPTIONS.heartbeatTimeoutMs} ms + ≤ 1000 ms hidden-page timer alignment)`;
      if (!d) check(false, what);
      else if (STRICT || afterInbound <= bound) check(/dead link/.test(d.reason) && afterInbound <= bound, what);
      else {
        knownIssues++;
        note(`LATE (not asserted: LIFECYCLE_STRICT=0): ${what}`);
        check(afterInbound <= 65_000, `hidden ${name}: ... within intensive throttling's 1-minute wake-up`);
      }
    }));
    await get(server + "/_fault/recover");
    const reopen = await until(async () => {
      for (const { tab } of tabs) if (!(await tab.evaluate(`lc.events.some((e) => e.kind === "open" && e.t >= ${mark})`))) return false;
      return true;
    }, 70000, 200);
    check(reopen, `hidden, silent server ${round}: every tab open again after recover (${((Date.now() - mark) / 1000).toFixed(1)} s after the silence)`);
  }
  await Promise.all([control, ...tabs.map((t) => t.tab)].map((t) => t.close()));
  return worst;
}

// ---- F21: offline -----------------------------------------------------------------------------------

async function setOffline(tab, offline) {
  const conditions = { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };
  await tab.cdp("Network.enable");
  try {
    await tab.cdp("Network.emulateNetworkConditions", conditions);
  } catch {
    await tab.cdp("Network.overrideNetworkState", conditions); // the replacement in newer builds
  }
}

// Every transport: the proxy's count of TCP connections is what shows no attempt was made (the
// page's count of WebSocket constructions is WebSocket's alone).
const OFFLINE_TRANSPORTS = ["websocket", "sse", "long-polling", "polling"];

async function offline(b, server) {
  console.log(`== F21 offline ${OFFLINE_MS / 1000} s with the link cut, then online; ${RUNS} runs × ${OFFLINE_TRANSPORTS.length} transports`);
  const bc = await broadcaster(b, server, "O:");
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    for (const transport of OFFLINE_TRANSPORTS) {
      const proxy = await startProxy(server);
      const tab = await newTab(b, server + "/pkg/package.json");
      await tab.start(proxy.url + "/holdfast", "O:", { ...OPTIONS, transports: [transport] });
      runs.push({ name: `run ${i + 1} (${transport})`, transport, proxy, tab });
    }
  }
  await bc.go();
  await sleep(1000);
  await Promise.all(runs.map(async (r, k) => {
    await sleep(k * 1500);
    // The cable is out: the open connection is dead (no FIN), and the browser says offline.
    await r.proxy.ctl("/mode/blackhole");
    r.offAt = Date.now();
    await setOffline(r.tab, true);
    await sleep(500); // the client's probe (freezeProbeMs 400) finds the link dead
    r.ws0 = await r.tab.evaluate("lc.wsNew");
    r.accepted0 = (await r.proxy.stats()).accepted;
    await sleep(OFFLINE_MS - 500);
    r.wsWhile = (await r.tab.evaluate("lc.wsNew")) - r.ws0;
    r.acceptedWhile = (await r.proxy.stats()).accepted - r.accepted0;
    await r.proxy.ctl("/mode/pass");
    r.onAt = Date.now();
    await setOffline(r.tab, false);
    await until(() => r.tab.evaluate(`lc.events.some((e) => e.kind === "open" && e.t >= ${r.onAt})`), 5000, 20);
  }));
  await sleep(1000);
  const sent = await bc.stop();
  const times = [];
  for (const r of runs) {
    const evs = await r.tab.events();
    const off = first(evs, ["offline"], r.offAt - 50);
    const on = first(evs, ["online"], r.onAt - 50);
    const dead = first(evs, ["reconnecting"], r.offAt - 50);
    const open = first(evs, ["open"], r.onAt - 50);
    const attemptsWhile = evs.filter((e) => e.kind === "ws-new" && e.t > r.offAt + 500 && e.t < r.onAt).length;
    check(off && on, `F21 ${r.name}: the page saw 'offline' and 'online' (navigator.onLine emulated)`);
    note(`F21 ${r.name}: link given up ${ms(dead && dead.t - r.offAt)} after offline (${dead ? dead.reason.trim() : "—"})`);
    check(r.wsWhile === 0 && r.acceptedWhile === 0 && attemptsWhile === 0,
      `F21 ${r.name}: ${r.wsWhile} WebSocket attempts in the page and ${r.acceptedWhile} TCP connections at the proxy while offline`);
    const took = open && on ? open.t - on.t : null;
    times.push(took);
    const between = evs.filter((e) => on && e.t >= on.t && (!open || e.t <= open.t) && e.kind !== "message");
    note(`F21 ${r.name}: after 'online': ${between.map((e) => `${e.kind}${e.reason ? ` (${e.reason.trim()})` : ""} +${Math.round(e.t - on.t)} ms`).join(", ") || "—"}`);
    if (r.transport === "websocket") {
      check(took !== null && took < 1000, `F21 ${r.name}: open ${ms(took)} after 'online'`);
    } else {
      // The attempt starts at once, but fetch and EventSource reuse the browser's pooled
      // keep-alive connections, and those the black hole caught are dead: each one a request
      // lands on costs the connect deadline before the next attempt gets a fresh connection
      // (seen: SSE and long polling one connect timeout, open 2.0–2.2 s after 'online'; short
      // polling two, 4.3–4.5 s). CDP's emulated offline leaves the pool as it is, where a real
      // network change makes Chromium close idle sockets (TESTING.md, "Browser lifecycle").
      const bound = 2 * OPTIONS.connectTimeoutMs + 1000;
      check(took !== null && took < bound, `F21 ${r.name}: open ${ms(took)} after 'online' (bound ${bound} ms: two dead pooled connections)`);
    }
  }
  await delivered(runs.map((r) => [r.name, r.tab]), sent, "F21");
  await Promise.all(runs.map((r) => r.tab.close()));
  await bc.close();
  return times;
}

// ---- main -----------------------------------------------------------------------------------------

let browser;
const summary = {};
try {
  const [serverA, serverB] = await Promise.all([startServer(), startServer()]);
  browser = await launchChromium([`--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/${GRACE_S}`]);
  note(`${browser.version}; servers ${serverA} (freeze, bfcache, offline) and ${serverB} (hidden tabs)`);
  // The hidden tabs idle on their own server while the other scenarios run on the first.
  const hiddenRun = ONLY.includes("hidden") ? hidden(browser, serverB) : Promise.resolve(null);
  if (ONLY.includes("freeze")) summary.freezeDecisionMs = await frozen(browser, serverA);
  if (ONLY.includes("bfcache")) summary.bfcacheReopenMs = await bfcache(browser, serverA);
  if (ONLY.includes("offline")) summary.onlineToOpenMs = await offline(browser, serverA);
  summary.hiddenDeadAfterInboundMs = await hiddenRun;
} catch (e) {
  check(false, `lifecycle: ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  for (const c of children) if (c.exitCode === null) c.kill();
}
console.log("summary " + JSON.stringify(summary, (k, v) => (typeof v === "number" ? Math.round(v) : v)));
if (knownIssues) console.log(`${knownIssues} measurement(s) over the dead window in hidden tabs, not asserted (LIFECYCLE_STRICT=0)`);
console.log(failures ? `FAILED: ${failures} lifecycle check(s) (${secs()} s)` : `all lifecycle checks passed (${secs()} s)`);
process.exit(failures ? 1 : 0);
