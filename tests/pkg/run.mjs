// The packaging matrix: the packed holdfast tarball, already extracted into
// tests/pkg/node_modules/holdfast by scripts/pkg-matrix.sh, built by each tool with its default
// config, served from loopback and opened in headless Chromium (playwright-core); then tsc,
// publint and attw on the tarball. One line per check, exit 1 if any failed.
//
// Usage: node tests/pkg/run.mjs <server base URL> <holdfast-x.y.z.tgz>
// Env: PLAYWRIGHT_CORE (default .tools/node_modules/playwright-core), CHROMIUM (/usr/bin/chromium),
//      PKG_MATRIX_ONLY (comma-separated check names to run), PKG_MATRIX_VERBOSE=1,
//      PKG_MATRIX_ENDPOINT (what the apps connect to; default <server>/holdfast).
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { readFile, stat } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const apps = join(here, "apps");
const nm = join(here, "node_modules");
const bin = (name) => join(nm, ".bin", name);
const [server, tarball] = process.argv.slice(2);
if (!server || !tarball) throw new Error("usage: run.mjs <server base URL> <holdfast tarball>");
// The apps connect to the server's holdfast endpoint (its default base path, as tests/e2e use).
const endpoint = process.env.PKG_MATRIX_ENDPOINT || `${server.replace(/\/$/, "")}/holdfast`;
const only = process.env.PKG_MATRIX_ONLY ? new Set(process.env.PKG_MATRIX_ONLY.split(",")) : null;
const verbose = process.env.PKG_MATRIX_VERBOSE === "1";
const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || join(repo, ".tools/node_modules/playwright-core"));

let failures = 0;
const line = (ok, name, detail) => {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name.padEnd(20)} ${detail}`);
};
const indent = (text, max = 40) => {
  const lines = String(text).trimEnd().split("\n");
  const shown = lines.length > max ? ["…", ...lines.slice(-max)] : lines;
  return shown.map((l) => `       | ${l}`).join("\n");
};
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const want = (name) => !only || only.has(name);

/** Runs a tool; returns { ok, ms, output }. */
function run(cmd, args, cwd) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, maxBuffer: 64 << 20,
  });
  const output = `${r.stdout || ""}${r.stderr || ""}${r.error ? String(r.error) : ""}`;
  if (verbose) console.log(`$ (cd ${cwd} && ${cmd} ${args.join(" ")})\n${output}`);
  return { ok: r.status === 0, ms: Date.now() - t0, output };
}

// ---------------------------------------------------------------------------------------------
// The apps. `build` is the tool's command line with its default config; `serve` maps URL prefixes
// to directories (a static server per app, so every build keeps its default base "/").
const holdfastDir = join(nm, "holdfast");
const plainMounts = (dir) => [["/node_modules/holdfast/", holdfastDir], ["/common/", join(apps, "common")], ["/", join(apps, dir)]];
const APPS = [
  { name: "vite-dev", dev: join(apps, "vite") },
  { name: "vite-build", build: [bin("vite"), ["build"], "vite"], serve: [["/", join(apps, "vite/dist")]] },
  { name: "webpack", build: [bin("webpack"), ["--mode", "production"], "webpack"], serve: [["/", join(apps, "webpack")]] },
  { name: "esbuild", build: [bin("esbuild"), ["main.js", "--bundle", "--format=esm", "--outfile=dist/main.js"], "esbuild"], serve: [["/", join(apps, "esbuild")]] },
  { name: "rollup", build: [bin("rollup"), ["main.js", "-p", "node-resolve", "-o", "dist/main.js"], "rollup"], serve: [["/", join(apps, "rollup")]] },
  { name: "plain", serve: plainMounts("plain") },
  { name: "vite-worker", build: [bin("vite"), ["build"], "worker"], serve: [["/", join(apps, "worker/dist")]] },
  { name: "vite-slim", build: [bin("vite"), ["build"], "slim"], serve: [["/", join(apps, "slim/dist")]] },
  { name: "plain-slim", serve: plainMounts("plain-slim") },
].filter((a) => want(a.name));

const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css", ".map": "application/json",
  ".svg": "image/svg+xml",
};
function serve(mounts) {
  const srv = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      const [prefix, dir] = mounts.find(([p]) => path.startsWith(p)) || [];
      if (!dir) throw Object.assign(new Error("no mount"), { code: "ENOENT" });
      let file = resolve(dir, "." + sep + path.slice(prefix.length));
      if (file !== dir && !file.startsWith(dir + sep)) throw Object.assign(new Error("outside"), { code: "ENOENT" });
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": MIME[extname(file)] || "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  return new Promise((ok) => srv.listen(0, "127.0.0.1", () => ok({ url: `http://127.0.0.1:${srv.address().port}`, close: () => srv.close() })));
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

/** `vite` (dev server) in the app dir, default config; resolves once it prints its URL. */
async function viteDev(root) {
  const port = await freePort();
  const child = spawn(bin("vite"), ["--host", "127.0.0.1", "--port", String(port), "--strictPort", "--force"], {
    cwd: root, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  let output = "";
  const url = `http://127.0.0.1:${port}`;
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`vite dev did not start in 30 s:\n${output}`)), 30000);
    const onData = (d) => {
      output += d;
      if (output.includes(`${url}/`)) { clearTimeout(timer); ok(); }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => { clearTimeout(timer); fail(new Error(`vite dev exited ${code}:\n${output}`)); });
  });
  child.removeAllListeners("exit");
  return { url, output: () => output, close: () => { try { process.kill(-child.pid, "SIGTERM"); } catch {} } };
}

// Every option index.d.ts declares must be accepted by the real engine (an unknown key throws a
// TypeError even when its value is undefined, so `{ [name]: undefined }` probes the name alone).
const declaredOptions = (() => {
  const dts = readFileSync(join(holdfastDir, "index.d.ts"), "utf8");
  const body = dts.match(/export interface HoldfastOptions \{([\s\S]*?)\n\}/)?.[1] || "";
  return [...body.matchAll(/^\s*(\w+)\?:/gm)].map((m) => m[1]);
})();
async function optionsProbe(page) {
  const out = await page.evaluate(async ({ endpoint, names }) => {
    const { Holdfast, initHoldfast } = await import("holdfast");
    await initHoldfast();
    const refused = [];
    for (const name of [...names, "notAnOption"]) {
      try { new Holdfast(endpoint, { [name]: undefined }).close(); } catch (e) { refused.push(`${name}: ${e.message}`); }
    }
    return refused;
  }, { endpoint, names: declaredOptions });
  const ok = declaredOptions.length > 20 && out.length === 1 && out[0].startsWith("notAnOption");
  return [ok, "dts-options", ok
    ? `the ${declaredOptions.length} options of HoldfastOptions (index.d.ts) are all accepted by the engine, an unknown one refused`
    : `index.d.ts declares ${declaredOptions.length} options; refused: ${out.join("; ")}`];
}

/** Opens one app page; resolves { ok, detail }. `after(page)` runs more checks once it passed. */
async function openApp(browser, app, base, after = null) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  const warnings = [];
  const seen = new Set();
  const onConsole = (where) => (msg) => {
    const text = `${where}console.${msg.type()}: ${msg.text()}`;
    if (seen.has(text)) return;
    seen.add(text);
    if (msg.type() === "error") errors.push(text);
    else if (msg.type() === "warning") warnings.push(text);
  };
  page.on("console", onConsole(""));
  page.on("worker", (w) => {
    w.on("console", onConsole("worker "));
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.stack || e}`));
  page.on("crash", () => errors.push("page crashed"));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  page.on("requestfailed", (r) => {
    // The test closes its connection; an aborted stream request to the server is not an error.
    if (!r.url().startsWith(server)) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  const t0 = Date.now();
  let result = null;
  try {
    await page.goto(`${base}/?server=${encodeURIComponent(endpoint)}`);
    await page.waitForFunction(() => document.title === "ok" || document.title === "FAIL", null, { timeout: 20000 });
    await page.waitForTimeout(200); // late errors after the close
    result = JSON.parse(await page.textContent("#result"));
  } catch (e) {
    errors.push(`runner: ${String(e.message || e).split("\n")[0]}`);
    try { result = JSON.parse(await page.textContent("#result", { timeout: 1000 })); } catch {}
  }
  const ms = Date.now() - t0;
  const problems = [...(result?.failures || []), ...errors];
  const ok = !!result?.ok && errors.length === 0;
  const warned = warnings.length ? `, ${warnings.length} console warning(s)` : "";
  const detail = ok
    ? `open+echo ${result.echoMs} ms (open ${result.openMs} ms, ${result.transport}, page ${ms} ms${warned})${warnings.length ? `\n${indent(warnings.join("\n"), 5)}` : ""}`
    : `${result ? "checks failed" : "no result"} after ${ms} ms\n${indent([...problems, ...warnings].join("\n"))}`;
  // After the app's verdict (the probe's own console output is not the app's).
  let extra = null;
  if (after && ok) {
    try { extra = await after(page); } catch (e) { extra = [false, "dts-options", `probe threw: ${e.message}`]; }
  }
  await context.close();
  return { ok, detail, warnings, extra };
}

// ---------------------------------------------------------------------------------------------
const pkgJson = JSON.parse(readFileSync(join(holdfastDir, "package.json"), "utf8"));
console.log(`[pkg-matrix] ${pkgJson.name}@${pkgJson.version} from ${tarball}; files: ${
  spawnSync("tar", ["-tzf", tarball], { encoding: "utf8" }).stdout.trim().split("\n").map((f) => f.replace(/^package\//, "")).sort().join(" ")}`);

// 1. Builds, one at a time (the machine's cores are shared).
const built = new Map();
for (const app of APPS) {
  if (!app.build) continue;
  const [cmd, args, dir] = app.build;
  const r = run(cmd, args, join(apps, dir));
  built.set(app.name, r);
  if (!r.ok) line(false, app.name, `build failed: ${cmd.split("/").pop()} ${args.join(" ")} (${secs(r.ms)})\n${indent(r.output)}`);
}

// 2. Pages, in parallel in one browser; their lines are printed in APPS order.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const cleanups = [];
const pageLines = new Map();
try {
  await Promise.all(APPS.map(async (app) => {
    const lines = [];
    pageLines.set(app.name, lines);
    const b = built.get(app.name);
    if (b && !b.ok) return;
    let base;
    let devOutput = null;
    try {
      if (app.dev) {
        const dev = await viteDev(app.dev);
        cleanups.push(dev.close);
        base = dev.url;
        devOutput = dev.output;
      } else {
        const s = await serve(app.serve);
        cleanups.push(s.close);
        base = s.url;
      }
    } catch (e) {
      lines.push([false, app.name, `could not serve: ${indent(e.message)}`]);
      return;
    }
    const r = await openApp(browser, app, base, app.name === "plain" ? optionsProbe : null);
    const buildNote = b ? `, build ${secs(b.ms)}` : "";
    let detail = r.ok ? r.detail.replace(/\)(\n|$)/, `${buildNote})$1`) : r.detail;
    if (!r.ok && devOutput) detail += `\n${indent(`vite dev output:\n${devOutput()}`, 20)}`;
    if (!r.ok && b) detail += `\n${indent(`build output:\n${b.output}`, 20)}`;
    lines.push([r.ok, app.name, detail]);
    if (r.extra) lines.push(r.extra);
  }));
} finally {
  await browser.close();
  for (const c of cleanups) c();
}
for (const app of APPS) for (const l of pageLines.get(app.name) || []) line(...l);

// 3. Static checks on the tarball / the installed package.
if (want("node-import")) {
  // SSR-safe: importing either entry in Node (no window, location, WebSocket) evaluates cleanly.
  const script = `const a = await import("holdfast"); const b = await import("holdfast/slim");
    for (const m of [a, b]) if (typeof m.Holdfast !== "function" || m.default !== m.Holdfast || typeof m.initHoldfast !== "function" || typeof m.debugCounts !== "function") throw new Error("exports");
    if (typeof WebSocket !== "undefined" || typeof window !== "undefined" || typeof location !== "undefined") console.log("(this Node has browser globals)");
    console.log(Object.keys(a).sort().join(","));`;
  const r = run("node", ["--input-type=module", "-e", script], here);
  line(r.ok, "node-import", r.ok
    ? `import "holdfast" and "holdfast/slim" in Node ${process.version} (SSR): exports ${r.output.trim()}`
    : `\n${indent(r.output)}`);
}
if (want("dts-sync")) {
  // The other direction of dts-options: every option and error kind in the engine's source
  // (src/web/api.rs: the OPTIONS table, error_kind) is declared in the installed index.d.ts.
  const api = readFileSync(join(repo, "src/web/api.rs"), "utf8");
  const dts = readFileSync(join(holdfastDir, "index.d.ts"), "utf8");
  const table = api.match(/const OPTIONS[^=]*= &\[([\s\S]*?)\n\];/)?.[1] || "";
  const options = [...table.matchAll(/^ {4}\("(\w+)",/gm)].map((m) => m[1]);
  const kinds = [...(api.match(/fn error_kind[\s\S]*?\n\}/)?.[0] || "").matchAll(/=> "([\w-]+)"/g)].map((m) => m[1]);
  const kindUnion = dts.match(/export type HoldfastErrorKind =([^;]*);/)?.[1] || "";
  const missing = [
    ...options.filter((o) => !declaredOptions.includes(o)).map((o) => `option ${o}`),
    ...kinds.filter((k) => !kindUnion.includes(`"${k}"`)).map((k) => `error kind ${k}`),
  ];
  if (options.length < 10 || kinds.length < 5) {
    // A check that cannot read its source must fail, not pass: fix the patterns above.
    line(false, "dts-sync", `src/web/api.rs layout not recognized (${options.length} options, ${kinds.length} error kinds found)`);
  } else {
    line(missing.length === 0, "dts-sync", missing.length === 0
      ? `the ${options.length} options and ${kinds.length} error kinds of src/web/api.rs are all in index.d.ts`
      : `in src/web/api.rs but not in index.d.ts: ${missing.join(", ")}`);
  }
}
const tsVersions = [
  ["tsc", join(nm, "typescript/bin/tsc")],
  ["tsc-5", join(nm, "typescript-5/bin/tsc")],
];
// TypeScript 5 (the JS compiler) is slow here: bundler resolution only.
const tsSkip = new Set(["tsc-5-nodenext", "tsc-5-worker"]);
for (const [label, tsc] of tsVersions) {
  const version = JSON.parse(readFileSync(join(dirname(tsc), "../package.json"), "utf8")).version;
  for (const project of ["tsconfig.json", "tsconfig.nodenext.json", "tsconfig.worker.json"]) {
    const name = `${label}-${project === "tsconfig.json" ? "bundler" : project.split(".")[1]}`;
    if (!want(name) || (tsSkip.has(name) && !only)) continue;
    const r = run("node", [tsc, "-p", join(here, "types", project), "--strict", "--noEmit"], here);
    line(r.ok, name, r.ok
      ? `typescript ${version}, --strict --noEmit -p types/${project}: consumer.ts against node_modules/holdfast (${secs(r.ms)})`
      : `typescript ${version} (${project}):\n${indent(r.output)}`);
  }
}
if (want("publint")) {
  const r = run(bin("publint"), ["run", tarball, "--strict", "--level", "suggestion"], here);
  const clean = r.ok && !/suggestion|warning|error/i.test(r.output.replace(/Running publint[^\n]*\n/, ""));
  line(clean, "publint", clean ? `--strict on the tarball: ${r.output.trim().split("\n").pop()} (${secs(r.ms)})` : `\n${indent(r.output)}`);
}
if (want("attw")) {
  const args = [tarball, "--profile", "esm-only", "--exclude-entrypoints", "./holdfast_bg.wasm", "--no-emoji", "--no-color", "--format", "table-flipped"];
  const r = run(bin("attw"), args, here);
  line(r.ok, "attw", r.ok
    ? `${args.slice(1).filter((a) => !a.startsWith("--no-") && a !== "--format" && a !== "table-flipped").join(" ")}: no problems (${secs(r.ms)})${verbose ? `\n${indent(r.output)}` : ""}`
    : `\n${indent(r.output)}`);
}

if (failures) {
  console.log(`[pkg-matrix] ${failures} check(s) failed`);
  process.exit(1);
}
console.log("[pkg-matrix] all checks passed");
