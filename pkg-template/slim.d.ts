// Types for `holdfast/slim`: the same API as the default entry (index.d.ts), except that the app
// hosts the .wasm (`holdfast/holdfast_bg.wasm`) and must call `initHoldfast(source)` first.
export * from "./index.js";
export { default } from "./index.js";

/** Where the engine comes from: the URL of the hosted .wasm (fetched; streaming compile when it is
 * served as `application/wasm`), a `Request` or `Response` for it, a compiled
 * `WebAssembly.Module`, or its bytes. (TypeScript's `WebAssembly.Module` has no members, so at the
 * type level any object passes for one; `& object` at least refuses numbers and booleans.) */
export type HoldfastWasmSource =
  | string
  | URL
  | Request
  | Response
  | (WebAssembly.Module & object)
  | BufferSource;

/**
 * Starts loading the engine from `source` (or a promise of a `Response`, module or bytes, e.g.
 * `fetch(url)`). Call it once, before the first `new Holdfast` (which throws a `TypeError`
 * otherwise); clients constructed while it is pending queue their sends as before `open`.
 * Resolves when the engine is ready; rejects if it cannot load (a later call may retry).
 */
export declare function initHoldfast(
  source: HoldfastWasmSource | Promise<Response | (WebAssembly.Module & object) | BufferSource>,
): Promise<void>;
