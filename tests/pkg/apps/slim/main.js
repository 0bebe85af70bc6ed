// Vite build, default config, the slim entry: the .wasm is an asset Vite emits (`?url`).
import { Holdfast, initHoldfast } from "holdfast/slim";
import wasm from "holdfast/holdfast_bg.wasm?url";
import { echoCheck, report, serverFromPage } from "../common/echo.js";

report(await echoCheck({ Holdfast, initHoldfast }, serverFromPage(), { slim: true, wasm }));
