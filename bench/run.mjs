// Runs the browser benchmarks: opens bench/www in headless Chromium processes of its own — no
// Playwright, no CDP, so nothing instruments the page (toolchain.md: an instrumented tab runs
// ~2.5× slower) — and collects the results each page POSTs back. This runner's loopback HTTP
// server serves the page and pkg/ with COOP + COEP (cross-origin isolated: performance.now() at
// 5 µs instead of 100 µs) and takes the pages' /log lines and /result; the page talks to the
// reference server (`--server`) directly, cross-origin (loopback origins are allowed, with CORS).
//
// Usage: node bench/run.mjs --server http://127.0.0.1:PORT [--out target/bench/browser.json]
//          [--suites ws,http,recovery,memory] [--runs 5] [--recovery-runs 20] [--memory-runs 5]
//          [--param key=value]...
// Environment: CHROMIUM (default /usr/bin/chromium).
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const server = opt("server");
if (!server) {
  console.error("usage: node bench/run.mjs --server http://127.0.0.1:PORT [...]");
  process.exit(2);
}
const out = opt("out", "target/bench/browser.json");
const suites = opt("suites", "ws,http,recovery,memory").split(",").filter(Boolean);
const runs = Number(opt("runs", 5));
const recoveryRuns = Number(opt("recovery-runs", 20));
const memoryRuns = Number(opt("memory-runs", 5));
const extra = args.flatMap((a, i) => (a === "--param" ? [args[i + 1]] : []));
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
/** Per page: the longest a suite may take before the runner gives up on it. */
const SUITE_TIMEOUT_S = { ws: 300, http: 420, recovery: 600, memory: 180 };

// ---------------------------------------------------------------------------------------------
// The runner's own server: GET the page (bench/www) and the package (/pkg/), POST /log lines and
// one /result per page.

const ROOT = path.dirname(new URL(import.meta.url).pathname);
const PKG = process.env.PKG_DIR || path.join(ROOT, "..", "pkg");
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css" };

function serveFile(req, res) {
  const url = new URL(req.url, "http://x");
  const rel = decodeURIComponent(url.pathname);
  const [dir, sub] = rel.startsWith("/pkg/") ? [PKG, rel.slice(5)] : [path.join(ROOT, "www"), rel.slice(1) || "index.html"];
  const file = path.join(dir, path.normalize(sub));
  if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, {
    "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cache-Control": "no-store",
  });
  res.end(fs.readFileSync(file));
}

let pending = null; // { resolve } of the page running now
const reporter = http.createServer((req, res) => {
  if (req.method === "GET") return serveFile(req, res);
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    if (req.method === "POST" && req.url === "/log") {
      console.log(`  ${body}`);
    } else if (req.method === "POST" && req.url === "/result") {
      try {
        pending?.resolve(JSON.parse(body));
      } catch (e) {
        pending?.resolve({ ok: false, error: `bad result JSON: ${e}` });
      }
    }
    res.end("ok");
  });
});
await new Promise((r) => reporter.listen(0, "127.0.0.1", r));
const reportUrl = `http://127.0.0.1:${reporter.address().port}`;

/** Whether the server has the plain HTTP baselines (`--bench`, server/src/bench.rs). */
const hasBaselines = await fetch(`${server}/holdfast/bench/stats`).then((r) => r.ok, () => false);
if (!hasBaselines) console.log("[bench] the server has no --bench baselines: the HTTP suite runs without them");

/** A loopback port with nothing listening (for the client that must stay disconnected). */
async function deadPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

// ---------------------------------------------------------------------------------------------
// One page in one fresh Chromium.

/** The Chromium running now (its own process group), stopped if the runner is stopped. */
let current = null;
const stopCurrent = (signal) => {
  if (!current) return;
  try {
    process.kill(-current.pid, signal);
  } catch {
    /* already gone */
  }
};
process.on("exit", () => stopCurrent("SIGKILL"));
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    stopCurrent("SIGKILL");
    process.exit(130);
  });
}

async function runPage(suite, query) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-bench-"));
  const q = new URLSearchParams({ suite, server, report: reportUrl, ...query });
  for (const kv of extra) {
    const [k, v] = kv.split("=");
    q.set(k, v);
  }
  if (hasBaselines) q.set("baselines", "1");
  const url = `${reportUrl}/index.html?${q}`;
  const flags = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--js-flags=--expose-gc", "--enable-precise-memory-info",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
    // The tab must run as a foreground tab would: no timer throttling, no backgrounding.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    `--user-data-dir=${profile}`, url,
  ];
  const child = spawn(chromium, flags, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  current = child;
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.on("exit", (code) => r(code)));
  const limit = SUITE_TIMEOUT_S[suite] ?? 300;
  let timer;
  const result = await Promise.race([
    new Promise((resolve) => (pending = { resolve })),
    exited.then((code) => ({ ok: false, error: `chromium exited (${code}) before the page reported:\n${stderr}` })),
    new Promise((resolve) => (timer = setTimeout(() => resolve({ ok: false, error: `${suite}: no result after ${limit} s` }), limit * 1000))),
  ]);
  clearTimeout(timer);
  pending = null;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* gone */
  }
  current = null;
  fs.rmSync(profile, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const startedAt = new Date().toISOString();
const loadAtStart = os.loadavg();
const results = {};
let failed = false;
for (const suite of suites) {
  const t0 = Date.now();
  console.log(`[bench] ${suite} …`);
  if (suite === "memory") {
    const list = [];
    for (let i = 0; i < memoryRuns; i++) {
      const r = await runPage("memory", { deadPort: String(await deadPort()), seed: String(i + 1) });
      if (!r.ok) failed = true;
      list.push(r);
    }
    results.memory = { ok: list.every((r) => r.ok), userAgent: list[0]?.userAgent, runs: list };
  } else {
    const query = { runs: String(runs), recoveryRuns: String(recoveryRuns), seed: "1" };
    const r = await runPage(suite, query);
    if (!r.ok) failed = true;
    results[suite] = r;
  }
  const r = results[suite];
  console.log(`[bench] ${suite}: ${r.ok ? "done" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (!r.ok) console.log(r.error ?? r.runs?.filter((x) => !x.ok).map((x) => x.error).join("\n"));
}

const version = (cmd, a) => {
  try {
    return execFileSync(cmd, a, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
};
const env = {
  date: startedAt,
  nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? "?",
  memBytes: os.totalmem(),
  loadavg: loadAtStart,
  loadavgEnd: os.loadavg(),
  kernel: `${os.type()} ${os.release()}`,
  os: version("sh", ["-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
  chromium: version(chromium, ["--version"]),
  node: process.version,
  seconds: (Date.now() - started) / 1000,
};
const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, "utf8")) : null;
// A partial run (--suites) keeps the other suites' results of the previous run.
const merged = { env, results: { ...(suites.length < 4 ? previous?.results : {}), ...results } };
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(merged, null, 2) + "\n");
console.log(`[bench] wrote ${out} (${env.seconds.toFixed(0)} s)`);
reporter.close();
process.exit(failed ? 1 : 0);
