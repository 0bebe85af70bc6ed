// Vite dev server and Vite build, default config.
import Holdfast, { Holdfast as Named, initHoldfast } from "holdfast";
import { echoCheck, report, serverFromPage } from "../common/echo.js";

report(await echoCheck({ Holdfast: Named, HoldfastDefault: Holdfast, initHoldfast }, serverFromPage()));
