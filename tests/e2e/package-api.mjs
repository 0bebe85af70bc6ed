// End-to-end: the npm package's entries (pkg/index.js, pkg/slim.js) as an app meets them, in
// headless Chromium against the reference server. Each case runs in a fresh page, so the engine
// is not loaded yet when the first client is constructed: what happens before it is ready (sends
// queued, close, option errors, a failed load), and the WebSocket-compatible details.
//
// Usage: node tests/e2e/package-api.mjs <server base URL>   (the server must serve --pkg pkg)
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const base = process.argv[2];
if (!base) throw new Error("usage: package-api.mjs <server base URL>");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failures = 0;
const check = (ok, what, detail) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  if (!ok) failures++;
};

/** Runs `fn(base)` in a fresh page of the server's origin; returns its result and page errors. */
async function fresh(fn) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/pkg/package.json");
  try {
    return { out: await page.evaluate(fn, base), errors };
  } finally {
    await page.close();
  }
}

try {
  // 1. Sends before the engine is ready are queued in order and delivered after open.
  let r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    const hf = new Holdfast(base + "/holdfast");
    const out = { readyState: hf.readyState, state: hf.state, transport: hf.transport };
    const messages = [];
    hf.onmessage = (e) => messages.push(typeof e.data === "string" ? e.data : [...new Uint8Array(e.data)].join(","));
    const buf = new Uint8Array([1, 2, 3]);
    out.sends = [hf.send("é1"), hf.send(buf), hf.send("3")];
    buf[0] = 9; // the app may reuse its buffer once send returns
    out.buffered = hf.bufferedAmount;
    out.statsQueued = hf.stats().queued;
    await hf.ready();
    for (let i = 0; i < 100 && messages.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    out.messages = messages;
    out.url = hf.url;
    hf.close();
    return out;
  });
  check(r.out.readyState === 0 && r.out.state === "connecting" && r.out.transport === null,
    "before the engine is ready: CONNECTING, no transport", r.out);
  check(r.out.sends.every((s) => s === "queued"), "early sends → queued", r.out.sends);
  check(r.out.buffered === 3 + 3 + 1 && r.out.statsQueued === 3, "early sends count in bufferedAmount and stats", r.out);
  check(JSON.stringify(r.out.messages) === JSON.stringify(["é1", "1,2,3", "3"]),
    "early sends echoed in order, bytes as they were at send", r.out.messages);
  check(r.out.url === base + "/holdfast", "url is the absolute URL given", r.out.url);
  check(r.errors.length === 0, "no uncaught page errors", r.errors);

  // 2. Bad options found when the engine arrives: an error event, then one close.
  r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    let thrown = null;
    let hf;
    try { hf = new Holdfast(base + "/holdfast", { heartbeatIntervalMS: 5 }); } catch (e) { thrown = String(e); }
    const events = [];
    hf.addEventListener("error", (e) => events.push(["error", e.kind, e.message]));
    hf.addEventListener("close", (e) => events.push(["close", e.code, e.wasClean]));
    hf.send("lost");
    await new Promise((r) => setTimeout(r, 500));
    return { thrown, events, readyState: hf.readyState, after: hf.send("after") };
  });
  check(r.out.thrown === null, "before ready, a bad option does not throw", r.out.thrown);
  const ev = r.out.events;
  check(ev.length === 3 && ev[0][1] === "invalid-options" && ev[0][2].includes("heartbeatIntervalMS")
    && ev[1][1] === "queue-discarded" && ev[2][0] === "close" && ev[2][1] === 1006 && ev[2][2] === false,
  "…it arrives as error invalid-options naming it, queue-discarded, then close 1006", ev);
  check(r.out.readyState === 3 && r.out.after === "rejected", "…then CLOSED, sends rejected", r.out);

  // 3. After initHoldfast() resolves, the constructor throws option errors synchronously.
  r = await fresh(async (base) => {
    const { Holdfast, initHoldfast } = await import("/pkg/index.js");
    await initHoldfast();
    try { new Holdfast(base + "/holdfast", { overflow: "sometimes" }); return "no throw"; } catch (e) { return `${e.name}: ${e.message}`; }
  });
  check(r.out.startsWith("TypeError") && r.out.includes("overflow"), "after initHoldfast(), bad options throw", r.out);

  // 4. close() before the engine is ready: one close with the code asked for, queue discarded.
  r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    const hf = new Holdfast(base + "/holdfast");
    const events = [];
    hf.addEventListener("error", (e) => events.push(["error", e.kind]));
    hf.addEventListener("close", (e) => events.push(["close", e.code, e.reason]));
    hf.addEventListener("open", () => events.push(["open"]));
    hf.send("never");
    let badCode = null;
    try { hf.close(1234); } catch (e) { badCode = e.name; }
    hf.close(4001, "early");
    const late = hf.send("late");
    await new Promise((r) => setTimeout(r, 500));
    return { events, badCode, late, readyState: hf.readyState };
  });
  const closes = r.out.events.filter((e) => e[0] === "close");
  check(r.out.badCode === "TypeError", "close(1234) before ready throws", r.out.badCode);
  check(closes.length === 1 && closes[0][1] === 4001 && closes[0][2] === "early" && r.out.readyState === 3,
    "close before ready → exactly one close with its code and reason", r.out.events);
  check(!r.out.events.some((e) => e[0] === "open") && r.out.events.some((e) => e[1] === "queue-discarded"),
    "…no open, and the queued send is reported discarded", r.out.events);
  check(r.out.late === "rejected", "send after close → rejected", r.out.late);

  // 5. WebSocket-compatible details: constants, onX replace semantics, binaryType "blob".
  r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    const hf = new Holdfast(base + "/holdfast");
    const out = {
      constants: [Holdfast.CONNECTING, Holdfast.OPEN, Holdfast.CLOSING, Holdfast.CLOSED, hf.CONNECTING, hf.OPEN, hf.CLOSING, hf.CLOSED],
      protocol: hf.protocol, extensions: hf.extensions, binaryType: hf.binaryType, onmessage: hf.onmessage,
    };
    const calls = [];
    hf.addEventListener("message", () => calls.push("listener-before"));
    hf.onmessage = () => calls.push("first");
    hf.addEventListener("message", () => calls.push("listener-after"));
    const second = () => calls.push("second");
    hf.onmessage = second; // replaces "first", in its place
    out.same = hf.onmessage === second;
    hf.binaryType = "nonsense";
    out.afterNonsense = hf.binaryType;
    hf.binaryType = "blob";
    let blob = null;
    hf.addEventListener("message", (e) => { if (typeof e.data !== "string") blob = e.data; });
    await hf.ready();
    hf.send("one");
    hf.send(new Uint8Array([7, 8]));
    for (let i = 0; i < 100 && !blob; i++) await new Promise((r) => setTimeout(r, 20));
    out.order = calls.slice(0, 3);
    out.blob = blob instanceof Blob ? [...new Uint8Array(await blob.arrayBuffer())].join(",") : String(blob);
    hf.onmessage = null;
    const n = calls.length;
    hf.send("two");
    await new Promise((r) => setTimeout(r, 300));
    out.afterNull = calls.slice(n);
    out.onmessageNull = hf.onmessage;
    hf.close();
    return out;
  });
  check(JSON.stringify(r.out.constants) === "[0,1,2,3,0,1,2,3]", "CONNECTING…CLOSED on the class and instances", r.out.constants);
  check(r.out.protocol === "" && r.out.extensions === "" && r.out.binaryType === "arraybuffer" && r.out.onmessage === null,
    "protocol, extensions empty; binaryType arraybuffer; onmessage null", r.out);
  check(r.out.same && JSON.stringify(r.out.order) === JSON.stringify(["listener-before", "second", "listener-after"]),
    "setting onmessage again replaces the handler in its place", r.out.order);
  check(r.out.afterNonsense === "arraybuffer" && r.out.blob === "7,8", "binaryType ignores unknown values; blob delivers a Blob", r.out);
  check(JSON.stringify(r.out.afterNull) === JSON.stringify(["listener-before", "listener-after"]) && r.out.onmessageNull === null,
    "onmessage = null removes the handler only", r.out.afterNull);

  // 5b. Before the engine is ready, sends meet the engine's queue rules: the same outcomes.
  r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    const run = async (options, sends) => {
      const hf = new Holdfast(base + "/holdfast", options);
      const errors = [];
      const echoes = [];
      hf.addEventListener("error", (e) => errors.push(e.kind));
      hf.addEventListener("message", (e) => echoes.push(e.data));
      const outcomes = sends.map((m) => hf.send(m));
      const buffered = hf.bufferedAmount;
      await hf.ready();
      for (let i = 0; i < 50 && echoes.length < outcomes.filter((o) => o === "queued").length; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      hf.close();
      return { outcomes, buffered, errors, echoes };
    };
    return {
      reject: await run({ queueMaxMessages: 2, maxMessageBytes: 10 }, ["a", "b", "c", "x".repeat(50)]),
      dropOldest: await run({ queueMaxMessages: 2, overflow: "drop-oldest" }, ["a", "b", "c"]),
    };
  });
  check(JSON.stringify(r.out.reject.outcomes) === JSON.stringify(["queued", "queued", "rejected", "rejected"])
    && r.out.reject.buffered === 2
    && JSON.stringify(r.out.reject.errors) === JSON.stringify(["queue-full", "message-too-big"])
    && JSON.stringify(r.out.reject.echoes) === JSON.stringify(["a", "b"]),
  "early sends: queueMaxMessages and maxMessageBytes apply, rejected with their error", r.out.reject);
  check(JSON.stringify(r.out.dropOldest.outcomes) === JSON.stringify(["queued", "queued", "queued"])
    && JSON.stringify(r.out.dropOldest.errors) === JSON.stringify(["queue-overflow"])
    && JSON.stringify(r.out.dropOldest.echoes) === JSON.stringify(["b", "c"]),
  "early sends: overflow drop-oldest drops the oldest, says so", r.out.dropOldest);

  // 5c. Raw mode through the JS API, where a text goes to the socket and to the app as the page's
  // own JS string when the engine moves it through unchanged (src/web/text_identity.rs): every
  // echo is exactly what was sent, in order — equal-length texts sent in bursts and from inside
  // the message handler, next to refused ones (freed at once, their memory reused by the next),
  // non-ASCII ones, and heartbeat replies swallowed by the engine.
  r = await fresh(async (base) => {
    const { Holdfast } = await import("/pkg/index.js");
    const hf = new Holdfast(base.replace(/^http/, "ws") + "/holdfast/raw", {
      protocol: "raw", maxMessageBytes: 64, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 5000,
      rawHeartbeat: { ping: "__hb__", pong: "__hb__" },
    });
    const N = 600;
    const word = (i) => `m${String(i).padStart(4, "0")}${i % 7 === 0 ? "é" : "e"}${i % 11 === 0 ? "😀" : "--"}`;
    const sent = [];
    const echoes = [];
    let refused = 0;
    let next = 0;
    const send = () => {
      if (hf.send("x".repeat(65)) === "rejected") refused++; // too big: refused, freed
      const w = word(next++);
      if (hf.send(w) !== "rejected") sent.push(w);
    };
    hf.onmessage = (e) => {
      echoes.push(e.data);
      if (next < N) send(); // from inside the pump
      if (next < N && echoes.length % 3 === 0) send();
    };
    await hf.ready();
    for (let i = 0; i < 50; i++) send(); // a burst outside it
    for (let i = 0; i < 300 && echoes.length < N; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    hf.close();
    return { sent, echoes, refused, n: N };
  });
  check(r.out.sent.length === r.out.n && JSON.stringify(r.out.echoes) === JSON.stringify(r.out.sent),
    `raw mode (JS API): ${r.out.echoes.length} echoes of ${r.out.sent.length} sends, exactly and in order, heartbeat replies swallowed`,
    { sent: r.out.sent.length, echoes: r.out.echoes.length, firstDiff: r.out.echoes.findIndex((e, i) => e !== r.out.sent[i]) });
  check(r.out.refused === r.out.n, "raw mode (JS API): every too-big send refused", r.out.refused);
  check(r.errors.length === 0, "no uncaught page errors", r.errors);

  // 5d. SEC-7: `__proto__` and `constructor` keys in options are refused as unknown options by
  // name, and nothing reaches Object.prototype (the engine only reads options, own keys first).
  r = await fresh(async (base) => {
    const { Holdfast, initHoldfast } = await import("/pkg/index.js");
    await initHoldfast();
    const tries = {
      proto: JSON.parse('{"__proto__": {"polluted": "yes"}}'),
      constructor: { constructor: { prototype: { polluted: "yes" } } },
      protoBeside: JSON.parse('{"transports": ["websocket"], "__proto__": {"heartbeatIntervalMs": 1}}'),
    };
    const out = {};
    for (const [name, options] of Object.entries(tries)) {
      try {
        new Holdfast(base + "/holdfast", options).close();
        out[name] = "accepted";
      } catch (e) {
        out[name] = `${e.name}: ${e.message}`;
      }
    }
    out.clean = ({}).polluted === undefined && Object.prototype.polluted === undefined
      && Object.prototype.heartbeatIntervalMs === undefined;
    return out;
  });
  check(/^TypeError: .*__proto__/.test(r.out.proto) && /^TypeError: .*constructor/.test(r.out.constructor)
    && /^TypeError: .*__proto__/.test(r.out.protoBeside) && r.out.clean,
  "SEC-7: __proto__ / constructor option keys refused by name; Object.prototype untouched", r.out);

  // 6. holdfast/slim: refuses to construct before initHoldfast; a failed load is reported.
  r = await fresh(async (base) => {
    const { Holdfast, initHoldfast } = await import("/pkg/slim.js");
    const out = {};
    try { new Holdfast(base + "/holdfast"); out.before = "no throw"; } catch (e) { out.before = e.name; }
    const failing = initHoldfast("/pkg/missing.wasm");
    const hf = new Holdfast(base + "/holdfast");
    const events = [];
    hf.addEventListener("error", (e) => events.push(["error", e.kind]));
    hf.addEventListener("close", (e) => events.push(["close", e.code]));
    out.initRejected = await failing.then(() => false, () => true);
    await new Promise((r) => setTimeout(r, 100));
    out.events = events;
    try { new Holdfast(base + "/holdfast"); out.afterFailure = "no throw"; } catch (e) { out.afterFailure = e.message; }
    // A failed load is forgotten: a second initHoldfast with the right URL works.
    await initHoldfast(new URL("/pkg/holdfast_wasm_bg.wasm", location.href));
    const ok = new Holdfast(base + "/holdfast");
    const echo = new Promise((resolve) => ok.addEventListener("message", (e) => resolve(e.data)));
    await ok.ready();
    ok.send("slim echo");
    out.echo = await echo;
    ok.close();
    return out;
  });
  check(r.out.before === "TypeError", "slim: new Holdfast before initHoldfast throws", r.out.before);
  check(r.out.initRejected && JSON.stringify(r.out.events) === JSON.stringify([["error", "init-failed"], ["close", 1006]]),
    "slim: a failed load → init-failed, close 1006", r.out);
  check(/initHoldfast failed .*call it again/.test(r.out.afterFailure), "slim: after a failed load, the constructor says so", r.out.afterFailure);
  check(r.out.echo === "slim echo", "slim: after a retry with the right URL, open + echo", r.out.echo);
  check(r.errors.length === 0, "no uncaught page errors", r.errors);
} catch (e) {
  console.error(e);
  failures++;
} finally {
  await browser.close();
}
if (failures > 0) {
  console.error(`package-api: ${failures} check(s) failed`);
  process.exit(1);
}
console.log("package-api: all checks passed");
