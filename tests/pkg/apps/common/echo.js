// The check every matrix app runs against the installed `holdfast` tarball: construct, queue a
// message before open, wait for open, send a unique string, see both echoed; then a few API
// contract checks. Runs in a page or a worker (no DOM here). Returns a plain, postMessage-able
// object: { ok, failures[], openMs, echoMs, transport }.
export async function echoCheck(api, server, { slim = false, wasm } = {}) {
  const { Holdfast, HoldfastDefault, initHoldfast } = api;
  const failures = [];
  const check = (ok, what) => { if (!ok) failures.push(what); };
  const timeout = (ms, what) => new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms));
  const out = { ok: false, failures };
  try {
    check(typeof Holdfast === "function", "Holdfast is exported");
    if (HoldfastDefault !== undefined) check(HoldfastDefault === Holdfast, "default export is Holdfast");
    check(typeof initHoldfast === "function", "initHoldfast is exported");
    if (!server) throw new Error("no ?server= in the page URL");
    const t0 = performance.now();
    if (slim) {
      let thrown = null;
      try { new Holdfast(server); } catch (e) { thrown = e; }
      check(thrown instanceof TypeError, `slim: new Holdfast before initHoldfast throws TypeError (got ${thrown})`);
      await Promise.race([initHoldfast(wasm), timeout(10000, "initHoldfast(wasm)")]);
    }
    const token = `pkg-matrix ${Math.random().toString(36).slice(2)} ${Date.now()}`;
    const h = new Holdfast(server);
    const echoes = [];
    const errors = [];
    h.addEventListener("message", (e) => echoes.push(e.data));
    h.addEventListener("error", (e) => errors.push(`${e.kind}: ${e.message}`));
    check(h.readyState === Holdfast.CONNECTING && h.readyState === h.CONNECTING, `readyState CONNECTING before open (got ${h.readyState})`);
    const early = h.send(`${token} early`);
    check(early === "queued", `send before open → "queued" (got ${early})`);
    await Promise.race([h.ready(), timeout(10000, `open (errors: ${errors.join("; ")})`)]);
    out.openMs = Math.round(performance.now() - t0);
    out.transport = h.transport;
    check(h.readyState === Holdfast.OPEN && h.state === "open", `open: readyState ${h.readyState}, state ${h.state}`);
    const sent = h.send(token);
    check(sent === "sent", `send when open → "sent" (got ${sent})`);
    await Promise.race([
      new Promise((resolve) => {
        const poll = () => (echoes.includes(token) ? resolve() : setTimeout(poll, 5));
        poll();
      }),
      timeout(5000, `echo of ${token} (got ${JSON.stringify(echoes)})`),
    ]);
    out.echoMs = Math.round(performance.now() - t0);
    check(echoes[0] === `${token} early` && echoes[1] === token, `echo order: queued then sent (got ${JSON.stringify(echoes)})`);
    check(h.protocol === "" && h.extensions === "", "protocol and extensions are \"\"");
    check(typeof h.url === "string" && h.url.startsWith("http"), `url is a string (got ${h.url})`);
    check(h.binaryType === "arraybuffer" || h.binaryType === "blob", `binaryType (got ${h.binaryType})`);
    check(typeof h.stats().probes === "number", "stats().probes");
    // After the module is ready, option errors throw synchronously.
    await Promise.race([slim ? initHoldfast(wasm) : initHoldfast(), timeout(5000, "initHoldfast() again")]);
    let thrown = null;
    try { new Holdfast(server, { heartbeatIntervalMS: 5 }); } catch (e) { thrown = e; }
    check(thrown instanceof TypeError && /heartbeatIntervalMS/.test(thrown.message),
      `after init, an unknown option throws a TypeError naming it (got ${thrown})`);
    let closes = 0;
    h.onclose = () => closes++;
    h.close(1000, "matrix done");
    check(closes === 1 && h.readyState === Holdfast.CLOSED, `close → one close event, CLOSED (got ${closes}, ${h.readyState})`);
    check(errors.length === 0, `no error events (got ${errors.join("; ")})`);
  } catch (e) {
    failures.push(String(e && e.stack ? e.stack : e));
  }
  out.ok = failures.length === 0;
  return out;
}

/** Pages: the server base from `?server=`. */
export function serverFromPage() {
  return new URLSearchParams(location.search).get("server");
}

/** Pages: writes the result where the runner reads it (`document.title`, `#result`). */
export function report(result) {
  let el = document.getElementById("result");
  if (!el) {
    el = document.createElement("pre");
    el.id = "result";
    document.body.append(el);
  }
  el.textContent = JSON.stringify(result);
  document.title = result.ok ? "ok" : "FAIL";
}
