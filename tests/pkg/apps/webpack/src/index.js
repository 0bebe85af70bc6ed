// webpack 5, no config file (entry ./src/index.js → ./dist/main.js), --mode production.
import Holdfast, { Holdfast as Named, initHoldfast } from "holdfast";
import { echoCheck, report, serverFromPage } from "../../common/echo.js";

echoCheck({ Holdfast: Named, HoldfastDefault: Holdfast, initHoldfast }, serverFromPage()).then(report);
