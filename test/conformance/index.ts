export { conformanceCases } from "./cases.js";
export type { ConformanceCase, ConformanceContext, KeyControls } from "./context.js";
export { type CaseOutcome, type RunOptions, runConformance, skipReason } from "./run.js";
export { newTestVendor, type TestVendor, vendorFromFile, vendorOf } from "./vendor.js";
