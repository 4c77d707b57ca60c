import type { LayerLogger } from "../log.js";
import { toHex } from "../protocol/bytes.js";

/** Logs one report as hex at the `traffic` level; callers check `isTrafficEnabled()` first so the hex costs nothing when off. */
export function logReport(log: LayerLogger, direction: "out" | "in", path: string, report: Uint8Array): void {
  log.traffic(`${direction === "out" ? ">>" : "<<"} ${toHex(report)}`, { path, direction });
}
