import { Holdfast } from "/pkg/index.js";

const $ = (id) => document.getElementById(id);
const log = (kind, text) => {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = `${new Date().toLocaleTimeString()}  ${kind.padEnd(12)} ${text}`;
  $("log").prepend(li);
  while ($("log").children.length > 200) $("log").lastChild.remove();
};

const hf = new Holdfast(new URL("/holdfast", location.href).href, {
  heartbeatIntervalMs: 2000,
  heartbeatTimeoutMs: 5000,
});
window.hf = hf; // for poking from the console

hf.onopen = (e) => log("open", `via ${e.transport}`);
hf.onmessage = (e) =>
  log("message", typeof e.data === "string" ? e.data : `<${e.data.byteLength} bytes>`);
hf.onreconnecting = (e) => log("reconnecting", `attempt ${e.attempt} in ${e.delayMs} ms (${e.reason})`);
hf.onerror = (e) => log("error", `${e.kind}: ${e.message}`);
hf.onclose = (e) => log("close", `${e.code} ${e.reason}`);

function render() {
  const s = hf.stats();
  $("state").textContent = hf.state;
  $("state").dataset.state = hf.state;
  $("transport").textContent = hf.transport ?? "–";
  $("rtt").textContent = s.rttMs == null ? "–" : `${s.rttMs} ms`;
  $("queued").textContent = `${s.queued} (${s.queuedBytes} B)`;
  $("reconnects").textContent = s.reconnects;
}
setInterval(render, 250);
render();

$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("message").value;
  log("send", `${text} → ${hf.send(text)}`);
  $("message").value = "";
});

for (const button of document.querySelectorAll("[data-fault]")) {
  button.addEventListener("click", async () => {
    const r = await fetch(`/_fault/${button.dataset.fault}`, { method: "POST" }).catch(() => null);
    $("fault-note").textContent = r && r.ok
      ? `server: ${button.dataset.fault}`
      : "fault controls are off (start the server with --faults)";
  });
}
