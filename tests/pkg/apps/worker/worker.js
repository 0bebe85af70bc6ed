import Holdfast, { Holdfast as Named, initHoldfast } from "holdfast";
import { echoCheck } from "../common/echo.js";

self.onmessage = async (e) => {
  const result = await echoCheck({ Holdfast: Named, HoldfastDefault: Holdfast, initHoldfast }, e.data.server);
  result.inWorker = typeof document === "undefined";
  if (!result.inWorker) { result.ok = false; result.failures.push("not in a worker"); }
  self.postMessage(result);
};
