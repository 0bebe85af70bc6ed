// End-to-end: the built npm package (pkg/) and the demo page (www/), served by the reference
// server, in headless Chromium driven by playwright-core. Proves that `make demo` shows a browser
// an `open` and an echo, and that the JS API (the `Holdfast` class) behaves as documented.
//
// Usage: node tests/e2e/demo.mjs <server base URL>
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const base = process.argv[2];
if (!base) throw new Error("usage: demo.mjs <server base URL>");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
};
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");

  // The demo page: state becomes open, a typed message comes back.
  await page.waitForFunction(() => document.getElementById("state").textContent === "open", null, { timeout: 10000 });
  check(true, "demo page reaches state open");
  await page.fill("#message", "hello from e2e");
  await page.click("button[type=submit]");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#log li.message")].some((li) => li.textContent.includes("hello from e2e")),
    null, { timeout: 5000 });
  check(true, "demo page shows the echo");

  // The JS API through the package entry, in the same page.
  const api = await page.evaluate(async (base) => {
    const { Holdfast, debugCounts } = await import("/pkg/index.js");
    const out = {};
    try {
      new Holdfast(base + "/holdfast", { heartbeatIntervalMS: 5 });
      out.unknownOption = "no throw";
    } catch (e) { out.unknownOption = `${e.name}: ${e.message}`; }
    try {
      new Holdfast(base + "/holdfast", { heartbeatIntervalMs: -1 });
      out.badOption = "no throw";
    } catch (e) { out.badOption = `${e.name}: ${e.message}`; }
    const hf = new Holdfast("/holdfast");
    out.isEventTarget = hf instanceof EventTarget;
    out.queued = hf.send("early");
    out.readyStateBefore = hf.readyState;
    const seen = [];
    hf.onopen = (e) => seen.push(`onopen:${e.transport}`);
    hf.addEventListener("open", () => seen.push("listener:open"));
    const messages = [];
    hf.addEventListener("message", (e) => messages.push(e.data));
    await hf.ready();
    out.readyStateOpen = hf.readyState;
    out.state = hf.state;
    out.transport = hf.transport;
    out.sent = hf.send(new Uint8Array([1, 2, 3]));
    await new Promise((r) => setTimeout(r, 500));
    out.messages = messages.map((m) => (typeof m === "string" ? m : `bytes:${new Uint8Array(m).join(",")}`));
    out.seen = seen;
    out.stats = hf.stats();
    let closes = 0;
    let closeInfo = null;
    hf.onclose = (e) => { closes++; closeInfo = [e.code, e.reason, e.wasClean, e instanceof CloseEvent]; };
    hf.close(1000, "bye");
    hf.close(1000, "again");
    out.closes = closes;
    out.closeInfo = closeInfo;
    out.readyStateClosed = hf.readyState;
    out.sendAfterClose = hf.send("late");
    try { hf.close(1234); out.badCode = "no throw"; } catch (e) { out.badCode = e.name; }
    out.counts = debugCounts();
    return out;
  }, base);
  console.log(JSON.stringify(api));
  check(/TypeError: unknown option `heartbeatIntervalMS`/.test(api.unknownOption), "unknown option → TypeError naming it");
  check(/TypeError: .*heartbeatIntervalMs/.test(api.badOption), "invalid option → TypeError naming it");
  check(api.isEventTarget, "Holdfast extends EventTarget");
  check(api.queued === "queued" && api.readyStateBefore === 0, "send before open → queued, readyState 0");
  check(api.readyStateOpen === 1 && api.state === "open" && api.transport === "websocket", "ready() → open on websocket");
  check(api.sent === "sent", "send when open → sent");
  check(JSON.stringify(api.messages) === JSON.stringify(["early", "bytes:1,2,3"]), "queued + binary echoed in order");
  check(JSON.stringify(api.seen) === JSON.stringify(["onopen:websocket", "listener:open"]), "on* property and listener both fire");
  check(api.closes === 1 && api.closeInfo[0] === 1000 && api.closeInfo[1] === "bye" && api.closeInfo[2] === true && api.closeInfo[3], "exactly one CloseEvent");
  check(api.readyStateClosed === 3 && api.sendAfterClose === "rejected", "closed → readyState 3, send rejected");
  check(api.badCode === "TypeError", "close(1234) throws");
  check(api.stats.messagesReceived === 2, "stats() counts messages");
  check(errors.length === 0, `no uncaught page errors ${errors.join("; ")}`);
} finally {
  await browser.close();
}
if (failures) {
  console.error(`${failures} e2e check(s) failed`);
  process.exit(1);
}
console.log("e2e: all checks passed");
