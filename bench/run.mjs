// Runs the browser benchmarks: opens bench/www in headless Chromium processes of its own — no
// Playwright, no CDP, so nothing instruments the page (toolchain.md: an instrumented tab runs
// ~2.5× slower) — and collects the results each page POSTs back. This runner's loopback HTTP
// server serves the page and pkg/ with COOP + COEP (cross-origin isolated: performance.now() at
// 5 µs instead of 100 µs) and takes the pages' /log lines and /result; the page talks to the
// reference server (`--server`) directly, cross-origin (loopback origins are allowed, with CORS).
//
// Usage: node bench/run.mjs --server http://127.0.0.1:PORT [--out target/bench/browser.json]
//          [--suites ws,http,recovery,memory] [--runs 5] [--recovery-runs 20] [--memory-runs 5]
//          [--param key=value]... [--cpu-profile target/bench/ws.cpuprofile]
// Environment: CHROMIUM (default /usr/bin/chromium).
//
// `--cpu-profile FILE` (for finding a hot path, never for the figures): the page runs under
// Chromium's sampling profiler, started through CDP before the page loads and stopped when it
// reports; FILE gets the .cpuprofile (DevTools opens it) and the top self times are printed. It
// needs node's WebSocket (node ≥ 22, or node 20 with --experimental-websocket). The figures of a
// profiled run are not comparable with an unprofiled one; a package with function names
// (`PKG_NAMES=1 bash scripts/pkg.sh`, then `PKG_DIR=...`) makes the wasm frames readable.
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
const cpuProfile = opt("cpu-profile", null);
if (cpuProfile && typeof WebSocket !== "function") {
  console.error("--cpu-profile needs node's WebSocket: run node --experimental-websocket bench/run.mjs ...");
  process.exit(2);
}
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
    `--user-data-dir=${profile}`,
    ...(cpuProfile ? ["--remote-debugging-port=0", "about:blank"] : [url]),
  ];
  const child = spawn(chromium, flags, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  current = child;
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.on("exit", (code) => r(code)));
  const cdp = cpuProfile ? await startProfiler(profile, url) : null;
  const limit = SUITE_TIMEOUT_S[suite] ?? 300;
  let timer;
  const result = await Promise.race([
    new Promise((resolve) => (pending = { resolve })),
    exited.then((code) => ({ ok: false, error: `chromium exited (${code}) before the page reported:\n${stderr}` })),
    new Promise((resolve) => (timer = setTimeout(() => resolve({ ok: false, error: `${suite}: no result after ${limit} s` }), limit * 1000))),
  ]);
  clearTimeout(timer);
  pending = null;
  if (cdp) await stopProfiler(cdp, suite);
  if (process.env.BENCH_CPU === "1") printCpu(child.pid, suite);
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

/** BENCH_CPU=1: the CPU time (user + system) each Chromium process of this page used, by type:
 * unlike wall-clock figures it does not move with other work on the machine (for comparing two
 * builds of the engine, not for BENCHMARKS.md). */
function printCpu(pgid, suite) {
  const tick = 100; // USER_HZ on Linux
  const byType = {};
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue; // field 5: the process group
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const type = (cmd.match(/--type=([a-z-]+)/) ?? [null, "browser"])[1];
      const sub = (cmd.match(/--utility-sub-type=([a-zA-Z.]+)/) ?? [null, ""])[1];
      const key = sub ? `${type}:${sub}` : type;
      byType[key] = (byType[key] ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / tick;
      if (type === "renderer") {
        for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
          const t = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
          const name = t.slice(t.indexOf("(") + 1, t.lastIndexOf(")"));
          const g = t.slice(t.lastIndexOf(")") + 2).split(" ");
          const ms = ((Number(g[11]) + Number(g[12])) * 1000) / tick;
          if (ms > 0) byType[`renderer/${name}`] = (byType[`renderer/${name}`] ?? 0) + ms;
        }
      }
    } catch {
      /* gone */
    }
  }
  console.log(`[bench] ${suite}: CPU ms by process: ${JSON.stringify(byType)}`);
}

// ---------------------------------------------------------------------------------------------
// --cpu-profile: a minimal CDP client (one page target, commands with ids).

async function startProfiler(profileDir, url) {
  const portFile = path.join(profileDir, "DevToolsActivePort");
  for (let i = 0; i < 100 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
  const port = fs.readFileSync(portFile, "utf8").split("\n")[0];
  let page;
  for (let i = 0; i < 50 && !page; i++) {
    const list = await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json(), () => []);
    page = list.find((t) => t.type === "page");
    if (!page) await new Promise((r) => setTimeout(r, 100));
  }
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("CDP connection failed"));
  });
  let nextId = 1;
  const waiting = new Map();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
  };
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
  await call("Page.navigate", { url });
  return { ws, call };
}

async function stopProfiler({ ws, call }, suite) {
  const { result } = await call("Profiler.stop");
  ws.close();
  const prof = result.profile;
  fs.mkdirSync(path.dirname(cpuProfile), { recursive: true });
  fs.writeFileSync(cpuProfile, JSON.stringify(prof));
  // Self time per function: samples × the mean interval.
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  for (const id of prof.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = prof.samples.length;
  const perFn = new Map();
  for (const [id, n] of hits) {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || "(anonymous)"} ${path.basename(f.url || "")}:${f.lineNumber + 1}`;
    perFn.set(key, (perFn.get(key) ?? 0) + n);
  }
  const top = [...perFn].sort((a, b) => b[1] - a[1]).slice(0, 40);
  console.log(`[bench] ${suite}: ${total} samples; top self time (${cpuProfile}):`);
  for (const [key, n] of top) console.log(`  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${key}`);
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
