// The holdfast demo page: one client, a stream of numbered messages echoed by the server, server
// faults one click away, and counters that prove nothing was lost or duplicated on the way.
//
// Plain ES module, no build step. `window.demo` exposes the counters and the timeline to tests
// (tests/e2e/demo-faults.mjs) and to the console.
//
// Counters (also explained on the page, under "How these are counted"):
//
// - sent: numbers `n:<i>` the page handed to `hf.send()` that were accepted ("sent" or "queued").
//   A "rejected" send (outbox full) is never sent and is counted under `rejected` instead.
// - delivered: distinct numbers whose echo came back.
// - duplicated: echoes of a number that had already come back (each extra copy counts once).
// - in flight: sent, neither delivered nor lost. Never counted as lost while it may still arrive.
// - lost: decided by probes, never by a timer. Every PROBE_EVERY_MS while streaming, and once
//   when the stream stops, the page sends `tally?` then `probe:<k>`. The server handles a
//   session's messages in order and the session delivers its messages in order, so when the echo
//   of `probe:<k>` arrives (right after the answer to its `tally?`), the echo of every message sent
//   before the probe has arrived too, if it ever will: a number sent before the probe (by its
//   latest send) and not echoed by then is lost. Should it turn up later anyway, it moves back to
//   delivered and counts as out of order. Stopping the stream "drains": the final probe's answer
//   settles every number sent, so after it `in flight` is 0 and `lost` is final.
// - out of order: echoes arriving after the echo of a higher number (resends after a gap, which
//   are expected to come late, excepted).
// - server tally (client → server): the server's answer to the probe's `tally?`:
//   `tally:<received>:<duplicates>:<out-of-order>` counted over this session's `n:` messages,
//   compared with the `n:` sends the page made before the probe. A `gap` (the server forgot the
//   session: restart or TTL expiry) restarts the server's count, so the comparison stops there;
//   the page then resends the gap's messages it has not seen echoed (README: resend if your
//   messages are idempotent — the page counts distinct echoes, so they are).
import { Holdfast } from "/pkg/index.js";

const CHAIN = ["websocket", "sse", "long-polling", "polling"];
const RATE_HZ = 20;
const PROBE_EVERY_MS = 2000;
const RTT_SAMPLES = 60;
const QUEUE_MAX = 1000; // the client's default queueMaxMessages
const TIMELINE_MAX = 300;

const $ = (id) => document.getElementById(id);

// Demo options (shown in the footer): a quicker dead-link verdict than the defaults (4 s / 8 s)
// and a backoff cap of 2 s instead of 30 s, so a visitor clicking faults in a row is not left
// waiting — and so that after `down` for N s the client is back within N + 2 s: during `down`
// every round of the chain fails at once and the backoff grows round after round, and the test
// profile keeps a detached session only 5 s (production: 2 minutes). Everything else is the
// default, the chain included.
const OPTIONS = { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 5000, reconnectMaxDelayMs: 2000 };
const hf = new Holdfast(new URL("/holdfast", location.href).href, OPTIONS);
$("options").textContent = Object.entries(OPTIONS).map(([k, v]) => `${k}: ${v}`).join(", ");

// ---- timeline ---------------------------------------------------------------------------------

const events = []; // { t (ms since page start), time, kind, text }
function log(kind, text) {
  const entry = { t: Math.round(performance.now()), time: new Date().toLocaleTimeString(), kind, text };
  events.push(entry);
  if (events.length > 1000) events.splice(0, events.length - 1000);
  const li = document.createElement("li");
  li.className = kind;
  const time = document.createElement("time");
  time.textContent = entry.time;
  const tag = document.createElement("span");
  tag.className = "kind";
  tag.textContent = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(time, tag, body);
  $("log").prepend(li);
  while ($("log").children.length > TIMELINE_MAX) $("log").lastChild.remove();
}

// ---- numbered messages ------------------------------------------------------------------------

const c = { sent: 0, rejected: 0, delivered: 0, duplicated: 0, lost: 0, outOfOrder: 0 };
let nextNumber = 1;
let order = 0; // position of every stream/probe send, page-wide
let highest = 0; // highest number echoed
const echoed = new Set(); // numbers delivered
const pending = new Map(); // number → order of its latest send: sent, not echoed, not lost
const sentAt = new Map(); // number → performance.now() of its first send, until echoed
let echoRtts = []; // echo round trips (ms) seen since the last chart sample
const lostSet = new Set();
const resent = new Set(); // numbers resent after a gap
let nSends = 0; // every accepted `n:` send (resends included): what the server should count
let gaps = 0;
let phase = "idle"; // idle | streaming | draining | settled
let streamTimer = null;
let probeTimer = null;
let probeNo = 0;
const probes = new Map(); // k → { order, nSends, gaps, final }
let lastReply = null; // the latest `tally:` answer, waiting for its probe's echo
let tally = null; // { received, duplicates, outOfOrder, expected, comparable, at }
let finalProbe = 0;

function sendNumber(i) {
  const m = `n:${i}`;
  const outcome = hf.send(m);
  if (outcome === "rejected") {
    c.rejected++;
    return false;
  }
  order++;
  nSends++;
  pending.set(i, order);
  if (!sentAt.has(i)) sentAt.set(i, performance.now());
  return true;
}

function streamTick() {
  if (sendNumber(nextNumber)) c.sent++;
  nextNumber++;
}

function probe(final) {
  if (hf.send("tally?") === "rejected") return 0;
  const k = ++probeNo;
  if (hf.send(`probe:${k}`) === "rejected") return 0;
  order++;
  probes.set(k, { order, nSends, gaps, final });
  return k;
}

function onEcho(i) {
  if (echoed.has(i)) {
    c.duplicated++;
    return;
  }
  echoed.add(i);
  c.delivered++;
  const t0 = sentAt.get(i);
  if (t0 !== undefined) {
    echoRtts.push(performance.now() - t0);
    sentAt.delete(i);
  }
  if (lostSet.delete(i)) {
    c.lost--;
    c.outOfOrder++;
  } else if (i < highest && !resent.has(i)) {
    c.outOfOrder++;
  }
  pending.delete(i);
  if (i > highest) highest = i;
}

function onProbeEcho(k) {
  const p = probes.get(k);
  if (!p) return;
  probes.delete(k);
  const reply = lastReply;
  lastReply = null;
  if (!reply) {
    // Its `tally?` answer was lost with the old session (gap): no proof either way.
    if (p.final && phase === "draining") finalProbe = probe(true);
    return;
  }
  for (const [i, o] of pending) {
    if (o < p.order) {
      pending.delete(i);
      sentAt.delete(i);
      lostSet.add(i);
      c.lost++;
    }
  }
  tally = { ...reply, expected: p.nSends, comparable: p.gaps === 0 && gaps === 0, at: Math.round(performance.now()) };
  if (p.final && phase === "draining" && k === finalProbe) {
    setPhase("settled");
    log("settled", `drained: ${c.sent} sent, ${c.delivered} delivered, ${c.lost} lost, ${c.duplicated} duplicated` +
      ` · server received ${reply.received}${tally.comparable ? ` of ${p.nSends}` : ""}`);
  }
}

function setPhase(p) {
  phase = p;
  const el = $("phase");
  el.dataset.phase = p;
  el.textContent = {
    idle: "idle: the stream sends n:1, n:2, … at 20/s; the server echoes each",
    streaming: `streaming ${RATE_HZ}/s · a probe every ${PROBE_EVERY_MS / 1000} s settles what is lost`,
    draining: "stopped · draining: waiting for the answer to the last probe, which comes after every earlier echo",
    settled: "settled: every number sent is accounted for",
  }[p];
  const b = $("stream");
  b.setAttribute("aria-pressed", String(p === "streaming"));
  b.textContent = p === "streaming" ? "stop stream" : "start stream";
  render();
}

function startStream() {
  if (phase === "streaming") return;
  setPhase("streaming");
  streamTimer = setInterval(streamTick, 1000 / RATE_HZ);
  probeTimer = setInterval(() => {
    if (probes.size < 4) probe(false);
  }, PROBE_EVERY_MS);
  log("stream", `started: ${RATE_HZ} numbered messages a second from n:${nextNumber}`);
}

function stopStream() {
  if (phase !== "streaming") return;
  clearInterval(streamTimer);
  clearInterval(probeTimer);
  setPhase("draining");
  log("stream", `stopped at n:${nextNumber - 1}: draining`);
  finalProbe = probe(true);
}

$("stream").addEventListener("click", () => (phase === "streaming" ? stopStream() : startStream()));

// ---- the client's events ----------------------------------------------------------------------

hf.addEventListener("open", (e) => log("open", `open via ${e.transport}`));
hf.addEventListener("reconnecting", (e) => {
  if (e.reason.startsWith("dead link")) {
    log("dead-link", `dead link declared — reconnect attempt ${e.attempt} in ${e.delayMs} ms (${e.reason})`);
  } else {
    log("reconnecting", `attempt ${e.attempt} in ${e.delayMs} ms — ${e.reason}`);
  }
});
hf.addEventListener("transport", (e) => {
  const up = e.reason === "upgrade" || CHAIN.indexOf(e.to) < CHAIN.indexOf(e.from);
  if (up) log("upgrade", `upgrade ↑ ${e.from} → ${e.to}${e.reason === "upgrade" ? "" : ` — ${e.reason}`}`);
  else log("transport", `switch ↓ ${e.from} → ${e.to} — ${e.reason}`);
});
hf.addEventListener("gap", (e) => {
  gaps++;
  lastReply = null;
  let again = 0;
  for (const m of e.messages) {
    const n = typeof m === "string" && /^n:(\d+)$/.exec(m);
    if (n && !echoed.has(Number(n[1]))) {
      const i = Number(n[1]);
      resent.add(i);
      if (sendNumber(i)) again++; // if refused it stays pending and the next probe finds it lost
    }
  }
  log("gap", `the server forgot the session: ${e.count} message(s) (${e.bytes} B) unconfirmed, ` +
    `server messages after #${e.lastSeq} may be missing · resent ${again} numbered`);
  if (phase === "draining") finalProbe = probe(true);
});
hf.addEventListener("error", (e) => log("error", `${e.kind}: ${e.message}`));
hf.addEventListener("close", (e) => {
  log("close", `closed for good: ${e.code} ${e.reason}`);
  // Nothing can arrive any more: what is still in flight is lost, and the count is final.
  if (phase === "streaming" || phase === "draining") {
    clearInterval(streamTimer);
    clearInterval(probeTimer);
    for (const i of pending.keys()) lostSet.add(i);
    c.lost += pending.size;
    pending.clear();
    sentAt.clear();
    setPhase("settled");
  }
});
hf.addEventListener("message", (e) => {
  const d = e.data;
  if (typeof d !== "string") {
    log("message", `<${d.byteLength} bytes>`);
    return;
  }
  let m;
  if ((m = /^n:(\d+)$/.exec(d))) onEcho(Number(m[1]));
  else if ((m = /^tally:(\d+):(\d+):(\d+)$/.exec(d))) {
    lastReply = { received: Number(m[1]), duplicates: Number(m[2]), outOfOrder: Number(m[3]) };
  } else if ((m = /^probe:(\d+)$/.exec(d))) onProbeEcho(Number(m[1]));
  else log("message", d);
});

// ---- typed messages ---------------------------------------------------------------------------

$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("message").value;
  if (/^(n:\d+|probe:\d+|tally\?)$/.test(text)) {
    log("note", `"${text}" is reserved for the stream's counters`);
    return;
  }
  log("send", `${text} → ${hf.send(text)}`);
  $("message").value = "";
});

// ---- fault controls ---------------------------------------------------------------------------

const active = new Map(); // label → timer (or true): faults set from this page
const FAULT_LABEL = {
  drop: "kill connections", silent: "go silent", recover: "recover",
  "refuse-ws": "block WebSocket", "accept-ws": "unblock WebSocket",
  "refuse-sse": "block SSE", "accept-sse": "unblock SSE",
  "buffer-sse": "buffer SSE", "unbuffer-sse": "unbuffer SSE", down: "down",
};
let faultsOn = null; // null unknown, true, false

function faultsOff() {
  faultsOn = false;
  const note = $("fault-note");
  note.hidden = false;
  note.textContent = "Fault controls are off: this server answers 404 on /_fault/*. Start it with --faults " +
    "(make demo does) to break it from here.";
  for (const b of document.querySelectorAll("[data-fault]")) b.disabled = true;
  $("down-s").disabled = true;
}

function applyLocal(route, ms) {
  const clear = (k) => { clearTimeout(active.get(k)); active.delete(k); };
  switch (route) {
    case "silent": active.set("silent", true); break;
    case "refuse-ws": active.set("WebSocket blocked", true); break;
    case "accept-ws": clear("WebSocket blocked"); break;
    case "refuse-sse": active.set("SSE blocked", true); break;
    case "accept-sse": clear("SSE blocked"); break;
    case "buffer-sse": active.set("SSE buffered", true); break;
    case "unbuffer-sse": clear("SSE buffered"); break;
    case "down":
      clear("down");
      active.set("down", setTimeout(() => { active.delete("down"); render(); }, ms));
      break;
    case "recover": for (const k of [...active.keys()]) clear(k); break;
  }
}

async function fault(route) {
  let path = route;
  let ms = 0;
  if (route === "down") {
    const s = Math.min(600, Math.max(1, Number($("down-s").value) || 3));
    ms = Math.round(s * 1000);
    path = `down?ms=${ms}`;
  }
  let r = null;
  try {
    r = await fetch(`/_fault/${path}`, { method: "POST" });
  } catch {
    r = null;
  }
  const note = $("fault-note");
  if (r && r.status === 404) return faultsOff();
  if (!r || !r.ok) {
    note.hidden = false;
    note.textContent = r ? `the server answered ${r.status} to ${path}` : `could not reach the server for ${path}`;
    return;
  }
  faultsOn = true;
  note.hidden = true;
  applyLocal(route, ms);
  log("fault", route === "down" ? `you: down for ${ms / 1000} s` : `you: ${FAULT_LABEL[route] ?? route}`);
  render();
}

for (const b of document.querySelectorAll("[data-fault]")) {
  b.addEventListener("click", () => fault(b.dataset.fault));
}

async function pollServer() {
  if (faultsOn === false) return;
  try {
    const r = await fetch("/_fault/stats");
    if (r.status === 404) return faultsOff();
    if (!r.ok) return;
    faultsOn = true;
    const s = await r.json();
    $("server-stats").textContent = `${s.sessions} session(s), ${s.attached} attached · ` +
      `${s.connections} WebSocket(s), ${s.streams} SSE stream(s) · ${s.handshakes} handshakes`;
  } catch {
    $("server-stats").textContent = "unreachable";
  }
}
pollServer();
setInterval(pollServer, 2000);

// ---- rendering --------------------------------------------------------------------------------

// One sample a second: the client's heartbeat RTT (`stats().rttMs`, measured by its pings, which
// only go out on a quiet link) and the slowest echo round trip the page saw that second (send() →
// echo, outages and queueing included). Log scale, so a 5 s outage and a 2 ms RTT both show.
const samples = []; // { hb, echo }
function sampleRtt() {
  const s = hf.stats();
  const echo = echoRtts.length ? Math.round(Math.max(...echoRtts)) : null;
  echoRtts = [];
  samples.push({ hb: hf.state === "open" ? s.rttMs : null, echo, down: hf.state !== "open" });
  if (samples.length > RTT_SAMPLES) samples.shift();
  const all = samples.flatMap((v) => [v.hb, v.echo]).filter((v) => v != null);
  const top = Math.log10(Math.max(100, ...all) + 1);
  const step = 240 / (RTT_SAMPLES - 1);
  const x0 = (RTT_SAMPLES - samples.length) * step;
  const path = (key) => {
    let d = "";
    samples.forEach((v, i) => {
      if (v[key] == null) return;
      const x = (x0 + i * step).toFixed(1);
      const y = (46 - (Math.log10(v[key] + 1) / top) * 44).toFixed(1);
      const joined = i > 0 && samples[i - 1][key] != null;
      const alone = !joined && !(i + 1 < samples.length && samples[i + 1][key] != null);
      d += `${joined ? "L" : "M"}${x} ${y} ${alone ? "l0.01 0 " : ""}`; // a lone sample: a dot
    });
    return d.trim();
  };
  // Seconds the client was not open: shaded bands.
  let bands = "";
  samples.forEach((v, i) => {
    if (v.down) bands += `M${(x0 + (i - 0.5) * step).toFixed(1)} 0h${step.toFixed(1)}v48h-${step.toFixed(1)}z`;
  });
  $("rtt-down").setAttribute("d", bands);
  $("rtt-line").setAttribute("d", path("hb"));
  $("echo-line").setAttribute("d", path("echo"));
  $("rtt-top").textContent = all.length ? `${Math.round(10 ** top - 1)} ms` : "";
  const echoes = samples.map((v) => v.echo).filter((v) => v != null);
  $("echo").textContent = echo != null ? `${echo} ms` : "–";
  $("rtt-range").textContent = [
    echoes.length ? `slowest echo in the last ${samples.length} s: ${Math.max(...echoes)} ms` : "",
    s.rttMs == null ? "RTT comes from the client's pings, sent only on a quiet link" : "",
  ].filter(Boolean).join(" · ");
}

function render() {
  const s = hf.stats();
  const state = hf.state;
  $("state").textContent = state;
  $("state").dataset.state = state;
  $("transport").textContent = hf.transport ?? "–";
  $("rtt").textContent = s.rttMs == null ? "–" : `${s.rttMs} ms`;
  $("queued").textContent = `${s.queued} (${s.queuedBytes} B)`;
  $("queued-meter").value = Math.min(QUEUE_MAX, s.queued);
  $("reconnects").textContent = s.reconnects;
  const at = CHAIN.indexOf(hf.transport);
  for (const li of $("chain").children) {
    const t = li.dataset.transport;
    const i = CHAIN.indexOf(t);
    li.classList.toggle("active", i === at && state === "open");
    li.classList.toggle("trying", i === at && state !== "open");
    li.classList.toggle("above", at >= 0 && i < at);
    const badge = t === "websocket" ? (active.has("WebSocket blocked") ? "blocked" : "")
      : t === "sse" ? [active.has("SSE blocked") && "blocked", active.has("SSE buffered") && "buffered"].filter(Boolean).join(", ")
      : "";
    li.querySelector(".badge").textContent = badge;
    li.classList.toggle("faulted", badge !== "");
  }
  $("active-faults").textContent = active.size ? [...active.keys()].join(", ") : "none";
  $("sent").textContent = c.sent;
  $("delivered").textContent = c.delivered;
  $("in-flight").textContent = pending.size;
  $("duplicated").textContent = c.duplicated;
  $("lost").textContent = c.lost;
  $("out-of-order").textContent = c.outOfOrder;
  $("rejected").textContent = c.rejected;
  for (const id of ["duplicated", "lost", "out-of-order"]) {
    $(id).parentElement.classList.toggle("bad", Number($(id).textContent) > 0);
  }
  if (tally) {
    $("tally").textContent = `received ${tally.received}, duplicates ${tally.duplicates}, out of order ${tally.outOfOrder}`;
    const ok = tally.received === tally.expected && tally.duplicates === 0 && tally.outOfOrder === 0;
    const m = $("tally-match");
    m.dataset.match = tally.comparable ? String(ok) : "n/a";
    m.textContent = !tally.comparable ? "(count restarted at a gap: not compared)"
      : ok ? `= the ${tally.expected} the page had sent ✓` : `≠ the ${tally.expected} the page had sent`;
  }
}

function snapshot() {
  return {
    phase, ...c, inFlight: pending.size, gaps, nSends,
    state: hf.state, transport: hf.transport, stats: hf.stats(),
    tally: tally && { ...tally }, faultsOn, activeFaults: [...active.keys()],
  };
}

setPhase("idle");
setInterval(render, 250);
setInterval(sampleRtt, 1000);
render();

window.hf = hf; // for poking from the console
window.demo = {
  hf,
  snapshot,
  events,
  samples, // the chart's last RTT_SAMPLES seconds: { hb, echo } in ms or null
  start: startStream,
  stop: stopStream,
  get counters() { return snapshot(); },
};
