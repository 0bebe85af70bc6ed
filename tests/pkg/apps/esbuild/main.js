// esbuild, default options (see scripts/pkg-matrix.sh / tests/pkg/run.mjs for the command line).
import Holdfast, { Holdfast as Named, initHoldfast } from "holdfast";
import { echoCheck, report, serverFromPage } from "../common/echo.js";

report(await echoCheck({ Holdfast: Named, HoldfastDefault: Holdfast, initHoldfast }, serverFromPage()));
