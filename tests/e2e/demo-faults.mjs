// End-to-end: the demo page (www/) keeps a stream of numbered messages whole through every server
// fault its buttons inject. Headless Chromium (playwright-core) against the reference server in
// its test profile (faults on, server ping 1 s, idle 2.5 s, session TTL 5 s).
//
// Streams n:1, n:2, … at 20/s and presses every fault button in turn — kill connections; go
// silent (a dead link is declared) then recover; block WebSocket + kill (off the websocket rung);
// buffer SSE + kill, unbuffer; block SSE + kill; unblock both; down 2 s; recover — asserting after
// each that the fault took effect where it must (a reconnect, a switch, a dead link, off the
// blocked rungs) and that the page recovered (state open, delivered growing). Then it stops the
// stream, waits for the drain and asserts 0 lost, 0 duplicated, 0 out of order on the page and in
// its DOM, the same count from the client's own `message` events, and a server tally equal to
// what the page sent. Screenshots at desktop and phone width (no horizontal overflow) go to
// target/e2e/. Last, the upgrade highlight (synthetic event) and the note shown when /_fault/*
// answers 404.
//
// Usage: node tests/e2e/demo-faults.mjs <server base URL>
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const base = process.argv[2];
if (!base) throw new Error("usage: demo-faults.mjs <server base URL>");
const outDir = resolve("target/e2e");
mkdirSync(outDir, { recursive: true });
const started = Date.now();
const secs = () => ((Date.now() - started) / 1000).toFixed(1);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} [${secs()} s] ${what}`);
  if (!ok) failures++;
  return ok;
};

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");

  const snap = () => page.evaluate(() => window.demo.snapshot());
  const nEvents = () => page.evaluate(() => window.demo.events.length);
  const kindsSince = (n) => page.evaluate((n) => window.demo.events.slice(n).map((e) => e.kind), n);
  // Waits until the timeline has an event of one of `kinds` after position `n`.
  const eventSince = (n, kinds, timeout) => page.waitForFunction(
    ([n, kinds]) => window.demo.events.slice(n).some((e) => kinds.includes(e.kind)), [n, kinds], { timeout })
    .then(() => true, () => false);
  // State open, then at least `more` further echoes (1 s of stream) within `timeout`.
  const recovers = async (what, timeout = 20000, more = 20) => {
    const open = await page.waitForFunction(() => window.demo.snapshot().state === "open", null, { timeout })
      .then(() => true, () => false);
    if (!open) return check(false, `${what}: back to open (still ${(await snap()).state})`);
    const from = (await snap()).delivered;
    const grew = await page.waitForFunction(([from, more]) => window.demo.snapshot().delivered >= from + more,
      [from, more], { timeout: 8000 }).then(() => true, () => false);
    const s = await snap();
    return check(grew && s.state === "open",
      `${what}: open on ${s.transport}, delivered ${from} → ${s.delivered} (sent ${s.sent}, in flight ${s.inFlight})`);
  };
  const press = (fault) => page.click(`button[data-fault="${fault}"]`);
  // Before a fault that cuts the client off: wait until it has been up minUptimeMs (5 s) so its
  // attempt counter is back to 0. Faults in quick succession otherwise grow the backoff past the
  // test profile's 5 s session TTL, and the session expires (a gap: the server forgot it) — not
  // what this test is about (production keeps a session 2 minutes).
  const steady = () => page.waitForFunction(() => window.demo.hf.state === "open" && window.demo.hf.stats().attempt === 0,
    null, { timeout: 10000 }).then(() => true, () => check(false, "attempt counter back to 0 after 5 s up"));

  await page.waitForFunction(() => document.getElementById("state").textContent === "open", null, { timeout: 10000 });
  const first = await snap();
  check(first.transport === "websocket", `page opens on websocket (${first.transport})`);
  await page.waitForFunction(() => window.demo.snapshot().faultsOn === true, null, { timeout: 5000 })
    .then(() => check(true, "fault controls detected as on"), () => check(false, "fault controls detected as on"));
  check(await page.isHidden("#fault-note"), "no 'fault controls are off' note");
  check(await page.locator("#chain li.active").getAttribute("data-transport") === "websocket",
    "chain highlights the websocket rung");

  // An independent count of the echoes, from the client's own events (not the page's counters).
  await page.evaluate(() => {
    const seen = new Map();
    window.__echoes = seen;
    window.demo.hf.addEventListener("message", (e) => {
      const m = typeof e.data === "string" && /^n:(\d+)$/.exec(e.data);
      if (m) seen.set(m[1], (seen.get(m[1]) || 0) + 1);
    });
  });

  await page.click("#stream");
  const streamFrom = Date.now();
  check((await page.getAttribute("#stream", "aria-pressed")) === "true", "stream toggle is pressed");
  await recovers("stream flows");

  // 1. kill connections: the socket drops, the client reconnects and resumes.
  await steady();
  let n = await nEvents();
  const reconnects0 = (await snap()).stats.reconnects;
  await press("drop");
  check(await eventSince(n, ["reconnecting", "dead-link"], 5000), "drop: a reconnect is shown on the timeline");
  await recovers("drop");
  check((await snap()).stats.reconnects > reconnects0, "drop: stats().reconnects grew");

  // 2. go silent: nothing arrives, the heartbeat declares the link dead; then recover. Done on
  //    WebSocket, where only the heartbeat can tell (over HTTP an unanswered POST may be first).
  await steady();
  n = await nEvents();
  check((await snap()).transport === "websocket", "silent: starts on websocket");
  await press("silent");
  check(await eventSince(n, ["dead-link"], 12000), "silent: the timeline shows 'dead link declared'");
  const stalled = await snap();
  check(stalled.state !== "open", `silent: state leaves open (${stalled.state})`);
  await page.waitForTimeout(1000);
  const stalled2 = await snap();
  check(stalled2.delivered === stalled.delivered && stalled2.inFlight > stalled.inFlight,
    `silent: echoes stop while the stream queues (in flight ${stalled.inFlight} → ${stalled2.inFlight})`);
  await press("recover");
  await recovers("silent + recover");

  // 3. block WebSocket + kill connections: the chain is walked down off the websocket rung (if
  //    the recovery from the silence left the client on it, a `transport` event must show the
  //    switch). Stays blocked until step 6.
  await steady();
  n = await nEvents();
  const onWs = (await snap()).transport === "websocket";
  await press("refuse-ws");
  await press("drop");
  check(await eventSince(n, onWs ? ["transport"] : ["reconnecting", "dead-link"], 20000),
    `block WebSocket + drop: ${onWs ? "a transport switch" : "a reconnect"} is shown`);
  await recovers("block WebSocket + drop");
  let s = await snap();
  check(s.transport !== "websocket", `block WebSocket: not on websocket (${s.transport})`);
  check(await page.locator("#chain li.active").getAttribute("data-transport") === s.transport,
    "the chain highlights the rung in use");
  check((await page.textContent('#chain li[data-transport="websocket"] .badge')) === "blocked",
    "the websocket rung is marked blocked");

  // 4. buffer SSE + drop: a buffering proxy never lets the handshake through (if on SSE, the
  //    client moves on after its connect deadline).
  await steady();
  n = await nEvents();
  await press("buffer-sse");
  await press("drop");
  check(await eventSince(n, ["reconnecting", "dead-link", "transport"], 5000), "buffer SSE + drop: a reconnect is shown");
  await recovers("buffer SSE + drop", 25000);
  s = await snap();
  check(s.transport !== "websocket", `buffer SSE: still not on websocket (${s.transport})`);
  await press("unbuffer-sse");
  await recovers("unbuffer SSE");

  // 5. block SSE + drop: off SSE (and still off WebSocket).
  await steady();
  n = await nEvents();
  await press("refuse-sse");
  await press("drop");
  check(await eventSince(n, ["reconnecting", "dead-link", "transport"], 5000), "block SSE + drop: a reconnect is shown");
  await recovers("block SSE + drop", 25000);
  s = await snap();
  check(s.transport !== "websocket" && s.transport !== "sse", `block SSE: on neither blocked rung (${s.transport})`);

  // 6. unblock both: the stream keeps flowing (the client may or may not upgrade; not asserted).
  await press("accept-ws");
  await press("accept-sse");
  await recovers("unblock WebSocket and SSE");
  check((await snap()).activeFaults.length === 0, "no faults listed as active after unblocking");

  // 7. down 2 s: every connection dropped and new ones refused, then the server is back.
  await page.fill("#down-s", "2");
  await steady();
  n = await nEvents();
  await press("down");
  check(await eventSince(n, ["reconnecting", "dead-link"], 5000), "down 2 s: a reconnect is shown");
  await recovers("down 2 s", 20000);

  // 8. recover (nothing left to clear): still flowing.
  await press("recover");
  await recovers("recover");

  // Stop and drain: every number sent is accounted for.
  await page.click("#stream");
  const streamedS = (Date.now() - streamFrom) / 1000;
  const settled = await page.waitForFunction(() => window.demo.snapshot().phase === "settled", null, { timeout: 20000 })
    .then(() => true, () => false);
  check(settled, "stream stopped: the page settles (final probe answered)");
  s = await snap();
  console.log(JSON.stringify({ ...s, stats: undefined }));
  const kinds = await kindsSince(0);
  check(s.sent >= streamedS * 20 * 0.6, `the stream ran at 20/s (${s.sent} numbers in ${streamedS.toFixed(1)} s)`);
  check(s.rejected === 0, `no send rejected (${s.rejected})`);
  check(s.lost === 0, `0 lost (${s.lost})`);
  check(s.duplicated === 0, `0 duplicated (${s.duplicated})`);
  check(s.outOfOrder === 0, `0 out of order (${s.outOfOrder})`);
  check(s.inFlight === 0 && s.delivered === s.sent, `delivered = sent after the drain (${s.delivered} / ${s.sent})`);
  check(s.gaps === 0, `no gap (${s.gaps})`);
  check(s.tally && s.tally.comparable && s.tally.received === s.sent && s.tally.expected === s.sent &&
    s.tally.duplicates === 0 && s.tally.outOfOrder === 0,
    `server tally matches: received ${s.tally?.received} of ${s.sent}, ${s.tally?.duplicates} dup, ${s.tally?.outOfOrder} out of order`);
  const dom = await page.evaluate(() => Object.fromEntries(
    ["sent", "delivered", "lost", "duplicated", "in-flight"].map((id) => [id, document.getElementById(id).textContent])
      .concat([["match", document.getElementById("tally-match").dataset.match]])));
  check(dom.lost === "0" && dom.duplicated === "0" && dom["in-flight"] === "0" && dom.sent === String(s.sent) &&
    dom.delivered === String(s.sent) && dom.match === "true", `the page shows it: ${JSON.stringify(dom)}`);
  const own = await page.evaluate(() => ({
    distinct: window.__echoes.size,
    extra: [...window.__echoes.values()].reduce((a, v) => a + v - 1, 0),
  }));
  check(own.distinct === s.delivered && own.extra === 0,
    `independent count of message events agrees: ${own.distinct} distinct, ${own.extra} extra`);
  for (const k of ["open", "reconnecting", "dead-link", "transport", "fault", "settled"]) {
    check(kinds.includes(k), `timeline has a '${k}' entry`);
  }
  check(!kinds.includes("gap") && !kinds.includes("error") && !kinds.includes("close"),
    "timeline has no gap, error or close");

  // Screenshots: desktop, then phone width (and no horizontal scrolling there).
  const desktop = resolve(outDir, "demo-desktop.png");
  await page.screenshot({ path: desktop, fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForTimeout(300);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 375, `no horizontal overflow at 375 px (scrollWidth ${width})`);
  const phone = resolve(outDir, "demo-phone.png");
  await page.screenshot({ path: phone, fullPage: true });
  console.log(`screenshots: ${desktop} ${phone}`);
  check(errors.length === 0, `no uncaught page errors ${errors.join("; ")}`);

  // An upgrade (the client moving back up the chain, `reason === "upgrade"`) is highlighted. The
  // client may not upgrade yet, so the event is dispatched by hand on the page's client.
  await page.evaluate(() => {
    const e = new Event("transport");
    for (const [k, v] of Object.entries({ from: "long-polling", to: "websocket", reason: "upgrade" })) {
      Object.defineProperty(e, k, { value: v, enumerable: true });
    }
    window.demo.hf.dispatchEvent(e);
  });
  const up = await page.textContent("#log li:first-child").catch(() => "");
  check(await page.locator("#log li.upgrade").count() >= 1 && /upgrade ↑ long-polling → websocket/.test(up),
    `an upgrade is highlighted on the timeline ("${up}")`);

  if (failures) {
    console.log("timeline (ms since page load):");
    for (const e of await page.evaluate(() => window.demo.events)) console.log(`  ${e.t} ${e.kind} ${e.text}`);
  }

  // A server without --faults: the page says so and disables the buttons.
  const off = await browser.newPage();
  await off.route("**/_fault/**", (route) => route.fulfill({ status: 404, body: "not found" }));
  await off.goto(base + "/");
  const noted = await off.waitForSelector("#fault-note:not([hidden])", { timeout: 5000 }).then(() => true, () => false);
  const offText = noted ? await off.textContent("#fault-note") : "";
  check(noted && /fault controls are off/i.test(offText) && /--faults/.test(offText),
    `404 on /_fault/*: the page notes it ("${offText.slice(0, 60)}…")`);
  check(await off.isDisabled('button[data-fault="drop"]'), "404 on /_fault/*: the fault buttons are disabled");
  await off.close();
} finally {
  await browser.close();
}
console.log(`demo-faults: ${secs()} s`);
if (failures) {
  console.error(`${failures} e2e check(s) failed`);
  process.exit(1);
}
console.log("e2e demo-faults: all checks passed");
