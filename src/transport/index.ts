export * from "./backend.js";
export * from "./discovery.js";
export * from "./errors.js";
export type * from "./hid-port.js";
export * from "./hotplug.js";
export * from "./node-hid-port.js";
export * from "./record-replay.js";
export * from "./transport.js";
