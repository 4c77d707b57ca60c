export * from "./errors.js";
export * from "./key-client.js";
export * from "./pin-store.js";
