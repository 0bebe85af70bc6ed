// Vite build, default config (worker.format "iife"): Holdfast runs inside a module Worker.
import { report, serverFromPage } from "../common/echo.js";

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onmessage = (e) => report(e.data);
worker.onerror = (e) => report({ ok: false, failures: [`worker error: ${e.message || e.type}`] });
worker.onmessageerror = () => report({ ok: false, failures: ["worker messageerror"] });
worker.postMessage({ server: serverFromPage() });
