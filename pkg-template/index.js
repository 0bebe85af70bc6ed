// holdfast: a browser real-time client that never silently loses a connection or a message.
// The default entry: the WebAssembly engine is inlined (holdfast_wasm_inline.js), so every
// bundler and a plain <script type=module> take it with no plugin and no config. It is compiled
// lazily, asynchronously, by the first `new Holdfast` (or `initHoldfast()`), never at import.
// Apps that host the .wasm themselves and want streaming compile use `holdfast/slim`.
import { defineHoldfast, load } from "./holdfast_client.js";
import WASM_DEFLATED from "./holdfast_wasm_inline.js";

/** The engine's bytes: base64-decoded, then inflated by the platform (no JS inflater shipped). */
async function bytes() {
  const text = atob(WASM_DEFLATED);
  const packed = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) packed[i] = text.charCodeAt(i);
  const inflated = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
}

function start() {
  return load(bytes);
}

/**
 * Compiles the engine now instead of at the first `new Holdfast`. Optional: resolves when it is
 * ready; from then on the constructor throws option errors synchronously (before, they arrive as
 * an `error` event of kind "invalid-options" followed by `close`).
 */
export function initHoldfast() {
  return start().then(() => undefined);
}

export const Holdfast = /* @__PURE__ */ defineHoldfast(start);
export { debugCounts } from "./holdfast_client.js";
export default Holdfast;
