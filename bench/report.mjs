// Writes the generated part of BENCHMARKS.md from one `make bench` run: the browser results
// (target/bench/browser.json, bench/run.mjs), the package sizes (target/pkg/size.txt,
// scripts/pkg.sh) and the server scenarios (target/bench/server.md, scripts/bench-server.sh,
// included verbatim). Everything between `<!-- bench:begin -->` and `<!-- bench:end -->` is
// replaced; the rest of the file (the hand-written "## Size" section and below) is left as is.
// Without the markers (the first run), the block replaces the paragraph under the title.
//
// Usage: node bench/report.mjs [--browser target/bench/browser.json] [--size target/pkg/size.txt]
//          [--server target/bench/server.md] [--out BENCHMARKS.md] [--tools target/bench/tools.json]
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const browserPath = opt("browser", "target/bench/browser.json");
const sizePath = opt("size", "target/pkg/size.txt");
const serverPath = opt("server", "target/bench/server.md");
const toolsPath = opt("tools", "target/bench/tools.json");
const outPath = opt("out", "BENCHMARKS.md");

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

const data = JSON.parse(fs.readFileSync(browserPath, "utf8"));
const tools = fs.existsSync(toolsPath) ? JSON.parse(fs.readFileSync(toolsPath, "utf8")) : {};
const { env, results } = data;

// ---------------------------------------------------------------------------------------------
// Numbers

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const min = (xs) => Math.min(...xs.filter(Number.isFinite));
const max = (xs) => Math.max(...xs.filter(Number.isFinite));
const summary = (xs) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? { med: median(v), min: min(v), max: max(v), n: v.length } : null;
};

/** Thousands with a thin space, as BENCHMARKS.md writes them. */
const int = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US").replaceAll(",", " "));
const fixed = (d) => (x) => (x == null ? "–" : x.toFixed(d));
const sig = (x) => {
  if (x == null) return "–";
  const a = Math.abs(x);
  if (a >= 1000) return int(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
/** "median (min–max)". */
const spread = (s, f = sig, unit = "") => (s ? `${f(s.med)}${unit} (${f(s.min)}–${f(s.max)})` : "–");
const ratio = (s) => (s ? `**${s.med.toFixed(2)}×** (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : "–");
const mark = (ok) => (ok == null ? "not measured" : ok ? "**met**" : "**not met**");
const kb = (b) => (b == null ? "–" : `${(b / 1000).toFixed(1)} KB`);

// ---------------------------------------------------------------------------------------------
// Sections

const out = [];
const targets = []; // [target, measured, met]
const p = (...lines) => out.push(...lines);

function failed(suite) {
  const r = results[suite];
  if (!r) return `The ${suite} suite did not run.`;
  if (!r.ok) {
    const why = r.error ?? r.runs?.find((x) => !x.ok)?.error ?? "?";
    return `The ${suite} suite failed: \`${String(why).split("\n")[0]}\`.`;
  }
  return null;
}

function wsSection() {
  p("### WebSocket", "");
  const f = failed("ws");
  if (f) {
    for (const t of ["raw mode ≥ 0.95× WebSocket text throughput", "protocol mode ≥ 0.9× WebSocket text throughput",
      "binary ≥ 0.9×", "RTT p50 ≤ 1.05× WebSocket + 20 µs"]) targets.push([t, "the WebSocket suite failed", null]);
    return p(f, "");
  }
  const { config, runs } = results.ws.results;
  const col = (kind, key) => summary(runs.map((r) => r[kind]?.[key]));
  const rat = (kind, key, inv = false) =>
    summary(runs.map((r) => (inv ? r.ws[key] / r[kind][key] : r[kind][key] / r.ws[key])));
  p(
    `${runs.length} runs in one page. In each run the three clients connect side by side (each with its ` +
      "own warm-up), then each figure is measured for the three in turn, the order rotating from run to " +
      `run. Text: ${int(config.n)} messages of ${config.bytes} B ` +
      `pipelined, at most ${config.window} unanswered at once (the protocol's session log holds 1 024 ` +
      `unacknowledged messages per session, so an unbounded burst is refused by design); RTT: ` +
      `${int(config.rttN)} sequential round trips; binary: ${config.binN} messages of 64 KiB, at most ` +
      `${config.binWindow} unanswered. The browser's \`WebSocket\` and holdfast raw mode use the ` +
      "server's raw echo (`/holdfast/raw`), protocol mode `/holdfast` pinned to `[\"websocket\"]`. " +
      "Ratios are holdfast ÷ WebSocket per run (for RTT: holdfast's time ÷ WebSocket's, lower is better), " +
      "then the median and the spread over the runs.",
    "",
    "| figure | browser `WebSocket` | holdfast raw | raw ÷ WebSocket | holdfast protocol | protocol ÷ WebSocket |",
    "|---|---|---|---|---|---|",
  );
  const rows = [
    ["text throughput (msg/s)", "msgPerSec", int],
    ["RTT p50 (µs)", "rttP50Ms", (x) => int(x * 1000)],
    ["RTT p99 (µs)", "rttP99Ms", (x) => int(x * 1000)],
    ["binary 64 KiB (MB/s)", "binMBps", sig],
  ];
  for (const [label, key, fmt] of rows) {
    const cells = [label, spread(col("ws", key), fmt), spread(col("raw", key), fmt), ratio(rat("raw", key)),
      spread(col("protocol", key), fmt), ratio(rat("protocol", key))];
    p(`| ${cells.join(" | ")} |`);
  }
  p("");
  const tp = (kind) => rat(kind, "msgPerSec");
  const bin = (kind) => rat(kind, "binMBps");
  targets.push(["raw mode ≥ 0.95× WebSocket text throughput", ratio(tp("raw")), tp("raw").med >= 0.95]);
  targets.push(["protocol mode ≥ 0.9× WebSocket text throughput", ratio(tp("protocol")), tp("protocol").med >= 0.9]);
  for (const kind of ["raw", "protocol"]) {
    targets.push([`binary ≥ 0.9× (${kind} mode)`, ratio(bin(kind)), bin(kind).med >= 0.9]);
  }
  for (const kind of ["raw", "protocol"]) {
    const ws = col("ws", "rttP50Ms").med;
    const hf = col(kind, "rttP50Ms").med;
    const bound = 1.05 * ws + 0.02;
    targets.push([`RTT p50 ≤ 1.05× WebSocket + 20 µs (${kind} mode)`,
      `${int(hf * 1000)} µs vs ${int(ws * 1000)} µs (bound ${int(bound * 1000)} µs)`, hf <= bound]);
  }
}

function httpSection() {
  p("### HTTP transports", "");
  const f = failed("http");
  if (f) {
    targets.push(["SSE and long polling ≥ 10× the one-POST-per-message baseline", "the HTTP suite failed", null]);
    return p(f, "");
  }
  const { config, runs } = results.http.results;
  const kinds = [
    ["ssePost", "baseline: `EventSource` + one `fetch` POST per message"],
    ["longPoll", "baseline: plain long poll (GET held until a message) + one POST per message"],
    ["sse", "holdfast SSE"],
    ["longPolling", "holdfast long polling"],
    ["polling", "holdfast short polling (default `pollIntervalMs` 1000)"],
  ].filter(([k]) => runs.some((r) => r[k]));
  const col = (kind, key) => summary(runs.map((r) => r[kind]?.[key]));
  const rat = (kind, base) => summary(runs.map((r) => r[kind]?.msgPerSec / r[base]?.msgPerSec));
  const hasBase = runs.some((r) => r.ssePost?.msgPerSec);
  p(
    `${runs.length} runs in one page, the clients in turns (rotating). Throughput: ${int(config.n)} messages ` +
      `of ${config.bytes} B pipelined, at most ${config.window} unanswered; RTT: sequential round trips ` +
      `(${Object.entries(config.rttN).map(([k, n]) => `${k} ${n}`).join(", ")}). Each holdfast client is ` +
      "pinned to one transport (`transports: [name]`, no upgrade probe). The baselines are the server's " +
      "`--bench` routes (server/src/bench.rs): what a page does without a library. Short polling's " +
      "throughput is bound by the window (one poll answer a second carries what is in flight) and its " +
      "RTT by the poll interval.",
    "",
    `| client | msg/s | msg/s ÷ \`EventSource\` + POST | RTT p50 (ms) | RTT p50 ÷ baseline | RTT p99 (ms) |`,
    "|---|---|---|---|---|---|",
  );
  if (!hasBase) p("", "The plain baselines did not run (the server had no `--bench` routes).", "");
  // RTT against the baseline of the same shape: long polling against the plain long poll, the
  // others against EventSource + POST.
  const rttBase = { sse: "ssePost", longPolling: "longPoll" };
  const rttRat = (kind) => summary(runs.map((r) => r[kind]?.rttP50Ms / r[rttBase[kind]]?.rttP50Ms));
  for (const [k, label] of kinds) {
    const r = k === "ssePost" ? "1" : hasBase ? ratio(rat(k, "ssePost")) : "–";
    const rr = rttBase[k] && runs.some((x) => x[rttBase[k]])
      ? `${ratio(rttRat(k))} (vs ${rttBase[k] === "ssePost" ? "`EventSource` + POST" : "plain long poll"})`
      : k === "polling" ? "(the poll interval)" : "";
    p(`| ${label} | ${spread(col(k, "msgPerSec"), int)} | ${r} | ${spread(col(k, "rttP50Ms"))} | ${rr} | ${spread(col(k, "rttP99Ms"))} |`);
  }
  if (runs.some((r) => r.longPoll) && runs.some((r) => r.longPolling)) {
    p("", `holdfast long polling ÷ the plain long poll: ${ratio(rat("longPolling", "longPoll"))} (msg/s).`);
  }
  p("");
  if (hasBase) {
    for (const [k, name] of [["sse", "SSE"], ["longPolling", "long polling"]]) {
      const s = rat(k, "ssePost");
      targets.push([`${name} ≥ 10× the one-POST-per-message baseline`, ratio(s), s ? s.med >= 10 : null]);
    }
  } else {
    targets.push(["SSE and long polling ≥ 10× the one-POST-per-message baseline", "baselines did not run", null]);
  }
}

function recoverySection() {
  p("### Recovery", "");
  const f = failed("recovery");
  if (f) return p(f, "");
  const r = results.recovery.results;
  const s = (xs) => summary(xs);
  const mmm = (xs) => {
    const v = s(xs);
    return v ? `${int(v.min)} / **${int(v.med)}** / ${int(v.max)}` : "–";
  };
  const transports = (list) => {
    const counts = {};
    for (const t of list) counts[t] = (counts[t] ?? 0) + 1;
    return Object.entries(counts).map(([t, n]) => `${t} ${n}×`).join(", ");
  };
  p(
    `${r.runs} runs of each, one after the other, each with a fresh client (the first-echo ones after 2 ` +
      "discarded warm-up runs); min / **median** / max in ms. " +
      "Faults are the server's `/_fault/*` routes (server/src/faults.rs). Every holdfast client has " +
      "the default options except `rememberTransportMs: 0` (each run is a first visit), and the " +
      "dead-link one is pinned to WebSocket.",
    "",
    "| scenario | holdfast (ms) | the browser alone |",
    "|---|---|---|",
    `| dead link declared (\`reconnecting\`) after the server goes silent (half-open link), 0–3 s after open | ${mmm(r.deadLink.ms)} | a \`WebSocket\` open beside it noticed nothing in ${r.runs - r.deadLink.rawNoticed} of ${r.runs} runs (TCP stays up) |`,
    `| open again after the server is back from 2 s down | ${mmm(r.downReconnect.ms)} | \`WebSocket\` does not reconnect |`,
    `| … first echo after the server is back | ${mmm(r.downReconnect.echoMs)} | |`,
    `| first echo, fresh client, healthy server (${transports(r.firstEcho.transports)}) | ${mmm(r.firstEcho.ms)} | new \`WebSocket\`, send on open, echo: ${mmm(r.rawFirstEcho.ms)} |`,
    `| first echo, WebSocket refused (${transports(r.firstEchoNoWs.transports)}) | ${mmm(r.firstEchoNoWs.ms)} | \`WebSocket\` fails (no fallback) |`,
    `| first echo, WebSocket and SSE refused (${transports(r.firstEchoNoWsSse.transports)}) | ${mmm(r.firstEchoNoWsSse.ms)} | fails |`,
    "",
    "The dead link is declared after `heartbeatTimeoutMs` (8 000 ms) without inbound data; the last " +
      "server PING (every 3 s) came 0–3 s before the silence. The dead-link reasons: " +
      `${transports(r.deadLink.reasons)}. After the 2 s down, the reopen waits for the attempt the ` +
      "backoff schedules (`reconnectDelayMs` 500, factor 2, full jitter): the spread is the jitter; " +
      `it reopened on ${transports(r.downReconnect.transports)}.`,
    "",
  );
}

const RECONNECT_N = 500;

function memorySection() {
  p("### Memory", "");
  const f = failed("memory");
  if (f) {
    targets.push(["JS heap growth < 150 KB over 500 reconnects, flat wasm memory", "the memory suite failed", null]);
    return p(f, "");
  }
  const runs = results.memory.runs.map((x) => x.results);
  const s = (fn) => summary(runs.map(fn));
  const heapGrowth = s((r) => r.reconnects.after.heap - r.reconnects.before.heap);
  const rawGrowth = s((r) => r.rawReconnects.heapAfter - r.rawReconnects.heapBefore);
  const wasmGrowth = s((r) => r.reconnects.after.wasm - r.reconnects.before.wasm);
  const wasmBefore = s((r) => r.reconnects.before.wasm);
  const wasmAfter = s((r) => r.reconnects.after.wasm);
  const half = (r, a, b) => (r[b] - r[a]) / (RECONNECT_N / 2);
  const hasMid = runs.every((r) => r.reconnects.mid);
  const perFirst = hasMid ? s((r) => half({ a: r.reconnects.before.heap, b: r.reconnects.mid.heap }, "a", "b")) : null;
  const perSecond = hasMid ? s((r) => half({ a: r.reconnects.mid.heap, b: r.reconnects.after.heap }, "a", "b")) : null;
  const rawFirst = hasMid ? s((r) => half(r.rawReconnects, "heapBefore", "heapMid")) : null;
  const rawSecond = hasMid ? s((r) => half(r.rawReconnects, "heapMid", "heapAfter")) : null;
  const q = (r) => r.queue;
  const perHeap = s((r) => (q(r).after.heap - q(r).before.heap) / q(r).n);
  const perWasm = s((r) => (q(r).after.wasm - q(r).before.wasm) / q(r).n);
  const perTotal = s((r) => (q(r).after.heap - q(r).before.heap + q(r).after.wasm - q(r).before.wasm) / q(r).n);
  const perArray = s((r) => (r.arrayQueue.heapAfter - r.arrayQueue.heapBefore) / r.arrayQueue.n);
  const n = runs[0].queue.n;
  const countsSame = runs.every((r) => JSON.stringify({ ...r.reconnects.before.counts, wasmMemoryBytes: 0 }) ===
    JSON.stringify({ ...r.reconnects.after.counts, wasmMemoryBytes: 0 }));
  const bytes = (x) => int(x);
  p(
    `${runs.length} runs, each in a fresh browser (wasm linear memory never shrinks, and the JS heap is ` +
      "shared by a renderer's pages): median (min–max). JS heap: `performance.memory.usedJSHeapSize` " +
      "after `gc()` (`--js-flags=--expose-gc --enable-precise-memory-info`); wasm: " +
      "`debugCounts().wasmMemoryBytes`. Reconnects: the server drops the connection " +
      "(`/_fault/drop`) 500 times, after 20 for warm-up; holdfast (protocol mode, WebSocket, " +
      "`reconnectDelayMs: 1`, `reconnectMaxDelayMs: 20`) resumes its session each time, the browser " +
      "alone opens a new `WebSocket`. Queue: " + `${int(n)}` + " messages of 64 B sent to a client that " +
      "cannot connect (a closed port), against an app's own array of the same strings.",
    "",
    "| figure | holdfast | the browser alone |",
    "|---|---|---|",
    `| JS heap growth over 500 reconnects (B) | ${spread(heapGrowth, bytes)} | 500 new \`WebSocket\`s: ${spread(rawGrowth, bytes)} |`,
    ...(hasMid ? [`| … per reconnect, first 250 / last 250 (B) | ${spread(perFirst, sig)} / ${spread(perSecond, sig)} | ${spread(rawFirst, sig)} / ${spread(rawSecond, sig)} |`] : []),
    `| wasm linear memory growth over 500 reconnects (B) | ${spread(wasmGrowth, bytes)}; ${spread(wasmBefore, bytes)} before, ${spread(wasmAfter, bytes)} after | – |`,
    `| live resources (\`debugCounts()\`) before = after | ${countsSame ? "yes" : "**no**"} | |`,
    `| per queued 64 B message, JS heap + wasm (B) | ${spread(perTotal, sig)} | an array of strings: ${spread(perArray, sig)} |`,
    `| … of which JS heap (B) | ${spread(perHeap, sig)} | |`,
    `| … of which wasm (B; grows in 64 KiB pages) | ${spread(perWasm, sig)} | |`,
    "",
  );
  targets.push(["JS heap growth < 150 KB over 500 reconnects", `${kb(heapGrowth.med)} (${kb(heapGrowth.min)}–${kb(heapGrowth.max)})`, heapGrowth.max < 150000]);
  targets.push(["flat wasm memory over 500 reconnects", `+${int(wasmGrowth.max)} B at most`, wasmGrowth.max === 0]);
}

function sizeSection() {
  p("### Size", "");
  if (!fs.existsSync(sizePath)) return p(`\`${sizePath}\` is missing (scripts/pkg.sh did not run).`, "");
  const lines = fs.readFileSync(sizePath, "utf8").trim().split("\n");
  p(
    "What a user's bundle ships, from this run's `scripts/pkg.sh` (`target/pkg/size.txt`: esbuild " +
      "minified, gzip -9, brotli -q 11). The browser's own APIs ship 0 B. The hand-written \"Size\" " +
      "section below breaks these down.",
    "",
    "| entry | minified | gzip -9 | brotli |",
    "|---|---|---|---|",
  );
  for (const line of lines) {
    const m = line.match(/^(.*?): (?:(\d+) bytes(?: minified)?, )?(\d+) gzip -9, (\d+) brotli$/);
    if (m) p(`| ${m[1]} | ${m[2] ? int(+m[2]) + " B" : ""} | ${int(+m[3])} B | ${int(+m[4])} B |`);
    else p(`| ${line} | | | |`);
  }
  p("");
}

function serverSection() {
  p("### Server", "");
  if (fs.existsSync(serverPath)) {
    p("From `scripts/bench-server.sh` (bench-load), included as it wrote it (`target/bench/server.md`):", "");
    p(fs.readFileSync(serverPath, "utf8").trim(), "");
    const json = serverPath.replace(/\.md$/, ".json");
    const rows = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, "utf8")).rows ?? [] : [];
    for (const r of rows) if (r.met != null) targets.push([`${r.target} (server)`, r.figure, r.met]);
    if (!rows.some((r) => r.met != null)) targets.push(["10k idle WebSocket sessions under 16 KB RSS each", "see Server", null]);
  } else {
    p("The server scenarios did not run (no `target/bench/server.md`: `scripts/bench-server.sh` is missing or failed).", "");
    targets.push(["10k idle WebSocket sessions under 16 KB RSS each", "the server scenarios did not run", null]);
  }
}

// ---------------------------------------------------------------------------------------------

wsSection();
httpSection();
recoverySection();
memorySection();
sizeSection();
serverSection();

const date = env.date.slice(0, 10);
const load = env.loadavg?.[0];
const loadEnd = env.loadavgEnd?.[0];
// Judged on the load before `make bench` started its own builds (else at the browser start).
const loadOthers = tools.loadBefore ?? load;
const loaded = loadOthers != null && loadOthers > env.nproc * 0.5;
const loads = [
  tools.loadBefore != null ? `${tools.loadBefore.toFixed(2)} before \`make bench\` started` : null,
  load != null ? `${load.toFixed(2)} when the browser benchmarks started` : null,
  loadEnd != null ? `${loadEnd.toFixed(2)} when they ended` : null,
].filter(Boolean).join(", ");
const browserVersion = results.ws?.userAgent?.match(/Chrome\/([\d.]+)/)?.[1];
const head = [
  BEGIN,
  "## Performance (`make bench`)",
  "",
  "<!-- Generated by `make bench` (scripts/bench.sh → bench/report.mjs): edits between the bench " +
    "markers are overwritten. -->",
  "",
  `Measured ${date} by \`make bench\` on ${env.nproc} cores (${env.cpu}), ` +
    `${(env.memBytes / 2 ** 30).toFixed(1)} GiB RAM, ${env.os ?? env.kernel} (${env.kernel}); ` +
    `1-minute load average ${loads}` +
    (loaded
      ? "; **a shared machine, loaded by other work: absolute figures are low and noisy; the ratios, measured in the same page and run, are the figures to read**"
      : "; the machine was not loaded by other work when it started (read the spreads for what may have run during it)") +
    ".",
  `${env.chromium ?? "Chromium"} (headless, page UA ${browserVersion ?? "?"}), node ${env.node}` +
    (tools.rustc ? `, ${tools.rustc}` : "") + (tools.nightly ? ` (engine: nightly ${tools.nightly})` : "") +
    (tools.wasmBindgen ? `, ${tools.wasmBindgen}` : "") +
    "; the reference server built with the `bench-server` profile (release, opt-level 3), default " +
    "profile (not the test one), with `--faults --bench`. Browser figures: median (min–max) over the runs; " +
    `the browser benchmarks took ${Math.round(env.seconds)} s${tools.wallSeconds ? `, the whole \`make bench\` ${Math.round(tools.wallSeconds)} s` : ""}.`,
  "",
  "Every page runs in a headless Chromium that `bench/run.mjs` starts itself (no Playwright, no " +
    "CDP: nothing instruments the page), cross-origin isolated (performance.now() at 5 µs), and " +
    "posts its results back. The package is this run's `pkg/` (release engine)" +
    (tools.commit ? `, built from commit ${tools.commit}${tools.dirty ? " plus uncommitted changes in the working tree" : ""}` : "") + ".",
  "",
];
const targetTable = [
  "### Targets (issue 10)",
  "",
  "Judged on the median over the runs (memory: on every run).",
  "",
  "| target | measured | |",
  "|---|---|---|",
  ...targets.map(([t, m, ok]) => `| ${t} | ${m} | ${mark(ok)} |`),
  "",
];
const block = [...head, ...targetTable, ...out, END].join("\n");

let md = fs.readFileSync(outPath, "utf8");
if (md.includes(BEGIN) && md.includes(END)) {
  md = md.slice(0, md.indexOf(BEGIN)) + block + md.slice(md.indexOf(END) + END.length);
} else {
  const size = md.indexOf("\n## Size");
  if (size < 0) throw new Error(`${outPath}: no "## Size" section and no bench markers`);
  const top = md.slice(0, size).split("\n\n");
  // The title stays; the paragraph saying the benchmarks are not there yet goes.
  const kept = top.filter((para, i) => i === 0 || !/not\s+here\s+yet/.test(para));
  md = `${kept.join("\n\n").trimEnd()}\n\n${block}\n${md.slice(size)}`;
}
fs.writeFileSync(outPath, md);
console.log(`[bench] wrote ${outPath}`);
