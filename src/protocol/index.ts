export * from "./bytes.js";
export * from "./constants.js";
export * from "./errors.js";
export * from "./frame.js";
export * from "./messages.js";
export * from "./signature.js";
export * from "./text.js";
export type * from "./types.js";
