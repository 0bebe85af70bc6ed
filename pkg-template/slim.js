// holdfast/slim: the same `Holdfast` class, without the inlined engine. The app hosts
// `holdfast/holdfast_bg.wasm` (the package exports it) and calls `initHoldfast(url)` once before
// the first `new Holdfast`, which gets streaming compile when the file is served as
// `application/wasm`.
import { defineHoldfast, load, loading } from "./holdfast_client.js";

function start() {
  const state = loading();
  if (state === "no") {
    throw new TypeError("holdfast/slim: call initHoldfast(wasmUrl) before new Holdfast()");
  }
  if (state !== "yes") {
    throw new TypeError(`holdfast/slim: initHoldfast failed (${state}); call it again`);
  }
  return load(() => undefined);
}

/**
 * Starts loading the engine from `source`: the .wasm's URL (string or URL), a `Response` or a
 * promise of one, a compiled `WebAssembly.Module`, or the bytes. Call it once, early; the
 * returned promise resolves when the engine is ready. Clients constructed while it is pending
 * queue their sends as before `open`. A failed load may be retried with another call.
 */
export function initHoldfast(source) {
  return load(() => source).then(() => undefined);
}

export const Holdfast = /* @__PURE__ */ defineHoldfast(start);
export { debugCounts } from "./holdfast_client.js";
export default Holdfast;
